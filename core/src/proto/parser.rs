//! Incremental parser for the client protocol.
//!
//! Bytes arrive in arbitrary chunks (one byte at a time must work). A control line that is
//! wholly inside a chunk is sliced out of it without copying, and so is a payload: the ops
//! hold `Bytes` views into the reader's buffer, which lets a message fan out to many
//! subscribers without a copy per subscriber. Only what is split across chunks is gathered
//! into a buffer of the parser's own, and that buffer never grows past the limits
//! (`max_control_line`, `max_payload`) checked before anything is allocated for it.
//!
//! Verbs are recognised the way the reference server does, byte by byte: case-insensitive,
//! arguments separated by any run of spaces and tabs, `\r\n` or a bare `\n` ending a line,
//! and an unknown verb reported as soon as its first wrong byte arrives rather than when its
//! line ends.

use std::ops::Range;

use bytes::{Buf, Bytes, BytesMut};

use super::op::{ClientOp, ClientOpRef, Data, Op};

/// Why the byte stream cannot be parsed. The node turns each into the reference server's
/// answer (see [`ParseError::err_text`]) and closes the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// A verb the protocol does not have, or a malformed line.
    UnknownOp,
    /// A control line longer than `max_control_line`.
    MaxControlLine,
    /// A declared payload larger than `max_payload`.
    MaxPayload { size: u64 },
    /// `PUB`/`HPUB`/`SUB`/`UNSUB` with the wrong number or form of arguments; the text says
    /// which op and what it got, for the log.
    BadArgs(String),
    /// `HPUB` whose header size is larger than its total size.
    BadHeaderSize,
}

impl ParseError {
    /// The `-ERR` text the reference server sends for this error, if it sends one.
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            ParseError::UnknownOp => Some("Unknown Protocol Operation"),
            ParseError::MaxControlLine => Some("maximum control line exceeded"),
            ParseError::MaxPayload { .. } => Some("Maximum Payload Violation"),
            ParseError::BadArgs(_) => None,
            ParseError::BadHeaderSize => None,
        }
    }
}

/// The head of a message whose payload is still to come.
#[derive(Debug)]
struct PendingMsg {
    subject: Bytes,
    reply: Option<Bytes>,
    /// `Some` for `HPUB`.
    header_len: Option<usize>,
    /// Payload bytes plus the closing `\r\n`.
    need: usize,
    /// The part of the payload gathered so far when it spans chunks.
    buf: BytesMut,
}

/// An incremental client-protocol parser for one connection.
#[derive(Debug)]
pub struct Parser {
    max_control_line: usize,
    max_payload: u64,
    /// A control line split across chunks.
    line: Vec<u8>,
    msg: Option<PendingMsg>,
}

impl Parser {
    /// A parser enforcing the given limits.
    pub fn new(max_control_line: usize, max_payload: u64) -> Parser {
        Parser {
            max_control_line,
            max_payload,
            line: Vec::new(),
            msg: None,
        }
    }

    /// Changes the payload limit (a `CONNECT` cannot raise it, but config reload may).
    pub fn set_max_payload(&mut self, max_payload: u64) {
        self.max_payload = max_payload;
    }

    /// Whether the next byte starts a new operation (nothing partial is held).
    pub fn at_op_start(&self) -> bool {
        self.line.is_empty() && self.msg.is_none()
    }

    /// Takes the next complete operation out of `data`, consuming its bytes. Returns
    /// `Ok(None)` once `data` is used up with no further complete op (any partial op is kept
    /// for the next call). After an error the connection must be closed: the parser's state
    /// is undefined.
    pub fn next(&mut self, data: &mut Bytes) -> Result<Option<ClientOp>, ParseError> {
        let mut pos = 0;
        let op = self
            .next_ref(data, &mut pos)
            .map(|op| op.map(|op| op.into_owned(data)));
        data.advance(pos);
        op
    }

