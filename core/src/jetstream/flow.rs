//! How messages move through one account's JetStream: a publish captured by a stream is
//! stored and acknowledged, consumers deliver what they can, acks settle deliveries (and
//! under interest or work-queue retention remove messages), and time expires messages,
//! ack waits, pull requests and idle consumers. Everything to publish lands in the outbox
//! for the node to route.

use bytes::Bytes;

use super::advisory::Action;
use super::api::{ApiAudit, JetStream, MsgGetRequest};
use super::api_error::ApiError;
use super::config::{Retention, Storage};
use super::consumer::ack::{parse_ack_body, parse_ack_subject, AckKind};
use super::consumer::pull::status;
use super::consumer::pull::PullRequest;
use super::consumer::Delivery;
use super::headers::with_extra;
use super::store::msg_size;
use super::stream::{pub_error_json, PubAck};
use super::time::rfc3339;
use super::transform::transform;

/// The subject prefix of pull requests.
const NEXT_PREFIX: &str = "$JS.API.CONSUMER.MSG.NEXT.";
/// The subject prefix of direct gets: `<prefix><stream>` with a request body, or
/// `<prefix><stream>.<subject>` for the last message on a subject.
const DIRECT_PREFIX: &str = "$JS.API.DIRECT.GET.";

impl Delivery {
    /// A plain answer (JSON) to a request's reply subject.
    pub fn answer(reply: &[u8], json: String) -> Delivery {
        let to = Bytes::copy_from_slice(reply);
        Delivery {
            to: to.clone(),
            subject: to,
            reply: None,
            headers: Bytes::new(),
            data: Bytes::from(json),
        }
    }
}

/// A stored message as `republish` sends it on: its headers plus where it was stored,
/// and its data unless only headers are wanted (then its size instead). `to` and
/// `subject` are left for the caller.
fn republished(
    stream: &str,
    subject: &[u8],
    seq: u64,
    last: u64,
    headers: &[u8],
    data: &[u8],
    headers_only: bool,
) -> Delivery {
    let mut extra = vec![
        ("Nats-Stream", stream.to_string()),
        (
            "Nats-Subject",
            String::from_utf8_lossy(subject).into_owned(),
        ),
        ("Nats-Sequence", seq.to_string()),
        ("Nats-Last-Sequence", last.to_string()),
    ];
    if headers_only {
        extra.push(("Nats-Msg-Size", data.len().to_string()));
    }
    Delivery {
        to: Bytes::new(),
        subject: Bytes::new(),
        reply: None,
        headers: with_extra(headers, &extra),
        data: if headers_only {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(data)
        },
    }
}

impl JetStream {
    /// Moves what JetStream has to publish into `out`.
    pub fn drain_outbox(&mut self, out: &mut Vec<Delivery>) {
        out.append(&mut self.outbox);
    }

    /// A request on `$JS.API.>`; the answer goes to `reply`. Whether any request was
    /// recognised.
    pub fn on_api(&mut self, subject: &str, reply: Option<&[u8]>, body: &[u8], now: u64) -> bool {
        if let Some(rest) = subject.strip_prefix(NEXT_PREFIX) {
            let (Some((stream, consumer)), Some(reply)) = (rest.split_once('.'), reply) else {
                return false;
            };
            self.api_total += 1;
            self.pull(stream, consumer, Bytes::copy_from_slice(reply), body, now);
            // Only the pulled consumer: the stream's push consumers send when someone
            // listens on their deliver subjects, which a pull says nothing about.
            if let Some(s) = self.streams.get_mut(stream) {
                let (store, consumers) = s.parts();
                if let Some(c) = consumers.get_mut(consumer) {
                    c.deliver(store, now, &mut self.outbox);
                }
            }
            return true;
        }
        if let Some(rest) = subject.strip_prefix(DIRECT_PREFIX) {
            if let Some(reply) = reply {
                self.api_total += 1;
                let answer = self.direct_get(rest, reply, body);
                self.outbox.push(answer);
            }
            return true;
        }
        let Some(answer) = self.request(subject, body, now) else {
            return false;
        };
        if self.audit {
            self.audits.push(ApiAudit {
                subject: subject.to_string(),
                request: String::from_utf8_lossy(body).into_owned(),
                response: answer.clone(),
            });
        }
        if let Some(reply) = reply {
            self.outbox.push(Delivery::answer(reply, answer));
        }
        // A snapshot's chunks follow its answer.
        self.send_snapshots(now);
        true
    }

