use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::jetstream::store::Discard;

/// A directory in memory that the store's operations are applied to.
#[derive(Clone, Debug, Default)]
struct Disk(BTreeMap<String, Vec<u8>>);

impl BlockReader for Disk {
    fn read(&self, _dir: &str, file: &str) -> io::Result<Bytes> {
        let data = self.0.get(file).ok_or(io::ErrorKind::NotFound)?;
        Ok(Bytes::from(data.clone()))
    }
}

impl Disk {
    fn apply(&mut self, ops: Vec<FileOp>) {
        for op in ops {
            match op {
                FileOp::Append { file, data } => {
                    self.0.entry(file).or_default().extend_from_slice(&data)
                }
                FileOp::Replace { file, data } => {
                    self.0.insert(file, data.to_vec());
                }
                FileOp::Truncate { file, len } => {
                    if let Some(f) = self.0.get_mut(&file) {
                        f.truncate(len as usize);
                    }
                }
                FileOp::Remove { file } => {
                    self.0.remove(&file);
                }
            }
        }
    }

    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }

    /// The directory as it is now, to read back from. Enough for a store whose writes
    /// are never reported written: it reads back only blocks it has not written to since.
    fn source(&self) -> Source {
        Source::new(Arc::new(self.clone()), String::new())
    }

    fn recover(&mut self, limits: Limits) -> (FileStore, Recovery) {
        let (mut s, r) = FileStore::recover(limits, self.names(), self.source());
        self.apply(s.take_ops(1));
        (s, r)
    }

    fn block_names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// A store with small blocks whose operations go straight to `disk`.
fn small(limits: Limits) -> FileStore {
    FileStore::new(limits).with_block_size(256)
}

fn sync(s: &mut FileStore, disk: &mut Disk) {
    disk.apply(s.take_ops(1));
}

fn held(s: &impl Store) -> Vec<StoredMsg> {
    let st = s.state();
    (st.first_seq..=st.last_seq)
        .filter_map(|q| s.load(q))
        .collect()
}

/// Recovers from `disk` and checks the result against `s`.
fn assert_recovers(s: &FileStore, disk: &mut Disk, limits: Limits) -> FileStore {
    let (r, report) = disk.recover(limits);
    assert_eq!(r.state(), s.state());
    assert_eq!(held(&r), held(s));
    assert_eq!(r.subjects(b">"), s.subjects(b">"));
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.corruption, vec![]);
    assert_eq!(report.messages, s.state().msgs);
    r
}

fn store_n(s: &mut FileStore, subject: &str, n: u64, time: u64) {
    for i in 0..n {
        s.store(
            subject.as_bytes(),
            b"",
            format!("data {i}").as_bytes(),
            time + i,
        )
        .unwrap();
    }
}

#[test]
fn empty_and_fresh() {
    let mut disk = Disk::default();
    let s = FileStore::new(Limits::default());
    let (r, report) = disk.recover(Limits::default());
    assert_eq!(r.state(), s.state());
    assert_eq!(report, Recovery::default());
    assert!(disk.0.is_empty());
}

#[test]
fn messages_round_trip() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    s.store(b"a", b"", b"hello", 10).unwrap();
    s.store(b"b.c", b"NATS/1.0\r\nX: y\r\n\r\n", b"", 20)
        .unwrap();
    s.store(b"a", b"", &[0u8; 1000], 30).unwrap();
    sync(&mut s, &mut disk);
    assert_eq!(disk.block_names(), ["1.blk"]);
    let mut r = assert_recovers(&s, &mut disk, Limits::default());
    // Go on after recovery: the next message gets the next sequence and lands in the same block.
    assert_eq!(r.store(b"a", b"", b"more", 40), Ok(4));
    assert_eq!(s.store(b"a", b"", b"more", 40), Ok(4));
    sync(&mut r, &mut disk);
    assert_recovers(&s, &mut disk, Limits::default());
}

#[test]
fn blocks_roll_and_emptied_blocks_go() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 40, 100);
    sync(&mut s, &mut disk);
    let blocks = disk.0.len();
    assert!(blocks > 4, "{blocks} blocks");
    assert!(disk.0.values().all(|f| f.len() <= 256));
    // Remove the first half: whole blocks go.
    for seq in 1..=20 {
        assert!(s.remove(seq));
    }
    sync(&mut s, &mut disk);
    assert!(disk.0.len() < blocks, "{:?}", disk.block_names());
    assert!(!disk.0.contains_key("1.blk"));
    assert_recovers(&s, &mut disk, Limits::default());
}

