//! Leadership transfer (Raft thesis 3.10): the leader hands over to a voter of its choice,
//! to take a member down for maintenance or move the leader where the load is.

use super::{Raft, Role};
use crate::raft::message::{Body, Message, NodeId};
use crate::time::Instant;

/// Why [`Raft::transfer_leader`] did not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferError {
    /// Only the leader hands over; `leader` is the last one heard of.
    NotLeader { leader: Option<NodeId> },
    /// The target is this member or not a voter.
    NotVoter,
}

impl Raft {
    /// Hands leadership to voter `to`: proposals are refused from now on, `to` gets every
    /// entry it lacks and then TimeoutNow, on which it campaigns at once. If no new leader
    /// shows within an election timeout the transfer is given up and proposals resume.
    pub fn transfer_leader(&mut self, now: Instant, to: NodeId) -> Result<(), TransferError> {
        if self.role != Role::Leader {
            return Err(TransferError::NotLeader {
                leader: self.leader,
            });
        }
        if to == self.cfg.id || !self.membership().is_voter(to) {
            return Err(TransferError::NotVoter);
        }
        self.transfer = Some((to, now + self.cfg.election_timeout));
        self.replicate(to);
        self.send_timeout_now_if_caught_up();
        self.flush();
        Ok(())
    }

    /// The member leadership is being handed to, if a transfer is under way.
    pub fn transferring_to(&self) -> Option<NodeId> {
        self.transfer.map(|(to, _)| to)
    }

    /// Sends TimeoutNow once the target holds the whole log (again on each heartbeat and
    /// acknowledgement while the transfer lasts, in case it was lost).
    pub(super) fn send_timeout_now_if_caught_up(&mut self) {
        let Some((to, _)) = self.transfer else {
            return;
        };
        if self.matched(to) == Some(self.log.last_index()) {
            self.send(
                to,
                Message {
                    term: self.term,
                    body: Body::TimeoutNow,
                },
            );
        }
    }

    /// On the leader's heartbeat: gives up a transfer that took too long, or nudges again.
    pub(super) fn tick_transfer(&mut self, now: Instant) {
        match self.transfer {
            Some((_, deadline)) if now >= deadline => self.transfer = None,
            _ => self.send_timeout_now_if_caught_up(),
        }
    }

    /// TimeoutNow from the leader of this term: campaign now, skipping pre-vote (the leader
    /// agreed, so there is nothing to protect from a disruptive candidate).
    pub(super) fn handle_timeout_now(&mut self, now: Instant, from: NodeId) {
        if self.role == Role::Follower
            && self.leader == Some(from)
            && self.membership().is_voter(self.cfg.id)
        {
            self.become_candidate(now, true);
        }
    }
}
