//! The file store against the memory store as a model: random operations applied to both
//! must leave the same state and messages, and so must recovering the file store from its
//! operations carried out on an in-memory directory, at any point, including in the middle
//! of a batch of operations cut short by a crash. The file store keeps only a few blocks
//! in memory (the cache budget is small), so most reads go back to the directory.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;
use rnats_core::jetstream::filestore::{BlockReader, FileOp, FileStore, Source};
use rnats_core::jetstream::memstore::{Entry, MemStore};
use rnats_core::jetstream::store::{file_msg_size, Discard, Limits, Store, StoreState, StoredMsg};

/// A directory in memory, shared with the store reading it back.
#[derive(Clone, Debug, Default)]
struct Disk(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl Disk {
    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.0.lock().unwrap()
    }

    fn apply(&self, op: &FileOp) {
        let mut files = self.files();
        match op {
            FileOp::Append { file, data } => files
                .entry(file.clone())
                .or_default()
                .extend_from_slice(data),
            FileOp::Replace { file, data } => {
                files.insert(file.clone(), data.to_vec());
            }
            FileOp::Truncate { file, len } => {
                if let Some(f) = files.get_mut(file) {
                    f.truncate(*len as usize);
                }
            }
            FileOp::Remove { file } => {
                files.remove(file);
            }
        }
    }

    /// A copy of the directory as it is now, to crash.
    fn copy(&self) -> Disk {
        Disk(Arc::new(Mutex::new(self.files().clone())))
    }

    /// The file store on this directory, recovered from it.
    fn recover(&self, limits: Limits) -> (FileStore, rnats_core::jetstream::filestore::Recovery) {
        let names = self.files().keys().cloned().collect();
        FileStore::recover(limits, names, self.source())
    }

    fn source(&self) -> Source {
        Source::new(Arc::new(self.clone()), String::new())
    }
}

impl BlockReader for Disk {
    fn read(&self, _dir: &str, file: &str) -> io::Result<Bytes> {
        let data = self
            .files()
            .get(file)
            .cloned()
            .ok_or(io::ErrorKind::NotFound)?;
        Ok(Bytes::from(data))
    }
}

/// The model keeps whole messages, accounted at their file store size.
#[derive(Clone, Debug)]
struct FileSized(StoredMsg);

impl Entry for FileSized {
    fn new(seq: u64, subject: Bytes, headers: &[u8], data: &[u8], time: u64) -> FileSized {
        FileSized(<StoredMsg as Entry>::new(seq, subject, headers, data, time))
    }

    fn subject(&self) -> &Bytes {
        &self.0.subject
    }

    fn time(&self) -> u64 {
        self.0.time
    }

    fn size(&self) -> u64 {
        file_msg_size(&self.0.subject, &self.0.headers, &self.0.data)
    }
}

type Model = MemStore<FileSized>;

#[derive(Clone, Debug)]
enum Step {
    Store(u8, u8),
    Remove(u8),
    Purge(Option<u8>, Option<u8>, Option<u8>),
    Expire(u8),
    SetLimits(Limits),
    /// Recover from everything carried out so far.
    Crash,
    /// The next step's operations are cut short: only the first `ops % len` are carried
    /// out, and the one after it in part (`cut` of its bytes, if an append).
    TornCrash(usize, usize),
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        proptest::option::of(1u64..12),
        proptest::option::of(100u64..1000),
        proptest::option::of(5u64..80),
        proptest::option::of(1u64..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(msgs, bytes, age, per_subject, new, per_subject_new)| Limits {
                max_msgs: msgs,
                max_bytes: bytes,
                max_age: age,
                max_msgs_per_subject: per_subject,
                discard: if new { Discard::New } else { Discard::Old },
                discard_new_per_subject: per_subject_new,
            },
        )
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0u8..4, 0u8..40).prop_map(|(s, len)| Step::Store(s, len)),
        3 => any::<u8>().prop_map(Step::Remove),
        1 => (proptest::option::of(0u8..4), proptest::option::of(any::<u8>()), proptest::option::of(0u8..3))
            .prop_map(|(f, u, k)| Step::Purge(f, u, k)),
        2 => any::<u8>().prop_map(Step::Expire),
        1 => limits().prop_map(Step::SetLimits),
        1 => Just(Step::Crash),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(ops, cut)| Step::TornCrash(ops, cut)),
    ]
}

/// The messages held, between the first and last sequence of `st`.
fn messages(st: StoreState, load: impl Fn(u64) -> Option<StoredMsg>) -> Vec<StoredMsg> {
    (st.first_seq..=st.last_seq).filter_map(load).collect()
}

fn held(s: &impl Store) -> Vec<StoredMsg> {
    messages(s.state(), |q| s.load(q))
}

fn model_held(m: &Model) -> Vec<StoredMsg> {
    messages(m.state(), |q| m.get(q).map(|e| e.0.clone()))
}

fn same(model: &Model, fs: &FileStore) -> Result<(), TestCaseError> {
    prop_assert_eq!(fs.state(), model.state());
    prop_assert_eq!(held(fs), model_held(model));
    prop_assert_eq!(fs.subjects(b">"), model.subjects(b">"));
    prop_assert_eq!(fs.next_expiry(), model.next_expiry());
    Ok(())
}

fn seqs(held: Vec<StoredMsg>) -> BTreeSet<u64> {
    held.into_iter().map(|m| m.seq).collect()
}

