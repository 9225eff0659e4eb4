//! Behaviour case by case, after the reference's `sublist_test.go`. Random sequences checked
//! against a brute-force model are in `core/tests/sublist_props.rs`.

use std::sync::Arc;

use super::cache::MAX as CACHE_MAX;
use super::*;

fn plain(sl: &mut Sublist<u32>, subject: &str) -> Vec<u32> {
    sl.matches(subject.as_bytes()).plain.clone()
}

fn groups(sl: &mut Sublist<u32>, subject: &str) -> Vec<(String, Vec<u32>)> {
    sl.matches(subject.as_bytes())
        .queues
        .iter()
        .map(|g| {
            (
                String::from_utf8(g.name.to_vec()).unwrap(),
                g.members.clone(),
            )
        })
        .collect()
}

fn add(sl: &mut Sublist<u32>, subject: &str, v: u32) {
    sl.insert(subject.as_bytes(), None, v).unwrap();
}

fn add_q(sl: &mut Sublist<u32>, subject: &str, queue: &str, v: u32) {
    sl.insert(subject.as_bytes(), Some(queue.as_bytes()), v)
        .unwrap();
}

fn del(sl: &mut Sublist<u32>, subject: &str, v: u32) -> bool {
    sl.remove(subject.as_bytes(), None, v)
}

fn del_q(sl: &mut Sublist<u32>, subject: &str, queue: &str, v: u32) -> bool {
    sl.remove(subject.as_bytes(), Some(queue.as_bytes()), v)
}

#[test]
fn insert_count() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    add(&mut sl, "bar", 2);
    add(&mut sl, "foo.bar", 3);
    assert_eq!(sl.count(), 3);
}

#[test]
fn literal_subjects() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    add(&mut sl, "foo.bar.baz", 2);
    assert_eq!(plain(&mut sl, "foo"), [1]);
    assert_eq!(plain(&mut sl, "foo.bar.baz"), [2]);
    // The reference's bug report #18: a longer subject does not reach a shorter pattern.
    assert!(plain(&mut sl, "foo.bar").is_empty());
}

#[test]
fn partial_wildcards() {
    let mut sl = Sublist::new();
    add(&mut sl, "a.b.c", 1);
    add(&mut sl, "a.*.c", 2);
    add(&mut sl, "a.b.*", 3);
    add(&mut sl, "*.*.*", 4);
    assert_eq!(plain(&mut sl, "a.b.c"), [1, 2, 3, 4]);
    assert_eq!(plain(&mut sl, "a.x.c"), [2, 4]);
    assert!(plain(&mut sl, "a.b").is_empty());
    assert!(plain(&mut sl, "a.b.c.d").is_empty());
}

#[test]
fn full_wildcard_needs_one_more_token() {
    let mut sl = Sublist::new();
    add(&mut sl, "a.b.c", 1);
    add(&mut sl, "a.>", 2);
    add(&mut sl, ">", 3);
    assert_eq!(plain(&mut sl, "a.b.c"), [1, 2, 3]);
    assert_eq!(plain(&mut sl, "a"), [3]);
    // A published `>` is plain text, reached only by wildcards.
    assert_eq!(plain(&mut sl, "a.>"), [2, 3]);
}

#[test]
fn published_wildcards_are_plain_text() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo.*", 1);
    add(&mut sl, "foo.>", 2);
    add(&mut sl, "foo.bar", 3);
    add(&mut sl, "*.*", 4);
    assert_eq!(plain(&mut sl, "foo.*"), [1, 2, 4]);
    assert_eq!(plain(&mut sl, "*.bar"), [4]);
}

#[test]
fn removal() {
    let mut sl = Sublist::new();
    add(&mut sl, "a.b.c.d", 1);
    assert_eq!(plain(&mut sl, "a.b.c.d"), [1]);
    assert!(!del(&mut sl, "a.b.c", 1));
    assert!(!del(&mut sl, "a.b.c.d", 2));
    assert!(!sl.remove(b"a.b.c.d", Some(b"q"), 1));
    assert_eq!(sl.count(), 1);
    assert!(del(&mut sl, "a.b.c.d", 1));
    assert!(!del(&mut sl, "a.b.c.d", 1));
    assert_eq!(sl.count(), 0);
    assert!(plain(&mut sl, "a.b.c.d").is_empty());
}

