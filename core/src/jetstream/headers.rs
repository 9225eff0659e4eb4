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

pub const MSG_ID: &str = "Nats-Msg-Id";
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
}
