//! One consumer of a stream: which messages it has delivered, which wait for an ack and
//! until when, which are due again, and the pull requests waiting for messages. It reads
//! the stream's store and says what to send; the node routes what it says.
//!
//! Time is wall-clock nanoseconds handed in by the caller, as everywhere in JetStream.

pub mod ack;
pub mod config;
pub mod pull;
pub mod rate;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::headers::with_extra;
use super::store::{Store, StoredMsg};
use super::time::rfc3339;
use ack::{ack_subject, AckKind, AckMeta};
use config::{AckPolicy, ConsumerConfig, DeliverPolicy, ReplayPolicy};
use pull::{request_timeout, status, with_pending, PullRequest};

/// Something for the node to publish on the consumer's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The subject it is routed by: the pull request's reply or the deliver subject.
    pub to: Bytes,
    /// The subject the receiver sees: the stored message's, or `to` for status messages.
    pub subject: Bytes,
    /// The ack subject for a message, or none.
    pub reply: Option<Bytes>,
    /// The header block, empty for none.
    pub headers: Bytes,
    pub data: Bytes,
}

/// A message waiting for its ack.
#[derive(Clone, Copy, Debug)]
struct Pending {
    consumer_seq: u64,
    /// When it was (last) delivered, for the ack time of sampled acks.
    sent: u64,
    /// When it is due again if not acked (`None` while queued for redelivery).
    deadline: Option<u64>,
}

/// Sequence pairs as `INFO` shows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqPair {
    pub consumer_seq: u64,
    pub stream_seq: u64,
}

pub struct Consumer {
    pub name: String,
    stream: String,
    config: ConsumerConfig,
    pub created: u64,
    /// The next stream sequence to look at for a first delivery.
    next_seq: u64,
    /// Messages to deliver first, for `last_per_subject` (their sequences).
    initial: BTreeSet<u64>,
    /// The consumer sequence of the last delivery (first deliveries and redeliveries).
    delivered_cseq: u64,
    /// The highest stream sequence delivered.
    delivered_sseq: u64,
    /// Below (and at) this everything is acknowledged, while something is pending.
    ack_floor: SeqPair,
    last_delivery: Option<u64>,
    /// When the last ack (`+ACK`, `+NXT`, `+TERM`) arrived: the ack floor's `last_active`.
    last_ack: Option<u64>,
    pending: BTreeMap<u64, Pending>,
    /// Deadlines of pending messages, soonest first: (deadline, stream sequence).
    deadlines: BTreeSet<(u64, u64)>,
    /// Messages due for redelivery, by stream sequence.
    redeliver: BTreeSet<u64>,
    /// Delivery counts of messages delivered more than once.
    redelivered: BTreeMap<u64, u64>,
    waiting: VecDeque<PullRequest>,
    /// Whether anyone listens on the push consumer's deliver subject.
    push_active: bool,
    /// When the push consumer's next idle heartbeat is due.
    next_heartbeat: Option<u64>,
    /// Since when the consumer has had no interest (no listener, no pull request).
    idle_since: Option<u64>,
    /// Matching messages at or after `next_seq`, when known (stores change under it).
    num_pending: Option<u64>,
    /// Whether what [`Consumer::state`] returns changed since it was last taken.
    dirty: bool,
    /// Flow control: the reply subject of the request the push client has yet to answer
    /// (nothing more is delivered until it does), and the bytes delivered since the last.
    flow_waiting: Option<Bytes>,
    flow_bytes: u64,
    flow_requests: u64,
    /// What happened to messages that applications watch for (dead letters), not yet
    /// published as advisories.
    advisories: Vec<Advisory>,
    /// `replay_policy: original`: when replay started and the first message's stored
    /// time, and when the next message is due.
    replay_from: Option<(u64, u64)>,
    replay_due: Option<u64>,
    /// `rate_limit_bps` (push only), and when the bucket next holds the waiting message.
    rate: Option<rate::RateLimit>,
    rate_due: Option<u64>,
}