#[test]
fn removal_of_wildcards() {
    let mut sl = Sublist::new();
    add(&mut sl, "a.b.c.d", 1);
    add(&mut sl, "a.b.*.d", 2);
    add(&mut sl, "a.b.>", 3);
    assert_eq!(plain(&mut sl, "a.b.c.d"), [1, 2, 3]);
    assert!(del(&mut sl, "a.b.c.d", 1));
    assert_eq!(plain(&mut sl, "a.b.c.d"), [2, 3]);
    assert!(del(&mut sl, "a.b.>", 3));
    assert_eq!(plain(&mut sl, "a.b.c.d"), [2]);
    assert!(del(&mut sl, "a.b.*.d", 2));
    assert_eq!(sl.count(), 0);
    assert!(plain(&mut sl, "a.b.c.d").is_empty());
}

#[test]
fn removal_prunes_the_trie() {
    for pattern in ["a.b.c.d.e.f", "a.b.*.d.e.>"] {
        let mut sl = Sublist::new();
        assert_eq!(sl.root.levels(), 0);
        add(&mut sl, pattern, 1);
        assert_eq!(sl.root.levels(), 6, "{pattern}");
        assert!(del(&mut sl, pattern, 1));
        assert_eq!(sl.root.levels(), 0, "{pattern}");
    }
    // Pruning stops where another pattern still needs the path.
    let mut sl = Sublist::new();
    add(&mut sl, "a.b", 1);
    add(&mut sl, "a.b.c.d", 2);
    add(&mut sl, "a.x.>", 3);
    assert!(del(&mut sl, "a.b.c.d", 2));
    assert_eq!(sl.root.levels(), 3);
    assert!(del(&mut sl, "a.x.>", 3));
    assert_eq!(sl.root.levels(), 2);
    assert_eq!(plain(&mut sl, "a.b"), [1]);
    assert!(del(&mut sl, "a.b", 1));
    assert_eq!(sl.root.levels(), 0);
}

