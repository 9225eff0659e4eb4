use proptest::prelude::*;

use super::*;

fn store_n(s: &mut MemStore, subject: &str, n: u64) {
    for i in 0..n {
        s.store(subject.as_bytes(), b"", b"data", 1000 + i).unwrap();
    }
}

#[test]
fn sequences_and_state() {
    let mut s = MemStore::new(Limits::default());
    assert_eq!((s.state().first_seq, s.state().last_seq), (0, 0));
    assert_eq!(s.store(b"a", b"", b"hello", 10), Ok(1));
    assert_eq!(s.store(b"b", b"NATS/1.0\r\n\r\n", b"x", 20), Ok(2));
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 1, 2));
    assert_eq!((st.first_time, st.last_time), (10, 20));
    assert_eq!(st.bytes, (1 + 5 + 16) + (1 + 12 + 1 + 16));
    assert_eq!(s.load(2).unwrap().headers.as_ref(), b"NATS/1.0\r\n\r\n");
    assert!(s.remove(1));
    assert!(!s.remove(1));
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.num_deleted),
        (1, 2, 2, 0)
    );
    assert!(s.remove(2));
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq, st.bytes), (0, 3, 2, 0));
}

#[test]
fn max_msgs_discards_old_or_refuses_new() {
    let mut old = MemStore::new(Limits {
        max_msgs: Some(3),
        ..Limits::default()
    });
    store_n(&mut old, "a", 5);
    let st = old.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (3, 3, 5));
    let mut new = MemStore::new(Limits {
        max_msgs: Some(3),
        discard: Discard::New,
        ..Limits::default()
    });
    store_n(&mut new, "a", 3);
    assert_eq!(new.store(b"a", b"", b"x", 0), Err(StoreError::MaxMsgs));
    assert_eq!(new.state().last_seq, 3);
}

#[test]
fn max_bytes() {
    let each = msg_size(b"a", b"", b"data");
    let mut s = MemStore::new(Limits {
        max_bytes: Some(each * 2),
        ..Limits::default()
    });
    store_n(&mut s, "a", 3);
    assert_eq!(s.state().msgs, 2);
    assert_eq!(s.store(b"a", b"", &[0; 100], 0), Err(StoreError::TooLarge));
    let mut new = MemStore::new(Limits {
        max_bytes: Some(each * 2),
        discard: Discard::New,
        ..Limits::default()
    });
    store_n(&mut new, "a", 2);
    assert_eq!(new.store(b"a", b"", b"data", 0), Err(StoreError::MaxBytes));
}

#[test]
fn max_msgs_per_subject() {
    let mut s = MemStore::new(Limits {
        max_msgs_per_subject: Some(2),
        ..Limits::default()
    });
    store_n(&mut s, "a", 3);
    store_n(&mut s, "b", 1);
    assert_eq!(
        s.subjects(b">"),
        vec![(Bytes::from("a"), 2), (Bytes::from("b"), 1)]
    );
    assert_eq!(s.state().first_seq, 2);
    let mut strict = MemStore::new(Limits {
        max_msgs_per_subject: Some(1),
        discard: Discard::New,
        discard_new_per_subject: true,
        ..Limits::default()
    });
    store_n(&mut strict, "a", 1);
    assert_eq!(
        strict.store(b"a", b"", b"x", 0),
        Err(StoreError::MaxMsgsPerSubject)
    );
    assert!(strict.store(b"b", b"", b"x", 0).is_ok());
}

#[test]
fn max_age_expires_oldest_first() {
    let mut s = MemStore::new(Limits {
        max_age: Some(100),
        ..Limits::default()
    });
    s.store(b"a", b"", b"1", 1000).unwrap();
    s.store(b"a", b"", b"2", 1050).unwrap();
    assert_eq!(s.next_expiry(), Some(1100));
    assert_eq!(s.expire(1099), 0);
    assert_eq!(s.expire(1100), 1);
    assert_eq!(s.next_expiry(), Some(1150));
    assert_eq!(s.expire(2000), 1);
    assert_eq!(s.next_expiry(), None);
}

