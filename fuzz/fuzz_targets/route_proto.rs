//! Raw bytes as a peer server would send them over a route: the route parser must give the
//! same ops however the bytes are split, and a clustered node fed them (after a valid
//! handshake or not) must never panic.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rnats_core::node::{Node, Output};
use rnats_core::options::Options;
use rnats_core::route::{RouteOp, RouteParseError, RouteParser};
use rnats_core::time::Instant;

const MAX_LINE: usize = 256;
const MAX_PAYLOAD: u64 = 1024;

/// A peer's handshake: what the dialing side sends first.
const HANDSHAKE: &[u8] = b"CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"NPEER\",\"cluster\":\"c1\",\"lnoc\":true}\r\nINFO {\"server_id\":\"NPEER\",\"server_name\":\"peer\",\"version\":\"2.9.10\",\"proto\":1,\"host\":\"127.0.0.1\",\"port\":6223,\"headers\":true,\"max_payload\":1048576,\"cluster\":\"c1\",\"lnoc\":true}\r\n";

fn parse(chunks: &[&[u8]]) -> (Vec<RouteOp>, Option<RouteParseError>) {
    let mut parser = RouteParser::new(MAX_LINE, MAX_PAYLOAD);
    let mut ops = Vec::new();
    for chunk in chunks {
        let mut data = Bytes::copy_from_slice(chunk);
        loop {
            match parser.next(&mut data) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => return (ops, Some(e)),
            }
        }
    }
    (ops, None)
}

fn node_session(data: &[u8], handshake: bool, size: usize) {
    let mut opts = Options::default();
    opts.cluster.port = 6222;
    opts.cluster.name = Some("c1".into());
    let mut node = Node::new(opts, 4222, 1);
    let now = Instant::ZERO;
    node.start_cluster(now, 6222, vec!["127.0.0.1:4222".into()]);
    let route = node.accept_route(now, "127.0.0.1:5000".parse().unwrap());
    let client = node.accept(now, "127.0.0.1:5001".parse().unwrap());
    node.receive(
        now,
        client,
        Bytes::from_static(b"CONNECT {\"verbose\":false}\r\nSUB > 1\r\nSUB a.* q 2\r\n"),
    );
    if handshake {
        node.receive(now, route, Bytes::from_static(HANDSHAKE));
    }
    for chunk in data.chunks(size) {
        node.receive(now, route, Bytes::copy_from_slice(chunk));
        while let Some(out) = node.poll_output() {
            if let Output::Transmit(id) = out {
                let mut bufs = Vec::new();
                node.take_outbound(id, &mut bufs);
                let n = bufs.iter().map(|b| b.len()).sum();
                node.written(id, n);
            }
        }
    }
    node.shutdown();
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    let size = usize::from(first % 16) + 1;
    let whole = parse(&[data]);
    let chunks: Vec<&[u8]> = data.chunks(size).collect();
    let split = parse(&chunks);
    assert_eq!(whole.0, split.0, "ops differ when split into {size}-byte chunks");
    for op in &whole.0 {
        if let RouteOp::Msg(m) = op {
            assert!(m.payload.len() as u64 <= MAX_PAYLOAD);
        }
    }
    node_session(data, first & 0x80 != 0, size);
});
