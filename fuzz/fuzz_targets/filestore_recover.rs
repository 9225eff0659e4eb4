//! Stream directories into file store recovery: either arbitrary bytes split into one to
//! three block files, or the files of a real store built from a few operations and then
//! damaged (bits flipped, cut short, garbage appended), so the fuzzer gets past the
//! checksums. Damage is fine; panics and oversized allocations are not. What recovery
//! writes (a truncated tail, space reclaimed) must leave a directory that recovers to the
//! same store with nothing torn.
#![no_main]

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rnats_core::jetstream::filestore::{BlockReader, FileOp, FileStore, Recovery, Source};
use rnats_core::jetstream::store::{Limits, Store};

type Dir = BTreeMap<String, Vec<u8>>;

/// The directory as it was when a store was recovered from it, to read back from.
struct Snapshot(Dir);

impl BlockReader for Snapshot {
    fn read(&self, _dir: &str, file: &str) -> io::Result<Bytes> {
        let data = self.0.get(file).ok_or(io::ErrorKind::NotFound)?;
        Ok(Bytes::from(data.clone()))
    }
}

#[derive(Arbitrary, Debug)]
enum Input {
    /// Files `n.blk`, `n+1.blk`, ... with these contents (the first three used).
    Raw { first: u8, files: Vec<Vec<u8>> },
    /// A store's own files after these operations, then this damage.
    Built { ops: Vec<Op>, damage: Vec<Damage> },
}

#[derive(Arbitrary, Debug)]
enum Op {
    Store { subject: u8, len: u8 },
    Remove(u8),
    Purge { upto: Option<u8>, keep: Option<u8> },
}

#[derive(Arbitrary, Debug)]
enum Damage {
    Flip { file: u8, at: u16, bit: u8 },
    Cut { file: u8, at: u16 },
    Append { file: u8, bytes: Vec<u8> },
}

fn apply(dir: &mut Dir, ops: Vec<FileOp>) {
    for op in ops {
        match op {
            FileOp::Append { file, data } => dir.entry(file).or_default().extend_from_slice(&data),
            FileOp::Replace { file, data } => {
                dir.insert(file, data.to_vec());
            }
            FileOp::Truncate { file, len } => {
                if let Some(f) = dir.get_mut(&file) {
                    f.truncate(len as usize);
                }
            }
            FileOp::Remove { file } => {
                dir.remove(&file);
            }
        }
    }
}

fn recover(dir: &Dir) -> (FileStore, Recovery) {
    let names = dir.keys().cloned().collect();
    let source = Source::new(Arc::new(Snapshot(dir.clone())), String::new());
    FileStore::recover(Limits::default(), names, source)
}

fn built(ops: Vec<Op>, damage: Vec<Damage>) -> Dir {
    let mut dir = Dir::new();
    let mut store = FileStore::new(Limits::default()).with_block_size(200);
    for (time, op) in ops.into_iter().take(200).enumerate() {
        match op {
            Op::Store { subject, len } => {
                let subject = format!("s.{}", subject % 4);
                let _ = store.store(
                    subject.as_bytes(),
                    b"",
                    &vec![b'x'; len.into()],
                    time as u64,
                );
            }
            Op::Remove(seq) => {
                store.remove(seq.into());
            }
            Op::Purge { upto, keep } => {
                store.purge(None, upto.map(u64::from), keep.map(u64::from));
            }
        }
    }
    apply(&mut dir, store.take_ops(1));
    let names: Vec<String> = dir.keys().cloned().collect();
    for d in damage.into_iter().take(4) {
        let pick = |file: u8| names.get(usize::from(file) % names.len().max(1)).cloned();
        match d {
            Damage::Flip { file, at, bit } => {
                if let Some(f) = pick(file).and_then(|name| dir.get_mut(&name)) {
                    if !f.is_empty() {
                        let at = usize::from(at) % f.len();
                        f[at] ^= 1 << (bit % 8);
                    }
                }
            }
            Damage::Cut { file, at } => {
                if let Some(f) = pick(file).and_then(|name| dir.get_mut(&name)) {
                    f.truncate(at.into());
                }
            }
            Damage::Append { file, bytes } => {
                if let Some(f) = pick(file).and_then(|name| dir.get_mut(&name)) {
                    f.extend_from_slice(&bytes);
                }
            }
        }
    }
    dir
}

fuzz_target!(|input: Input| {
    let mut dir = match input {
        Input::Raw { first, files } => files
            .into_iter()
            .take(3)
            .enumerate()
            .map(|(i, data)| (format!("{}.blk", u64::from(first) + i as u64), data))
            .collect(),
        Input::Built { ops, damage } => built(ops, damage),
    };
    let (mut store, _) = recover(&dir);
    let st = store.state();
    let held: Vec<_> = (st.first_seq..=st.last_seq.min(st.first_seq.saturating_add(10_000)))
        .filter_map(|q| store.load(q))
        .collect();
    apply(&mut dir, store.take_ops(1));
    let (again, report) = recover(&dir);
    assert_eq!(again.state(), st);
    assert!(held.iter().all(|m| again.load(m.seq).as_ref() == Some(m)));
    assert_eq!(report.torn_tail, None);
});