/// An event about one message of a consumer, published on `$JS.EVENT.ADVISORY.>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advisory {
    /// Delivered `deliveries` times without an ack: no more redeliveries.
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
    /// Acknowledged, with `sample_freq` set: a candidate for the ack metric, which
    /// JetStream samples.
    Acked {
        stream_seq: u64,
        consumer_seq: u64,
        deliveries: u64,
        /// Nanoseconds from delivery to ack.
        ack_time: u64,
    },
    /// Terminated by the client (`+TERM`).
    Terminated {
        stream_seq: u64,
        consumer_seq: u64,
        deliveries: u64,
        reason: String,
    },
}

/// Bytes a push consumer with flow control delivers before it asks the client to confirm
/// it keeps up.
const FLOW_CONTROL_BYTES: u64 = 256 * 1024;

/// What a consumer must remember across a restart: where it is in the stream and which
/// deliveries still wait for their ack.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerState {
    pub next_seq: u64,
    pub delivered: SeqPair,
    pub ack_floor: SeqPair,
    /// (stream sequence, consumer sequence) of each delivery waiting for its ack.
    pub pending: Vec<(u64, u64)>,
    /// (stream sequence, deliveries) of messages delivered more than once.
    pub redelivered: Vec<(u64, u64)>,
    /// Sequences still to deliver first (`last_per_subject`).
    pub initial: Vec<u64>,
}

impl Consumer {
    /// A consumer of `store`'s stream, starting where its deliver policy says.
    pub fn new(
        stream: &str,
        name: String,
        config: ConsumerConfig,
        store: &dyn Store,
        now: u64,
    ) -> Consumer {
        let mut c = Consumer::blank(stream, name, config, now, now);
        c.position(store);
        c
    }

    /// A consumer that has delivered nothing, idle since `now`.
    fn blank(
        stream: &str,
        name: String,
        config: ConsumerConfig,
        created: u64,
        now: u64,
    ) -> Consumer {
        let rate = rate::RateLimit::new(config_rate(&config), now);
        Consumer {
            name,
            stream: stream.to_string(),
            config,
            created,
            next_seq: 1,
            initial: BTreeSet::new(),
            delivered_cseq: 0,
            delivered_sseq: 0,
            ack_floor: SeqPair::default(),
            last_delivery: None,
            last_ack: None,
            pending: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            redeliver: BTreeSet::new(),
            redelivered: BTreeMap::new(),
            waiting: VecDeque::new(),
            push_active: false,
            next_heartbeat: None,
            idle_since: Some(now),
            num_pending: None,
            dirty: true,
            flow_waiting: None,
            flow_bytes: 0,
            flow_requests: 0,
            advisories: Vec::new(),
            replay_from: None,
            replay_due: None,
            rate,
            rate_due: None,
        }
    }

    /// A consumer as it was when `state` was taken; deliveries that waited for an ack wait
    /// again for a full ack wait from `now`.
    pub fn restore(
        stream: &str,
        name: String,
        config: ConsumerConfig,
        created: u64,
        state: ConsumerState,
        now: u64,
    ) -> Consumer {
        let mut c = Consumer::blank(stream, name, config, created, now);
        c.next_seq = state.next_seq;
        c.initial = state.initial.into_iter().collect();
        c.delivered_cseq = state.delivered.consumer_seq;
        c.delivered_sseq = state.delivered.stream_seq;
        c.ack_floor = state.ack_floor;
        c.redelivered = state.redelivered.into_iter().collect();
        c.dirty = false;
        for (seq, consumer_seq) in state.pending {
            let delivered = c.redelivered.get(&seq).copied().unwrap_or(1);
            let deadline = now + c.config.ack_wait_for(delivered).as_nanos() as u64;
            c.pending.insert(
                seq,
                Pending {
                    consumer_seq,
                    sent: now,
                    deadline: Some(deadline),
                },
            );
            c.deadlines.insert((deadline, seq));
        }
        c
    }

    /// The state to keep on disk, if it changed since the last call.
    pub fn take_state(&mut self) -> Option<ConsumerState> {
        std::mem::take(&mut self.dirty).then(|| self.state())
    }

    /// Where the consumer is, what waits for an ack: enough to bring it back.
    pub fn state(&self) -> ConsumerState {
        ConsumerState {
            next_seq: self.next_seq,
            delivered: self.delivered(),
            ack_floor: self.ack_floor,
            pending: self
                .pending
                .iter()
                .map(|(&seq, p)| (seq, p.consumer_seq))
                .collect(),
            redelivered: self.redelivered.iter().map(|(&s, &n)| (s, n)).collect(),
            initial: self.initial.iter().copied().collect(),
        }
    }

