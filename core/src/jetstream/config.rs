//! A stream's configuration as `$JS.API.STREAM.CREATE` takes it and `INFO` shows it: the
//! reference's JSON field names, order and defaults, and its checks with their errors.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::api_error::ApiError;
use super::store::{Discard, Limits};
use crate::subject::{is_valid_literal_subject, is_valid_subject, overlaps};

/// Why a stream may not take subjects of the JetStream API; the reference checks this only
/// after it finds the stream's name free.
pub const API_OVERLAP: &str = "subjects overlap with jetstream api";

/// How long `Nats-Msg-Id` de-duplication remembers ids unless configured.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// The most replicas a stream may ask for (the reference's `StreamMaxReplicas`).
const MAX_REPLICAS: i64 = 5;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    WorkQueue,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscardPolicy {
    #[default]
    Old,
    New,
}

/// A stream's configuration. Limits use the reference's `-1` for unlimited; durations are
/// nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamConfig {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    pub retention: Retention,
    pub max_consumers: i64,
    pub max_msgs: i64,
    pub max_bytes: i64,
    pub max_age: i64,
    pub max_msgs_per_subject: i64,
    pub max_msg_size: i64,
    pub discard: DiscardPolicy,
    pub storage: Storage,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_ack: bool,
    /// Nanoseconds; none for a mirror, which stores only what its origin stored.
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub duplicate_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    pub allow_direct: bool,
    pub mirror_direct: bool,
    pub sealed: bool,
    pub deny_delete: bool,
    pub deny_purge: bool,
    pub allow_rollup_hdrs: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub discard_new_per_subject: bool,
    /// Messages may carry a time to live of their own (`Nats-TTL`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_msg_ttl: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// Republishing stored messages (`republish`): those on `src` (all when empty) go out
/// again on `dest`, with where they were stored in headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RePublish {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub src: String,
    pub dest: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub headers_only: bool,
}

/// Another stream this one copies from (`mirror`, `sources`): of the same account, or
/// reached through another JetStream API prefix (`external`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSource {
    pub name: String,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalStream>,
}

/// Where an origin stream of another account (or domain) is reached: the API prefix its
/// JetStream answers under in this account (through a service import), and the prefix of
/// the subjects its messages are delivered on (through a stream import).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalStream {
    pub api: String,
    pub deliver: String,
}

/// The JetStream API prefix an external `api` must not collide with (this account's own).
const JS_API_PREFIX: &str = "$JS.API";

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

impl StreamSource {
    /// The name this source's progress is kept under (and that its copies' `Nats-Stream-Source`
    /// header names), as the reference: the origin's name, with a hash of the API prefix for
    /// an external one, so two origins of the same name in different accounts stay apart.
    pub fn index_name(&self) -> String {
        match &self.external {
            Some(ext) => format!("{}:{}", self.name, super::sourcing::name_hash(&ext.api)),
            None => self.name.clone(),
        }
    }

    /// Where a message of the origin stored under `subject` at `time` is copied to,
    /// if this source takes it (start and filter), and under which subject.
    pub fn takes(&self, seq: u64, time: u64, subject: &[u8]) -> Option<Vec<u8>> {
        if seq < self.opt_start_seq {
            return None;
        }
        let start = self
            .opt_start_time
            .as_deref()
            .and_then(super::time::parse_rfc3339);
        if start.is_some_and(|start| time < start) {
            return None;
        }
        if !self.filter_subject.is_empty()
            && !crate::subject::matches(self.filter_subject.as_bytes(), subject)
        {
            return None;
        }
        for t in &self.subject_transforms {
            if let Some(to) = super::transform::transform(&t.src, &t.dest, subject) {
                return Some(to);
            }
        }
        Some(subject.to_vec())
    }
}

