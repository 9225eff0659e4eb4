//! What a client sends, as the parser hands it over.
//!
//! One enum, [`Op`], generic over how its byte fields are held: [`ClientOp`] owns them as
//! `Bytes` (convenient, and what tests and tools use), [`ClientOpRef`] borrows them from
//! the chunk being parsed where it can ([`Data::In`]). The node uses the borrowed form:
//! most messages are matched, copied into a few small buffers and forgotten, and a
//! borrowed field costs nothing, where every `Bytes` handle is two atomic reference-count
//! updates.

use std::ops::Deref;

use bytes::Bytes;

/// One operation a client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op<D> {
    /// `CONNECT {json}`: the raw JSON options.
    Connect(D),
    /// `PUB subject [reply] size` and its payload.
    Pub {
        subject: D,
        reply: Option<D>,
        payload: D,
    },
    /// `HPUB subject [reply] header_size total_size`: `message` holds headers then payload.
    HPub {
        subject: D,
        reply: Option<D>,
        header_len: usize,
        message: D,
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: D,
        queue: Option<D>,
        sid: D,
    },
    /// `UNSUB sid [max]`.
    Unsub { sid: D, max: Option<u64> },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO {json}`: clients may send it; the server ignores a well-formed one.
    Info(D),
    /// `+OK`.
    Ok,
    /// `-ERR text`: a client reporting an error; the server closes the connection.
    Err(D),
}

/// An operation owning its bytes.
pub type ClientOp = Op<Bytes>;

/// An operation borrowing its bytes from the chunk it was parsed from, where it can.
pub type ClientOpRef<'a> = Op<Data<'a>>;

/// Bytes of an operation: borrowed from the chunk being parsed, or owned (when the parser
/// had to gather them from several chunks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data<'a> {
    In(&'a [u8]),
    Own(Bytes),
}

impl Deref for Data<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Data::In(s) => s,
            Data::Own(b) => b,
        }
    }
}

impl Data<'_> {
    /// The bytes as a `Bytes`: borrowed ones become a shared slice of `chunk`, the chunk
    /// they were parsed from.
    pub fn into_bytes(self, chunk: &Bytes) -> Bytes {
        match self {
            Data::In(s) => chunk.slice_ref(s),
            Data::Own(b) => b,
        }
    }
}

impl<D> Op<D> {
    /// The same operation with every byte field converted by `f`.
    pub fn map<E>(self, mut f: impl FnMut(D) -> E) -> Op<E> {
        match self {
            Op::Connect(d) => Op::Connect(f(d)),
            Op::Pub {
                subject,
                reply,
                payload,
            } => Op::Pub {
                subject: f(subject),
                reply: reply.map(&mut f),
                payload: f(payload),
            },
            Op::HPub {
                subject,
                reply,
                header_len,
                message,
            } => Op::HPub {
                subject: f(subject),
                reply: reply.map(&mut f),
                header_len,
                message: f(message),
            },
            Op::Sub {
                subject,
                queue,
                sid,
            } => Op::Sub {
                subject: f(subject),
                queue: queue.map(&mut f),
                sid: f(sid),
            },
            Op::Unsub { sid, max } => Op::Unsub { sid: f(sid), max },
            Op::Ping => Op::Ping,
            Op::Pong => Op::Pong,
            Op::Info(d) => Op::Info(f(d)),
            Op::Ok => Op::Ok,
            Op::Err(d) => Op::Err(f(d)),
        }
    }
}

impl ClientOpRef<'_> {
    /// The operation owning its bytes; `chunk` is the chunk it was parsed from.
    pub fn into_owned(self, chunk: &Bytes) -> ClientOp {
        self.map(|d| d.into_bytes(chunk))
    }
}
