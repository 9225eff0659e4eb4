//! What the criterion benches share.

use bytes::Bytes;

/// The header block of the `HPUB` frames: a version line and one header.
pub const HEADERS: &[u8] = b"NATS/1.0\r\nBench: yes\r\n\r\n";

/// `n` publishes of `size` payload bytes to `bench.subject`, as one buffer.
pub fn pub_frames(n: usize, size: usize) -> Bytes {
    let payload = vec![b'x'; size];
    let mut buf = Vec::with_capacity(n * (size + 32));
    for _ in 0..n {
        buf.extend_from_slice(format!("PUB bench.subject {size}\r\n").as_bytes());
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(b"\r\n");
    }
    Bytes::from(buf)
}

/// `n` publishes with [`HEADERS`] and `size` payload bytes, as one buffer.
pub fn hpub_frames(n: usize, size: usize) -> Bytes {
    let payload = vec![b'x'; size];
    let (h, total) = (HEADERS.len(), HEADERS.len() + size);
    let mut buf = Vec::with_capacity(n * (total + 40));
    for _ in 0..n {
        buf.extend_from_slice(format!("HPUB bench.subject {h} {total}\r\n").as_bytes());
        buf.extend_from_slice(HEADERS);
        buf.extend_from_slice(&payload);
        buf.extend_from_slice(b"\r\n");
    }
    Bytes::from(buf)
}

/// `n` subscriptions, each with its own subject and sid, then their `UNSUB`s.
pub fn sub_unsub_frames(n: usize) -> Bytes {
    let mut buf = Vec::with_capacity(n * 48);
    for i in 0..n {
        buf.extend_from_slice(format!("SUB bench.{i}.* {i}\r\n").as_bytes());
    }
    for i in 0..n {
        buf.extend_from_slice(format!("UNSUB {i}\r\n").as_bytes());
    }
    Bytes::from(buf)
}
