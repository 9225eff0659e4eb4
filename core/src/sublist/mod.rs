//! The subscription index: which subscriptions a published subject reaches.
//!
//! Every published message asks this, so the answer is cached per subject (see
//! [`cache`]): a repeated subject costs one hash lookup and an `Arc` clone, no allocation.
//! A miss walks a trie of pattern tokens ([`node`]) by slicing the subject in place.
//!
//! Behaviour follows the reference's `server/sublist.go`: the same patterns are refused on
//! insert, a subject with an empty token matches nothing, queue groups of one name are
//! merged across patterns, and `/subsz` gets the same figures. Where the reference's
//! behaviour depends on map iteration order or pointer identity this is deterministic:
//! results are in a canonical order ([`MatchResult`]) and the cache sweep is reproducible.
//!
//! A subscription is identified by its `(subject, queue, value)` triple. Inserting one that
//! is already there changes nothing and is not counted, so one remove always undoes any
//! number of identical inserts. The same value under two patterns is two subscriptions.

mod cache;
mod node;
mod result;
mod set;
mod stats;

#[cfg(test)]
mod tests;

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::subject;
use cache::Cache;
use node::Node;
pub use result::{MatchResult, QueueGroup};
use stats::Counters;
pub use stats::SublistStats;

/// A subject the index refuses: an empty token, or `>` before the last token.
#[derive(Debug, PartialEq, Eq)]
pub struct InvalidSubject;

impl std::fmt::Display for InvalidSubject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sublist: invalid subject")
    }
}

impl std::error::Error for InvalidSubject {}

/// Subscriptions by subject pattern, with their match results cached.
pub struct Sublist<V> {
    root: Node<V>,
    cache: Cache<V>,
    /// Shared by every empty result, as in the reference, so caching "no interest" in a
    /// subject costs no allocation.
    empty: Arc<MatchResult<V>>,
    count: usize,
    counters: Counters,
}

impl<V: Copy + Ord> Default for Sublist<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Copy + Ord> Sublist<V> {
    pub fn new() -> Self {
        Sublist {
            root: Node::default(),
            cache: Cache::default(),
            empty: Arc::new(MatchResult::default()),
            count: 0,
            counters: Counters::default(),
        }
    }

    /// Adds a subscription to `subject` (wildcards allowed), in queue group `queue` if any.
    ///
    /// Refuses what the reference's `Insert` refuses, and then stores nothing. White space
    /// is not checked here: that is for the caller ([`subject::is_valid_subject`]).
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        v: V,
    ) -> Result<(), InvalidSubject> {
        if !subject::is_valid_pattern(subject) {
            return Err(InvalidSubject);
        }
        if !self.root.subs_entry(subject).insert(queue, v) {
            return Ok(());
        }
        self.count += 1;
        self.counters.inserts += 1;
        self.cache.update(subject, |result| result.add(queue, v));
        Ok(())
    }

    /// Removes a subscription; whether it was there.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, v: V) -> bool {
        if !self.root.remove(subject, queue, v) {
            return false;
        }
        self.count -= 1;
        self.counters.removes += 1;
        self.cache.update(subject, |result| result.remove(queue, v));
        true
    }

    /// The subscriptions that a message published to `subject` reaches.
    ///
    /// Every token of `subject` is plain text: a published `foo.*` reaches `foo.*`, `foo.>`
    /// and `>` subscribers, not `foo.bar` ones. The result may be shared with the cache and
    /// earlier callers; later changes to the index never alter it.
    pub fn matches(&mut self, subject: &[u8]) -> Arc<MatchResult<V>> {
        self.interest(subject)
            .unwrap_or_else(|| Arc::clone(&self.empty))
    }

    /// Like [`Self::matches`], but `None` when nobody is interested: the publish path
    /// then takes no reference (an atomic update) on a shared empty result.
    pub fn interest(&mut self, subject: &[u8]) -> Option<Arc<MatchResult<V>>> {
        self.counters.matches += 1;
        if let Some(result) = self.cache.get(subject) {
            self.counters.cache_hits += 1;
            return (!result.is_empty()).then(|| Arc::clone(result));
        }
        if subject::has_empty_token(subject) {
            // Not cached, as in the reference: such subjects come from broken clients.
            return None;
        }
        let mut gathered = MatchResult::default();
        let _ = self.root.walk(subject, |subs| {
            gathered.gather(subs);
            ControlFlow::Continue(())
        });
        if gathered.is_empty() {
            self.cache.insert(subject, Arc::clone(&self.empty));
            return None;
        }
        gathered.finish();
        let result = Arc::new(gathered);
        self.cache.insert(subject, Arc::clone(&result));
        Some(result)
    }

    /// Whether a message published to `subject` would reach anyone.
    ///
    /// Cheaper than [`Self::matches`] on a miss: it stops at the first subscription and
    /// caches nothing. As in the reference, a cache hit here counts towards the cache hit
    /// rate but not as a match, so that rate can exceed 1.
    pub fn has_interest(&mut self, subject: &[u8]) -> bool {
        if let Some(result) = self.cache.get(subject) {
            self.counters.cache_hits += 1;
            return !result.is_empty();
        }
        !subject::has_empty_token(subject)
            && self
                .root
                .walk(subject, |subs| {
                    if subs.is_empty() {
                        ControlFlow::Continue(())
                    } else {
                        ControlFlow::Break(())
                    }
                })
                .is_break()
    }

    /// How many subscriptions are stored.
    pub fn count(&self) -> usize {
        self.count
    }

    pub fn stats(&self) -> SublistStats {
        let fanouts = self
            .cache
            .results()
            .map(|result| result.plain.len() + result.queues.len());
        SublistStats::new(self.count, self.counters, fanouts)
    }
}