/// Storing messages under another subject (`subject_transform`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubjectTransform {
    pub src: String,
    pub dest: String,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            name: String::new(),
            description: None,
            subjects: Vec::new(),
            retention: Retention::Limits,
            max_consumers: -1,
            max_msgs: -1,
            max_bytes: -1,
            max_age: 0,
            max_msgs_per_subject: -1,
            max_msg_size: -1,
            discard: DiscardPolicy::Old,
            storage: Storage::File,
            num_replicas: 1,
            no_ack: false,
            duplicate_window: 0,
            mirror: None,
            sources: Vec::new(),
            republish: None,
            allow_direct: false,
            mirror_direct: false,
            sealed: false,
            deny_delete: false,
            deny_purge: false,
            allow_rollup_hdrs: false,
            discard_new_per_subject: false,
            allow_msg_ttl: false,
            subject_transform: None,
            metadata: BTreeMap::new(),
        }
    }
}

/// Whether `name` may name a stream: not empty, and no `.`, wildcards, white space or path
/// separators (stream names become subject tokens and directory names).
pub fn is_valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .bytes()
            .any(|b| matches!(b, b'.' | b'*' | b'>' | b'/' | b'\\') || b.is_ascii_whitespace())
}

impl StreamConfig {
    /// Parses a create request's body for the stream `name` taken from the request subject.
    pub fn parse_create(body: &[u8], name: &str) -> Result<StreamConfig, ApiError> {
        let mut config: StreamConfig =
            serde_json::from_slice(body).map_err(|_| ApiError::invalid_json())?;
        if config.name != name {
            return Err(ApiError::stream_name_mismatch());
        }
        config.check_and_default()?;
        Ok(config)
    }

    /// Checks the configuration as the reference does and fills in what it defaults.
    pub fn check_and_default(&mut self) -> Result<(), ApiError> {
        let invalid = ApiError::invalid_stream_config;
        if !is_valid_stream_name(&self.name) {
            return Err(invalid(
                "stream name is required and can not contain '.', '*', '>'",
            ));
        }
        if self.num_replicas > MAX_REPLICAS {
            return Err(invalid(&format!("maximum replicas is {MAX_REPLICAS}")));
        }
        if self.num_replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if self.num_replicas <= 0 {
            self.num_replicas = 1;
        }
        // Clients send 0 for "no limit" (their zero values); the reference stores -1.
        for limit in [
            &mut self.max_msgs,
            &mut self.max_bytes,
            &mut self.max_msgs_per_subject,
            &mut self.max_msg_size,
            &mut self.max_consumers,
        ] {
            if *limit == 0 {
                *limit = -1;
            }
        }
        if self.mirror.is_some() {
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !self.sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
        }
        for source in self.mirror.iter().chain(&self.sources) {
            let own = source.external.is_none() && source.name == self.name;
            if own || !is_valid_stream_name(&source.name) {
                return Err(invalid("stream source name is not valid"));
            }
        }
        let externals = self.externals();
        for ext in externals.clone().filter(|e| !e.deliver.is_empty()) {
            if !is_valid_literal_subject(ext.deliver.as_bytes()) {
                return Err(ApiError::stream_invalid_external_delivery_subj(
                    &ext.deliver,
                ));
            }
        }
        for ext in externals.filter(|e| !e.api.is_empty()) {
            if !is_valid_literal_subject(ext.api.as_bytes()) {
                return Err(invalid(&format!(
                    "stream external api prefix {:?} must be a valid subject without wildcards",
                    ext.api
                )));
            }
            if overlaps(ext.api.as_bytes(), JS_API_PREFIX.as_bytes()) {
                return Err(ApiError::stream_external_api_overlap(
                    &ext.api,
                    JS_API_PREFIX,
                ));
            }
        }
        if self.subjects.is_empty() && self.mirror.is_none() && self.sources.is_empty() {
            self.subjects.push(self.name.clone());
        }
        for (i, subject) in self.subjects.iter().enumerate() {
            if !is_valid_subject(subject.as_bytes()) {
                return Err(invalid("invalid subject"));
            }
            if self.subjects[..i].contains(subject) {
                return Err(invalid("duplicate subjects detected"));
            }
            if overlaps(subject.as_bytes(), b"$JS.API.>") {
                return Err(invalid(API_OVERLAP));
            }
        }
        for (i, a) in self.subjects.iter().enumerate() {
            if let Some(b) = self.subjects[i + 1..]
                .iter()
                .find(|b| overlaps(a.as_bytes(), b.as_bytes()))
            {
                // Go's `%q` quoting.
                return Err(invalid(&format!("subject {a:?} overlaps with {b:?}")));
            }
        }
        // Shorter windows than the reference's smallest, 100 ms.
        const SHORTEST: i64 = 100_000_000;
        if self.max_age > 0 && self.max_age < SHORTEST {
            return Err(invalid("max age needs to be >= 100ms"));
        }
        // The reference reports a negative max_age with the duplicate window's text.
        if self.duplicate_window < 0 || self.max_age < 0 {
            return Err(invalid("duplicates window can not be negative"));
        }
        if self.duplicate_window == 0 && self.mirror.is_none() {
            let default = DEFAULT_DUPLICATE_WINDOW.as_nanos() as i64;
            self.duplicate_window = match self.max_age {
                0 => default,
                age => age.min(default),
            };
        } else if self.max_age > 0 && self.duplicate_window > self.max_age {
            return Err(invalid("duplicates window can not be larger then max age"));
        }
        if self.duplicate_window > 0 && self.duplicate_window < SHORTEST {
            return Err(invalid("duplicates window needs to be >= 100ms"));
        }
        // A roll-up purges, so a stream that denies purges cannot allow them.
        if self.deny_purge && self.allow_rollup_hdrs {
            return Err(invalid("roll-ups require the purge permission"));
        }
        if self.discard_new_per_subject
            && (self.discard != DiscardPolicy::New || self.max_msgs_per_subject <= 0)
        {
            let why = if self.discard != DiscardPolicy::New {
                "discard new per subject requires discard new policy to be set"
            } else {
                "discard new per subject requires max msgs per subject > 0"
            };
            return Err(invalid(why));
        }
        if let Some(rp) = &self.republish {
            let src = if rp.src.is_empty() { ">" } else { &rp.src };
            if !is_valid_subject(src.as_bytes()) || !is_valid_subject(rp.dest.as_bytes()) {
                return Err(invalid("stream republish subjects are not valid"));
            }
            if self
                .subjects
                .iter()
                .any(|s| overlaps(s.as_bytes(), rp.dest.as_bytes()))
            {
                return Err(invalid(
                    "stream configuration for republish destination forms a cycle",
                ));
            }
        }
        if let Some(t) = &self.subject_transform {
            if !is_valid_subject(t.src.as_bytes()) || !is_valid_subject(t.dest.as_bytes()) {
                return Err(invalid("stream subject transform subjects are not valid"));
            }
        }
        Ok(())
    }

