//! The stream half of the `$JS.API`: requests in, JSON answers out, as nats-server 2.9.10
//! answers them (`type` names, field order, paging fields, errors). One [`JetStream`] per
//! account. Where a new stream's messages are kept is the caller's choice ([`NewStore`]),
//! so that a storage the server cannot honour is refused rather than faked.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::advisory::Action;
use super::api_error::ApiError;
use super::config::{Storage, StreamConfig, StreamSource, API_OVERLAP};
use super::consumer::Delivery;
use super::options::AccountLimits;
use super::store::{Store, StoreState, StoredMsg};
use super::stream::{PubAck, Stream};
use super::time::rfc3339;
use crate::rng::Rng;
use crate::subject::matches;

/// Makes the store for a new stream, or refuses its storage.
pub type NewStore = Box<dyn Fn(&StreamConfig) -> Result<Box<dyn Store + Send>, ApiError> + Send>;

/// Streams listed per page by `STREAM.NAMES` and `STREAM.LIST`.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;

const API_PREFIX: &str = "$JS.API.";

/// One API request and its answer, for `$JS.EVENT.ADVISORY.API`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiAudit {
    pub subject: String,
    pub request: String,
    pub response: String,
}

/// JetStream in one account.
pub struct JetStream {
    pub(super) streams: BTreeMap<String, Stream>,
    new_store: NewStore,
    pub(super) api_total: u64,
    pub(super) api_errors: u64,
    /// For the names of ephemeral consumers.
    pub(super) rng: Rng,
    /// What to publish on JetStream's behalf: answers, acks, deliveries, status messages.
    pub(super) outbox: Vec<Delivery>,
    /// Configurations and removals to write, in order (see [`super::persist`]).
    pub(super) disk: Vec<super::persist::DiskOp>,
    /// Streams that stored messages whose consumers have not looked yet.
    pub(super) touched: std::collections::BTreeSet<String>,
    /// The JetStream domain, named in answers.
    pub(super) domain: Option<String>,
    /// Whether someone listens for API audit advisories: then requests and their answers
    /// are kept in `audits` for the node to publish with the requester's details.
    pub audit: bool,
    pub audits: Vec<ApiAudit>,
    pub(super) limits: AccountLimits,
}

/// A stream's state as the API shows it.
#[derive(Serialize)]
struct StateJson {
    messages: u64,
    bytes: u64,
    first_seq: u64,
    first_ts: String,
    last_seq: u64,
    last_ts: String,
    #[serde(skip_serializing_if = "is_zero")]
    num_subjects: u64,
    /// Messages per subject, for a `subjects_filter` request.
    #[serde(skip_serializing_if = "Option::is_none")]
    subjects: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "is_zero")]
    num_deleted: u64,
    /// The deleted sequences, for a `deleted_details` request.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<Vec<u64>>,
    consumer_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<StoreState> for StateJson {
    fn from(s: StoreState) -> StateJson {
        StateJson {
            messages: s.msgs,
            bytes: s.bytes,
            first_seq: s.first_seq,
            first_ts: rfc3339(s.first_time),
            last_seq: s.last_seq,
            last_ts: rfc3339(s.last_time),
            num_subjects: s.num_subjects,
            subjects: None,
            num_deleted: s.num_deleted,
            deleted: None,
            consumer_count: 0,
        }
    }
}

#[derive(Serialize)]
struct InfoJson<'a> {
    config: &'a StreamConfig,
    created: String,
    state: StateJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mirror: Option<SourceInfoJson<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sources: Vec<SourceInfoJson<'a>>,
}

/// How a mirror or source is doing, as the reference reports it. Copies are made as the
/// origin stores, in the same server, so none is ever behind (`lag` 0) and an origin that
/// exists was heard from just now (`active` 0 ns); one that does not never was (-1).
#[derive(Serialize)]
struct SourceInfoJson<'a> {
    name: &'a str,
    lag: u64,
    active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ApiError>,
}

#[derive(Serialize)]
struct MessageJson {
    subject: String,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    hdrs: Option<String>,
    data: String,
    time: String,
}

