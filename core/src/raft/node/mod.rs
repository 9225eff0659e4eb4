//! The Raft state machine: its API, inputs, outputs and the durability gate. Elections are in
//! `election.rs`, replication in `replication.rs`, configuration changes in `conf_change.rs`,
//! leadership transfer in `transfer.rs`, reads without the log in `read.rs`.

mod conf_change;
mod election;
mod read;
mod replication;
mod transfer;

pub use transfer::TransferError;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use super::log::RaftLog;
use super::membership::{ConfChangeError, Membership};
use super::message::{Body, Entry, EntryKind, HardState, Message, NodeId, Snapshot};
use super::progress::Progress;
use crate::rng::Rng;
use crate::time::Instant;

/// Static configuration of one Raft member.
#[derive(Clone, Debug)]
pub struct Config {
    /// This member.
    pub id: NodeId,
    /// The initial voters: the configuration until the log or a snapshot carries one. The
    /// members that start a group all get the same list; a member joining a running group
    /// gets none (it neither campaigns nor votes until a configuration adds it).
    pub voters: Vec<NodeId>,
    /// Base election timeout; each timeout is drawn from `[base, 2 * base)`.
    pub election_timeout: Duration,
    /// How often a leader sends heartbeats (well below `election_timeout`).
    pub heartbeat_interval: Duration,
    /// Ask for pre-votes before raising the term (a rejoining node cannot depose a leader).
    pub pre_vote: bool,
    /// A leader that has not heard from a quorum for an election timeout steps down, and
    /// followers that heard from a leader within one refuse to vote (leader lease).
    pub check_quorum: bool,
    /// Most entries in one append.
    pub max_batch_entries: usize,
    /// Most payload bytes in one append (at least one entry is always sent).
    pub max_batch_bytes: usize,
    /// Most appends in flight to one follower while streaming.
    pub max_inflight: usize,
}

impl Config {
    /// Defaults for `id` among `voters`: 150 ms election timeout, 50 ms heartbeats, pre-vote
    /// and check-quorum on.
    pub fn new(id: NodeId, voters: Vec<NodeId>) -> Config {
        Config {
            id,
            voters,
            election_timeout: Duration::from_millis(150),
            heartbeat_interval: Duration::from_millis(50),
            pre_vote: true,
            check_quorum: true,
            max_batch_entries: 64,
            max_batch_bytes: 64 * 1024,
            max_inflight: 8,
        }
    }
}

/// A member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Collecting pre-votes; the term is not raised yet.
    PreCandidate,
    Candidate,
    Leader,
}

/// What the caller must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `msg` to peer `to` (best effort: loss, delay and reordering are fine).
    Send { to: NodeId, msg: Message },
    /// Make this durable, in order, then call [`Raft::persisted`] with `seq`.
    /// `hard_state`, if any, replaces the stored one. A `snapshot` replaces the stored
    /// snapshot and the whole stored log, and `entries` are then the log after it.
    /// Otherwise non-empty `entries` replace the log from `entries[0].index` on (later
    /// entries on disk are discarded). A write must be atomic: a crash leaves it whole or
    /// not at all.
    Persist {
        seq: u64,
        hard_state: Option<HardState>,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    },
    /// Replace the state machine with this snapshot (a leader's, installed because this
    /// member lacked the entries it covers); later [`Output::Apply`]s continue after it.
    Restore(Snapshot),
    /// Apply these committed entries to the state machine, in order.
    Apply(Vec<Entry>),
    /// The read asked for with [`Raft::read_index`] and `ctx` may be answered now from the
    /// state machine: this member still led when it came, and everything committed then
    /// (up to `index`) has been handed out to apply.
    ReadReady { ctx: u64, index: u64 },
}

/// Why a proposal was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposeError {
    /// Only the leader takes proposals; `leader` is the last one heard of.
    NotLeader { leader: Option<NodeId> },
    /// A configuration change must wait: the last one is not committed yet, or this leader
    /// has not committed an entry of its own term yet.
    ChangeInProgress,
    /// The change does not apply to the current configuration.
    InvalidChange(ConfChangeError),
    /// The leader is handing over to another member ([`Raft::transfer_leader`]).
    Transferring,
}

