//! What Raft peers say to each other, and what the log holds.

use bytes::Bytes;

use super::membership::Membership;

/// A peer's identity, chosen by the caller (stable across restarts).
pub type NodeId = u64;

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: u64,
    pub term: u64,
    pub kind: EntryKind,
    /// The proposal's bytes (empty for [`EntryKind::Noop`]).
    pub data: Bytes,
}

/// What an entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// The empty entry a new leader appends to commit its term.
    Noop,
    /// A caller proposal.
    Normal,
    /// A new configuration ([`Membership`], encoded with
    /// [`codec::encode_membership`](super::codec::encode_membership)).
    Config,
}

/// The state that must survive a crash before the node may act on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub vote: Option<NodeId>,
}

/// The caller's state machine as of `index` (inclusive): it stands in for every log entry up
/// to there, so the log can drop them (compaction) and a leader can send it to a follower
/// that needs entries it no longer has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last index it covers.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
    /// The configuration as of `index` (a member takes its configuration from here until
    /// its log has a later one).
    pub membership: Membership,
    /// The state machine's bytes, opaque to Raft.
    pub data: Bytes,
}

/// A message between peers. `term` is the sender's term, except in a pre-vote request
/// (the term the sender would campaign in) and a granted pre-vote response (that same term).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub term: u64,
    pub body: Body,
}

/// The kinds of message (the codec tags each, so a peer that does not know a kind rejects it
/// cleanly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Ask for a (pre-)vote. `transfer`: the candidate campaigns because the leader handed
    /// over ([`Body::TimeoutNow`]), so voters grant it even within their leader lease.
    Vote {
        pre: bool,
        transfer: bool,
        last_index: u64,
        last_term: u64,
    },
    /// Answer to [`Body::Vote`].
    VoteResp { pre: bool, granted: bool },
    /// Replicate entries after `prev_index`/`prev_term` (none for a heartbeat).
    Append {
        prev_index: u64,
        prev_term: u64,
        commit: u64,
        entries: Vec<Entry>,
    },
    /// The leader's snapshot, for a follower that needs entries the leader compacted away.
    /// Sent whole in one message (no chunking: the state machines this core serves keep
    /// small snapshots); the follower answers with [`Body::AppendResp`] at its index.
    InstallSnapshot { snapshot: Snapshot },
    /// From a leader handing over to a follower whose log it brought up to date: campaign
    /// now, without pre-vote.
    TimeoutNow,
    /// From a leader serving a read (ReadIndex): do you still follow me in this term?
    /// `seq` numbers the leader's rounds of asking.
    ReadIndex { seq: u64 },
    /// Answer to [`Body::ReadIndex`]: yes, as of round `seq`.
    ReadIndexResp { seq: u64 },
    /// Answer to [`Body::Append`] and [`Body::InstallSnapshot`]. On success `index` is the last index known to match
    /// (and durable on the follower). On rejection `index` is the rejected `prev_index` and
    /// `hint` says where to retry.
    AppendResp {
        success: bool,
        index: u64,
        hint: Option<ConflictHint>,
    },
}

/// A follower's fast-backtracking hint (Raft thesis 5.3 optimisation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConflictHint {
    /// The term of the follower's entry at the rejected index (`None`: its log is shorter).
    pub term: Option<u64>,
    /// The first index of that term in the follower's log, or its last index + 1.
    pub index: u64,
}
