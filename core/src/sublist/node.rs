//! The trie of patterns: one level per token, `*` and `>` children apart from literal ones.
//!
//! Every walk here is a loop, never a recursion, and dropping a trie is a loop too: a
//! subject may have as many tokens as the control line allows, and a deep trie must not
//! overflow the stack.

use std::ops::ControlFlow;

use super::set::SortedSet;
use crate::hash::FixedMap;
use crate::subject::split_token;

/// The subscriptions of one pattern: plain ones, and queue groups sorted by name.
pub(super) struct Subs<V> {
    pub(super) plain: SortedSet<V>,
    pub(super) queues: Vec<(Box<[u8]>, SortedSet<V>)>,
}

impl<V> Default for Subs<V> {
    fn default() -> Self {
        Subs {
            plain: SortedSet::default(),
            queues: Vec::new(),
        }
    }
}

impl<V: Copy + Ord> Subs<V> {
    fn group(&self, queue: &[u8]) -> Result<usize, usize> {
        self.queues
            .binary_search_by(|(name, _)| (**name).cmp(queue))
    }

    /// Adds a subscription; false if it was already there.
    pub(super) fn insert(&mut self, queue: Option<&[u8]>, v: V) -> bool {
        let Some(queue) = queue else {
            return self.plain.insert(v);
        };
        match self.group(queue) {
            Ok(at) => self.queues[at].1.insert(v),
            Err(at) => {
                let mut members = SortedSet::default();
                members.insert(v);
                self.queues.insert(at, (queue.into(), members));
                true
            }
        }
    }

    /// Takes a subscription out; false if it was not there.
    pub(super) fn remove(&mut self, queue: Option<&[u8]>, v: V) -> bool {
        let Some(queue) = queue else {
            return self.plain.remove(v);
        };
        let Ok(at) = self.group(queue) else {
            return false;
        };
        let removed = self.queues[at].1.remove(v);
        if self.queues[at].1.is_empty() {
            self.queues.remove(at);
        }
        removed
    }

    fn contains(&self, queue: Option<&[u8]>, v: V) -> bool {
        match queue {
            None => self.plain.contains(v),
            Some(queue) => self
                .group(queue)
                .is_ok_and(|at| self.queues[at].1.contains(v)),
        }
    }

