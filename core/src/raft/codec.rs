//! A compact, versioned binary encoding for messages and entries.
//!
//! Integers are LEB128 varints; byte strings are a varint length then the bytes. Every
//! encoding starts with a version byte ([`VERSION`]). Decoders never panic and never
//! allocate more than the input can justify: every length is checked against the bytes
//! that remain.
//!
//! Versions: 1 had votes, appends and their answers; 2 added snapshots (the
//! InstallSnapshot message and [`encode_snapshot`] for disk), configuration entries,
//! TimeoutNow and the transfer flag of a vote request (the pre-vote byte became flags),
//! ReadIndex and its answer. Encoders write the current
//! version; decoders read every version (a log written by an older build stays readable)
//! and reject in an older frame what that version did not have.

use bytes::{BufMut, Bytes, BytesMut};

use super::membership::Membership;
use super::message::{Body, ConflictHint, Entry, EntryKind, HardState, Message, Snapshot};

/// The encoding version written first in every frame.
pub const VERSION: u8 = 2;

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended early.
    Truncated,
    /// An unknown version byte.
    Version(u8),
    /// An unknown tag for a message kind, entry kind or option.
    Tag(u8),
    /// A varint longer than 64 bits.
    Overflow,
    /// Bytes left over after the frame.
    Trailing,
}

fn put_uvar(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

struct Reader<'a> {
    /// The frame's version.
    version: u8,
    buf: &'a [u8],
    /// The original buffer, so byte strings can be sliced without copying.
    src: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn uvar(&mut self) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Overflow);
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Overflow)
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.uvar()?;
        let remaining = (self.buf.len() - self.pos) as u64;
        if len > remaining {
            return Err(DecodeError::Truncated);
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(self.src.slice(start..self.pos))
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

fn put_entry(buf: &mut BytesMut, e: &Entry) {
    put_uvar(buf, e.index);
    put_uvar(buf, e.term);
    buf.put_u8(match e.kind {
        EntryKind::Noop => 0,
        EntryKind::Normal => 1,
        EntryKind::Config => 2,
    });
    put_uvar(buf, e.data.len() as u64);
    buf.put_slice(&e.data);
}

fn get_entry(r: &mut Reader<'_>) -> Result<Entry, DecodeError> {
    let index = r.uvar()?;
    let term = r.uvar()?;
    let kind = match r.u8()? {
        0 => EntryKind::Noop,
        1 => EntryKind::Normal,
        2 => {
            since(r, 2, 2)?;
            EntryKind::Config
        }
        t => return Err(DecodeError::Tag(t)),
    };
    let data = r.bytes()?;
    Ok(Entry {
        index,
        term,
        kind,
        data,
    })
}

fn put_opt(buf: &mut BytesMut, v: Option<u64>) {
    match v {
        None => buf.put_u8(0),
        Some(v) => {
            buf.put_u8(1);
            put_uvar(buf, v);
        }
    }
}

fn get_opt(r: &mut Reader<'_>) -> Result<Option<u64>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(r.uvar()?)),
        t => Err(DecodeError::Tag(t)),
    }
}

fn get_bool(r: &mut Reader<'_>) -> Result<bool, DecodeError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        t => Err(DecodeError::Tag(t)),
    }
}

fn reader(src: &Bytes) -> Result<Reader<'_>, DecodeError> {
    let mut r = Reader {
        version: 0,
        buf: src,
        src,
        pos: 0,
    };
    match r.u8()? {
        v @ 1..=VERSION => {
            r.version = v;
            Ok(r)
        }
        v => Err(DecodeError::Version(v)),
    }
}

/// Checks that `tag`, introduced in version `since`, may appear in this frame.
fn since(r: &Reader<'_>, since: u8, tag: u8) -> Result<(), DecodeError> {
    if r.version >= since {
        Ok(())
    } else {
        Err(DecodeError::Tag(tag))
    }
}

fn put_ids(buf: &mut BytesMut, ids: &std::collections::BTreeSet<u64>) {
    put_uvar(buf, ids.len() as u64);
    for id in ids {
        put_uvar(buf, *id);
    }
}

fn get_ids(r: &mut Reader<'_>) -> Result<std::collections::BTreeSet<u64>, DecodeError> {
    let n = r.uvar()?;
    (0..n).map(|_| r.uvar()).collect()
}

