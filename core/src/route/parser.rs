//! Incremental parser for the route protocol: what a peer server sends over a route.
//!
//! The verbs are the reference's: `INFO`, `CONNECT`, `PING`, `PONG`, `+OK`, `-ERR`, interest
//! (`RS+`/`RS-`, and `LS+`/`LS-`, which carry a leaf node's origin cluster first) and
//! messages (`RMSG`, `HMSG` with a header size, `LMSG` with an origin cluster first and a
//! header size always). `A+`/`A-` (account interest, meaningful for gateways) are taken and
//! ignored as the reference does on routes.
//!
//! Bytes arrive in arbitrary chunks. A line or payload wholly inside a chunk is sliced out
//! of it without copying; only what spans chunks is gathered, and never past the limits
//! (`max_control_line`, `max_payload`), which are checked before anything is buffered.

use bytes::{Buf, Bytes, BytesMut};

/// One operation a peer sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteOp {
    /// `INFO {json}`.
    Info(Bytes),
    /// `CONNECT {json}`.
    Connect(Bytes),
    Ping,
    Pong,
    Ok,
    /// `-ERR 'text'`.
    Err(Bytes),
    /// `RS+ account subject [queue weight]` (or `LS+ origin account subject ...`): the peer
    /// has interest. A queue's weight is how many members it has there.
    Sub {
        account: Bytes,
        subject: Bytes,
        queue: Option<(Bytes, u32)>,
    },
    /// `RS- account subject [queue]`: the peer's interest is gone.
    Unsub {
        account: Bytes,
        subject: Bytes,
        queue: Option<Bytes>,
    },
    /// A message for the subscriptions here.
    Msg(RoutedMsg),
    /// `A+`/`A-`: nothing to do on a route.
    AccountInterest,
}

/// A message from a route: `RMSG account subject [reply] size`, or with queue groups
/// `RMSG account subject + reply q1 q2 size` / `... | q1 q2 size` (deliver to one member of
/// each named group); `HMSG` and `LMSG` carry a header size too. The fields are places in
/// the control line, which is kept whole: one shared handle for the line and one for the
/// payload is all a message costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedMsg {
    line: Bytes,
    account: Span,
    subject: Span,
    reply: Option<Span>,
    queues: Vec<Span>,
    pub header_len: Option<usize>,
    pub payload: Bytes,
}

/// Where a field is in a line.
type Span = (u32, u32);

impl RoutedMsg {
    fn at(&self, (from, to): Span) -> &[u8] {
        &self.line[from as usize..to as usize]
    }

    pub fn account(&self) -> &[u8] {
        self.at(self.account)
    }

    pub fn subject(&self) -> &[u8] {
        self.at(self.subject)
    }

    pub fn reply(&self) -> Option<&[u8]> {
        self.reply.map(|r| self.at(r))
    }

    /// The queue groups to deliver to one member of.
    pub fn queues(&self) -> impl Iterator<Item = &[u8]> {
        self.queues.iter().map(|&q| self.at(q))
    }

    pub fn has_queues(&self) -> bool {
        !self.queues.is_empty()
    }
}

/// Why the route's byte stream cannot be parsed; the connection is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteParseError {
    UnknownOp,
    MaxControlLine,
    MaxPayload {
        size: u64,
    },
    /// A known verb with arguments that do not fit it; the text is for the log.
    BadArgs(String),
}

impl RouteParseError {
    /// The `-ERR` text the reference sends before closing, if any.
    pub fn err_text(&self) -> Option<&'static str> {
        match self {
            RouteParseError::UnknownOp => Some("Unknown Protocol Operation"),
            RouteParseError::MaxControlLine => Some("maximum control line exceeded"),
            RouteParseError::MaxPayload { .. } => Some("Maximum Payload Violation"),
            RouteParseError::BadArgs(_) => None,
        }
    }
}

/// A message whose payload is still to come.
#[derive(Debug)]
struct Pending {
    head: MsgHead,
    /// Payload plus `\r\n`.
    need: usize,
    buf: BytesMut,
}

#[derive(Debug)]
struct MsgHead {
    line: Bytes,
    account: Span,
    subject: Span,
    reply: Option<Span>,
    queues: Vec<Span>,
    header_len: Option<usize>,
}

/// The route protocol parser of one connection.
#[derive(Debug)]
pub struct RouteParser {
    max_control_line: usize,
    max_payload: u64,
    /// A control line split across chunks.
    line: Vec<u8>,
    msg: Option<Pending>,
}

/// Verbs, and whether a blank must follow them.
const VERBS: &[(&[u8], bool)] = &[
    (b"RMSG", true),
    (b"HMSG", true),
    (b"LMSG", true),
    (b"RS+", true),
    (b"RS-", true),
    (b"LS+", true),
    (b"LS-", true),
    (b"PING", false),
    (b"PONG", false),
    (b"INFO", true),
    (b"CONNECT", false),
    (b"+OK", false),
    (b"-ERR", true),
    (b"A+", true),
    (b"A-", true),
];