    /// Answers a direct get with the message itself, its origin in headers, as the
    /// reference: `Nats-Stream`, `Nats-Subject`, `Nats-Sequence`, `Nats-Time-Stamp` after
    /// the message's own headers; a 404 status when there is no such message, a 408 for a
    /// request that asks for nothing.
    fn direct_get(&mut self, rest: &str, reply: &[u8], body: &[u8]) -> Delivery {
        let (stream, req) = match rest.split_once('.') {
            Some((stream, subject)) => (
                stream,
                Some(MsgGetRequest {
                    last_by_subj: Some(subject.to_string()),
                    ..MsgGetRequest::default()
                }),
            ),
            None => (rest, serde_json::from_slice::<MsgGetRequest>(body).ok()),
        };
        let to = Bytes::copy_from_slice(reply);
        let Some(req) =
            req.filter(|r| r.seq > 0 || r.last_by_subj.is_some() || r.next_by_subj.is_some())
        else {
            return Delivery::status(&to, status(408, "Empty Request", &[]));
        };
        let Some(msg) = self.streams.get(stream).and_then(|s| req.find(s.store())) else {
            return Delivery::status(&to, status(404, "Message Not Found", &[]));
        };
        let headers = with_extra(
            &msg.headers,
            &[
                ("Nats-Stream", stream.to_string()),
                (
                    "Nats-Subject",
                    String::from_utf8_lossy(&msg.subject).into_owned(),
                ),
                ("Nats-Sequence", msg.seq.to_string()),
                ("Nats-Time-Stamp", rfc3339(msg.time)),
            ],
        );
        Delivery {
            to: to.clone(),
            subject: to,
            reply: None,
            headers,
            data: msg.data.clone(),
        }
    }

    /// A message published on one of stream `name`'s subjects.
    pub fn on_publish(
        &mut self,
        name: &str,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: &[u8],
        data: &[u8],
        now: u64,
    ) {
        let refused = self.over_limits(name, msg_size(subject, headers, data));
        let Some(stream) = self.streams.get_mut(name) else {
            return;
        };
        let subject = stream.config().stored_subject(subject).into_owned();
        let last = stream.store().state().last_seq;
        let result = match refused {
            Some(e) => Err(e),
            None => stream.publish(&subject, headers, data, now),
        };
        if let Ok(PubAck::Stored { seq }) = result {
            if let Some(rp) = &stream.config().republish {
                let src = if rp.src.is_empty() { ">" } else { &rp.src };
                if let Some(dest) = transform(src, &rp.dest, &subject) {
                    let copy =
                        republished(name, &subject, seq, last, headers, data, rp.headers_only);
                    self.outbox.push(Delivery {
                        to: Bytes::from(dest.clone()),
                        subject: Bytes::from(dest),
                        ..copy
                    });
                }
            }
            // An interest stream keeps nothing nobody will read.
            if stream.config().retention == Retention::Interest
                && !stream
                    .consumers
                    .values()
                    .any(|c| c.config().wants(&subject))
            {
                stream.remove(seq);
            }
        }
        let no_ack = stream.config().no_ack;
        if let (Some(reply), false) = (reply, no_ack) {
            let json = match &result {
                Ok(ack) => ack.to_json(name, self.domain.as_deref()),
                Err(e) => pub_error_json(name, e),
            };
            self.outbox.push(Delivery::answer(reply, json));
        }
        if let Ok(PubAck::Stored { seq }) = result {
            self.touched.insert(name.to_string());
            self.copy_onwards(vec![(name.to_string(), seq)], now);
        }
    }

    /// Whether `size` more bytes in stream `name` would take the account past its memory
    /// or storage limit.
    fn over_limits(&self, name: &str, size: u64) -> Option<ApiError> {
        let (max_memory, max_storage) = (self.limits.max_memory, self.limits.max_storage);
        if max_memory < 0 && max_storage < 0 {
            return None;
        }
        let (memory, storage) = self.usage();
        match self.streams.get(name)?.config().storage {
            Storage::Memory if max_memory >= 0 && memory + size > max_memory as u64 => {
                Some(ApiError::insufficient_memory())
            }
            Storage::File if max_storage >= 0 && storage + size > max_storage as u64 => {
                Some(ApiError::insufficient_storage())
            }
            _ => None,
        }
    }

    /// A push client answered a flow control request (`$JS.FC.<stream>.<consumer>.<n>`).
    pub fn on_flow_control(&mut self, subject: &str) {
        let mut tokens = subject.splitn(5, '.');
        let (Some(stream), Some(consumer)) = (tokens.nth(2), tokens.next()) else {
            return;
        };
        let resumed = self
            .streams
            .get_mut(stream)
            .and_then(|s| s.consumers.get_mut(consumer))
            .is_some_and(|c| c.on_flow_control(subject.as_bytes()));
        if resumed {
            self.touched.insert(stream.to_string());
        }
    }

