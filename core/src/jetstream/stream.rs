//! One stream: its configuration and store, and what publishing to it does — the checks
//! a message's headers ask for (expected stream, last sequence, last message id),
//! de-duplication by `Nats-Msg-Id`, rollups, limits — and the acknowledgement it answers.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::api_error::ApiError;
use super::config::{StreamConfig, StreamSource};
use super::consumer::Consumer;
use super::headers::{
    header, ttl, with_extra, EXPECTED_LAST_MSG_ID, EXPECTED_LAST_SEQ, EXPECTED_LAST_SUBJECT_SEQ,
    EXPECTED_STREAM, MSG_ID, ROLLUP,
};
use super::sourcing::{Link, SourceInfo};
use super::store::{Store, StoreError, StoredMsg};

/// What a publish to a stream answers with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PubAck {
    Stored {
        seq: u64,
    },
    /// The `Nats-Msg-Id` was seen within the duplicate window: nothing was stored; `seq`
    /// is the first copy's.
    Duplicate {
        seq: u64,
    },
}

/// Message ids seen within the duplicate window, oldest first.
#[derive(Debug, Default)]
struct Dedupe {
    ids: BTreeMap<String, u64>,
    order: VecDeque<(u64, String)>,
}

impl Dedupe {
    /// Forgets ids stored at or before `cutoff` (a whole window ago).
    fn expire(&mut self, cutoff: u64) {
        while let Some((time, _)) = self.order.front() {
            if *time > cutoff {
                break;
            }
            let (_, id) = self.order.pop_front().expect("checked non-empty");
            self.ids.remove(&id);
        }
    }

    fn insert(&mut self, id: String, seq: u64, time: u64) {
        self.ids.insert(id.clone(), seq);
        self.order.push_back((time, id));
    }
}

pub struct Stream {
    config: StreamConfig,
    store: Box<dyn Store + Send>,
    dedupe: Dedupe,
    /// The `Nats-Msg-Id` of the last message stored (empty when it had none).
    last_msg_id: String,
    /// When the stream was created, nanoseconds since the Unix epoch.
    pub created: u64,
    /// Its consumers, by name.
    pub consumers: BTreeMap<String, Consumer>,
    /// For a mirror or a stream with sources: the last sequence copied from each origin,
    /// by index name ([`super::config::StreamSource::index_name`]).
    sourced: BTreeMap<String, u64>,
    /// How each origin is doing, by index name.
    links: BTreeMap<String, Link>,
}

/// The header a sourced message carries: its origin stream and sequence there.
const SOURCE_HEADER: &str = "Nats-Stream-Source";

