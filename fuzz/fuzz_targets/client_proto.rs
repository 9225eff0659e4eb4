//! Raw bytes into the client-protocol parser, fed in the chunks the input chooses: it must
//! never panic, never hold more than its limits, and give the same ops however the bytes
//! are split.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rnats_core::proto::{ClientOp, ParseError, Parser};

const MAX_LINE: usize = 256;
const MAX_PAYLOAD: u64 = 1024;

fn run(chunks: &[&[u8]]) -> (Vec<ClientOp>, Option<ParseError>) {
    let mut parser = Parser::new(MAX_LINE, MAX_PAYLOAD);
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

fuzz_target!(|input: &[u8]| {
    // The first byte picks a chunk size, so splits at every boundary get explored.
    let Some((&size, data)) = input.split_first() else {
        return;
    };
    let size = usize::from(size % 16) + 1;
    let whole = run(&[data]);
    let chunks: Vec<&[u8]> = data.chunks(size).collect();
    let split = run(&chunks);
    assert_eq!(whole.0, split.0, "ops differ when split into {size}-byte chunks");
    // Where both fail, the error class is the same; a split may only fail earlier on an
    // over-long line (which the whole input sees as one line).
    if let (Some(a), Some(b)) = (&whole.1, &split.1) {
        assert_eq!(
            std::mem::discriminant(a),
            std::mem::discriminant(b),
            "errors differ: {a:?} vs {b:?}"
        );
    }
    for op in &whole.0 {
        if let ClientOp::Pub { payload, .. } = op {
            assert!(payload.len() as u64 <= MAX_PAYLOAD);
        }
    }
});