    /// The `external` settings of its mirror and sources.
    fn externals(&self) -> impl Iterator<Item = &ExternalStream> + Clone {
        self.mirror
            .iter()
            .chain(&self.sources)
            .filter_map(|s| s.external.as_ref())
    }

    /// Refuses an external delivery prefix under which the subjects of `origin_subjects`
    /// (those of this account's streams named like its origins, as the reference looks
    /// them up) would be captured again.
    pub fn check_deliver_prefixes(&self, origin_subjects: &[String]) -> Result<(), ApiError> {
        for ext in self.externals().filter(|e| !e.deliver.is_empty()) {
            for subject in origin_subjects {
                let delivered = format!("{}.{subject}", ext.deliver);
                if overlaps(subject.as_bytes(), delivered.as_bytes()) {
                    return Err(ApiError::stream_external_del_prefix_overlaps(
                        &ext.deliver,
                        subject,
                    ));
                }
            }
        }
        Ok(())
    }

    /// The mirror or source kept under index name `iname` ([`StreamSource::index_name`]),
    /// if any; looked up on every copy, so the hash is only made for a likely match.
    pub fn source(&self, iname: &str) -> Option<&StreamSource> {
        self.mirror
            .iter()
            .chain(&self.sources)
            .find(|s| match &s.external {
                None => s.name == iname,
                Some(_) => {
                    let hashed = iname.strip_prefix(s.name.as_str());
                    hashed.is_some_and(|h| h.starts_with(':')) && s.index_name() == iname
                }
            })
    }

