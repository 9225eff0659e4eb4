//! The in-memory Raft log and its durability bookkeeping.
//!
//! The log holds entries `first_index()..=last_index()`; everything before is covered by the
//! snapshot, if any (index 0 / term 0 without one). Three watermarks: `committed` (known
//! replicated on a quorum), `applied` (handed to the caller's state machine) and `stable`
//! (known durable on this node's disk and identical to the in-memory log up to it).
//!
//! A snapshot gets into the log two ways: [`RaftLog::compact`] (the caller's own state
//! machine, entries after it kept) and [`RaftLog::install`] (a leader's, replacing the whole
//! log). Either way the next write carries the snapshot and every entry after it, so a
//! write is "replace what is stored from this point on" and the disk never holds a log that
//! does not continue its snapshot.
//!
//! The log also knows its configuration: the last [`EntryKind::Config`] entry it holds, or
//! the snapshot's (a configuration takes effect when appended, and is undone with the
//! entry if a new leader truncates it).

use std::collections::{BTreeMap, VecDeque};

use super::codec::decode_membership;
use super::membership::Membership;
use super::message::{Entry, EntryKind, Snapshot};

/// A write handed to the caller but not yet reported durable.
#[derive(Clone, Copy, Debug)]
struct PendingWrite {
    seq: u64,
    /// First index whose stored entry the write changes (the write discards every durable
    /// entry from here on).
    start: u64,
    /// Last index written.
    end: u64,
}

/// The log.
#[derive(Clone, Debug, Default)]
pub struct RaftLog {
    /// What stands for the entries up to its index (none: the log starts at index 1).
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
    /// The configuration entries among `entries`, by index.
    configs: BTreeMap<u64, Membership>,
    committed: u64,
    applied: u64,
    /// Highest index durable and matching in memory.
    stable: u64,
    /// Last index of the durable log, as of the writes reported persisted.
    durable_last: u64,
    /// First index changed in memory since the last [`RaftLog::take_unstable`].
    unstable_from: Option<u64>,
    /// The snapshot changed since the last [`RaftLog::take_unstable`]: the first index whose
    /// stored entry that change rewrites.
    snapshot_dirty_from: Option<u64>,
    /// A leader's snapshot installed but not yet handed to the state machine.
    to_restore: Option<Snapshot>,
    pending: VecDeque<PendingWrite>,
}

impl RaftLog {
    /// A log recovered from disk: the snapshot, if any, and the entries after it, all
    /// durable. `entries` must be consecutive and continue the snapshot (or start at index 1
    /// without one); entries the snapshot covers are dropped. The snapshot counts as
    /// committed and applied (the caller loads it into its state machine).
    pub fn restore(snapshot: Option<Snapshot>, entries: Vec<Entry>) -> RaftLog {
        let offset = snapshot.as_ref().map_or(0, |s| s.index);
        let entries: Vec<Entry> = entries.into_iter().filter(|e| e.index > offset).collect();
        let last = entries.last().map_or(offset, |e| e.index);
        let mut log = RaftLog {
            snapshot,
            committed: offset,
            applied: offset,
            stable: last,
            durable_last: last,
            ..RaftLog::default()
        };
        log.note_configs(&entries);
        log.entries = entries;
        log
    }

    /// Records the configuration entries among `entries` (undecodable ones are refused
    /// before they get here, see [`RaftLog::append_after`]).
    fn note_configs(&mut self, entries: &[Entry]) {
        for e in entries.iter().filter(|e| e.kind == EntryKind::Config) {
            if let Ok(m) = decode_membership(&e.data) {
                self.configs.insert(e.index, m);
            }
        }
    }

    /// The latest configuration in the log, with its index: the last configuration entry,
    /// or the snapshot's; `None` if neither exists (the member's initial one holds).
    pub fn membership(&self) -> Option<(u64, &Membership)> {
        match self.configs.last_key_value() {
            Some((i, m)) => Some((*i, m)),
            None => self.snapshot.as_ref().map(|s| (s.index, &s.membership)),
        }
    }

