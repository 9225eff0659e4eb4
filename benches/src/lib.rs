//! What the criterion benches share.

use bytes::Bytes;

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
