//! The sublist figures the monitoring endpoint `/subsz` reports.

use serde::Serialize;

/// What a sublist counts as it works.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Counters {
    pub(super) inserts: u64,
    pub(super) removes: u64,
    pub(super) matches: u64,
    pub(super) cache_hits: u64,
}

/// `/subsz` figures, under the reference's JSON names.
///
/// Fan-out counts plain subscriptions plus queue groups of each cached result, as the
/// reference does, so it describes recent traffic rather than the whole index.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SublistStats {
    pub num_subscriptions: u64,
    pub num_cache: u64,
    pub num_inserts: u64,
    pub num_removes: u64,
    pub num_matches: u64,
    pub cache_hit_rate: f64,
    pub max_fanout: u64,
    pub avg_fanout: f64,
    /// Kept so that [`SublistStats::merge`] can weigh rates and averages correctly.
    #[serde(skip)]
    cache_hits: u64,
    #[serde(skip)]
    total_fanout: u64,
}

impl SublistStats {
    pub(super) fn new(
        subscriptions: usize,
        counters: Counters,
        fanouts: impl Iterator<Item = usize>,
    ) -> Self {
        let mut stats = SublistStats {
            num_subscriptions: subscriptions as u64,
            num_inserts: counters.inserts,
            num_removes: counters.removes,
            num_matches: counters.matches,
            cache_hits: counters.cache_hits,
            ..SublistStats::default()
        };
        for fanout in fanouts {
            stats.num_cache += 1;
            stats.total_fanout += fanout as u64;
            stats.max_fanout = stats.max_fanout.max(fanout as u64);
        }
        stats.derive_ratios();
        stats
    }

    /// Adds another sublist's figures, as `/subsz` does across accounts.
    pub fn merge(&mut self, other: &SublistStats) {
        self.num_subscriptions += other.num_subscriptions;
        self.num_cache += other.num_cache;
        self.num_inserts += other.num_inserts;
        self.num_removes += other.num_removes;
        self.num_matches += other.num_matches;
        self.cache_hits += other.cache_hits;
        self.total_fanout += other.total_fanout;
        self.max_fanout = self.max_fanout.max(other.max_fanout);
        self.derive_ratios();
    }

    fn derive_ratios(&mut self) {
        if self.num_matches > 0 {
            self.cache_hit_rate = self.cache_hits as f64 / self.num_matches as f64;
        }
        if self.total_fanout > 0 {
            self.avg_fanout = self.total_fanout as f64 / self.num_cache as f64;
        }
    }
}