#[test]
fn purge_of_everything_writes_one_record() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 100, 100);
    sync(&mut s, &mut disk);
    assert_eq!(s.purge(None, None, None), 100);
    let ops = s.take_ops(1);
    let appended: usize = ops
        .iter()
        .map(|op| match op {
            FileOp::Append { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    // A floor, and one to start the next block: nothing per message.
    assert!(appended <= 2 * 33, "{appended} bytes appended");
    disk.apply(ops);
    assert_eq!(disk.0.len(), 1, "{:?}", disk.block_names());
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_time),
        (0, 101, 100, 199)
    );
    let mut r = assert_recovers(&s, &mut disk, Limits::default());
    assert_eq!(r.store(b"a", b"", b"x", 500), Ok(101));
}

#[test]
fn a_purge_past_the_end_moves_the_sequence_for_good() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 5, 100);
    assert_eq!(s.purge(None, Some(50), None), 5);
    // Again on the empty stream: nothing to remove, the sequence still moves.
    assert_eq!(s.purge(None, Some(70), None), 0);
    sync(&mut s, &mut disk);
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 70, 69));
    let mut r = assert_recovers(&s, &mut disk, Limits::default());
    assert_eq!(r.store(b"a", b"", b"x", 500), Ok(70));
    // With a filter it is only a bound.
    assert_eq!(r.purge(Some(b"a"), Some(90), None), 1);
    assert_eq!(r.store(b"a", b"", b"y", 501), Ok(71));
}

#[test]
fn state_survives_removing_everything_one_by_one() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 30, 100);
    // Newest first, so each removal is a tombstone until the very last.
    for seq in (1..=30).rev() {
        assert!(s.remove(seq));
        sync(&mut s, &mut disk);
        assert_recovers(&s, &mut disk, Limits::default());
    }
    assert_eq!(s.state().last_time, 129);
}

#[test]
fn limits_and_expiry_survive() {
    let limits = Limits {
        max_msgs: Some(5),
        max_age: Some(50),
        ..Limits::default()
    };
    let mut disk = Disk::default();
    let mut s = small(limits);
    store_n(&mut s, "a", 30, 1000);
    sync(&mut s, &mut disk);
    assert_eq!(s.state().first_seq, 26);
    let mut r = assert_recovers(&s, &mut disk, limits);
    assert_eq!(s.expire(1077), 3);
    sync(&mut s, &mut disk);
    assert_recovers(&s, &mut disk, limits);
    // The recovered store expires as the original does.
    assert_eq!(r.next_expiry(), Some(1075));
    assert_eq!(r.expire(1077), 3);
    assert_eq!(r.state(), s.state());
    assert_eq!(s.expire(5000), 2);
    sync(&mut s, &mut disk);
    assert_recovers(&s, &mut disk, limits);
}

#[test]
fn recovery_applies_new_limits() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 20, 0);
    sync(&mut s, &mut disk);
    let tighter = Limits {
        max_msgs: Some(3),
        ..Limits::default()
    };
    let (r, report) = disk.recover(tighter);
    assert_eq!(report.messages, 3);
    s.set_limits(tighter);
    sync(&mut s, &mut Disk::default());
    assert_eq!(r.state(), s.state());
    assert_recovers(&s, &mut disk, tighter);
}

#[test]
fn sparse_removals_compact_blocks() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 40, 0);
    sync(&mut s, &mut disk);
    let before = disk.0.get("2.blk").map(Vec::len).unwrap_or(0);
    // Remove every message of block 2 but one, keeping the stream's first message.
    let in_two: Vec<u64> = s
        .index
        .iter()
        .filter(|(_, &b)| b == 2)
        .map(|(&q, _)| q)
        .collect();
    for &seq in &in_two[1..] {
        s.remove(seq);
    }
    let ops = s.take_ops(1);
    assert!(
        ops.iter()
            .any(|op| matches!(op, FileOp::Replace { file, .. } if file == "2.blk")),
        "{ops:?}"
    );
    disk.apply(ops);
    assert!(disk.0["2.blk"].len() < before);
    assert_recovers(&s, &mut disk, Limits::default());
}