impl From<&StoredMsg> for MessageJson {
    fn from(m: &StoredMsg) -> MessageJson {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        MessageJson {
            subject: String::from_utf8_lossy(&m.subject).into_owned(),
            seq: m.seq,
            hdrs: (!m.headers.is_empty()).then(|| b64(&m.headers)),
            data: b64(&m.data),
            time: rfc3339(m.time),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct MsgGetRequest {
    pub(super) seq: u64,
    pub(super) last_by_subj: Option<String>,
    pub(super) next_by_subj: Option<String>,
}

impl MsgGetRequest {
    /// The message it asks for: by sequence, the last on a subject, or the first on a
    /// subject at or after a sequence.
    pub(super) fn find(&self, store: &dyn Store) -> Option<StoredMsg> {
        match (&self.last_by_subj, &self.next_by_subj) {
            (Some(subject), _) => store.load_last(subject.as_bytes()),
            (None, Some(subject)) => store.load_next(subject.as_bytes(), self.seq),
            (None, None) => store.load(self.seq),
        }
    }
}

/// Subjects listed per page by `STREAM.INFO` with a `subjects_filter`.
const SUBJECT_DETAILS: usize = 100_000;

#[derive(Deserialize, Default)]
#[serde(default)]
struct InfoRequest {
    subjects_filter: Option<String>,
    deleted_details: bool,
    offset: usize,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MsgDeleteRequest {
    seq: u64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PurgeRequest {
    filter: Option<String>,
    seq: Option<u64>,
    keep: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PageRequest {
    pub(super) offset: usize,
    /// `STREAM.NAMES` only: the streams whose subjects overlap this one.
    pub(super) subject: Option<String>,
}

/// A JSON body, where an empty one means the defaults.
pub(super) fn body_or_default<T: for<'de> Deserialize<'de> + Default>(
    body: &[u8],
) -> Result<T, ApiError> {
    // `null` decodes to the zero value in Go too (async-nats sends it for STREAM.INFO).
    if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|_| ApiError::invalid_json())
}

/// `{"type":..., <fields>}`: every answer starts with its type.
pub(super) fn answer(kind: &str, fields: serde_json::Value) -> String {
    let mut out = format!("{{\"type\":\"io.nats.jetstream.api.v1.{kind}\"");
    if let serde_json::Value::Object(map) = fields {
        for (k, v) in map {
            out.push(',');
            out.push_str(&serde_json::to_string(&k).expect("a key serializes"));
            out.push(':');
            out.push_str(&v.to_string());
        }
    }
    out.push('}');
    out
}

pub(super) fn error_answer(kind: &str, e: &ApiError) -> String {
    // The reference's answers always carry their fields without `omitempty` (paging, the
    // list, `purged`), errors or not.
    let empty_page = |list: &str, empty: serde_json::Value| {
        let mut fields = serde_json::json!({ "error": e, "total": 0, "offset": 0, "limit": 0 });
        if !list.is_empty() {
            fields[list] = empty;
        }
        fields
    };
    let fields = match kind {
        "stream_info_response" => empty_page("", serde_json::Value::Null),
        "stream_names_response" => empty_page("streams", serde_json::Value::Null),
        "stream_list_response" => empty_page("streams", serde_json::json!([])),
        "consumer_names_response" | "consumer_list_response" => {
            empty_page("consumers", serde_json::json!([]))
        }
        "stream_purge_response" => serde_json::json!({ "error": e, "purged": 0 }),
        _ => serde_json::json!({ "error": e }),
    };
    answer(kind, fields)
}

fn json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("API JSON serializes")
}

/// One account's JetStream in numbers and, when asked, details, as `/jsz` shows it.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub memory: u64,
    pub storage: u64,
    pub api_total: u64,
    pub api_errors: u64,
    pub streams: usize,
    pub consumers: usize,
    pub messages: u64,
    pub bytes: u64,
    pub limits: AccountLimits,
    pub stream_detail: Vec<StreamDetail>,
}

/// One stream in a [`Report`]: its configuration, state and consumers as the API shows
/// them.
#[derive(Clone, Debug)]
pub struct StreamDetail {
    pub name: String,
    /// Nanoseconds since the Unix epoch.
    pub created: u64,
    pub config: serde_json::Value,
    pub state: serde_json::Value,
    pub consumers: Vec<serde_json::Value>,
}

/// The answer to any API request in an account without JetStream; `None` for a subject
/// that is no request.
pub fn not_enabled_answer(subject: &str) -> Option<String> {
    let op = subject.strip_prefix(API_PREFIX)?;
    let kinds = [
        ("INFO", "account_info_response"),
        ("STREAM.CREATE.", "stream_create_response"),
        ("STREAM.UPDATE.", "stream_update_response"),
        ("STREAM.NAMES", "stream_names_response"),
        ("STREAM.LIST", "stream_list_response"),
        ("STREAM.INFO.", "stream_info_response"),
        ("STREAM.DELETE.", "stream_delete_response"),
        ("STREAM.PURGE.", "stream_purge_response"),
        ("STREAM.MSG.GET.", "stream_msg_get_response"),
        ("STREAM.MSG.DELETE.", "stream_msg_delete_response"),
        ("CONSUMER.CREATE.", "consumer_create_response"),
        ("CONSUMER.DURABLE.CREATE.", "consumer_create_response"),
        ("CONSUMER.INFO.", "consumer_info_response"),
        ("CONSUMER.DELETE.", "consumer_delete_response"),
        ("CONSUMER.PAUSE.", "consumer_pause_response"),
        ("CONSUMER.NAMES.", "consumer_names_response"),
        ("CONSUMER.LIST.", "consumer_list_response"),
        ("STREAM.LEADER.STEPDOWN.", "stream_leader_stepdown_response"),
        ("STREAM.PEER.REMOVE.", "stream_remove_peer_response"),
        ("STREAM.SNAPSHOT.", "stream_snapshot_response"),
        ("STREAM.RESTORE.", "stream_restore_response"),
        (
            "CONSUMER.LEADER.STEPDOWN.",
            "consumer_leader_stepdown_response",
        ),
    ];
    let (_, kind) = kinds.iter().find(|(prefix, _)| op.starts_with(prefix))?;
    Some(error_answer(kind, &ApiError::not_enabled_for_account()))
}

impl JetStream {
    /// Applies an account's limits: how much it may store, how many streams and consumers.
    pub fn with_limits(mut self, limits: AccountLimits) -> JetStream {
        self.limits = limits;
        self
    }

    /// The JetStream domain this server is in (`jetstream { domain }`), which answers
    /// name.
    pub fn with_domain(mut self, domain: Option<String>) -> JetStream {
        self.domain = domain;
        self
    }

    fn stream_info<'a>(&'a self, stream: &'a Stream) -> InfoJson<'a> {
        let mut state = StateJson::from(stream.store().state());
        state.consumer_count = stream.consumers.len() as u64;
        let source_info = |source: &'a StreamSource| {
            let found = self.streams.contains_key(&source.name);
            SourceInfoJson {
                name: &source.name,
                lag: 0,
                active: if found { 0 } else { -1 },
                error: (!found).then(ApiError::stream_not_found),
            }
        };
        let config = stream.config();
        InfoJson {
            config,
            created: rfc3339(stream.created),
            state,
            domain: self.domain.as_deref(),
            mirror: config.mirror.as_ref().map(source_info),
            sources: config.sources.iter().map(source_info).collect(),
        }
    }

    /// JetStream for one account; `seed` drives the names it makes up.
    pub fn new(new_store: NewStore, seed: u64) -> JetStream {
        JetStream {
            streams: BTreeMap::new(),
            new_store,
            api_total: 0,
            api_errors: 0,
            rng: Rng::new(seed),
            outbox: Vec::new(),
            disk: Vec::new(),
            touched: Default::default(),
            limits: AccountLimits::default(),
            domain: None,
            audit: false,
            audits: Vec::new(),
        }
    }

    /// Keeps new streams where `new_store` says from now on (the shell handed in a way
    /// to read blocks back after JetStream was set up).
    pub fn set_new_store(&mut self, new_store: NewStore) {
        self.new_store = new_store;
    }

    /// The stream that captures messages published to `subject`, if any.
    pub fn stream_for(&self, subject: &[u8]) -> Option<&str> {
        self.streams
            .iter()
            .find(|(_, s)| {
                s.config()
                    .subjects
                    .iter()
                    .any(|p| matches(p.as_bytes(), subject))
            })
            .map(|(name, _)| name.as_str())
    }

    pub(super) fn stream(&self, name: &str) -> Result<&Stream, ApiError> {
        self.streams
            .get(name)
            .ok_or_else(ApiError::stream_not_found)
    }

    pub(super) fn stream_mut(&mut self, name: &str) -> Result<&mut Stream, ApiError> {
        self.streams
            .get_mut(name)
            .ok_or_else(ApiError::stream_not_found)
    }

    /// The account's JetStream for monitoring; stream details only with `details`.
    pub fn report(&self, details: bool, now: u64) -> Report {
        let (memory, storage) = self.usage();
        let mut report = Report {
            memory,
            storage,
            api_total: self.api_total,
            api_errors: self.api_errors,
            streams: self.streams.len(),
            limits: self.limits,
            ..Report::default()
        };
        for (name, stream) in &self.streams {
            let state = stream.store().state();
            report.consumers += stream.consumers.len();
            report.messages += state.msgs;
            report.bytes += state.bytes;
            if !details {
                continue;
            }
            let info = self.stream_info(stream);
            report.stream_detail.push(StreamDetail {
                name: name.clone(),
                created: stream.created,
                config: json(&info.config),
                state: json(&info.state),
                consumers: stream
                    .consumers
                    .values()
                    .map(|c| json(&c.info(stream.store(), now)))
                    .collect(),
            });
        }
        report
    }

    /// Bytes the account keeps in memory and in files.
    pub(super) fn usage(&self) -> (u64, u64) {
        let (mut memory, mut storage) = (0, 0);
        for s in self.streams.values() {
            let bytes = s.store().state().bytes;
            match s.config().storage {
                super::config::Storage::Memory => memory += bytes,
                super::config::Storage::File => storage += bytes,
            }
        }
        (memory, storage)
    }

    /// Stores a message in stream `name`.
    pub fn publish(
        &mut self,
        name: &str,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        now: u64,
    ) -> Result<PubAck, ApiError> {
        self.stream_mut(name)?.publish(subject, headers, data, now)
    }

    /// Answers an API request on `subject` (`$JS.API....`); `None` for a subject that is
    /// no request this server knows.
    pub fn request(&mut self, subject: &str, body: &[u8], now: u64) -> Option<String> {
        let op = subject.strip_prefix(API_PREFIX)?;
        if let Some(op) = op.strip_prefix("CONSUMER.") {
            self.api_total += 1;
            let answer = self.consumer_request(op, body, now);
            if answer.is_none() {
                self.api_total -= 1;
            }
            return answer;
        }
        let (verb, name) = match op.rsplit_once('.') {
            Some((verb, name)) if verb.starts_with("STREAM.") => (verb, name),
            _ => (op, ""),
        };
        self.api_total += 1;
        let result = match verb {
            "INFO" => Ok(self.account_info()),
            "STREAM.NAMES" => self.names(body),
            "STREAM.LIST" => self.list(body),
            "STREAM.CREATE" => self.create(name, body, now),
            "STREAM.UPDATE" => self.update(name, body, now),
            "STREAM.INFO" => self.info(name, body),
            "STREAM.DELETE" => self.delete(name, now),
            "STREAM.PURGE" => self.purge(name, body),
            "STREAM.MSG.GET" => self.msg_get(name, body),
            "STREAM.MSG.DELETE" => self.msg_delete(name, body),
            "STREAM.LEADER.STEPDOWN" => Err((
                "stream_leader_stepdown_response",
                ApiError::clustering_required(),
            )),
            "STREAM.PEER.REMOVE" => Err((
                "stream_remove_peer_response",
                ApiError::clustering_required(),
            )),
            "STREAM.SNAPSHOT" => Err(("stream_snapshot_response", self.snapshot_refusal(name))),
            // Said plainly rather than left unanswered: the client would wait for chunks.
            "STREAM.RESTORE" => Err((
                "stream_restore_response",
                ApiError::restore_failed("not supported by rnats yet"),
            )),
            _ => {
                self.api_total -= 1;
                return None;
            }
        };
        Some(result.unwrap_or_else(|(kind, e)| {
            self.api_errors += 1;
            error_answer(kind, &e)
        }))
    }

    /// Why a stream cannot be snapshot: as the reference for memory streams (which it
    /// cannot snapshot either); file streams are not supported by rnats yet.
    fn snapshot_refusal(&self, name: &str) -> ApiError {
        match self.streams.get(name) {
            None => ApiError::stream_not_found(),
            Some(s) if s.config().storage == Storage::Memory => {
                ApiError::snapshot_failed("no impl")
            }
            Some(_) => ApiError::snapshot_failed("not supported by rnats yet"),
        }
    }

    fn account_info(&self) -> String {
        let (memory, storage) = self.usage();
        let mut stats = serde_json::json!({
                "memory": memory,
                "storage": storage,
                // Newer references report reservations, and clients require the fields.
                "reserved_memory": 0,
                "reserved_storage": 0,
                "streams": self.streams.len(),
                "consumers": self.streams.values().map(|s| s.consumers.len()).sum::<usize>(),
                "limits": {
                    "max_memory": self.limits.max_memory,
                    "max_storage": self.limits.max_storage,
                    "max_streams": self.limits.max_streams,
                    "max_consumers": self.limits.max_consumers,
                    "max_ack_pending": -1,
                    "memory_max_stream_bytes": -1, "storage_max_stream_bytes": -1,
                    "max_bytes_required": false
                },
        });
        if let Some(domain) = &self.domain {
            stats["domain"] = serde_json::json!(domain);
        }
        stats["api"] = serde_json::json!({ "total": self.api_total, "errors": self.api_errors });
        answer("account_info_response", stats)
    }

    fn names(&self, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_names_response";
        let page: PageRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        // With `subject`, only the streams whose subjects overlap it.
        let all: Vec<&String> = self
            .streams
            .iter()
            .filter(|(_, s)| match &page.subject {
                Some(f) => s
                    .config()
                    .subjects
                    .iter()
                    .any(|x| crate::subject::overlaps(f.as_bytes(), x.as_bytes())),
                None => true,
            })
            .map(|(n, _)| n)
            .collect();
        // An offset past the end answers as the end, as in the reference.
        let offset = page.offset.min(all.len());
        let names: Vec<&String> = all[offset..].iter().take(NAMES_PAGE).copied().collect();
        Ok(answer(
            KIND,
            serde_json::json!({
                "total": all.len(),
                "offset": offset,
                "limit": NAMES_PAGE,
                "streams": if names.is_empty() { serde_json::Value::Null } else { serde_json::json!(names) },
            }),
        ))
    }

    fn list(&self, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_list_response";
        let page: PageRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let offset = page.offset.min(self.streams.len());
        let infos: Vec<InfoJson> = self
            .streams
            .values()
            .skip(offset)
            .take(LIST_PAGE)
            .map(|s| self.stream_info(s))
            .collect();
        Ok(answer(
            KIND,
            serde_json::json!({
                "total": self.streams.len(),
                "offset": offset,
                "limit": LIST_PAGE,
                "streams": infos,
            }),
        ))
    }

    fn create(
        &mut self,
        name: &str,
        body: &[u8],
        now: u64,
    ) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_create_response";
        let config = StreamConfig::parse_create(body, name).map_err(|e| {
            let api_overlap = e == ApiError::invalid_stream_config(API_OVERLAP);
            if api_overlap && self.streams.contains_key(name) {
                (KIND, ApiError::stream_name_in_use())
            } else {
                (KIND, e)
            }
        })?;
        if config.sealed {
            return Err((
                KIND,
                ApiError::invalid_stream_config(
                    "stream configuration for create can not be sealed",
                ),
            ));
        }
        if let Some(existing) = self.streams.get(name) {
            // Creating a stream again with the same configuration is no error.
            if existing.config() != &config {
                return Err((KIND, ApiError::stream_name_in_use()));
            }
        } else {
            if self.streams.values().any(|s| s.config().overlaps(&config)) {
                return Err((KIND, ApiError::subjects_overlap()));
            }
            let max = self.limits.max_streams;
            if max >= 0 && self.streams.len() as i64 >= max {
                return Err((KIND, ApiError::maximum_streams()));
            }
            let store = (self.new_store)(&config).map_err(|e| (KIND, e))?;
            self.streams
                .insert(name.to_string(), Stream::new(config, store, now));
            self.stream_written(name);
            self.stream_action(name, Action::Create, now);
            self.backfill();
        }
        let mut info = self.stream_info(&self.streams[name]);
        // The reference leaves the domain and how sources are doing out of this one answer.
        info.domain = None;
        info.mirror = None;
        info.sources.clear();
        let mut fields = serde_json::to_value(info).expect("info serializes");
        fields["did_create"] = serde_json::Value::Bool(true);
        Ok(answer(KIND, fields))
    }

    fn update(
        &mut self,
        name: &str,
        body: &[u8],
        now: u64,
    ) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_update_response";
        let mut config = StreamConfig::parse_create(body, name).map_err(|e| (KIND, e))?;
        let existing = self.stream(name).map_err(|e| (KIND, e))?;
        existing
            .config()
            .check_update(&config)
            .map_err(|e| (KIND, e))?;
        config.apply_seal();
        let overlap = self
            .streams
            .iter()
            .any(|(other, s)| other != name && s.config().overlaps(&config));
        if overlap {
            return Err((KIND, ApiError::subjects_overlap()));
        }
        self.stream_mut(name)
            .map_err(|e| (KIND, e))?
            .set_config(config);
        self.stream_written(name);
        self.stream_action(name, Action::Modify, now);
        self.backfill();
        let fields =
            serde_json::to_value(self.stream_info(&self.streams[name])).expect("info serializes");
        Ok(answer(KIND, fields))
    }

