//! Rebuilding a store from the files of its directory, as found after a crash or a clean
//! stop.
//!
//! Blocks are read in order and every record's checksum verified. Damage at the very end
//! of the last block is what a crash in the middle of an append leaves: a record cut off,
//! a last record whose checksum fails (its length reached the disk, not all of its bytes),
//! or zeros to the end (the file grew, the data never came). That append was never
//! acknowledged, so it is dropped and the file truncated to the last whole record. Any
//! other damage (a bad checksum, an unknown kind or lengths that do not fit with more
//! behind it, or anything wrong in an older block) is corruption: the block is used up to that point only, the
//! damage is reported, and the block is left on disk untouched. Nothing is ever read past
//! damage, nothing is allocated from a length that was not checked against the input, and
//! every payload served is a slice of a record whose checksum matched.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::block::{block_name, block_number, Block};
use super::record::{claimed_end, decode, Damage, Floor, Record};
use super::{FileOp, FileStore};
use crate::jetstream::memstore::MemStore;
use crate::jetstream::store::{Limits, Store, StoredMsg};

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Messages the store holds once recovered (and the limits applied).
    pub messages: u64,
    /// The torn record dropped from the end of the last block, if any.
    pub torn_tail: Option<TornTail>,
    /// Damage found in the blocks, in block order.
    pub corruption: Vec<Corruption>,
}

/// A record cut off at the end of the last block, and the `Truncate` queued to drop it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: String,
    /// Where the torn record starts: the file's length once truncated.
    pub offset: u64,
    /// The bytes dropped.
    pub dropped: u64,
}

/// Damage at `offset` of `file`: nothing from there on in that file was used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    pub file: String,
    pub offset: u64,
    pub damage: Damage,
}

impl FileStore {
    /// Rebuilds the store from the files of its directory (name, full contents) as found
    /// on disk after a crash or clean stop. Files that are not the store's are ignored.
    /// The `Truncate` of a torn tail, and whatever applying `limits` and reclaiming space
    /// writes, are queued for [`FileStore::take_ops`].
    pub fn recover(limits: Limits, files: Vec<(String, Bytes)>) -> (FileStore, Recovery) {
        let files: BTreeMap<u64, Bytes> = files
            .into_iter()
            .filter_map(|(name, data)| Some((block_number(&name)?, data)))
            .collect();
        let last_block = files.keys().next_back().copied();
        let mut scan = Scan::default();
        let mut report = Recovery::default();
        for (n, data) in &files {
            scan.read_block(*n, data, Some(*n) == last_block, &mut report);
        }
        let mut store = scan.into_store(limits, last_block);
        store.anchor();
        store.set_limits(limits);
        report.messages = store.state().msgs;
        (store, report)
    }
}

/// Whether damage at `pos` of the last block is a torn append rather than corruption: it
/// is the last thing in the file. A crash may also lose earlier appends of a batch (they
/// read back as zeros) yet keep part of a later one: zeros, then a record cut off at the
/// end of the file. None of that was acknowledged (a batch is acknowledged only once all
/// of it is synced); a whole record after the zeros, though, is reported as corruption.
fn torn(data: &Bytes, pos: usize, damage: Damage) -> bool {
    let cut_at_end = |at: usize, damage: Damage| {
        damage == Damage::Cut
            || (damage == Damage::BadChecksum && claimed_end(data, at) == Some(data.len()))
    };
    if cut_at_end(pos, damage) {
        return true;
    }
    let Some(next) = data[pos..].iter().position(|&b| b != 0) else {
        return true;
    };
    next > 0 && matches!(decode(data, pos + next), Err(d) if cut_at_end(pos + next, d))
}

/// What the records read so far say.
#[derive(Default)]
struct Scan {
    blocks: BTreeMap<u64, Block>,
    msgs: BTreeMap<u64, StoredMsg>,
    index: BTreeMap<u64, u64>,
    tombs: BTreeSet<(u64, u64)>,
    /// The highest floor, and the highest last sequence with its time.
    disk: Floor,
    highest_tomb: u64,
    ops: Vec<FileOp>,
    last_damaged: bool,
}