#[test]
fn tombstones_outlive_the_messages_they_delete() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 4, 0); // block 1
    s.remove(2); // a tombstone, still in block 1
    store_n(&mut s, "b", 20, 10); // blocks 2..
    for seq in 5..=24 {
        s.remove(seq); // everything after block 1 goes
    }
    store_n(&mut s, "c", 20, 100); // more blocks, so the tombstone block is not active
    sync(&mut s, &mut disk);
    assert!(disk.0.contains_key("1.blk"));
    assert!(s.load(2).is_none());
    assert_recovers(&s, &mut disk, Limits::default());
    // Tombstone of 3 is written after block 1 fills; that block later empties and goes,
    // and the tombstone must move to the active block rather than vanish.
    s.remove(3);
    for seq in 25..=44 {
        s.remove(seq);
    }
    store_n(&mut s, "d", 20, 200);
    sync(&mut s, &mut disk);
    assert!(disk.0.contains_key("1.blk"));
    assert_recovers(&s, &mut disk, Limits::default());
}

#[test]
fn torn_tail_at_every_offset() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 5, 0);
    sync(&mut s, &mut disk);
    let whole = disk.0["1.blk"].clone();
    s.store(b"a.last", b"NATS/1.0\r\n\r\n", b"the torn one", 99)
        .unwrap();
    sync(&mut s, &mut disk);
    let full = disk.0["1.blk"].clone();
    for cut in whole.len()..full.len() {
        let mut torn = disk.clone();
        torn.0.insert("1.blk".into(), full[..cut].to_vec());
        let (r, report) = FileStore::recover(Limits::default(), torn.names(), torn.source());
        let st = r.state();
        assert_eq!((st.msgs, st.last_seq), (5, 5), "cut at {cut}");
        assert_eq!(report.corruption, vec![]);
        if cut == whole.len() {
            assert_eq!(report.torn_tail, None);
            continue;
        }
        let tail = TornTail {
            file: "1.blk".into(),
            offset: whole.len() as u64,
            dropped: (cut - whole.len()) as u64,
        };
        assert_eq!(report.torn_tail, Some(tail));
        let mut r = r;
        let ops = r.take_ops(1);
        assert_eq!(
            ops,
            vec![FileOp::Truncate {
                file: "1.blk".into(),
                len: whole.len() as u64
            }]
        );
        // Once truncated, the next message goes where the torn one was.
        torn.apply(ops);
        assert_eq!(r.store(b"a", b"", b"again", 100), Ok(6));
        torn.apply(r.take_ops(1));
        assert_recovers(&r, &mut torn, Limits::default());
    }
}

#[test]
fn torn_appends_that_reached_the_disk_in_part() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 3, 0);
    sync(&mut s, &mut disk);
    let whole = disk.0["1.blk"].len();
    s.store(b"a", b"", b"torn", 9).unwrap();
    sync(&mut s, &mut disk);
    let full = disk.0["1.blk"].clone();
    let record = &full[whole..];
    let damaged = [
        // The length reached the disk, the last bytes did not.
        [&full[..full.len() - 2], &[0, 0][..]].concat(),
        // The file grew but nothing was written.
        [&full[..whole], &vec![0; 40][..]].concat(),
        // An earlier append of the batch was lost (zeros), part of a later one survived.
        [
            &full[..whole],
            &vec![0; 25][..],
            &record[..record.len() - 3],
        ]
        .concat(),
    ];
    for bad in damaged {
        let mut torn = disk.clone();
        torn.0.insert("1.blk".into(), bad.clone());
        let (r, report) = torn.recover(Limits::default());
        assert_eq!(report.corruption, vec![]);
        let tail = TornTail {
            file: "1.blk".into(),
            offset: whole as u64,
            dropped: (bad.len() - whole) as u64,
        };
        assert_eq!(report.torn_tail, Some(tail));
        assert_eq!((r.state().msgs, r.state().last_seq), (3, 3));
        assert_eq!(torn.0["1.blk"].len(), whole);
    }
}

#[test]
fn a_whole_record_after_zeros_is_corruption() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 2, 0);
    sync(&mut s, &mut disk);
    let whole = disk.0["1.blk"].len();
    s.store(b"a", b"", b"kept", 9).unwrap();
    sync(&mut s, &mut disk);
    let full = disk.0["1.blk"].clone();
    let zeroed = [&full[..whole], &vec![0; 10][..], &full[whole..]].concat();
    let mut damaged = disk.clone();
    damaged.0.insert("1.blk".into(), zeroed);
    let (_, report) = damaged.recover(Limits::default());
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.corruption.len(), 1);
}