impl RouteParser {
    pub fn new(max_control_line: usize, max_payload: u64) -> RouteParser {
        RouteParser {
            max_control_line,
            max_payload,
            line: Vec::new(),
            msg: None,
        }
    }

    /// Takes the next complete operation from the front of `data`, consuming its bytes;
    /// `Ok(None)` once `data` is used up (a partial op is kept for the next call). After an
    /// error the connection must be closed.
    pub fn next(&mut self, data: &mut Bytes) -> Result<Option<RouteOp>, RouteParseError> {
        loop {
            if self.msg.is_some() {
                return Ok(self.take_payload(data));
            }
            if data.is_empty() {
                return Ok(None);
            }
            let line = match memchr::memchr(b'\n', data) {
                Some(i) if self.line.is_empty() => data.split_to(i + 1),
                Some(i) => {
                    self.line.extend_from_slice(&data[..=i]);
                    data.advance(i + 1);
                    Bytes::from(std::mem::take(&mut self.line))
                }
                None => {
                    self.line.extend_from_slice(data);
                    data.clear();
                    return self.check_partial().map(|_| None);
                }
            };
            if let Some(op) = self.parse_line(line, data)? {
                return Ok(Some(op));
            }
        }
    }

    fn take_payload(&mut self, data: &mut Bytes) -> Option<RouteOp> {
        let msg = self.msg.as_mut().expect("pending message");
        if msg.buf.is_empty() && data.len() >= msg.need {
            let payload = data.split_to(msg.need);
            let msg = self.msg.take().expect("pending message");
            return Some(finish(msg.head, payload));
        }
        if msg.buf.is_empty() {
            msg.buf.reserve(msg.need);
        }
        let take = (msg.need - msg.buf.len()).min(data.len());
        msg.buf.extend_from_slice(&data[..take]);
        data.advance(take);
        if msg.buf.len() < msg.need {
            return None;
        }
        let msg = self.msg.take().expect("pending message");
        Some(finish(msg.head, msg.buf.freeze()))
    }

    /// A line without its end may still be growing: refuse it as soon as no verb fits or
    /// it is longer than the limit.
    fn check_partial(&self) -> Result<(), RouteParseError> {
        let line = &self.line;
        let fits = VERBS.iter().any(|&(word, _)| {
            let n = line.len().min(word.len());
            line[..n].eq_ignore_ascii_case(&word[..n])
        });
        if !fits {
            return Err(RouteParseError::UnknownOp);
        }
        // Measured as a complete line's arguments are, so that how the bytes were split
        // never changes the outcome.
        let verb = VERBS
            .iter()
            .filter(|&&(word, _)| {
                line.len() >= word.len() && line[..word.len()].eq_ignore_ascii_case(word)
            })
            .map(|&(word, _)| word.len())
            .max()
            .unwrap_or(line.len());
        let body = line[verb..].strip_suffix(b"\r").unwrap_or(&line[verb..]);
        let blanks = body
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        if body.len() - blanks > self.max_control_line {
            return Err(RouteParseError::MaxControlLine);
        }
        Ok(())
    }

    fn parse_line(
        &mut self,
        line: Bytes,
        data: &mut Bytes,
    ) -> Result<Option<RouteOp>, RouteParseError> {
        let text = trim_end(&line);
        let verb: &'static [u8] = VERBS
            .iter()
            .find(|&&(word, blank)| {
                text.len() >= word.len()
                    && text[..word.len()].eq_ignore_ascii_case(word)
                    && (!blank || matches!(text.get(word.len()), Some(b' ' | b'\t')))
            })
            .map(|&(word, _)| word)
            .ok_or(RouteParseError::UnknownOp)?;
        let rest = &text[verb.len()..];
        let skip = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let (args_at, end) = (verb.len() + skip, text.len());
        if end - args_at > self.max_control_line {
            return Err(RouteParseError::MaxControlLine);
        }
        // The verbs in `VERBS` are spelled in capitals: what matched is one of them.
        let op = match verb {
            b"PING" => RouteOp::Ping,
            b"PONG" => RouteOp::Pong,
            b"+OK" => RouteOp::Ok,
            b"-ERR" => RouteOp::Err(line.slice(args_at..end)),
            b"INFO" => RouteOp::Info(line.slice(args_at..end)),
            b"CONNECT" => RouteOp::Connect(line.slice(args_at..end)),
            b"A+" | b"A-" => RouteOp::AccountInterest,
            b"RS+" | b"LS+" => sub(&line.slice(args_at..end), verb[0] == b'L')?,
            b"RS-" | b"LS-" => unsub(&line.slice(args_at..end))?,
            _ => {
                let (head, size) = msg_head(verb, line, args_at, end)?;
                if size > self.max_payload {
                    return Err(RouteParseError::MaxPayload { size });
                }
                self.msg = Some(Pending {
                    head,
                    need: size as usize + 2,
                    buf: BytesMut::new(),
                });
                return Ok(self.take_payload(data));
            }
        };
        Ok(Some(op))
    }
}