    /// An ack published to `$JS.ACK.>`.
    pub fn on_ack(&mut self, subject: &str, reply: Option<&[u8]>, body: &[u8], now: u64) {
        let Some((stream_name, consumer_name, meta)) = parse_ack_subject(subject) else {
            return;
        };
        let Some(kind) = parse_ack_body(body) else {
            return;
        };
        let Some(stream) = self.streams.get_mut(stream_name) else {
            return;
        };
        let retention = stream.config().retention;
        let Some(consumer) = stream.consumers.get_mut(consumer_name) else {
            return;
        };
        let next = match &kind {
            AckKind::Next { request } => {
                reply.map(|r| (Bytes::copy_from_slice(r), request.clone()))
            }
            _ => None,
        };
        let acked = consumer.on_ack(meta, kind, now);
        if let Some((reply, request)) = next {
            if let Some(req) = PullRequest::parse(reply, &request, now) {
                consumer.request(req, now, &mut self.outbox);
            }
        } else if let Some(reply) = reply {
            // A client waiting for its ack to be taken (a "double ack") gets an empty answer.
            self.outbox.push(Delivery::answer(reply, String::new()));
        }
        match retention {
            Retention::Limits => {}
            Retention::WorkQueue => {
                for seq in acked {
                    stream.remove(seq);
                }
            }
            Retention::Interest => {
                for seq in acked {
                    let Some(subject) = stream.store().load(seq).map(|m| m.subject) else {
                        continue;
                    };
                    if !stream.consumers.values().any(|c| c.needs(seq, &subject)) {
                        stream.remove(seq);
                    }
                }
            }
        }
        let name = stream_name.to_string();
        self.consumer_advisories(&name, now);
        self.touched.insert(name);
    }

    /// Lets every consumer of stream `name` send what it can; `interest` says whether a
    /// push consumer's deliver subject has listeners.
    pub fn deliver_stream(
        &mut self,
        name: &str,
        now: u64,
        interest: &mut dyn FnMut(&[u8]) -> bool,
    ) {
        let Some(stream) = self.streams.get_mut(name) else {
            return;
        };
        let (store, consumers) = stream.parts();
        for consumer in consumers.values_mut() {
            if consumer.config().is_push() {
                let subject = consumer.config().deliver_subject.as_bytes();
                consumer.set_push_active(interest(subject), now);
            }
            consumer.deliver(store, now, &mut self.outbox);
        }
    }

    /// Lets the consumers of every stream that stored something since the last call send
    /// what they can.
    pub fn deliver_touched(&mut self, now: u64, interest: &mut dyn FnMut(&[u8]) -> bool) {
        for name in std::mem::take(&mut self.touched) {
            self.deliver_stream(&name, now, interest);
        }
    }

    /// Lets every consumer send what it can.
    pub fn deliver_all(&mut self, now: u64, interest: &mut dyn FnMut(&[u8]) -> bool) {
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in names {
            self.deliver_stream(&name, now, interest);
        }
    }

    /// Time reached `now`.
    pub fn tick(&mut self, now: u64) {
        self.expire_restores(now);
        self.send_snapshots(now);
        let mut gone = Vec::new();
        for (stream_name, stream) in self.streams.iter_mut() {
            stream.expire(now);
            for (name, consumer) in stream.consumers.iter_mut() {
                consumer.tick(now, &mut self.outbox);
                if consumer.is_inactive(now) {
                    gone.push((stream_name.clone(), name.clone()));
                }
            }
        }
        let names: Vec<String> = self.streams.keys().cloned().collect();
        for name in names {
            self.consumer_advisories(&name, now);
        }
        for (stream, name) in gone {
            if let Some(mut c) = self
                .streams
                .get_mut(&stream)
                .and_then(|s| s.consumers.remove(&name))
            {
                c.close(&mut self.outbox);
                self.consumer_removed(&stream, &name);
                self.consumer_action(&stream, &name, Action::Delete, now);
            }
        }
    }

    /// When JetStream next needs [`JetStream::tick`].
    pub fn next_deadline(&self) -> Option<u64> {
        self.streams
            .values()
            .flat_map(|s| {
                let expiry = s.store().next_expiry();
                s.consumers
                    .values()
                    .filter_map(|c| c.next_deadline())
                    .chain(expiry)
            })
            .chain(self.snapshot_deadline())
            .chain(self.restore_deadline())
            .min()
    }

    /// A message on `$JS.SNAPSHOT.>`: an ack of a snapshot's chunk, or a chunk of a
    /// restore's archive. Whether a stream was restored.
    pub fn on_snapshot_message(
        &mut self,
        subject: &str,
        reply: Option<&[u8]>,
        body: &[u8],
        now: u64,
    ) -> bool {
        !self.on_snapshot_ack(subject, now) && self.on_restore_chunk(subject, reply, body, now)
    }

    /// Every stream's subjects, as (stream, subject) pairs: what the node subscribes to
    /// on the streams' behalf.
    pub fn subjects(&self) -> Vec<(String, String)> {
        self.streams
            .iter()
            .flat_map(|(name, s)| {
                s.config()
                    .subjects
                    .iter()
                    .map(move |subj| (name.clone(), subj.clone()))
            })
            .collect()
    }
}
