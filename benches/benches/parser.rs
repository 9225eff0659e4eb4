//! The client-protocol parser on the hot path of every publish: buffers of 1000 `PUB`s
//! (16 B, 128 B, 1 KiB and 64 KiB payloads) and `HPUB`s, and a churn of 1000 `SUB`s and
//! their `UNSUB`s, each parsed as one chunk (the common case, payloads sliced without
//! copying) and fed in small chunks (control lines and payloads split across reads,
//! gathered into the parser's own buffers).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rnats_bench::{hpub_frames, pub_frames, sub_unsub_frames};
use rnats_core::proto::{ClientOp, Parser};

const OPS: usize = 1000;
const MAX_CONTROL_LINE: usize = 4096;
const MAX_PAYLOAD: u64 = 1024 * 1024;

/// Parses every chunk in turn; the number of ops seen.
fn parse(chunks: &[Bytes]) -> usize {
    let mut parser = Parser::new(MAX_CONTROL_LINE, MAX_PAYLOAD);
    let mut n = 0;
    for chunk in chunks {
        let mut data = chunk.clone();
        while let Some(op) = parser.next(&mut data).expect("valid input") {
            if let ClientOp::Pub { payload, .. } = &op {
                black_box(payload);
            }
            black_box(op);
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    let streams = [
        ("pub_16B", pub_frames(OPS, 16), OPS),
        ("pub_128B", pub_frames(OPS, 128), OPS),
        ("pub_1KiB", pub_frames(OPS, 1024), OPS),
        ("pub_64KiB", pub_frames(OPS, 64 * 1024), OPS),
        ("hpub_128B", hpub_frames(OPS, 128), OPS),
        ("sub_unsub", sub_unsub_frames(OPS), 2 * OPS),
    ];
    for (name, whole, ops) in streams {
        // Small pieces for small frames; reads of 16 KiB for the 64 KiB payloads.
        let piece = if whole.len() > 1 << 24 {
            16 * 1024
        } else {
            100
        };
        let split: Vec<Bytes> = whole.chunks(piece).map(|c| whole.slice_ref(c)).collect();
        assert_eq!(parse(std::slice::from_ref(&whole)), ops);
        assert_eq!(parse(&split), ops);

        group.throughput(Throughput::Bytes(whole.len() as u64));
        let one = [whole.clone()];
        group.bench_function(format!("{name}_x1000_whole"), |b| {
            b.iter(|| black_box(parse(black_box(&one))))
        });
        group.bench_function(format!("{name}_x1000_chunks{piece}"), |b| {
            b.iter(|| black_box(parse(black_box(&split))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
