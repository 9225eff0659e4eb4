//! The file store against the memory store as a model: random operations applied to both
//! must leave the same state and messages, and so must recovering the file store from its
//! operations carried out on an in-memory directory, at any point, including in the middle
//! of a batch of operations cut short by a crash.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use proptest::prelude::*;
use rnats_core::jetstream::filestore::{FileOp, FileStore};
use rnats_core::jetstream::memstore::MemStore;
use rnats_core::jetstream::store::{Discard, Limits, Store, StoredMsg};

/// A directory in memory.
#[derive(Clone, Debug, Default)]
struct Disk(BTreeMap<String, Vec<u8>>);

impl Disk {
    fn apply(&mut self, op: &FileOp) {
        match op {
            FileOp::Append { file, data } => self
                .0
                .entry(file.clone())
                .or_default()
                .extend_from_slice(data),
            FileOp::Replace { file, data } => {
                self.0.insert(file.clone(), data.to_vec());
            }
            FileOp::Truncate { file, len } => {
                if let Some(f) = self.0.get_mut(file) {
                    f.truncate(*len as usize);
                }
            }
            FileOp::Remove { file } => {
                self.0.remove(file);
            }
        }
    }

    fn files(&self) -> Vec<(String, Bytes)> {
        self.0
            .iter()
            .map(|(n, d)| (n.clone(), Bytes::from(d.clone())))
            .collect()
    }
}

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

fn held(s: &impl Store) -> Vec<StoredMsg> {
    let st = s.state();
    (st.first_seq..=st.last_seq)
        .filter_map(|q| s.load(q).cloned())
        .collect()
}

fn same(model: &MemStore, fs: &FileStore) -> Result<(), TestCaseError> {
    prop_assert_eq!(fs.state(), model.state());
    prop_assert_eq!(held(fs), held(model));
    prop_assert_eq!(fs.subjects(b">"), model.subjects(b">"));
    prop_assert_eq!(fs.next_expiry(), model.next_expiry());
    Ok(())
}

fn seqs(s: &impl Store) -> BTreeSet<u64> {
    held(s).into_iter().map(|m| m.seq).collect()
}

/// Runs `step` on both stores.
fn run(
    step: &Step,
    model: &mut MemStore,
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
    pre: &MemStore,
    post: &MemStore,
) -> Result<FileStore, TestCaseError> {
    let (r, report) = FileStore::recover(limits, crashed.files());
    prop_assert_eq!(report.corruption, vec![]);
    let (before, after, got) = (seqs(pre), seqs(post), seqs(&r));
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
        prop_assert_eq!(Some(&m), post.load(m.seq).or(pre.load(m.seq)));
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
        steps in proptest::collection::vec(step(), 1..120),
    ) {
        let mut limits = initial;
        let mut model = MemStore::new(limits).with_file_sizes();
        let mut fs = FileStore::new(limits).with_block_size(block_size);
        let mut disk = Disk::default();
        let mut torn: Option<(usize, usize)> = None;
        for (i, step) in steps.iter().enumerate() {
            let clock = 1000 + 10 * i as u64;
            if let Step::SetLimits(l) = step {
                limits = *l;
            }
            let pre = model.clone();
            run(step, &mut model, &mut fs, clock)?;
            same(&model, &fs)?;
            let ops = fs.take_ops();
            if let Some((keep, cut)) = torn.take() {
                // Crash with only part of this step's operations carried out: after each
                // whole one, and once within one.
                for whole in 0..ops.len() {
                    let mut crashed = disk.clone();
                    ops[..whole].iter().for_each(|op| crashed.apply(op));
                    recover_mid_step(&crashed, limits, &pre, &model)?;
                }
                let keep = keep % (ops.len() + 1);
                let mut crashed = disk.clone();
                ops[..keep].iter().for_each(|op| crashed.apply(op));
                if let Some(FileOp::Append { file, data }) = ops.get(keep) {
                    let part = data.slice(..cut % data.len());
                    crashed.apply(&FileOp::Append { file: file.clone(), data: part });
                }
                let mut r = recover_mid_step(&crashed, limits, &pre, &model)?;
                // Go on from the crash when it left the state before or after the step.
                let adopt = if matches!(step, Step::SetLimits(_)) {
                    None
                } else if r.state() == pre.state() && held(&r) == held(&pre) {
                    Some(pre)
                } else if r.state() == model.state() && held(&r) == held(&model) {
                    Some(model.clone())
                } else {
                    None
                };
                if let Some(m) = adopt {
                    model = m;
                    r.take_ops().iter().for_each(|op| crashed.apply(op));
                    fs = r.with_block_size(block_size);
                    disk = crashed;
                    continue;
                }
            }
            ops.iter().for_each(|op| disk.apply(op));
            match step {
                Step::Crash => {
                    let (mut r, report) = FileStore::recover(limits, disk.files());
                    prop_assert_eq!(report.corruption, vec![]);
                    prop_assert_eq!(report.torn_tail, None);
                    prop_assert_eq!(report.messages, model.state().msgs);
                    r.take_ops().iter().for_each(|op| disk.apply(op));
                    fs = r.with_block_size(block_size);
                    same(&model, &fs)?;
                }
                Step::TornCrash(keep, cut) => torn = Some((*keep, *cut)),
                _ => {}
            }
        }
        let (r, report) = FileStore::recover(limits, disk.files());
        prop_assert_eq!(report.corruption, vec![]);
        same(&model, &r)?;
    }
}
