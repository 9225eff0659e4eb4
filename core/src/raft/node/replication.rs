//! Replication: appends and their answers, flow control, heartbeats, commit by quorum.

use super::{Raft, Role};
use crate::raft::message::{Body, ConflictHint, Message, NodeId, Snapshot};
use crate::raft::progress::ProgressState;
use crate::time::Instant;

impl Raft {
    pub(super) fn handle_append(&mut self, now: Instant, from: NodeId, msg: Message) {
        let Body::Append {
            prev_index,
            prev_term,
            commit,
            entries,
        } = msg.body
        else {
            return;
        };
        if !self.follow(now, from) {
            return;
        }
        if prev_index < self.log.committed() {
            // Stale or reaching below a compaction: what is committed here matches the
            // leader (leader completeness); it sends on from there.
            self.ack_committed(from);
        } else if self.log.matches(prev_index, prev_term) {
            let Some(last) = self.log.append_after(prev_index, &entries) else {
                return; // Contradicts the committed log: not from a correct leader.
            };
            self.log.commit_to(commit.min(last));
            self.ack(from, last);
        } else {
            let hint = match self.log.term(prev_index) {
                None => ConflictHint {
                    term: None,
                    index: self.log.last_index() + 1,
                },
                Some(t) => ConflictHint {
                    term: Some(t),
                    index: self.log.first_index_of_term_at(prev_index),
                },
            };
            self.send(
                from,
                Message {
                    term: self.term,
                    body: Body::AppendResp {
                        success: false,
                        index: prev_index,
                        hint: Some(hint),
                    },
                },
            );
        }
    }

    /// A leader's snapshot: ignored if everything it covers is committed here, a commit
    /// point if the log holds its last entry, otherwise it replaces the log (and the state
    /// machine). Acknowledged at its index once durable.
    pub(super) fn handle_snapshot(&mut self, now: Instant, from: NodeId, snapshot: Snapshot) {
        if !self.follow(now, from) {
            return;
        }
        let index = snapshot.index;
        if index <= self.log.committed() {
            self.ack_committed(from);
            return;
        }
        if self.log.matches(index, snapshot.term) {
            self.log.commit_to(index);
        } else {
            self.log.install(snapshot);
        }
        self.ack(from, index);
    }

    /// Follows `from`, the leader of the current term (false if this member leads it).
    pub(super) fn follow(&mut self, now: Instant, from: NodeId) -> bool {
        if self.role == Role::Leader {
            return false; // Another leader in our term cannot exist.
        }
        if self.role != Role::Follower {
            self.become_follower(now, self.term, Some(from));
        }
        self.leader = Some(from);
        self.leader_heard = Some(now);
        self.reset_election_timer(now);
        true
    }

    fn ack_committed(&mut self, to: NodeId) {
        self.ack(to, self.log.committed());
    }

    /// Tells the leader the log matches its own up to `index`, once durable up to there.
    fn ack(&mut self, to: NodeId, index: u64) {
        self.send_gated(
            to,
            Message {
                term: self.term,
                body: Body::AppendResp {
                    success: true,
                    index,
                    hint: None,
                },
            },
            index,
        );
    }

    pub(super) fn handle_append_resp(
        &mut self,
        now: Instant,
        from: NodeId,
        success: bool,
        index: u64,
        hint: Option<ConflictHint>,
    ) {
        let last_index = self.log.last_index();
        let Some(pr) = self.progress.get_mut(&from) else {
            return;
        };
        if success {
            if index > last_index {
                return; // Not an answer to this leader's log.
            }
            if pr.ack(index) {
                self.advance_commit(now);
                if self.transferring_to() == Some(from) {
                    self.send_timeout_now_if_caught_up();
                }
            }
        } else {
            let stale = match pr.state {
                ProgressState::Replicate => index <= pr.matched,
                ProgressState::Probe => index.checked_add(1) != Some(pr.next),
            };
            if stale {
                return;
            }
            let h = hint.unwrap_or(ConflictHint { term: None, index });
            let next = match h.term.and_then(|t| self.log.last_index_of_term(t)) {
                Some(i) => i + 1,
                None => h.index,
            };
            pr.probe(next.min(index).min(last_index + 1).max(1));
        }
        self.replicate(from);
    }

    /// Sends appends to `to` while its window allows and there is something to send.
    pub(super) fn replicate(&mut self, to: NodeId) {
        while self.send_append(to, false) {}
    }

    pub(super) fn replicate_all(&mut self) {
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        for p in peers {
            self.replicate(p);
        }
    }

