//! What JetStream keeps on disk besides messages, and how it comes back. Each file-backed
//! stream has a directory `streams/<name>` under its account's: its configuration in
//! `meta.json`, its message blocks (see [`super::filestore`]), and a directory
//! `obs/<consumer>` per consumer with the consumer's configuration (`meta.json`) and
//! state (`state.json`). Everything to write leaves as [`DiskOp`]s, in order; the node
//! acknowledges nothing until the shell reports them durable.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::api::JetStream;
use super::config::{Storage, StreamConfig};
use super::consumer::config::ConsumerConfig;
use super::consumer::{Consumer, ConsumerState};
use std::sync::Arc;

use super::filestore::{
    BlockReader, Corruption, FileOp, FileStore, Recovery, Source, BLOCK_SIZE, CACHE_BUDGET,
};
use super::stream::Stream;

/// One thing for the shell to do; directories are relative (to the account's directory
/// here, to the store directory once the node has prefixed the account).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskOp {
    File {
        dir: String,
        op: FileOp,
    },
    /// Remove a directory and everything in it.
    RemoveDir {
        dir: String,
    },
}

impl DiskOp {
    /// The same operation under `prefix`.
    pub fn under(self, prefix: &str) -> DiskOp {
        match self {
            DiskOp::File { dir, op } => DiskOp::File {
                dir: format!("{prefix}/{dir}"),
                op,
            },
            DiskOp::RemoveDir { dir } => DiskOp::RemoveDir {
                dir: format!("{prefix}/{dir}"),
            },
        }
    }
}

const META: &str = "meta.json";
const STATE: &str = "state.json";

#[derive(Serialize, Deserialize)]
struct StreamMeta {
    config: StreamConfig,
    created: u64,
}

#[derive(Serialize, Deserialize)]
struct ConsumerMeta {
    config: ConsumerConfig,
    created: u64,
}

/// A consumer's files as found on disk: its name, `meta.json` and `state.json` (if any).
pub struct ConsumerFiles {
    pub name: String,
    pub meta: Bytes,
    pub state: Option<Bytes>,
}

fn stream_dir(stream: &str) -> String {
    format!("streams/{stream}")
}

/// How the node's file streams keep their messages: in blocks of `block_size`, of which
/// `cache_budget` bytes stay cached (see [`super::filestore`]), read back through
/// `reader` from their directories.
#[derive(Clone)]
pub struct Paging {
    pub reader: Arc<dyn BlockReader>,
    pub block_size: u64,
    pub cache_budget: u64,
}

impl Paging {
    /// The default sizes, [`BLOCK_SIZE`] and [`CACHE_BUDGET`].
    pub fn new(reader: Arc<dyn BlockReader>) -> Paging {
        Paging {
            reader,
            block_size: BLOCK_SIZE,
            cache_budget: CACHE_BUDGET,
        }
    }

    /// Where the file store of stream `stream` of account `account` reads back from.
    fn source(&self, account: &str, stream: &str) -> Source {
        Source::new(
            self.reader.clone(),
            format!("{account}/{}", stream_dir(stream)),
        )
    }

    /// `store`, the file store of stream `stream` of account `account`, paging this way.
    pub fn apply(&self, store: FileStore, account: &str, stream: &str) -> FileStore {
        store
            .with_block_size(self.block_size)
            .with_cache_budget(self.cache_budget)
            .with_source(self.source(account, stream))
    }
}

fn consumer_dir(stream: &str, consumer: &str) -> String {
    format!("streams/{stream}/obs/{consumer}")
}

fn replace(dir: String, file: &str, data: Vec<u8>) -> DiskOp {
    DiskOp::File {
        dir,
        op: FileOp::Replace {
            file: file.to_string(),
            data: Bytes::from(data),
        },
    }
}

fn on_disk(stream: &Stream) -> bool {
    stream.config().storage == Storage::File
}

impl JetStream {
    /// Stream `name` was created or its configuration changed.
    pub(super) fn stream_written(&mut self, name: &str) {
        let Some(stream) = self.streams.get(name).filter(|s| on_disk(s)) else {
            return;
        };
        let meta = StreamMeta {
            config: stream.config().clone(),
            created: stream.created,
        };
        let json = serde_json::to_vec(&meta).expect("meta serializes");
        self.disk.push(replace(stream_dir(name), META, json));
    }

    /// Stream `stream` (a file-backed one, when `on_disk`) was deleted.
    pub(super) fn stream_removed(&mut self, stream: &Stream) {
        self.dir_removed(stream.config());
    }

    /// A file-backed stream with configuration `config` is going or never came: its
    /// directory goes.
    pub(super) fn dir_removed(&mut self, config: &StreamConfig) {
        if config.storage == Storage::File {
            let dir = stream_dir(&config.name);
            self.disk.push(DiskOp::RemoveDir { dir });
        }
    }

