//! What a stream snapshot carries (`$JS.API.STREAM.SNAPSHOT`) and a restore reads back
//! (`$JS.API.STREAM.RESTORE`). The reference sends an s2-compressed tar of its own block
//! files; rnats stores messages differently, so it sends its own content, which only
//! rnats reads back. Clients (the `nats` CLI, jsm.go) keep it as opaque bytes.
//!
//! # Layout
//!
//! An 8-byte magic `RNATSNAP`, a version (`u16`, little-endian, now 1), then records.
//! Each record is `kind: u8`, `len: u32` (of the body), the body, and the CRC-32C of kind,
//! length and body (`u32`); all integers little-endian. The records, in this order:
//!
//! 1. **Stream** (kind 1), once: `{"config":..,"created":..}` in JSON, as `meta.json`.
//! 2. **Msg** (kind 2), per message held, in increasing sequence: `seq: u64`,
//!    `time: u64` (ns since the epoch), `subject_len: u32`, `headers_len: u32`, then the
//!    subject, the header block and the data. Sequences not present were deleted: the gaps
//!    come back as gaps.
//! 3. **Consumer** (kind 3), per consumer (none for a snapshot without consumers):
//!    `{"name":..,"config":..,"created":..,"state":..}` in JSON.
//! 4. **End** (kind 4), once: `last_seq: u64`, `last_time: u64` (the stream's, which may
//!    lie past its last message held), `msgs: u64` and `consumers: u64` (how many records
//!    of each came before). Nothing may follow it.
//!
//! The End record is what makes a truncated archive detectable: the bytes are sent in
//! chunks and a client that lost some still sends its end-of-file. Every record is
//! checksummed, so a damaged archive is refused rather than restored wrong.
//!
//! # Streaming
//!
//! Neither side holds a whole archive: [`encode_msg`] and its siblings append one record
//! at a time, as a snapshot pages through the store, and [`Reader`] takes the archive in
//! chunks of any size, keeping at most one incomplete record (at most [`MAX_RECORD`]
//! bytes) besides what it hands out.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use super::config::StreamConfig;
use super::consumer::config::ConsumerConfig;
use super::consumer::ConsumerState;
use super::filestore::crc::crc32c;
use super::store::StoredMsg;
use crate::subject::is_valid_literal_subject;

const MAGIC: &[u8; 8] = b"RNATSNAP";
const VERSION: u16 = 1;
const HEADER_LEN: usize = MAGIC.len() + 2;

const STREAM: u8 = 1;
const MSG: u8 = 2;
const CONSUMER: u8 = 3;
const END: u8 = 4;

/// Kind and length before a body, checksum after it.
const FRAMING: usize = 1 + 4 + 4;
/// The fixed part of a Msg body: sequence, time and the two lengths.
const MSG_FIXED: usize = 8 + 8 + 4 + 4;

/// The largest record body a reader accepts: a message at the largest payload a server
/// allows (64 MiB) with room for its subject and headers. A larger length can only be
/// damage, and must not make the reader wait for (and buffer) that much.
pub const MAX_RECORD: usize = 64 * 1024 * 1024 + 1024 * 1024;

/// The stream a snapshot was taken of, as its `meta.json` holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchivedStream {
    pub config: StreamConfig,
    pub created: u64,
}

/// A consumer as a snapshot carries it: enough to bring it back where it was.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArchivedConsumer {
    pub name: String,
    pub config: ConsumerConfig,
    pub created: u64,
    pub state: ConsumerState,
}

/// The End record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct End {
    pub last_seq: u64,
    pub last_time: u64,
    pub msgs: u64,
    pub consumers: u64,
}

/// One record read back.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Stream(Box<ArchivedStream>),
    Msg(StoredMsg),
    Consumer(Box<ArchivedConsumer>),
    End(End),
}

/// The archive's magic and version, which start it.
pub fn encode_header(out: &mut BytesMut) {
    out.put_slice(MAGIC);
    out.put_u16_le(VERSION);
}