#[test]
fn removal_from_a_large_set() {
    let mut sl = Sublist::new();
    for v in 0..512 {
        add(&mut sl, "foo", v);
    }
    let all = plain(&mut sl, "foo");
    assert_eq!(all, (0..512).collect::<Vec<_>>());
    assert!(del(&mut sl, "foo", 256));
    assert!(del(&mut sl, "foo", 0));
    assert!(del(&mut sl, "foo", 511));
    let left = plain(&mut sl, "foo");
    assert_eq!(left.len(), 509);
    assert!(left.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn invalid_subjects_are_refused_and_store_nothing() {
    let mut sl = Sublist::new();
    for bad in [
        "",
        ".",
        ".foo",
        "foo.",
        "foo..bar",
        "foo.bar..baz",
        "foo.>.bar",
        ">.>",
    ] {
        assert_eq!(
            sl.insert(bad.as_bytes(), None, 1),
            Err(InvalidSubject),
            "{bad:?}"
        );
        assert_eq!(
            sl.insert(bad.as_bytes(), Some(b"q"), 1),
            Err(InvalidSubject)
        );
        assert!(!del(&mut sl, bad, 1), "{bad:?}");
    }
    assert_eq!(sl.count(), 0);
    assert_eq!(sl.root.levels(), 0);
    assert_eq!(sl.stats().num_inserts, 0);
}

#[test]
fn wildcard_characters_inside_tokens_are_literal() {
    let mut sl = Sublist::new();
    for (v, pattern) in ["foo.*-", "foo.>-", "*bar", "b>"].into_iter().enumerate() {
        let v = v as u32;
        add(&mut sl, pattern, v);
        assert!(plain(&mut sl, "foo.bar").is_empty());
        assert_eq!(plain(&mut sl, pattern), [v]);
        assert!(!del(&mut sl, "foo.bar", v));
        assert_eq!(sl.count(), 1);
        assert!(del(&mut sl, pattern, v));
        assert_eq!(sl.count(), 0);
    }
}

#[test]
fn duplicate_inserts_are_idempotent() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    assert_eq!(plain(&mut sl, "foo"), [1]);
    add(&mut sl, "foo", 1);
    add_q(&mut sl, "foo", "q", 1);
    add_q(&mut sl, "foo", "q", 1);
    assert_eq!(sl.count(), 2);
    assert_eq!(sl.stats().num_inserts, 2);
    assert_eq!(plain(&mut sl, "foo"), [1]);
    assert_eq!(groups(&mut sl, "foo"), [("q".into(), vec![1])]);
    assert!(del(&mut sl, "foo", 1));
    assert!(del_q(&mut sl, "foo", "q", 1));
    assert!(sl.matches(b"foo").is_empty());
    // The same value under two patterns is two subscriptions, and is reached twice.
    add(&mut sl, "foo", 1);
    add(&mut sl, "*", 1);
    assert_eq!(plain(&mut sl, "foo"), [1, 1]);
    assert_eq!(sl.count(), 2);
}

#[test]
fn cache_follows_inserts_and_removes() {
    // After the reference's TestSublistCache.
    let mut sl = Sublist::new();
    add(&mut sl, "a.b.c.d", 1);
    assert_eq!(plain(&mut sl, "a.b.c.d"), [1]);
    add(&mut sl, "a.b.*.d", 2);
    add(&mut sl, "a.b.>", 3);
    assert_eq!(sl.count(), 3);
    assert_eq!(plain(&mut sl, "a.b.c.d"), [1, 2, 3]);
    assert!(del(&mut sl, "a.b.c.d", 1));
    assert!(del(&mut sl, "a.b.>", 3));
    assert_eq!(plain(&mut sl, "a.b.c.d"), [2]);
    assert!(del(&mut sl, "a.b.*.d", 2));
    assert!(plain(&mut sl, "a.b.c.d").is_empty());

    let mut sl = Sublist::new();
    add(&mut sl, "foo.*", 1);
    add(&mut sl, "foo.bar", 2);
    assert_eq!(plain(&mut sl, "foo.baz"), [1]);
    assert_eq!(plain(&mut sl, "foo.bar"), [1, 2]);
    add(&mut sl, "foo.>", 3);
    assert_eq!(plain(&mut sl, "foo.bar"), [1, 2, 3]);
    assert_eq!(plain(&mut sl, "foo.baz"), [1, 3]);
    add_q(&mut sl, ">", "q", 4);
    assert_eq!(groups(&mut sl, "foo.baz"), [("q".into(), vec![4])]);
    assert!(del_q(&mut sl, ">", "q", 4));
    assert!(groups(&mut sl, "foo.baz").is_empty());
    // All of the above after the first two matches were cache hits.
    let stats = sl.stats();
    assert_eq!(stats.num_matches, 6);
    assert_eq!(stats.num_cache, 2);
}

#[test]
fn cached_subjects_with_wildcard_text_are_kept_exact() {
    let mut sl = Sublist::new();
    assert!(plain(&mut sl, "foo.*").is_empty());
    add(&mut sl, "foo.bar", 1);
    add(&mut sl, "foo.*", 2);
    add(&mut sl, "*.>", 3);
    assert_eq!(plain(&mut sl, "foo.*"), [2, 3]);
    assert!(del(&mut sl, "foo.*", 2));
    assert_eq!(plain(&mut sl, "foo.*"), [3]);
}

#[test]
fn a_held_result_does_not_change() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    let before = sl.matches(b"foo");
    add(&mut sl, "foo", 2);
    add(&mut sl, "*", 3);
    assert_eq!(before.plain, [1]);
    assert_eq!(sl.matches(b"foo").plain, [1, 2, 3]);
    assert!(del(&mut sl, "foo", 1));
    assert_eq!(sl.matches(b"foo").plain, [2, 3]);
}

#[test]
fn cache_stays_bounded() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo.*", 1);
    for i in 0..2 * CACHE_MAX {
        let subject = format!("foo.{i}");
        assert_eq!(plain(&mut sl, &subject), [1]);
        assert!(sl.stats().num_cache as usize <= CACHE_MAX);
    }
    add(&mut sl, ">", 2);
    for i in 0..2 * CACHE_MAX {
        assert_eq!(plain(&mut sl, &format!("foo.{i}")), [1, 2]);
    }
}

#[test]
fn a_subject_hit_since_the_last_sweep_survives_it() {
    let mut sl = Sublist::new();
    add(&mut sl, ">", 1);
    sl.matches(b"hot");
    for round in 0..4 {
        sl.matches(b"hot");
        // One-off subjects until a sweep.
        for i in 0.. {
            let before = sl.stats().num_cache;
            sl.matches(format!("cold.{round}.{i}").as_bytes());
            if sl.stats().num_cache < before {
                break;
            }
        }
        let hits = sl.counters.cache_hits;
        sl.matches(b"hot");
        assert_eq!(sl.counters.cache_hits, hits + 1, "round {round}");
    }
}

#[test]
fn sweeps_are_deterministic() {
    let run = || {
        let mut sl = Sublist::new();
        add(&mut sl, "a.>", 1);
        for i in 0..3000u32 {
            sl.matches(format!("a.{}", i % 1700).as_bytes());
            if i % 7 == 0 {
                sl.matches(format!("a.{}", i % 13).as_bytes());
            }
        }
        sl.stats()
    };
    assert_eq!(run(), run());
}