    fn info(&self, name: &str, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_info_response";
        let req: InfoRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream(name).map_err(|e| (KIND, e))?;
        let mut fields = serde_json::json!({ "total": 0, "offset": 0, "limit": 0 });
        let mut info = self.stream_info(stream);
        if req.deleted_details && info.state.num_deleted > 0 {
            let store = stream.store();
            let state = store.state();
            let gone = (state.first_seq..=state.last_seq).filter(|&seq| !store.holds(seq));
            info.state.deleted = Some(gone.collect());
        }
        // Subject details, a page of them, when asked for and there are any.
        if let Some(filter) = req.subjects_filter.filter(|f| !f.is_empty()) {
            let mut all = stream.store().subjects(filter.as_bytes());
            if !all.is_empty() {
                all.sort();
                let offset = req.offset.min(all.len());
                let page = all[offset..].iter().take(SUBJECT_DETAILS);
                info.state.subjects = Some(
                    page.map(|(s, n)| (String::from_utf8_lossy(s).into_owned(), *n))
                        .collect(),
                );
                fields = serde_json::json!({
                    "total": all.len(), "offset": offset, "limit": SUBJECT_DETAILS
                });
            }
        }
        let info = serde_json::to_value(info).expect("info serializes");
        if let (serde_json::Value::Object(f), serde_json::Value::Object(i)) = (&mut fields, info) {
            f.extend(i);
        }
        Ok(answer(KIND, fields))
    }

