//! Model-based properties of the Raft log (`rnats_core::raft::log::RaftLog`): random
//! sequences of follower appends (with conflicts that truncate), commits, applies,
//! compactions, snapshot installs, writes and their completions, checked after every step
//! against a plain model of the log and of what the disk holds:
//!
//! - the log holds exactly the model's entries from its first index on, and nothing the
//!   snapshot covers;
//! - committed entries never change, commit never moves back, applies come out once each,
//!   in order;
//! - `stable` never overstates the disk: up to it, the disk (as written by the writes
//!   reported durable) holds the same entries as memory, so a crash recovers them;
//! - once every write is reported, `stable` is the last index (no write is forgotten).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use proptest::prelude::*;
use rnats_core::raft::log::RaftLog;
use rnats_core::raft::{Entry, EntryKind, Membership, Snapshot};

#[derive(Clone, Debug)]
enum Op {
    /// A leader's append after `prev` (clamped to `committed..=last`), of `n` entries of the
    /// newest term plus `bump`.
    Append {
        prev: u64,
        n: u64,
        bump: u64,
    },
    Commit(u64),
    Apply,
    /// Compact at `applied - back` (when that is in the log).
    Compact {
        back: u64,
    },
    /// A leader's snapshot `ahead` past the commit index.
    Install {
        ahead: u64,
        bump: u64,
    },
    /// Hand the changes to the disk as a write.
    Write,
    /// Report the oldest `k` writes durable.
    Persist(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..20, 0u64..5, 0u64..2).prop_map(|(prev, n, bump)| Op::Append { prev, n, bump }),
        2 => (0u64..20).prop_map(Op::Commit),
        2 => Just(Op::Apply),
        1 => (0u64..4).prop_map(|back| Op::Compact { back }),
        1 => (1u64..6, 0u64..2).prop_map(|(ahead, bump)| Op::Install { ahead, bump }),
        3 => Just(Op::Write),
        2 => (1usize..4).prop_map(Op::Persist),
    ]
}

fn entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: Bytes::new(),
    }
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot {
        index,
        term,
        membership: Membership::default(),
        data: Bytes::new(),
    }
}

/// What the disk holds: a snapshot and the entries after it.
#[derive(Default)]
struct Disk {
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
}

impl Disk {
    fn write(&mut self, snapshot: Option<Snapshot>, entries: Vec<Entry>) {
        if let Some(s) = snapshot {
            self.snapshot = Some(s);
            self.entries.clear();
        }
        if let Some(first) = entries.first() {
            let offset = self.snapshot.as_ref().map_or(0, |s| s.index);
            self.entries.truncate((first.index - offset - 1) as usize);
            self.entries.extend(entries);
        }
    }

    fn recover(&self) -> RaftLog {
        RaftLog::restore(self.snapshot.clone(), self.entries.clone())
    }
}

struct World {
    log: RaftLog,
    /// The model: term of every index `1..=last` (indexes the snapshot covers included,
    /// 0 where unknown after an install).
    terms: Vec<u64>,
    /// Terms of entries once committed.
    committed_terms: BTreeMap<u64, u64>,
    max_term: u64,
    applied_seen: u64,
    seq: u64,
    writes: VecDeque<(u64, Option<Snapshot>, Vec<Entry>)>,
    disk: Disk,
}

impl World {
    fn new() -> World {
        World {
            log: RaftLog::default(),
            terms: Vec::new(),
            committed_terms: BTreeMap::new(),
            max_term: 1,
            applied_seen: 0,
            seq: 0,
            writes: VecDeque::new(),
            disk: Disk::default(),
        }
    }

