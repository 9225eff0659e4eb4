//! Reads without a log entry (ReadIndex, Raft thesis 6.4): the leader notes its commit
//! index when a read comes, confirms with a quorum that it still leads (a round of
//! ReadIndex messages sent after the read came), and releases the read once it has handed
//! out everything up to that index to apply. Cheaper than a log entry (no disk write), and
//! linearizable without trusting clocks (no lease).

use std::collections::{BTreeMap, VecDeque};

use super::{Output, ProposeError, Raft, Role};
use crate::raft::message::{Body, Message, NodeId};
use crate::time::Instant;

/// One read waiting.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    ctx: u64,
    /// The commit index when it came (at least this term's first entry).
    index: u64,
    /// The round of confirmation it waits for.
    seq: u64,
}

/// The leader's reads, in the order they came (so their indexes never decrease).
#[derive(Debug, Default)]
pub(super) struct Reads {
    pending: VecDeque<PendingRead>,
    /// The last round asked.
    seq: u64,
    /// Per voter, the last round it confirmed.
    acks: BTreeMap<NodeId, u64>,
    /// Every round up to this one is confirmed by a quorum.
    confirmed: u64,
}

impl Reads {
    /// Drops every read (leadership lost: they are never answered).
    pub(super) fn clear(&mut self) {
        self.pending.clear();
        self.acks.clear();
    }
}

impl Raft {
    /// Asks to serve a read identified by `ctx` without writing to the log; an
    /// [`Output::ReadReady`] with `ctx` follows once it may be answered from the state
    /// machine, unless leadership is lost first (then it never comes: ask again).
    pub fn read_index(&mut self, now: Instant, ctx: u64) -> Result<(), ProposeError> {
        let _ = now;
        self.check_leader()?;
        // Until an entry of this term commits, the commit index may be behind what earlier
        // leaders committed; this term's first entry (not committed, so still in the log)
        // is past all of it.
        let committed = self.log.committed();
        let index = if self.log.term(committed) == Some(self.term) {
            committed
        } else {
            self.log
                .last_index_of_term(self.term)
                .map_or(committed, |i| self.log.first_index_of_term_at(i))
        };
        self.reads.seq += 1;
        let seq = self.reads.seq;
        self.reads
            .pending
            .push_back(PendingRead { ctx, index, seq });
        let me = self.cfg.id;
        let voters: Vec<NodeId> = self.membership().voters.iter().copied().collect();
        for v in voters.into_iter().filter(|v| *v != me) {
            self.send(
                v,
                Message {
                    term: self.term,
                    body: Body::ReadIndex { seq },
                },
            );
        }
        self.confirm_reads();
        self.flush();
        Ok(())
    }

    /// A follower's answer to the leader of its term.
    pub(super) fn handle_read_index(&mut self, now: Instant, from: NodeId, seq: u64) {
        if self.follow(now, from) {
            self.send(
                from,
                Message {
                    term: self.term,
                    body: Body::ReadIndexResp { seq },
                },
            );
        }
    }

    pub(super) fn handle_read_index_resp(&mut self, from: NodeId, seq: u64) {
        if self.role != Role::Leader || !self.membership().is_voter(from) {
            return;
        }
        let ack = self.reads.acks.entry(from).or_default();
        *ack = (*ack).max(seq);
        self.confirm_reads();
    }

    /// Raises the confirmed round to the highest one a quorum of voters (this leader, if a
    /// voter, confirms every round) has answered.
    fn confirm_reads(&mut self) {
        let m = self.membership();
        let mut acks: Vec<u64> = m
            .voters
            .iter()
            .map(|v| {
                if *v == self.cfg.id {
                    self.reads.seq
                } else {
                    self.reads.acks.get(v).copied().unwrap_or(0)
                }
            })
            .collect();
        acks.sort_unstable_by(|a, b| b.cmp(a));
        if let Some(&round) = acks.get(m.quorum() - 1) {
            self.reads.confirmed = self.reads.confirmed.max(round);
        }
    }

    /// Hands out the reads that are confirmed and whose index has been handed out to apply.
    pub(super) fn release_reads(&mut self) {
        let applied = self.log.applied();
        let reads = &mut self.reads;
        while let Some(r) = reads.pending.front() {
            if r.seq > reads.confirmed || r.index > applied {
                break;
            }
            self.outputs.push_back(Output::ReadReady {
                ctx: r.ctx,
                index: r.index,
            });
            reads.pending.pop_front();
        }
    }
}
