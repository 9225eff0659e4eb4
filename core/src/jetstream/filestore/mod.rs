//! A stream kept in files (`storage: file`), as a pure state machine: the store turns
//! every change into [`FileOp`]s on the stream's directory, which the shell carries out,
//! fsyncs and only then lets the node acknowledge. After a crash or a clean stop,
//! [`FileStore::recover`] rebuilds the same store from the files as found.
//!
//! # In memory
//!
//! Of each message only an index entry stays in memory (subject, time, size, and where
//! its record is): a [`MemStore`] of them enforces the limits, expiry and purges and
//! answers state and subject lookups exactly as a memory stream would. The payloads stay
//! on disk; the bytes of a few blocks are cached (`cache.rs`), at most
//! [`CACHE_BUDGET`] by default besides the active block and blocks whose writes are not
//! yet on disk. A message of a block not cached is read back through the [`BlockReader`]
//! the caller hands in, its record's checksum verified; damage found then is reported
//! ([`Store::take_faults`]) and the message not served. A block is cached from its first
//! write until the batch carrying that write is reported on disk ([`Store::written`]), so
//! a read never goes to disk for something not there yet. Without a reader, nothing is
//! evicted. A batch that failed is never reported written: its blocks stay cached until a
//! later batch is, and should what it carried be missing on disk then, reading it back
//! finds damage and reports it rather than serve anything else.
//!
//! # On disk
//!
//! The directory holds message blocks `<n>.blk` ([`is_store_file`]), `n` increasing. New
//! records are appended to the newest, the *active* block; past [`BLOCK_SIZE`] bytes the
//! store starts a new one. A block is a plain sequence of records, each with its kind,
//! length and CRC-32C (byte layout in `record.rs`):
//!
//! - **Msg** (seq, time, subject, headers, data): a stored message.
//! - **Delete** (seq): a tombstone, the message `seq` was removed.
//! - **Floor** (first, last_seq, last_time): every sequence below `first` is gone, and the
//!   stream's last sequence was `last_seq`, stored at `last_time`. Both only grow, so a
//!   floor never stops being true. Removing the oldest messages (limits, expiry, purges)
//!   writes one floor instead of a tombstone each; a purge of everything writes one floor
//!   whatever it removed.
//!
//! The active block always holds the highest floor and the last sequence: every new block
//! starts with a floor saying what the disk already says, later floors and messages are
//! appended to it, and it is never rewritten or removed while active. So `state()` comes
//! back after a crash with the same `first_seq`, `last_seq` and `last_time` even when
//! every message is gone, and no other block's floor ever needs keeping.
//!
//! Recovery reads every record; a message is held if its sequence is at or above the
//! highest floor and no tombstone names it. The order of records does not matter. A torn
//! append at the end of the last block is truncated; any other damage is reported in
//! [`Recovery`] and nothing after it in that block is used ([`FileStore::recover`]).
//!
//! # Reclaiming space
//!
//! Files are only appended to, replaced whole or removed, never edited in place:
//!
//! - A block with no message left in the stream is removed. Before that, what it holds
//!   that is still needed is copied to the active block: tombstones of messages still in
//!   other blocks (a tombstone must outlive the message record it deletes, or the message
//!   would come back).
//! - A block that is more than half removed messages is rewritten (`Replace`) with its
//!   live messages and the tombstones it holds that are still needed. Halving means each
//!   rewrite is paid for by as many bytes of removed messages, so compaction costs stay
//!   proportional to what is deleted.
//! - A tombstone is needed while the message it names is on disk in another block and is
//!   not below the highest floor. When a block goes or is rewritten, the blocks holding
//!   tombstones of the messages it dropped are looked at again.
//! - The active block is never rewritten or removed while it is active (it is being
//!   appended to and carries the last sequence); once it holds no live message and is at
//!   least half full, a new block is started so it can go.
//!
//! Operations are ordered so that the directory is recoverable after any prefix of them
//! has been carried out, provided the shell makes each one durable before it carries out a
//! `Replace` or `Remove` that follows: copies are appended before the block they come
//! from is removed.