fn put_membership(buf: &mut BytesMut, m: &Membership) {
    put_ids(buf, &m.voters);
    put_ids(buf, &m.learners);
}

fn get_membership(r: &mut Reader<'_>) -> Result<Membership, DecodeError> {
    Ok(Membership {
        voters: get_ids(r)?,
        learners: get_ids(r)?,
    })
}

/// Encodes a configuration as the data of an [`EntryKind::Config`] entry.
pub fn encode_membership(m: &Membership) -> Bytes {
    let mut buf = BytesMut::with_capacity(16);
    put_membership(&mut buf, m);
    buf.freeze()
}

/// Decodes the data of an [`EntryKind::Config`] entry (inside a version-2 frame).
pub fn decode_membership(src: &Bytes) -> Result<Membership, DecodeError> {
    let mut r = Reader {
        version: VERSION,
        buf: src,
        src,
        pos: 0,
    };
    let m = get_membership(&mut r)?;
    r.finish()?;
    Ok(m)
}

fn put_snapshot(buf: &mut BytesMut, s: &Snapshot) {
    put_uvar(buf, s.index);
    put_uvar(buf, s.term);
    put_membership(buf, &s.membership);
    put_uvar(buf, s.data.len() as u64);
    buf.put_slice(&s.data);
}

fn get_snapshot(r: &mut Reader<'_>) -> Result<Snapshot, DecodeError> {
    Ok(Snapshot {
        index: r.uvar()?,
        term: r.uvar()?,
        membership: get_membership(r)?,
        data: r.bytes()?,
    })
}

/// Encodes a snapshot (for disk).
pub fn encode_snapshot(s: &Snapshot) -> Bytes {
    let mut buf = BytesMut::with_capacity(32 + s.data.len());
    buf.put_u8(VERSION);
    put_snapshot(&mut buf, s);
    buf.freeze()
}

/// Decodes a snapshot written by [`encode_snapshot`].
pub fn decode_snapshot(src: &Bytes) -> Result<Snapshot, DecodeError> {
    let mut r = reader(src)?;
    if r.version < 2 {
        return Err(DecodeError::Version(r.version));
    }
    let s = get_snapshot(&mut r)?;
    r.finish()?;
    Ok(s)
}

/// Encodes one entry (for the log on disk).
pub fn encode_entry(e: &Entry) -> Bytes {
    let mut buf = BytesMut::with_capacity(16 + e.data.len());
    buf.put_u8(VERSION);
    put_entry(&mut buf, e);
    buf.freeze()
}

/// Decodes one entry written by [`encode_entry`].
pub fn decode_entry(src: &Bytes) -> Result<Entry, DecodeError> {
    let mut r = reader(src)?;
    let e = get_entry(&mut r)?;
    r.finish()?;
    Ok(e)
}

/// Encodes a hard state (for disk).
pub fn encode_hard_state(hs: &HardState) -> Bytes {
    let mut buf = BytesMut::with_capacity(24);
    buf.put_u8(VERSION);
    put_uvar(&mut buf, hs.term);
    put_opt(&mut buf, hs.vote);
    buf.freeze()
}

/// Decodes a hard state written by [`encode_hard_state`].
pub fn decode_hard_state(src: &Bytes) -> Result<HardState, DecodeError> {
    let mut r = reader(src)?;
    let term = r.uvar()?;
    let vote = get_opt(&mut r)?;
    r.finish()?;
    Ok(HardState { term, vote })
}