#[test]
fn a_torn_new_block_gets_its_floor_back() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    s.store(b"a", b"", b"first", 0).unwrap();
    s.remove(1); // a floor, in block 1
    sync(&mut s, &mut disk);
    // Store until a message starts a new block: its floor comes first.
    let (name, header) = loop {
        s.store(b"a", b"", &[b'x'; 40], 1).unwrap();
        let ops = s.take_ops(1);
        if let [FileOp::Append { file, data }, ..] = &ops[..] {
            if !disk.0.contains_key(file) {
                break (file.clone(), data.clone());
            }
        }
        disk.apply(ops);
    };
    // The crash leaves half of that floor and nothing after it.
    let mut crashed = disk.clone();
    crashed
        .0
        .insert(name.clone(), header[..header.len() / 2].to_vec());
    let (mut r, report) = FileStore::recover(Limits::default(), crashed.names(), crashed.source());
    assert_eq!(report.torn_tail.map(|t| t.file), Some(name.clone()));
    // Truncated, then the floor written again, so the new block holds it before any
    // older block that does can go.
    let ops = r.take_ops(1);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(
        ops[0],
        FileOp::Truncate {
            file: name.clone(),
            len: 0
        }
    );
    assert!(matches!(&ops[1], FileOp::Append { file, data } if *file == name && *data == header));
}

#[test]
fn corruption_in_the_middle_is_reported_and_not_served() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 6, 0);
    sync(&mut s, &mut disk);
    // Every record here is as long as the first (same sizes, no floor before it).
    let record = {
        let mut probe = Disk::default();
        let mut p = FileStore::new(Limits::default());
        store_n(&mut p, "a", 1, 0);
        sync(&mut p, &mut probe);
        probe.0["1.blk"].len()
    };
    // Flip one byte of the second message's data.
    let mut bad = disk.clone();
    let block = bad.0.get_mut("1.blk").unwrap();
    block[2 * record - 6] ^= 0x20;
    let len = block.len();
    let (r, report) = bad.recover(Limits::default());
    assert_eq!(
        report.corruption,
        vec![Corruption {
            file: "1.blk".into(),
            offset: record as u64,
            damage: Damage::BadChecksum
        }]
    );
    assert_eq!(report.torn_tail, None);
    assert_eq!(r.state().msgs, 1);
    assert!(r.load(1).is_some());
    assert!((2..=6).all(|seq| r.load(seq).is_none()));
    // The damaged block is left as it was, and new records go to a new block.
    let mut r = r;
    assert_eq!(r.take_ops(1), vec![]);
    r.store(b"a", b"", b"x", 50).unwrap();
    bad.apply(r.take_ops(1));
    assert_eq!(bad.0["1.blk"].len(), len);
    assert!(bad.0.contains_key("2.blk"));
}

#[test]
fn damage_in_an_older_block_is_corruption_even_at_its_end() {
    let mut disk = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 20, 0);
    sync(&mut s, &mut disk);
    let one = disk.0.get_mut("1.blk").unwrap();
    let cut = one.len() - 3;
    one.truncate(cut);
    let (r, report) = disk.recover(Limits::default());
    assert_eq!(report.torn_tail, None);
    assert_eq!(report.corruption.len(), 1);
    assert_eq!(report.corruption[0].file, "1.blk");
    assert_eq!(report.corruption[0].damage, Damage::Cut);
    assert_eq!(r.state().last_seq, 20);
}

#[test]
fn a_block_that_cannot_be_read_is_reported() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 3, 0);
    sync(&mut s, &mut disk);
    // A block listed but gone by the time it is read.
    let mut names = disk.names();
    names.push("2.blk".into());
    let (mut r, report) = FileStore::recover(Limits::default(), names, disk.source());
    let gone = Corruption {
        file: "2.blk".into(),
        offset: 0,
        damage: Damage::Unreadable,
    };
    assert_eq!(report.corruption, vec![gone]);
    assert_eq!(held(&r), held(&s));
    // Nothing is written after it: new records go to a new block.
    r.store(b"a", b"", b"x", 9).unwrap();
    let ops = r.take_ops(1);
    assert!(ops
        .iter()
        .all(|op| matches!(op, FileOp::Append { file, .. } if file == "3.blk")));
}

