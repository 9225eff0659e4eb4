//! Who takes part in the group, and how that changes one member at a time.
//!
//! Voters elect leaders and make up quorums; learners receive the log but neither vote nor
//! count, so a new member can catch up before it is promoted and weakens no quorum meanwhile.
//! A change adds or removes a single voter, so any majority of the old voters and any
//! majority of the new overlap and no joint consensus is needed (Raft thesis 4.1). A
//! configuration is carried by an [`EntryKind::Config`](super::EntryKind::Config) entry and
//! takes effect on each member as soon as the entry is in its log (committed or not).

use std::collections::BTreeSet;

use super::message::NodeId;

/// A configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Membership {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

/// One change of configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChange {
    /// A new member that receives the log without voting.
    AddLearner(NodeId),
    /// A learner promoted, or a new member made a voter at once.
    AddVoter(NodeId),
    /// A voter or learner leaves.
    Remove(NodeId),
}

/// Why a change does not apply to a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfChangeError {
    /// The member already has that role.
    AlreadyMember,
    /// Removing a member that is not in the configuration.
    NotMember,
    /// Removing the last voter: nobody could ever commit again.
    LastVoter,
}

impl Membership {
    /// Voters only, no learners.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Membership {
        Membership {
            voters: voters.into_iter().collect(),
            learners: BTreeSet::new(),
        }
    }

    /// How many voters make a majority.
    pub fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    /// Voters and learners: everyone the leader replicates to.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(&self.learners).copied()
    }

    /// The configuration after `change`.
    pub fn apply(&self, change: ConfChange) -> Result<Membership, ConfChangeError> {
        let mut next = self.clone();
        match change {
            ConfChange::AddLearner(id) => {
                if self.voters.contains(&id) || !next.learners.insert(id) {
                    return Err(ConfChangeError::AlreadyMember);
                }
            }
            ConfChange::AddVoter(id) => {
                if !next.voters.insert(id) {
                    return Err(ConfChangeError::AlreadyMember);
                }
                next.learners.remove(&id);
            }
            ConfChange::Remove(id) => {
                if next.voters.remove(&id) {
                    if next.voters.is_empty() {
                        return Err(ConfChangeError::LastVoter);
                    }
                } else if !next.learners.remove(&id) {
                    return Err(ConfChangeError::NotMember);
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_move_one_member() {
        let m = Membership::with_voters([1, 2, 3]);
        assert_eq!(m.quorum(), 2);
        let m = m.apply(ConfChange::AddLearner(4)).unwrap();
        assert!(!m.is_voter(4));
        assert_eq!(m.members().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        assert_eq!(m.quorum(), 2, "a learner does not count");
        let m = m.apply(ConfChange::AddVoter(4)).unwrap();
        assert!(m.is_voter(4) && m.learners.is_empty());
        assert_eq!(m.quorum(), 3);
        let m = m.apply(ConfChange::Remove(1)).unwrap();
        assert_eq!(m.voters, BTreeSet::from([2, 3, 4]));
    }

    #[test]
    fn invalid_changes_are_refused() {
        let m = Membership::with_voters([1]);
        assert_eq!(
            m.apply(ConfChange::AddVoter(1)),
            Err(ConfChangeError::AlreadyMember)
        );
        assert_eq!(
            m.apply(ConfChange::AddLearner(1)),
            Err(ConfChangeError::AlreadyMember)
        );
        assert_eq!(
            m.apply(ConfChange::Remove(2)),
            Err(ConfChangeError::NotMember)
        );
        assert_eq!(
            m.apply(ConfChange::Remove(1)),
            Err(ConfChangeError::LastVoter)
        );
        let m = m.apply(ConfChange::AddLearner(2)).unwrap();
        assert_eq!(
            m.apply(ConfChange::AddLearner(2)),
            Err(ConfChangeError::AlreadyMember)
        );
        assert_eq!(
            m.apply(ConfChange::Remove(2)).unwrap(),
            Membership::with_voters([1])
        );
    }
}
