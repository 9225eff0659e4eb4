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

/// One operation a client sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT {json}`: the raw JSON options.
    Connect(Bytes),
    /// `PUB subject [reply] size` and its payload.
    Pub {
        subject: Bytes,
        reply: Option<Bytes>,
        payload: Bytes,
    },
    /// `HPUB subject [reply] header_size total_size`: `message` holds headers then payload.
    HPub {
        subject: Bytes,
        reply: Option<Bytes>,
        header_len: usize,
        message: Bytes,
    },
    /// `SUB subject [queue] sid`.
    Sub {
        subject: Bytes,
        queue: Option<Bytes>,
        sid: Bytes,
    },
    /// `UNSUB sid [max]`.
    Unsub { sid: Bytes, max: Option<u64> },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
    /// `INFO {json}`: clients may send it; the server ignores a well-formed one.
    Info(Bytes),
    /// `+OK`.
    Ok,
    /// `-ERR text`: a client reporting an error; the server closes the connection.
    Err(Bytes),
}

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
        loop {
            if self.msg.is_some() {
                match self.take_payload(data)? {
                    Some(op) => return Ok(Some(op)),
                    None => return Ok(None),
                }
            }
            if data.is_empty() {
                return Ok(None);
            }
            let op = match memchr::memchr(b'\n', data) {
                // The common case: the whole line is in this chunk. It is read in place;
                // only what an op keeps becomes a `Bytes` (each one a reference count
                // update, which is most of what parsing a small PUB costs).
                Some(pos) if self.line.is_empty() => {
                    let op = self.parse_line(data, 0..pos + 1);
                    data.advance(pos + 1);
                    op?
                }
                Some(pos) => {
                    self.line.extend_from_slice(&data[..pos + 1]);
                    data.advance(pos + 1);
                    let line = Bytes::from(std::mem::take(&mut self.line));
                    self.parse_line(&line, 0..line.len())?
                }
                None => {
                    self.line.extend_from_slice(data);
                    data.clear();
                    check_partial(&self.line, self.max_control_line)?;
                    return Ok(None);
                }
            };
            if let Some(op) = op {
                return Ok(Some(op));
            }
        }
    }

    /// Gathers the payload of the pending message; the op once it is complete.
    fn take_payload(&mut self, data: &mut Bytes) -> Result<Option<ClientOp>, ParseError> {
        let msg = self.msg.as_mut().expect("pending message");
        let missing = msg.need - msg.buf.len();
        if msg.buf.is_empty() && data.len() >= msg.need {
            // The common case: the whole payload is in this chunk; slice it, no copy.
            check_crlf(&data[msg.need - 2..msg.need])?;
            let payload = data.slice(..msg.need - 2);
            data.advance(msg.need);
            return Ok(Some(self.finish_msg(payload)));
        }
        let take = missing.min(data.len());
        msg.buf.extend_from_slice(&data[..take]);
        data.advance(take);
        if msg.buf.len() < msg.need {
            return Ok(None);
        }
        let mut payload = std::mem::take(&mut msg.buf).freeze();
        check_crlf(&payload[payload.len() - 2..])?;
        payload.truncate(payload.len() - 2);
        Ok(Some(self.finish_msg(payload)))
    }

    fn finish_msg(&mut self, payload: Bytes) -> ClientOp {
        let msg = self.msg.take().expect("pending message");
        match msg.header_len {
            None => ClientOp::Pub {
                subject: msg.subject,
                reply: msg.reply,
                payload,
            },
            Some(header_len) => ClientOp::HPub {
                subject: msg.subject,
                reply: msg.reply,
                header_len,
                message: payload,
            },
        }
    }

    /// Interprets the complete control line `src[line]` (with its `\n`). Returns `None`
    /// when the line opened a message whose payload is still to come.
    fn parse_line(
        &mut self,
        src: &Bytes,
        line: Range<usize>,
    ) -> Result<Option<ClientOp>, ParseError> {
        let text = &src[line.clone()];
        let verb = recognize(text)?;
        let body = trim_line_end(&text[verb.len..]);
        let start = line.start + verb.len;
        let args = start + leading_blanks(body)..start + body.len();
        if args.len() > self.max_control_line {
            return Err(ParseError::MaxControlLine);
        }
        Ok(Some(match verb.op {
            Verb::Ping => ClientOp::Ping,
            Verb::Pong => ClientOp::Pong,
            Verb::Ok => ClientOp::Ok,
            Verb::Err => ClientOp::Err(src.slice(args)),
            Verb::Connect => ClientOp::Connect(src.slice(args)),
            Verb::Info => ClientOp::Info(src.slice(args)),
            Verb::Sub => parse_sub(src, args)?,
            Verb::Unsub => parse_unsub(src, args)?,
            Verb::Pub => {
                self.start_msg(src, args, false)?;
                return Ok(None);
            }
            Verb::HPub => {
                self.start_msg(src, args, true)?;
                return Ok(None);
            }
        }))
    }

    /// Parses the arguments `src[args]` of `PUB`/`HPUB` and sets up the wait for the
    /// payload.
    fn start_msg(
        &mut self,
        src: &Bytes,
        args: Range<usize>,
        headers: bool,
    ) -> Result<(), ParseError> {
        let parts = Args::split(src, args);
        let op = if headers { "HPUB" } else { "PUB" };
        let bad = || ParseError::BadArgs(format!("{op} {}", parts.text()));
        // Where the sizes start: after the subject and the optional reply.
        let (reply, sizes) = match (headers, parts.len) {
            (false, 2) | (true, 3) => (None, 1),
            (false, 3) | (true, 4) => (Some(parts.bytes(1)), 2),
            _ => return Err(bad()),
        };
        let total = parse_size(parts.raw(parts.len - 1)).ok_or_else(bad)?;
        let header_len = match headers {
            true => Some(parse_size(parts.raw(sizes)).ok_or_else(bad)?),
            false => None,
        };
        let subject = parts.bytes(0);
        if let Some(h) = header_len {
            if h > total {
                return Err(ParseError::BadHeaderSize);
            }
        }
        if total > self.max_payload {
            return Err(ParseError::MaxPayload { size: total });
        }
        // `total` is at most max_payload here, so this allocation is bounded.
        let total = total as usize;
        self.msg = Some(PendingMsg {
            subject,
            reply,
            header_len: header_len.map(|h| h as usize),
            need: total + 2,
            buf: BytesMut::new(),
        });
        Ok(())
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
struct Args<'a> {
    src: &'a Bytes,
    /// Where the arguments are in `src`.
    whole: Range<usize>,
    /// Each argument's place in `src`.
    spans: [(usize, usize); MAX_ARGS],
    len: usize,
}