    /// Stream `name` was restored (see [`super::restore`]): its consumers and their states
    /// are written, and its `meta.json` after its messages.
    pub(super) fn stream_restored(&mut self, name: &str) {
        let Some(stream) = self.streams.get(name).filter(|s| on_disk(s)) else {
            return;
        };
        let states: Vec<(String, Vec<u8>)> = stream
            .consumers
            .iter()
            .map(|(c, consumer)| {
                let json = serde_json::to_vec(&consumer.state()).expect("state serializes");
                (c.clone(), json)
            })
            .collect();
        for (consumer, json) in states {
            self.consumer_written(name, &consumer);
            self.disk
                .push(replace(consumer_dir(name, &consumer), STATE, json));
        }
        self.stream_written(name);
        let meta = self.disk.pop().expect("stream_written wrote meta.json");
        self.disk_last.push(meta);
    }

    /// Consumer `name` of `stream` was created or its configuration changed.
    pub(super) fn consumer_written(&mut self, stream: &str, name: &str) {
        let Some(s) = self.streams.get(stream).filter(|s| on_disk(s)) else {
            return;
        };
        let Some(c) = s.consumers.get(name) else {
            return;
        };
        let meta = ConsumerMeta {
            config: c.config().clone(),
            created: c.created,
        };
        let json = serde_json::to_vec(&meta).expect("meta serializes");
        self.disk
            .push(replace(consumer_dir(stream, name), META, json));
    }

    /// Consumer `name` of `stream` was deleted.
    pub(super) fn consumer_removed(&mut self, stream: &str, name: &str) {
        if self.streams.get(stream).is_some_and(on_disk) {
            let dir = consumer_dir(stream, name);
            self.disk.push(DiskOp::RemoveDir { dir });
        }
    }

    /// Everything to write for the changes since the last call, in order: configurations
    /// and removals, then messages (of restores under way too), then consumer states, then
    /// what must follow messages. They go out in batch `batch`.
    pub fn take_disk_ops(&mut self, batch: u64) -> Vec<DiskOp> {
        let mut ops = std::mem::take(&mut self.disk);
        for r in self.restores.values_mut() {
            if r.config.storage == Storage::File {
                let dir = stream_dir(&r.config.name);
                let taken = r.store.take_ops(batch);
                ops.extend(taken.into_iter().map(|op| DiskOp::File {
                    dir: dir.clone(),
                    op,
                }));
            }
        }
        for (name, stream) in self.streams.iter_mut() {
            if !on_disk(stream) {
                continue;
            }
            let dir = stream_dir(name);
            for op in stream.take_store_ops(batch) {
                ops.push(DiskOp::File {
                    dir: dir.clone(),
                    op,
                });
            }
            for (cname, consumer) in stream.consumers.iter_mut() {
                if let Some(state) = consumer.take_state() {
                    let json = serde_json::to_vec(&state).expect("state serializes");
                    ops.push(replace(consumer_dir(name, cname), STATE, json));
                }
            }
        }
        ops.append(&mut self.disk_last);
        ops
    }

    /// Every write batch up to `batch` is on disk.
    pub fn written(&mut self, batch: u64) {
        for stream in self.streams.values_mut() {
            stream.store_written(batch);
        }
        for r in self.restores.values_mut() {
            r.store.written(batch);
        }
    }

    /// Damage found reading messages back from disk since the last call, by stream.
    pub fn take_faults(&mut self) -> Vec<(String, Corruption)> {
        let mut faults = Vec::new();
        for (name, stream) in self.streams.iter_mut() {
            faults.extend(
                stream
                    .take_store_faults()
                    .into_iter()
                    .map(|c| (name.clone(), c)),
            );
        }
        faults
    }

    /// Brings back a file-backed stream of account `account` from its directory: `meta`
    /// is its `meta.json`, `files` the names of its message blocks, read as `paging`
    /// says, `consumers` its consumers' files. What recovery found in the blocks is
    /// returned for the log.
    pub fn recover_stream(
        &mut self,
        account: &str,
        meta: &[u8],
        files: Vec<String>,
        paging: &Paging,
        consumers: Vec<ConsumerFiles>,
        now: u64,
    ) -> Result<Recovery, String> {
        let meta: StreamMeta =
            serde_json::from_slice(meta).map_err(|e| format!("unreadable meta.json: {e}"))?;
        let name = meta.config.name.clone();
        if self.streams.contains_key(&name) {
            return Err(format!("stream {name:?} exists twice"));
        }
        let source = paging.source(account, &name);
        let (store, recovery) = FileStore::recover(meta.config.limits(), files, source);
        let store = paging.apply(store, account, &name);
        let mut stream = Stream::new(meta.config, Box::new(store), meta.created);
        stream.recover_dedupe(now);
        stream.recover_sourced();
        for files in consumers {
            let meta: ConsumerMeta = serde_json::from_slice(&files.meta)
                .map_err(|e| format!("consumer {:?}: unreadable meta.json: {e}", files.name))?;
            let state: ConsumerState = match &files.state {
                Some(state) => serde_json::from_slice(state).map_err(|e| {
                    format!("consumer {:?}: unreadable state.json: {e}", files.name)
                })?,
                None => ConsumerState {
                    next_seq: 1,
                    ..ConsumerState::default()
                },
            };
            let consumer = Consumer::restore(
                &name,
                files.name.clone(),
                meta.config,
                meta.created,
                state,
                now,
            );
            stream.consumers.insert(files.name, consumer);
        }
        self.streams.insert(name, stream);
        // Its sources here (and the streams sourcing it) find their origins again.
        self.backfill(now);
        Ok(recovery)
    }
}
