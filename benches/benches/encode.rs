//! Writing messages out: one message's `MSG`/`HMSG` line laid out once and written, with
//! its body, for 1000 subscriptions (sids cycling over four) into a connection's buffer,
//! which is then drained as the shell drains it.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rnats_bench::HEADERS;
use rnats_core::proto::{Body, MsgHead, OutBuf};

const DELIVERIES: usize = 1000;
const SIDS: [&[u8]; 4] = [b"1", b"22", b"333", b"4444"];

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(DELIVERIES as u64));
    let cases: [(&str, Option<&[u8]>, bool, usize); 4] = [
        ("msg_128B", None, false, 128),
        ("msg_reply_128B", Some(b"_INBOX.f7hYk2L9sQ.1"), false, 128),
        ("hmsg_128B", None, true, 128),
        ("msg_1KiB", None, false, 1024),
    ];
    for (name, reply, headers, size) in cases {
        let mut message = if headers {
            HEADERS.to_vec()
        } else {
            Vec::new()
        };
        message.resize(message.len() + size, b'x');
        let message = Bytes::from(message);
        let shared = Body::worth_sharing(message.len()).then(|| message.clone());
        let header_len = headers.then_some(HEADERS.len());
        let mut out = OutBuf::default();
        let mut drained = Vec::with_capacity(DELIVERIES);
        group.bench_function(format!("{name}_x1000"), |b| {
            b.iter(|| {
                let body = Body::new(&message, shared.as_ref());
                let head = MsgHead::new(b"bench.subject", reply, header_len, message.len());
                for sid in SIDS.iter().cycle().take(DELIVERIES) {
                    black_box(head.write(&mut out, sid, true, body));
                }
                out.drain_into(&mut drained);
                black_box(&drained);
                drained.clear();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
