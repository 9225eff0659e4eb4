//! JetStream's files: carrying out the node's writes durably, reading the store directory
//! back at start, and reading message blocks back for the file stores ([`BlockFiles`]).
//!
//! Writes come in batches ([`Output::Persist`](rnats_core::node::Output)); a batch is
//! applied in order and made durable before the node hears of it: appended files are
//! fsynced, replaced files are written to a temporary file, fsynced and renamed, and the
//! directories whose entries changed are fsynced too. Appended files are synced before
//! any replace or removal that follows them in the batch, as the file store's recovery
//! relies on. Batches run on a thread of their own, one at a time.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rnats_core::jetstream::filestore::{is_store_file, BlockReader, FileOp};
use rnats_core::jetstream::persist::{ConsumerFiles, DiskOp};

/// The JetStream directory and the files kept open for appending.
pub struct Disk {
    root: PathBuf,
    open: HashMap<PathBuf, File>,
    /// Whether each batch is made durable before it is reported (the default), or only
    /// by [`Disk::sync_all`] on a timer (`sync_interval`), trading safety for speed.
    sync_each_batch: bool,
}

impl Disk {
    pub fn new(root: PathBuf, sync_each_batch: bool) -> Disk {
        Disk {
            root,
            open: HashMap::new(),
            sync_each_batch,
        }
    }

