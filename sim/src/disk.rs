//! A simulated disk that lives outside the nodes, so it survives `kill`/`restart`.
//!
//! Each file is its synced contents plus a log of unsynced writes. `read` and `len` see
//! every write; `sync(path)` makes a file's writes durable; `crash(rng)` drops every unsynced
//! write, except that the last unsynced write of a file may survive torn (a random prefix
//! of it reached the platter). Clone a [`Disk`] to share it between the test and a node's
//! `init` closure.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use madsim::rand::Rng;

#[derive(Clone, Debug, Default)]
struct File {
    synced: Vec<u8>,
    /// Unsynced writes in order: (offset, data).
    pending: Vec<(u64, Vec<u8>)>,
}

fn apply(buf: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let off = offset as usize;
    let end = off + data.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[off..end].copy_from_slice(data);
}

impl File {
    fn current(&self) -> Vec<u8> {
        let mut b = self.synced.clone();
        for (off, d) in &self.pending {
            apply(&mut b, *off, d);
        }
        b
    }

    /// The length as written so far, without building the contents.
    fn len(&self) -> u64 {
        let written = self.pending.iter().map(|(off, d)| off + d.len() as u64);
        written.fold(self.synced.len() as u64, u64::max)
    }

    /// Makes every write durable, in place.
    fn sync(&mut self) {
        for (off, d) in std::mem::take(&mut self.pending) {
            apply(&mut self.synced, off, &d);
        }
    }
}

/// The files of one simulated disk.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    files: Arc<Mutex<BTreeMap<String, File>>>,
}