    /// Like [`Parser::next`], reading `chunk` from `*pos` on and moving `*pos` past what it
    /// consumed, and borrowing the op's bytes from `chunk` wherever they lie wholly in it.
    pub fn next_ref<'a>(
        &mut self,
        chunk: &'a Bytes,
        pos: &mut usize,
    ) -> Result<Option<ClientOpRef<'a>>, ParseError> {
        loop {
            if self.msg.is_some() {
                return self.take_payload(chunk, pos);
            }
            let rest = &chunk[*pos..];
            if rest.is_empty() {
                return Ok(None);
            }
            if self.line.is_empty() {
                if let Some((op, len)) = self.plain_pub(rest) {
                    *pos += len;
                    return Ok(Some(op));
                }
            }
            let op = match memchr::memchr(b'\n', rest) {
                // The common case: the whole line is in this chunk, read in place.
                Some(i) if self.line.is_empty() => {
                    let line = *pos..*pos + i + 1;
                    *pos += i + 1;
                    self.parse_line(Src::Chunk(chunk), line, chunk, pos)?
                }
                Some(i) => {
                    self.line.extend_from_slice(&rest[..=i]);
                    *pos += i + 1;
                    let gathered = Bytes::from(std::mem::take(&mut self.line));
                    let line = 0..gathered.len();
                    self.parse_line(Src::Gathered(&gathered), line, chunk, pos)?
                }
                None => {
                    self.line.extend_from_slice(rest);
                    *pos = chunk.len();
                    check_partial(&self.line, self.max_control_line)?;
                    return Ok(None);
                }
            };
            if let Some(op) = op {
                return Ok(Some(op));
            }
        }
    }

    /// The op at the start of `rest` and its length, if it is a `PUB` in its plainest
    /// form, wholly in `rest`: `PUB <subject> [<reply>] <size>\r\n<payload>\r\n`, one space
    /// between arguments, within the limits. Nearly every op a server reads looks like
    /// that, and this reads it in one pass; anything else (other spacing, a bare `\n`, a
    /// size too large, a partial op, a malformed one) is left to the general path, which
    /// gives the same op or the error.
    fn plain_pub<'a>(&self, rest: &'a [u8]) -> Option<(ClientOpRef<'a>, usize)> {
        let args = rest.strip_prefix(b"PUB ")?;
        // Up to three arguments, each ended by one space or, for the last, `\r`.
        let mut ends = [0usize; 3];
        let mut n = 0;
        let mut i = 0;
        loop {
            let start = i;
            while *args.get(i)? > b' ' {
                i += 1;
            }
            if i == start || n == ends.len() {
                return None;
            }
            ends[n] = i;
            n += 1;
            match args[i] {
                b' ' => i += 1,
                b'\r' => break,
                _ => return None,
            }
        }
        if n < 2 || *args.get(i + 1)? != b'\n' || i > self.max_control_line {
            return None;
        }
        let size_at = ends[n - 2] + 1;
        let size = parse_size(&args[size_at..i]).filter(|&s| s <= self.max_payload)? as usize;
        let payload_at = 4 + i + 2;
        let len = payload_at + size + 2;
        if rest.get(payload_at + size..len)? != b"\r\n" {
            return None;
        }
        let reply = (n == 3).then(|| Data::In(&args[ends[0] + 1..ends[1]]));
        let op = Op::Pub {
            subject: Data::In(&args[..ends[0]]),
            reply,
            payload: Data::In(&rest[payload_at..payload_at + size]),
        };
        Some((op, len))
    }

    /// Gathers the payload of the pending message from `chunk[*pos..]`; the op once it
    /// is complete.
    fn take_payload<'a>(
        &mut self,
        chunk: &'a Bytes,
        pos: &mut usize,
    ) -> Result<Option<ClientOpRef<'a>>, ParseError> {
        let msg = self.msg.as_mut().expect("pending message");
        let rest = &chunk[*pos..];
        if msg.buf.is_empty() && rest.len() >= msg.need {
            // The whole payload is in this chunk: borrowed, no copy.
            check_crlf(&rest[msg.need - 2..msg.need])?;
            let payload = Data::In(&rest[..msg.need - 2]);
            *pos += msg.need;
            return Ok(Some(self.finish_msg(payload)));
        }
        if msg.buf.is_empty() {
            // `need` is at most max_payload + 2: checked before the message was set up.
            msg.buf.reserve(msg.need);
        }
        let take = (msg.need - msg.buf.len()).min(rest.len());
        msg.buf.extend_from_slice(&rest[..take]);
        *pos += take;
        if msg.buf.len() < msg.need {
            return Ok(None);
        }
        let mut payload = std::mem::take(&mut msg.buf).freeze();
        check_crlf(&payload[payload.len() - 2..])?;
        payload.truncate(payload.len() - 2);
        Ok(Some(self.finish_msg(Data::Own(payload))))
    }

    fn finish_msg<'a>(&mut self, payload: Data<'a>) -> ClientOpRef<'a> {
        let msg = self.msg.take().expect("pending message");
        let (subject, reply) = (Data::Own(msg.subject), msg.reply.map(Data::Own));
        msg_op(subject, reply, msg.header_len, payload)
    }

    /// Interprets the complete control line `src[line]` (with its `\n`). A `PUB`/`HPUB`
    /// whose payload is already in `chunk[*pos..]` comes back whole, borrowing it;
    /// otherwise the message waits for its payload and this returns `None`.
    fn parse_line<'a>(
        &mut self,
        src: Src<'a, '_>,
        line: Range<usize>,
        chunk: &'a Bytes,
        pos: &mut usize,
    ) -> Result<Option<ClientOpRef<'a>>, ParseError> {
        let text = &src.bytes()[line.clone()];
        let verb = recognize(text)?;
        let body = trim_line_end(&text[verb.len..]);
        let start = line.start + verb.len;
        let args = start + leading_blanks(body)..start + body.len();
        if args.len() > self.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        Ok(Some(match verb.op {
            Verb::Ping => Op::Ping,
            Verb::Pong => Op::Pong,
            Verb::Ok => Op::Ok,
            Verb::Err => Op::Err(src.piece(args)),
            Verb::Connect => Op::Connect(src.piece(args)),
            Verb::Info => Op::Info(src.piece(args)),
            Verb::Sub => parse_sub(src, args)?,
            Verb::Unsub => parse_unsub(src, args)?,
            Verb::Pub | Verb::HPub => {
                let head = self.parse_msg_head(src, args, verb.op == Verb::HPub)?;
                let rest = &chunk[*pos..];
                if rest.len() < head.need {
                    self.msg = Some(PendingMsg {
                        subject: src.owned(head.subject),
                        reply: head.reply.map(|r| src.owned(r)),
                        header_len: head.header_len,
                        need: head.need,
                        buf: BytesMut::new(),
                    });
                    return Ok(None);
                }
                check_crlf(&rest[head.need - 2..head.need])?;
                let payload = Data::In(&rest[..head.need - 2]);
                *pos += head.need;
                let (subject, reply) = (src.piece(head.subject), head.reply.map(|r| src.piece(r)));
                msg_op(subject, reply, head.header_len, payload)
            }
        }))
    }

    /// Parses the arguments `src[args]` of `PUB`/`HPUB`.
    fn parse_msg_head(
        &self,
        src: Src<'_, '_>,
        args: Range<usize>,
        headers: bool,
    ) -> Result<MsgHead, ParseError> {
        let parts = Args::split(&src, args);
        let op = if headers { "HPUB" } else { "PUB" };
        let bad = || ParseError::BadArgs(format!("{op} {}", parts.text()));
        // Where the sizes start: after the subject and the optional reply.
        let (reply, sizes) = match (headers, parts.len) {
            (false, 2) | (true, 3) => (None, 1),
            (false, 3) | (true, 4) => (Some(parts.span(1)), 2),
            _ => return Err(bad()),
        };
        let total = parse_size(parts.raw(parts.len - 1)).ok_or_else(bad)?;
        let header_len = match headers {
            true => Some(parse_size(parts.raw(sizes)).ok_or_else(bad)?),
            false => None,
        };
        if let Some(h) = header_len {
            if h > total {
                return Err(ParseError::BadHeaderSize);
            }
        }
        if total > self.max_payload {
            return Err(ParseError::MaxPayload { size: total });
        }
        Ok(MsgHead {
            subject: parts.span(0),
            reply,
            header_len: header_len.map(|h| h as usize),
            // At most max_payload + 2: what waiting for the payload may buffer.
            need: total as usize + 2,
        })
    }
}

