//! JetStream advisories, as the reference publishes them on `$JS.EVENT.ADVISORY.>`:
//! streams and consumers created, updated and deleted, and messages a consumer gave up on
//! (too many deliveries) or a client terminated, which applications watch to move such
//! messages to a dead-letter queue.

use serde::Serialize;

use super::api::JetStream;
use super::consumer::{Advisory, Delivery};
use super::time::rfc3339;

const PREFIX: &str = "$JS.EVENT.ADVISORY";

/// What happened to a stream or consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Modify,
    Delete,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Modify => "modify",
            Action::Delete => "delete",
        }
    }

    fn subject_word(self) -> &'static str {
        match self {
            Action::Create => "CREATED",
            Action::Modify => "UPDATED",
            Action::Delete => "DELETED",
        }
    }
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    stream: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deliveries: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
}

/// A snapshot or a restore starting or ending, as the reference announces them on
/// `$JS.EVENT.ADVISORY.STREAM.{SNAPSHOT,RESTORE}_{CREATE,COMPLETE}.<stream>`. Its
/// `client` (the requester) is left out: JetStream does not know who asked.
pub(super) enum Transfer {
    /// With the stream's state, as the snapshot's answer shows it.
    SnapshotCreate(serde_json::Value),
    /// With when it started.
    SnapshotComplete(u64),
    RestoreCreate,
    /// With when it started and the archive bytes received.
    RestoreComplete(u64, u64),
}

impl JetStream {
    fn advise(&mut self, subject: String, event: Event<'_>) {
        let json = serde_json::to_string(&event).expect("advisory serializes");
        self.outbox.push(Delivery::answer(subject.as_bytes(), json));
    }

    fn event<'a>(&mut self, kind: &'static str, stream: &'a str, now: u64) -> Event<'a> {
        Event {
            kind,
            id: self.rng.alphanumeric(22),
            timestamp: rfc3339(now),
            stream,
            consumer: None,
            consumer_seq: None,
            stream_seq: None,
            ack_time: None,
            deliveries: None,
            reason: None,
            action: None,
            state: None,
            start: None,
            end: None,
            bytes: None,
            domain: self.domain.clone(),
        }
    }

    /// Stream `stream` was created, updated or deleted.
    pub(super) fn stream_action(&mut self, stream: &str, action: Action, now: u64) {
        let subject = format!("{PREFIX}.STREAM.{}.{stream}", action.subject_word());
        let mut event = self.event("io.nats.jetstream.advisory.v1.stream_action", stream, now);
        event.action = Some(action.word());
        self.advise(subject, event);
    }

    /// A snapshot or restore of `stream` started or ended.
    pub(super) fn transfer_action(&mut self, stream: &str, transfer: Transfer, now: u64) {
        let (word, kind) = match &transfer {
            Transfer::SnapshotCreate(_) => (
                "SNAPSHOT_CREATE",
                "io.nats.jetstream.advisory.v1.snapshot_create",
            ),
            Transfer::SnapshotComplete(_) => (
                "SNAPSHOT_COMPLETE",
                "io.nats.jetstream.advisory.v1.snapshot_complete",
            ),
            Transfer::RestoreCreate => (
                "RESTORE_CREATE",
                "io.nats.jetstream.advisory.v1.restore_create",
            ),
            Transfer::RestoreComplete(..) => (
                "RESTORE_COMPLETE",
                "io.nats.jetstream.advisory.v1.restore_complete",
            ),
        };
        let subject = format!("{PREFIX}.STREAM.{word}.{stream}");
        let mut event = self.event(kind, stream, now);
        match transfer {
            Transfer::SnapshotCreate(state) => event.state = Some(state),
            Transfer::SnapshotComplete(start) => {
                event.start = Some(rfc3339(start));
                event.end = Some(rfc3339(now));
            }
            Transfer::RestoreCreate => {}
            Transfer::RestoreComplete(start, bytes) => {
                event.start = Some(rfc3339(start));
                event.end = Some(rfc3339(now));
                event.bytes = Some(bytes);
            }
        }
        self.advise(subject, event);
    }

    /// Consumer `consumer` of `stream` was created or deleted.
    pub(super) fn consumer_action(
        &mut self,
        stream: &str,
        consumer: &str,
        action: Action,
        now: u64,
    ) {
        let subject = format!(
            "{PREFIX}.CONSUMER.{}.{stream}.{consumer}",
            action.subject_word()
        );
        let mut event = self.event("io.nats.jetstream.advisory.v1.consumer_action", stream, now);
        event.consumer = Some(consumer);
        event.action = Some(action.word());
        self.advise(subject, event);
    }

    /// Publishes what the consumers of `stream` report about their messages.
    pub(super) fn consumer_advisories(&mut self, stream: &str, now: u64) {
        let Some(s) = self.streams.get_mut(stream) else {
            return;
        };
        let reported: Vec<(String, u32, Advisory)> = s
            .consumers
            .iter_mut()
            .flat_map(|(name, c)| {
                let sample = c.config().sample_percent().unwrap_or(0);
                let found = c.take_advisories().into_iter();
                found.map(move |a| (name.clone(), sample, a))
            })
            .collect();
        for (consumer, sample, advisory) in reported {
            // Acks are reported on `sample_freq` percent of occasions, as the reference
            // samples them (`rand(100) <= freq`).
            if matches!(advisory, Advisory::Acked { .. })
                && sample < 100
                && self.rng.below(100) as u32 > sample
            {
                continue;
            }
            let (subject, mut event) = match &advisory {
                Advisory::Acked { .. } => (
                    format!("$JS.EVENT.METRIC.CONSUMER.ACK.{stream}.{consumer}"),
                    self.event("io.nats.jetstream.metric.v1.consumer_ack", stream, now),
                ),
                Advisory::MaxDeliveries { .. } => (
                    format!("{PREFIX}.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"),
                    self.event("io.nats.jetstream.advisory.v1.max_deliver", stream, now),
                ),
                Advisory::Terminated { .. } => (
                    format!("{PREFIX}.CONSUMER.MSG_TERMINATED.{stream}.{consumer}"),
                    self.event("io.nats.jetstream.advisory.v1.terminated", stream, now),
                ),
            };
            event.consumer = Some(&consumer);
            match &advisory {
                Advisory::Acked {
                    stream_seq,
                    consumer_seq,
                    deliveries,
                    ack_time,
                } => {
                    event.consumer_seq = Some(*consumer_seq);
                    event.stream_seq = Some(*stream_seq);
                    event.ack_time = Some(*ack_time);
                    event.deliveries = Some(*deliveries);
                }
                Advisory::MaxDeliveries {
                    stream_seq,
                    deliveries,
                } => {
                    event.stream_seq = Some(*stream_seq);
                    event.deliveries = Some(*deliveries);
                }
                Advisory::Terminated {
                    stream_seq,
                    consumer_seq,
                    deliveries,
                    reason,
                } => {
                    event.consumer_seq = Some(*consumer_seq);
                    event.stream_seq = Some(*stream_seq);
                    event.deliveries = Some(*deliveries);
                    event.reason = Some(reason).filter(|r| !r.is_empty()).map(String::as_str);
                }
            }
            self.advise(subject, event);
        }
    }
}
