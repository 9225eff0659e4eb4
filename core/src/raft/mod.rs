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
//!     Output::Persist { seq, hard_state, entries }   // write in order, fsync, then persisted(seq)
//!     Output::Apply(entries)          // committed, in order
//! }
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
//! Snapshots, leadership transfer, membership changes and learners come later: the log keeps
//! an offset for compaction, messages are tagged so new kinds can be added, and voters are
//! in [`Config`] so a configuration entry kind can replace them.

pub mod codec;
pub mod log;
pub mod message;
pub mod node;
pub mod progress;
#[cfg(test)]
mod tests;

pub use message::{Body, ConflictHint, Entry, EntryKind, HardState, Message, NodeId};
pub use node::{Config, Output, ProposeError, Proposed, Raft, Role};
