//! The record of what clients did and saw, in the order it happened in simulated time.
//!
//! Clients are numbered by the scenario (not by madsim task or node ids, which come from
//! process-wide counters). A published payload carries `publisher:seq:` then filler, so a
//! delivery names the publish it came from.

use std::sync::{Arc, Mutex};

/// A client as the scenario numbered it.
pub type ClientId = u32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The client opened a new connection (its earlier subscriptions are gone).
    Connected { client: ClientId },
    /// The client sent `SUB subject [queue] sid`.
    Subscribe {
        client: ClientId,
        sid: String,
        subject: String,
        queue: Option<String>,
    },
    /// The client sent `UNSUB sid`.
    Unsubscribe { client: ClientId, sid: String },
    /// The client sent a `PUB` whose payload starts `publisher:seq:`; with a `reply` inbox
    /// it is a request.
    Publish {
        publisher: ClientId,
        seq: u64,
        subject: String,
        reply: Option<String>,
    },
    /// The client sent a `PING` (from [`flush`](crate::client::Client::flush)); within a
    /// connection the k-th `Ping` is answered by the k-th `Flushed`.
    Ping { client: ClientId },
    /// The client got the `PONG` for a `PING` it sent: the server has processed everything
    /// the client sent before that `PING`.
    Flushed { client: ClientId },
    /// The client received a `MSG` (with the reply subject it carried).
    Deliver {
        client: ClientId,
        sid: String,
        subject: String,
        reply: Option<String>,
        publisher: ClientId,
        seq: u64,
    },
    /// The client received an `HMSG` with status `503` on `subject` (its reply inbox): its
    /// request found no responders.
    NoResponders {
        client: ClientId,
        sid: String,
        subject: String,
    },
    /// The client received `-ERR text`.
    Error { client: ClientId, text: String },
    /// The client's connection ended (EOF or error), or the client closed it.
    Closed { client: ClientId },
    /// A cluster scenario's steady window opens: the network is healthy, and every
    /// subscription flushed before this is known to every server, whose routes all carry
    /// messages (see [`crate::cluster::settle`]). Nothing may fail until [`Event::Quiet`].
    Steady,
    /// The steady window closes: every publish flushed before this had time to cross the
    /// cluster, so it is queued for each subscription owed it (see [`crate::check`]).
    Quiet,
}

/// What a JetStream scenario saw (`tests/jetstream.rs`), judged by
/// [`crate::check::js_stream`] and [`crate::check::js_consumer`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum JsEvent {
    /// About to publish `payload` (from [`payload`]) to `subject` with a reply inbox.
    Published {
        publisher: ClientId,
        n: u64,
        subject: String,
        payload: Vec<u8>,
    },
    /// The publish got its ack: stored at `seq`.
    Acked {
        publisher: ClientId,
        n: u64,
        seq: u64,
    },
    /// The server host lost power (and was restarted).
    Crashed,
    /// The durable consumer delivered stream sequence `seq` with `payload`.
    Delivered { seq: u64, payload: Vec<u8> },
    /// The consumer's ack of `seq` was confirmed (its double-ack answer arrived).
    AckConfirmed { seq: u64 },
    /// Read back at the end: the stream holds `payload` on `subject` at `seq`.
    Stored {
        seq: u64,
        subject: String,
        payload: Vec<u8>,
    },
    /// What recovery reported for a stream at a start of the node.
    Recovered(String),
}

/// The shared, append-only history of one run (of [`Event`]s unless told otherwise).
#[derive(Clone, Debug)]
pub struct History<E = Event> {
    events: Arc<Mutex<Vec<E>>>,
}

impl<E> Default for History<E> {
    fn default() -> Self {
        History {
            events: Arc::default(),
        }
    }
}

impl<E: Clone + std::fmt::Debug> History<E> {
    pub fn new() -> History<E> {
        History::default()
    }

    pub fn record(&self, e: E) {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(e);
    }

    /// A copy of everything recorded so far.
    pub fn events(&self) -> Vec<E> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A stable hash of the whole history (FNV-1a over its debug text): equal for equal
    /// histories in every process, unlike `std`'s randomly keyed hasher.
    pub fn digest(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for e in self.events() {
            for b in format!("{e:?};").bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }
}

/// The payload of message `seq` from `publisher`, padded with `filler` bytes.
pub fn payload(publisher: ClientId, seq: u64, filler: usize) -> Vec<u8> {
    let mut p = format!("{publisher}:{seq}:").into_bytes();
    p.extend((0..filler).map(|i| b'a' + (i % 26) as u8));
    p
}

/// The publisher and sequence number a payload starts with.
pub fn parse_payload(p: &[u8]) -> Option<(ClientId, u64)> {
    let s = std::str::from_utf8(p).ok()?;
    let mut it = s.splitn(3, ':');
    let publisher = it.next()?.parse().ok()?;
    let seq = it.next()?.parse().ok()?;
    it.next()?;
    Some((publisher, seq))
}