mod block;
mod cache;
pub(crate) mod crc;
mod indexed;
mod reader;
mod record;
mod recover;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};

use super::memstore::MemStore;
use super::store::{Limits, Store, StoreError, StoreState, StoredMsg};
use block::{block_name, Block, Rec};
use cache::Cache;
use indexed::Indexed;
use record::{decode, encode_delete, encode_floor, encode_msg, Floor, Record};

pub use block::is_store_file;
pub use reader::{BlockReader, Source};
pub use record::Damage;
pub use recover::{Corruption, Recovery, TornTail};

/// The size past which the store starts a new block.
pub const BLOCK_SIZE: u64 = 8 << 20;

/// How many bytes of blocks a store keeps cached once they are on disk, besides its
/// active block: two blocks, so a reader going through the stream in order finds its
/// block in memory and two readers at different places do not take turns reading theirs,
/// while a large stream costs about three blocks of memory, whatever its size (24 MiB:
/// a 200 MiB stream read back whole keeps the server under 100 MiB resident, see
/// `tests/tests/jetstream_memory.rs`).
pub const CACHE_BUDGET: u64 = 2 * BLOCK_SIZE;

/// One thing for the shell to do in the stream's directory, in order. Names are relative
/// file names (no `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileOp {
    /// Append `data` to `file` (creating it).
    Append {
        file: String,
        data: Bytes,
    },
    /// Replace `file` atomically with `data` (the shell writes a temporary file, fsyncs
    /// and renames it).
    Replace {
        file: String,
        data: Bytes,
    },
    /// Cut `file` to `len` bytes (dropping a torn tail found at recovery).
    Truncate {
        file: String,
        len: u64,
    },
    Remove {
        file: String,
    },
}

#[derive(Debug)]
pub struct FileStore {
    /// What is kept in memory of each message held.
    msgs: MemStore<Indexed>,
    block_size: u64,
    blocks: BTreeMap<u64, Block>,
    /// The block new records go to; `None` before the first write, or after recovery found
    /// the last block damaged (nothing may follow damage, or recovery would stop short of it).
    active: Option<u64>,
    /// The number of the next new block.
    next_block: u64,
    /// The block holding each message record on disk, live or not.
    index: BTreeMap<u64, u64>,
    /// Every tombstone on disk, as (sequence, block).
    tombs: BTreeSet<(u64, u64)>,
    /// The highest floor and last sequence the records on disk establish.
    disk: Floor,
    /// Blocks to look at again: they lost messages, or tombstones of theirs may no longer
    /// be needed.
    check: BTreeSet<u64>,
    ops: Vec<FileOp>,
    /// The blocks whose bytes are in memory. Reads fill it, hence the cell: loading a
    /// message does not change the store.
    cache: RefCell<Cache>,
    cache_budget: u64,
    /// Where blocks are read back from; without it, nothing is evicted.
    source: Option<Source>,
    /// Damage found reading blocks back, for [`Store::take_faults`].
    faults: RefCell<Vec<Corruption>>,
}

impl FileStore {
    /// An empty stream, nothing on disk yet.
    pub fn new(limits: Limits) -> FileStore {
        FileStore::restored(MemStore::empty(limits), None)
    }

    /// The same store starting new blocks past `bytes` instead of [`BLOCK_SIZE`].
    pub fn with_block_size(mut self, bytes: u64) -> FileStore {
        self.block_size = bytes;
        self
    }

    /// The same store reading evicted blocks back from `source`.
    pub fn with_source(mut self, source: Source) -> FileStore {
        self.source = Some(source);
        self
    }

    /// The same store caching `bytes` of blocks instead of [`CACHE_BUDGET`].
    pub fn with_cache_budget(mut self, bytes: u64) -> FileStore {
        self.cache_budget = bytes;
        self
    }

