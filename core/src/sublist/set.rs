//! The subscriptions of one pattern (or of one queue group on it), kept sorted.
//!
//! Sorted storage is what makes match results canonical: the same subscriptions give the
//! same vectors whatever order they came and went in, and a cached result patched in place
//! equals a fresh one. Most patterns have one or two subscribers, so a small sorted `Vec`
//! is the cheapest form; a pattern with thousands (a broadcast subject) moves to a B-tree
//! so that each of thousands of unsubscribes is logarithmic, not a memmove of the rest.

use std::collections::BTreeSet;

/// Above this many members a set becomes a B-tree.
const PROMOTE_ABOVE: usize = 64;

pub(super) enum SortedSet<V> {
    Small(Vec<V>),
    Large(BTreeSet<V>),
}

impl<V> Default for SortedSet<V> {
    fn default() -> Self {
        SortedSet::Small(Vec::new())
    }
}

impl<V: Copy + Ord> SortedSet<V> {
    /// Adds `v`; false if it was already there.
    pub(super) fn insert(&mut self, v: V) -> bool {
        match self {
            SortedSet::Small(items) => match items.binary_search(&v) {
                Ok(_) => false,
                Err(at) => {
                    items.insert(at, v);
                    if items.len() > PROMOTE_ABOVE {
                        *self = SortedSet::Large(items.iter().copied().collect());
                    }
                    true
                }
            },
            SortedSet::Large(items) => items.insert(v),
        }
    }

    /// Takes `v` out; false if it was not there.
    pub(super) fn remove(&mut self, v: V) -> bool {
        match self {
            SortedSet::Small(items) => match items.binary_search(&v) {
                Ok(at) => {
                    items.remove(at);
                    true
                }
                Err(_) => false,
            },
            SortedSet::Large(items) => items.remove(&v),
        }
    }

    pub(super) fn contains(&self, v: V) -> bool {
        match self {
            SortedSet::Small(items) => items.binary_search(&v).is_ok(),
            SortedSet::Large(items) => items.contains(&v),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            SortedSet::Small(items) => items.len(),
            SortedSet::Large(items) => items.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the members, in order, to `out`.
    pub(super) fn append_to(&self, out: &mut Vec<V>) {
        match self {
            SortedSet::Small(items) => out.extend_from_slice(items),
            SortedSet::Large(items) => out.extend(items.iter().copied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &SortedSet<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        set.append_to(&mut out);
        out
    }

    #[test]
    fn stays_sorted_and_unique_across_promotion() {
        let mut set = SortedSet::default();
        // Descending inserts, each twice, past the promotion threshold.
        for v in (0..200u32).rev() {
            assert!(set.insert(v));
            assert!(!set.insert(v));
        }
        assert!(matches!(set, SortedSet::Large(_)));
        assert_eq!(members(&set), (0..200).collect::<Vec<_>>());
        for v in (0..200).step_by(2) {
            assert!(set.remove(v));
            assert!(!set.remove(v));
            assert!(!set.contains(v));
        }
        assert_eq!(members(&set), (1..200).step_by(2).collect::<Vec<_>>());
        assert_eq!(set.len(), 100);
        for v in (1..200).step_by(2) {
            assert!(set.contains(v));
            assert!(set.remove(v));
        }
        assert!(set.is_empty());
    }
}