    fn step(&mut self, op: Op) -> Result<(), TestCaseError> {
        let log = &mut self.log;
        match op {
            Op::Append { prev, n, bump } => {
                let prev = prev.clamp(log.committed(), log.last_index());
                self.max_term += bump;
                let batch: Vec<Entry> = (1..=n).map(|k| entry(prev + k, self.max_term)).collect();
                let last = log.append_after(prev, &batch);
                prop_assert_eq!(last, Some(prev + n));
                // The model: entries up to the first conflict stay, the rest is replaced.
                let conflict = batch.iter().find(|e| {
                    self.terms
                        .get(e.index as usize - 1)
                        .is_some_and(|t| *t != e.term)
                });
                if let Some(c) = conflict {
                    self.terms.truncate(c.index as usize - 1);
                }
                for e in &batch {
                    if e.index as usize > self.terms.len() {
                        self.terms.push(e.term);
                    }
                }
            }
            Op::Commit(to) => {
                let before = log.committed();
                log.commit_to(to);
                prop_assert!(log.committed() >= before);
                prop_assert!(log.committed() <= log.last_index());
            }
            Op::Apply => {
                for e in log.take_committed() {
                    self.applied_seen += 1;
                    prop_assert_eq!(e.index, self.applied_seen);
                }
                prop_assert_eq!(log.applied(), log.committed());
            }
            Op::Compact { back } => {
                let at = log.applied().saturating_sub(back);
                if at >= log.first_index() {
                    let term = log.term(at).expect("in the log");
                    prop_assert!(log.compact(snapshot(at, term)));
                    prop_assert_eq!(log.first_index(), at + 1);
                } else {
                    let term = log.term(at).unwrap_or(0);
                    prop_assert!(!log.compact(snapshot(at, term)));
                }
            }
            Op::Install { ahead, bump } => {
                let index = log.committed() + ahead;
                self.max_term += bump;
                let term = self.max_term;
                if log.matches(index, term) {
                    log.commit_to(index);
                } else {
                    log.install(snapshot(index, term));
                    self.terms = vec![0; index as usize];
                    self.terms[index as usize - 1] = term;
                    self.applied_seen = index;
                    self.committed_terms.retain(|i, _| *i >= index);
                    prop_assert_eq!(log.take_restore().map(|s| s.index), Some(index));
                }
            }
            Op::Write => {
                let (snapshot, entries) = log.take_unstable(self.seq + 1);
                if snapshot.is_some() || !entries.is_empty() {
                    self.seq += 1;
                    self.writes.push_back((self.seq, snapshot, entries));
                }
            }
            Op::Persist(k) => self.persist(k),
        }
        self.check()
    }

    fn persist(&mut self, k: usize) {
        let mut last = None;
        for _ in 0..k.min(self.writes.len()) {
            let (seq, snapshot, entries) = self.writes.pop_front().expect("counted");
            self.disk.write(snapshot, entries);
            last = Some(seq);
        }
        if let Some(seq) = last {
            self.log.persisted(seq);
        }
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        let log = &self.log;
        prop_assert_eq!(log.last_index(), self.terms.len() as u64);
        let offset = log.first_index() - 1;
        if offset > 0 {
            prop_assert_eq!(log.term(offset), Some(self.terms[offset as usize - 1]));
            prop_assert_eq!(log.term(offset - 1), None, "compacted");
        }
        for i in log.first_index()..=log.last_index() {
            prop_assert_eq!(log.term(i), Some(self.terms[i as usize - 1]), "index {}", i);
        }
        // Committed entries never change (while they are in the log).
        for i in offset.max(1)..=log.committed() {
            let t = log.term(i).expect("committed and not compacted");
            let first = *self.committed_terms.entry(i).or_insert(t);
            prop_assert_eq!(first, t, "committed entry {} changed", i);
        }
        prop_assert!(log.applied() <= log.committed());
        prop_assert!(log.stable() <= log.last_index());
        // Up to `stable` the disk holds what memory holds, and recovery finds it.
        let recovered = self.disk.recover();
        for i in log.first_index()..=log.stable() {
            prop_assert_eq!(
                recovered.term(i),
                log.term(i),
                "stable index {} not on disk",
                i
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn raft_log_follows_its_model(ops in proptest::collection::vec(op(), 1..80)) {
        let mut w = World::new();
        for op in ops {
            w.step(op)?;
        }
        // Every write reported: the whole log is stable and on disk.
        w.step(Op::Write)?;
        w.persist(usize::MAX);
        w.check()?;
        prop_assert_eq!(w.log.stable(), w.log.last_index());
        let recovered = w.disk.recover();
        prop_assert_eq!(recovered.last_index(), w.log.last_index());
    }
}