impl Scan {
    fn read_block(&mut self, n: u64, data: &Bytes, is_last: bool, report: &mut Recovery) {
        let mut block = Block {
            len: data.len() as u64,
            ..Block::default()
        };
        let mut pos = 0;
        while pos < data.len() {
            match decode(data, pos) {
                Ok((record, end)) => {
                    self.add(n, &mut block, record, (end - pos) as u64);
                    pos = end;
                }
                Err(damage) if is_last && torn(data, pos, damage) => {
                    block.len = pos as u64;
                    report.torn_tail = Some(TornTail {
                        file: block_name(n),
                        offset: pos as u64,
                        dropped: (data.len() - pos) as u64,
                    });
                    self.ops.push(FileOp::Truncate {
                        file: block_name(n),
                        len: pos as u64,
                    });
                    break;
                }
                Err(damage) => {
                    block.damaged = true;
                    self.last_damaged |= is_last;
                    report.corruption.push(Corruption {
                        file: block_name(n),
                        offset: pos as u64,
                        damage,
                    });
                    break;
                }
            }
        }
        self.blocks.insert(n, block);
    }

    fn add(&mut self, n: u64, block: &mut Block, record: Record, size: u64) {
        match record {
            Record::Msg(m) => {
                // A second record of a sequence can only come from damage; the first stands.
                if self.index.contains_key(&m.seq) {
                    return;
                }
                if m.seq >= self.disk.last_seq {
                    (self.disk.last_seq, self.disk.last_time) = (m.seq, m.time);
                }
                self.index.insert(m.seq, n);
                block.last_seq = block.last_seq.max(m.seq);
                block.msgs.insert(m.seq, size);
                self.msgs.insert(m.seq, m);
            }
            Record::Delete(seq) => {
                self.highest_tomb = self.highest_tomb.max(seq);
                block.tombs.insert(seq);
                self.tombs.insert((seq, n));
            }
            Record::Floor(f) => {
                block.floor = block.floor.max(f.first);
                block.last_seq = block.last_seq.max(f.last_seq);
                self.disk.first = self.disk.first.max(f.first);
                if f.last_seq >= self.disk.last_seq {
                    (self.disk.last_seq, self.disk.last_time) = (f.last_seq, f.last_time);
                }
            }
        }
    }

    /// The store the records describe: a message is held if it is at or above the highest
    /// floor and no tombstone names it.
    fn into_store(mut self, limits: Limits, last_block: Option<u64>) -> FileStore {
        let tombstoned: BTreeSet<u64> = self.tombs.iter().map(|&(seq, _)| seq).collect();
        let floor = self.disk.first;
        let dead = |seq: u64| seq < floor || tombstoned.contains(&seq);
        for block in self.blocks.values_mut() {
            for (&seq, &size) in &block.msgs {
                if dead(seq) {
                    block.dead_bytes += size;
                } else {
                    block.live += 1;
                }
            }
        }
        let next_seq = [
            self.disk.last_seq.saturating_add(1),
            self.highest_tomb.saturating_add(1),
            floor,
            1,
        ]
        .into_iter()
        .max()
        .unwrap_or(1);
        let live = self.msgs.into_values().filter(|m| !dead(m.seq));
        let mem = MemStore::restore(limits, live, next_seq, self.disk.last_time);
        let mut store = FileStore::restored(mem);
        store.check = self.blocks.keys().copied().collect();
        store.blocks = self.blocks;
        store.index = self.index;
        store.tombs = self.tombs;
        store.disk = self.disk;
        store.ops = self.ops;
        store.active = last_block.filter(|_| !self.last_damaged);
        store.next_block = last_block.map_or(1, |n| n.saturating_add(1));
        store
    }
}