    /// Sends one append to `to`; returns whether another may follow at once.
    pub(super) fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let Some(pr) = self.progress.get(&to) else {
            return false;
        };
        if !pr.can_send(self.cfg.max_inflight) {
            return false;
        }
        let prev_index = pr.next - 1;
        let replicate = pr.state == ProgressState::Replicate;
        let Some(prev_term) = self.log.term(prev_index) else {
            self.send_snapshot(to);
            return false;
        };
        let mut entries = Vec::new();
        let mut bytes = 0;
        for e in self
            .log
            .slice(pr.next, self.log.last_index())
            .iter()
            .take(self.cfg.max_batch_entries)
        {
            if !entries.is_empty() && bytes + e.data.len() > self.cfg.max_batch_bytes {
                break;
            }
            bytes += e.data.len();
            entries.push(e.clone());
        }
        if entries.is_empty() && replicate && !allow_empty {
            return false;
        }
        let last = prev_index + entries.len() as u64;
        let msg = Message {
            term: self.term,
            body: Body::Append {
                prev_index,
                prev_term,
                commit: self.log.committed(),
                entries,
            },
        };
        self.send(to, msg);
        let pr = self.progress.get_mut(&to).expect("checked");
        pr.sent(last);
        pr.state == ProgressState::Replicate && last < self.log.last_index()
    }

    /// Sends the snapshot to `to`, which needs entries compacted away, and waits for its
    /// answer (or the next heartbeat, which sends it again) before anything else.
    fn send_snapshot(&mut self, to: NodeId) {
        let Some(snapshot) = self.log.snapshot().cloned() else {
            return;
        };
        let pr = self.progress.get_mut(&to).expect("checked by the caller");
        pr.probe(pr.next);
        pr.sent(snapshot.index);
        self.send(
            to,
            Message {
                term: self.term,
                body: Body::InstallSnapshot { snapshot },
            },
        );
    }

    /// A heartbeat: probes again where probing, restarts a stalled pipeline, and tells
    /// streaming followers the commit index (an empty append at their match point).
    pub(super) fn broadcast_heartbeat(&mut self) {
        let last = self.log.last_index();
        let peers: Vec<NodeId> = self.progress.keys().copied().collect();
        for to in peers {
            let pr = self.progress.get_mut(&to).expect("listed");
            match pr.state {
                ProgressState::Probe => {
                    pr.paused = false;
                    self.send_append(to, true);
                }
                ProgressState::Replicate => {
                    if pr.matched < last && pr.matched == pr.matched_at_heartbeat {
                        let next = pr.matched + 1;
                        pr.probe(next);
                        self.send_append(to, true);
                    } else {
                        self.send_commit(to);
                        self.replicate(to);
                    }
                }
            }
            let pr = self.progress.get_mut(&to).expect("listed");
            pr.matched_at_heartbeat = pr.matched;
        }
    }

    /// An empty append at `to`'s match point, carrying the commit index.
    pub(super) fn send_commit(&mut self, to: NodeId) {
        let matched = self.progress[&to].matched;
        let Some(prev_term) = self.log.term(matched) else {
            return;
        };
        self.send(
            to,
            Message {
                term: self.term,
                body: Body::Append {
                    prev_index: matched,
                    prev_term,
                    commit: self.log.committed(),
                    entries: Vec::new(),
                },
            },
        );
    }

    pub(super) fn broadcast_commit(&mut self) {
        let peers: Vec<NodeId> = self
            .progress
            .iter()
            .filter(|(_, p)| p.state == ProgressState::Replicate)
            .map(|(id, _)| *id)
            .collect();
        for p in peers {
            self.send_commit(p);
        }
    }

    /// Commits what a quorum holds, tells the followers, and steps down once the leader's
    /// own removal is committed.
    pub(super) fn advance_commit(&mut self, now: Instant) {
        if self.maybe_commit() {
            self.broadcast_commit();
            self.step_down_if_removed(now);
        }
    }

    /// Commits the highest index a quorum of voters holds durably, if it is of the current
    /// term. The leader counts itself only while it is a voter.
    fn maybe_commit(&mut self) -> bool {
        let m = self.membership();
        let mut matched: Vec<u64> = m
            .voters
            .iter()
            .map(|v| {
                if *v == self.cfg.id {
                    self.log.stable()
                } else {
                    self.progress.get(v).map_or(0, |p| p.matched)
                }
            })
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&index) = matched.get(m.quorum() - 1) else {
            return false;
        };
        if index > self.log.committed() && self.log.term(index) == Some(self.term) {
            self.log.commit_to(index)
        } else {
            false
        }
    }
}
