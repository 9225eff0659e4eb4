//! The [`Observer`]: the Raft safety record of one run, shared by every host. It survives
//! crashes (it is the test's, not a node's) and checks, as the run goes and at its end,
//! election safety, log matching, leader completeness, state-machine safety (the same
//! entry and the same state at every index, snapshots included) and that no acknowledged
//! proposal is lost.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rnats_core::raft::{Entry, Membership, NodeId, Raft, Role};

use super::lock;

/// The safety record of one run, shared by every host (it survives crashes: it is the
/// test's, not a node's).
#[derive(Default)]
pub struct ObserverState {
    /// term -> leader (election safety).
    pub leaders: BTreeMap<u64, NodeId>,
    /// term -> the leader's log when it won: its first index and the terms from there on
    /// (what it compacted is in its snapshot, checked through the state digests), for
    /// leader completeness.
    pub leader_logs: BTreeMap<u64, (u64, Vec<u64>)>,
    /// index -> (term, data, the applier's term when first applied).
    pub applied: BTreeMap<u64, (u64, Bytes, u64)>,
    /// Proposals reported committed to the client: value -> (index, term).
    pub acked: BTreeMap<Bytes, (u64, u64)>,
    /// (index, term) -> data of every entry seen in any log (log matching on content).
    pub content: BTreeMap<(u64, u64), Bytes>,
    /// Per member: the next index it must apply (after a restart or a snapshot install it
    /// continues after the snapshot).
    pub next_apply: BTreeMap<NodeId, u64>,
    /// index -> the digest of the state machine once that index is applied (the first
    /// member's): every member, whether it applied or installed a snapshot, must agree.
    pub digests: BTreeMap<u64, u64>,
    /// Snapshots loaded from a leader.
    pub installs: u64,
    pub violations: Vec<String>,
    /// Members that are up, and their current `Raft` (for the final checks).
    pub live: BTreeMap<NodeId, Arc<Mutex<Raft>>>,
    pub decode_errors: u64,
    pub elections: u64,
}

/// Shared handle on the [`ObserverState`].
#[derive(Clone, Default)]
pub struct Observer(pub Arc<Mutex<ObserverState>>);

