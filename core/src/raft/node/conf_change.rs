//! Configuration changes on the leader: one voter (or learner) at a time, through the log.

use super::{ProposeError, Proposed, Raft, Role};
use crate::raft::codec::encode_membership;
use crate::raft::membership::ConfChange;
use crate::raft::message::EntryKind;
use crate::raft::progress::Progress;
use crate::time::Instant;

impl Raft {
    /// Proposes a configuration change (a [`EntryKind::Config`] entry); it takes effect on
    /// each member as the entry reaches its log. Only one change may be uncommitted at a
    /// time, and only once this leader has committed an entry of its term (without that
    /// rule a change of an earlier term, lost or not, could overlap this one: the
    /// single-server change bug of the Raft thesis, fixed as its errata says). Add a member
    /// as a learner and promote it once it caught up ([`Raft::matched`]), so an empty log
    /// never holds back commits.
    pub fn propose_conf_change(
        &mut self,
        now: Instant,
        change: ConfChange,
    ) -> Result<Proposed, ProposeError> {
        self.check_leader()?;
        let committed = self.log.committed();
        let pending = self.log.membership().is_some_and(|(i, _)| i > committed);
        if pending || self.log.term(committed) != Some(self.term) {
            return Err(ProposeError::ChangeInProgress);
        }
        let next = self
            .membership()
            .apply(change)
            .map_err(ProposeError::InvalidChange)?;
        Ok(self.append(now, EntryKind::Config, encode_membership(&next)))
    }

    /// On the leader: the index up to which `id`'s log is known to match, durably.
    pub fn matched(&self, id: crate::raft::NodeId) -> Option<u64> {
        if id == self.cfg.id {
            return Some(self.log.stable());
        }
        self.progress.get(&id).map(|p| p.matched)
    }

    /// Makes the leader's progress map the current members but itself: new members start
    /// probing from the end of the log (counted as active, so a member just added does not
    /// fail the next check-quorum round), removed ones are dropped.
    pub(super) fn sync_progress(&mut self) {
        let m = self.membership().clone();
        let next = self.log.last_index() + 1;
        self.progress.retain(|id, _| m.members().any(|x| x == *id));
        for id in m.members().filter(|id| *id != self.cfg.id) {
            self.progress.entry(id).or_insert_with(|| {
                let mut p = Progress::new(next);
                p.recent_active = true;
                p
            });
        }
    }

    /// A leader whose removal is committed hands over: it steps down and, no longer a
    /// voter, never campaigns; the others elect a leader when their timers run out.
    pub(super) fn step_down_if_removed(&mut self, now: Instant) {
        let in_effect = self
            .log
            .membership()
            .is_none_or(|(i, _)| i <= self.log.committed());
        if self.role == Role::Leader && in_effect && !self.membership().is_voter(self.cfg.id) {
            self.become_follower(now, self.term, None);
        }
    }
}
