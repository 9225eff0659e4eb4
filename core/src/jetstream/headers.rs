//! Reading the NATS header block of a message (`NATS/1.0\r\nKey: value\r\n...\r\n\r\n`) the
//! way the reference's JetStream does: keys compared exactly, the value trimmed.

/// The value of `key` in `headers`, if present (the first one).
pub fn header<'a>(headers: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut lines = headers.split(|&b| b == b'\n');
    lines.next()?; // the status line
    lines.find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        (&line[..colon] == key.as_bytes()).then(|| line[colon + 1..].trim_ascii())
    })
}

/// `headers` with `extra` lines added at the end (a fresh block when `headers` is empty).
pub fn with_extra(headers: &[u8], extra: &[(&str, String)]) -> bytes::Bytes {
    let mut out = match headers.strip_suffix(b"\r\n") {
        Some(lines) if !headers.is_empty() => lines.to_vec(),
        _ => b"NATS/1.0\r\n".to_vec(),
    };
    for (key, value) in extra {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    bytes::Bytes::from(out)
}

pub const MSG_ID: &str = "Nats-Msg-Id";
pub const TTL: &str = "Nats-TTL";

/// A message's own time to live (`Nats-TTL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ttl {
    /// Gone this many nanoseconds after it was stored.
    After(u64),
    /// Never expires, not even by the stream's `max_age`.
    Never,
}

/// The `Nats-TTL` of a header block: `None` without one, `Some(Err(()))` for a value that
/// is no TTL (a duration such as `30s` or `1h`, whole seconds, `never` or `-1`; at least
/// a second).
pub fn ttl(headers: &[u8]) -> Option<Result<Ttl, ()>> {
    let value = header(headers, TTL)?;
    let text = std::str::from_utf8(value).map_err(|_| ());
    Some(text.and_then(|t| match t {
        "never" | "-1" => Ok(Ttl::Never),
        _ => {
            let d = match t.parse::<u64>() {
                Ok(secs) => std::time::Duration::from_secs(secs),
                Err(_) => crate::options::parse_duration(t).ok_or(())?,
            };
            if d < std::time::Duration::from_secs(1) {
                return Err(());
            }
            Ok(Ttl::After(d.as_nanos().min(u64::MAX as u128) as u64))
        }
    }))
}
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
pub const ROLLUP: &str = "Nats-Rollup";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values() {
        let h = b"NATS/1.0\r\nNats-Msg-Id: abc \r\nX: 1\r\nNats-Msg-Id: second\r\n\r\n";
        assert_eq!(header(h, MSG_ID), Some(&b"abc"[..]));
        assert_eq!(header(h, "X"), Some(&b"1"[..]));
        assert_eq!(header(h, "nats-msg-id"), None);
        assert_eq!(header(b"", MSG_ID), None);
        assert_eq!(header(b"NATS/1.0 503\r\n\r\n", MSG_ID), None);
    }

    #[test]
    fn ttls() {
        let h = |v: &str| format!("NATS/1.0\r\nNats-TTL: {v}\r\n\r\n");
        assert_eq!(ttl(h("2s").as_bytes()), Some(Ok(Ttl::After(2_000_000_000))));
        assert_eq!(
            ttl(h("60").as_bytes()),
            Some(Ok(Ttl::After(60_000_000_000)))
        );
        assert_eq!(ttl(h("never").as_bytes()), Some(Ok(Ttl::Never)));
        assert_eq!(ttl(h("500ms").as_bytes()), Some(Err(())));
        assert_eq!(ttl(h("soon").as_bytes()), Some(Err(())));
        assert_eq!(ttl(b"NATS/1.0\r\nX: 1\r\n\r\n"), None);
    }

    #[test]
    fn adds_lines() {
        let extra = [("Nats-Sequence", "7".to_string())];
        assert_eq!(
            &with_extra(b"", &extra)[..],
            b"NATS/1.0\r\nNats-Sequence: 7\r\n\r\n"
        );
        assert_eq!(
            &with_extra(b"NATS/1.0\r\nX: 1\r\n\r\n", &extra)[..],
            b"NATS/1.0\r\nX: 1\r\nNats-Sequence: 7\r\n\r\n"
        );
    }
}