#[test]
fn queue_groups() {
    // After the reference's TestSublistBasicQueueResults.
    let mut sl = Sublist::new();
    add_q(&mut sl, "foo", "bar", 1);
    assert!(plain(&mut sl, "foo").is_empty());
    assert_eq!(groups(&mut sl, "foo"), [("bar".into(), vec![1])]);
    add_q(&mut sl, "foo", "baz", 2);
    add(&mut sl, "foo", 10);
    assert_eq!(plain(&mut sl, "foo"), [10]);
    assert_eq!(
        groups(&mut sl, "foo"),
        [("bar".into(), vec![1]), ("baz".into(), vec![2])]
    );
    add_q(&mut sl, "foo", "bar", 3);
    add_q(&mut sl, "foo", "baz", 4);
    assert_eq!(
        groups(&mut sl, "foo"),
        [("bar".into(), vec![1, 3]), ("baz".into(), vec![2, 4])]
    );
    assert!(del(&mut sl, "foo", 10));
    assert!(del_q(&mut sl, "foo", "bar", 1));
    assert!(plain(&mut sl, "foo").is_empty());
    assert_eq!(
        groups(&mut sl, "foo"),
        [("bar".into(), vec![3]), ("baz".into(), vec![2, 4])]
    );
    assert!(del_q(&mut sl, "foo", "bar", 3));
    assert_eq!(groups(&mut sl, "foo"), [("baz".into(), vec![2, 4])]);
    assert!(!del_q(&mut sl, "foo", "bar", 2));
    assert!(del_q(&mut sl, "foo", "baz", 2));
    assert!(del_q(&mut sl, "foo", "baz", 4));
    assert!(sl.matches(b"foo").is_empty());
    assert_eq!(sl.root.levels(), 0);
}

#[test]
fn queue_groups_of_one_name_merge_across_patterns() {
    let mut sl = Sublist::new();
    add_q(&mut sl, "foo.bar", "q", 3);
    add_q(&mut sl, "foo.*", "q", 1);
    add_q(&mut sl, ">", "q", 2);
    add_q(&mut sl, "foo.>", "other", 5);
    assert_eq!(
        groups(&mut sl, "foo.bar"),
        [("other".into(), vec![5]), ("q".into(), vec![1, 2, 3])]
    );
}

#[test]
fn empty_results_are_shared() {
    let mut sl = Sublist::<u32>::new();
    let a = sl.matches(b"foo");
    let b = sl.matches(b"bar");
    assert!(a.is_empty());
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn subjects_with_empty_tokens_match_nothing_and_are_not_cached() {
    let mut sl = Sublist::new();
    add(&mut sl, ">", 1);
    add_q(&mut sl, ">", "queue", 2);
    add(&mut sl, "foo.*", 3);
    for subject in [
        "",
        ".",
        ".foo",
        "..foo",
        "foo..",
        "foo.",
        "foo..bar",
        "foo...bar",
    ] {
        assert!(sl.matches(subject.as_bytes()).is_empty(), "{subject:?}");
        assert!(!sl.has_interest(subject.as_bytes()), "{subject:?}");
    }
    assert_eq!(sl.stats().num_cache, 0);
}

#[test]
fn cache_hit_rate_and_merge() {
    // After the reference's TestSublistAddCacheHitRate.
    let mut one = Sublist::new();
    add(&mut one, "foo", 1);
    let mut two = Sublist::new();
    add(&mut two, "bar", 1);
    for _ in 0..4 {
        one.matches(b"foo");
        two.matches(b"bar");
    }
    let (a, b) = (one.stats(), two.stats());
    assert_eq!(a.cache_hit_rate, 0.75);
    assert_eq!(b.cache_hit_rate, 0.75);
    let mut total = SublistStats::default();
    total.merge(&a);
    total.merge(&b);
    assert_eq!(total.cache_hit_rate, 0.75);
    assert_eq!(total.num_matches, 8);
    assert_eq!(total.num_subscriptions, 2);
}

#[test]
fn stats() {
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    add(&mut sl, "foo", 2);
    add(&mut sl, "*", 3);
    add_q(&mut sl, "foo", "q", 4);
    add_q(&mut sl, "foo", "q", 5);
    add(&mut sl, "bar.baz", 6);
    assert!(del(&mut sl, "bar.baz", 6));
    sl.matches(b"foo");
    sl.matches(b"bar");
    sl.matches(b"foo");
    let stats = sl.stats();
    assert_eq!(stats.num_subscriptions, 5);
    assert_eq!(stats.num_inserts, 6);
    assert_eq!(stats.num_removes, 1);
    assert_eq!(stats.num_matches, 3);
    assert_eq!(stats.num_cache, 2);
    // foo: three plain and one group; bar: the `*` one.
    assert_eq!(stats.max_fanout, 4);
    assert_eq!(stats.avg_fanout, 2.5);
    let json = serde_json::to_value(&stats).unwrap();
    let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        // The reference's /subsz order.
        [
            "num_subscriptions",
            "num_cache",
            "num_inserts",
            "num_removes",
            "num_matches",
            "cache_hit_rate",
            "max_fanout",
            "avg_fanout",
        ]
    );
}

