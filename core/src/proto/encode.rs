//! What the server writes to a client, and the per-connection buffer it is written into.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Payloads up to this size are copied next to their `MSG` line: one small copy is cheaper
/// than an extra chunk (and an extra iovec) per message. Larger ones are shared, not copied.
const COPY_BELOW: usize = 256;

/// The first block the small writes of a connection are packed into: enough for `INFO` and
/// a few messages, so an idle connection holds little.
const MIN_BLOCK: usize = 512;

/// The largest block: a busy connection's blocks double up to this. Once the shell has
/// written (and dropped) what a block held, the block is reused in place, so in steady
/// state a connection allocates nothing per message.
const MAX_BLOCK: usize = 64 * 1024;

/// Bytes waiting to go out on one connection, as a list of chunks the shell can hand to a
/// vectored write. Shared payloads stay shared; small writes are packed together.
#[derive(Debug, Default)]
pub struct OutBuf {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
    /// The size of the next block `tail` grows by.
    block: usize,
}

impl OutBuf {
    /// Total bytes buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a copy of `data`.
    pub fn push_slice(&mut self, data: &[u8]) {
        if self.tail.capacity() - self.tail.len() < data.len() {
            self.grow(data.len());
        }
        self.tail.extend_from_slice(data);
        self.len += data.len();
    }

    /// Makes room for `need` more bytes in a new block, doubling the block size each
    /// time a connection runs out (growing by only what one write needs would allocate
    /// for nearly every message). What the full block holds becomes a chunk of its own
    /// first: growing it in place would copy it all into the bigger block.
    fn grow(&mut self, need: usize) {
        self.seal_tail();
        self.block = (self.block * 2).clamp(MIN_BLOCK, MAX_BLOCK);
        self.tail.reserve(need.max(self.block));
    }

    /// Appends `data`, sharing it rather than copying when it is large.
    pub fn push_bytes(&mut self, data: &Bytes) {
        if data.len() < COPY_BELOW {
            return self.push_slice(data);
        }
        self.seal_tail();
        self.len += data.len();
        self.chunks.push_back(data.clone());
    }

    /// Moves everything buffered into `out`, in order, leaving the buffer empty.
    pub fn drain_into(&mut self, out: &mut Vec<Bytes>) {
        self.seal_tail();
        out.extend(self.chunks.drain(..));
        self.len = 0;
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }
}

/// A message body on its way to subscribers: its bytes and, when it is large enough to be
/// shared rather than copied (see `COPY_BELOW`), a shared handle on them.
#[derive(Clone, Copy, Debug)]
pub struct Body<'a> {
    bytes: &'a [u8],
    shared: Option<&'a Bytes>,
}

impl<'a> Body<'a> {
    /// Whether a body of `len` bytes is shared with the subscribers' buffers (so a handle
    /// on it is worth making) rather than copied into each.
    pub fn worth_sharing(len: usize) -> bool {
        len >= COPY_BELOW
    }

    /// A body; `shared` must hold the same bytes when given.
    pub fn new(bytes: &'a [u8], shared: Option<&'a Bytes>) -> Body<'a> {
        debug_assert!(shared.is_none_or(|b| b[..] == *bytes));
        Body { bytes, shared }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The body's bytes.
    pub fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }
}

impl OutBuf {
    /// Appends the body from byte `from` on: shared when large, else copied.
    pub fn push_body(&mut self, body: Body<'_>, from: usize) {
        match body.shared {
            Some(b) if from == 0 => self.push_bytes(b),
            Some(b) => self.push_bytes(&b.slice(from..)),
            None => self.push_slice(&body.bytes[from..]),
        }
    }
}

/// Writes `MSG <subject> <sid> [reply] <size>\r\n`.
pub fn encode_msg_header(
    out: &mut OutBuf,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    size: usize,
) {
    out.push_slice(b"MSG ");
    push_common(out, subject, sid, reply);
    push_num(out, size);
    out.push_slice(b"\r\n");
}

/// Writes `HMSG <subject> <sid> [reply] <header_size> <total_size>\r\n`.
pub fn encode_hmsg_header(
    out: &mut OutBuf,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    total: usize,
) {
    out.push_slice(b"HMSG ");
    push_common(out, subject, sid, reply);
    push_num(out, header_len);
    out.push_slice(b" ");
    push_num(out, total);
    out.push_slice(b"\r\n");
}

/// Writes `-ERR '<text>'\r\n`.
pub fn encode_err(out: &mut OutBuf, text: &str) {
    out.push_slice(b"-ERR '");
    out.push_slice(text.as_bytes());
    out.push_slice(b"'\r\n");
}

fn push_common(out: &mut OutBuf, subject: &[u8], sid: &[u8], reply: Option<&[u8]>) {
    out.push_slice(subject);
    out.push_slice(b" ");
    out.push_slice(sid);
    out.push_slice(b" ");
    if let Some(reply) = reply {
        out.push_slice(reply);
        out.push_slice(b" ");
    }
}

pub(crate) fn push_num(out: &mut OutBuf, n: usize) {
    let mut digits = [0u8; 20];
    out.push_slice(format_num(n, &mut digits));
}

/// `n` in decimal, in the end of `digits`.
pub(crate) fn format_num(mut n: usize, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(out: &mut OutBuf) -> Vec<u8> {
        let mut chunks = Vec::new();
        out.drain_into(&mut chunks);
        chunks.concat()
    }

    #[test]
    fn msg_and_hmsg_lines() {
        let mut out = OutBuf::default();
        encode_msg_header(&mut out, b"foo", b"1", None, 5);
        encode_msg_header(&mut out, b"foo", b"22", Some(b"inbox"), 0);
        encode_hmsg_header(&mut out, b"a.b", b"3", Some(b"r"), 12, 1234567);
        encode_err(&mut out, "Unknown Protocol Operation");
        assert_eq!(
            flat(&mut out),
            b"MSG foo 1 5\r\nMSG foo 22 inbox 0\r\nHMSG a.b 3 r 12 1234567\r\n-ERR 'Unknown Protocol Operation'\r\n"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn large_payloads_are_shared_and_order_is_kept() {
        let big = Bytes::from(vec![7u8; 1000]);
        let mut out = OutBuf::default();
        out.push_slice(b"head");
        out.push_bytes(&big);
        out.push_slice(b"tail");
        assert_eq!(out.len(), 1008);
        let mut chunks = Vec::new();
        out.drain_into(&mut chunks);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), big.as_ptr());
    }
}