/// Encodes a message for the wire.
pub fn encode_message(m: &Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(32);
    buf.put_u8(VERSION);
    put_uvar(&mut buf, m.term);
    match &m.body {
        Body::Vote {
            pre,
            transfer,
            last_index,
            last_term,
        } => {
            buf.put_u8(1);
            buf.put_u8(*pre as u8 | (*transfer as u8) << 1);
            put_uvar(&mut buf, *last_index);
            put_uvar(&mut buf, *last_term);
        }
        Body::VoteResp { pre, granted } => {
            buf.put_u8(2);
            buf.put_u8(*pre as u8);
            buf.put_u8(*granted as u8);
        }
        Body::Append {
            prev_index,
            prev_term,
            commit,
            entries,
        } => {
            buf.put_u8(3);
            put_uvar(&mut buf, *prev_index);
            put_uvar(&mut buf, *prev_term);
            put_uvar(&mut buf, *commit);
            put_uvar(&mut buf, entries.len() as u64);
            for e in entries {
                put_entry(&mut buf, e);
            }
        }
        Body::AppendResp {
            success,
            index,
            hint,
        } => {
            buf.put_u8(4);
            buf.put_u8(*success as u8);
            put_uvar(&mut buf, *index);
            match hint {
                None => buf.put_u8(0),
                Some(h) => {
                    buf.put_u8(1);
                    put_opt(&mut buf, h.term);
                    put_uvar(&mut buf, h.index);
                }
            }
        }
        Body::InstallSnapshot { snapshot } => {
            buf.put_u8(5);
            put_snapshot(&mut buf, snapshot);
        }
        Body::TimeoutNow => buf.put_u8(6),
        Body::ReadIndex { seq } => {
            buf.put_u8(7);
            put_uvar(&mut buf, *seq);
        }
        Body::ReadIndexResp { seq } => {
            buf.put_u8(8);
            put_uvar(&mut buf, *seq);
        }
    }
    buf.freeze()
}