/// A `PUB` (no header length) or `HPUB` op.
fn msg_op<'a>(
    subject: Data<'a>,
    reply: Option<Data<'a>>,
    header_len: Option<usize>,
    payload: Data<'a>,
) -> ClientOpRef<'a> {
    match header_len {
        None => Op::Pub {
            subject,
            reply,
            payload,
        },
        Some(header_len) => Op::HPub {
            subject,
            reply,
            header_len,
            message: payload,
        },
    }
}

/// The parsed control line of a message: where its subject and reply are in the line's
/// source, and how much payload (with the closing `\r\n`) follows.
struct MsgHead {
    subject: Range<usize>,
    reply: Option<Range<usize>>,
    header_len: Option<usize>,
    need: usize,
}

/// Where a line being parsed lives: in the chunk being parsed (its pieces are borrowed)
/// or in a line the parser gathered from several chunks (its pieces are shared slices).
#[derive(Clone, Copy)]
enum Src<'a, 'g> {
    Chunk(&'a Bytes),
    Gathered(&'g Bytes),
}

impl<'a> Src<'a, '_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Src::Chunk(b) => b,
            Src::Gathered(b) => b,
        }
    }

    /// The bytes at `r`, borrowed when they are in the chunk.
    fn piece(&self, r: Range<usize>) -> Data<'a> {
        match *self {
            Src::Chunk(b) => Data::In(&b[r]),
            Src::Gathered(b) => Data::Own(b.slice(r)),
        }
    }

    /// The bytes at `r` as a handle that may outlive the chunk.
    fn owned(&self, r: Range<usize>) -> Bytes {
        match *self {
            Src::Chunk(b) | Src::Gathered(b) => b.slice(r),
        }
    }
}