impl Disk {
    pub fn new() -> Disk {
        Disk::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, File>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `data` at `offset` (creating the file, zero-filling any gap). Not durable until
    /// [`Disk::sync`].
    pub fn write(&self, path: &str, offset: u64, data: &[u8]) {
        self.lock()
            .entry(path.to_string())
            .or_default()
            .pending
            .push((offset, data.to_vec()));
    }

    /// Makes every write to `path` so far durable.
    pub fn sync(&self, path: &str) {
        if let Some(f) = self.lock().get_mut(path) {
            f.sync();
        }
    }

    /// Appends `data` at the end of `path` (creating it). Not durable until [`Disk::sync`].
    pub fn append(&self, path: &str, data: &[u8]) {
        let mut files = self.lock();
        let f = files.entry(path.to_string()).or_default();
        let end = f.len();
        f.pending.push((end, data.to_vec()));
    }

    /// Replaces `path` with `data` atomically and durably (a temporary file, synced, then
    /// renamed over it: a crash leaves the old contents or the new, never a mix).
    pub fn replace(&self, path: &str, data: &[u8]) {
        let file = File {
            synced: data.to_vec(),
            pending: Vec::new(),
        };
        self.lock().insert(path.to_string(), file);
    }

    /// Cuts `path` to `len` bytes durably (its earlier writes are synced first); no-op if
    /// it does not exist.
    pub fn truncate(&self, path: &str, len: u64) {
        if let Some(f) = self.lock().get_mut(path) {
            f.sync();
            f.synced.truncate(len as usize);
        }
    }

    /// Removes `path` durably (nothing if it does not exist).
    pub fn remove(&self, path: &str) {
        self.lock().remove(path);
    }

    /// Removes every file under directory `dir` durably.
    pub fn remove_dir(&self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        self.lock().retain(|path, _| !path.starts_with(&prefix));
    }

    /// Up to `len` bytes of `path` from `offset` (fewer at the end of the file); `None` if
    /// the file does not exist.
    pub fn read(&self, path: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        let files = self.lock();
        let b = files.get(path)?.current();
        let start = (offset as usize).min(b.len());
        let end = start.saturating_add(len).min(b.len());
        Some(b[start..end].to_vec())
    }

    /// The length of `path` as written so far; `None` if it does not exist.
    pub fn len(&self, path: &str) -> Option<u64> {
        self.lock().get(path).map(File::len)
    }

    /// Whether the disk has no files.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every file's path.
    pub fn paths(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Power loss: every unsynced write is dropped, except that with probability one half
    /// the last unsynced write of each file survives torn (a random prefix of it, possibly
    /// empty). A file that was never synced and keeps nothing is gone.
    pub fn crash(&self, rng: &mut impl Rng) {
        self.lose(rng, false)
    }

    /// Power loss as a page cache may leave appends: per file, with probability three
    /// quarters a random prefix of its unsynced writes reached the platter whole, in
    /// order, and with probability one half a random prefix of the next one too; otherwise
    /// as [`Disk::crash`] (only a torn piece of the last write, after a zero-filled gap if
    /// earlier writes were lost). A file that was never synced and keeps nothing is gone.
    pub fn crash_in_order(&self, rng: &mut impl Rng) {
        self.lose(rng, true)
    }

    fn lose(&self, rng: &mut impl Rng, in_order: bool) {
        let mut files = self.lock();
        let mut gone = Vec::new();
        for (path, f) in files.iter_mut() {
            if !f.lose(rng, in_order) {
                gone.push(path.clone());
            }
        }
        for p in gone {
            files.remove(&p);
        }
    }
}

impl File {
    /// Keeps what of the unsynced writes a power loss saved (see [`Disk::crash_in_order`]);
    /// false if the file was never synced and keeps nothing.
    fn lose(&mut self, rng: &mut impl Rng, in_order: bool) -> bool {
        let pending = std::mem::take(&mut self.pending);
        let n = pending.len();
        // Writes 0..whole survive whole; write `torn` (if it is not among them) may
        // survive torn.
        let (whole, torn) = if in_order && rng.gen_bool(0.75) {
            let k = rng.gen_range(0..=n);
            (k, k)
        } else {
            (0, n.saturating_sub(1))
        };
        let mut kept = false;
        for (off, d) in &pending[..whole] {
            apply(&mut self.synced, *off, d);
            kept = true;
        }
        let tail = pending
            .get(torn)
            .filter(|_| torn >= whole && rng.gen_bool(0.5));
        if let Some((off, d)) = tail {
            let keep = rng.gen_range(0..=d.len());
            if keep > 0 {
                apply(&mut self.synced, *off, &d[..keep]);
                kept = true;
            }
        }
        kept || !self.synced.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[madsim::test]
    async fn synced_data_survives_a_crash() {
        let disk = Disk::new();
        disk.write("log", 0, b"hello ");
        disk.write("log", 6, b"world");
        disk.sync("log");
        assert_eq!(
            disk.read("log", 0, 100).as_deref(),
            Some(&b"hello world"[..])
        );
        disk.crash(&mut madsim::rand::thread_rng());
        assert_eq!(
            disk.read("log", 0, 100).as_deref(),
            Some(&b"hello world"[..])
        );
        assert_eq!(disk.len("log"), Some(11));
    }

    #[madsim::test]
    async fn unsynced_data_does_not_survive() {
        let mut rng = madsim::rand::thread_rng();
        for _ in 0..50 {
            let disk = Disk::new();
            disk.write("log", 0, b"durable");
            disk.sync("log");
            disk.write("log", 7, b"-lost1");
            disk.write("log", 13, b"-maybe-torn");
            assert_eq!(disk.len("log"), Some(24));
            disk.crash(&mut rng);
            let got = disk.read("log", 0, 100).expect("file exists");
            // The synced prefix is intact, the first unsynced write is gone (zeros if the
            // torn tail extended the file), the last at most a prefix of itself.
            assert_eq!(&got[..7], b"durable");
            assert!(got.len() <= 24);
            if got.len() > 7 {
                assert!(got[7..13.min(got.len())].iter().all(|&b| b == 0), "{got:?}");
            }
            if got.len() > 13 {
                assert!(b"-maybe-torn".starts_with(&got[13..]), "{got:?}");
            }
        }
        // A file never synced is gone unless a torn write kept something of it.
        let disk = Disk::new();
        disk.write("tmp", 0, b"x");
        disk.write("tmp", 1, b"y");
        disk.crash(&mut rng);
        let left = disk.read("tmp", 0, 10);
        assert!(
            left.is_none()
                || left.as_deref() == Some(&b"\0y"[..])
                || left.as_deref() == Some(&b""[..]),
            "{left:?}"
        );
    }

    #[madsim::test]
    async fn in_order_crash_keeps_a_prefix_or_a_torn_last_write() {
        let mut rng = madsim::rand::thread_rng();
        let (mut prefixes, mut gaps) = (0, 0);
        for _ in 0..200 {
            let disk = Disk::new();
            disk.append("blk", b"synced;");
            disk.sync("blk");
            for part in [&b"one;"[..], b"two;", b"three;"] {
                disk.append("blk", part);
            }
            disk.crash_in_order(&mut rng);
            let got = disk.read("blk", 0, 100).expect("synced file stays");
            let all = b"synced;one;two;three;";
            if all.starts_with(&got) {
                prefixes += 1;
            } else {
                // Only a torn piece of the last write, after zeros where the others were.
                assert_eq!(&got[..15], b"synced;\0\0\0\0\0\0\0\0", "{got:?}");
                assert!(b"three;".starts_with(&got[15..]), "{got:?}");
                gaps += 1;
            }
        }
        assert!(prefixes > 100 && gaps > 5, "{prefixes} {gaps}");
    }

    #[madsim::test]
    async fn overwrites_and_reads() {
        let disk = Disk::new();
        assert_eq!(disk.read("f", 0, 1), None);
        disk.write("f", 4, b"ab");
        assert_eq!(disk.read("f", 0, 10).as_deref(), Some(&b"\0\0\0\0ab"[..]));
        disk.write("f", 0, b"wxyz!");
        assert_eq!(disk.read("f", 3, 2).as_deref(), Some(&b"z!"[..]));
        disk.sync("f");
        assert_eq!(disk.len("f"), Some(6));
        assert_eq!(disk.paths(), vec!["f".to_string()]);
    }
}