/// The payload with its `\r\n` ends the message (a missing `\r\n` is tolerated, as the
/// reference only counts bytes).
fn finish(head: MsgHead, mut payload: Bytes) -> RouteOp {
    payload.truncate(payload.len().saturating_sub(2));
    RouteOp::Msg(RoutedMsg {
        line: head.line,
        account: head.account,
        subject: head.subject,
        reply: head.reply,
        queues: head.queues,
        header_len: head.header_len,
        payload,
    })
}

fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The arguments of a line, split on blanks, as shared slices of it.
fn split(args: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in args.iter().enumerate() {
        match (matches!(b, b' ' | b'\t'), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push(args.slice(s..i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(args.slice(s..));
    }
    out
}

fn bad(op: &str, args: &Bytes) -> RouteParseError {
    RouteParseError::BadArgs(format!("{op} {}", String::from_utf8_lossy(args)))
}

fn sub(args: &Bytes, has_origin: bool) -> Result<RouteOp, RouteParseError> {
    let parts = split(args);
    let parts = &parts[usize::from(has_origin).min(parts.len())..];
    match parts {
        [account, subject] => Ok(RouteOp::Sub {
            account: account.clone(),
            subject: subject.clone(),
            queue: None,
        }),
        [account, subject, queue, weight] => {
            let weight = parse_size(weight)
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| bad("RS+", args))?;
            Ok(RouteOp::Sub {
                account: account.clone(),
                subject: subject.clone(),
                queue: Some((queue.clone(), weight)),
            })
        }
        _ => Err(bad("RS+", args)),
    }
}

fn unsub(args: &Bytes) -> Result<RouteOp, RouteParseError> {
    match split(args).as_slice() {
        [account, subject] => Ok(RouteOp::Unsub {
            account: account.clone(),
            subject: subject.clone(),
            queue: None,
        }),
        [account, subject, queue] => Ok(RouteOp::Unsub {
            account: account.clone(),
            subject: subject.clone(),
            queue: Some(queue.clone()),
        }),
        _ => Err(bad("RS-", args)),
    }
}

/// Reads `RMSG`/`HMSG`/`LMSG` arguments, `line[from..to]`: the head and the total size.
fn msg_head(
    verb: &[u8],
    line: Bytes,
    from: usize,
    to: usize,
) -> Result<(MsgHead, u64), RouteParseError> {
    let mut spans = [(0u32, 0u32); MAX_MSG_ARGS];
    let mut n = 0;
    let mut start = None;
    for i in from..=to {
        let blank = i == to || matches!(line[i], b' ' | b'\t');
        match (blank, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                if n == MAX_MSG_ARGS {
                    return Err(bad_msg(verb, &line, from, to));
                }
                spans[n] = (s as u32, i as u32);
                n += 1;
                start = None;
            }
            _ => {}
        }
    }
    let mut parts = &spans[..n];
    if verb == b"LMSG" && !parts.is_empty() {
        parts = &parts[1..]; // the origin cluster
    }
    let headers = verb != b"RMSG";
    // account subject, then [reply | + reply queues.. | | queues..], then sizes.
    let sizes = if headers { 2 } else { 1 };
    if parts.len() < 2 + sizes {
        return Err(bad_msg(verb, &line, from, to));
    }
    let field = |(a, b): Span| &line[a as usize..b as usize];
    let size_at = parts.len() - sizes;
    let (reply, queues) = match &parts[2..size_at] {
        [] => (None, Vec::new()),
        [reply] => (Some(*reply), Vec::new()),
        [flag, reply, queues @ ..] if field(*flag) == b"+" => (Some(*reply), queues.to_vec()),
        [flag, queues @ ..] if field(*flag) == b"|" => (None, queues.to_vec()),
        _ => return Err(bad_msg(verb, &line, from, to)),
    };
    let total = parse_size(field(parts[parts.len() - 1]));
    let total = total.ok_or_else(|| bad_msg(verb, &line, from, to))?;
    let header_len = match headers {
        true => {
            let h = parse_size(field(parts[size_at]));
            let h = h.filter(|&h| h <= total);
            let h = h.ok_or_else(|| bad_msg(verb, &line, from, to))?;
            // LMSG always has a header size; zero means none.
            (h > 0).then_some(h as usize)
        }
        false => None,
    };
    let head = MsgHead {
        account: parts[0],
        subject: parts[1],
        reply,
        queues,
        header_len,
        line,
    };
    Ok((head, total))
}

/// More arguments than any message line has: an origin, an account, a subject, a reply
/// marker and reply, two sizes, and this many queue groups at most.
const MAX_MSG_ARGS: usize = 64;

fn bad_msg(verb: &[u8], line: &Bytes, from: usize, to: usize) -> RouteParseError {
    RouteParseError::BadArgs(format!(
        "{} {}",
        String::from_utf8_lossy(verb),
        String::from_utf8_lossy(&line[from..to])
    ))
}

fn parse_size(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    b.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8], chunk: usize) -> Result<Vec<RouteOp>, RouteParseError> {
        let mut p = RouteParser::new(4096, 1 << 20);
        let mut ops = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let mut data = Bytes::copy_from_slice(piece);
            while let Some(op) = p.next(&mut data)? {
                ops.push(op);
            }
        }
        Ok(ops)
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    const STREAM: &[u8] = b"INFO {\"server_id\":\"X\"}\r\nCONNECT {}\r\nPING\r\nPONG\r\n\
        RS+ $G foo\r\nRS+ $G bar q 3\r\nLS+ cl $G baz\r\nRS- $G foo\r\nRS- $G bar q\r\n\
        RMSG $G foo 5\r\nhello\r\nRMSG $G foo _INBOX.1 2\r\nhi\r\n\
        RMSG $G foo + r q1 q2 1\r\nx\r\nRMSG $G foo | q1 0\r\n\r\n\
        HMSG $G foo 12 14\r\nNATS/1.0\r\n\r\nab\r\nLMSG cl $G foo 0 2\r\nok\r\nA+ $G\r\n-ERR 'x'\r\n";

    #[test]
    fn every_verb_and_every_split() {
        let whole = parse_all(STREAM, STREAM.len()).unwrap();
        assert_eq!(whole.len(), 17);
        assert_eq!(whole[0], RouteOp::Info(b("{\"server_id\":\"X\"}")));
        assert_eq!(
            whole[5],
            RouteOp::Sub {
                account: b("$G"),
                subject: b("bar"),
                queue: Some((b("q"), 3))
            }
        );
        assert_eq!(
            whole[6],
            RouteOp::Sub {
                account: b("$G"),
                subject: b("baz"),
                queue: None
            }
        );
        let msg = |i: usize| match &whole[i] {
            RouteOp::Msg(m) => {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (
                    text(m.account()),
                    text(m.subject()),
                    m.reply().map(text),
                    m.queues().map(text).collect::<Vec<_>>(),
                    m.header_len,
                    text(&m.payload),
                )
            }
            other => panic!("{other:?}"),
        };
        let s = |t: &str| t.to_string();
        assert_eq!(msg(9), (s("$G"), s("foo"), None, vec![], None, s("hello")));
        let reply = Some(s("_INBOX.1"));
        assert_eq!(msg(10), (s("$G"), s("foo"), reply, vec![], None, s("hi")));
        let queues = vec![s("q1"), s("q2")];
        assert_eq!(
            msg(11),
            (s("$G"), s("foo"), Some(s("r")), queues, None, s("x"))
        );
        assert_eq!(
            msg(12),
            (s("$G"), s("foo"), None, vec![s("q1")], None, s(""))
        );
        let hmsg = (
            s("$G"),
            s("foo"),
            None,
            vec![],
            Some(12),
            s("NATS/1.0\r\n\r\nab"),
        );
        assert_eq!(msg(13), hmsg);
        assert_eq!(msg(14), (s("$G"), s("foo"), None, vec![], None, s("ok")));
        for chunk in 1..40 {
            assert_eq!(parse_all(STREAM, chunk).unwrap(), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse_all(b"PUB foo 1\r\n", 64),
            Err(RouteParseError::UnknownOp)
        );
        assert_eq!(parse_all(b"XYZ", 64), Err(RouteParseError::UnknownOp));
        assert!(matches!(
            parse_all(b"RMSG $G foo\r\n", 64),
            Err(RouteParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"HMSG $G foo 5 2\r\n", 64),
            Err(RouteParseError::BadArgs(_))
        ));
        assert!(matches!(
            parse_all(b"RS+ $G\r\n", 64),
            Err(RouteParseError::BadArgs(_))
        ));
        assert_eq!(
            parse_all(b"RMSG $G foo 2000000\r\n", 64),
            Err(RouteParseError::MaxPayload { size: 2_000_000 })
        );
        let long = format!("RS+ $G {}\r\n", "a".repeat(5000));
        assert_eq!(
            parse_all(long.as_bytes(), 100),
            Err(RouteParseError::MaxControlLine)
        );
        assert_eq!(
            parse_all(long.as_bytes(), 10_000),
            Err(RouteParseError::MaxControlLine)
        );
    }
}
