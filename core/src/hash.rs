//! Deterministic hash maps.
//!
//! The standard library's default hasher and hashbrown's default are seeded from the OS at
//! run time, which would make iteration order differ between runs of the same seed. Every map
//! in the core uses a fixed-seed hasher instead, so a simulation replays exactly.

/// The hasher every core map uses: fast, and the same in every process.
pub type FixedState = foldhash::fast::FixedState;

/// A `hashbrown` map with the fixed hasher.
pub type FixedMap<K, V> = hashbrown::HashMap<K, V, FixedState>;

/// A `hashbrown` set with the fixed hasher.
pub type FixedSet<K> = hashbrown::HashSet<K, FixedState>;