/// The verbs a client may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Connect,
    Info,
    Ok,
    Err,
}

/// A recognised verb and how many bytes of the line it took.
struct Recognized {
    op: Verb,
    len: usize,
}

/// How each verb is spelled, and whether it must be followed by a blank (verbs with
/// arguments) or may be followed by anything up to the line end (`PING`, `PONG`, `+OK`).
const VERBS: &[(&[u8], Verb, bool)] = &[
    (b"PUB", Verb::Pub, true),
    (b"HPUB", Verb::HPub, true),
    (b"SUB", Verb::Sub, true),
    (b"UNSUB", Verb::Unsub, true),
    (b"PING", Verb::Ping, false),
    (b"PONG", Verb::Pong, false),
    // The reference takes whatever follows CONNECT as its JSON, blank or not.
    (b"CONNECT", Verb::Connect, false),
    (b"INFO", Verb::Info, true),
    (b"+OK", Verb::Ok, false),
    (b"-ERR", Verb::Err, true),
];

/// Recognises the verb at the start of a complete line.
fn recognize(line: &[u8]) -> Result<Recognized, ParseError> {
    // Nearly every line a server reads is an upper-case `PUB`.
    if line.starts_with(b"PUB ") {
        return Ok(Recognized {
            op: Verb::Pub,
            len: 3,
        });
    }
    for &(word, op, needs_blank) in VERBS {
        if line.len() > word.len() && line[..word.len()].eq_ignore_ascii_case(word) {
            let next = line[word.len()];
            if !needs_blank || next == b' ' || next == b'\t' {
                return Ok(Recognized {
                    op,
                    len: word.len(),
                });
            }
        }
    }
    Err(ParseError::UnknownOp)
}

/// Checks an incomplete line as far as it goes: a prefix no verb can start with is an
/// error now, and so are arguments already longer than the limit (measured as a complete
/// line's are, so that how the bytes were split never changes the outcome). Every verb's
/// line is limited, even `PING`'s, so a line can never hold unbounded memory.
fn check_partial(line: &[u8], max_control_line: usize) -> Result<(), ParseError> {
    let verb = VERBS.iter().find_map(|&(word, _, needs_blank)| {
        let n = line.len().min(word.len());
        if !line[..n].eq_ignore_ascii_case(&word[..n]) {
            return None;
        }
        match line.get(word.len()) {
            None => Some(n),
            Some(&b) if !needs_blank || b == b' ' || b == b'\t' => Some(n),
            Some(_) => None,
        }
    });
    let Some(verb_len) = verb else {
        return Err(ParseError::UnknownOp);
    };
    let body = line[verb_len..]
        .strip_suffix(b"\r")
        .unwrap_or(&line[verb_len..]);
    if body.len() - leading_blanks(body) > max_control_line {
        return Err(ParseError::MaxControlLine);
    }
    Ok(())
}