    fn restored(mut msgs: MemStore<Indexed>, source: Option<Source>) -> FileStore {
        msgs.journal_removals();
        FileStore {
            msgs,
            block_size: BLOCK_SIZE,
            blocks: BTreeMap::new(),
            active: None,
            next_block: 1,
            index: BTreeMap::new(),
            tombs: BTreeSet::new(),
            disk: Floor::default(),
            check: BTreeSet::new(),
            ops: Vec::new(),
            cache: RefCell::default(),
            cache_budget: CACHE_BUDGET,
            source,
            faults: RefCell::default(),
        }
    }

    /// Message `seq` from its record, cached or read back; `None` if it is not held or
    /// its record cannot be read (the damage is noted for [`Store::take_faults`]).
    fn read(&self, seq: u64) -> Option<StoredMsg> {
        self.msgs.get(seq)?;
        let n = *self.index.get(&seq)?;
        let rec = self.blocks.get(&n)?.msgs.get(seq)?;
        self.read_record(n, seq, rec)
            .map_err(|c| self.fault(c))
            .ok()
            .map(|(_, m)| m)
    }

    /// The record `rec` of message `seq` in block `n`, and the message it holds, checked:
    /// a whole record with a good checksum, of that message.
    fn read_record(&self, n: u64, seq: u64, rec: Rec) -> Result<(Bytes, StoredMsg), Corruption> {
        let damage = |damage| Corruption {
            file: block_name(n),
            offset: rec.at,
            damage,
        };
        // A cached block is never read again: it may hold writes not yet on disk.
        let bytes = if self.cache.borrow().contains(n) {
            self.cache.borrow_mut().get(n, rec.at, rec.len)
        } else {
            self.load_block(n)?;
            let read = self.cache.borrow_mut().get(n, rec.at, rec.len);
            self.evict(Some(n));
            read
        };
        let bytes = bytes.ok_or(damage(Damage::Cut))?;
        match decode(&bytes, 0) {
            Ok((Record::Msg(m), end)) if m.seq == seq && end == bytes.len() => Ok((bytes, m)),
            Ok(_) => Err(damage(Damage::Misplaced)),
            Err(d) => Err(damage(d)),
        }
    }

    /// Reads block `n` back into the cache, as long as the store knows it to be.
    fn load_block(&self, n: u64) -> Result<(), Corruption> {
        let damage = |offset, damage| Corruption {
            file: block_name(n),
            offset,
            damage,
        };
        let source = self.source.as_ref().ok_or(damage(0, Damage::Unreadable))?;
        let data = source
            .read(&block_name(n))
            .map_err(|_| damage(0, Damage::Unreadable))?;
        let len = self.blocks.get(&n).map_or(0, |b| b.len);
        if (data.len() as u64) < len {
            return Err(damage(data.len() as u64, Damage::Cut));
        }
        // A torn tail found at recovery may still be there, its truncation not yet done.
        self.cache
            .borrow_mut()
            .insert_read(n, data.slice(..len as usize));
        Ok(())
    }

    /// Evicts blocks past the budget, never the active one nor `keep` (being read).
    fn evict(&self, keep: Option<u64>) {
        if self.source.is_some() {
            let keep: Vec<u64> = self.active.into_iter().chain(keep).collect();
            self.cache.borrow_mut().evict(self.cache_budget, &keep);
        }
    }

    /// Notes damage found reading a block back, once while it is not taken.
    fn fault(&self, c: Corruption) {
        let mut faults = self.faults.borrow_mut();
        if !faults.contains(&c) {
            faults.push(c);
        }
    }

    /// Whether block `n`'s bytes are in memory, read back if need be: appends extend the
    /// cached bytes, so a block is only appended to while cached.
    fn resident(&self, n: u64) -> bool {
        if self.cache.borrow().contains(n) {
            return true;
        }
        self.load_block(n).map_err(|c| self.fault(c)).is_ok()
    }

