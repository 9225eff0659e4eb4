//! The record codec: how one message, tombstone or floor is laid out in a block.
//!
//! ```text
//! record  = kind:u8 | len:u32 | payload:[len] | crc:u32      (integers little-endian)
//! crc     = CRC-32C of kind, len and payload
//! payload = Msg:    seq:u64 time:u64 subject_len:u32 headers_len:u32 subject headers data
//!           Delete: seq:u64
//!           Floor:  first:u64 last_seq:u64 last_time:u64
//! ```
//!
//! Fixed-width integers rather than varints: a record's size is known before it is
//! encoded, which the block bookkeeping needs, and decoding is a few bounds checks.
//! Decoding never panics and never allocates: every length is checked against the bytes
//! that remain, and payloads are slices of the file as read.

use bytes::{BufMut, Bytes, BytesMut};

use super::crc::crc32c;
use crate::jetstream::store::StoredMsg;

const KIND_MSG: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_FLOOR: u8 = 3;

/// Kind and length before the payload.
const HEADER: usize = 5;
/// The checksum after it.
const TRAILER: usize = 4;
/// A message payload's fixed part: seq, time and the two lengths.
const MSG_FIXED: usize = 8 + 8 + 4 + 4;
const DELETE_LEN: usize = 8;
const FLOOR_LEN: usize = 24;

/// What a stream knows for sure when it writes a floor: every sequence below `first` is
/// gone, and the stream's last sequence was stored at `last_time`. Both only grow, so a
/// floor stays true forever and may be copied anywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Floor {
    pub first: u64,
    pub last_seq: u64,
    pub last_time: u64,
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Record {
    Msg(StoredMsg),
    /// A tombstone: the message with this sequence was removed.
    Delete(u64),
    Floor(Floor),
}

/// Why the bytes at some offset are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside the record.
    Cut,
    /// The record is whole but its checksum does not match.
    BadChecksum,
    /// A checksummed record of a kind this version does not know.
    UnknownKind(u8),
    /// A checksummed record whose lengths do not fit its kind.
    BadLength,
}

pub(super) fn encode_msg(
    seq: u64,
    time: u64,
    subject: &[u8],
    headers: &[u8],
    data: &[u8],
) -> Bytes {
    let mut payload =
        BytesMut::with_capacity(MSG_FIXED + subject.len() + headers.len() + data.len());
    payload.put_u64_le(seq);
    payload.put_u64_le(time);
    payload.put_u32_le(subject.len() as u32);
    payload.put_u32_le(headers.len() as u32);
    payload.put_slice(subject);
    payload.put_slice(headers);
    payload.put_slice(data);
    frame(KIND_MSG, &payload)
}

pub(super) fn encode_delete(seq: u64) -> Bytes {
    frame(KIND_DELETE, &seq.to_le_bytes())
}

pub(super) fn encode_floor(f: Floor) -> Bytes {
    let mut payload = [0u8; FLOOR_LEN];
    payload[..8].copy_from_slice(&f.first.to_le_bytes());
    payload[8..16].copy_from_slice(&f.last_seq.to_le_bytes());
    payload[16..].copy_from_slice(&f.last_time.to_le_bytes());
    frame(KIND_FLOOR, &payload)
}

fn frame(kind: u8, payload: &[u8]) -> Bytes {
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = BytesMut::with_capacity(HEADER + payload.len() + TRAILER);
    out.put_u8(kind);
    out.put_slice(&len);
    out.put_slice(payload);
    out.put_u32_le(crc32c(&[&[kind], &len, payload]));
    out.freeze()
}

/// The record starting at `pos` in `file`, and where it ends.
pub(super) fn decode(file: &Bytes, pos: usize) -> Result<(Record, usize), Damage> {
    let rest = file.get(pos..).ok_or(Damage::Cut)?;
    let header = rest.get(..HEADER).ok_or(Damage::Cut)?;
    let len = le(&header[1..]) as usize;
    let payload_end = HEADER.checked_add(len).ok_or(Damage::Cut)?;
    let payload = rest.get(HEADER..payload_end).ok_or(Damage::Cut)?;
    let crc = rest
        .get(payload_end..payload_end + TRAILER)
        .ok_or(Damage::Cut)?;
    if le(crc) != u64::from(crc32c(&[header, payload])) {
        return Err(Damage::BadChecksum);
    }
    let record = match (header[0], payload.len()) {
        (KIND_MSG, _) => decode_msg(file.slice(pos + HEADER..pos + payload_end))?,
        (KIND_DELETE, DELETE_LEN) => Record::Delete(le(payload)),
        (KIND_FLOOR, FLOOR_LEN) => Record::Floor(Floor {
            first: le(&payload[..8]),
            last_seq: le(&payload[8..16]),
            last_time: le(&payload[16..]),
        }),
        (KIND_DELETE | KIND_FLOOR, _) => return Err(Damage::BadLength),
        (other, _) => return Err(Damage::UnknownKind(other)),
    };
    Ok((record, pos + payload_end + TRAILER))
}

/// A little-endian integer of up to 8 bytes.
fn le(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |v, &b| (v << 8) | u64::from(b))
}

fn decode_msg(p: Bytes) -> Result<Record, Damage> {
    let fixed = p.get(..MSG_FIXED).ok_or(Damage::BadLength)?;
    let end_after = |start: usize, len: &[u8]| {
        start
            .checked_add(le(len) as usize)
            .filter(|&end| end <= p.len())
            .ok_or(Damage::BadLength)
    };
    let subject_end = end_after(MSG_FIXED, &fixed[16..20])?;
    let headers_end = end_after(subject_end, &fixed[20..24])?;
    Ok(Record::Msg(StoredMsg {
        seq: le(&fixed[..8]),
        time: le(&fixed[8..16]),
        subject: p.slice(MSG_FIXED..subject_end),
        headers: p.slice(subject_end..headers_end),
        data: p.slice(headers_end..),
    }))
}
