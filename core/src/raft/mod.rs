//! Raft consensus as a pure state machine (sans-IO, in the style of raft-rs's `RawNode`).
//!
//! The caller owns time, the network and the disk:
//!
//! ```text
//! raft.tick(now)                      // at raft.poll_timeout()
//! raft.step(now, from, msg)           // a message from a peer (decode with codec::decode_message)
//! raft.propose(now, data)             // on the leader: -> Proposed { index, term }
//! raft.persisted(now, seq)            // every Output::Persist up to seq is durable
//! while let Some(out) = raft.poll_output() {
//!     Output::Send { to, msg }        // best effort
//!     Output::Persist { seq, hard_state, snapshot, entries }  // write in order, fsync, then persisted(seq)
//!     Output::Restore(snapshot)       // load a leader's snapshot into the state machine
//!     Output::Apply(entries)          // committed, in order
//!     Output::ReadReady { ctx, index } // a read_index read may be answered now
//! }
//! raft.compact(now, index, data)      // the state machine at `index` replaces the log up to it
//! raft.propose_conf_change(now, ConfChange::AddLearner(id))   // then AddVoter(id), Remove(id)
//! raft.transfer_leader(now, id)       // hand leadership to voter `id`
//! raft.read_index(now, ctx)           // a linearizable read without a log entry
//! ```
//!
//! Durability contract: a vote, a vote for itself, an append acknowledgement and the
//! leader's own match index all count only after the write that carries them is reported
//! with [`Raft::persisted`]. Vote and append responses are held inside the core until then.
//!
//! Implemented: elections with randomized timeouts (from a seeded [`crate::rng::Rng`]),
//! pre-vote, check-quorum with leader lease, pipelined and batched replication with
//! probe/replicate flow control, commit by quorum with the current-term rule, fast
//! backtracking with conflict hints, and a versioned binary codec ([`codec`]).
//!
//! Snapshots: the caller compacts with a snapshot of its state machine; a leader whose
//! follower needs compacted entries sends the snapshot whole (one InstallSnapshot message,
//! resent at each heartbeat until answered); the follower writes it and loads it
//! ([`Output::Restore`]), and acknowledges it once the write is durable.
//!
//! Membership ([`membership`]): voters and learners, changed one member at a time through
//! configuration entries that take effect when appended; one uncommitted change at a time,
//! none before the leader commits an entry of its term; a leader removed steps down once
//! its removal commits.
//!
//! Leadership transfer: the leader stops taking proposals, brings the target's log up to
//! date and sends it TimeoutNow; the target campaigns at once, without pre-vote, and voters
//! grant it despite their lease. Given up after an election timeout.
//!
//! Reads (ReadIndex): the leader notes its commit index (at least its term's first entry),
//! confirms with a quorum that it still leads, and releases the read once it handed out
//! everything up to that index to apply; no log entry, no disk write, no clock trusted.

pub mod codec;
pub mod log;
pub mod membership;
pub mod message;
pub mod node;
pub mod progress;
#[cfg(test)]
mod tests;

pub use membership::{ConfChange, ConfChangeError, Membership};
pub use message::{Body, ConflictHint, Entry, EntryKind, HardState, Message, NodeId, Snapshot};
pub use node::{CompactError, Config, Output, ProposeError, Proposed, Raft, Role, TransferError};