impl Args<'_> {
    /// Splits `src[whole]` on runs of blanks (at most `MAX_ARGS` arguments are kept).
    fn split(src: &Bytes, whole: Range<usize>) -> Args<'_> {
        let mut out = Args {
            src,
            whole: whole.clone(),
            spans: [(0, 0); MAX_ARGS],
            len: 0,
        };
        let base = whole.start;
        let mut start = None;
        for (i, &b) in src[whole.clone()].iter().enumerate() {
            let i = base + i;
            let blank = matches!(b, b' ' | b'\t' | b'\r' | b'\n');
            match (blank, start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    out.spans[out.len] = (s, i);
                    out.len += 1;
                    start = None;
                    if out.len == MAX_ARGS {
                        return out;
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            out.spans[out.len] = (s, whole.end);
            out.len += 1;
        }
        out
    }

    fn raw(&self, i: usize) -> &[u8] {
        let (s, e) = self.spans[i];
        &self.src[s..e]
    }

    fn bytes(&self, i: usize) -> Bytes {
        let (s, e) = self.spans[i];
        self.src.slice(s..e)
    }

    /// All the arguments as text, for error messages.
    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.src[self.whole.clone()])
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

fn parse_sub(src: &Bytes, args: Range<usize>) -> Result<ClientOp, ParseError> {
    let parts = Args::split(src, args);
    let (queue, sid) = match parts.len {
        2 => (None, parts.bytes(1)),
        3 => (Some(parts.bytes(1)), parts.bytes(2)),
        _ => return Err(ParseError::BadArgs(format!("SUB {}", parts.text()))),
    };
    Ok(ClientOp::Sub {
        subject: parts.bytes(0),
        queue,
        sid,
    })
}

fn parse_unsub(src: &Bytes, args: Range<usize>) -> Result<ClientOp, ParseError> {
    let parts = Args::split(src, args);
    let max = match parts.len {
        1 => None,
        // A max that is not a number reads as zero in the reference: unsubscribe now.
        2 => Some(parse_size(parts.raw(1)).unwrap_or(0)),
        _ => return Err(ParseError::BadArgs(format!("UNSUB {}", parts.text()))),
    };
    Ok(ClientOp::Unsub {
        sid: parts.bytes(0),
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