/// Decodes a message written by [`encode_message`].
pub fn decode_message(src: &Bytes) -> Result<Message, DecodeError> {
    let mut r = reader(src)?;
    let term = r.uvar()?;
    let body = match r.u8()? {
        1 => {
            let (pre, transfer) = match r.u8()? {
                0 => (false, false),
                1 => (true, false),
                2 if r.version >= 2 => (false, true),
                t => return Err(DecodeError::Tag(t)),
            };
            Body::Vote {
                pre,
                transfer,
                last_index: r.uvar()?,
                last_term: r.uvar()?,
            }
        }
        2 => Body::VoteResp {
            pre: get_bool(&mut r)?,
            granted: get_bool(&mut r)?,
        },
        3 => {
            let prev_index = r.uvar()?;
            let prev_term = r.uvar()?;
            let commit = r.uvar()?;
            let n = r.uvar()?;
            // Each entry takes at least 4 bytes: never reserve more than the input allows.
            let mut entries = Vec::with_capacity((n as usize).min(r.remaining() / 4));
            for _ in 0..n {
                entries.push(get_entry(&mut r)?);
            }
            Body::Append {
                prev_index,
                prev_term,
                commit,
                entries,
            }
        }
        4 => {
            let success = get_bool(&mut r)?;
            let index = r.uvar()?;
            let hint = match r.u8()? {
                0 => None,
                1 => Some(ConflictHint {
                    term: get_opt(&mut r)?,
                    index: r.uvar()?,
                }),
                t => return Err(DecodeError::Tag(t)),
            };
            Body::AppendResp {
                success,
                index,
                hint,
            }
        }
        5 => {
            since(&r, 2, 5)?;
            Body::InstallSnapshot {
                snapshot: get_snapshot(&mut r)?,
            }
        }
        6 => {
            since(&r, 2, 6)?;
            Body::TimeoutNow
        }
        7 => {
            since(&r, 2, 7)?;
            Body::ReadIndex { seq: r.uvar()? }
        }
        8 => {
            since(&r, 2, 8)?;
            Body::ReadIndexResp { seq: r.uvar()? }
        }
        t => return Err(DecodeError::Tag(t)),
    };
    r.finish()?;
    Ok(Message { term, body })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn entry() -> impl Strategy<Value = Entry> {
        (
            any::<u64>(),
            any::<u64>(),
            prop_oneof![
                Just(EntryKind::Noop),
                Just(EntryKind::Normal),
                Just(EntryKind::Config)
            ],
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(index, term, kind, data)| Entry {
                index,
                term,
                kind,
                data: Bytes::from(data),
            })
    }

    pub(crate) fn membership() -> impl Strategy<Value = Membership> {
        (
            proptest::collection::btree_set(any::<u64>(), 0..6),
            proptest::collection::btree_set(any::<u64>(), 0..3),
        )
            .prop_map(|(voters, learners)| Membership { voters, learners })
    }

    pub(crate) fn snapshot() -> impl Strategy<Value = Snapshot> {
        (
            any::<u64>(),
            any::<u64>(),
            membership(),
            proptest::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(index, term, membership, data)| Snapshot {
                index,
                term,
                membership,
                data: Bytes::from(data),
            })
    }

    pub(crate) fn message() -> impl Strategy<Value = Message> {
        let body = prop_oneof![
            (any::<u8>(), any::<u64>(), any::<u64>()).prop_map(|(kind, last_index, last_term)| {
                // A pre-vote is never a transfer.
                Body::Vote {
                    pre: kind % 3 == 1,
                    transfer: kind % 3 == 2,
                    last_index,
                    last_term,
                }
            }),
            Just(Body::TimeoutNow),
            any::<u64>().prop_map(|seq| Body::ReadIndex { seq }),
            any::<u64>().prop_map(|seq| Body::ReadIndexResp { seq }),
            (any::<bool>(), any::<bool>())
                .prop_map(|(pre, granted)| Body::VoteResp { pre, granted }),
            (
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                proptest::collection::vec(entry(), 0..5)
            )
                .prop_map(|(prev_index, prev_term, commit, entries)| Body::Append {
                    prev_index,
                    prev_term,
                    commit,
                    entries,
                }),
            (
                any::<bool>(),
                any::<u64>(),
                proptest::option::of((proptest::option::of(any::<u64>()), any::<u64>()))
            )
                .prop_map(|(success, index, hint)| Body::AppendResp {
                    success,
                    index,
                    hint: hint.map(|(term, index)| ConflictHint { term, index }),
                }),
            snapshot().prop_map(|snapshot| Body::InstallSnapshot { snapshot }),
        ];
        (any::<u64>(), body).prop_map(|(term, body)| Message { term, body })
    }

    proptest! {
        #[test]
        fn message_round_trips(m in message()) {
            prop_assert_eq!(decode_message(&encode_message(&m)), Ok(m));
        }

        #[test]
        fn entry_round_trips(e in entry()) {
            prop_assert_eq!(decode_entry(&encode_entry(&e)), Ok(e));
        }

        #[test]
        fn hard_state_round_trips(term in any::<u64>(), vote in proptest::option::of(any::<u64>())) {
            let hs = HardState { term, vote };
            prop_assert_eq!(decode_hard_state(&encode_hard_state(&hs)), Ok(hs));
        }

        #[test]
        fn membership_round_trips(m in membership()) {
            prop_assert_eq!(decode_membership(&encode_membership(&m)), Ok(m));
        }

        #[test]
        fn snapshot_round_trips(s in snapshot()) {
            prop_assert_eq!(decode_snapshot(&encode_snapshot(&s)), Ok(s));
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let b = Bytes::from(data);
            let _ = decode_message(&b);
            let _ = decode_entry(&b);
            let _ = decode_hard_state(&b);
            let _ = decode_snapshot(&b);
            let _ = decode_membership(&b);
        }

        #[test]
        fn truncations_are_errors(m in message()) {
            let b = encode_message(&m);
            for cut in 0..b.len() {
                prop_assert!(decode_message(&b.slice(..cut)).is_err());
            }
        }
    }

    #[test]
    fn version_one_frames_still_decode_but_not_later_kinds() {
        let m = Message {
            term: 3,
            body: Body::VoteResp {
                pre: false,
                granted: true,
            },
        };
        let mut v1 = encode_message(&m).to_vec();
        v1[0] = 1;
        assert_eq!(decode_message(&Bytes::from(v1)), Ok(m));
        let snap = Message {
            term: 3,
            body: Body::InstallSnapshot {
                snapshot: Snapshot {
                    index: 1,
                    term: 1,
                    membership: Membership::with_voters([1]),
                    data: Bytes::new(),
                },
            },
        };
        let mut v1 = encode_message(&snap).to_vec();
        v1[0] = 1;
        assert_eq!(decode_message(&Bytes::from(v1)), Err(DecodeError::Tag(5)));
        let mut future = encode_message(&snap).to_vec();
        future[0] = VERSION + 1;
        assert_eq!(
            decode_message(&Bytes::from(future)),
            Err(DecodeError::Version(VERSION + 1))
        );
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        let mut buf = BytesMut::new();
        buf.put_u8(VERSION);
        put_uvar(&mut buf, 1);
        buf.put_u8(3);
        put_uvar(&mut buf, 0);
        put_uvar(&mut buf, 0);
        put_uvar(&mut buf, 0);
        put_uvar(&mut buf, u64::MAX);
        assert_eq!(decode_message(&buf.freeze()), Err(DecodeError::Truncated));
    }
}