#[test]
fn other_files_are_ignored() {
    assert!(is_store_file("12.blk"));
    assert!(!is_store_file("meta.json"));
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    store_n(&mut s, "a", 2, 0);
    sync(&mut s, &mut disk);
    disk.0
        .insert("meta.json".into(), b"{\"name\":\"x\"}".to_vec());
    disk.0.insert("1.blk.tmp".into(), b"garbage".to_vec());
    assert_recovers(&s, &mut disk, Limits::default());
}

#[test]
fn a_file_store_can_back_a_stream() {
    fn boxed(s: FileStore) -> Box<dyn Store + Send> {
        Box::new(s)
    }
    assert_eq!(boxed(FileStore::new(Limits::default())).state().msgs, 0);
}

#[test]
fn discard_new_refusals_write_nothing() {
    let limits = Limits {
        max_msgs: Some(1),
        discard: Discard::New,
        ..Limits::default()
    };
    let mut s = FileStore::new(limits);
    s.store(b"a", b"", b"x", 0).unwrap();
    s.take_ops(1);
    assert_eq!(s.store(b"a", b"", b"x", 0), Err(StoreError::MaxMsgs));
    assert_eq!(s.take_ops(1), vec![]);
}

/// A fixed-seed xorshift, so the garbage is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Real blocks to start from, so that damage comes after records that check out.
    let mut real = Disk::default();
    let mut s = small(Limits::default());
    store_n(&mut s, "a", 10, 0);
    s.remove(3);
    s.purge(None, Some(5), None);
    store_n(&mut s, "b", 10, 100);
    sync(&mut s, &mut real);
    let real: Vec<Vec<u8>> = real.0.into_values().collect();
    let mut served = 0;
    for _ in 0..3000 {
        let files: Vec<(String, Vec<u8>)> = (0..1 + rng.next() % 3)
            .map(|i| {
                let base = &real[rng.next() as usize % real.len()];
                let mut data = base[..rng.next() as usize % (base.len() + 1)].to_vec();
                if !data.is_empty() && rng.next() & 1 == 0 {
                    let at = rng.next() as usize % data.len();
                    data[at] ^= 1 << (rng.next() % 8);
                }
                let garbage = rng.next() % 4 * (rng.next() % 40);
                data.extend((0..garbage).map(|_| rng.next() as u8));
                (format!("{}.blk", i + rng.next() % 2), data)
            })
            .collect();
        let mut disk = Disk(files.into_iter().collect());
        let (r, _) = disk.recover(Limits::default());
        let st = r.state();
        assert!(st.msgs <= st.last_seq.saturating_sub(st.first_seq).saturating_add(1));
        served += st.msgs;
        // What recovery wrote leaves a directory that recovers to the same store.
        let (again, report) = disk.recover(Limits::default());
        assert_eq!(again.state(), st);
        assert_eq!(held(&again), held(&r));
        assert_eq!(report.torn_tail, None);
    }
    assert!(served > 3000, "only {served} messages recovered in all");
}

#[test]
fn sizes_are_accounted_as_the_reference_file_store() {
    // nats-server 2.9.10 reported 72 bytes for these two messages in a file stream.
    let mut fs = FileStore::new(Limits::default());
    fs.store(b"s.a", b"", b"one", 1).unwrap();
    fs.store(b"s.b", b"", b"two", 2).unwrap();
    assert_eq!(fs.state().bytes, 72);
    let with_headers = crate::jetstream::store::file_msg_size(b"s", b"NATS/1.0\r\n\r\n", b"x");
    assert_eq!(with_headers, 1 + 12 + 1 + 34);
}

#[test]
fn message_ttls_survive_recovery() {
    let mut disk = Disk::default();
    let mut s = FileStore::new(Limits::default());
    s.store(b"a", b"NATS/1.0\r\nNats-TTL: 5s\r\n\r\n", b"brief", 1_000)
        .unwrap();
    s.store(b"a", b"", b"stays", 1_000).unwrap();
    sync(&mut s, &mut disk);
    let (mut r, _) = disk.recover(Limits::default());
    assert_eq!(r.next_expiry(), Some(1_000 + 5_000_000_000));
    assert_eq!(r.expire(1_000 + 5_000_000_000), 1);
    assert_eq!(r.state().msgs, 1);
}