impl Stream {
    /// A stream over `store`, whose limits are set from `config`.
    pub fn new(config: StreamConfig, mut store: Box<dyn Store + Send>, created: u64) -> Stream {
        store.set_limits(config.limits());
        Stream {
            config,
            store,
            dedupe: Dedupe::default(),
            last_msg_id: String::new(),
            created,
            consumers: BTreeMap::new(),
            sourced: BTreeMap::new(),
            links: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Takes an updated configuration (already checked), applying its limits at once.
    pub fn set_config(&mut self, config: StreamConfig) {
        self.store.set_limits(config.limits());
        self.config = config;
        self.removed();
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store and the consumers, apart, so consumers can read while being changed.
    pub fn parts(&mut self) -> (&dyn Store, &mut BTreeMap<String, Consumer>) {
        (self.store.as_ref(), &mut self.consumers)
    }

    /// Purges as [`Store::purge`] says; how many messages went.
    pub fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64 {
        let purged = self.store.purge(filter, upto, keep);
        self.removed();
        purged
    }

    /// Deletes one message; whether it was there.
    pub fn remove(&mut self, seq: u64) -> bool {
        let removed = self.store.remove(seq);
        self.removed();
        removed
    }

    /// Removes the messages past `max_age` at `now`; how many.
    pub fn expire(&mut self, now: u64) -> u64 {
        let n = self.store.expire(now);
        if n > 0 {
            self.removed();
        }
        n
    }

    /// A message was stored at `seq` while the store held `held` messages: consumers hear
    /// of it, and of any the limits discarded to make room.
    fn after_store(&mut self, seq: u64, subject: &[u8], held: u64) {
        for c in self.consumers.values_mut() {
            c.on_stored(seq, subject);
        }
        if self.store.state().msgs != held + 1 {
            self.removed();
        }
    }

    /// Copies in, at `now`, message `msg` of the origin with index name `origin`, to be
    /// stored under `subject`: a mirror keeps the sequence; a source takes the next one and
    /// says where the message came from in a `Nats-Stream-Source` header (which also tells,
    /// after a restart, how far it got). Its sequence here, or `None` if it was copied
    /// before or refused by the limits.
    pub fn copy_in(
        &mut self,
        origin: &str,
        msg: &StoredMsg,
        subject: &[u8],
        now: u64,
    ) -> Option<u64> {
        let seq = msg.seq;
        if self.sourced.get(origin).is_some_and(|&last| seq <= last) {
            return None;
        }
        self.sourced.insert(origin.to_string(), seq);
        self.link(origin).copied(now);
        let held = self.store.state().msgs;
        let stored = if self.config.mirror.is_some() {
            self.store.skip_to(seq);
            self.store.store(subject, &msg.headers, &msg.data, msg.time)
        } else {
            let from = [(SOURCE_HEADER, format!("{origin} {seq}"))];
            let headers = with_extra(&msg.headers, &from);
            self.store.store(subject, &headers, &msg.data, msg.time)
        }
        .ok()?;
        self.after_store(stored, subject, held);
        Some(stored)
    }

    /// How far this stream got in each stream it copies from: the last sequence copied.
    pub fn sourced(&self, origin: &str) -> u64 {
        self.sourced.get(origin).copied().unwrap_or(0)
    }

    /// Everything of the origin with index name `origin` up to `seq` was read, whether
    /// copied or not taken.
    pub fn read_up_to(&mut self, origin: &str, seq: u64) {
        let last = self.sourced.entry(origin.to_string()).or_default();
        *last = (*last).max(seq);
    }

    /// The first sequence of `source`'s origin still to copy: past what was copied, and
    /// not before its start sequence.
    pub fn next_to_copy(&self, source: &StreamSource) -> u64 {
        (self.sourced(&source.index_name()) + 1).max(source.opt_start_seq)
    }

    /// How the origin with index name `origin` is doing, to change.
    pub fn link(&mut self, origin: &str) -> &mut Link {
        self.links.entry(origin.to_string()).or_default()
    }

    /// Its `mirror` and `sources` as its info shows them at `now`.
    pub fn source_infos<'a>(&'a self, now: u64) -> (Option<SourceInfo<'a>>, Vec<SourceInfo<'a>>) {
        let info = |s: &'a StreamSource| {
            let link = self.links.get(&s.index_name()).cloned().unwrap_or_default();
            link.info(&s.name, s.external.as_ref(), now)
        };
        let mirror = self.config.mirror.as_ref().map(info);
        (mirror, self.config.sources.iter().map(info).collect())
    }

    /// After a restart, works out how far copying got from what is stored: a mirror's
    /// last sequence is its origin's, a source's messages carry their origin.
    pub fn recover_sourced(&mut self) {
        if let Some(mirror) = &self.config.mirror {
            let last = self.store.state().last_seq;
            self.sourced.insert(mirror.index_name(), last);
            return;
        }
        if self.config.sources.is_empty() {
            return;
        }
        let mut seq = self.store.state().first_seq;
        while let Some(m) = self.store.load_next(b">", seq) {
            seq = m.seq + 1;
            let Some(from) = header(&m.headers, SOURCE_HEADER) else {
                continue;
            };
            let from = String::from_utf8_lossy(from);
            if let Some((origin, n)) = from.split_once(' ') {
                let n: u64 = n.parse().unwrap_or(0);
                let last = self.sourced.entry(origin.to_string()).or_default();
                *last = (*last).max(n);
            }
        }
    }

    /// What the store has to write since the last call, going out in batch `batch`.
    pub fn take_store_ops(&mut self, batch: u64) -> Vec<super::filestore::FileOp> {
        self.store.take_ops(batch)
    }

    /// Write batches up to `batch` are on disk (see [`Store::written`]).
    pub fn store_written(&mut self, batch: u64) {
        self.store.written(batch);
    }

    /// Damage the store found reading back (see [`Store::take_faults`]).
    pub fn take_store_faults(&mut self) -> Vec<super::filestore::Corruption> {
        self.store.take_faults()
    }

    /// Remembers the `Nats-Msg-Id`s of the messages still within the duplicate window at
    /// `now`, after a restart, so a publisher retrying across it is still de-duplicated.
    pub fn recover_dedupe(&mut self, now: u64) {
        let window = u64::try_from(self.config.duplicate_window).unwrap_or(0);
        let cutoff = now.saturating_sub(window);
        let Some(mut seq) = self.store.seq_from_time(cutoff.saturating_add(1)) else {
            return;
        };
        while let Some(m) = self.store.load_next(b">", seq) {
            seq = m.seq + 1;
            if m.time <= cutoff {
                continue;
            }
            if let Some(id) = header(&m.headers, MSG_ID).filter(|id| !id.is_empty()) {
                let id = String::from_utf8_lossy(id).into_owned();
                self.last_msg_id = id.clone();
                self.dedupe.insert(id, m.seq, m.time);
            }
        }
    }

    /// Messages left the store: consumers recount what they have left to deliver.
    fn removed(&mut self) {
        for c in self.consumers.values_mut() {
            c.on_removed();
        }
    }

    /// Stores a message published to `subject` (one of the stream's) at `now`.
    pub fn publish(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        now: u64,
    ) -> Result<PubAck, ApiError> {
        if self.config.sealed {
            return Err(ApiError::stream_sealed());
        }
        let window = u64::try_from(self.config.duplicate_window).unwrap_or(0);
        self.dedupe.expire(now.saturating_sub(window));
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let number = |v: &[u8]| text(v).parse::<u64>().unwrap_or(0);
        let mut msg_id = None;
        let mut rollup = None;
        if !headers.is_empty() {
            if header(headers, EXPECTED_STREAM).is_some_and(|s| s != self.config.name.as_bytes()) {
                return Err(ApiError::stream_not_match());
            }
            match ttl(headers) {
                Some(_) if !self.config.allow_msg_ttl => return Err(ApiError::msg_ttl_disabled()),
                Some(Err(())) => return Err(ApiError::msg_ttl_invalid()),
                _ => {}
            }
            if let Some(id) = header(headers, MSG_ID).filter(|id| !id.is_empty()) {
                let id = text(id);
                if let Some(&seq) = self.dedupe.ids.get(&id) {
                    return Ok(PubAck::Duplicate { seq });
                }
                msg_id = Some(id);
            }
            if let Some(want) = header(headers, EXPECTED_LAST_SUBJECT_SEQ).map(number) {
                let last = self.store.last_seq(subject).unwrap_or(0);
                if last != want {
                    return Err(ApiError::wrong_last_sequence(last));
                }
            }
            if let Some(want) = header(headers, EXPECTED_LAST_SEQ).map(number) {
                let last = self.store.state().last_seq;
                if last != want {
                    return Err(ApiError::wrong_last_sequence(last));
                }
            }
            if let Some(want) = header(headers, EXPECTED_LAST_MSG_ID).filter(|v| !v.is_empty()) {
                if want != self.last_msg_id.as_bytes() {
                    return Err(ApiError::wrong_last_msg_id(&self.last_msg_id));
                }
            }
            if let Some(how) = header(headers, ROLLUP) {
                if !self.config.allow_rollup_hdrs || self.config.deny_purge {
                    return Err(ApiError::rollup_failed("rollup not permitted"));
                }
                rollup = match how {
                    b"sub" => Some(Rollup::Subject),
                    b"all" => Some(Rollup::All),
                    other => {
                        let why = format!("rollup value invalid: {:?}", text(other));
                        return Err(ApiError::rollup_failed(why));
                    }
                };
            }
        }
        let max_size = self.config.max_msg_size;
        if max_size >= 0 && (headers.len() + data.len()) as i64 > max_size {
            return Err(ApiError::message_too_large());
        }
        let held = self.store.state().msgs;
        let seq = self
            .store
            .store(subject, headers, data, now)
            .map_err(store_error)?;
        match rollup {
            Some(Rollup::Subject) => {
                self.store.purge(Some(subject), Some(seq), None);
            }
            Some(Rollup::All) => {
                self.store.purge(None, Some(seq), None);
            }
            None => {}
        }
        self.after_store(seq, subject, held);
        self.last_msg_id = msg_id.clone().unwrap_or_default();
        if let Some(id) = msg_id {
            self.dedupe.insert(id, seq, now);
        }
        Ok(PubAck::Stored { seq })
    }
}

enum Rollup {
    Subject,
    All,
}

fn store_error(e: StoreError) -> ApiError {
    ApiError::store_failed(match e {
        StoreError::MaxMsgs => "maximum messages exceeded",
        StoreError::MaxBytes | StoreError::TooLarge => "maximum bytes exceeded",
        StoreError::MaxMsgsPerSubject => "maximum messages per subject exceeded",
    })
}

impl PubAck {
    /// The acknowledgement as the reference writes it (by hand, hence its spacing), with
    /// the JetStream domain when there is one.
    pub fn to_json(&self, stream: &str, domain: Option<&str>) -> String {
        let stream = serde_json::to_string(stream).expect("a string serializes");
        let domain = domain.map_or(String::new(), |d| {
            let d = serde_json::to_string(d).expect("a string serializes");
            format!(" \"domain\":{d},")
        });
        match self {
            PubAck::Stored { seq } => format!("{{\"stream\":{stream},{domain} \"seq\":{seq}}}"),
            PubAck::Duplicate { seq } => {
                format!("{{\"stream\":{stream},{domain} \"seq\":{seq},\"duplicate\": true}}")
            }
        }
    }
}

/// A refused publish as the reference answers it.
pub fn pub_error_json(stream: &str, error: &ApiError) -> String {
    #[derive(Serialize)]
    struct Refused<'a> {
        error: &'a ApiError,
        stream: &'a str,
        seq: u64,
    }
    serde_json::to_string(&Refused {
        error,
        stream,
        seq: 0,
    })
    .expect("serializes")
}

#[cfg(test)]
mod tests;