impl Observer {
    pub fn state(&self) -> MutexGuard<'_, ObserverState> {
        lock(&self.0)
    }

    /// The leader of the highest term seen.
    pub fn current_leader(&self) -> Option<NodeId> {
        self.state().leaders.values().next_back().copied()
    }

    pub(crate) fn saw_role(&self, r: &Raft) {
        if r.role() != Role::Leader {
            return;
        }
        let mut s = self.state();
        match s.leaders.get(&r.term()) {
            Some(&other) if other != r.id() => {
                let v = format!(
                    "election safety: term {} has leaders {other} and {}",
                    r.term(),
                    r.id()
                );
                if !s.violations.contains(&v) {
                    s.violations.push(v);
                }
            }
            Some(_) => {}
            None => {
                s.elections += 1;
                s.leaders.insert(r.term(), r.id());
                let log = r.log();
                let terms = log
                    .slice(1, log.last_index())
                    .iter()
                    .map(|e| e.term)
                    .collect();
                s.leader_logs.insert(r.term(), (log.first_index(), terms));
            }
        }
    }

    pub(crate) fn saw_entries(&self, entries: &[Entry]) {
        let mut s = self.state();
        for e in entries {
            match s.content.get(&(e.index, e.term)) {
                Some(d) if *d != e.data => {
                    let v = format!(
                        "log matching: two entries at index {} term {}",
                        e.index, e.term
                    );
                    s.violations.push(v);
                }
                Some(_) => {}
                None => {
                    s.content.insert((e.index, e.term), e.data.clone());
                }
            }
        }
    }

    /// Member `id` (in `term_now`) applied `e`, and its state machine is now `digest`.
    pub(crate) fn applied(&self, id: NodeId, term_now: u64, e: &Entry, digest: u64) {
        let mut s = self.state();
        s.check_digest(id, e.index, digest);
        let next = s.next_apply.insert(id, e.index + 1).unwrap_or(1);
        if e.index != next {
            let v = format!("member {id} applied index {} expecting {next}", e.index);
            s.violations.push(v);
        }
        match s.applied.get(&e.index) {
            Some((t, d, _)) if *t != e.term || *d != e.data => {
                let v = format!(
                    "state machine safety: index {} applied as term {t} and as term {} (member {id})",
                    e.index, e.term
                );
                s.violations.push(v);
            }
            Some(_) => {}
            None => {
                s.applied
                    .insert(e.index, (e.term, e.data.clone(), term_now));
            }
        }
    }

    /// The configuration member `id` is in, if it is up.
    pub fn membership_of(&self, id: NodeId) -> Option<Membership> {
        let s = self.state();
        s.live.get(&id).map(|r| lock(r).membership().clone())
    }

    /// The members of the configuration (the leader's, or every host without a leader)
    /// that have not applied `index` (or are down).
    pub fn members_behind(&self, index: u64) -> Vec<NodeId> {
        let s = self.state();
        let leader = s.live.values().find(|r| lock(r).role() == Role::Leader);
        let members: Vec<NodeId> = match leader {
            Some(r) => lock(r).membership().members().collect(),
            None => s.live.keys().copied().collect(),
        };
        members
            .into_iter()
            .filter(|id| {
                s.live
                    .get(id)
                    .is_none_or(|r| lock(r).log().applied() < index)
            })
            .collect()
    }

    /// Member `id` loaded a snapshot at `index` (from its disk at start, or from a leader)
    /// whose state has `digest`: it applies from `index + 1` on.
    pub(crate) fn restored(&self, id: NodeId, index: u64, digest: u64, install: bool) {
        let mut s = self.state();
        s.next_apply.insert(id, index + 1);
        s.installs += install as u64;
        s.check_digest(id, index, digest);
    }

    /// The checks that need the whole run: leader completeness, no acknowledged proposal
    /// lost, and log matching over the final logs of every live member.
    pub fn final_checks(&self) -> Vec<String> {
        let s = self.state();
        let mut v = s.violations.clone();
        for (index, (term, _, commit_term)) in &s.applied {
            for (lt, (first, log)) in s.leader_logs.range(commit_term + 1..) {
                let Some(k) = index.checked_sub(*first) else {
                    continue; // In that leader's snapshot.
                };
                if log.get(k as usize) != Some(term) {
                    v.push(format!(
                        "leader completeness: entry {index} (term {term}, committed by term {commit_term}) missing from the log of the term {lt} leader"
                    ));
                }
            }
        }
        for (value, (index, term)) in &s.acked {
            match s.applied.get(index) {
                Some((t, d, _)) if t == term && d == value => {}
                _ => v.push(format!(
                    "acknowledged proposal {:?} at {index}/{term} lost",
                    String::from_utf8_lossy(value)
                )),
            }
        }
        let logs: Vec<(NodeId, Vec<Entry>)> = s
            .live
            .iter()
            .map(|(id, r)| {
                let r = lock(r);
                let l = r.log();
                (*id, l.slice(1, l.last_index()).to_vec())
            })
            .collect();
        for (i, (a, la)) in logs.iter().enumerate() {
            for (b, lb) in &logs[i + 1..] {
                // Compare where both still hold entries.
                let (Some(fa), Some(fb)) = (la.first(), lb.first()) else {
                    continue;
                };
                let from = fa.index.max(fb.index);
                let la = &la[((from - fa.index) as usize).min(la.len())..];
                let lb = &lb[((from - fb.index) as usize).min(lb.len())..];
                let n = la.len().min(lb.len());
                if let Some(top) = (0..n).rev().find(|&k| la[k].term == lb[k].term) {
                    if la[..=top] != lb[..=top] {
                        v.push(format!(
                            "log matching: members {a} and {b} agree at index {} but differ below",
                            from + top as u64
                        ));
                    }
                }
            }
        }
        v
    }
}

impl ObserverState {
    fn check_digest(&mut self, id: NodeId, index: u64, digest: u64) {
        match self.digests.get(&index) {
            Some(d) if *d != digest => {
                let v =
                    format!("state machine safety: member {id} has a different state at {index}");
                self.violations.push(v);
            }
            Some(_) => {}
            None => {
                self.digests.insert(index, digest);
            }
        }
    }
}
