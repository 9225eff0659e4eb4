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
//! every payload served comes from a record whose checksum matched.
//!
//! Blocks are read one at a time through the store's [`Source`] and let go once scanned:
//! what stays is the index (subjects shared, no payload), so a stream much larger than
//! memory comes back as it was.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::block::{block_name, block_number, Block, Rec};
use super::indexed::Indexed;
use super::record::{claimed_end, decode, Damage, Floor, Record};
use super::{FileOp, FileStore, Source};
use crate::jetstream::headers::{ttl, Ttl};
use crate::jetstream::memstore::{Entry, MemStore};
use crate::jetstream::store::{Limits, Store};

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
    /// Rebuilds the store from the files of its directory as found on disk after a crash
    /// or clean stop: `files` are their names (those that are not the store's are
    /// ignored), read through `source`, which the store goes on reading from. The
    /// `Truncate` of a torn tail, and whatever applying `limits` and reclaiming space
    /// writes, are queued for [`Store::take_ops`].
    pub fn recover(limits: Limits, files: Vec<String>, source: Source) -> (FileStore, Recovery) {
        let blocks: BTreeSet<u64> = files.iter().filter_map(|f| block_number(f)).collect();
        let last_block = blocks.last().copied();
        let mut scan = Scan::default();
        let mut report = Recovery::default();
        for &n in &blocks {
            let is_last = Some(n) == last_block;
            match source.read(&block_name(n)) {
                Ok(data) => scan.read_block(n, &data, is_last, &mut report),
                Err(_) => scan.unreadable(n, is_last, &mut report),
            }
        }
        let mut store = scan.into_store(limits, last_block, source);
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
    /// Each message's index entry and `Nats-TTL`.
    msgs: BTreeMap<u64, (Indexed, Option<Ttl>)>,
    /// The subjects seen, each kept once.
    subjects: BTreeSet<Bytes>,
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
                    let rec = Rec {
                        at: pos as u64,
                        len: (end - pos) as u64,
                    };
                    self.add(n, &mut block, record, rec);
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
                    self.damaged(n, &mut block, pos as u64, damage, is_last, report);
                    break;
                }
            }
        }
        self.blocks.insert(n, block);
    }

    /// Block `n` could not be read at all: it is damaged from its start.
    fn unreadable(&mut self, n: u64, is_last: bool, report: &mut Recovery) {
        let mut block = Block::default();
        self.damaged(n, &mut block, 0, Damage::Unreadable, is_last, report);
        self.blocks.insert(n, block);
    }

    fn damaged(
        &mut self,
        n: u64,
        block: &mut Block,
        offset: u64,
        damage: Damage,
        is_last: bool,
        report: &mut Recovery,
    ) {
        block.damaged = true;
        self.last_damaged |= is_last;
        report.corruption.push(Corruption {
            file: block_name(n),
            offset,
            damage,
        });
    }

    fn add(&mut self, n: u64, block: &mut Block, record: Record, rec: Rec) {
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
                block.msgs.insert(m.seq, rec);
                // Copied out of the block, which is let go once scanned.
                let subject = match self.subjects.get(&m.subject) {
                    Some(s) => s.clone(),
                    None => {
                        let s = Bytes::copy_from_slice(&m.subject);
                        self.subjects.insert(s.clone());
                        s
                    }
                };
                let entry = Indexed::new(m.seq, subject, &m.headers, &m.data, m.time);
                let ttl = ttl(&m.headers).and_then(Result::ok);
                self.msgs.insert(m.seq, (entry, ttl));
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
    fn into_store(mut self, limits: Limits, last_block: Option<u64>, source: Source) -> FileStore {
        let tombstoned: BTreeSet<u64> = self.tombs.iter().map(|&(seq, _)| seq).collect();
        let floor = self.disk.first;
        let dead = |seq: u64| seq < floor || tombstoned.contains(&seq);
        for block in self.blocks.values_mut() {
            for (seq, rec) in block.msgs.iter() {
                if dead(seq) {
                    block.dead_bytes += rec.len;
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
        let live = self
            .msgs
            .into_iter()
            .filter(|(seq, _)| !dead(*seq))
            .map(|(seq, (entry, ttl))| (seq, entry, ttl));
        let msgs = MemStore::restore(limits, live, next_seq, self.disk.last_time);
        let mut store = FileStore::restored(msgs, Some(source));
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
