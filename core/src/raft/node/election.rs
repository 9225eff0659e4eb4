//! Elections: pre-vote, votes, the leader lease, role changes and the election timer.

use std::time::Duration;

use bytes::Bytes;

use super::{Raft, Role};
use crate::raft::message::{Body, Entry, EntryKind, Message, NodeId};
use crate::time::Instant;

impl Raft {
    pub(super) fn in_lease(&self, now: Instant) -> bool {
        self.cfg.check_quorum
            && (self.role == Role::Leader
                || (self.leader.is_some()
                    && self
                        .leader_heard
                        .is_some_and(|t| now - t < self.cfg.election_timeout)))
    }

    pub(super) fn handle_vote(&mut self, now: Instant, from: NodeId, msg: Message) {
        let Body::Vote {
            pre,
            last_index,
            last_term,
            ..
        } = msg.body
        else {
            return;
        };
        let up_to_date = self.log.is_up_to_date(last_index, last_term);
        if pre {
            let granted = msg.term > self.term && up_to_date && !self.in_lease(now);
            let term = if granted { msg.term } else { self.term };
            self.send(
                from,
                Message {
                    term,
                    body: Body::VoteResp { pre, granted },
                },
            );
        } else {
            let can_vote =
                self.vote == Some(from) || (self.vote.is_none() && self.leader.is_none());
            let granted = can_vote && up_to_date;
            if granted {
                self.vote = Some(from);
                self.hs_dirty = true;
                self.reset_election_timer(now);
            }
            // Never on the strength of an unsynced vote: held until the vote is durable.
            self.send_gated(
                from,
                Message {
                    term: self.term,
                    body: Body::VoteResp { pre, granted },
                },
                0,
            );
        }
    }

    pub(super) fn campaign(&mut self, now: Instant) {
        self.reset_election_timer(now);
        if self.cfg.pre_vote {
            self.role = Role::PreCandidate;
            self.leader = None;
            self.votes.clear();
            self.request_votes(true, self.term.saturating_add(1), false);
            self.tally(now);
        } else {
            self.become_candidate(now, false);
        }
    }

    /// Raises the term and asks for votes; `transfer` when the leader handed over.
    pub(super) fn become_candidate(&mut self, now: Instant, transfer: bool) {
        self.reset_election_timer(now);
        self.term = self.term.saturating_add(1);
        self.vote = Some(self.cfg.id);
        self.hs_dirty = true;
        self.role = Role::Candidate;
        self.leader = None;
        self.votes.clear();
        // The vote for itself is in the write `flush` issues at the end of this call.
        self.self_vote_seq = self.next_seq;
        self.request_votes(false, self.term, transfer);
        self.tally(now);
    }

    pub(super) fn request_votes(&mut self, pre: bool, term: u64, transfer: bool) {
        let body = Body::Vote {
            pre,
            transfer,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
        };
        let voters: Vec<NodeId> = self.membership().voters.iter().copied().collect();
        for v in voters {
            if v != self.cfg.id {
                let msg = Message {
                    term,
                    body: body.clone(),
                };
                if pre {
                    self.send(v, msg);
                } else {
                    self.send_gated(v, msg, 0);
                }
            }
        }
    }

    pub(super) fn tally(&mut self, now: Instant) {
        let self_vote = match self.role {
            Role::PreCandidate => true,
            Role::Candidate => self.persisted_seq >= self.self_vote_seq,
            _ => return,
        };
        let m = self.membership();
        let count = |want: bool| {
            self.votes
                .iter()
                .filter(|(id, g)| **g == want && m.is_voter(**id))
                .count()
        };
        let granted = count(true) + (self_vote && m.is_voter(self.cfg.id)) as usize;
        let rejected = count(false);
        let quorum = m.quorum();
        if granted >= quorum {
            match self.role {
                Role::PreCandidate => self.become_candidate(now, false),
                _ => self.become_leader(now),
            }
        } else if rejected >= quorum {
            self.become_follower(now, self.term, None);
        }
    }

    pub(super) fn become_leader(&mut self, now: Instant) {
        self.role = Role::Leader;
        self.leader = Some(self.cfg.id);
        let next = self.log.last_index() + 1;
        self.progress.clear();
        self.sync_progress();
        self.log.push(Entry {
            index: next,
            term: self.term,
            kind: EntryKind::Noop,
            data: Bytes::new(),
        });
        self.heartbeat_deadline = now + self.cfg.heartbeat_interval;
        self.quorum_deadline = now + self.cfg.election_timeout;
        self.replicate_all();
        self.advance_commit(now);
    }

    pub(super) fn become_follower(&mut self, now: Instant, term: u64, leader: Option<NodeId>) {
        if term > self.term {
            self.term = term;
            self.vote = None;
            self.hs_dirty = true;
        }
        self.role = Role::Follower;
        self.leader = leader;
        if leader.is_some() {
            self.leader_heard = Some(now);
        }
        self.progress.clear();
        self.votes.clear();
        self.transfer = None;
        self.reads.clear();
        self.reset_election_timer(now);
    }

    pub(super) fn reset_election_timer(&mut self, now: Instant) {
        let base = self.cfg.election_timeout.as_nanos() as u64;
        let jitter = self.rng.next_u64() % base.max(1);
        self.election_deadline = now + Duration::from_nanos(base + jitter);
    }
}