fn check_crlf(end: &[u8]) -> Result<(), ParseError> {
    if end == b"\r\n" {
        Ok(())
    } else {
        Err(ParseError::UnknownOp)
    }
}

/// The line without its `\n` and an optional `\r` before it.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn leading_blanks(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| b == b' ' || b == b'\t').count()
}

/// One more argument than any verb takes, so that too many still read as too many.
const MAX_ARGS: usize = 5;

/// Where the arguments of one line are. Positions, not slices: this runs for every PUB, and
/// only the arguments an op keeps (subject, reply) become `Bytes`, each costing a
/// reference-count update; sizes are read straight from the line.
struct Args<'s, 'a, 'g> {
    src: &'s Src<'a, 'g>,
    /// Where the arguments are in the source.
    whole: Range<usize>,
    /// Each argument's place in the source.
    spans: [(usize, usize); MAX_ARGS],
    len: usize,
}

impl<'s, 'a, 'g> Args<'s, 'a, 'g> {
    /// Splits `src[whole]` on runs of blanks (at most `MAX_ARGS` arguments are kept).
    fn split(src: &'s Src<'a, 'g>, whole: Range<usize>) -> Args<'s, 'a, 'g> {
        let mut out = Args {
            src,
            whole: whole.clone(),
            spans: [(0, 0); MAX_ARGS],
            len: 0,
        };
        let bytes = src.bytes();
        let blank = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        let mut i = whole.start;
        while out.len < MAX_ARGS {
            while i < whole.end && blank(bytes[i]) {
                i += 1;
            }
            if i == whole.end {
                break;
            }
            let start = i;
            while i < whole.end && !blank(bytes[i]) {
                i += 1;
            }
            out.spans[out.len] = (start, i);
            out.len += 1;
        }
        out
    }

    fn span(&self, i: usize) -> Range<usize> {
        let (s, e) = self.spans[i];
        s..e
    }

    fn raw(&self, i: usize) -> &[u8] {
        &self.src.bytes()[self.span(i)]
    }

    fn piece(&self, i: usize) -> Data<'a> {
        self.src.piece(self.span(i))
    }

    /// All the arguments as text, for error messages.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.src.bytes()[self.whole.clone()])
    }
}

