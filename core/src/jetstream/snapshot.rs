//! `$JS.API.STREAM.SNAPSHOT.<stream>`: a stream's contents sent to the client's deliver
//! subject as an archive (see [`super::archive`]), in chunks, as the reference sends
//! them: each chunk's reply is `$JS.SNAPSHOT.ACK.<stream>.<id>.<chunk len>.<index>`,
//! and an empty message without reply ends it.
//!
//! The archive is made as it is sent: a snapshot holds its place in the stream and a
//! chunk's worth of encoded bytes, and reads messages through the store (a file store
//! pages its blocks in), so a stream of any size costs a chunk and the unacknowledged
//! window to snapshot. What is sent is bounded by the client's acks: past
//! [`WINDOW`] unacknowledged bytes the snapshot waits for them (the reference waits 10 ms
//! and sends anyway, which lets a slow client's buffers grow without bound).
//!
//! It covers the messages up to the stream's last sequence when it was asked for, and
//! the consumers as they were then. Messages removed meanwhile are left out, as gaps; a
//! stream deleted meanwhile ends the snapshot at once (every API request lets snapshots
//! send, so the deletion is seen before any stream of the same name can be made anew),
//! without the archive's End record, so the archive is refused as truncated rather than
//! restored incomplete.

use bytes::{Bytes, BytesMut};
use serde::Deserialize;

use super::advisory::Transfer;
use super::api::{answer, is_empty_request, JetStream};
use super::api_error::ApiError;
use super::archive::{self, ArchivedConsumer, ArchivedStream, End};
use super::config::Storage;
use super::consumer::Delivery;
use crate::subject::is_valid_literal_subject;

/// The chunk size when the request names none, as the reference's.
pub const DEFAULT_CHUNK: usize = 128 * 1024;
/// The largest chunk sent: the reference takes any size, but a chunk is one message and
/// clients refuse messages past the default maximum payload.
pub const MAX_CHUNK: usize = 1024 * 1024;
/// Unacknowledged bytes past which a snapshot waits for acks, the reference's
/// `defaultSnapshotWindowSize`.
pub const WINDOW: u64 = 8 * 1024 * 1024;
/// How long a snapshot waits for an ack with its window full before it gives up and ends
/// (the client went away): nanoseconds.
pub const STALLED: u64 = 30_000_000_000;

const ACK_PREFIX: &str = "$JS.SNAPSHOT.ACK.";

#[derive(Deserialize, Default)]
#[serde(default)]
struct SnapshotRequest {
    deliver_subject: String,
    no_consumers: bool,
    chunk_size: i64,
    // `jsck` asks the reference to verify every message's checksum first; rnats verifies
    // each record whenever it reads one back, so there is nothing more to do.
}

/// A snapshot being sent.
pub(super) struct Snapshot {
    stream: String,
    deliver: Bytes,
    /// `$JS.SNAPSHOT.ACK.<stream>.<id>`, the start of every chunk's reply.
    ack: String,
    chunk: usize,
    /// Bytes sent and not acknowledged.
    outstanding: u64,
    /// The number of the last chunk sent.
    index: u64,
    /// The next message to read, and the last one to send.
    next_seq: u64,
    last_seq: u64,
    last_time: u64,
    msgs: u64,
    /// Taken when the snapshot was asked for, sent after the messages.
    consumers: Vec<ArchivedConsumer>,
    /// Encoded and not yet sent.
    buf: BytesMut,
    /// Whether the archive's End record is in `buf`.
    ended: bool,
    /// When an ack last came (or the snapshot started).
    active: u64,
    /// When it started, for its advisory.
    started: u64,
}