fn record(out: &mut BytesMut, kind: u8, body: &[&[u8]]) {
    let len: usize = body.iter().map(|p| p.len()).sum();
    let len = u32::try_from(len).expect("records are far below 4 GiB");
    let len_bytes = len.to_le_bytes();
    let mut parts = vec![std::slice::from_ref(&kind), &len_bytes[..]];
    parts.extend_from_slice(body);
    out.put_u8(kind);
    out.put_slice(&len_bytes);
    for part in body {
        out.put_slice(part);
    }
    out.put_u32_le(crc32c(&parts));
}

pub fn encode_stream(out: &mut BytesMut, stream: &ArchivedStream) {
    let json = serde_json::to_vec(stream).expect("a stream serializes");
    record(out, STREAM, &[&json]);
}

pub fn encode_msg(out: &mut BytesMut, m: &StoredMsg) {
    let mut fixed = [0u8; MSG_FIXED];
    fixed[..8].copy_from_slice(&m.seq.to_le_bytes());
    fixed[8..16].copy_from_slice(&m.time.to_le_bytes());
    fixed[16..20].copy_from_slice(&(m.subject.len() as u32).to_le_bytes());
    fixed[20..].copy_from_slice(&(m.headers.len() as u32).to_le_bytes());
    record(out, MSG, &[&fixed, &m.subject, &m.headers, &m.data]);
}

pub fn encode_consumer(out: &mut BytesMut, consumer: &ArchivedConsumer) {
    let json = serde_json::to_vec(consumer).expect("a consumer serializes");
    record(out, CONSUMER, &[&json]);
}

pub fn encode_end(out: &mut BytesMut, end: &End) {
    let mut body = [0u8; 32];
    for (i, n) in [end.last_seq, end.last_time, end.msgs, end.consumers]
        .into_iter()
        .enumerate()
    {
        body[i * 8..(i + 1) * 8].copy_from_slice(&n.to_le_bytes());
    }
    record(out, END, &[&body]);
}

/// Where a reader is in the archive, which says what may come next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Header,
    Stream,
    Msgs { last_seq: u64 },
    Consumers { last_seq: u64 },
    Ended,
}

/// Reads an archive in chunks, checking it as it goes: framing, checksums, the order of
/// records and the End record's counts. Every error is a sentence for the restore's
/// answer.
#[derive(Debug)]
pub struct Reader {
    buf: BytesMut,
    /// Bytes consumed before `buf`, for error offsets.
    offset: u64,
    part: Part,
    msgs: u64,
    consumers: u64,
}

impl Default for Reader {
    fn default() -> Reader {
        Reader {
            buf: BytesMut::new(),
            offset: 0,
            part: Part::Header,
            msgs: 0,
            consumers: 0,
        }
    }
}