/// A decimal size: digits only, no sign, at most nine of them (the reference refuses longer
/// sizes outright, which also keeps a hostile size from ever reaching an allocation).
fn parse_size(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn parse_sub<'a>(src: Src<'a, '_>, args: Range<usize>) -> Result<ClientOpRef<'a>, ParseError> {
    let parts = Args::split(&src, args);
    let (queue, sid) = match parts.len {
        2 => (None, parts.piece(1)),
        3 => (Some(parts.piece(1)), parts.piece(2)),
        _ => return Err(ParseError::BadArgs(format!("SUB {}", parts.text()))),
    };
    Ok(Op::Sub {
        subject: parts.piece(0),
        queue,
        sid,
    })
}

fn parse_unsub<'a>(src: Src<'a, '_>, args: Range<usize>) -> Result<ClientOpRef<'a>, ParseError> {
    let parts = Args::split(&src, args);
    let max = match parts.len {
        1 => None,
        // A max that is not a number reads as zero in the reference: unsubscribe now.
        2 => Some(parse_size(parts.raw(1)).unwrap_or(0)),
        _ => return Err(ParseError::BadArgs(format!("UNSUB {}", parts.text()))),
    };
    Ok(Op::Unsub {
        sid: parts.piece(0),
        max,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<ClientOp>, ParseError> {
        let mut p = Parser::new(4096, 1024 * 1024);
        let mut data = Bytes::copy_from_slice(input);
        let mut ops = Vec::new();
        while let Some(op) = p.next(&mut data)? {
            ops.push(op);
        }
        Ok(ops)
    }

    fn parse_bytewise(input: &[u8]) -> Result<Vec<ClientOp>, ParseError> {
        let mut p = Parser::new(4096, 1024 * 1024);
        let mut ops = Vec::new();
        for b in input {
            let mut data = Bytes::copy_from_slice(&[*b]);
            while let Some(op) = p.next(&mut data)? {
                ops.push(op);
            }
        }
        Ok(ops)
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn pub_with_and_without_reply() {
        let ops = parse_all(b"PUB foo 5\r\nhello\r\nPUB foo bar 2\r\nhi\r\n").unwrap();
        assert_eq!(
            ops,
            vec![
                ClientOp::Pub {
                    subject: b("foo"),
                    reply: None,
                    payload: b("hello")
                },
                ClientOp::Pub {
                    subject: b("foo"),
                    reply: Some(b("bar")),
                    payload: b("hi")
                },
            ]
        );
    }

    #[test]
    fn byte_at_a_time_gives_the_same_ops() {
        let input = b"CONNECT {\"verbose\":false}\r\nSUB foo q 1\r\nHPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 5\r\nPING\r\nPONG\r\nPUB x 0\r\n\r\n";
        assert_eq!(parse_all(input).unwrap(), parse_bytewise(input).unwrap());
        assert_eq!(parse_all(input).unwrap().len(), 7);
    }

    #[test]
    fn verbs_are_case_insensitive_and_blanks_flexible() {
        let ops = parse_all(b"sub\tfoo  \t 1\r\npInG\r\nPuB foo\t\t3\nabc\r\n").unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            ClientOp::Sub {
                subject: b("foo"),
                queue: None,
                sid: b("1")
            }
        );
        assert_eq!(ops[1], ClientOp::Ping);
    }

    #[test]
    fn hpub_splits_header_and_total() {
        let ops = parse_all(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").unwrap();
        assert_eq!(
            ops,
            vec![ClientOp::HPub {
                subject: b("foo"),
                reply: None,
                header_len: 12,
                message: b("NATS/1.0\r\n\r\nhi")
            }]
        );
    }

    #[test]
    fn unknown_verb_is_reported_before_the_line_ends() {
        let mut p = Parser::new(4096, 1024);
        assert_eq!(p.next(&mut b("XY")), Err(ParseError::UnknownOp));
        let mut p = Parser::new(4096, 1024);
        assert_eq!(p.next(&mut b("PUX")), Err(ParseError::UnknownOp));
        let mut p = Parser::new(4096, 1024);
        assert_eq!(p.next(&mut b("PU")), Ok(None));
    }

    #[test]
    fn payload_over_limit_is_refused_before_allocation() {
        let mut p = Parser::new(4096, 1024);
        assert_eq!(
            p.next(&mut b("PUB foo 999999999\r\n")),
            Err(ParseError::MaxPayload { size: 999_999_999 })
        );
        // Ten digits or more is not a size at all (a 2 GB declaration closes silently).
        let mut p = Parser::new(4096, 1024);
        assert!(matches!(
            p.next(&mut b("PUB foo 2000000000\r\n")),
            Err(ParseError::BadArgs(_))
        ));
    }

    #[test]
    fn long_control_line_is_refused_without_newline() {
        let mut p = Parser::new(16, 1024);
        let long = format!("PUB {}", "a".repeat(40));
        assert_eq!(p.next(&mut b(&long)), Err(ParseError::MaxControlLine));
    }

    #[test]
    fn bad_sizes_and_arity() {
        assert!(matches!(
            parse_all(b"PUB foo\r\n"),
            Err(ParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"PUB foo -1\r\n"),
            Err(ParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"PUB a b c 1\r\n"),
            Err(ParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"SUB foo\r\n"),
            Err(ParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"UNSUB 1 2 3\r\n"),
            Err(ParseError::BadArgs(_))
        ));
        assert_eq!(
            parse_all(b"UNSUB 1 x\r\n").unwrap(),
            vec![ClientOp::Unsub {
                sid: b("1"),
                max: Some(0)
            }]
        );
        assert_eq!(
            parse_all(b"HPUB foo 10 5\r\n"),
            Err(ParseError::BadHeaderSize)
        );
    }

    #[test]
    fn payload_must_end_with_crlf() {
        assert_eq!(
            parse_all(b"PUB foo 2\r\nabc\r\n"),
            Err(ParseError::UnknownOp)
        );
        assert_eq!(
            parse_bytewise(b"PUB foo 2\r\nabc\r\n"),
            Err(ParseError::UnknownOp)
        );
    }

    #[test]
    fn ping_ignores_trailing_bytes() {
        assert_eq!(parse_all(b"PINGX\r\n").unwrap(), vec![ClientOp::Ping]);
    }
}