    /// What the stream knows now: its first sequence (the next one when empty) and last.
    fn floor_now(&self) -> Floor {
        let st = self.msgs.state();
        Floor {
            first: if st.msgs > 0 {
                st.first_seq
            } else {
                st.last_seq.saturating_add(1)
            },
            last_seq: st.last_seq,
            last_time: st.last_time,
        }
    }

    /// Appends `data` to the active block, starting a new one when it would not fit (or
    /// cannot be read back after a restart); the block it went to and where in it.
    fn append(&mut self, data: Bytes) -> (u64, u64) {
        let fits = |b: &Block| b.len == 0 || b.len + data.len() as u64 <= self.block_size;
        let n = match self.active {
            Some(n) if self.blocks.get(&n).is_some_and(fits) && self.resident(n) => n,
            _ => self.open_block(),
        };
        let at = self.blocks.get(&n).map_or(0, |b| b.len);
        self.write(n, data);
        (n, at)
    }

    /// Starts a new active block with a floor saying what the disk already says, so the
    /// active block always carries the last sequence.
    fn open_block(&mut self) -> u64 {
        let n = self.next_block;
        self.next_block = n.saturating_add(1);
        if let Some(previous) = self.active.replace(n) {
            self.check.insert(previous);
        }
        let block = self.blocks.entry(n).or_default();
        if self.disk != Floor::default() {
            (block.floor, block.last_seq) = (self.disk.first, self.disk.last_seq);
            self.write(n, encode_floor(self.disk));
        }
        n
    }

    fn write(&mut self, n: u64, data: Bytes) {
        if let Some(b) = self.blocks.get_mut(&n) {
            b.len += data.len() as u64;
        }
        self.cache.get_mut().append(n, data.clone());
        self.ops.push(FileOp::Append {
            file: block_name(n),
            data,
        });
    }

    fn write_msg(&mut self, seq: u64, time: u64, subject: &[u8], headers: &[u8], data: &[u8]) {
        let rec = encode_msg(seq, time, subject, headers, data);
        let len = rec.len() as u64;
        let (n, at) = self.append(rec);
        if let Some(b) = self.blocks.get_mut(&n) {
            b.msgs.insert(seq, Rec { at, len });
            b.live += 1;
            b.last_seq = seq;
        }
        self.index.insert(seq, n);
        self.disk.last_seq = seq;
        self.disk.last_time = time;
    }

    fn write_delete(&mut self, seq: u64) {
        let (n, _) = self.append(encode_delete(seq));
        if let Some(b) = self.blocks.get_mut(&n) {
            b.tombs.insert(seq);
        }
        self.tombs.insert((seq, n));
    }

    fn write_floor(&mut self, f: Floor) {
        let (n, _) = self.append(encode_floor(f));
        if let Some(b) = self.blocks.get_mut(&n) {
            b.floor = b.floor.max(f.first);
            b.last_seq = b.last_seq.max(f.last_seq);
        }
        self.disk.first = self.disk.first.max(f.first);
        if f.last_seq >= self.disk.last_seq {
            (self.disk.last_seq, self.disk.last_time) = (f.last_seq, f.last_time);
        }
    }

    /// Writes what the wrapped store removed since the last call (a floor for those below
    /// the new first sequence, a tombstone for the others), then reclaims what it can.
    fn persist_removals(&mut self) {
        let removed = self.msgs.take_removed();
        let now = self.floor_now();
        for &seq in &removed {
            if seq >= now.first {
                self.write_delete(seq);
            }
        }
        if removed.iter().any(|&seq| seq < now.first) {
            self.write_floor(now);
        }
        for seq in removed {
            self.bury(seq);
        }
        self.reclaim();
    }

    /// Counts the record of message `seq` as dead in its block.
    fn bury(&mut self, seq: u64) {
        let Some(&n) = self.index.get(&seq) else {
            return;
        };
        if let Some(b) = self.blocks.get_mut(&n) {
            b.live = b.live.saturating_sub(1);
            b.dead_bytes += b.msgs.get(seq).map_or(0, |r| r.len);
            self.check.insert(n);
        }
    }