impl Reader {
    /// Takes the next chunk of the archive and hands each record it completes to `f`, in
    /// order; stops at the first error, the reader's or `f`'s.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut f: impl FnMut(Item) -> Result<(), String>,
    ) -> Result<(), String> {
        self.buf.extend_from_slice(chunk);
        while let Some(item) = self.next()? {
            f(item)?;
        }
        Ok(())
    }

    /// Whether the whole archive was read; an error saying what is missing if not.
    pub fn finish(&self) -> Result<(), String> {
        match self.part {
            Part::Ended => Ok(()),
            Part::Header if self.buf.is_empty() && self.offset == 0 => {
                Err("archive is empty".into())
            }
            _ => Err(format!(
                "archive truncated after {} bytes",
                self.offset + self.buf.len() as u64
            )),
        }
    }

    fn next(&mut self) -> Result<Option<Item>, String> {
        if self.part == Part::Header {
            if self.buf.len() < HEADER_LEN {
                return Ok(None);
            }
            if &self.buf[..MAGIC.len()] != MAGIC {
                return Err("not an rnats stream archive".into());
            }
            let version = u16::from_le_bytes([self.buf[8], self.buf[9]]);
            if version != VERSION {
                return Err(format!("unsupported archive version {version}"));
            }
            self.consume(HEADER_LEN);
            self.part = Part::Stream;
        }
        if self.part == Part::Ended {
            if self.buf.is_empty() {
                return Ok(None);
            }
            return Err("archive has data after its end".into());
        }
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let kind = self.buf[0];
        let len = u32::from_le_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        let len = len as usize;
        if len > MAX_RECORD {
            return Err(self.corrupt(&format!("record of {len} bytes")));
        }
        if self.buf.len() < len + FRAMING {
            return Ok(None);
        }
        let sum_at = 5 + len;
        let sum = u32::from_le_bytes(self.buf[sum_at..sum_at + 4].try_into().expect("4 bytes"));
        if crc32c(&[&self.buf[..sum_at]]) != sum {
            return Err(self.corrupt("checksum mismatch"));
        }
        let at = self.offset;
        self.consume(5);
        let body = self.buf.split_to(len).freeze();
        self.consume(4);
        self.offset += len as u64;
        let item = self
            .decode(kind, body)
            .map_err(|why| corrupt_at(at, &why))?;
        Ok(Some(item))
    }

    fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.offset += n as u64;
    }

    fn corrupt(&self, why: &str) -> String {
        corrupt_at(self.offset, why)
    }

    /// A record's body, if it may come where the reader is.
    fn decode(&mut self, kind: u8, body: Bytes) -> Result<Item, String> {
        let json = |what: &str, e: serde_json::Error| format!("unreadable {what}: {e}");
        match (kind, self.part) {
            (STREAM, Part::Stream) => {
                let stream = serde_json::from_slice(&body).map_err(|e| json("stream", e))?;
                self.part = Part::Msgs { last_seq: 0 };
                Ok(Item::Stream(Box::new(stream)))
            }
            (MSG, Part::Msgs { last_seq }) => {
                let m = decode_msg(body)?;
                if m.seq <= last_seq {
                    return Err(format!("message {} after message {last_seq}", m.seq));
                }
                self.part = Part::Msgs { last_seq: m.seq };
                self.msgs += 1;
                Ok(Item::Msg(m))
            }
            (CONSUMER, Part::Msgs { last_seq } | Part::Consumers { last_seq }) => {
                let c = serde_json::from_slice(&body).map_err(|e| json("consumer", e))?;
                self.part = Part::Consumers { last_seq };
                self.consumers += 1;
                Ok(Item::Consumer(Box::new(c)))
            }
            (END, Part::Msgs { last_seq } | Part::Consumers { last_seq }) => {
                if body.len() != 32 {
                    return Err("end record of the wrong size".into());
                }
                let n = |i: usize| {
                    u64::from_le_bytes(body[i * 8..(i + 1) * 8].try_into().expect("8 bytes"))
                };
                let end = End {
                    last_seq: n(0),
                    last_time: n(1),
                    msgs: n(2),
                    consumers: n(3),
                };
                if (end.msgs, end.consumers) != (self.msgs, self.consumers) {
                    return Err(format!(
                        "end record counts {} messages and {} consumers, archive holds {} and {}",
                        end.msgs, end.consumers, self.msgs, self.consumers
                    ));
                }
                if end.last_seq < last_seq {
                    return Err(format!(
                        "last sequence {} below message {last_seq}",
                        end.last_seq
                    ));
                }
                self.part = Part::Ended;
                Ok(Item::End(end))
            }
            (kind, part) => Err(format!("record kind {kind} unexpected in {part:?}")),
        }
    }
}

fn corrupt_at(offset: u64, why: &str) -> String {
    format!("archive corrupt at byte {offset}: {why}")
}

fn decode_msg(mut body: Bytes) -> Result<StoredMsg, String> {
    if body.len() < MSG_FIXED {
        return Err("message record too short".into());
    }
    let seq = body.get_u64_le();
    let time = body.get_u64_le();
    let subject_len = body.get_u32_le() as usize;
    let headers_len = body.get_u32_le() as usize;
    if subject_len.saturating_add(headers_len) > body.len() || seq == 0 {
        return Err(format!("message {seq} malformed"));
    }
    let subject = body.split_to(subject_len);
    // Subjects go out on the wire as they are: one that is not a subject would break it.
    if !is_valid_literal_subject(&subject) {
        return Err(format!("message {seq} has an invalid subject"));
    }
    let headers = body.split_to(headers_len);
    Ok(StoredMsg {
        seq,
        subject,
        headers,
        data: body,
        time,
    })
}

#[cfg(test)]
mod tests;