    /// Sets where delivery starts, from the deliver policy and the store's contents.
    fn position(&mut self, store: &dyn Store) {
        let state = store.state();
        let first = state.first_seq.max(1);
        let after_last = state.last_seq + 1;
        self.next_seq = match self.config.deliver_policy {
            DeliverPolicy::All => first,
            DeliverPolicy::New => after_last,
            DeliverPolicy::Last => self
                .filters()
                .iter()
                .filter_map(|f| store.last_seq(f.as_bytes()))
                .max()
                .unwrap_or(after_last),
            DeliverPolicy::ByStartSequence => self.config.opt_start_seq.max(1),
            DeliverPolicy::ByStartTime => {
                let start = self.config.start_time().unwrap_or(0);
                store.seq_from_time(start).unwrap_or(after_last)
            }
            DeliverPolicy::LastPerSubject => {
                for filter in self.filters() {
                    for (subject, _) in store.subjects(filter.as_bytes()) {
                        if let Some(seq) = store.last_seq(&subject) {
                            self.initial.insert(seq);
                        }
                    }
                }
                after_last
            }
        };
        let start = self.initial.first().copied().unwrap_or(self.next_seq);
        self.delivered_sseq = start.saturating_sub(1);
        self.ack_floor.stream_seq = self.delivered_sseq;
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    fn filters(&self) -> Vec<String> {
        self.config
            .filters()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Replaces the configuration with an allowed update.
    pub fn update(&mut self, config: ConsumerConfig, now: u64) {
        if config_rate(&config) != config_rate(&self.config) {
            self.rate = rate::RateLimit::new(config_rate(&config), now);
        }
        self.config = config;
        // The filters may have changed: what is left to deliver is counted anew.
        self.num_pending = None;
    }

    /// A message was stored in the stream.
    pub fn on_stored(&mut self, seq: u64, subject: &[u8]) {
        if let Some(n) = self.num_pending.as_mut() {
            if seq >= self.next_seq && self.config.wants(subject) {
                *n += 1;
            }
        }
    }

    /// Messages may have left the stream (limits, purge, delete): recount when needed.
    pub fn on_removed(&mut self) {
        self.num_pending = None;
    }

    /// Messages not yet delivered that the consumer will deliver; the count is kept for
    /// the next call.
    pub fn num_pending(&mut self, store: &dyn Store) -> u64 {
        let n = self
            .num_pending
            .unwrap_or_else(|| self.count_pending(store));
        self.num_pending = Some(n);
        n + self.initial.len() as u64
    }

    /// As [`Consumer::num_pending`], counting again if the count is not known.
    fn num_pending_now(&self, store: &dyn Store) -> u64 {
        let n = self
            .num_pending
            .unwrap_or_else(|| self.count_pending(store));
        n + self.initial.len() as u64
    }

    /// Matching messages at or after `next_seq`.
    fn count_pending(&self, store: &dyn Store) -> u64 {
        store.count_matching(&self.config.filters(), self.next_seq)
    }

    /// The first message at or after `seq` that the consumer's filters take.
    fn next_matching(&self, store: &dyn Store, seq: u64) -> Option<StoredMsg> {
        let filters = self.config.filters();
        if filters.len() == 1 {
            return store.load_next(filters[0].as_bytes(), seq);
        }
        filters
            .iter()
            .filter_map(|f| store.load_next(f.as_bytes(), seq))
            .min_by_key(|m| m.seq)
    }

    /// A pull request arrived; `None` when it was refused (an answer is queued in `out`).
    pub fn request(&mut self, req: PullRequest, now: u64, out: &mut Vec<Delivery>) {
        let c = &self.config;
        let refuse = |text: String| Delivery::status(&req.reply, status(409, &text, &[]));
        if c.is_push() {
            return out.push(refuse("Consumer is push based".into()));
        }
        if c.max_batch > 0 && req.batch > c.max_batch as u64 {
            return out.push(refuse(format!(
                "Exceeded MaxRequestBatch of {}",
                c.max_batch
            )));
        }
        if c.max_bytes > 0 && req.max_bytes.is_some_and(|b| b > c.max_bytes as u64) {
            return out.push(refuse(format!(
                "Exceeded MaxRequestMaxBytes of {}",
                c.max_bytes
            )));
        }
        if c.max_expires > 0
            && req
                .expires
                .is_none_or(|e| e.saturating_sub(now) > c.max_expires as u64)
        {
            return out.push(refuse(format!(
                "Exceeded MaxRequestExpires of {}",
                go_duration(c.max_expires)
            )));
        }
        if self.waiting.len() as i64 >= c.max_waiting {
            return out.push(refuse("Exceeded MaxWaiting".into()));
        }
        self.idle_since = None;
        self.waiting.push_back(req);
    }

    /// Whether anyone listens on the push consumer's deliver subject now.
    pub fn set_push_active(&mut self, active: bool, now: u64) {
        if active == self.push_active {
            return;
        }
        self.push_active = active;
        self.idle_since = (!active).then_some(now);
        self.next_heartbeat = (active && self.config.idle_heartbeat > 0)
            .then(|| now + self.config.idle_heartbeat as u64);
    }

    /// Sends what can be sent now: redeliveries first, then new messages, to waiting pull
    /// requests or the deliver subject, within `max_ack_pending`.
    pub fn deliver(&mut self, store: &dyn Store, now: u64, out: &mut Vec<Delivery>) {
        if self.config.paused_until(now).is_some() {
            return;
        }
        self.rate_due = None;
        loop {
            let to = if self.config.is_push() {
                if !self.push_active || self.flow_waiting.is_some() {
                    return;
                }
                Bytes::copy_from_slice(self.config.deliver_subject.as_bytes())
            } else {
                match self.waiting.front() {
                    Some(req) => req.reply.clone(),
                    None => return,
                }
            };
            if self.config.ack_policy != AckPolicy::None
                && self.config.max_ack_pending > 0
                && self.pending.len() as i64 >= self.config.max_ack_pending
            {
                break;
            }
            if self.replay_holds(store, now) {
                break;
            }
            let Some((msg, delivered)) = self.next_message(store) else {
                break;
            };
            if let Some(req) = self.waiting.front_mut() {
                if let Some(left) = req.max_bytes {
                    let size = msg.size();
                    if size > left {
                        // Too big for what the request allows: it ends, the message stays.
                        self.requeue(msg.seq, delivered);
                        let req = self.waiting.pop_front().expect("front exists");
                        let text = "Message Size Exceeds MaxBytes";
                        out.push(Delivery::status(&req.reply, with_pending(409, text, &req)));
                        continue;
                    }
                    req.max_bytes = Some(left - size);
                }
            }
            if let Some(rate) = self.rate.as_mut() {
                if let Err(due) = rate.take(msg.size(), now) {
                    self.requeue(msg.seq, delivered);
                    self.rate_due = Some(due);
                    break;
                }
            }
            out.push(self.send(&msg, delivered, to, store, now));
            if self.config.flow_control {
                self.flow_bytes += msg.size();
                if self.flow_bytes >= FLOW_CONTROL_BYTES {
                    out.push(self.flow_control_request());
                }
            }
            if let Some(req) = self.waiting.front_mut() {
                req.batch -= 1;
                req.delivered_any = true;
                if req.batch == 0 {
                    self.waiting.pop_front();
                    if self.waiting.is_empty() {
                        self.idle_since = Some(now);
                    }
                }
            }
        }
        // A no-wait request ends with what there was.
        while let Some(req) = self.waiting.front() {
            if !req.no_wait {
                break;
            }
            let req = self.waiting.pop_front().expect("front exists");
            let reply = if req.delivered_any {
                request_timeout(&req)
            } else {
                status(404, "No Messages", &[])
            };
            out.push(Delivery::status(&req.reply, reply));
        }
        if self.waiting.is_empty() && !self.config.is_push() && self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
    }

    /// With `replay_policy: original`, whether the next new message must wait to keep
    /// the spacing it was stored with: the first goes at once, each later one as long after
    /// the first as it was stored after it. The wait is remembered for the deadline.
    fn replay_holds(&mut self, store: &dyn Store, now: u64) -> bool {
        self.replay_due = None;
        if self.config.replay_policy != ReplayPolicy::Original
            || !self.redeliver.is_empty()
            || !self.initial.is_empty()
        {
            return false;
        }
        let Some(next) = self.next_matching(store, self.next_seq) else {
            return false;
        };
        let (started, first_time) = *self.replay_from.get_or_insert((now, next.time));
        let due = started.saturating_add(next.time.saturating_sub(first_time));
        if due > now {
            self.replay_due = Some(due);
            return true;
        }
        false
    }

    /// The advisories gathered since the last call.
    pub fn take_advisories(&mut self) -> Vec<Advisory> {
        std::mem::take(&mut self.advisories)
    }

    /// Asks the push client to confirm it keeps up (`100 FlowControl Request`, answered on
    /// its reply subject); deliveries wait for the answer.
    fn flow_control_request(&mut self) -> Delivery {
        self.flow_requests += 1;
        self.flow_bytes = 0;
        let reply = format!(
            "$JS.FC.{}.{}.{}",
            self.stream, self.name, self.flow_requests
        );
        let reply = Bytes::from(reply);
        self.flow_waiting = Some(reply.clone());
        let to = Bytes::copy_from_slice(self.config.deliver_subject.as_bytes());
        Delivery {
            reply: Some(reply),
            ..Delivery::status(&to, status(100, "FlowControl Request", &[]))
        }
    }

    /// The client answered a flow control request on `subject`; whether it was the one
    /// deliveries wait for.
    pub fn on_flow_control(&mut self, subject: &[u8]) -> bool {
        if self.flow_waiting.as_deref() == Some(subject) {
            self.flow_waiting = None;
            return true;
        }
        false
    }

    /// A message that was taken for delivery but could not go goes back in line.
    fn requeue(&mut self, seq: u64, delivered: u64) {
        if delivered > 1 {
            self.redeliver.insert(seq);
        } else if self.initial.is_empty() && seq < self.next_seq {
            self.next_seq = seq;
            self.num_pending = self.num_pending.map(|n| n + 1);
        } else {
            self.initial.insert(seq);
        }
    }

    /// The next message to send and how many times it will have been delivered.
    fn next_message(&mut self, store: &dyn Store) -> Option<(StoredMsg, u64)> {
        while let Some(seq) = self.redeliver.pop_first() {
            match store.load(seq) {
                Some(m) => {
                    let count = self.redelivered.get(&seq).copied().unwrap_or(1) + 1;
                    return Some((m, count));
                }
                None => self.forget(seq),
            }
        }
        while let Some(seq) = self.initial.pop_first() {
            if let Some(m) = store.load(seq) {
                return Some((m, 1));
            }
        }
        let m = self.next_matching(store, self.next_seq)?;
        self.next_seq = m.seq + 1;
        if let Some(n) = self.num_pending.as_mut() {
            *n = n.saturating_sub(1);
        }
        Some((m, 1))
    }

    /// Builds one delivery and records it as pending.
    fn send(
        &mut self,
        msg: &StoredMsg,
        delivered: u64,
        to: Bytes,
        store: &dyn Store,
        now: u64,
    ) -> Delivery {
        // Nothing is ever pending without acks: the floor follows the deliveries. With
        // acks only acks move it (a message given up after `max_deliver` does not).
        if self.config.ack_policy == AckPolicy::None {
            self.ack_floor = self.delivered();
        }
        self.dirty = true;
        self.delivered_cseq += 1;
        self.delivered_sseq = self.delivered_sseq.max(msg.seq);
        self.last_delivery = Some(now);
        if delivered > 1 {
            self.redelivered.insert(msg.seq, delivered);
        }
        let meta = AckMeta {
            delivered,
            stream_seq: msg.seq,
            consumer_seq: self.delivered_cseq,
        };
        // With no acks there is nothing to wait for; the metadata still travels in the
        // reply subject.
        if self.config.ack_policy != AckPolicy::None {
            let deadline = now + self.config.ack_wait_for(delivered).as_nanos() as u64;
            let entry = Pending {
                consumer_seq: self.delivered_cseq,
                sent: now,
                deadline: Some(deadline),
            };
            if let Some(d) = self
                .pending
                .insert(msg.seq, entry)
                .and_then(|old| old.deadline)
            {
                self.deadlines.remove(&(d, msg.seq));
            }
            self.deadlines.insert((deadline, msg.seq));
        }
        let pending = self.num_pending(store);
        let subject = ack_subject(&self.stream, &self.name, meta, msg.time, pending);
        let (headers, data) = if self.config.headers_only {
            let size = [("Nats-Msg-Size", msg.data.len().to_string())];
            (with_extra(&msg.headers, &size), Bytes::new())
        } else {
            (msg.headers.clone(), msg.data.clone())
        };
        if let Some(hb) = self.next_heartbeat.as_mut() {
            *hb = now + self.config.idle_heartbeat as u64;
        }
        Delivery {
            to,
            subject: msg.subject.clone(),
            reply: Some(Bytes::from(subject)),
            headers,
            data,
        }
    }

    /// The last delivery's sequences.
    fn delivered(&self) -> SeqPair {
        SeqPair {
            consumer_seq: self.delivered_cseq,
            stream_seq: self.delivered_sseq,
        }
    }

    /// Takes a message off pending and the redelivery queue; its pending entry, if any.
    fn unpend(&mut self, seq: u64) -> Option<Pending> {
        self.dirty = true;
        self.redeliver.remove(&seq);
        let p = self.pending.remove(&seq)?;
        if let Some(d) = p.deadline {
            self.deadlines.remove(&(d, seq));
        }
        Some(p)
    }

    /// Forgets a message that is no longer pending (acked, terminated, gone).
    fn forget(&mut self, seq: u64) {
        let was_first = self.pending.keys().next() == Some(&seq);
        if let Some(p) = self.unpend(seq) {
            if was_first {
                self.ack_floor = match self.pending.keys().next() {
                    Some(&next) => SeqPair {
                        consumer_seq: self.ack_floor.consumer_seq.max(p.consumer_seq),
                        stream_seq: next - 1,
                    },
                    None => self.delivered(),
                };
            }
        }
        self.redelivered.remove(&seq);
    }

    /// An ack for the delivery `meta` arrived; the stream sequences now acknowledged
    /// (for interest and work-queue retention).
    pub fn on_ack(&mut self, meta: AckMeta, kind: AckKind, now: u64) -> Vec<u64> {
        let seq = meta.stream_seq;
        let mut acked = Vec::new();
        let acks = matches!(
            kind,
            AckKind::Ack | AckKind::Next { .. } | AckKind::Term { .. }
        );
        if acks && self.config.ack_policy != AckPolicy::None {
            self.last_ack = Some(now);
        }
        match kind {
            AckKind::Ack | AckKind::Next { .. } => match self.config.ack_policy {
                AckPolicy::Explicit => {
                    if let Some(p) = self.pending.get(&seq) {
                        if self.config.sample_percent().is_some_and(|f| f > 0) {
                            self.advisories.push(Advisory::Acked {
                                stream_seq: seq,
                                consumer_seq: p.consumer_seq,
                                deliveries: meta.delivered,
                                ack_time: now.saturating_sub(p.sent),
                            });
                        }
                        self.forget(seq);
                        acked.push(seq);
                    }
                }
                AckPolicy::All => {
                    let upto: Vec<u64> = self.pending.range(..=seq).map(|(&s, _)| s).collect();
                    for s in upto {
                        self.forget(s);
                        acked.push(s);
                    }
                    // The floor is the acked delivery itself, as in the reference (not
                    // below the next pending message, which a filter may put far off).
                    if !acked.is_empty() && !self.pending.is_empty() {
                        self.ack_floor = SeqPair {
                            consumer_seq: meta.consumer_seq,
                            stream_seq: seq,
                        };
                    }
                }
                AckPolicy::None => {}
            },
            AckKind::Term { reason } => {
                if self.pending.contains_key(&seq) {
                    self.forget(seq);
                    acked.push(seq);
                    self.advisories.push(Advisory::Terminated {
                        stream_seq: seq,
                        consumer_seq: meta.consumer_seq,
                        deliveries: meta.delivered,
                        reason,
                    });
                }
            }
            AckKind::Nak { delay } => {
                if let Some(p) = self.pending.get_mut(&seq) {
                    if let Some(d) = p.deadline.take() {
                        self.deadlines.remove(&(d, seq));
                    }
                    match delay {
                        Some(delay) => {
                            let at = now + delay.as_nanos() as u64;
                            p.deadline = Some(at);
                            self.deadlines.insert((at, seq));
                        }
                        None => self.due_again(seq),
                    }
                }
            }
            AckKind::Progress => {
                let wait = self.config.ack_wait_for(meta.delivered).as_nanos() as u64;
                if let Some(p) = self.pending.get_mut(&seq) {
                    if let Some(d) = p.deadline {
                        self.deadlines.remove(&(d, seq));
                        p.deadline = Some(now + wait);
                        self.deadlines.insert((now + wait, seq));
                    }
                }
            }
        }
        acked
    }

    /// Queues a pending message for redelivery, unless it has been delivered as often as
    /// `max_deliver` allows. Then it is dropped from pending as the reference drops it:
    /// unacknowledged, so the ack floor stays, and still counted as redelivered.
    fn due_again(&mut self, seq: u64) {
        let delivered = self.redelivered.get(&seq).copied().unwrap_or(1);
        let max = self.config.max_deliver;
        if max > 0 && delivered >= max as u64 {
            self.unpend(seq);
            self.advisories.push(Advisory::MaxDeliveries {
                stream_seq: seq,
                deliveries: delivered,
            });
        } else {
            self.redeliver.insert(seq);
        }
    }

    /// Time reached `now`: ack waits run out, pull requests expire, heartbeats fall due.
    pub fn tick(&mut self, now: u64, out: &mut Vec<Delivery>) {
        // A replay wait that came due is worked out again by the next delivery.
        self.replay_due = self.replay_due.filter(|&due| due > now);
        self.rate_due = self.rate_due.filter(|&due| due > now);
        if self.config.pause_until.is_some() && self.config.paused_until(now).is_none() {
            // The pause is over; forgetting it keeps it out of the deadlines.
            self.config.pause_until = None;
        }
        while let Some(&(at, seq)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(p) = self.pending.get_mut(&seq) {
                p.deadline = None;
            }
            self.due_again(seq);
        }
        let mut kept = VecDeque::with_capacity(self.waiting.len());
        for mut req in self.waiting.drain(..) {
            if req.expires.is_some_and(|e| e <= now) {
                out.push(Delivery::status(&req.reply, request_timeout(&req)));
                continue;
            }
            if req.next_heartbeat.is_some_and(|h| h <= now) {
                req.next_heartbeat = Some(now + req.heartbeat);
                out.push(Delivery::status(
                    &req.reply,
                    status(100, "Idle Heartbeat", &[]),
                ));
            }
            kept.push_back(req);
        }
        self.waiting = kept;
        if self.waiting.is_empty() && !self.config.is_push() && self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
        if self.next_heartbeat.is_some_and(|hb| hb <= now) {
            self.next_heartbeat = Some(now + self.config.idle_heartbeat as u64);
            let mut lines = vec![
                ("Nats-Last-Consumer", self.delivered_cseq.to_string()),
                ("Nats-Last-Stream", self.delivered_sseq.to_string()),
            ];
            // A client that missed the request learns here what to answer.
            if let Some(fc) = &self.flow_waiting {
                lines.push((
                    "Nats-Consumer-Stalled",
                    String::from_utf8_lossy(fc).into_owned(),
                ));
            }
            let headers = status(100, "Idle Heartbeat", &lines);
            let to = Bytes::copy_from_slice(self.config.deliver_subject.as_bytes());
            out.push(Delivery::status(&to, headers));
        }
    }

    /// When the consumer next needs [`Consumer::tick`].
    pub fn next_deadline(&self) -> Option<u64> {
        let acks = self.deadlines.first().map(|&(at, _)| at);
        let requests = self
            .waiting
            .iter()
            .flat_map(|r| [r.expires, r.next_heartbeat])
            .flatten()
            .min();
        let inactive = self.idle_since.and_then(|since| {
            (self.config.inactive_threshold > 0)
                .then(|| since + self.config.inactive_threshold as u64)
        });
        let resume = self.config.paused_until(0);
        [
            acks,
            requests,
            self.next_heartbeat,
            inactive,
            resume,
            self.replay_due,
            self.rate_due,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Whether the consumer has gone without interest for its inactive threshold.
    pub fn is_inactive(&self, now: u64) -> bool {
        let threshold = self.config.inactive_threshold;
        threshold > 0
            && self
                .idle_since
                .is_some_and(|since| now >= since + threshold as u64)
    }

    /// Whether the consumer still waits for an ack of stream sequence `seq` or will yet
    /// deliver it (for interest retention).
    pub fn needs(&self, seq: u64, subject: &[u8]) -> bool {
        self.config.wants(subject)
            && (self.pending.contains_key(&seq)
                || seq >= self.next_seq
                || self.initial.contains(&seq))
    }

    /// The consumer is going away: waiting requests are told.
    pub fn close(&mut self, out: &mut Vec<Delivery>) {
        for req in self.waiting.drain(..) {
            out.push(Delivery::status(
                &req.reply,
                status(409, "Consumer Deleted", &[]),
            ));
        }
    }

    /// `INFO` as the API shows it.
    /// `now` is for how long a pause has left.
    pub fn info(&self, store: &dyn Store, now: u64) -> ConsumerInfo<'_> {
        let pause = self.config.paused_until(now).map(|until| until - now);
        let num_pending = self.num_pending_now(store);
        let mut floor = if self.config.ack_policy == AckPolicy::None {
            self.delivered()
        } else {
            self.ack_floor
        };
        // Until something is acknowledged the reference shows no stream floor either,
        // wherever the consumer starts.
        if floor.consumer_seq == 0 {
            floor.stream_seq = 0;
        }
        ConsumerInfo {
            stream_name: &self.stream,
            name: &self.name,
            created: rfc3339(self.created),
            config: &self.config,
            delivered: Progress {
                consumer_seq: self.delivered_cseq,
                stream_seq: self.delivered_sseq,
                last_active: self.last_delivery.map(rfc3339),
            },
            ack_floor: Progress {
                consumer_seq: floor.consumer_seq,
                stream_seq: floor.stream_seq,
                last_active: self.last_ack.map(rfc3339),
            },
            num_ack_pending: self.pending.len() as u64,
            num_redelivered: self.redelivered.len() as u64,
            num_waiting: self.waiting.len() as u64,
            num_pending,
            push_bound: (self.config.is_push() && self.push_active).then_some(true),
            paused: pause.is_some(),
            pause_remaining: pause,
        }
    }
}

/// Go's `time.Duration` text for whole units the API uses (`1s`, `500ms`, `1m0s`).
fn go_duration(nanos: i64) -> String {
    crate::options::go_duration(std::time::Duration::from_nanos(nanos.max(0) as u64))
}

impl Delivery {
    /// A status message (heartbeat, 404, 408, 409) to `to`.
    pub fn status(to: &Bytes, headers: Bytes) -> Delivery {
        Delivery {
            to: to.clone(),
            subject: to.clone(),
            reply: None,
            headers,
            data: Bytes::new(),
        }
    }
}

#[derive(Serialize)]
pub struct Progress {
    pub consumer_seq: u64,
    pub stream_seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
}

/// A consumer's `INFO`, in the reference's field order.
#[derive(Serialize)]
pub struct ConsumerInfo<'a> {
    pub stream_name: &'a str,
    pub name: &'a str,
    pub created: String,
    pub config: &'a ConsumerConfig,
    pub delivered: Progress,
    pub ack_floor: Progress,
    pub num_ack_pending: u64,
    pub num_redelivered: u64,
    pub num_waiting: u64,
    pub num_pending: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_bound: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Nanoseconds until the pause ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_remaining: Option<u64>,
}

#[cfg(test)]
mod tests;

/// The rate limit a configuration asks for: push consumers only (a pull consumer with one
/// is refused when it is made).
fn config_rate(config: &ConsumerConfig) -> u64 {
    if config.is_push() {
        config.rate_limit_bps
    } else {
        0
    }
}
