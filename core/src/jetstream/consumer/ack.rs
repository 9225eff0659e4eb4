//! The subjects and bodies of acknowledgements. Each delivered message carries a reply
//! subject that names its stream, consumer and sequences; clients parse it for the
//! message's metadata and publish their ack to it:
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`.
//! Newer servers add a domain and an account hash in front (`$JS.ACK.<domain>.<hash>.
//! <stream>...` plus a trailing token); both forms are read.

use std::time::Duration;

/// The prefix of every ack subject.
pub const ACK_PREFIX: &str = "$JS.ACK.";

/// A delivered message's identity, as its ack subject carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckMeta {
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
}

/// The ack subject of a delivery.
pub fn ack_subject(stream: &str, consumer: &str, meta: AckMeta, time: u64, pending: u64) -> String {
    format!(
        "{ACK_PREFIX}{stream}.{consumer}.{}.{}.{}.{time}.{pending}",
        meta.delivered, meta.stream_seq, meta.consumer_seq
    )
}

/// Reads an ack subject: its stream, consumer and message identity.
pub fn parse_ack_subject(subject: &str) -> Option<(&str, &str, AckMeta)> {
    let rest = subject.strip_prefix(ACK_PREFIX)?;
    let tokens: Vec<&str> = rest.split('.').collect();
    // v1: 7 tokens after the prefix; v2: domain and account hash first, and a random
    // token last (9 or more).
    let at = match tokens.len() {
        7 => 0,
        n if n >= 9 => 2,
        _ => return None,
    };
    let num = |i: usize| tokens[at + i].parse::<u64>().ok();
    Some((
        tokens[at],
        tokens[at + 1],
        AckMeta {
            delivered: num(2)?,
            stream_seq: num(3)?,
            consumer_seq: num(4)?,
        },
    ))
}

/// What an ack's body asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckKind {
    /// `+ACK` (or an empty body): processed.
    Ack,
    /// `-NAK`: redeliver, after `delay` if given.
    Nak { delay: Option<Duration> },
    /// `+WPI`: still working on it, restart the ack timer.
    Progress,
    /// `+NXT`: processed, and send the next message(s) to the ack's reply subject; the
    /// rest of the body is a pull request (a batch size or the JSON of one).
    Next { request: Vec<u8> },
    /// `+TERM`: never redeliver; the rest of the body is why.
    Term { reason: String },
}

/// Reads an ack body; `None` for one the server ignores.
pub fn parse_ack_body(body: &[u8]) -> Option<AckKind> {
    let body = body.trim_ascii();
    let (verb, rest) = match body.iter().position(|&b| b == b' ') {
        Some(i) => (&body[..i], body[i + 1..].trim_ascii()),
        None => (body, &b""[..]),
    };
    Some(match verb {
        b"" | b"+ACK" => AckKind::Ack,
        b"-NAK" => AckKind::Nak {
            delay: nak_delay(rest),
        },
        b"+WPI" => AckKind::Progress,
        b"+NXT" => AckKind::Next {
            request: rest.to_vec(),
        },
        b"+TERM" => AckKind::Term {
            reason: String::from_utf8_lossy(rest).into_owned(),
        },
        _ => return None,
    })
}

/// `-NAK {"delay": <nanoseconds>}`.
fn nak_delay(rest: &[u8]) -> Option<Duration> {
    #[derive(serde::Deserialize)]
    struct Delay {
        delay: i64,
    }
    let d: Delay = serde_json::from_slice(rest).ok()?;
    (d.delay > 0).then(|| Duration::from_nanos(d.delay as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip() {
        let meta = AckMeta {
            delivered: 2,
            stream_seq: 1,
            consumer_seq: 6,
        };
        let s = ack_subject("S", "D", meta, 1_795_773_845_290_236_412, 0);
        // As nats-server 2.9.10 wrote it for the same delivery.
        assert_eq!(s, "$JS.ACK.S.D.2.1.6.1795773845290236412.0");
        assert_eq!(parse_ack_subject(&s), Some(("S", "D", meta)));
        let v2 = "$JS.ACK.dom.HASH.S.D.2.1.6.1795773845290236412.0.xyz";
        assert_eq!(parse_ack_subject(v2), Some(("S", "D", meta)));
        assert_eq!(parse_ack_subject("$JS.ACK.S.D.x.1.6.1.0"), None);
        assert_eq!(parse_ack_subject("$JS.ACK.S.D"), None);
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_ack_body(b""), Some(AckKind::Ack));
        assert_eq!(parse_ack_body(b"+ACK"), Some(AckKind::Ack));
        assert_eq!(parse_ack_body(b"-NAK"), Some(AckKind::Nak { delay: None }));
        assert_eq!(
            parse_ack_body(br#"-NAK {"delay": 2000000000}"#),
            Some(AckKind::Nak {
                delay: Some(Duration::from_secs(2))
            })
        );
        assert_eq!(parse_ack_body(b"+WPI"), Some(AckKind::Progress));
        assert_eq!(
            parse_ack_body(b"+TERM bad input"),
            Some(AckKind::Term {
                reason: "bad input".into()
            })
        );
        assert_eq!(
            parse_ack_body(b"+NXT 5"),
            Some(AckKind::Next {
                request: b"5".to_vec()
            })
        );
        assert_eq!(parse_ack_body(b"bogus"), None);
    }
}
