//! The whole publish path of the core: bytes of 1000 `PUB`s into a node, routed to no,
//! one or four subscribers, and the subscribers' bytes taken as a shell takes them. What
//! the parser bench measures plus lookup, matching, encoding and buffering.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rnats_core::node::{Node, Output};
use rnats_core::options::Options;
use rnats_core::time::Instant;

const OPS: usize = 1000;

fn pubs(size: usize) -> Bytes {
    rnats_bench::pub_frames(OPS, size)
}

/// A node with a publisher and `subscribers` clients subscribed to the bench subject.
fn setup(subscribers: usize) -> (Node, u64) {
    let mut node = Node::new(Options::default(), 4222, 7);
    let now = Instant::ZERO;
    let connect = Bytes::from_static(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    let publisher = node.accept(now, "127.0.0.1:1".parse().unwrap());
    node.receive(now, publisher, connect.clone());
    for i in 0..subscribers {
        let sub = node.accept(now, "127.0.0.1:2".parse().unwrap());
        node.receive(now, sub, connect.clone());
        node.receive(now, sub, Bytes::from(format!("SUB bench.subject {i}\r\n")));
    }
    (node, publisher)
}

/// Feeds the batch and drains every output as a shell would.
fn run(node: &mut Node, publisher: u64, batch: &Bytes, out: &mut Vec<Bytes>) {
    node.receive(Instant::ZERO, publisher, batch.clone());
    while let Some(o) = node.poll_output() {
        if let Output::Transmit(id) = o {
            node.take_outbound(id, out);
            let n = out.iter().map(Bytes::len).sum();
            black_box(&out);
            out.clear();
            node.written(id, n);
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("node");
    group.throughput(Throughput::Elements(OPS as u64));
    for (size, subscribers) in [(16, 0), (16, 1), (128, 1), (128, 4), (1024, 1)] {
        let batch = pubs(size);
        let (mut node, publisher) = setup(subscribers);
        let mut out = Vec::with_capacity(1024);
        group.bench_function(format!("pub_{size}B_to_{subscribers}_x1000"), |b| {
            b.iter(|| run(&mut node, publisher, &batch, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
