use proptest::prelude::*;

use super::*;

fn stream() -> ArchivedStream {
    let config: StreamConfig = serde_json::from_str(r#"{"name":"S","subjects":["s.>"]}"#).unwrap();
    ArchivedStream { config, created: 7 }
}

fn msg(seq: u64, subject: &str, headers: &[u8], data: &[u8]) -> StoredMsg {
    StoredMsg {
        seq,
        subject: Bytes::copy_from_slice(subject.as_bytes()),
        headers: Bytes::copy_from_slice(headers),
        data: Bytes::copy_from_slice(data),
        time: seq * 1000,
    }
}

fn archive(msgs: &[StoredMsg], consumers: &[ArchivedConsumer], last_seq: u64) -> Bytes {
    let mut out = BytesMut::new();
    encode_header(&mut out);
    encode_stream(&mut out, &stream());
    for m in msgs {
        encode_msg(&mut out, m);
    }
    for c in consumers {
        encode_consumer(&mut out, c);
    }
    let end = End {
        last_seq,
        last_time: 99,
        msgs: msgs.len() as u64,
        consumers: consumers.len() as u64,
    };
    encode_end(&mut out, &end);
    out.freeze()
}

/// Reads `bytes` in chunks of `chunk` bytes: the items, or the first error.
fn read(bytes: &[u8], chunk: usize) -> Result<Vec<Item>, String> {
    let mut reader = Reader::default();
    let mut items = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        reader.feed(part, |item| {
            items.push(item);
            Ok(())
        })?;
    }
    reader.finish()?;
    Ok(items)
}

fn consumer() -> ArchivedConsumer {
    ArchivedConsumer {
        name: "C".into(),
        config: serde_json::from_str(r#"{"durable_name":"C","ack_policy":"explicit"}"#).unwrap(),
        created: 3,
        state: ConsumerState {
            next_seq: 3,
            pending: vec![(2, 2)],
            ..ConsumerState::default()
        },
    }
}

#[test]
fn round_trip_keeps_every_field_and_gap() {
    let msgs = [
        msg(2, "s.a", b"NATS/1.0\r\nA: b\r\n\r\n", b"one"),
        msg(5, "s.b", b"", b""),
    ];
    let bytes = archive(&msgs, &[consumer()], 9);
    for chunk in [1, 3, 64, bytes.len()] {
        let items = read(&bytes, chunk).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items[0], Item::Stream(Box::new(stream())));
        assert_eq!(items[1], Item::Msg(msgs[0].clone()));
        assert_eq!(items[2], Item::Msg(msgs[1].clone()));
        assert_eq!(items[3], Item::Consumer(Box::new(consumer())));
        let end = End {
            last_seq: 9,
            last_time: 99,
            msgs: 2,
            consumers: 1,
        };
        assert_eq!(items[4], Item::End(end));
    }
}

#[test]
fn truncated_archives_are_refused_at_every_length() {
    let bytes = archive(&[msg(1, "s.a", b"", b"data")], &[consumer()], 1);
    assert_eq!(read(&[], 1).unwrap_err(), "archive is empty");
    for len in 1..bytes.len() {
        let err = read(&bytes[..len], 7).unwrap_err();
        assert!(err.contains("truncated"), "{len}: {err}");
    }
}

#[test]
fn damage_is_refused() {
    let bytes = archive(&[msg(1, "s.a", b"", b"data")], &[], 1);
    let mut foreign = bytes.to_vec();
    foreign[0] = b'X';
    assert_eq!(
        read(&foreign, 64).unwrap_err(),
        "not an rnats stream archive"
    );
    let mut newer = bytes.to_vec();
    newer[8] = 2;
    assert_eq!(
        read(&newer, 64).unwrap_err(),
        "unsupported archive version 2"
    );
    // A flipped bit in a message's data.
    let mut flipped = bytes.to_vec();
    let at = flipped.windows(4).position(|w| w == b"data").unwrap();
    flipped[at] ^= 1;
    let err = read(&flipped, 64).unwrap_err();
    assert!(err.contains("checksum mismatch"), "{err}");
    // A huge length is refused at once, not waited for.
    let mut reader = Reader::default();
    let mut huge = bytes[..HEADER_LEN].to_vec();
    huge.extend_from_slice(&[STREAM, 0xff, 0xff, 0xff, 0xff]);
    let err = reader.feed(&huge, |_| Ok(())).unwrap_err();
    assert!(err.contains("record of 4294967295 bytes"), "{err}");
    // Trailing bytes after the end.
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        read(&longer, 64).unwrap_err(),
        "archive has data after its end"
    );
}

#[test]
fn records_out_of_order_are_refused() {
    // Sequences must increase, and the End record must count what came.
    let err = read(
        &archive(&[msg(3, "s", b"", b""), msg(3, "s", b"", b"")], &[], 3),
        64,
    );
    assert!(err.unwrap_err().contains("message 3 after message 3"));
    let mut out = BytesMut::new();
    encode_header(&mut out);
    encode_stream(&mut out, &stream());
    encode_end(
        &mut out,
        &End {
            msgs: 1,
            ..End::default()
        },
    );
    let err = read(&out, 64).unwrap_err();
    assert!(err.contains("counts 1 messages"), "{err}");
    // A message before the stream record.
    let mut out = BytesMut::new();
    encode_header(&mut out);
    encode_msg(&mut out, &msg(1, "s", b"", b""));
    let err = read(&out, 64).unwrap_err();
    assert!(err.contains("record kind 2 unexpected"), "{err}");
}

proptest! {
    #[test]
    fn any_messages_come_back_in_any_chunking(
        parts in proptest::collection::vec(
            (1u64..5, "[a-z]{1,4}(\\.[a-z]{1,4}){0,2}", proptest::collection::vec(any::<u8>(), 0..40)), 0..20),
        chunk in 1usize..200,
    ) {
        let mut seq = 0;
        let msgs: Vec<StoredMsg> = parts
            .iter()
            .map(|(gap, subject, data)| {
                seq += gap;
                msg(seq, subject, b"", data)
            })
            .collect();
        let bytes = archive(&msgs, &[], seq);
        let items = read(&bytes, chunk).unwrap();
        let back: Vec<StoredMsg> = items
            .into_iter()
            .filter_map(|i| match i { Item::Msg(m) => Some(m), _ => None })
            .collect();
        prop_assert_eq!(back, msgs);
    }

    /// Whatever the bytes, reading them ends in items or an error, never a panic; a
    /// damaged archive is never read as complete unless the damage left it valid.
    #[test]
    fn damaged_archives_never_panic(at in any::<prop::sample::Index>(), xor in 1u8..=255,
                                   cut in any::<prop::sample::Index>(), chunk in 1usize..50) {
        let bytes = archive(&[msg(1, "s.a", b"", b"x"), msg(4, "s.b", b"", b"yy")], &[consumer()], 4);
        let mut damaged = bytes.to_vec();
        damaged[at.index(bytes.len())] ^= xor;
        prop_assert!(read(&damaged, chunk).is_err());
        let cut = cut.index(bytes.len());
        prop_assert!(read(&bytes[..cut], chunk).is_err());
    }
}
