//! The subscription index on the hot path of every publish: inserting, then matching with
//! a cache hit, a cache miss, and a miss through many wildcard patterns.
//!
//! Subjects follow the reference's `sublist_test.go` benchmarks: tokens from one small
//! vocabulary, taken depth first.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rnats_core::sublist::Sublist;

const TOKENS: [&str; 8] = [
    "synadia",
    "nats",
    "jetstream",
    "nkeys",
    "jwt",
    "deny",
    "auth",
    "drain",
];
const SUBS: usize = 10_000;

/// The first `SUBS` subjects of up to five tokens, depth first.
fn subjects() -> Vec<Vec<u8>> {
    fn walk(prefix: &str, depth: usize, out: &mut Vec<Vec<u8>>) {
        for token in TOKENS {
            if out.len() == SUBS {
                return;
            }
            let subject = if prefix.is_empty() {
                token.to_string()
            } else {
                format!("{prefix}.{token}")
            };
            out.push(subject.clone().into_bytes());
            if depth < 5 {
                walk(&subject, depth + 1, out);
            }
        }
    }
    let mut out = Vec::with_capacity(SUBS);
    walk("", 1, &mut out);
    out
}

fn filled(subjects: &[Vec<u8>]) -> Sublist<u32> {
    let mut sl = Sublist::new();
    for (v, subject) in (0..).zip(subjects) {
        sl.insert(subject, None, v).unwrap();
    }
    sl
}

fn bench(c: &mut Criterion) {
    let subjects = subjects();

    let mut group = c.benchmark_group("sublist");
    group.throughput(Throughput::Elements(SUBS as u64));
    group.bench_function("insert_10k", |b| {
        b.iter_with_large_drop(|| filled(&subjects))
    });

    group.throughput(Throughput::Elements(1));
    let mut sl = filled(&subjects);
    for (v, pattern) in [
        &b"cloud.>"[..],
        b"cloud.nats.component.>",
        b"cloud.*.*.nkeys.*",
    ]
    .into_iter()
    .enumerate()
    {
        sl.insert(pattern, None, 1_000_000 + v as u32).unwrap();
    }
    let hot = b"synadia.nats.jetstream.nkeys";
    sl.matches(hot);
    group.bench_function("match_cache_hit", |b| {
        b.iter(|| black_box(sl.matches(black_box(hot))))
    });

    // Cycling through 10k subjects with a cache of 1024 misses every time.
    let mut next = subjects.iter().cycle();
    group.bench_function("match_cache_miss", |b| {
        b.iter(|| black_box(sl.matches(next.next().unwrap())))
    });

    let mut wild = filled(&subjects);
    let mut v = 2_000_000;
    for a in TOKENS {
        for pattern in [
            format!("{a}.>"),
            format!("*.{a}.>"),
            format!("*.*.{a}"),
            format!("{a}.*.*.*"),
            format!("*.*.*.{a}.*"),
        ] {
            wild.insert(pattern.as_bytes(), None, v).unwrap();
            wild.insert(pattern.as_bytes(), Some(b"workers"), v + 1)
                .unwrap();
            v += 2;
        }
    }
    wild.insert(b">", None, v).unwrap();
    let mut next = subjects.iter().cycle();
    group.bench_function("match_wildcard_heavy_miss", |b| {
        b.iter(|| black_box(wild.matches(next.next().unwrap())))
    });
    // `has_interest` caches nothing, so on a fresh index it always misses.
    let mut fresh = filled(&subjects);
    let mut next = subjects.iter().cycle();
    group.bench_function("has_interest_miss", |b| {
        b.iter(|| black_box(fresh.has_interest(next.next().unwrap())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