#[test]
fn lookups_by_filter() {
    let mut s = MemStore::new(Limits::default());
    for subject in ["orders.1", "orders.2", "users.1", "orders.1"] {
        s.store(subject.as_bytes(), b"", b"x", 0).unwrap();
    }
    assert_eq!(s.load_next(b"orders.*", 2).unwrap().seq, 2);
    assert_eq!(s.load_next(b"orders.*", 3).unwrap().seq, 4);
    assert_eq!(s.load_next(b"users.>", 4), None);
    assert_eq!(s.load_last(b"orders.*").unwrap().seq, 4);
    assert_eq!(s.load_last(b"users.1").unwrap().seq, 3);
    assert_eq!(s.load_last(b"nothing"), None);
    assert_eq!(s.last_seq(b"orders.1"), Some(4));
    assert_eq!(s.last_seq(b"users.*"), Some(3));
    assert_eq!(s.last_seq(b"orders"), None);
}

#[test]
fn lookups_by_time() {
    let mut s = MemStore::new(Limits::default());
    for time in [10, 20, 15, 30] {
        s.store(b"a", b"", b"x", time).unwrap();
    }
    assert_eq!(s.seq_from_time(0), Some(1));
    assert_eq!(s.seq_from_time(11), Some(2));
    assert_eq!(s.seq_from_time(20), Some(2));
    assert_eq!(s.seq_from_time(21), Some(4));
    assert_eq!(s.seq_from_time(31), None);
    s.remove(2);
    assert_eq!(s.seq_from_time(11), Some(3));
    assert!(s.holds(3) && !s.holds(2));
}

#[test]
fn purge_options() {
    let fill = || {
        let mut s = MemStore::new(Limits::default());
        for subject in ["a", "b", "a", "b", "a"] {
            s.store(subject.as_bytes(), b"", b"x", 0).unwrap();
        }
        s
    };
    let mut all = fill();
    assert_eq!(all.purge(None, None, None), 5);
    assert_eq!(all.state().first_seq, 6);
    let mut by_subject = fill();
    assert_eq!(by_subject.purge(Some(b"a"), None, None), 3);
    assert_eq!(by_subject.subjects(b">"), vec![(Bytes::from("b"), 2)]);
    let mut upto = fill();
    assert_eq!(upto.purge(None, Some(4), None), 3);
    assert_eq!(upto.state().first_seq, 4);
    let mut keep = fill();
    assert_eq!(keep.purge(Some(b"a"), None, Some(1)), 2);
    assert_eq!(keep.load_last(b"a").unwrap().seq, 5);
    let mut keep_all = fill();
    assert_eq!(keep_all.purge(None, None, Some(2)), 3);
    assert_eq!(keep_all.state().first_seq, 4);
    // With a wildcard, `keep` counts the matching messages together, not per subject.
    let mut keep_matching = fill();
    assert_eq!(keep_matching.purge(Some(b"*"), None, Some(2)), 3);
    assert_eq!(keep_matching.state().first_seq, 4);
    // Without a filter it spares the newest sequences (the reference compacts below
    // `last - keep + 1`), so a deleted one among them is not made up for.
    let mut keep_seqs = fill();
    keep_seqs.remove(4);
    assert_eq!(keep_seqs.purge(None, None, Some(2)), 3);
    assert_eq!(keep_seqs.state().msgs, 1);
    assert_eq!(keep_seqs.state().first_seq, 5);
    // Past the end, everything goes and `upto` is the next sequence.
    let mut past = fill();
    assert_eq!(past.purge(None, Some(10), None), 5);
    assert_eq!((past.state().first_seq, past.state().last_seq), (10, 9));
    assert_eq!(past.store(b"a", b"", b"x", 0), Ok(10));
    let mut keep_more = fill();
    keep_more.remove(4);
    assert_eq!(keep_more.purge(None, None, Some(4)), 0);
}

#[derive(Clone, Debug)]
enum Step {
    Store(u8, u8),
    Remove(u8),
    Purge(Option<u8>, Option<u8>, Option<u8>),
    Expire(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..4, 0u8..20).prop_map(|(s, len)| Step::Store(s, len)),
        1 => any::<u8>().prop_map(Step::Remove),
        1 => (proptest::option::of(0u8..4), proptest::option::of(any::<u8>()), proptest::option::of(0u8..3))
            .prop_map(|(f, u, k)| Step::Purge(f, u, k)),
        1 => any::<u8>().prop_map(Step::Expire),
    ]
}