    /// Makes the active block hold the highest floor and the last sequence, as it does in
    /// normal operation; after a crash while a block was being started it may not, and
    /// the block that does could go before the next one starts.
    fn anchor(&mut self) {
        if self.disk == Floor::default() {
            return;
        }
        match self.active.and_then(|n| self.blocks.get(&n)) {
            Some(b) if b.floor >= self.disk.first && b.last_seq >= self.disk.last_seq => {}
            Some(_) => self.write_floor(self.disk),
            None => {
                self.open_block();
            }
        }
    }

    /// Removes or rewrites the blocks to look at, until none is left.
    fn reclaim(&mut self) {
        if let Some(b) = self.active.and_then(|n| self.blocks.get(&n)) {
            if b.live == 0 && !b.msgs.is_empty() && b.len * 2 >= self.block_size {
                self.open_block();
            }
        }
        while let Some(n) = self.check.pop_first() {
            if Some(n) == self.active {
                continue;
            }
            let Some(b) = self.blocks.get(&n) else {
                continue;
            };
            if b.damaged {
                continue;
            }
            if b.live == 0 {
                self.drop_block(n);
            } else if b.worth_compacting() {
                self.compact(n);
            }
        }
    }

    /// The tombstones of block `n` that must outlive it.
    fn needed_tombs(&self, n: u64) -> Vec<u64> {
        self.blocks.get(&n).map_or_else(Vec::new, |b| {
            b.tombs
                .iter()
                .copied()
                .filter(|&t| t >= self.disk.first && self.index.get(&t).is_some_and(|&m| m != n))
                .collect()
        })
    }

    /// Removes block `n`, which holds no live message, after copying the tombstones that
    /// are still needed to the active block. A block of tombstones only, some of them still
    /// needed, stays: moving them would free little, and could go on forever.
    fn drop_block(&mut self, n: u64) {
        let needed = self.needed_tombs(n);
        let Some(b) = self.blocks.get(&n) else {
            return;
        };
        if b.msgs.is_empty() && !needed.is_empty() {
            return;
        }
        for t in needed {
            self.write_delete(t);
        }
        if let Some(b) = self.blocks.remove(&n) {
            self.forget(n, &b.tombs, b.msgs.seqs());
        }
        self.cache.get_mut().remove(n);
        self.ops.push(FileOp::Remove {
            file: block_name(n),
        });
    }

    /// Rewrites block `n` with only what is still needed: its live messages' records as
    /// they are (read back if need be) and the tombstones still needed. A block that cannot
    /// be read back whole is left as it is, like one damaged at recovery.
    fn compact(&mut self, n: u64) {
        let needed = self.needed_tombs(n);
        let Some(old) = self.blocks.get(&n) else {
            return;
        };
        let mut out = BytesMut::new();
        let mut block = Block::default();
        let live = old
            .msgs
            .iter()
            .filter(|&(seq, _)| self.msgs.get(seq).is_some());
        let copied = live.map(|(seq, rec)| {
            let (bytes, _) = self.read_record(n, seq, rec)?;
            let at = out.len() as u64;
            out.extend_from_slice(&bytes);
            block.msgs.insert(seq, Rec { at, ..rec });
            block.live += 1;
            Ok(())
        });
        if let Err(c) = copied.collect::<Result<(), Corruption>>() {
            self.fault(c);
            if let Some(b) = self.blocks.get_mut(&n) {
                b.damaged = true;
            }
            return;
        }
        let Some(old) = self.blocks.remove(&n) else {
            return;
        };
        for &t in &needed {
            out.extend_from_slice(&encode_delete(t));
            block.tombs.insert(t);
        }
        block.len = out.len() as u64;
        let gone: Vec<u64> = old
            .msgs
            .seqs()
            .filter(|&seq| !block.msgs.contains(seq))
            .collect();
        self.forget(n, &old.tombs, gone);
        for t in needed {
            self.tombs.insert((t, n));
        }
        self.blocks.insert(n, block);
        let data = out.freeze();
        self.cache.get_mut().replace(n, data.clone());
        self.ops.push(FileOp::Replace {
            file: block_name(n),
            data,
        });
    }