    fn delete(&mut self, name: &str, now: u64) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_delete_response";
        let mut stream = self
            .streams
            .remove(name)
            .ok_or((KIND, ApiError::stream_not_found()))?;
        for consumer in stream.consumers.values_mut() {
            consumer.close(&mut self.outbox);
        }
        self.stream_removed(&stream);
        self.stream_action(name, Action::Delete, now);
        Ok(answer(KIND, serde_json::json!({ "success": true })))
    }

    fn purge(&mut self, name: &str, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_purge_response";
        let req: PurgeRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream_mut(name).map_err(|e| (KIND, e))?;
        if req.seq.unwrap_or(0) > 0 && req.keep.unwrap_or(0) > 0 {
            return Err((KIND, ApiError::bad_request()));
        }
        if stream.config().sealed {
            return Err((KIND, ApiError::stream_sealed()));
        }
        if stream.config().deny_purge {
            return Err((KIND, ApiError::purge_denied()));
        }
        let purged = stream.purge(req.filter.as_deref().map(str::as_bytes), req.seq, req.keep);
        Ok(answer(
            KIND,
            serde_json::json!({ "success": true, "purged": purged }),
        ))
    }

    fn msg_get(&self, name: &str, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_msg_get_response";
        let req: MsgGetRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream(name).map_err(|e| (KIND, e))?;
        // Exactly one way to find the message, as the reference checks it.
        let bad = (req.seq > 0 && req.last_by_subj.is_some())
            || (req.seq == 0 && req.last_by_subj.is_none() && req.next_by_subj.is_none());
        if bad {
            return Err((KIND, ApiError::bad_request()));
        }
        let msg = req
            .find(stream.store())
            .ok_or((KIND, ApiError::no_message_found()))?;
        Ok(answer(
            KIND,
            serde_json::json!({ "message": MessageJson::from(&msg) }),
        ))
    }

    fn msg_delete(&mut self, name: &str, body: &[u8]) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_msg_delete_response";
        let req: MsgDeleteRequest = body_or_default(body).map_err(|e| (KIND, e))?;
        let stream = self.stream_mut(name).map_err(|e| (KIND, e))?;
        if stream.config().sealed {
            return Err((KIND, ApiError::stream_sealed()));
        }
        if stream.config().deny_delete {
            return Err((KIND, ApiError::msg_delete_denied()));
        }
        let last_seq = stream.store().state().last_seq;
        let file = stream.config().storage == super::config::Storage::File;
        if !stream.remove(req.seq) {
            // The reference's file store fails past its last sequence; otherwise (and
            // always in memory) the sequence is just not there.
            if file && req.seq > last_seq {
                return Err((KIND, ApiError::msg_delete_failed("stream store EOF")));
            }
            return Err((KIND, ApiError::sequence_not_found(req.seq)));
        }
        Ok(answer(KIND, serde_json::json!({ "success": true })))
    }
}

#[cfg(test)]
mod tests;
