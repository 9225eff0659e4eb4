//! A consumer's configuration as `$JS.API.CONSUMER.CREATE` takes it and `INFO` shows it: the
//! reference's JSON field names, order, omissions and defaults, and its checks with their
//! errors.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::api_error::ApiError;
use super::super::config::{Retention, StreamConfig};
use crate::subject::{is_valid_subject, matches, overlaps};

/// How long an unacknowledged message waits before redelivery unless configured.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
/// Unacknowledged messages a consumer may have out unless configured.
pub const DEFAULT_MAX_ACK_PENDING: i64 = 1000;
/// Pull requests a consumer keeps waiting unless configured.
pub const DEFAULT_MAX_WAITING: i64 = 512;
/// How long an ephemeral consumer lives without interest unless configured.
pub const DEFAULT_INACTIVE_THRESHOLD: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliverPolicy {
    #[default]
    All,
    Last,
    New,
    ByStartSequence,
    ByStartTime,
    LastPerSubject,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckPolicy {
    None,
    All,
    #[default]
    Explicit,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayPolicy {
    #[default]
    Instant,
    Original,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn no_acks() -> AckPolicy {
    AckPolicy::None
}

fn is_false(v: &bool) -> bool {
    !v
}

/// A consumer's configuration; durations are nanoseconds, as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumerConfig {
    #[serde(rename = "durable_name", skip_serializing_if = "String::is_empty")]
    pub durable: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub deliver_policy: DeliverPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    /// `none` when a request leaves it out (Go's zero value), as in the reference.
    #[serde(default = "no_acks")]
    pub ack_policy: AckPolicy,
    #[serde(skip_serializing_if = "is_zero")]
    pub ack_wait: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_deliver: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    pub replay_policy: ReplayPolicy,
    #[serde(skip_serializing_if = "is_zero_u64")]
    pub rate_limit_bps: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sample_freq: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_waiting: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub idle_heartbeat: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_batch: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_expires: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_bytes: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    pub num_replicas: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub mem_storage: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    /// Deliver nothing until this time (RFC 3339), as `CONSUMER.PAUSE` sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
}

fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}

/// A create request's body.
#[derive(Deserialize)]
struct CreateRequest {
    stream_name: String,
    /// Left out, it is an empty configuration (Go's zero value), as in the reference.
    #[serde(default = "empty_config")]
    config: ConsumerConfig,
}

/// What `{}` parses to (no acks, unlike [`ConsumerConfig::default`]).
fn empty_config() -> ConsumerConfig {
    ConsumerConfig {
        ack_policy: no_acks(),
        ..ConsumerConfig::default()
    }
}

/// Which create request it was, by its subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateKind<'a> {
    /// `$JS.API.CONSUMER.CREATE.<stream>`: an ephemeral consumer (no durable name allowed).
    Ephemeral,
    /// `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`.
    Durable(&'a str),
    /// `$JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>]`: the newer form.
    Named(&'a str, Option<&'a str>),
}

/// Whether `name` may name a consumer (it becomes a subject token and a directory).
pub fn is_valid_consumer_name(name: &str) -> bool {
    super::super::config::is_valid_stream_name(name)
}

impl ConsumerConfig {
    /// Parses a create request for `stream` made on a subject of `kind`.
    pub fn parse_create(
        body: &[u8],
        stream: &str,
        kind: CreateKind<'_>,
    ) -> Result<ConsumerConfig, ApiError> {
        let req: CreateRequest =
            serde_json::from_slice(body).map_err(|_| ApiError::invalid_json())?;
        if req.stream_name != stream {
            return Err(ApiError::stream_mismatch());
        }
        let mut config = req.config;
        match kind {
            CreateKind::Ephemeral => {
                if !config.durable.is_empty() {
                    return Err(ApiError::consumer_ephemeral_with_durable());
                }
            }
            CreateKind::Durable(name) => {
                if config.durable.is_empty() {
                    return Err(ApiError::consumer_durable_name_not_set());
                }
                if config.durable != name {
                    return Err(ApiError::consumer_durable_name_mismatch());
                }
            }
            CreateKind::Named(name, filter) => {
                if !config.durable.is_empty() && config.durable != name {
                    return Err(ApiError::consumer_name_mismatch());
                }
                // The name in the subject is the one the consumer gets, as in the
                // reference, whatever the body's `name` says.
                config.name = name.to_string();
                if let Some(filter) = filter {
                    if config.filter_subject != filter {
                        return Err(ApiError::consumer_filter_mismatch());
                    }
                }
            }
        }
        Ok(config)
    }

    /// The consumer's name: the durable name, else the name asked for; empty when the
    /// server is to choose one.
    pub fn chosen_name(&self) -> &str {
        if self.durable.is_empty() {
            &self.name
        } else {
            &self.durable
        }
    }

    pub fn is_durable(&self) -> bool {
        !self.durable.is_empty()
    }

    pub fn is_push(&self) -> bool {
        !self.deliver_subject.is_empty()
    }

    /// The subjects it reads, `>` for all; several with `filter_subjects`.
    pub fn filters(&self) -> Vec<&str> {
        if !self.filter_subjects.is_empty() {
            self.filter_subjects.iter().map(String::as_str).collect()
        } else if !self.filter_subject.is_empty() {
            vec![self.filter_subject.as_str()]
        } else {
            vec![">"]
        }
    }

    /// Whether a message on `subject` is one this consumer reads.
    pub fn wants(&self, subject: &[u8]) -> bool {
        if !self.filter_subjects.is_empty() {
            return self
                .filter_subjects
                .iter()
                .any(|f| matches(f.as_bytes(), subject));
        }
        self.filter_subject.is_empty() || matches(self.filter_subject.as_bytes(), subject)
    }

    /// Checks the configuration against its stream as the reference does and fills in
    /// what it defaults.
    /// `sample_freq` (`"30%"` or `"30"`) as a percentage of acks to report; `None` when
    /// it does not read as a whole number of at least zero.
    pub fn sample_percent(&self) -> Option<u32> {
        self.sample_freq.trim_end_matches('%').parse::<u32>().ok()
    }

    pub fn check_and_default(&mut self, stream: &StreamConfig) -> Result<(), ApiError> {
        let invalid = |why: &str| ApiError::consumer_create(why);
        if !self.durable.is_empty() && !is_valid_consumer_name(&self.durable) {
            return Err(ApiError::consumer_bad_durable_name());
        }
        if !self.name.is_empty() && !is_valid_consumer_name(&self.name) {
            return Err(invalid("consumer name can not contain path separators"));
        }
        if !self.durable.is_empty() && !self.name.is_empty() && self.name != self.durable {
            return Err(ApiError::consumer_name_mismatch());
        }
        // Errors with their own codes in the reference (JSConsumer...Err).
        let code = |c: u16, why: &str| ApiError::consumer_config(c, why);
        if !self.sample_freq.is_empty() && self.sample_percent().is_none() {
            let why = format!(
                "failed to parse consumer sampling configuration: strconv.Atoi: parsing {:?}: invalid syntax",
                self.sample_freq.trim_end_matches('%')
            );
            return Err(code(10095, &why));
        }
        if self.is_push() {
            if self.deliver_subject.contains(['*', '>']) {
                return Err(code(10079, "consumer deliver subject has wildcards"));
            }
            if !is_valid_subject(self.deliver_subject.as_bytes()) {
                return Err(code(10112, "invalid push consumer deliver subject"));
            }
            if stream
                .subjects
                .iter()
                .any(|s| matches(s.as_bytes(), self.deliver_subject.as_bytes()))
            {
                return Err(ApiError::consumer_deliver_cycle());
            }
            if self.max_waiting != 0 {
                return Err(code(10080, "consumer in push mode can not set max waiting"));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(code(
                    10082,
                    "consumer requires ack policy for max ack pending",
                ));
            }
            if self.idle_heartbeat > 0 && self.idle_heartbeat < 100_000_000 {
                return Err(code(10083, "consumer idle heartbeat needs to be >= 100ms"));
            }
        } else {
            if stream.retention == Retention::WorkQueue && self.ack_policy == AckPolicy::None {
                return Err(code(10084, "consumer in pull mode requires ack policy"));
            }
            if self.rate_limit_bps > 0 {
                return Err(code(
                    10086,
                    "consumer in pull mode can not have rate limit set",
                ));
            }
            if self.max_waiting < 0 {
                return Err(code(10087, "consumer max waiting needs to be positive"));
            }
            if self.idle_heartbeat != 0 {
                return Err(code(
                    10088,
                    "consumer idle heartbeat requires a push based consumer",
                ));
            }
            if self.flow_control {
                return Err(code(
                    10089,
                    "consumer flow control requires a push based consumer",
                ));
            }
        }
        if self.flow_control && self.idle_heartbeat == 0 {
            return Err(invalid("consumer with flow control also needs heartbeats"));
        }
        for filter in self.filters() {
            // An invalid filter is no subset of anything, as the reference sees it.
            if filter != ">"
                && (!is_valid_subject(filter.as_bytes())
                    || !stream
                        .subjects
                        .iter()
                        .any(|s| overlaps(s.as_bytes(), filter.as_bytes())))
            {
                return Err(ApiError::consumer_filter_not_subset());
            }
        }
        // The reference's texts: "deliver <policy>, but optional start <what> is also set"
        // and "deliver <policy>, but optional <what> is not set".
        let policy = match self.deliver_policy {
            DeliverPolicy::All => "all",
            DeliverPolicy::Last => "last",
            DeliverPolicy::New => "new",
            DeliverPolicy::ByStartSequence => "by start sequence",
            DeliverPolicy::ByStartTime => "by start time",
            DeliverPolicy::LastPerSubject => "last per subject",
        };
        let also = |what: &str| {
            code(
                10094,
                &format!("consumer delivery policy is deliver {policy}, but optional start {what} is also set"),
            )
        };
        let not_set = |what: &str| {
            code(
                10094,
                &format!(
                    "consumer delivery policy is deliver {policy}, but optional {what} is not set"
                ),
            )
        };
        let (seq, time) = (self.opt_start_seq != 0, self.opt_start_time.is_some());
        match self.deliver_policy {
            DeliverPolicy::ByStartSequence if !seq => return Err(not_set("start sequence")),
            DeliverPolicy::ByStartSequence if time => return Err(also("time")),
            DeliverPolicy::ByStartTime if !time => return Err(not_set("start time")),
            // Sic: the reference says "start start sequence" here.
            DeliverPolicy::ByStartTime if seq => return Err(also("start sequence")),
            DeliverPolicy::ByStartSequence | DeliverPolicy::ByStartTime => {}
            _ if seq => return Err(also("sequence")),
            _ if time => return Err(also("time")),
            DeliverPolicy::LastPerSubject
                if self.filter_subject.is_empty() && self.filter_subjects.is_empty() =>
            {
                return Err(not_set("filter subject"))
            }
            _ => {}
        }
        if self.opt_start_time.is_some() && self.start_time().is_none() {
            return Err(ApiError::invalid_json());
        }
        if stream.retention == Retention::WorkQueue && self.ack_policy != AckPolicy::Explicit {
            return Err(ApiError::workqueue_needs_explicit_ack());
        }
        if !self.backoff.is_empty()
            && self.max_deliver > 0
            && self.max_deliver as usize <= self.backoff.len()
        {
            return Err(code(
                10116,
                "max deliver is required to be > length of backoff values",
            ));
        }
        if self.ack_policy == AckPolicy::None && !self.backoff.is_empty() {
            return Err(invalid("consumer with backoff requires ack policy"));
        }
        if self.ack_wait < 0 || self.idle_heartbeat < 0 || self.inactive_threshold < 0 {
            return Err(invalid("consumer durations can not be negative"));
        }
        if self.max_ack_pending < -1 || self.max_waiting < 0 || self.max_deliver < -1 {
            return Err(invalid("consumer limits can not be negative"));
        }
        // Defaults, as the reference fills them in.
        if self.max_deliver == 0 {
            self.max_deliver = -1;
        }
        if self.ack_policy != AckPolicy::None {
            if let Some(&first) = self.backoff.first() {
                self.ack_wait = first;
            }
            if self.ack_wait == 0 {
                self.ack_wait = DEFAULT_ACK_WAIT.as_nanos() as i64;
            }
            if self.max_ack_pending == 0 {
                self.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
            }
        }
        if !self.is_push() && self.max_waiting == 0 {
            self.max_waiting = DEFAULT_MAX_WAITING;
        }
        if !self.is_durable() && self.inactive_threshold == 0 {
            self.inactive_threshold = DEFAULT_INACTIVE_THRESHOLD.as_nanos() as i64;
        }
        Ok(())
    }

    /// Until when (nanoseconds since the Unix epoch) the consumer is paused, if it is
    /// paused at `now`.
    pub fn paused_until(&self, now: u64) -> Option<u64> {
        let until = super::super::time::parse_rfc3339(self.pause_until.as_deref()?)?;
        (until > now).then_some(until)
    }

    /// `opt_start_time` in nanoseconds since the Unix epoch.
    pub fn start_time(&self) -> Option<u64> {
        super::super::time::parse_rfc3339(self.opt_start_time.as_deref()?)
    }

    /// How long the `delivery`th delivery (1 for the first) waits for its ack.
    pub fn ack_wait_for(&self, delivery: u64) -> Duration {
        let nanos = match self.backoff.len() {
            0 => self.ack_wait,
            n => self.backoff[(delivery.saturating_sub(1) as usize).min(n - 1)],
        };
        Duration::from_nanos(nanos.max(0) as u64)
    }

    /// Whether a live consumer may change from `self` to `new`.
    pub fn may_update_to(&self, new: &ConsumerConfig) -> bool {
        self.update_refusal(new).is_none()
    }

    /// Why an update from `self` to `new` is refused, in the reference's words and the
    /// order it checks; `None` if it may change. Filters and the deliver group may change:
    /// later deliveries follow the new ones.
    pub fn update_refusal(&self, new: &ConsumerConfig) -> Option<&'static str> {
        if self.deliver_policy != new.deliver_policy {
            return Some("deliver policy can not be updated");
        }
        if self.opt_start_seq != new.opt_start_seq {
            return Some("start sequence can not be updated");
        }
        if self.opt_start_time != new.opt_start_time {
            return Some("start time can not be updated");
        }
        if self.ack_policy != new.ack_policy {
            return Some("ack policy can not be updated");
        }
        if self.replay_policy != new.replay_policy {
            return Some("replay policy can not be updated");
        }
        if self.max_waiting != new.max_waiting {
            return Some("max waiting can not be updated");
        }
        match (self.is_push(), new.is_push()) {
            (false, true) => Some("can not update pull consumer to push based"),
            (true, false) => Some("can not update push consumer to pull based"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
