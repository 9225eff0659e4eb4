//! What a match hands back, and how a cached one is patched when interest changes.

use super::node::Subs;

/// The subscriptions a subject reaches: each plain one gets the message, each queue group
/// one member of its choosing.
///
/// The order is canonical, so the same subscriptions always give the same vectors: `plain`
/// ascending (a value subscribed under two matching patterns appears twice), `queues` by
/// name, each group's `members` ascending. Groups of the same name on different patterns
/// are one group, as in the reference server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchResult<V> {
    pub plain: Vec<V>,
    pub queues: Vec<QueueGroup<V>>,
}

/// The members of one queue group that a subject reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueGroup<V> {
    pub name: Box<[u8]>,
    pub members: Vec<V>,
}

impl<V> Default for MatchResult<V> {
    fn default() -> Self {
        MatchResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<V> MatchResult<V> {
    /// Whether nobody is interested.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

impl<V: Copy + Ord> MatchResult<V> {
    /// Adds the subscriptions of one matching pattern; [`Self::finish`] restores the order.
    pub(super) fn gather(&mut self, subs: &Subs<V>) {
        subs.plain.append_to(&mut self.plain);
        for (name, members) in &subs.queues {
            // Few groups share a subject, so a scan beats a map here, as in the reference.
            let at = match self.queues.iter().position(|g| g.name == *name) {
                Some(at) => at,
                None => {
                    self.queues.push(QueueGroup {
                        name: name.clone(),
                        members: Vec::with_capacity(members.len()),
                    });
                    self.queues.len() - 1
                }
            };
            members.append_to(&mut self.queues[at].members);
        }
    }

    /// Puts gathered subscriptions in canonical order. Each pattern's part arrives sorted,
    /// and the common case of one matching pattern is a single linear check.
    pub(super) fn finish(&mut self) {
        self.plain.sort_unstable();
        self.queues.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        for group in &mut self.queues {
            group.members.sort_unstable();
        }
    }

    /// Patches in a subscription just added under a pattern that matches this subject.
    pub(super) fn add(&mut self, queue: Option<&[u8]>, v: V) {
        let Some(queue) = queue else {
            let at = self.plain.partition_point(|&x| x < v);
            self.plain.insert(at, v);
            return;
        };
        match self.queues.binary_search_by(|g| (*g.name).cmp(queue)) {
            Ok(at) => {
                let members = &mut self.queues[at].members;
                let pos = members.partition_point(|&x| x < v);
                members.insert(pos, v);
            }
            Err(at) => self.queues.insert(
                at,
                QueueGroup {
                    name: queue.into(),
                    members: vec![v],
                },
            ),
        }
    }

    /// Patches out a subscription just removed from a pattern that matches this subject.
    pub(super) fn remove(&mut self, queue: Option<&[u8]>, v: V) {
        let Some(queue) = queue else {
            if let Ok(at) = self.plain.binary_search(&v) {
                self.plain.remove(at);
            }
            return;
        };
        if let Ok(at) = self.queues.binary_search_by(|g| (*g.name).cmp(queue)) {
            let members = &mut self.queues[at].members;
            if let Ok(pos) = members.binary_search(&v) {
                members.remove(pos);
            }
            if members.is_empty() {
                self.queues.remove(at);
            }
        }
    }
}