    /// Forgets tombstones `tombs` of block `n` and the message records `gone` from it, and
    /// looks again at the blocks holding tombstones of those messages.
    fn forget(&mut self, n: u64, tombs: &BTreeSet<u64>, gone: impl IntoIterator<Item = u64>) {
        for &t in tombs {
            self.tombs.remove(&(t, n));
        }
        for seq in gone {
            self.index.remove(&seq);
            let holders = self.tombs.range((seq, 0)..=(seq, u64::MAX));
            self.check.extend(holders.map(|&(_, holder)| holder));
        }
    }
}

impl Store for FileStore {
    fn store(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        time: u64,
    ) -> Result<u64, StoreError> {
        let seq = self.msgs.store(subject, headers, data, time)?;
        self.write_msg(seq, time, subject, headers, data);
        self.persist_removals();
        Ok(seq)
    }

    fn load(&self, seq: u64) -> Option<StoredMsg> {
        self.read(seq)
    }

    /// A message whose record cannot be read is passed over (and reported), as if gone.
    fn load_next(&self, filter: &[u8], start: u64) -> Option<StoredMsg> {
        let mut from = start;
        loop {
            let (seq, _) = self.msgs.next_matching(filter, from)?;
            match self.read(seq) {
                Some(m) => return Some(m),
                None => from = seq.checked_add(1)?,
            }
        }
    }

    fn load_last(&self, filter: &[u8]) -> Option<StoredMsg> {
        self.read(self.msgs.last_seq(filter)?)
    }

    fn holds(&self, seq: u64) -> bool {
        self.msgs.get(seq).is_some()
    }

    fn seq_from_time(&self, time: u64) -> Option<u64> {
        self.msgs.seq_from_time(time)
    }

    fn last_seq(&self, filter: &[u8]) -> Option<u64> {
        self.msgs.last_seq(filter)
    }

    fn remove(&mut self, seq: u64) -> bool {
        let held = self.msgs.remove(seq);
        self.persist_removals();
        held
    }

    fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64 {
        let n = self.msgs.purge(filter, upto, keep);
        self.persist_removals();
        // A purge past the end moves the last sequence even when it removed nothing.
        let now = self.floor_now();
        if now.last_seq > self.disk.last_seq {
            self.write_floor(now);
        }
        n
    }

    fn expire(&mut self, now: u64) -> u64 {
        let n = self.msgs.expire(now);
        self.persist_removals();
        n
    }

    fn next_expiry(&self) -> Option<u64> {
        self.msgs.next_expiry()
    }

    fn set_limits(&mut self, limits: Limits) {
        self.msgs.set_limits(limits);
        self.persist_removals();
    }

    /// Only the memory side moves: the next message's record carries its sequence, and
    /// recovery takes the highest one it finds.
    fn skip_to(&mut self, seq: u64) {
        self.msgs.skip_to(seq);
    }

    fn state(&self) -> StoreState {
        self.msgs.state()
    }

    fn count_matching(&self, filters: &[&str], start: u64) -> u64 {
        self.msgs.count_matching(filters, start)
    }

    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        self.msgs.subjects(filter)
    }

    /// The shell applies them, fsyncs, and only then may the node acknowledge the
    /// messages they hold.
    fn take_ops(&mut self, batch: u64) -> Vec<FileOp> {
        self.cache.get_mut().taken(batch);
        std::mem::take(&mut self.ops)
    }

    fn written(&mut self, batch: u64) {
        self.cache.get_mut().written(batch);
        self.evict(None);
    }

    fn take_faults(&mut self) -> Vec<Corruption> {
        std::mem::take(self.faults.get_mut())
    }
}

#[cfg(test)]
mod tests;