#[test]
fn has_interest() {
    // After the reference's TestSublistHasInterest.
    let mut sl = Sublist::new();
    add(&mut sl, "foo", 1);
    assert!(sl.has_interest(b"foo"));
    assert!(!sl.has_interest(b"bar"));
    sl.matches(b"foo");
    assert_eq!(sl.counters.cache_hits, 0);
    // A hit from `has_interest` counts as a hit, not as a match.
    for _ in 0..5 {
        assert!(sl.has_interest(b"foo"));
    }
    assert_eq!(sl.stats().num_matches, 1);
    assert_eq!(sl.stats().cache_hit_rate, 5.0);
    // Negative results are cached too.
    sl.matches(b"bar");
    assert!(!sl.has_interest(b"bar"));
    assert_eq!(sl.stats().cache_hit_rate, 3.0);
    assert!(del(&mut sl, "foo", 1));
    assert!(!sl.has_interest(b"foo"));

    for queue in [None, Some(&b"bar"[..])] {
        for (pattern, yes, no) in [
            ("foo.*", &["foo.bar"][..], &["foo", "foo.bar.baz"][..]),
            ("foo.>", &["foo.bar", "foo.bar.baz"], &["foo"]),
            ("*.>", &["foo.bar", "foo.baz"], &["foo"]),
            ("*.bar", &["foo.bar"], &["foo", "foo.baz"]),
            ("*", &["foo"], &["foo.bar"]),
            ("foo", &["foo"], &["foo.bar"]),
        ] {
            sl.insert(pattern.as_bytes(), queue, 7).unwrap();
            for subject in yes {
                assert!(sl.has_interest(subject.as_bytes()), "{pattern} {subject}");
            }
            for subject in no {
                assert!(!sl.has_interest(subject.as_bytes()), "{pattern} {subject}");
            }
            assert!(sl.remove(pattern.as_bytes(), queue, 7));
            for subject in yes.iter().chain(no) {
                assert!(!sl.has_interest(subject.as_bytes()), "{pattern} {subject}");
            }
        }
    }

    // Two queue groups on one subject: interest lasts until the last one goes.
    add_q(&mut sl, "foo", "bar", 1);
    add_q(&mut sl, "foo", "baz", 2);
    assert!(del_q(&mut sl, "foo", "bar", 1));
    assert!(sl.has_interest(b"foo"));
    assert!(del_q(&mut sl, "foo", "baz", 2));
    assert!(!sl.has_interest(b"foo"));
}

#[test]
fn has_interest_with_overlapping_patterns() {
    let mut sl = Sublist::new();
    add(&mut sl, "stream.A.child", 1);
    add(&mut sl, "stream.*", 2);
    assert!(sl.has_interest(b"stream.A.child"));
    assert!(sl.has_interest(b"stream.A"));
    assert!(!sl.has_interest(b"stream.A.other"));
}

#[test]
fn deep_subjects_do_not_overflow_the_stack() {
    const TOKENS: usize = 50_000;
    let literal = vec!["a"; TOKENS].join(".");
    let mut wildcards = vec!["*"; TOKENS - 1].join(".");
    wildcards.push_str(".>");
    let mut sl = Sublist::new();
    add(&mut sl, &literal, 1);
    add(&mut sl, &wildcards, 2);
    assert_eq!(sl.root.levels(), TOKENS);
    let mut longer = literal.clone();
    longer.push_str(".b");
    assert_eq!(plain(&mut sl, &longer), [2]);
    assert_eq!(plain(&mut sl, &literal), [1, 2]);
    assert!(sl.has_interest(longer.as_bytes()));
    assert!(del(&mut sl, &literal, 1));
    assert_eq!(plain(&mut sl, &literal), [2]);
    assert_eq!(sl.root.levels(), TOKENS);
    // Dropped with one deep pattern still in place.
    drop(sl);
}
