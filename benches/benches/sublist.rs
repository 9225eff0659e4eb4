//! The subscription index on the hot path of every publish: inserting, removing, and
//! matching with a cache hit, a cache miss, and through wildcard patterns, with 10k, 100k
//! and 1M subscriptions.
//!
//! Subjects follow the reference's `sublist_test.go` benchmarks: tokens from one small
//! vocabulary (here three of them, then a number, so that there are enough distinct
//! subjects for a million subscriptions). The "mixed" index has every tenth subscription
//! a wildcard pattern.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
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

/// The `i`th subject: three tokens chosen by `i`'s base-8 digits, then a number.
fn subject(i: usize) -> Vec<u8> {
    let t = |k: usize| TOKENS[(i >> (3 * k)) % 8];
    format!("{}.{}.{}.{}", t(0), t(1), t(2), i >> 9).into_bytes()
}

/// The `i`th subscription of the mixed index: every tenth a wildcard pattern.
fn pattern(i: usize) -> Vec<u8> {
    let s = String::from_utf8(subject(i)).expect("ascii");
    match i % 20 {
        0 => s.replacen(TOKENS[(i >> 3) % 8], "*", 1).into_bytes(),
        10 => format!("{}.>", &s[..s.rfind('.').expect("dots")]).into_bytes(),
        _ => s.into_bytes(),
    }
}

fn filled(subjects: &[Vec<u8>]) -> Sublist<u32> {
    let mut sl = Sublist::new();
    for (v, subject) in (0..).zip(subjects) {
        sl.insert(subject, None, v).unwrap();
    }
    sl
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sublist");
    for n in [10_000, 100_000, 1_000_000] {
        let subjects: Vec<Vec<u8>> = (0..n).map(subject).collect();
        let label = match n {
            1_000_000 => "1M".to_string(),
            _ => format!("{}k", n / 1000),
        };
        if n >= 100_000 {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("insert_{label}"), |b| {
            b.iter_with_large_drop(|| filled(&subjects))
        });
        group.bench_function(format!("remove_{label}"), |b| {
            b.iter_batched(
                || filled(&subjects),
                |mut sl| {
                    for (v, subject) in (0..).zip(&subjects) {
                        sl.remove(subject, None, v);
                    }
                    sl
                },
                BatchSize::LargeInput,
            )
        });

        group.throughput(Throughput::Elements(1));
        let mut sl = filled(&subjects);
        let hot = &subjects[n / 2];
        sl.matches(hot);
        group.bench_function(format!("match_cache_hit_{label}"), |b| {
            b.iter(|| black_box(sl.matches(black_box(hot))))
        });
        // Cycling through all the subjects with a cache of 1024 misses every time.
        let mut next = subjects.iter().cycle();
        group.bench_function(format!("match_cache_miss_{label}"), |b| {
            b.iter(|| black_box(sl.matches(next.next().unwrap())))
        });
        let mut mixed = Sublist::new();
        for i in 0..n {
            mixed.insert(&pattern(i), None, i as u32).unwrap();
        }
        let mut next = subjects.iter().cycle();
        group.bench_function(format!("match_mixed_miss_{label}"), |b| {
            b.iter(|| black_box(mixed.matches(next.next().unwrap())))
        });
    }
    group.sample_size(100);

    // Many wildcard patterns over a 10k literal index, each lookup a cache miss.
    let subjects: Vec<Vec<u8>> = (0..10_000).map(subject).collect();
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
    group.bench_function("match_wildcard_heavy_miss_10k", |b| {
        b.iter(|| black_box(wild.matches(next.next().unwrap())))
    });
    // `has_interest` caches nothing, so on a fresh index it always misses.
    let mut fresh = filled(&subjects);
    let mut next = subjects.iter().cycle();
    group.bench_function("has_interest_miss_10k", |b| {
        b.iter(|| black_box(fresh.has_interest(next.next().unwrap())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