impl JetStream {
    /// Starts a snapshot of stream `name`; its answer, as the reference's.
    pub(super) fn snapshot(
        &mut self,
        name: &str,
        body: &[u8],
        now: u64,
    ) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_snapshot_response";
        if is_empty_request(body) {
            return Err((KIND, ApiError::bad_request()));
        }
        let stream = self.stream(name).map_err(|e| (KIND, e))?;
        let req: SnapshotRequest =
            serde_json::from_slice(body).map_err(|_| (KIND, ApiError::invalid_json()))?;
        if !is_valid_literal_subject(req.deliver_subject.as_bytes()) {
            return Err((KIND, ApiError::snapshot_deliver_subject_invalid()));
        }
        // The reference's memory store cannot snapshot.
        if stream.config().storage == Storage::Memory {
            return Err((KIND, ApiError::snapshot_failed("no impl")));
        }
        let state = stream.store().state();
        let mut buf = BytesMut::new();
        archive::encode_header(&mut buf);
        let meta = ArchivedStream {
            config: stream.config().clone(),
            created: stream.created,
        };
        archive::encode_stream(&mut buf, &meta);
        let consumers = match req.no_consumers {
            true => Vec::new(),
            false => stream
                .consumers
                .iter()
                .map(|(name, c)| ArchivedConsumer {
                    name: name.clone(),
                    config: c.config().clone(),
                    created: c.created,
                    state: c.state(),
                })
                .collect(),
        };
        let info = self.stream_info(stream, now);
        let fields = serde_json::json!({ "config": info.config, "state": info.state });
        let advised = Transfer::SnapshotCreate(fields["state"].clone());
        let chunk = match req.chunk_size {
            n if n <= 0 => DEFAULT_CHUNK,
            n => (n as usize).min(MAX_CHUNK),
        };
        let id = self.rng.alphanumeric(22);
        self.snapshots.insert(
            format!("{name}.{id}"),
            Snapshot {
                stream: name.to_string(),
                deliver: Bytes::from(req.deliver_subject),
                ack: format!("{ACK_PREFIX}{name}.{id}"),
                chunk,
                outstanding: 0,
                index: 0,
                next_seq: state.first_seq.max(1),
                last_seq: state.last_seq,
                last_time: state.last_time,
                msgs: 0,
                consumers,
                buf,
                ended: false,
                active: now,
                started: now,
            },
        );
        let answer = answer(KIND, fields);
        self.transfer_action(name, advised, now);
        Ok(answer)
    }

    /// An ack of a snapshot chunk, on `$JS.SNAPSHOT.ACK.<stream>.<id>.<len>.<index>`: its
    /// bytes leave the window. Whether it was one.
    pub(super) fn on_snapshot_ack(&mut self, subject: &str, now: u64) -> bool {
        let Some(rest) = subject.strip_prefix(ACK_PREFIX) else {
            return false;
        };
        let mut tokens = rest.rsplitn(3, '.');
        let (Some(_index), Some(len), Some(key)) = (tokens.next(), tokens.next(), tokens.next())
        else {
            return false;
        };
        if let Some(s) = self.snapshots.get_mut(key) {
            s.outstanding = s.outstanding.saturating_sub(len.parse().unwrap_or(0));
            s.active = now;
        }
        self.send_snapshots(now);
        true
    }

    /// Lets every snapshot send what its window allows; those that sent their last chunk,
    /// or stalled, end.
    pub(super) fn send_snapshots(&mut self, now: u64) {
        let mut done = Vec::new();
        for (key, snap) in self.snapshots.iter_mut() {
            let stream = self.streams.get(&snap.stream);
            if snap.send(stream, now, &mut self.outbox) {
                done.push(key.clone());
            }
        }
        for key in done {
            let snap = self.snapshots.remove(&key).expect("listed above");
            let ended = Transfer::SnapshotComplete(snap.started);
            self.transfer_action(&snap.stream, ended, now);
        }
    }

    /// When a stalled snapshot gives up, if one waits for acks.
    pub(super) fn snapshot_deadline(&self) -> Option<u64> {
        self.snapshots
            .values()
            .filter(|s| s.outstanding > WINDOW)
            .map(|s| s.active.saturating_add(STALLED))
            .min()
    }
}

impl Snapshot {
    /// Sends chunks while the window allows, reading `stream` (gone: deleted meanwhile);
    /// whether the snapshot is over.
    fn send(
        &mut self,
        stream: Option<&super::stream::Stream>,
        now: u64,
        out: &mut Vec<Delivery>,
    ) -> bool {
        let Some(stream) = stream else {
            out.push(self.eof());
            return true;
        };
        while self.outstanding <= WINDOW {
            self.fill(stream);
            if self.buf.is_empty() {
                out.push(self.eof());
                return true;
            }
            let data = self.buf.split_to(self.chunk.min(self.buf.len())).freeze();
            self.index += 1;
            let reply = format!("{}.{}.{}", self.ack, data.len(), self.index);
            self.outstanding += data.len() as u64;
            out.push(Delivery {
                to: self.deliver.clone(),
                subject: self.deliver.clone(),
                reply: Some(Bytes::from(reply)),
                headers: Bytes::new(),
                data,
            });
        }
        if now.saturating_sub(self.active) >= STALLED {
            out.push(self.eof());
            return true;
        }
        false
    }

    /// Encodes records until a chunk's worth is ready or the archive is complete.
    fn fill(&mut self, stream: &super::stream::Stream) {
        while self.buf.len() < self.chunk && !self.ended {
            let next = (self.next_seq <= self.last_seq)
                .then(|| stream.store().load_next(b">", self.next_seq))
                .flatten()
                .filter(|m| m.seq <= self.last_seq);
            if let Some(m) = next {
                archive::encode_msg(&mut self.buf, &m);
                self.next_seq = m.seq + 1;
                self.msgs += 1;
                continue;
            }
            for c in &self.consumers {
                archive::encode_consumer(&mut self.buf, c);
            }
            let end = End {
                last_seq: self.last_seq,
                last_time: self.last_time,
                msgs: self.msgs,
                consumers: self.consumers.len() as u64,
            };
            archive::encode_end(&mut self.buf, &end);
            self.ended = true;
        }
    }

    /// The empty message that ends a snapshot.
    fn eof(&self) -> Delivery {
        Delivery {
            to: self.deliver.clone(),
            subject: self.deliver.clone(),
            reply: None,
            headers: Bytes::new(),
            data: Bytes::new(),
        }
    }
}

#[cfg(test)]
mod tests;