fn limits() -> impl Strategy<Value = Limits> {
    (
        proptest::option::of(1u64..10),
        proptest::option::of(20u64..200),
        proptest::option::of(1u64..50),
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

proptest! {
    /// Whatever happens, the state agrees with the messages held, every limit holds, and
    /// sequences only grow.
    #[test]
    fn state_and_limits_hold(limits in limits(), steps in proptest::collection::vec(step(), 0..60)) {
        let mut s = MemStore::new(limits);
        let mut clock = 0u64;
        let mut last_seq = 0;
        for step in steps {
            clock += 1;
            match step {
                Step::Store(subject, len) => {
                    let subject = format!("s.{subject}");
                    if let Ok(seq) = s.store(subject.as_bytes(), b"", &vec![b'x'; len as usize], clock) {
                        prop_assert!(seq > last_seq);
                        last_seq = seq;
                    }
                }
                Step::Remove(seq) => { s.remove(u64::from(seq)); }
                Step::Purge(f, upto, keep) => {
                    let filter = f.map(|f| format!("s.{f}"));
                    s.purge(filter.as_deref().map(str::as_bytes), upto.map(u64::from), keep.map(u64::from));
                    // Past the end, a purge of everything moves the last sequence.
                    if let (None, Some(upto), None | Some(0)) = (f, upto, keep) {
                        last_seq = last_seq.max(u64::from(upto).saturating_sub(1));
                    }
                }
                Step::Expire(at) => { s.expire(u64::from(at)); }
            }
            let st = s.state();
            let held: Vec<StoredMsg> = (st.first_seq..=st.last_seq).filter_map(|q| s.load(q)).collect();
            prop_assert_eq!(st.msgs, held.len() as u64);
            prop_assert_eq!(st.bytes, held.iter().map(|m| m.size()).sum::<u64>());
            prop_assert_eq!(st.last_seq, last_seq);
            if let Some(max) = limits.max_msgs { prop_assert!(st.msgs <= max); }
            if let Some(max) = limits.max_bytes { prop_assert!(st.bytes <= max); }
            if let Some(max) = limits.max_msgs_per_subject {
                prop_assert!(s.subjects(b">").iter().all(|(_, n)| *n <= max));
            }
            let per_subject: u64 = s.subjects(b">").iter().map(|(_, n)| n).sum();
            prop_assert_eq!(per_subject, st.msgs);
            // Counting from the index agrees with the messages held.
            for filters in [&[">"][..], &["s.1"], &["s.*"], &["s.0", "s.3"], &["s.2", ">"]] {
                for start in [0, st.first_seq, st.last_seq / 2, st.last_seq + 1] {
                    let held = held
                        .iter()
                        .filter(|m| m.seq >= start)
                        .filter(|m| filters.iter().any(|f| matches(f.as_bytes(), &m.subject)))
                        .count() as u64;
                    prop_assert_eq!(s.count_matching(filters, start), held);
                }
            }
        }
    }
}

#[test]
fn messages_with_their_own_ttl() {
    const SECOND: u64 = 1_000_000_000;
    let limits = Limits {
        max_age: Some(10 * SECOND),
        ..Limits::default()
    };
    let mut s = MemStore::new(limits);
    let ttl = |v: &str| format!("NATS/1.0\r\nNats-TTL: {v}\r\n\r\n");
    s.store(b"a", ttl("2s").as_bytes(), b"short", SECOND)
        .unwrap();
    s.store(b"a", ttl("never").as_bytes(), b"forever", SECOND)
        .unwrap();
    s.store(b"a", b"", b"by age", SECOND).unwrap();
    assert_eq!(s.next_expiry(), Some(3 * SECOND));
    assert_eq!(s.expire(3 * SECOND), 1);
    assert_eq!(s.next_expiry(), Some(11 * SECOND));
    assert_eq!(s.expire(11 * SECOND), 1);
    assert_eq!(s.state().msgs, 1, "the immortal one stays past max_age");
    assert_eq!(s.next_expiry(), None);
    assert!(s.load(2).is_some());
}
