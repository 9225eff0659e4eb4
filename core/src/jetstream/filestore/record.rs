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
//! Lengths are 32 bits: a message is bounded far below 4 GiB by `max_payload`.
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
    /// The file could not be read.
    Unreadable,
    /// A whole record, but not the message the store knows to be there (read back after
    /// the file changed behind the store's back).
    Misplaced,
}

pub(super) fn encode_msg(
    seq: u64,
    time: u64,
    subject: &[u8],
    headers: &[u8],
    data: &[u8],
) -> Bytes {
    let len = MSG_FIXED + subject.len() + headers.len() + data.len();
    frame(KIND_MSG, len, |out| {
        out.put_u64_le(seq);
        out.put_u64_le(time);
        out.put_u32_le(subject.len() as u32);
        out.put_u32_le(headers.len() as u32);
        out.put_slice(subject);
        out.put_slice(headers);
        out.put_slice(data);
    })
}

pub(super) fn encode_delete(seq: u64) -> Bytes {
    frame(KIND_DELETE, DELETE_LEN, |out| out.put_u64_le(seq))
}

pub(super) fn encode_floor(f: Floor) -> Bytes {
    frame(KIND_FLOOR, FLOOR_LEN, |out| {
        out.put_u64_le(f.first);
        out.put_u64_le(f.last_seq);
        out.put_u64_le(f.last_time);
    })
}

/// A record of `kind` whose `len` bytes of payload `payload` writes, in one buffer.
fn frame(kind: u8, len: usize, payload: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER + len + TRAILER);
    out.put_u8(kind);
    out.put_u32_le(len as u32);
    payload(&mut out);
    debug_assert_eq!(out.len(), HEADER + len);
    let crc = crc32c(&[&out]);
    out.put_u32_le(crc);
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

/// Where the record starting at `pos` would end by its length field, if that can be read.
pub(super) fn claimed_end(file: &[u8], pos: usize) -> Option<usize> {
    let header = file.get(pos..)?.get(..HEADER)?;
    Some(pos + HEADER + le(&header[1..]) as usize + TRAILER)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(rec: Bytes) -> Result<Record, Damage> {
        let (record, end) = decode(&rec, 0)?;
        assert_eq!(end, rec.len());
        Ok(record)
    }

    #[test]
    fn round_trips() {
        let msg = StoredMsg {
            seq: 7,
            time: 1_700_000_000_000_000_000,
            subject: Bytes::from("orders.new"),
            headers: Bytes::from("NATS/1.0\r\nA: b\r\n\r\n"),
            data: Bytes::from(vec![0u8, 255, 10, 13]),
        };
        let rec = encode_msg(msg.seq, msg.time, &msg.subject, &msg.headers, &msg.data);
        assert_eq!(decoded(rec), Ok(Record::Msg(msg)));
        assert_eq!(
            decoded(encode_delete(u64::MAX)),
            Ok(Record::Delete(u64::MAX))
        );
        let floor = Floor {
            first: 3,
            last_seq: 2,
            last_time: 99,
        };
        assert_eq!(decoded(encode_floor(floor)), Ok(Record::Floor(floor)));
        // Records follow one another.
        let two = [encode_delete(1), encode_delete(2)].concat();
        let two = Bytes::from(two);
        let (_, end) = decode(&two, 0).unwrap();
        assert_eq!(decode(&two, end), Ok((Record::Delete(2), two.len())));
        assert_eq!(decode(&two, two.len()), Err(Damage::Cut));
    }

    #[test]
    fn damage() {
        let rec = encode_delete(5);
        for cut in 0..rec.len() {
            assert_eq!(
                decode(&rec.slice(..cut), 0),
                Err(Damage::Cut),
                "cut at {cut}"
            );
        }
        for at in 0..rec.len() {
            let mut bad = rec.to_vec();
            bad[at] ^= 0x01;
            // A flipped length bit makes the record run past the end instead.
            let want = if (1..5).contains(&at) {
                Damage::Cut
            } else {
                Damage::BadChecksum
            };
            assert_eq!(decode(&Bytes::from(bad), 0), Err(want), "flip at {at}");
        }
        assert_eq!(decoded(frame(9, 0, |_| {})), Err(Damage::UnknownKind(9)));
        assert_eq!(
            decoded(frame(KIND_DELETE, 4, |o| o.put_u32_le(1))),
            Err(Damage::BadLength)
        );
        assert_eq!(
            decoded(frame(KIND_FLOOR, 8, |o| o.put_u64_le(1))),
            Err(Damage::BadLength)
        );
        assert_eq!(
            decoded(frame(KIND_MSG, 3, |o| o.put_slice(b"abc"))),
            Err(Damage::BadLength)
        );
        // A subject length past the payload.
        let lying = frame(KIND_MSG, MSG_FIXED + 2, |o| {
            o.put_u64_le(1);
            o.put_u64_le(1);
            o.put_u32_le(3);
            o.put_u32_le(0);
            o.put_slice(b"ab");
        });
        assert_eq!(decoded(lying), Err(Damage::BadLength));
        // A length of 4 GiB in a short file allocates nothing and reads nothing.
        let huge = Bytes::from(vec![KIND_MSG, 0xff, 0xff, 0xff, 0xff, 0, 0]);
        assert_eq!(decode(&huge, 0), Err(Damage::Cut));
    }
}
