//! The client-protocol parser on the hot path of every publish: a buffer of 1000 `PUB`s
//! parsed as one chunk (the common case, payloads sliced without copying) and fed in
//! 100-byte chunks (control lines and payloads split across reads, gathered into the
//! parser's own buffers).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rnats_core::proto::{ClientOp, Parser};

const OPS: usize = 1000;
const MAX_CONTROL_LINE: usize = 4096;
const MAX_PAYLOAD: u64 = 1024 * 1024;

fn pubs(size: usize) -> Bytes {
    rnats_bench::pub_frames(OPS, size)
}

/// Parses every chunk in turn; the number of `PUB`s seen.
fn parse(chunks: &[Bytes]) -> usize {
    let mut parser = Parser::new(MAX_CONTROL_LINE, MAX_PAYLOAD);
    let mut n = 0;
    for chunk in chunks {
        let mut data = chunk.clone();
        while let Some(op) = parser.next(&mut data).expect("valid input") {
            if let ClientOp::Pub { payload, .. } = op {
                black_box(payload);
                n += 1;
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    for (name, size) in [("16B", 16), ("1KB", 1024)] {
        let whole = pubs(size);
        let split: Vec<Bytes> = whole.chunks(100).map(|c| whole.slice_ref(c)).collect();
        assert_eq!(parse(std::slice::from_ref(&whole)), OPS);
        assert_eq!(parse(&split), OPS);

        group.throughput(Throughput::Bytes(whole.len() as u64));
        let one = [whole.clone()];
        group.bench_function(format!("pub_{name}_x1000_whole"), |b| {
            b.iter(|| black_box(parse(black_box(&one))))
        });
        group.bench_function(format!("pub_{name}_x1000_chunks100"), |b| {
            b.iter(|| black_box(parse(black_box(&split))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