    /// The configuration as of `index` (which must not be compacted away), `None` if the
    /// initial one.
    pub fn membership_at(&self, index: u64) -> Option<&Membership> {
        match self.configs.range(..=index).next_back() {
            Some((_, m)) => Some(m),
            None => self.snapshot.as_ref().map(|s| &s.membership),
        }
    }

    /// The index the snapshot covers up to (0 without one).
    fn offset(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.index)
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    pub fn first_index(&self) -> u64 {
        self.offset() + 1
    }

    pub fn last_index(&self) -> u64 {
        self.offset() + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        match self.entries.last() {
            Some(e) => e.term,
            None => self.snapshot.as_ref().map_or(0, |s| s.term),
        }
    }

    pub fn committed(&self) -> u64 {
        self.committed
    }

    pub fn applied(&self) -> u64 {
        self.applied
    }

    pub fn stable(&self) -> u64 {
        self.stable
    }

    /// The term of the entry at `index` (0 for index 0, the snapshot's at its index), `None`
    /// if compacted away or past the end.
    pub fn term(&self, index: u64) -> Option<u64> {
        let offset = self.offset();
        if index == offset {
            return Some(self.snapshot.as_ref().map_or(0, |s| s.term));
        }
        if index < offset || index > self.last_index() {
            return None;
        }
        Some(self.entries[(index - offset - 1) as usize].term)
    }

    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index <= self.offset() || index > self.last_index() {
            return None;
        }
        self.entries.get((index - self.offset() - 1) as usize)
    }

    /// Entries `from..=to` (clamped to the log).
    pub fn slice(&self, from: u64, to: u64) -> &[Entry] {
        let from = from.max(self.first_index());
        let to = to.min(self.last_index());
        if from > to {
            return &[];
        }
        let offset = self.offset();
        &self.entries[(from - offset - 1) as usize..(to - offset) as usize]
    }

    /// Whether a candidate whose log ends at `(last_index, last_term)` is at least as
    /// up to date as this log (Raft §5.4.1).
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        (last_term, last_index) >= (self.last_term(), self.last_index())
    }

    /// Whether the entry at `index` has `term`.
    pub fn matches(&self, index: u64, term: u64) -> bool {
        self.term(index) == Some(term)
    }

    /// The first index of the term of the entry at `index` (for a conflict hint).
    pub fn first_index_of_term_at(&self, index: u64) -> u64 {
        let Some(t) = self.term(index) else {
            return index;
        };
        let mut i = index;
        while i > self.first_index() && self.term(i - 1) == Some(t) {
            i -= 1;
        }
        i
    }

    /// The last index whose term is `term`, if any entry has it.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        self.entries
            .iter()
            .rev()
            .skip_while(|e| e.term > term)
            .take_while(|e| e.term == term)
            .map(|e| e.index)
            .next()
    }

    /// Appends one entry at the end (a leader's own proposal).
    pub fn push(&mut self, entry: Entry) {
        debug_assert_eq!(entry.index, self.last_index() + 1);
        self.mark_unstable(entry.index);
        self.note_configs(std::slice::from_ref(&entry));
        self.entries.push(entry);
    }

    /// A follower's append after `prev` matched: skips entries already present, truncates
    /// at the first conflict, appends the rest. Returns the last index now known to match
    /// the leader's log, or `None` (changing nothing) if the entries contradict a committed
    /// entry, are not consecutive after `prev_index` or hold a configuration that does not
    /// decode (only a broken peer sends those).
    pub fn append_after(&mut self, prev_index: u64, entries: &[Entry]) -> Option<u64> {
        let well_formed = entries.iter().enumerate().all(|(k, e)| {
            Some(e.index) == prev_index.checked_add(k as u64 + 1)
                && (e.kind != EntryKind::Config || decode_membership(&e.data).is_ok())
        });
        if !well_formed {
            return None;
        }
        let mut last_match = prev_index;
        for (k, e) in entries.iter().enumerate() {
            match self.term(e.index) {
                Some(t) if t == e.term => last_match = e.index,
                Some(_) => {
                    if e.index <= self.committed {
                        return None;
                    }
                    self.truncate_from(e.index);
                    return Some(self.extend(&entries[k..]));
                }
                None => return Some(self.extend(&entries[k..])),
            }
        }
        Some(last_match)
    }

    fn extend(&mut self, entries: &[Entry]) -> u64 {
        if let Some(first) = entries.first() {
            debug_assert_eq!(first.index, self.last_index() + 1);
            self.mark_unstable(first.index);
            self.note_configs(entries);
            self.entries.extend_from_slice(entries);
        }
        self.last_index()
    }

    fn truncate_from(&mut self, index: u64) {
        self.entries.truncate((index - self.offset() - 1) as usize);
        self.configs.retain(|i, _| *i < index);
        self.stable = self.stable.min(index - 1);
        self.mark_unstable(index);
    }

    fn mark_unstable(&mut self, index: u64) {
        self.unstable_from = Some(self.unstable_from.map_or(index, |u| u.min(index)));
    }

    /// Raises the commit index (never lowers it, never past the last entry).
    pub fn commit_to(&mut self, index: u64) -> bool {
        let index = index.min(self.last_index());
        if index > self.committed {
            self.committed = index;
            true
        } else {
            false
        }
    }

    /// Replaces the entries up to `snapshot.index` (applied, in the log) with `snapshot`,
    /// which the caller's state machine made there; later entries stay. Returns whether it
    /// did (not when the index is not applied yet, is already compacted, or the term is not
    /// the entry's).
    pub fn compact(&mut self, snapshot: Snapshot) -> bool {
        let index = snapshot.index;
        if index > self.applied || index <= self.offset() || self.term(index) != Some(snapshot.term)
        {
            return false;
        }
        self.entries.drain(..(index - self.offset()) as usize);
        self.configs.retain(|i, _| *i > index);
        self.snapshot = Some(snapshot);
        // The write carries the whole tail: a pending truncation is carried with it, and
        // entries already durable stay so through the (atomic) rewrite.
        let from = self.unstable_from.take().unwrap_or(self.last_index() + 1);
        self.mark_snapshot_dirty(from);
        true
    }

    /// Replaces the whole log with a leader's `snapshot` (committed, newer than anything
    /// applied here); the state machine must load it ([`RaftLog::take_restore`]).
    pub fn install(&mut self, snapshot: Snapshot) {
        let index = snapshot.index;
        debug_assert!(index > self.committed);
        self.entries.clear();
        self.configs.clear();
        self.committed = index;
        self.applied = index;
        self.stable = self.stable.min(index - 1);
        self.unstable_from = None;
        self.to_restore = Some(snapshot.clone());
        self.snapshot = Some(snapshot);
        self.mark_snapshot_dirty(index);
    }

    fn mark_snapshot_dirty(&mut self, from: u64) {
        self.snapshot_dirty_from = Some(self.snapshot_dirty_from.map_or(from, |f| f.min(from)));
    }

    /// The installed snapshot the state machine has yet to load.
    pub fn take_restore(&mut self) -> Option<Snapshot> {
        self.to_restore.take()
    }

    /// Entries committed but not yet applied; marks them applied.
    pub fn take_committed(&mut self) -> Vec<Entry> {
        let out = self.slice(self.applied + 1, self.committed).to_vec();
        self.applied = self.committed;
        out
    }

    /// What changed since the last call, to hand to the caller as write `seq`: a snapshot
    /// (it replaces the stored one and the whole stored log, and comes with every entry
    /// after it) or entries (they replace every stored entry from the first one on).
    pub fn take_unstable(&mut self, seq: u64) -> (Option<Snapshot>, Vec<Entry>) {
        if let Some(dirty) = self.snapshot_dirty_from.take() {
            // Entries changed after the snapshot changed are in this write too.
            let start = self.unstable_from.take().map_or(dirty, |u| u.min(dirty));
            self.pending.push_back(PendingWrite {
                seq,
                start,
                end: self.last_index(),
            });
            return (self.snapshot.clone(), self.entries.clone());
        }
        (None, self.take_unstable_entries(seq))
    }

    fn take_unstable_entries(&mut self, seq: u64) -> Vec<Entry> {
        let Some(from) = self.unstable_from.take() else {
            return Vec::new();
        };
        let out = self.slice(from, self.last_index()).to_vec();
        match out.last() {
            Some(last) => self.pending.push_back(PendingWrite {
                seq,
                start: from,
                end: last.index,
            }),
            // Only a truncation with nothing after it: the next write carries it (`start`
            // below it is recorded then). Keep the stable mark honest meanwhile.
            None => self.unstable_from = Some(from),
        }
        out
    }

    /// The caller reports every write up to `seq` durable.
    pub fn persisted(&mut self, seq: u64) {
        while let Some(w) = self.pending.front() {
            if w.seq > seq {
                break;
            }
            self.durable_last = w.end;
            self.pending.pop_front();
        }
        let mut stable = self.durable_last.min(self.last_index());
        for w in &self.pending {
            stable = stable.min(w.start - 1);
        }
        // Changes not yet handed out as a write keep it below them too.
        for u in [self.unstable_from, self.snapshot_dirty_from]
            .into_iter()
            .flatten()
        {
            stable = stable.min(u - 1);
        }
        self.stable = stable;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    use crate::raft::message::EntryKind;

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Normal,
            data: Bytes::new(),
        }
    }

    fn log_of(terms: &[u64]) -> RaftLog {
        RaftLog::restore(
            None,
            terms
                .iter()
                .enumerate()
                .map(|(i, t)| e(i as u64 + 1, *t))
                .collect(),
        )
    }

    /// Non-decreasing terms, as a real log has.
    fn terms() -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::vec(0u64..3, 0..12).prop_map(|steps| {
            let mut t = 1;
            steps
                .into_iter()
                .map(|s| {
                    t += s;
                    t
                })
                .collect()
        })
    }

    #[test]
    fn conflict_truncates_and_appends() {
        let mut log = log_of(&[1, 1, 2, 2]);
        let last = log.append_after(2, &[e(3, 3), e(4, 3), e(5, 3)]).unwrap();
        assert_eq!(last, 5);
        assert_eq!(log.term(3), Some(3));
        assert_eq!(log.stable(), 2);
        let (_, w) = log.take_unstable(1);
        assert_eq!(w.first().map(|e| e.index), Some(3));
        log.persisted(1);
        assert_eq!(log.stable(), 5);
    }

    #[test]
    fn stale_completion_does_not_raise_stable_over_a_later_truncation() {
        let mut log = log_of(&[]);
        log.append_after(0, &[e(1, 1), e(2, 1), e(3, 1)]).unwrap();
        let _ = log.take_unstable(1);
        log.append_after(1, &[e(2, 2)]).unwrap();
        let _ = log.take_unstable(2);
        log.persisted(1);
        assert_eq!(log.stable(), 1, "index 2 is being rewritten by write 2");
        log.persisted(2);
        assert_eq!(log.stable(), 2);
    }

    #[test]
    fn never_rewrites_a_committed_entry_nor_takes_gaps() {
        let mut log = log_of(&[1, 1, 2]);
        log.commit_to(2);
        assert_eq!(log.append_after(1, &[e(2, 3)]), None);
        assert_eq!(log.term(2), Some(1));
        assert_eq!(log.append_after(3, &[e(5, 3)]), None);
        assert_eq!(log.append_after(u64::MAX, &[e(0, 3)]), None);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.append_after(2, &[e(3, 3)]), Some(3));
        assert_eq!(log.term(3), Some(3));
    }

    /// A configuration entry counts from the moment it is in the log, and goes when a new
    /// leader's entries replace it; compaction keeps it in the snapshot's place.
    #[test]
    fn configuration_follows_the_log() {
        let config = |index, term, voters: &[u64]| Entry {
            index,
            term,
            kind: EntryKind::Config,
            data: crate::raft::codec::encode_membership(&Membership::with_voters(
                voters.iter().copied(),
            )),
        };
        let mut log = log_of(&[1, 1]);
        assert_eq!(log.membership(), None);
        log.append_after(2, &[config(3, 1, &[1, 2]), e(4, 1)])
            .unwrap();
        assert_eq!(
            log.membership().map(|(i, m)| (i, m.voters.len())),
            Some((3, 2))
        );
        assert_eq!(log.membership_at(2), None);
        log.append_after(2, &[e(3, 2)]).unwrap();
        assert_eq!(log.membership(), None, "undone with its entry");
        log.append_after(3, &[config(4, 2, &[7])]).unwrap();
        log.commit_to(4);
        let _ = log.take_committed();
        let snap = Snapshot {
            index: 4,
            term: 2,
            membership: log.membership_at(4).unwrap().clone(),
            data: Bytes::new(),
        };
        assert!(log.compact(snap));
        assert_eq!(
            log.membership().map(|(i, m)| (i, m.voters.len())),
            Some((4, 1))
        );
        let mut broken = config(5, 2, &[1]);
        broken.data = Bytes::from_static(&[9]);
        assert_eq!(log.append_after(4, &[broken]), None);
    }

    #[test]
    fn hints() {
        let log = log_of(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
        assert_eq!(log.last_index_of_term(1), Some(2));
    }

    proptest! {
        /// After a follower append, the log equals the leader's log up to the returned match
        /// index, and the entries before `prev` are untouched (log matching).
        #[test]
        fn append_makes_prefix_match(mine in terms(), leader in terms(), prev in 0usize..12, n in 0usize..6) {
            let mut log = log_of(&mine);
            let theirs = log_of(&leader);
            let prev = prev.min(leader.len()) as u64;
            prop_assume!(log.matches(prev, theirs.term(prev).unwrap()));
            let batch: Vec<Entry> = theirs.slice(prev + 1, prev + n as u64).to_vec();
            let before: Vec<Entry> = log.slice(1, prev).to_vec();
            let last = log.append_after(prev, &batch).unwrap();
            prop_assert_eq!(last, prev + batch.len() as u64);
            for i in prev + 1..=last {
                prop_assert_eq!(log.term(i), theirs.term(i));
            }
            prop_assert_eq!(log.slice(1, prev), &before[..]);
            // Entries past the batch survive only if nothing conflicted.
            if log.last_index() > last {
                for i in prev + 1..=last {
                    prop_assert_eq!(Some(log.entry(i).unwrap().term), mine.get(i as usize - 1).copied());
                }
            }
        }

        /// Commit never moves back nor past the log; applied follows commit exactly once.
        #[test]
        fn commit_and_apply(ts in terms(), commits in proptest::collection::vec(0u64..15, 0..8)) {
            let mut log = log_of(&ts);
            let mut seen = 0;
            for c in commits {
                let before = log.committed();
                log.commit_to(c);
                prop_assert!(log.committed() >= before);
                prop_assert!(log.committed() <= log.last_index());
                for entry in log.take_committed() {
                    seen += 1;
                    prop_assert_eq!(entry.index, seen);
                }
                prop_assert_eq!(log.applied(), log.committed());
            }
        }

        /// The stable mark never exceeds what was reported durable, and reaches the last
        /// index once every write is reported.
        #[test]
        fn stable_tracks_writes(ops in proptest::collection::vec((0u64..8, 1u64..4, 0usize..4, any::<bool>()), 1..20)) {
            let mut log = RaftLog::default();
            let mut seq = 0;
            let mut term = 1;
            for (prev, dt, n, report) in ops {
                term += dt;
                let prev = prev.min(log.last_index());
                let prev = prev.max(log.committed());
                let batch: Vec<Entry> = (1..=n as u64).map(|k| e(prev + k, term)).collect();
                prop_assert!(log.append_after(prev, &batch).is_some());
                seq += 1;
                let _ = log.take_unstable(seq);
                if report {
                    log.persisted(seq);
                    prop_assert_eq!(log.stable(), log.last_index());
                } else {
                    prop_assert!(log.stable() <= prev.max(log.stable()));
                }
                prop_assert!(log.stable() <= log.last_index());
            }
            log.persisted(seq);
            prop_assert_eq!(log.stable(), log.last_index());
        }
    }
}