/// A directory the store reads back from while it goes on writing to it, counting reads.
#[derive(Clone, Default)]
struct Live {
    disk: Arc<Mutex<Disk>>,
    reads: Arc<AtomicU64>,
    batches: Arc<AtomicU64>,
}

impl BlockReader for Live {
    fn read(&self, dir: &str, file: &str) -> io::Result<Bytes> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.disk.lock().unwrap().read(dir, file)
    }
}

impl Live {
    fn source(&self) -> Source {
        Source::new(Arc::new(self.clone()), String::new())
    }

    /// Carries out what the store wrote, as the next batch, and reports it written.
    fn sync(&self, s: &mut FileStore) {
        let batch = self.batches.fetch_add(1, Ordering::Relaxed) + 1;
        let ops = s.take_ops(batch);
        self.disk.lock().unwrap().apply(ops);
        s.written(batch);
    }

    fn recover(&self) -> (FileStore, Recovery) {
        let names = self.disk.lock().unwrap().names();
        FileStore::recover(Limits::default(), names, self.source())
    }

    fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }
}

const PAGED_BLOCK: u64 = 1024;
const PAGED_BUDGET: u64 = 2 * PAGED_BLOCK;

/// A store of small blocks caching at most two of them, reading back from `live`.
fn paged(s: FileStore, live: &Live) -> FileStore {
    s.with_block_size(PAGED_BLOCK)
        .with_cache_budget(PAGED_BUDGET)
        .with_source(live.source())
}

fn payload(seq: u64) -> Vec<u8> {
    format!("payload {seq};")
        .repeat(seq as usize % 7 + 1)
        .into_bytes()
}

/// Stores `n` messages on subjects `a.0` to `a.3` with their own payloads, reporting each
/// ten written.
fn store_paged(s: &mut FileStore, live: &Live, n: u64) {
    for _ in 0..n {
        let seq = s.state().last_seq + 1;
        let subject = format!("a.{}", seq % 4);
        assert_eq!(
            s.store(subject.as_bytes(), b"", &payload(seq), seq),
            Ok(seq)
        );
        if seq.is_multiple_of(10) {
            live.sync(s);
        }
    }
    live.sync(s);
}

/// Every message held reads back with its own payload, nothing is reported damaged, and
/// no more than the budget and the active block stay cached.
fn assert_reads_back(s: &mut FileStore) {
    let st = s.state();
    let mut held = 0;
    for seq in st.first_seq..=st.last_seq {
        match s.load(seq) {
            Some(m) => {
                assert_eq!((m.seq, m.data.as_ref()), (seq, &payload(seq)[..]));
                assert_eq!(m.subject, format!("a.{}", seq % 4));
                held += 1;
            }
            None => assert!(!s.holds(seq), "{seq} held but not served"),
        }
    }
    assert_eq!(held, st.msgs);
    assert_eq!(s.take_faults(), vec![]);
    assert!(s.cache.borrow().held() <= PAGED_BUDGET + PAGED_BLOCK);
}

#[test]
fn a_stream_larger_than_the_cache_is_read_back_from_disk() {
    let live = Live::default();
    let mut s = paged(FileStore::new(Limits::default()), &live);
    store_paged(&mut s, &live, 600);
    let blocks = live.disk.lock().unwrap().0.len() as u64;
    assert!(blocks > 20, "{blocks} blocks");
    assert!(s.cache.borrow().held() <= PAGED_BUDGET + PAGED_BLOCK);
    assert_eq!(live.reads(), 0, "appends read nothing back");
    // Counting what a consumer has left reads nothing back either.
    assert_eq!(s.count_matching(&[">"], 1), 600);
    assert_eq!(s.count_matching(&["a.1", "a.2"], 301), 150);
    assert_eq!(live.reads(), 0, "counts read nothing back");
    assert_reads_back(&mut s);
    // In order, each block evicted is read back once.
    let after_forward = live.reads();
    assert!(
        after_forward > blocks - 4 && after_forward < blocks,
        "{after_forward} reads"
    );
    assert_eq!(s.load_last(b"a.1").map(|m| m.seq), Some(597));
    assert_eq!(s.load_next(b"a.2", 3).map(|m| m.seq), Some(6));
    assert_eq!(s.load(1).map(|m| m.data), Some(Bytes::from(payload(1))));
    assert_reads_back(&mut s);
}