/// Why [`Raft::compact`] did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompactError {
    /// The index is not applied yet (or past the log).
    NotApplied { applied: u64 },
    /// The log is already compacted up to `first_index - 1`, at or past the index.
    Compacted { first_index: u64 },
}

/// Where a proposal went: it is committed once an entry with this index and term is applied
/// (a different term at that index means it was lost to a new leader).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Proposed {
    pub index: u64,
    pub term: u64,
}

/// One Raft member as a pure state machine. Every input method ends by queueing outputs;
/// drain them with [`Raft::poll_output`] and call [`Raft::tick`] at [`Raft::poll_timeout`].
#[derive(Debug)]
pub struct Raft {
    cfg: Config,
    /// The configuration while the log and snapshot carry none (from `cfg.voters`).
    initial: Membership,
    rng: Rng,
    term: u64,
    vote: Option<NodeId>,
    role: Role,
    leader: Option<NodeId>,
    log: RaftLog,
    hs_dirty: bool,
    next_seq: u64,
    persisted_seq: u64,
    outputs: VecDeque<Output>,
    /// Messages waiting for the disk: sent once the write with seq `.0` (the latest hard
    /// state when they were made) is durable and the log is stable up to `.1`.
    held: Vec<(u64, u64, NodeId, Message)>,
    /// Messages of the current call that must wait for the disk, with the stable index
    /// they need.
    gated: Vec<(NodeId, Message, u64)>,
    /// The last write that carries a hard state (0: the one restored from disk).
    hs_seq: u64,
    votes: BTreeMap<NodeId, bool>,
    /// The write carrying this candidate's vote for itself.
    self_vote_seq: u64,
    progress: BTreeMap<NodeId, Progress>,
    election_deadline: Instant,
    heartbeat_deadline: Instant,
    quorum_deadline: Instant,
    leader_heard: Option<Instant>,
    /// A leadership transfer under way: the target, and when to give up.
    transfer: Option<(NodeId, Instant)>,
    /// Reads waiting for their round of confirmation and for the apply index.
    reads: read::Reads,
}

impl Raft {
    /// A fresh member with an empty log.
    pub fn new(cfg: Config, seed: u64, now: Instant) -> Raft {
        Raft::restore(cfg, seed, now, HardState::default(), None, Vec::new())
    }

