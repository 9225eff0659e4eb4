//! A message's `MSG`/`HMSG` line, prepared once for all the subscriptions it goes to.
//!
//! Every delivery of a message writes the same line but for the subscription's sid:
//! `MSG <subject> <sid> [reply] <size>\r\n`. Written piece by piece that is seven small
//! copies and a number to format per delivery, which cost more than copying a small payload
//! (callgrind on a 1→4 fan-out). Here the part before the sid and the parts after it are
//! laid out once, on the stack, and each delivery copies three pieces.

use super::encode::{encode_hmsg_header, encode_msg_header, format_num, Body, OutBuf};

/// Room for the prepared pieces; a message whose subject and reply do not fit is written
/// piece by piece instead.
const ROOM: usize = 320;

/// The line of one message, ready to be completed with each subscription's sid.
pub struct MsgHead<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The header block's length, for a message with headers.
    pub header_len: Option<usize>,
    /// Headers and payload.
    pub total: usize,
    /// `HMSG <subject> ` (from byte 1 on: `MSG <subject> `), then the tails.
    buf: [u8; ROOM],
    /// End of the prefix in `buf`.
    prefix: usize,
    /// What follows the sid: the plain `MSG` tail, and for a message with headers the `HMSG`
    /// tail and the tail for clients that take no headers (payload size only).
    plain: (usize, usize),
    hmsg: (usize, usize),
    /// Whether `buf` holds the pieces (else everything is written piece by piece).
    prepared: bool,
}

impl<'a> MsgHead<'a> {
    pub fn new(
        subject: &'a [u8],
        reply: Option<&'a [u8]>,
        header_len: Option<usize>,
        total: usize,
    ) -> MsgHead<'a> {
        let mut head = MsgHead {
            subject,
            reply,
            header_len,
            total,
            buf: [0; ROOM],
            prefix: 0,
            plain: (0, 0),
            hmsg: (0, 0),
            prepared: false,
        };
        let reply_len = reply.map_or(0, |r| r.len() + 1);
        // Prefix, two tails of at most a reply and two 20-digit numbers each.
        if subject.len() + 2 * reply_len + 6 + 2 * 46 <= ROOM {
            head.prepare();
        }
        head
    }

    fn prepare(&mut self) {
        let mut w = Writer {
            buf: &mut self.buf,
            at: 0,
        };
        w.put(b"HMSG ");
        w.put(self.subject);
        w.put(b" ");
        self.prefix = w.at;
        let (h, total) = (self.header_len.unwrap_or(0), self.total);
        self.plain = w.tail(self.reply, &[total - h]);
        if self.header_len.is_some() {
            self.hmsg = w.tail(self.reply, &[h, total]);
        }
        self.prepared = true;
    }

    /// Writes the message for a subscription with `sid` into `out`: the line, the body
    /// (without its headers for a client that takes none) and the closing `\r\n`. The
    /// number of body bytes written.
    pub fn write(
        &self,
        out: &mut OutBuf,
        sid: &[u8],
        takes_headers: bool,
        body: Body<'_>,
    ) -> usize {
        let with_headers = self.header_len.is_some() && takes_headers;
        let from = if with_headers {
            0
        } else {
            self.header_len.unwrap_or(0)
        };
        if self.prepared {
            let prefix = if with_headers { 0 } else { 1 };
            let (a, b) = if with_headers { self.hmsg } else { self.plain };
            out.push_slice(&self.buf[prefix..self.prefix]);
            out.push_slice(sid);
            out.push_slice(&self.buf[a..b]);
        } else if with_headers {
            let h = self.header_len.unwrap_or(0);
            encode_hmsg_header(out, self.subject, sid, self.reply, h, self.total);
        } else {
            encode_msg_header(out, self.subject, sid, self.reply, self.total - from);
        }
        out.push_body(body, from);
        out.push_slice(b"\r\n");
        self.total - from
    }
}

/// Lays pieces out one after the other.
struct Writer<'b> {
    buf: &'b mut [u8; ROOM],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    /// ` [reply ]<sizes...>\r\n`, what follows the sid; where it lies.
    fn tail(&mut self, reply: Option<&[u8]>, sizes: &[usize]) -> (usize, usize) {
        let start = self.at;
        self.put(b" ");
        if let Some(r) = reply {
            self.put(r);
            self.put(b" ");
        }
        for (i, &n) in sizes.iter().enumerate() {
            if i > 0 {
                self.put(b" ");
            }
            let mut digits = [0u8; 20];
            self.put(format_num(n, &mut digits));
        }
        self.put(b"\r\n");
        (start, self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(head: &MsgHead<'_>, sid: &[u8], takes_headers: bool, body: &[u8]) -> Vec<u8> {
        let mut out = OutBuf::default();
        head.write(&mut out, sid, takes_headers, Body::new(body, None));
        let mut chunks = Vec::new();
        out.drain_into(&mut chunks);
        chunks.concat()
    }

    /// What the piece-by-piece encoders write, the reference for the prepared pieces.
    fn by_pieces(head: &MsgHead<'_>, sid: &[u8], takes_headers: bool, body: &[u8]) -> Vec<u8> {
        let mut out = OutBuf::default();
        let h = head.header_len;
        match h {
            Some(h) if takes_headers => {
                encode_hmsg_header(&mut out, head.subject, sid, head.reply, h, head.total);
                out.push_slice(body);
            }
            Some(h) => {
                encode_msg_header(&mut out, head.subject, sid, head.reply, head.total - h);
                out.push_slice(&body[h..]);
            }
            None => {
                encode_msg_header(&mut out, head.subject, sid, head.reply, head.total);
                out.push_slice(body);
            }
        }
        out.push_slice(b"\r\n");
        let mut chunks = Vec::new();
        out.drain_into(&mut chunks);
        chunks.concat()
    }

    #[test]
    fn the_same_bytes_as_piece_by_piece() {
        let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
        let with_headers = [&hdr[..], b"payload"].concat();
        let long = "s.".repeat(200);
        // Subject, reply, header length, body.
        type Case<'c> = (&'c [u8], Option<&'c [u8]>, Option<usize>, &'c [u8]);
        let cases: Vec<Case<'_>> = vec![
            (b"foo", None, None, b"hello"),
            (b"foo.bar", Some(b"_INBOX.x"), None, b""),
            (b"foo", Some(b"r"), Some(hdr.len()), &with_headers),
            (b"foo", None, Some(hdr.len()), &with_headers),
            (
                long.as_bytes(),
                Some(long.as_bytes()),
                Some(hdr.len()),
                &with_headers,
            ),
        ];
        for (subject, reply, h, body) in cases {
            let head = MsgHead::new(subject, reply, h, body.len());
            for sid in [&b"1"[..], b"12345678"] {
                for takes in [true, false] {
                    assert_eq!(
                        written(&head, sid, takes, body),
                        by_pieces(&head, sid, takes, body),
                        "{:?} {takes}",
                        String::from_utf8_lossy(subject)
                    );
                }
            }
        }
        assert!(!MsgHead::new(long.as_bytes(), Some(long.as_bytes()), None, 1).prepared);
    }
}