    /// How many subscriptions, all groups included.
    fn len(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|(_, m)| m.len()).sum::<usize>()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// One level of the trie: the subscriptions of the pattern that ends here and the patterns
/// that go on.
///
/// A node with no subscriptions and no children is pruned, so a `Some` child is never empty.
pub(super) struct Node<V> {
    subs: Subs<V>,
    literal: FixedMap<Box<[u8]>, Node<V>>,
    pwc: Option<Box<Node<V>>>,
    /// `>` is always a pattern's last token, so it needs no node of its own.
    fwc: Option<Box<Subs<V>>>,
}

impl<V> Default for Node<V> {
    fn default() -> Self {
        Node {
            subs: Subs::default(),
            literal: FixedMap::default(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<V> Drop for Node<V> {
    fn drop(&mut self) {
        // Moving the children onto a heap stack first leaves each one childless when it is
        // dropped, so dropping never recurses however deep the trie.
        let mut stack = Vec::new();
        self.detach_children(&mut stack);
        while let Some(mut node) = stack.pop() {
            node.detach_children(&mut stack);
        }
    }
}

impl<V> Node<V> {
    fn detach_children(&mut self, stack: &mut Vec<Node<V>>) {
        stack.extend(self.literal.drain().map(|(_, node)| node));
        if let Some(pwc) = self.pwc.take() {
            stack.push(*pwc);
        }
    }

    fn child_count(&self) -> usize {
        self.literal.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    /// The child for a pattern token other than `>`: `*` is the wildcard child.
    fn pattern_child(&self, token: &[u8]) -> Option<&Node<V>> {
        match token {
            b"*" => self.pwc.as_deref(),
            _ => self.literal.get(token),
        }
    }

    fn pattern_child_mut(&mut self, token: &[u8]) -> Option<&mut Node<V>> {
        match token {
            b"*" => self.pwc.as_deref_mut(),
            _ => self.literal.get_mut(token),
        }
    }
}

impl<V: Copy + Ord> Node<V> {
    /// How many levels deep the trie goes, as the reference's `numLevels`; tests use it to
    /// check that removal prunes.
    #[cfg(test)]
    pub(super) fn levels(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 0)];
        while let Some((node, depth)) = stack.pop() {
            deepest = deepest.max(depth + usize::from(node.fwc.is_some()));
            let children = node.literal.values().chain(node.pwc.as_deref());
            stack.extend(children.map(|child| (child, depth + 1)));
        }
        deepest
    }

    /// The subscriptions of `pattern`, creating its path if missing. `pattern` must be valid
    /// for the index ([`crate::subject::is_valid_pattern`]).
    pub(super) fn subs_entry(&mut self, pattern: &[u8]) -> &mut Subs<V> {
        let mut node = self;
        let mut rest = pattern;
        loop {
            let (token, tail) = split_token(rest);
            if token == b">" {
                return node.fwc.get_or_insert_with(Box::default);
            }
            node = match token {
                b"*" => node.pwc.get_or_insert_with(Box::default),
                // Looked up by slice: the key is copied only when the node is new.
                _ => node.literal.entry_ref(token).or_default(),
            };
            match tail {
                Some(tail) => rest = tail,
                None => return &mut node.subs,
            }
        }
    }

    /// Removes one subscription of `pattern` and prunes the nodes it leaves empty; false if
    /// it was not there.
    pub(super) fn remove(&mut self, pattern: &[u8], queue: Option<&[u8]>, v: V) -> bool {
        match self.removal_cut(pattern, queue, v) {
            None => false,
            Some(Some(depth)) => {
                self.cut(pattern, depth);
                true
            }
            Some(None) => self.subs_entry(pattern).remove(queue, v),
        }
    }

    /// A read-only walk ahead of a removal: `None` if the subscription is absent, else the
    /// depth (1 for the root's child) of the highest node that would be left holding
    /// nothing, if any. That node and all below it go at once.
    fn removal_cut(&self, pattern: &[u8], queue: Option<&[u8]>, v: V) -> Option<Option<usize>> {
        let mut node = self;
        let mut rest = pattern;
        let mut depth = 0;
        // Where the run of nodes holding nothing but the next node on the path began.
        let mut hollow_from = None;
        loop {
            let (token, tail) = split_token(rest);
            depth += 1;
            let Some(tail) = tail else {
                let (subs, children) = if token == b">" {
                    (node.fwc.as_deref()?, 0)
                } else {
                    let leaf = node.pattern_child(token)?;
                    (&leaf.subs, leaf.child_count())
                };
                if !subs.contains(queue, v) {
                    return None;
                }
                let emptied = subs.len() == 1 && children == 0;
                return Some(emptied.then(|| hollow_from.unwrap_or(depth)));
            };
            let child = node.pattern_child(token)?;
            if child.subs.is_empty() && child.child_count() == 1 {
                hollow_from.get_or_insert(depth);
            } else {
                hollow_from = None;
            }
            node = child;
            rest = tail;
        }
    }

    /// Drops the node at `depth` on the path of `pattern`, with everything below it.
    fn cut(&mut self, pattern: &[u8], depth: usize) {
        let mut node = self;
        let mut rest = pattern;
        for _ in 1..depth {
            let (token, tail) = split_token(rest);
            let (Some(child), Some(tail)) = (node.pattern_child_mut(token), tail) else {
                return;
            };
            node = child;
            rest = tail;
        }
        match split_token(rest).0 {
            b">" => node.fwc = None,
            b"*" => node.pwc = None,
            token => {
                node.literal.remove(token);
            }
        }
    }

    /// Calls `visit` with the subscriptions of every pattern matching `subject`, whose
    /// tokens are all plain text, until it breaks. `subject` must have no empty token.
    pub(super) fn walk(
        &self,
        subject: &[u8],
        mut visit: impl FnMut(&Subs<V>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        // `*` branches wait here while the literal path is followed; the stack only
        // allocates when a `*` pattern lies on the way.
        let mut pending: Vec<(&Node<V>, &[u8])> = Vec::new();
        let (mut node, mut rest) = (self, subject);
        loop {
            let (token, tail) = split_token(rest);
            if let Some(fwc) = &node.fwc {
                visit(fwc)?;
            }
            if let Some(pwc) = &node.pwc {
                match tail {
                    Some(tail) => pending.push((pwc, tail)),
                    None => visit(&pwc.subs)?,
                }
            }
            let next = match (node.literal.get(token), tail) {
                (Some(child), Some(tail)) => Some((child, tail)),
                (Some(child), None) => {
                    visit(&child.subs)?;
                    None
                }
                (None, _) => None,
            };
            match next.or_else(|| pending.pop()) {
                Some((n, r)) => (node, rest) = (n, r),
                None => return ControlFlow::Continue(()),
            }
        }
    }
}
