//! Message blocks: the files `<n>.blk`, and what the store remembers about each one so it
//! can tell, without reading it back, when the block can go or should be rewritten.

use std::collections::{BTreeMap, BTreeSet};

/// The name of block `n`.
pub(super) fn block_name(n: u64) -> String {
    format!("{n}.blk")
}

/// Whether `name` is a file of the store: a block `<n>.blk`, `n` decimal without leading
/// zeros (so no two names denote the same block). The shell keeps files of its own beside
/// them, such as `meta.json`, which the store ignores.
pub fn is_store_file(name: &str) -> bool {
    block_number(name).is_some()
}

/// The number of block file `name`.
pub(super) fn block_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".blk")?;
    let n: u64 = digits.parse().ok()?;
    (digits == n.to_string()).then_some(n)
}

/// Where a record lies in its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rec {
    pub at: u64,
    pub len: u64,
}

/// What one block holds, as far as the store needs to know.
#[derive(Clone, Debug, Default)]
pub(super) struct Block {
    /// Bytes in the file.
    pub len: u64,
    /// Every message record in the file, live or not: sequence and where it lies.
    pub msgs: BTreeMap<u64, Rec>,
    /// How many of `msgs` are still in the stream.
    pub live: u64,
    /// Record bytes of messages no longer in the stream: what a rewrite would save.
    pub dead_bytes: u64,
    /// The sequences of the tombstones in the file.
    pub tombs: BTreeSet<u64>,
    /// The highest floor in the file (0 when it has none).
    pub floor: u64,
    /// The highest last sequence its records establish (a message's, or a floor's).
    pub last_seq: u64,
    /// Recovery found damage in it. It is then left as it is, neither rewritten nor
    /// removed, for an operator to look at: what follows the damage is unknown.
    pub damaged: bool,
}

impl Block {
    /// Whether rewriting the block would at least halve it. Only then is it rewritten, so
    /// every rewrite of `len` bytes is paid for by `len / 2` bytes of removed messages and
    /// the cost of compaction stays proportional to what is deleted.
    pub fn worth_compacting(&self) -> bool {
        !self.damaged && self.live > 0 && self.dead_bytes * 2 > self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(block_name(7), "7.blk");
        assert_eq!(block_number("7.blk"), Some(7));
        assert_eq!(block_number("0.blk"), Some(0));
        for other in [
            "meta.json",
            "07.blk",
            ".blk",
            "+7.blk",
            "7.blk.tmp",
            "a.blk",
            "99999999999999999999.blk",
        ] {
            assert!(!is_store_file(other), "{other}");
        }
    }
}
