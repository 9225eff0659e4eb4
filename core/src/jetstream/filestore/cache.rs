//! The blocks whose bytes the store keeps in memory, within a budget.
//!
//! A cached block holds the block's whole contents as the store knows them: read back from
//! disk, or written (appends, a rewrite) and not yet confirmed on disk. A block with
//! writes not yet on disk is *pinned*: reading it back could miss them, so it stays until
//! the write batch carrying them is reported written ([`Cache::written`]). Past the budget
//! the least recently used unpinned blocks go, except the one the caller keeps (the active
//! block, appended to all the time). Recency is a counter bumped on every use, not a
//! clock, so the same calls always evict the same blocks.

use std::collections::BTreeMap;

use bytes::Bytes;

/// A pinned block's writes not yet taken for a batch.
const UNTAKEN: u64 = u64::MAX;

#[derive(Debug, Default)]
pub(super) struct Cache {
    blocks: BTreeMap<u64, Cached>,
    /// Bytes held, all blocks together.
    bytes: u64,
    /// Bumped on every use: the recency of each block.
    clock: u64,
}

#[derive(Debug)]
struct Cached {
    /// The contents, as pieces starting at the offset given, in order, each made of whole
    /// records (a block read back is one piece, each append one more).
    pieces: Vec<(u64, Bytes)>,
    len: u64,
    used: u64,
    /// The write batch its last change goes out in ([`UNTAKEN`] before the batch is
    /// formed), while that batch is not known to be on disk.
    pending: Option<u64>,
}

impl Cache {
    /// Bytes held, all blocks together.
    #[cfg(test)]
    pub fn held(&self) -> u64 {
        self.bytes
    }

    pub fn contains(&self, n: u64) -> bool {
        self.blocks.contains_key(&n)
    }

    /// The bytes `at..at + len` of block `n`, if it is cached and they lie within one
    /// piece (they always do for a whole record). A copy when they are part of a larger
    /// piece: what is handed out (a message sitting in a slow client's buffer, say) must
    /// not keep a whole block alive after it is evicted.
    pub fn get(&mut self, n: u64, at: u64, len: u64) -> Option<Bytes> {
        self.clock += 1;
        let block = self.blocks.get_mut(&n)?;
        block.used = self.clock;
        let i = block.pieces.partition_point(|(start, _)| *start <= at);
        let (start, piece) = block.pieces.get(i.checked_sub(1)?)?;
        let from = usize::try_from(at - start).ok()?;
        let to = from.checked_add(usize::try_from(len).ok()?)?;
        match piece.get(from..to)? {
            whole if whole.len() == piece.len() => Some(piece.clone()),
            part => Some(Bytes::copy_from_slice(part)),
        }
    }

    /// Block `n` as read back from disk.
    pub fn insert_read(&mut self, n: u64, data: Bytes) {
        self.set(n, data, None);
    }

    /// Block `n` rewritten with `data`, not yet on disk.
    pub fn replace(&mut self, n: u64, data: Bytes) {
        self.set(n, data, Some(UNTAKEN));
    }

    fn set(&mut self, n: u64, data: Bytes, pending: Option<u64>) {
        self.remove(n);
        self.clock += 1;
        let len = data.len() as u64;
        self.bytes += len;
        let block = Cached {
            pieces: vec![(0, data)],
            len,
            used: self.clock,
            pending,
        };
        self.blocks.insert(n, block);
    }

    /// Appends `data` to block `n`, not yet on disk; starts the block if it is not cached
    /// (the caller only appends to a block it holds or a new one).
    pub fn append(&mut self, n: u64, data: Bytes) {
        self.clock += 1;
        let block = self.blocks.entry(n).or_insert_with(|| Cached {
            pieces: Vec::new(),
            len: 0,
            used: 0,
            pending: None,
        });
        let len = data.len() as u64;
        block.pieces.push((block.len, data));
        block.len += len;
        block.used = self.clock;
        block.pending = Some(UNTAKEN);
        self.bytes += len;
    }

    pub fn remove(&mut self, n: u64) {
        if let Some(block) = self.blocks.remove(&n) {
            self.bytes -= block.len;
        }
    }

    /// The writes made so far go out in batch `batch`.
    pub fn taken(&mut self, batch: u64) {
        for block in self.blocks.values_mut() {
            if block.pending == Some(UNTAKEN) {
                block.pending = Some(batch);
            }
        }
    }

    /// Every batch up to `batch` is on disk: the blocks they changed are unpinned.
    pub fn written(&mut self, batch: u64) {
        for block in self.blocks.values_mut() {
            if block.pending.is_some_and(|b| b <= batch) {
                block.pending = None;
            }
        }
    }

    /// Drops the least recently used unpinned blocks but those in `keep` until at most
    /// `budget` bytes are held (or only pinned and kept ones are left).
    pub fn evict(&mut self, budget: u64, keep: &[u64]) {
        while self.bytes > budget {
            let lru = self
                .blocks
                .iter()
                .filter(|(n, b)| b.pending.is_none() && !keep.contains(n))
                .min_by_key(|(_, b)| b.used)
                .map(|(&n, _)| n);
            let Some(n) = lru else { return };
            self.remove(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Bytes {
        Bytes::from((0..n).map(|i| i as u8).collect::<Vec<u8>>())
    }

    #[test]
    fn pieces_serve_whole_ranges() {
        let mut c = Cache::default();
        c.append(1, bytes(10));
        c.append(1, bytes(5));
        assert_eq!(c.get(1, 10, 5), Some(bytes(5)));
        assert_eq!(c.get(1, 2, 3), Some(bytes(10).slice(2..5)));
        // Across two pieces, past the end, or an unknown block: nothing.
        assert_eq!(c.get(1, 8, 4), None);
        assert_eq!(c.get(1, 14, 2), None);
        assert_eq!(c.get(2, 0, 1), None);
    }

    #[test]
    fn pinned_until_written_then_least_recently_used_first() {
        let mut c = Cache::default();
        c.append(1, bytes(10));
        c.append(2, bytes(10));
        c.insert_read(3, bytes(10));
        c.evict(0, &[]);
        // Only the block read back could go: the others' writes are not on disk.
        assert!(c.contains(1) && c.contains(2) && !c.contains(3));
        c.taken(7);
        c.append(2, bytes(1));
        c.written(7);
        c.evict(0, &[]);
        // Block 2 got a write after batch 7 was formed: still pinned.
        assert!(!c.contains(1) && c.contains(2));
        c.taken(8);
        c.written(8);
        c.insert_read(4, bytes(10));
        c.insert_read(5, bytes(10));
        c.get(4, 0, 1);
        c.evict(21, &[2]);
        // 2 is kept, 5 was used longer ago than 4.
        assert!(c.contains(2) && c.contains(4) && !c.contains(5));
        assert_eq!(c.bytes, 21);
    }
}
