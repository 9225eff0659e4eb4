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
    /// A message for the subscriptions here: `RMSG account subject [reply] size`, or with
    /// queue groups `RMSG account subject + reply q1 q2 size` / `... | q1 q2 size` (deliver
    /// to one member of each named group). `HMSG` and `LMSG` carry a header size too.
    Msg {
        account: Bytes,
        subject: Bytes,
        reply: Option<Bytes>,
        queues: Vec<Bytes>,
        header_len: Option<usize>,
        payload: Bytes,
    },
    /// `A+`/`A-`: nothing to do on a route.
    AccountInterest,
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
    account: Bytes,
    subject: Bytes,
    reply: Option<Bytes>,
    queues: Vec<Bytes>,
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
        let verb = VERBS
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
        let args_at = verb.len() + skip;
        if text.len() - args_at > self.max_control_line {
            return Err(RouteParseError::MaxControlLine);
        }
        let args = line.slice(args_at..text.len());
        let upper = verb.to_ascii_uppercase();
        let op = match upper.as_slice() {
            b"PING" => RouteOp::Ping,
            b"PONG" => RouteOp::Pong,
            b"+OK" => RouteOp::Ok,
            b"-ERR" => RouteOp::Err(args),
            b"INFO" => RouteOp::Info(args),
            b"CONNECT" => RouteOp::Connect(args),
            b"A+" | b"A-" => RouteOp::AccountInterest,
            b"RS+" | b"LS+" => sub(&args, upper[0] == b'L')?,
            b"RS-" | b"LS-" => unsub(&args)?,
            _ => {
                let head = msg_head(&upper, &args)?;
                let (head, size) = head;
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
    RouteOp::Msg {
        account: head.account,
        subject: head.subject,
        reply: head.reply,
        queues: head.queues,
        header_len: head.header_len,
        payload,
    }
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

/// Reads `RMSG`/`HMSG`/`LMSG` arguments: the head and the total size.
fn msg_head(verb: &[u8], args: &Bytes) -> Result<(MsgHead, u64), RouteParseError> {
    let name = String::from_utf8_lossy(verb).into_owned();
    let mut parts = split(args);
    if verb == b"LMSG" && !parts.is_empty() {
        parts.remove(0); // the origin cluster
    }
    let headers = verb != b"RMSG";
    // account subject, then [reply | + reply queues.. | | queues..], then sizes.
    let sizes = if headers { 2 } else { 1 };
    if parts.len() < 2 + sizes {
        return Err(bad(&name, args));
    }
    let size_at = parts.len() - sizes;
    let middle = &parts[2..size_at];
    let (reply, queues) = match middle {
        [] => (None, Vec::new()),
        [reply] => (Some(reply.clone()), Vec::new()),
        [flag, reply, queues @ ..] if flag.as_ref() == b"+" => {
            (Some(reply.clone()), queues.to_vec())
        }
        [flag, queues @ ..] if flag.as_ref() == b"|" => (None, queues.to_vec()),
        _ => return Err(bad(&name, args)),
    };
    let total = parse_size(&parts[parts.len() - 1]).ok_or_else(|| bad(&name, args))?;
    let header_len = match headers {
        true => {
            let h = parse_size(&parts[size_at]).ok_or_else(|| bad(&name, args))?;
            if h > total {
                return Err(bad(&name, args));
            }
            // LMSG always has a header size; zero means none.
            (h > 0).then_some(h as usize)
        }
        false => None,
    };
    let head = MsgHead {
        account: parts[0].clone(),
        subject: parts[1].clone(),
        reply,
        queues,
        header_len,
    };
    Ok((head, total))
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
        assert_eq!(
            whole[11],
            RouteOp::Msg {
                account: b("$G"),
                subject: b("foo"),
                reply: Some(b("r")),
                queues: vec![b("q1"), b("q2")],
                header_len: None,
                payload: b("x")
            }
        );
        assert_eq!(
            whole[12],
            RouteOp::Msg {
                account: b("$G"),
                subject: b("foo"),
                reply: None,
                queues: vec![b("q1")],
                header_len: None,
                payload: b("")
            }
        );
        assert_eq!(
            whole[13],
            RouteOp::Msg {
                account: b("$G"),
                subject: b("foo"),
                reply: None,
                queues: vec![],
                header_len: Some(12),
                payload: b("NATS/1.0\r\n\r\nab")
            }
        );
        assert!(
            matches!(&whole[14], RouteOp::Msg { header_len: None, payload, .. } if payload == "ok")
        );
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