    /// The subject a message published on `subject` is stored under.
    pub fn stored_subject<'a>(&self, subject: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        self.subject_transform
            .as_ref()
            .and_then(|t| super::transform::transform(&t.src, &t.dest, subject))
            .map_or(std::borrow::Cow::Borrowed(subject), std::borrow::Cow::Owned)
    }

    /// The limits its store enforces.
    pub fn limits(&self) -> Limits {
        let positive = |v: i64| u64::try_from(v).ok().filter(|&v| v > 0);
        Limits {
            max_msgs: positive(self.max_msgs),
            max_bytes: positive(self.max_bytes),
            max_age: positive(self.max_age),
            max_msgs_per_subject: positive(self.max_msgs_per_subject),
            discard: match self.discard {
                DiscardPolicy::Old => Discard::Old,
                DiscardPolicy::New => Discard::New,
            },
            discard_new_per_subject: self.discard_new_per_subject,
        }
    }

    /// Whether a stream with this configuration may be updated to `new`: what decides
    /// where and how messages are kept cannot change.
    pub fn check_update(&self, new: &StreamConfig) -> Result<(), ApiError> {
        let refuse = |why: &str| Err(ApiError::stream_update(why));
        if new.max_consumers != self.max_consumers {
            return refuse("stream configuration update can not change MaxConsumers");
        }
        if new.mirror != self.mirror {
            return Err(ApiError::mirror_not_updatable());
        }
        if new.storage != self.storage {
            return refuse("stream configuration update can not change storage type");
        }
        if new.retention != self.retention {
            return refuse("stream configuration update can not change retention policy");
        }
        if self.sealed && !new.sealed {
            return refuse("stream configuration update can not unseal a sealed stream");
        }
        if self.deny_delete && !new.deny_delete {
            return refuse("stream configuration update can not cancel deny message deletes");
        }
        if self.deny_purge && !new.deny_purge {
            return refuse("stream configuration update can not cancel deny purge");
        }
        Ok(())
    }

    /// What sealing implies, as the reference applies it to an update that seals: no
    /// expiry, discard new, no deletes, purges or rollups.
    pub fn apply_seal(&mut self) {
        if self.sealed {
            self.max_age = 0;
            self.discard = DiscardPolicy::New;
            self.deny_delete = true;
            self.deny_purge = true;
            self.allow_rollup_hdrs = false;
        }
    }

    /// Whether any subject of this stream overlaps one of `other`'s.
    pub fn overlaps(&self, other: &StreamConfig) -> bool {
        self.subjects.iter().any(|a| {
            other
                .subjects
                .iter()
                .any(|b| overlaps(a.as_bytes(), b.as_bytes()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: &str, name: &str) -> Result<StreamConfig, ApiError> {
        StreamConfig::parse_create(json.as_bytes(), name)
    }

    #[test]
    fn defaults_serialize_like_the_reference() {
        let config = create(r#"{"name":"ORDERS","subjects":["orders.*"]}"#, "ORDERS").unwrap();
        // As nats-server 2.9.10 answers the same create request.
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"name":"ORDERS","subjects":["orders.*"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#
        );
        let memory = create(
            r#"{"name":"S","storage":"memory","retention":"interest","max_msgs":5,"discard":"new"}"#,
            "S",
        )
        .unwrap();
        assert_eq!(memory.subjects, vec!["S".to_string()]);
        assert_eq!(memory.limits().max_msgs, Some(5));
        assert_eq!(memory.limits().discard, Discard::New);
    }

    #[test]
    fn errors_as_the_reference() {
        let err = |json: &str, name: &str| create(json, name).unwrap_err();
        assert_eq!(
            err(r#"{"name":"Y"}"#, "X"),
            ApiError::stream_name_mismatch()
        );
        assert_eq!(err("{}", "E"), ApiError::stream_name_mismatch());
        assert_eq!(err("not json", "J"), ApiError::invalid_json());
        assert_eq!(
            err(r#"{"name":"N","retention":"bogus"}"#, "N"),
            ApiError::invalid_json()
        );
        assert_eq!(
            err(r#"{"name":"R","num_replicas":3}"#, "R"),
            ApiError::replicas_not_supported()
        );
        for (json, text) in [
            (r#"{"name":"N","subjects":["foo..bar"]}"#, "invalid subject"),
            (
                r#"{"name":"N","subjects":["a","a"]}"#,
                "duplicate subjects detected",
            ),
            (
                r#"{"name":"N","subjects":["$JS.API.>"]}"#,
                "subjects overlap with jetstream api",
            ),
            (
                r#"{"name":"N","subjects":["a.>","b","a.b"]}"#,
                "subject \"a.>\" overlaps with \"a.b\"",
            ),
            (r#"{"name":"N","num_replicas":7}"#, "maximum replicas is 5"),
            (
                r#"{"name":"N","max_age":-1}"#,
                "duplicates window can not be negative",
            ),
            (
                r#"{"name":"N","duplicate_window":-1}"#,
                "duplicates window can not be negative",
            ),
            (
                r#"{"name":"N","max_age":1000000000,"duplicate_window":5000000000}"#,
                "duplicates window can not be larger then max age",
            ),
            (
                r#"{"name":"N","max_age":99000000}"#,
                "max age needs to be >= 100ms",
            ),
            (
                r#"{"name":"N","duplicate_window":99000000}"#,
                "duplicates window needs to be >= 100ms",
            ),
            (
                r#"{"name":"N","deny_purge":true,"allow_rollup_hdrs":true}"#,
                "roll-ups require the purge permission",
            ),
            (
                r#"{"name":"N","discard_new_per_subject":true,"discard":"new"}"#,
                "discard new per subject requires max msgs per subject > 0",
            ),
            (
                r#"{"name":"N","discard_new_per_subject":true,"max_msgs_per_subject":2}"#,
                "discard new per subject requires discard new policy to be set",
            ),
        ] {
            assert_eq!(
                err(json, "N"),
                ApiError::invalid_stream_config(text),
                "{json}"
            );
        }
        assert_eq!(ApiError::invalid_stream_config("x").code, 500);
    }

    #[test]
    fn zero_limits_mean_none() {
        let c = create(
            r#"{"name":"N","max_msgs":0,"max_bytes":0,"max_msgs_per_subject":0,"max_msg_size":0,"max_consumers":0,"num_replicas":0}"#,
            "N",
        )
        .unwrap();
        assert_eq!(
            (
                c.max_msgs,
                c.max_bytes,
                c.max_msgs_per_subject,
                c.max_msg_size,
                c.max_consumers
            ),
            (-1, -1, -1, -1, -1)
        );
        assert_eq!(c.num_replicas, 1);
    }

    #[test]
    fn updates_as_the_reference() {
        let old = create(r#"{"name":"U","max_age":5000000000}"#, "U").unwrap();
        let more = create(r#"{"name":"U","max_consumers":3}"#, "U").unwrap();
        assert_eq!(
            old.check_update(&more),
            Err(ApiError::stream_update(
                "stream configuration update can not change MaxConsumers"
            ))
        );
        let mut sealed = create(
            r#"{"name":"U","max_age":5000000000,"allow_rollup_hdrs":true}"#,
            "U",
        )
        .unwrap();
        sealed.sealed = true;
        assert_eq!(old.check_update(&sealed), Ok(()));
        sealed.apply_seal();
        assert_eq!(
            (
                sealed.max_age,
                sealed.discard,
                sealed.deny_delete,
                sealed.deny_purge
            ),
            (0, DiscardPolicy::New, true, true)
        );
        assert!(!sealed.allow_rollup_hdrs);
    }

    #[test]
    fn duplicate_window_follows_a_short_max_age() {
        let c = create(r#"{"name":"N","max_age":1000000000}"#, "N").unwrap();
        assert_eq!(c.duplicate_window, 1_000_000_000);
    }

    #[test]
    fn overlapping_streams() {
        let a = create(r#"{"name":"A","subjects":["orders.*"]}"#, "A").unwrap();
        let b = create(r#"{"name":"B","subjects":["orders.>"]}"#, "B").unwrap();
        let c = create(r#"{"name":"C","subjects":["users.>"]}"#, "C").unwrap();
        assert!(a.overlaps(&b) && !a.overlaps(&c));
        assert!(is_valid_stream_name("ORDERS") && !is_valid_stream_name("a.b"));
        assert!(!is_valid_stream_name("a b") && !is_valid_stream_name(""));
    }
}
