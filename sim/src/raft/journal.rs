//! The Raft hosts' write-ahead journal on their simulated [`Disk`].
//!
//! A sequence of records `len u32 | fnv64 u64 | payload`; a payload is one
//! `Output::Persist`: a hard state (or none), a snapshot (or none: it replaces the whole
//! log) and entries, which replace the log from their first index on. Recovery replays
//! records up to the first torn or corrupt one and writes on from there. (The journal is
//! never rewritten: a simulated run is short.)

use bytes::{BufMut, Bytes, BytesMut};
use rnats_core::raft::codec;
use rnats_core::raft::{Entry, HardState, Snapshot};

use crate::disk::Disk;

/// The journal's file on the host's disk.
pub const JOURNAL: &str = "raft.journal";

/// FNV-1a, 64 bits: the record checksum (and a stable hash for digests).
pub fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn put_opt(p: &mut BytesMut, b: Option<Bytes>) {
    match b {
        Some(b) => {
            p.put_u8(1);
            p.put_u32_le(b.len() as u32);
            p.put_slice(&b);
        }
        None => p.put_u8(0),
    }
}

/// Encodes one journal record: one `Output::Persist`.
pub fn record(hs: Option<HardState>, snapshot: Option<&Snapshot>, entries: &[Entry]) -> Vec<u8> {
    let mut p = BytesMut::new();
    put_opt(&mut p, hs.map(|hs| codec::encode_hard_state(&hs)));
    put_opt(&mut p, snapshot.map(codec::encode_snapshot));
    p.put_u32_le(entries.len() as u32);
    for e in entries {
        let b = codec::encode_entry(e);
        p.put_u32_le(b.len() as u32);
        p.put_slice(&b);
    }
    let mut r = Vec::with_capacity(p.len() + 12);
    r.extend_from_slice(&(p.len() as u32).to_le_bytes());
    r.extend_from_slice(&fnv64(&p).to_le_bytes());
    r.extend_from_slice(&p);
    r
}

/// What a journal holds: the hard state, the snapshot, the log after it, and where the
/// valid records end.
pub struct Recovered {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
    pub end: u64,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
}

/// Replays the journal on `disk` up to the first torn or corrupt record.
pub fn recover(disk: &Disk) -> Recovered {
    let mut out = Recovered {
        hard_state: HardState::default(),
        snapshot: None,
        entries: Vec::new(),
        end: 0,
    };
    let len = disk.len(JOURNAL).unwrap_or(0);
    let data = disk.read(JOURNAL, 0, len as usize).unwrap_or_default();
    let mut rest: &[u8] = &data;
    loop {
        let mut b = rest;
        let Some(plen) = take_u32(&mut b) else { break };
        let Some(sum) = take(&mut b, 8) else { break };
        let Some(payload) = take(&mut b, plen as usize) else {
            break;
        };
        if fnv64(payload).to_le_bytes() != sum {
            break;
        }
        let Some((hs, snapshot, entries)) = parse_payload(payload) else {
            break;
        };
        if let Some(s) = snapshot {
            out.snapshot = Some(s);
            out.entries.clear();
        }
        if let Some(first) = entries.first() {
            let offset = out.snapshot.as_ref().map_or(0, |s| s.index);
            if first.index <= offset || first.index > offset + out.entries.len() as u64 + 1 {
                break;
            }
            out.entries.truncate((first.index - offset - 1) as usize);
            out.entries.extend(entries);
        }
        if let Some(hs) = hs {
            out.hard_state = hs;
        }
        out.end += (12 + plen) as u64;
        rest = b;
    }
    out
}

/// One optional item written by `put_opt`: `Some(None)` when absent, `None` when broken.
fn take_opt(b: &mut &[u8]) -> Option<Option<Bytes>> {
    match take(b, 1)?[0] {
        0 => Some(None),
        1 => {
            let n = take_u32(b)? as usize;
            Some(Some(Bytes::copy_from_slice(take(b, n)?)))
        }
        _ => None,
    }
}

type Payload = (Option<HardState>, Option<Snapshot>, Vec<Entry>);

fn parse_payload(mut b: &[u8]) -> Option<Payload> {
    let hs = match take_opt(&mut b)? {
        Some(hs) => Some(codec::decode_hard_state(&hs).ok()?),
        None => None,
    };
    let snapshot = match take_opt(&mut b)? {
        Some(s) => Some(codec::decode_snapshot(&s).ok()?),
        None => None,
    };
    let count = take_u32(&mut b)?;
    let mut entries: Vec<Entry> = Vec::new();
    for _ in 0..count {
        let n = take_u32(&mut b)? as usize;
        let e = codec::decode_entry(&Bytes::copy_from_slice(take(&mut b, n)?)).ok()?;
        if let Some(prev) = entries.last() {
            if e.index != prev.index + 1 {
                return None;
            }
        }
        entries.push(e);
    }
    Some((hs, snapshot, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnats_core::raft::{EntryKind, Membership};

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Normal,
            data: Bytes::from(format!("{index}/{term}")),
        }
    }

    #[test]
    fn journal_replays_truncations_and_stops_at_a_torn_record() {
        let disk = Disk::new();
        let hs = HardState {
            term: 2,
            vote: Some(1),
        };
        let mut off = 0;
        for rec in [
            record(Some(hs), None, &[e(1, 1), e(2, 1), e(3, 1)]),
            record(None, None, &[e(2, 2)]),
        ] {
            disk.write(JOURNAL, off, &rec);
            off += rec.len() as u64;
        }
        let torn = record(None, None, &[e(3, 2)]);
        disk.write(JOURNAL, off, &torn[..torn.len() - 3]);
        let r = recover(&disk);
        assert_eq!(r.hard_state, hs);
        assert_eq!(r.entries, vec![e(1, 1), e(2, 2)]);
        assert_eq!(r.end, off);
    }

    #[test]
    fn journal_snapshot_replaces_the_log_and_later_entries_follow_it() {
        let disk = Disk::new();
        let snap = Snapshot {
            index: 5,
            term: 2,
            membership: Membership::with_voters([1, 2, 3]),
            data: Bytes::from_static(b"state"),
        };
        let mut off = 0;
        for rec in [
            record(None, None, &[e(1, 1), e(2, 1), e(3, 1)]),
            record(None, Some(&snap), &[e(6, 2)]),
            record(None, None, &[e(7, 3)]),
            // A gap after the snapshot: not a record a member writes, replay stops.
            record(None, None, &[e(9, 3)]),
        ] {
            disk.write(JOURNAL, off, &rec);
            off += rec.len() as u64;
        }
        let r = recover(&disk);
        assert_eq!(r.snapshot, Some(snap));
        assert_eq!(r.entries, vec![e(6, 2), e(7, 3)]);
    }
}