/// Runs `step` on both stores.
fn run(
    step: &Step,
    model: &mut Model,
    fs: &mut FileStore,
    clock: u64,
) -> Result<(), TestCaseError> {
    match *step {
        Step::Store(subject, len) => {
            let subject = format!("s.{subject}");
            let data = vec![b'x'; len as usize];
            let headers: &[u8] = if len % 3 == 0 {
                b"NATS/1.0\r\nA: b\r\n\r\n"
            } else {
                b""
            };
            prop_assert_eq!(
                fs.store(subject.as_bytes(), headers, &data, clock),
                model.store(subject.as_bytes(), headers, &data, clock)
            );
        }
        Step::Remove(seq) => {
            prop_assert_eq!(fs.remove(u64::from(seq)), model.remove(u64::from(seq)))
        }
        Step::Purge(f, upto, keep) => {
            let filter = f.map(|f| format!("s.{f}"));
            let filter = filter.as_deref().map(str::as_bytes);
            let (upto, keep) = (upto.map(u64::from), keep.map(u64::from));
            prop_assert_eq!(
                fs.purge(filter, upto, keep),
                model.purge(filter, upto, keep)
            );
        }
        Step::Expire(back) => {
            let now = clock.saturating_sub(u64::from(back) / 4);
            prop_assert_eq!(fs.expire(now), model.expire(now));
        }
        Step::SetLimits(limits) => {
            fs.set_limits(limits);
            model.set_limits(limits);
        }
        Step::Crash | Step::TornCrash(..) => {}
    }
    Ok(())
}

/// Recovers from a directory left by a crash in the middle of a step that took the store
/// from `pre` to `post`: nothing held before and after the step may be lost, nothing
/// removed before it may come back, and whatever is served must be what was stored.
fn recover_mid_step(
    crashed: &Disk,
    limits: Limits,
    pre: &Model,
    post: &Model,
) -> Result<FileStore, TestCaseError> {
    let (r, report) = crashed.recover(limits);
    prop_assert_eq!(report.corruption, vec![]);
    let (before, after, got) = (
        seqs(model_held(pre)),
        seqs(model_held(post)),
        seqs(held(&r)),
    );
    prop_assert!(
        before.intersection(&after).all(|q| got.contains(q)),
        "lost: {:?} {:?}",
        before,
        got
    );
    prop_assert!(
        got.iter().all(|q| before.contains(q) || after.contains(q)),
        "came back: {:?}",
        got
    );
    for m in held(&r) {
        let stored = post.get(m.seq).or(pre.get(m.seq));
        prop_assert_eq!(Some(&m), stored.map(|e| &e.0));
    }
    prop_assert!(r.state().last_seq >= pre.state().last_seq);
    Ok(r)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn file_store_matches_memory_store(
        initial in limits(),
        block_size in 64u64..600,
        cache_budget in 0u64..1200,
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut limits = initial;
        let mut model = Model::empty(limits);
        let mut disk = Disk::default();
        let sized = |fs: FileStore| fs.with_block_size(block_size).with_cache_budget(cache_budget);
        let mut fs = sized(FileStore::new(limits).with_source(disk.source()));
        let mut torn: Option<(usize, usize)> = None;
        for (i, step) in steps.iter().enumerate() {
            let clock = 1000 + 10 * i as u64;
            let batch = i as u64 + 1;
            if let Step::SetLimits(l) = step {
                limits = *l;
            }
            let pre = model.clone();
            run(step, &mut model, &mut fs, clock)?;
            same(&model, &fs)?;
            let ops = fs.take_ops(batch);
            if let Some((keep, cut)) = torn.take() {
                // Crash with only part of this step's operations carried out: after each
                // whole one, and once within one.
                for whole in 0..ops.len() {
                    let crashed = disk.copy();
                    ops[..whole].iter().for_each(|op| crashed.apply(op));
                    recover_mid_step(&crashed, limits, &pre, &model)?;
                }
                let keep = keep % (ops.len() + 1);
                let crashed = disk.copy();
                ops[..keep].iter().for_each(|op| crashed.apply(op));
                if let Some(FileOp::Append { file, data }) = ops.get(keep) {
                    let part = data.slice(..cut % data.len());
                    crashed.apply(&FileOp::Append { file: file.clone(), data: part });
                }
                let mut r = recover_mid_step(&crashed, limits, &pre, &model)?;
                // Go on from the crash when it left the state before or after the step.
                let adopt = if matches!(step, Step::SetLimits(_)) {
                    None
                } else if r.state() == pre.state() && held(&r) == model_held(&pre) {
                    Some(pre)
                } else if r.state() == model.state() && held(&r) == model_held(&model) {
                    Some(model.clone())
                } else {
                    None
                };
                if let Some(m) = adopt {
                    model = m;
                    r.take_ops(batch).iter().for_each(|op| crashed.apply(op));
                    r.written(batch);
                    fs = sized(r);
                    disk = crashed;
                    same(&model, &fs)?;
                    continue;
                }
            }
            ops.iter().for_each(|op| disk.apply(op));
            fs.written(batch);
            match step {
                Step::Crash => {
                    let (mut r, report) = disk.recover(limits);
                    prop_assert_eq!(report.corruption, vec![]);
                    prop_assert_eq!(report.torn_tail, None);
                    prop_assert_eq!(report.messages, model.state().msgs);
                    r.take_ops(batch).iter().for_each(|op| disk.apply(op));
                    r.written(batch);
                    fs = sized(r);
                    same(&model, &fs)?;
                }
                Step::TornCrash(keep, cut) => torn = Some((*keep, *cut)),
                _ => {}
            }
            // What was evicted reads back the same.
            same(&model, &fs)?;
            prop_assert_eq!(fs.take_faults(), vec![]);
        }
        let (r, report) = disk.recover(limits);
        prop_assert_eq!(report.corruption, vec![]);
        same(&model, &r)?;
    }
}
