//! How the store reads its blocks back from disk: through a reader the caller hands in,
//! since the core touches no file itself. The production shell reads the block files it
//! wrote, the simulator its simulated disk, tests a map in memory; so reads stay as
//! deterministic as the medium behind them.
//!
//! Reads are synchronous: a block is read whole when a message of it is wanted and it is
//! not in memory (see `cache.rs`), and a block is at most [`super::BLOCK_SIZE`] bytes.

use std::fmt;
use std::io;
use std::sync::Arc;

use bytes::Bytes;

/// Reads files of the JetStream store directory.
pub trait BlockReader: Send + Sync {
    /// The whole of `file` in `dir` (relative to the store directory, as the `dir` of a
    /// [`DiskOp`](crate::jetstream::persist::DiskOp) once the node prefixed the account).
    fn read(&self, dir: &str, file: &str) -> io::Result<Bytes>;
}

/// One stream's directory, and the reader that reads it.
#[derive(Clone)]
pub struct Source {
    reader: Arc<dyn BlockReader>,
    dir: String,
}

impl Source {
    pub fn new(reader: Arc<dyn BlockReader>, dir: String) -> Source {
        Source { reader, dir }
    }

    /// The whole of `file` in the stream's directory.
    pub(super) fn read(&self, file: &str) -> io::Result<Bytes> {
        self.reader.read(&self.dir, file)
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").field("dir", &self.dir).finish()
    }
}