#[test]
fn blocks_stay_in_memory_until_written() {
    let live = Live::default();
    let mut s = paged(FileStore::new(Limits::default()), &live).with_cache_budget(0);
    for seq in 1..=200 {
        s.store(b"a.0", b"", &payload(seq), seq).unwrap();
    }
    // Nothing on disk yet, taken for a batch or not: every message is served from memory.
    let ops = s.take_ops(1);
    s.store(b"a.0", b"", &payload(201), 201).unwrap();
    s.written(0);
    for seq in 1..=201 {
        assert_eq!(s.load(seq).map(|m| m.data), Some(Bytes::from(payload(seq))));
    }
    assert_eq!(live.reads(), 0);
    // Batch 1 written: its blocks may go, but not the active block the next one goes to.
    live.disk.lock().unwrap().apply(ops);
    s.written(1);
    let active = s.active.unwrap();
    assert!(s.cache.borrow().contains(active));
    assert!(s.cache.borrow().held() <= PAGED_BLOCK);
    live.sync(&mut s);
    for seq in 1..=201 {
        assert_eq!(s.load(seq).map(|m| m.data), Some(Bytes::from(payload(seq))));
    }
    assert!(live.reads() > 0);
}

#[test]
fn evicted_blocks_read_back_after_removals_compaction_and_purge() {
    let live = Live::default();
    let mut s = paged(FileStore::new(Limits::default()), &live);
    store_paged(&mut s, &live, 600);
    // Two in three gone from the first half: its blocks are rewritten from what is read
    // back.
    for seq in (1..300).filter(|seq| seq % 3 != 0) {
        assert!(s.remove(seq));
    }
    let ops = s.take_ops(1000);
    assert!(ops.iter().any(|op| matches!(op, FileOp::Replace { .. })));
    live.disk.lock().unwrap().apply(ops);
    s.written(1000);
    assert_reads_back(&mut s);
    let a1 = s.subjects(b"a.1")[0].1;
    assert_eq!(s.purge(Some(b"a.1"), None, Some(3)), a1 - 3);
    let below = (1..200).filter(|&seq| s.holds(seq)).count() as u64;
    assert_eq!(s.purge(None, Some(200), None), below);
    live.sync(&mut s);
    assert_reads_back(&mut s);
    store_paged(&mut s, &live, 100);
    assert_reads_back(&mut s);
    // And after a restart, with nothing cached until read.
    let (r, report) = live.recover();
    assert_eq!(report.corruption, vec![]);
    let mut r = paged(r, &live);
    assert_eq!(r.cache.borrow().held(), 0);
    let mut r_held = held(&r);
    assert_eq!(r_held, held(&s));
    assert_reads_back(&mut r);
    r.store(b"a.0", b"", b"after", 0).unwrap();
    live.sync(&mut r);
    r_held.push(r.load(r.state().last_seq).unwrap());
    assert_eq!(held(&r), r_held);
}

#[test]
fn damage_in_a_block_read_back_is_reported_not_served() {
    let live = Live::default();
    let mut s = paged(FileStore::new(Limits::default()), &live);
    store_paged(&mut s, &live, 100);
    assert!(!s.cache.borrow().contains(1));
    let rec = s.blocks[&1].msgs.get(2).unwrap();
    // Flip a bit of message 2's data in the file.
    let at = (rec.at + rec.len - 6) as usize;
    live.disk.lock().unwrap().0.get_mut("1.blk").unwrap()[at] ^= 0x20;
    assert_eq!(s.load(2), None);
    let bad = Corruption {
        file: "1.blk".into(),
        offset: rec.at,
        damage: Damage::BadChecksum,
    };
    assert_eq!(s.take_faults(), vec![bad.clone()]);
    assert!(s.holds(2));
    // The others still are served; a scan passes over the damaged one.
    assert_eq!(s.load(1).map(|m| m.data), Some(Bytes::from(payload(1))));
    assert_eq!(s.load_next(b">", 2).map(|m| m.seq), Some(3));
    assert_eq!(s.take_faults(), vec![bad]);
    // A block file gone is reported too.
    let last_in_2 = s.blocks[&2].msgs.seqs().last().unwrap();
    s.cache.borrow_mut().remove(2);
    live.disk.lock().unwrap().0.remove("2.blk");
    assert_eq!(s.load(last_in_2), None);
    let gone = Corruption {
        file: "2.blk".into(),
        offset: 0,
        damage: Damage::Unreadable,
    };
    assert_eq!(s.take_faults(), vec![gone]);
}
