//! Message blocks: the files `<n>.blk`, and what the store remembers about each one so it
//! can tell, without reading it back, when the block can go or should be rewritten.

use std::collections::BTreeSet;

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

/// The message records of a block by sequence, live or not. They are appended in order
/// as the block is written and rebuilt when it is rewritten, never removed one by one:
/// a sorted vector, the smallest in memory (the store keeps one entry per message).
#[derive(Clone, Debug, Default)]
pub(super) struct Records(Vec<(u64, Rec)>);

impl Records {
    /// Adds the record of `seq`; out of order only in a damaged directory.
    pub fn insert(&mut self, seq: u64, rec: Rec) {
        match self.0.last() {
            Some(&(last, _)) if last >= seq => match self.0.binary_search_by_key(&seq, |e| e.0) {
                Ok(i) => self.0[i].1 = rec,
                Err(i) => self.0.insert(i, (seq, rec)),
            },
            _ => self.0.push((seq, rec)),
        }
    }

    pub fn get(&self, seq: u64) -> Option<Rec> {
        let i = self.0.binary_search_by_key(&seq, |e| e.0).ok()?;
        Some(self.0[i].1)
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.get(seq).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The records in sequence order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, Rec)> + '_ {
        self.0.iter().copied()
    }

    pub fn seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().map(|e| e.0)
    }
}

/// What one block holds, as far as the store needs to know.
#[derive(Clone, Debug, Default)]
pub(super) struct Block {
    /// Bytes in the file.
    pub len: u64,
    /// Every message record in the file, live or not: sequence and where it lies.
    pub msgs: Records,
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
    fn records_stay_sorted() {
        let rec = |at| Rec { at, len: 1 };
        let mut r = Records::default();
        for (seq, at) in [(2, 0), (5, 1), (3, 2), (9, 3), (5, 4)] {
            r.insert(seq, rec(at));
        }
        assert_eq!(r.seqs().collect::<Vec<_>>(), vec![2, 3, 5, 9]);
        assert_eq!(r.get(5), Some(rec(4)));
        assert_eq!(r.get(4), None);
        assert!(r.contains(9) && !r.contains(1));
    }

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
