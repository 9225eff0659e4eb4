//! Bytes into the stream archive reader that restores use (`jetstream/archive.rs`), in
//! chunks of a size the input picks: either arbitrary bytes, or a real archive of a few
//! messages then damaged (bits flipped, cut short, garbage appended), so the fuzzer gets
//! past the checksums. Refusal is fine; panics and oversized allocations are not. Whatever
//! is read whole re-encodes to an archive that reads back the same.
#![no_main]

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rnats_core::jetstream::archive::{self, ArchivedStream, End, Item, Reader};
use rnats_core::jetstream::config::StreamConfig;
use rnats_core::jetstream::store::StoredMsg;

#[derive(Arbitrary, Debug)]
enum Input {
    Raw(Vec<u8>),
    Built {
        msgs: Vec<(u8, Vec<u8>, Vec<u8>)>,
        damage: Vec<(u16, u8)>,
        cut: Option<u16>,
        tail: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Case {
    chunk: u8,
    input: Input,
}

/// Reads `bytes` in chunks of `chunk`: the items if the archive is whole.
fn read(bytes: &[u8], chunk: usize) -> Option<Vec<Item>> {
    let mut reader = Reader::default();
    let mut items = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        let fed = reader.feed(part, |item| {
            items.push(item);
            Ok(())
        });
        fed.ok()?;
    }
    reader.finish().ok()?;
    Some(items)
}

fn encode(items: &[Item]) -> Bytes {
    let mut out = BytesMut::new();
    archive::encode_header(&mut out);
    for item in items {
        match item {
            Item::Stream(s) => archive::encode_stream(&mut out, s),
            Item::Msg(m) => archive::encode_msg(&mut out, m),
            Item::Consumer(c) => archive::encode_consumer(&mut out, c),
            Item::End(e) => archive::encode_end(&mut out, e),
        }
    }
    out.freeze()
}

fn built(msgs: &[(u8, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let config = StreamConfig {
        name: "S".into(),
        ..StreamConfig::default()
    };
    let mut items = vec![Item::Stream(Box::new(ArchivedStream { config, created: 1 }))];
    let mut seq = 0;
    for (gap, headers, data) in msgs {
        seq += u64::from(*gap) + 1;
        items.push(Item::Msg(StoredMsg {
            seq,
            subject: Bytes::from_static(b"s"),
            headers: Bytes::copy_from_slice(headers),
            data: Bytes::copy_from_slice(data),
            time: seq,
        }));
    }
    let end = End { last_seq: seq, last_time: seq, msgs: msgs.len() as u64, consumers: 0 };
    items.push(Item::End(end));
    encode(&items).to_vec()
}

fuzz_target!(|case: Case| {
    let bytes = match case.input {
        Input::Raw(bytes) => bytes,
        Input::Built { msgs, damage, cut, tail } => {
            let mut bytes = built(&msgs);
            for (at, xor) in damage {
                if !bytes.is_empty() {
                    let at = usize::from(at) % bytes.len();
                    bytes[at] ^= xor;
                }
            }
            if let Some(cut) = cut {
                bytes.truncate(usize::from(cut));
            }
            bytes.extend_from_slice(&tail);
            bytes
        }
    };
    if let Some(items) = read(&bytes, usize::from(case.chunk)) {
        let again = read(&encode(&items), 7).expect("a re-encoded archive reads back");
        assert_eq!(again, items);
    }
});
