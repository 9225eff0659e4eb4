//! JetStream's files on a host's simulated [`Disk`]: carrying out the node's write batches
//! and finding the streams again at start. The production shell does this on a real file
//! system (`io-tokio/src/disk.rs`); this follows its order of operations on the simulated
//! medium.
//!
//! A batch's operations are applied in order. Appends stay unsynced (lost or torn by
//! [`Disk::crash`]) until the next sync point: before a replace, truncate or removal (the
//! file store's recovery relies on appended data being durable before a later replace or
//! removal of the same batch) and at the end of the batch. Each sync point takes simulated
//! time, so a kill of the host may land in the middle of a batch and leave a prefix of it
//! behind. Replaces, truncates and removals are durable at once: directory entries are
//! modelled as journaled in order (a crash never undoes a rename or unlink that happened
//! before an fsync that completed).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use rnats_core::jetstream::filestore::{is_store_file, BlockReader, FileOp};
use rnats_core::jetstream::persist::{ConsumerFiles, DiskOp, Paging};
use rnats_core::node::Node;
use rnats_core::time::Instant;

use crate::disk::Disk;

/// Where JetStream keeps its files on a host's disk.
pub const ROOT: &str = "jetstream";

/// The store root joined with a relative directory and, optionally, a file.
fn path(dir: &str, file: Option<&str>) -> String {
    match file {
        Some(f) => format!("{ROOT}/{dir}/{f}"),
        None => format!("{ROOT}/{dir}"),
    }
}

/// The files appended to since the last sync point, and how long a sync takes.
struct Writer<'a> {
    disk: &'a Disk,
    unsynced: BTreeSet<String>,
    max_sync: Duration,
}

impl Writer<'_> {
    /// Syncs every file appended to since the last sync point, after a random
    /// `1..=max_sync` of simulated time (a kill meanwhile keeps them unsynced).
    async fn sync(&mut self) {
        if self.unsynced.is_empty() {
            return;
        }
        let max = self.max_sync.as_micros().max(1000) as u64;
        let took = Duration::from_micros(thread_rng().gen_range(1000..=max));
        madsim::time::sleep(took).await;
        for p in std::mem::take(&mut self.unsynced) {
            self.disk.sync(&p);
        }
    }

    async fn apply(&mut self, op: &DiskOp) {
        let (dir, op) = match op {
            DiskOp::RemoveDir { dir } => {
                self.sync().await;
                self.disk.remove_dir(&path(dir, None));
                return;
            }
            DiskOp::File { dir, op } => (dir, op),
        };
        if let FileOp::Append { file, data } = op {
            let p = path(dir, Some(file));
            self.disk.append(&p, data);
            self.unsynced.insert(p);
            return;
        }
        self.sync().await;
        match op {
            FileOp::Replace { file, data } => self.disk.replace(&path(dir, Some(file)), data),
            FileOp::Truncate { file, len } => self.disk.truncate(&path(dir, Some(file)), *len),
            FileOp::Remove { file } => self.disk.remove(&path(dir, Some(file))),
            FileOp::Append { .. } => unreachable!("handled above"),
        }
    }
}

/// Carries out one batch on `disk` and makes it durable; each sync point takes up to
/// `max_sync` (at least 1 ms) of simulated time.
pub async fn apply(disk: &Disk, ops: &[DiskOp], max_sync: Duration) {
    let mut w = Writer {
        disk,
        unsynced: BTreeSet::new(),
        max_sync,
    };
    for op in ops {
        w.apply(op).await;
    }
    w.sync().await;
}

/// The file stores' block size in the simulator: small, so that streams of a few
/// messages span many blocks and crashes land among block rollovers and compactions.
const BLOCK_SIZE: u64 = 4 << 10;
/// Their cache budget: two blocks, so most reads go back to the disk, and a read that
/// missed a write not yet on disk would be caught.
const CACHE_BUDGET: u64 = 2 * BLOCK_SIZE;

/// Reads block files back from the disk for the file stores, as the production shell
/// reads them from the file system: what the disk holds now, synced or not.
struct BlockFiles(Disk);

impl BlockReader for BlockFiles {
    fn read(&self, dir: &str, file: &str) -> io::Result<Bytes> {
        let data = self.0.read(&path(dir, Some(file)), 0, usize::MAX);
        data.map(Bytes::from)
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

/// One stream directory's files as found on the disk.
#[derive(Default)]
struct Found {
    meta: Option<Bytes>,
    /// The names of its message blocks.
    blocks: Vec<String>,
    /// Consumer name to its `meta.json` and `state.json`.
    consumers: BTreeMap<String, (Option<Bytes>, Option<Bytes>)>,
}

/// Sorts one file under [`ROOT`] into its stream's [`Found`], by its path
/// `<account>/streams/<stream>/<file>` or `.../obs/<consumer>/<file>`; `read` reads it
/// (blocks are not read here: the store reads them).
fn sort_file(found: &mut BTreeMap<(String, String), Found>, rel: &str, read: impl Fn() -> Bytes) {
    let parts: Vec<&str> = rel.split('/').collect();
    let (account, stream, rest) = match parts.as_slice() {
        [account, "streams", stream, rest @ ..] => (*account, *stream, rest),
        _ => return,
    };
    let entry = found
        .entry((account.to_string(), stream.to_string()))
        .or_default();
    match rest {
        ["meta.json"] => entry.meta = Some(read()),
        [block] if is_store_file(block) => entry.blocks.push(block.to_string()),
        ["obs", consumer, file] => {
            let c = entry.consumers.entry(consumer.to_string()).or_default();
            match *file {
                "meta.json" => c.0 = Some(read()),
                "state.json" => c.1 = Some(read()),
                _ => {}
            }
        }
        _ => {}
    }
}

/// Lets `node`'s file stores read their blocks back from `disk`, then reads every stream
/// directory on it and restores it into `node` (directories without a `meta.json`,
/// streams whose creation never became durable, are skipped; so are consumers without
/// one). Returns what recovery reported, for the log.
pub fn recover(disk: &Disk, node: &mut Node, now: Instant) -> Vec<String> {
    node.set_paging(Paging {
        reader: Arc::new(BlockFiles(disk.clone())),
        block_size: BLOCK_SIZE,
        cache_budget: CACHE_BUDGET,
    });
    let prefix = format!("{ROOT}/");
    let mut found = BTreeMap::new();
    for p in disk.paths() {
        let Some(rel) = p.strip_prefix(&prefix) else {
            continue;
        };
        let read = || Bytes::from(disk.read(&p, 0, usize::MAX).unwrap_or_default());
        sort_file(&mut found, rel, read);
    }
    let mut report = Vec::new();
    for ((account, stream), f) in found {
        let Some(meta) = f.meta else { continue };
        let consumers = f
            .consumers
            .into_iter()
            .filter_map(|(name, (meta, state))| {
                Some(ConsumerFiles {
                    name,
                    meta: meta?,
                    state,
                })
            })
            .collect();
        let line = match node.recover_stream(now, &account, &meta, f.blocks, consumers) {
            Ok(r) => format!(
                "stream {account} > {stream}: {} messages, torn tail {:?}, corruption {:?}",
                r.messages, r.torn_tail, r.corruption
            ),
            Err(e) => format!("stream {account} > {stream} not restored: {e}"),
        };
        report.push(line);
    }
    report
}
