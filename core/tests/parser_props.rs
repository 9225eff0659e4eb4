//! Property tests of the client-protocol parser: splitting never changes what is parsed,
//! what the server encodes parses back to the same message, and no input panics.

use bytes::Bytes;
use proptest::prelude::*;
use rnats_core::proto::{
    encode_hmsg_header, encode_msg_header, ClientOp, OutBuf, ParseError, Parser,
};

/// The ops parsed from `chunks` fed one after another, and the error that stopped it.
fn run_chunks(mut parser: Parser, chunks: &[&[u8]]) -> (Vec<ClientOp>, Option<ParseError>) {
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

fn parse_chunks(chunks: &[&[u8]]) -> Result<Vec<ClientOp>, ParseError> {
    match run_chunks(Parser::new(4096, 64 * 1024), chunks) {
        (ops, None) => Ok(ops),
        (_, Some(e)) => Err(e),
    }
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,8}"
}

fn subject() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 1..4).prop_map(|t| t.join("."))
}

/// One valid client operation, as bytes.
fn op() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (
            subject(),
            prop::option::of(subject()),
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(s, r, p)| {
                let mut b = match r {
                    Some(r) => format!("PUB {s} {r} {}\r\n", p.len()).into_bytes(),
                    None => format!("PUB {s} {}\r\n", p.len()).into_bytes(),
                };
                b.extend_from_slice(&p);
                b.extend_from_slice(b"\r\n");
                b
            }),
        (subject(), prop::collection::vec(any::<u8>(), 0..32)).prop_map(|(s, p)| {
            let hdr = b"NATS/1.0\r\nK: v\r\n\r\n";
            let mut b = format!("HPUB {s} {} {}\r\n", hdr.len(), hdr.len() + p.len()).into_bytes();
            b.extend_from_slice(hdr);
            b.extend_from_slice(&p);
            b.extend_from_slice(b"\r\n");
            b
        }),
        (subject(), prop::option::of(token()), 1u32..1000).prop_map(|(s, q, sid)| match q {
            Some(q) => format!("SUB {s} {q} {sid}\r\n").into_bytes(),
            None => format!("sub\t{s}  {sid}\n").into_bytes(),
        }),
        (1u32..1000, prop::option::of(0u32..100)).prop_map(|(sid, max)| match max {
            Some(m) => format!("UNSUB {sid} {m}\r\n").into_bytes(),
            None => format!("UNSUB {sid}\r\n").into_bytes(),
        }),
        Just(b"PING\r\n".to_vec()),
        Just(b"pong\r\n".to_vec()),
        Just(b"CONNECT {\"verbose\":false}\r\n".to_vec()),
    ]
}

proptest! {
    #[test]
    fn any_split_gives_the_same_ops(
        ops in prop::collection::vec(op(), 1..20),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let stream: Vec<u8> = ops.concat();
        let whole = parse_chunks(&[&stream]).unwrap();
        prop_assert_eq!(whole.len(), ops.len());
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        points.dedup();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(&stream[start..p]);
            start = p;
        }
        chunks.push(&stream[start..]);
        prop_assert_eq!(parse_chunks(&chunks).unwrap(), whole);
    }

    #[test]
    fn encoded_messages_parse_back(
        subj in subject(),
        reply in prop::option::of(subject()),
        payload in prop::collection::vec(any::<u8>(), 0..300),
        headers in any::<bool>(),
    ) {
        // The server's MSG/HMSG line has the same shape as a client's PUB/HPUB with a sid
        // in front of the sizes; rewrite the verb and drop the sid to read it back.
        let mut out = OutBuf::default();
        let hdr: &[u8] = b"NATS/1.0\r\n\r\n";
        let mut message = Vec::new();
        if headers {
            message.extend_from_slice(hdr);
        }
        message.extend_from_slice(&payload);
        if headers {
            encode_hmsg_header(&mut out, subj.as_bytes(), b"7", reply.as_deref().map(str::as_bytes), hdr.len(), message.len());
        } else {
            encode_msg_header(&mut out, subj.as_bytes(), b"7", reply.as_deref().map(str::as_bytes), message.len());
        }
        out.push_slice(&message);
        out.push_slice(b"\r\n");
        let mut chunks = Vec::new();
        out.drain_into(&mut chunks);
        let wire = String::from_utf8_lossy(&chunks.concat()).into_owned();
        let line_end = wire.find("\r\n").unwrap();
        let line = wire[..line_end].replacen(" 7 ", " ", 1).replacen("HMSG", "HPUB", 1).replacen("MSG", "PUB", 1);
        let mut bytes = line.into_bytes();
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&message);
        bytes.extend_from_slice(b"\r\n");
        let ops = parse_chunks(&[&bytes]).unwrap();
        let expected = if headers {
            ClientOp::HPub { subject: subj.into(), reply: reply.map(Into::into), header_len: hdr.len(), message: message.into() }
        } else {
            ClientOp::Pub { subject: subj.into(), reply: reply.map(Into::into), payload: message.into() }
        };
        prop_assert_eq!(ops, vec![expected]);
    }

    /// `PUB` lines near the plain form the parser reads in one pass (odd blanks and line
    /// ends, missing or extra arguments, long or bad sizes, payloads too long or cut
    /// short): read whole or a byte at a time, the same ops come out and the same error.
    #[test]
    fn pub_lines_near_the_plain_form_parse_alike(
        parts in prop::collection::vec(
            prop_oneof![
                6 => token(),
                3 => Just(" ".to_string()),
                1 => Just("PUB".to_string()),
                1 => Just("  ".to_string()),
                1 => Just("\t".to_string()),
                1 => Just("\r\n".to_string()),
                1 => Just("\n".to_string()),
                1 => Just("\r".to_string()),
                1 => Just("\x01".to_string()),
                1 => "[0-9]{1,11}",
            ],
            1..5,
        ),
        size in 0usize..12,
        // Mostly a payload of the size given, sometimes one byte off.
        off in prop_oneof![4 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)],
        end in prop_oneof![4 => Just("\r\n"), 1 => Just("\n"), 1 => Just(" \r\n")],
        max_line in 4usize..24,
    ) {
        let mut line = format!("PUB {}", parts.concat()).into_bytes();
        line.extend_from_slice(format!(" {size}{end}").as_bytes());
        let len = (size as i64 + i64::from(off)).max(0) as usize;
        line.extend((0..len).map(|i| b'a' + i as u8));
        line.extend_from_slice(b"\r\nPING\r\n");
        let run = |chunks: &[&[u8]]| {
            let (ops, e) = run_chunks(Parser::new(max_line, 8), chunks);
            (ops, e.map(|e| std::mem::discriminant(&e)))
        };
        let bytewise: Vec<&[u8]> = line.chunks(1).collect();
        prop_assert_eq!(run(&[&line]), run(&bytewise));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), size in 1usize..32) {
        let chunks: Vec<&[u8]> = data.chunks(size).collect();
        let _ = parse_chunks(&chunks);
    }
}