    /// A member recovered from what it persisted: its hard state, its snapshot (which the
    /// caller loads into its state machine) and the log after it (consecutive entries, from
    /// index 1 without a snapshot). Commit and apply start again from the snapshot.
    pub fn restore(
        cfg: Config,
        seed: u64,
        now: Instant,
        hs: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    ) -> Raft {
        let mut r = Raft {
            initial: Membership::with_voters(cfg.voters.iter().copied()),
            cfg,
            rng: Rng::new(seed),
            term: hs.term,
            vote: hs.vote,
            role: Role::Follower,
            leader: None,
            log: RaftLog::restore(snapshot, entries),
            hs_dirty: false,
            next_seq: 1,
            persisted_seq: 0,
            outputs: VecDeque::new(),
            held: Vec::new(),
            gated: Vec::new(),
            hs_seq: 0,
            votes: BTreeMap::new(),
            self_vote_seq: 0,
            progress: BTreeMap::new(),
            election_deadline: now,
            heartbeat_deadline: now,
            quorum_deadline: now,
            leader_heard: None,
            transfer: None,
            reads: read::Reads::default(),
        };
        r.reset_election_timer(now);
        r
    }

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }

    pub fn term(&self) -> u64 {
        self.term
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// The leader this member last heard of in its current term.
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
        }
    }

    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    /// The configuration in effect: the latest in the log, committed or not.
    pub fn membership(&self) -> &Membership {
        self.log.membership().map_or(&self.initial, |(_, m)| m)
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the member next wants [`Raft::tick`].
    pub fn poll_timeout(&self) -> Instant {
        match self.role {
            Role::Leader if self.cfg.check_quorum => {
                self.heartbeat_deadline.min(self.quorum_deadline)
            }
            Role::Leader => self.heartbeat_deadline,
            _ => self.election_deadline,
        }
    }

    /// Time passes: heartbeats, check-quorum, election timeouts.
    pub fn tick(&mut self, now: Instant) {
        if self.role == Role::Leader {
            if now >= self.heartbeat_deadline {
                self.heartbeat_deadline = now + self.cfg.heartbeat_interval;
                self.broadcast_heartbeat();
                self.tick_transfer(now);
            }
            if self.cfg.check_quorum && now >= self.quorum_deadline {
                self.quorum_deadline = now + self.cfg.election_timeout;
                let m = self.membership();
                let active = m.is_voter(self.cfg.id) as usize
                    + self
                        .progress
                        .iter()
                        .filter(|(id, p)| p.recent_active && m.is_voter(**id))
                        .count();
                let quorum = m.quorum();
                for p in self.progress.values_mut() {
                    p.recent_active = false;
                }
                if active < quorum {
                    self.become_follower(now, self.term, None);
                }
            }
        } else if now >= self.election_deadline {
            if self.membership().is_voter(self.cfg.id) {
                self.campaign(now);
            } else {
                self.reset_election_timer(now);
            }
        }
        self.flush();
    }

    /// Proposes `data`; only a leader accepts.
    pub fn propose(&mut self, now: Instant, data: Bytes) -> Result<Proposed, ProposeError> {
        self.check_leader()?;
        Ok(self.append(now, EntryKind::Normal, data))
    }

    fn check_leader(&self) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        Ok(())
    }

    /// Appends an entry as leader, sends it on and issues its write.
    fn append(&mut self, now: Instant, kind: EntryKind, data: Bytes) -> Proposed {
        let index = self.log.last_index() + 1;
        self.log.push(Entry {
            index,
            term: self.term,
            kind,
            data,
        });
        if kind == EntryKind::Config {
            self.sync_progress();
        }
        self.replicate_all();
        self.advance_commit(now);
        self.flush();
        Proposed {
            index,
            term: self.term,
        }
    }

    /// The caller's state machine, having applied everything up to `index`, is `data`: the
    /// log drops the entries up to there for a snapshot of it (written out with an
    /// [`Output::Persist`], and sent to followers that need what was dropped). Compact at
    /// a distance behind the applied index so that a briefly lagging follower still gets
    /// entries rather than the whole snapshot.
    pub fn compact(&mut self, now: Instant, index: u64, data: Bytes) -> Result<(), CompactError> {
        let _ = now;
        let applied = self.log.applied();
        if index > applied {
            return Err(CompactError::NotApplied { applied });
        }
        let first_index = self.log.first_index();
        let Some(term) = self.log.term(index).filter(|_| index >= first_index) else {
            return Err(CompactError::Compacted { first_index });
        };
        let snapshot = Snapshot {
            index,
            term,
            membership: self
                .log
                .membership_at(index)
                .unwrap_or(&self.initial)
                .clone(),
            data,
        };
        let compacted = self.log.compact(snapshot);
        debug_assert!(compacted, "checked above");
        self.flush();
        Ok(())
    }

    /// The caller made every [`Output::Persist`] up to `seq` durable.
    pub fn persisted(&mut self, now: Instant, seq: u64) {
        let _ = now;
        if seq > self.persisted_seq {
            self.persisted_seq = seq;
        }
        self.log.persisted(self.persisted_seq);
        self.release_held();
        if self.role == Role::Leader {
            self.advance_commit(now);
        } else if self.role == Role::Candidate {
            self.tally(now);
        }
        self.flush();
    }

    /// A message from peer `from` (whether a member or not: a leader may be one this member
    /// has not yet learnt is in the configuration; only voters' votes count).
    pub fn step(&mut self, now: Instant, from: NodeId, msg: Message) {
        if from == self.cfg.id {
            return;
        }
        self.step_inner(now, from, msg);
        self.flush();
    }

    fn step_inner(&mut self, now: Instant, from: NodeId, msg: Message) {
        if msg.term > self.term {
            match msg.body {
                Body::Vote { pre: true, .. } => {
                    self.handle_vote(now, from, msg);
                    return;
                }
                Body::Vote {
                    pre: false,
                    transfer: false,
                    ..
                } if self.in_lease(now) => return,
                Body::VoteResp {
                    pre: true,
                    granted: true,
                } => {}
                Body::Append { .. } | Body::InstallSnapshot { .. } => {
                    self.become_follower(now, msg.term, Some(from))
                }
                _ => self.become_follower(now, msg.term, None),
            }
        } else if msg.term < self.term {
            let body = match msg.body {
                Body::Append { .. } | Body::InstallSnapshot { .. } => Body::AppendResp {
                    success: false,
                    index: 0,
                    hint: None,
                },
                Body::Vote { pre, .. } => Body::VoteResp {
                    pre,
                    granted: false,
                },
                _ => return,
            };
            self.send(
                from,
                Message {
                    term: self.term,
                    body,
                },
            );
            return;
        }
        if self.role == Role::Leader {
            if let Some(p) = self.progress.get_mut(&from) {
                p.recent_active = true;
            }
        }
        match msg.body {
            Body::Vote { .. } => self.handle_vote(now, from, msg),
            Body::VoteResp { pre, granted } => {
                let expected = if pre {
                    Role::PreCandidate
                } else {
                    Role::Candidate
                };
                if self.role == expected {
                    self.votes.insert(from, granted);
                    self.tally(now);
                }
            }
            Body::Append { .. } => self.handle_append(now, from, msg),
            Body::InstallSnapshot { snapshot } => self.handle_snapshot(now, from, snapshot),
            Body::TimeoutNow => self.handle_timeout_now(now, from),
            Body::ReadIndex { seq } => self.handle_read_index(now, from, seq),
            Body::ReadIndexResp { seq } => self.handle_read_index_resp(from, seq),
            Body::AppendResp {
                success,
                index,
                hint,
            } => {
                if self.role == Role::Leader {
                    self.handle_append_resp(now, from, success, index, hint);
                }
            }
        }
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.outputs.push_back(Output::Send { to, msg });
    }

    /// Sends `msg` once the current term and vote are durable and the log is durable up to
    /// `stable` (an acknowledgement of entries up to `stable`).
    fn send_gated(&mut self, to: NodeId, msg: Message, stable: u64) {
        self.gated.push((to, msg, stable));
    }

    fn release_held(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let (persisted, stable, term) = (self.persisted_seq, self.log.stable(), self.term);
        let mut keep = Vec::new();
        for (seq, need, to, msg) in std::mem::take(&mut self.held) {
            if msg.term < term {
                continue; // Stale: its term is over.
            }
            if seq <= persisted && need <= stable {
                self.outputs.push_back(Output::Send { to, msg });
            } else {
                keep.push((seq, need, to, msg));
            }
        }
        self.held = keep;
    }

    /// Ends every input: issues the write for what changed, releases or holds the messages
    /// that wait for it, hands out newly committed entries.
    fn flush(&mut self) {
        let (snapshot, entries) = self.log.take_unstable(self.next_seq);
        if snapshot.is_some() || !entries.is_empty() || self.hs_dirty {
            let seq = self.next_seq;
            self.next_seq += 1;
            let hard_state = self.hs_dirty.then(|| self.hard_state());
            if self.hs_dirty {
                self.hs_seq = seq;
            }
            self.hs_dirty = false;
            self.outputs.push_back(Output::Persist {
                seq,
                hard_state,
                snapshot,
                entries,
            });
        }
        for (to, msg, need) in std::mem::take(&mut self.gated) {
            self.held.push((self.hs_seq, need, to, msg));
        }
        self.release_held();
        if let Some(snapshot) = self.log.take_restore() {
            self.outputs.push_back(Output::Restore(snapshot));
        }
        let committed = self.log.take_committed();
        if !committed.is_empty() {
            self.outputs.push_back(Output::Apply(committed));
        }
        self.release_reads();
    }
}

#[cfg(test)]
impl Raft {
    pub(crate) fn cfg_mut_for_tests(&mut self) -> &mut Config {
        &mut self.cfg
    }

    /// The seq the next write will get.
    pub(crate) fn next_seq_for_tests(&self) -> u64 {
        self.next_seq
    }
}