    /// fsyncs every file open for appending.
    pub fn sync_all(&mut self) -> io::Result<()> {
        for f in self.open.values() {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Carries out one batch and, unless syncing on a timer, makes it durable. Appends
    /// that follow one another to the same file go out in one write.
    pub fn apply(&mut self, ops: &[DiskOp]) -> io::Result<()> {
        let mut unsynced: BTreeSet<PathBuf> = BTreeSet::new();
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        let mut i = 0;
        while i < ops.len() {
            let op = &ops[i];
            i += 1;
            match op {
                DiskOp::File {
                    dir,
                    op: FileOp::Append { file, data },
                } => {
                    let path = self.root.join(dir).join(file);
                    if !self.open.contains_key(&path) {
                        self.ensure_dir(dir, &mut dirs)?;
                        if !path.exists() {
                            dirs.insert(self.root.join(dir));
                        }
                    }
                    let mut run = data.to_vec();
                    while let Some(DiskOp::File {
                        dir: next_dir,
                        op: FileOp::Append { file: next, data },
                    }) = ops.get(i)
                    {
                        if next_dir != dir || next != file {
                            break;
                        }
                        run.extend_from_slice(data);
                        i += 1;
                    }
                    self.appender(&path)?.write_all(&run)?;
                    unsynced.insert(path);
                }
                DiskOp::File { dir, op } => {
                    self.sync(&mut unsynced)?;
                    self.ensure_dir(dir, &mut dirs)?;
                    let dir = self.root.join(dir);
                    self.change(&dir, op)?;
                    dirs.insert(dir);
                }
                DiskOp::RemoveDir { dir } => {
                    self.sync(&mut unsynced)?;
                    let dir = self.root.join(dir);
                    self.open.retain(|path, _| !path.starts_with(&dir));
                    ignore_missing(fs::remove_dir_all(&dir))?;
                    if let Some(parent) = dir.parent() {
                        dirs.insert(parent.to_path_buf());
                    }
                }
            }
        }
        if !self.sync_each_batch {
            return Ok(());
        }
        self.sync(&mut unsynced)?;
        for dir in dirs {
            if dir.exists() {
                File::open(&dir)?.sync_all()?;
            }
        }
        Ok(())
    }

    /// Replaces, cuts or removes a file of `dir` (appends are written in runs by
    /// [`Disk::apply`]).
    fn change(&mut self, dir: &Path, op: &FileOp) -> io::Result<()> {
        match op {
            FileOp::Append { file, data } => self.appender(&dir.join(file))?.write_all(data),
            FileOp::Replace { file, data } => {
                let path = dir.join(file);
                self.open.remove(&path);
                replace(&path, data)
            }
            FileOp::Truncate { file, len } => {
                let path = dir.join(file);
                self.open.remove(&path);
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(*len)?;
                f.sync_all()
            }
            FileOp::Remove { file } => {
                let path = dir.join(file);
                self.open.remove(&path);
                ignore_missing(fs::remove_file(&path))
            }
        }
    }

    /// Creates `dir` (under the root) if it does not exist, noting the directories that
    /// got a new entry.
    fn ensure_dir(&self, dir: &str, dirs: &mut BTreeSet<PathBuf>) -> io::Result<()> {
        let dir = self.root.join(dir);
        if !dir.exists() {
            fs::create_dir_all(&dir)?;
            note_new_dirs(&self.root, &dir, dirs);
        }
        Ok(())
    }

    fn appender(&mut self, path: &Path) -> io::Result<&mut File> {
        if !self.open.contains_key(path) {
            let f = OpenOptions::new().create(true).append(true).open(path)?;
            self.open.insert(path.to_path_buf(), f);
        }
        Ok(self.open.get_mut(path).expect("just opened"))
    }

    /// fsyncs the files appended to since the last sync.
    fn sync(&mut self, unsynced: &mut BTreeSet<PathBuf>) -> io::Result<()> {
        for path in std::mem::take(unsynced) {
            if let Some(f) = self.open.get(&path) {
                f.sync_data()?;
            }
        }
        Ok(())
    }
}

/// Remembers the directories that got a new entry when `dir` was created under `root`.
fn note_new_dirs(root: &Path, dir: &Path, dirs: &mut BTreeSet<PathBuf>) {
    let mut at = dir;
    while let Some(parent) = at.parent() {
        dirs.insert(parent.to_path_buf());
        if parent == root || !parent.starts_with(root) {
            break;
        }
        at = parent;
    }
}

/// Replaces `path` with `data` atomically: a temporary file, fsynced, renamed over it.
fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Reads block files of the JetStream directory for the file stores, which keep only a
/// few blocks in memory. Called on the node's thread while the disk thread may be writing:
/// a store only reads back blocks whose writes were reported done, and a replaced file is
/// renamed into place whole, so a read never sees a block half written.
pub struct BlockFiles {
    root: PathBuf,
}

impl BlockFiles {
    pub fn new(root: PathBuf) -> BlockFiles {
        BlockFiles { root }
    }
}

impl BlockReader for BlockFiles {
    fn read(&self, dir: &str, file: &str) -> io::Result<Bytes> {
        fs::read(self.root.join(dir).join(file)).map(Bytes::from)
    }
}

/// Where JetStream keeps its files: `jetstream` under the store directory (`-sd`), or
/// under `nats` in the system's temporary directory, as the reference.
pub fn jetstream_dir(opts: &rnats_core::options::Options) -> PathBuf {
    let base = match &opts.store_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("nats"),
    };
    base.join("jetstream")
}

/// A stream's directory as found at start.
pub struct StreamFiles {
    pub account: String,
    pub name: String,
    pub meta: Bytes,
    /// The names of its message blocks, read by the store through [`BlockFiles`].
    pub blocks: Vec<String>,
    pub consumers: Vec<ConsumerFiles>,
}

/// Reads every stream directory under `root` (`<account>/streams/<stream>`). Directories
/// without a `meta.json` are skipped (a stream whose creation never became durable).
pub fn read_streams(root: &Path) -> io::Result<Vec<StreamFiles>> {
    let mut found = Vec::new();
    for account in sorted_dirs(root)? {
        let streams = account.join("streams");
        for dir in sorted_dirs(&streams)? {
            let Ok(meta) = fs::read(dir.join("meta.json")) else {
                continue;
            };
            let mut blocks = Vec::new();
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if is_store_file(&name) {
                    blocks.push(name);
                }
            }
            blocks.sort();
            let mut consumers = Vec::new();
            for obs in sorted_dirs(&dir.join("obs"))? {
                let Ok(meta) = fs::read(obs.join("meta.json")) else {
                    continue;
                };
                consumers.push(ConsumerFiles {
                    name: file_name(&obs),
                    meta: Bytes::from(meta),
                    state: fs::read(obs.join("state.json")).ok().map(Bytes::from),
                });
            }
            found.push(StreamFiles {
                account: file_name(&account),
                name: file_name(&dir),
                meta: Bytes::from(meta),
                blocks,
                consumers,
            });
        }
    }
    Ok(found)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The subdirectories of `dir`, by name; none if it does not exist.
fn sorted_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_and_reads_back() {
        let root = tempdir();
        let mut disk = Disk::new(root.clone(), true);
        let file = |op| DiskOp::File {
            dir: "$G/streams/S".into(),
            op,
        };
        disk.apply(&[
            file(FileOp::Replace {
                file: "meta.json".into(),
                data: Bytes::from_static(b"{}"),
            }),
            file(FileOp::Append {
                file: "1.blk".into(),
                data: Bytes::from_static(b"abc"),
            }),
            file(FileOp::Append {
                file: "1.blk".into(),
                data: Bytes::from_static(b"def"),
            }),
            DiskOp::File {
                dir: "$G/streams/S/obs/D".into(),
                op: FileOp::Replace {
                    file: "meta.json".into(),
                    data: Bytes::from_static(b"{\"c\":1}"),
                },
            },
        ])
        .unwrap();
        disk.apply(&[file(FileOp::Truncate {
            file: "1.blk".into(),
            len: 4,
        })])
        .unwrap();
        let streams = read_streams(&root).unwrap();
        assert_eq!(streams.len(), 1);
        let s = &streams[0];
        assert_eq!((s.account.as_str(), s.name.as_str()), ("$G", "S"));
        assert_eq!(s.blocks, vec!["1.blk".to_string()]);
        let read = BlockFiles::new(root.clone()).read("$G/streams/S", "1.blk");
        assert_eq!(read.unwrap(), Bytes::from_static(b"abcd"));
        assert_eq!(s.consumers.len(), 1);
        assert_eq!(&s.consumers[0].meta[..], b"{\"c\":1}");
        disk.apply(&[DiskOp::RemoveDir {
            dir: "$G/streams/S".into(),
        }])
        .unwrap();
        assert!(read_streams(&root).unwrap().is_empty());
        fs::remove_dir_all(root).unwrap();
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rnats-disk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
