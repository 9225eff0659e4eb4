//! Recent match results by subject, so a repeated publish costs one hash lookup.
//!
//! Entries are kept exact rather than dropped when interest changes: an insert or remove
//! patches every cached result whose subject the changed pattern matches, so a subject
//! published to all the time stays cached while clients come and go around it.
//!
//! The size is bounded like the reference's (over 1024 entries, sweep down to 512), but
//! where the reference drops entries at random this gives a second chance to the ones hit
//! since the last sweep. Iteration order of the fixed-hasher map depends only on the
//! operations made, so sweeps are deterministic.

use std::sync::Arc;

use super::result::MatchResult;
use crate::hash::FixedMap;
use crate::subject;

/// Past this many entries the cache is swept.
pub(super) const MAX: usize = 1024;
/// What a sweep leaves.
const SWEEP_TO: usize = 512;

struct Entry<V> {
    result: Arc<MatchResult<V>>,
    /// Hit since the last sweep.
    hit: bool,
}

pub(super) struct Cache<V> {
    entries: FixedMap<Box<[u8]>, Entry<V>>,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache {
            entries: FixedMap::default(),
        }
    }
}

impl<V: Copy + Ord> Cache<V> {
    pub(super) fn get(&mut self, subject: &[u8]) -> Option<&Arc<MatchResult<V>>> {
        let entry = self.entries.get_mut(subject)?;
        entry.hit = true;
        Some(&entry.result)
    }

    /// Caches the result of a miss, sweeping if that makes one entry too many.
    pub(super) fn insert(&mut self, subject: &[u8], result: Arc<MatchResult<V>>) {
        let entry = Entry { result, hit: false };
        self.entries.insert(subject.into(), entry);
        if self.entries.len() > MAX {
            self.sweep();
        }
    }

    /// Applies `patch` to every cached result whose subject `pattern` matches.
    ///
    /// A result still held by a caller is copied first (that caller keeps what it saw);
    /// one held only here is patched in place.
    pub(super) fn update(&mut self, pattern: &[u8], mut patch: impl FnMut(&mut MatchResult<V>)) {
        if self.entries.is_empty() {
            // Bulk loads (a route's or a restarted client's subscriptions) skip the scan.
            return;
        }
        if subject::is_literal(pattern) {
            // A literal pattern matches one subject: itself.
            if let Some(entry) = self.entries.get_mut(pattern) {
                patch(Arc::make_mut(&mut entry.result));
            }
            return;
        }
        for (key, entry) in &mut self.entries {
            if subject::matches(pattern, key) {
                patch(Arc::make_mut(&mut entry.result));
            }
        }
    }

    fn sweep(&mut self) {
        let mut excess = self.entries.len() - SWEEP_TO;
        self.entries.retain(|_, entry| {
            let hit = std::mem::take(&mut entry.hit);
            if excess > 0 && !hit {
                excess -= 1;
                return false;
            }
            true
        });
        if excess > 0 {
            // Too many were hit: drop in iteration order.
            self.entries.retain(|_, _| {
                if excess > 0 {
                    excess -= 1;
                    return false;
                }
                true
            });
        }
    }

    pub(super) fn results(&self) -> impl Iterator<Item = &MatchResult<V>> {
        self.entries.values().map(|entry| &*entry.result)
    }
}
