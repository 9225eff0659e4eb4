//! Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`): how many messages a
//! client asks for, for how long, and the status messages that end a request.

use bytes::Bytes;
use serde::Deserialize;

/// A pull request as it waits for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequest {
    /// Where its messages and status go.
    pub reply: Bytes,
    /// Messages still owed.
    pub batch: u64,
    /// Bytes still allowed (`None`: no limit).
    pub max_bytes: Option<u64>,
    /// When it expires (wall nanoseconds), if ever.
    pub expires: Option<u64>,
    /// Answer at once with what there is, and 404 when there is nothing.
    pub no_wait: bool,
    /// How often to send an idle heartbeat while it waits (nanoseconds, 0 for never).
    pub heartbeat: u64,
    /// When the next heartbeat is due.
    pub next_heartbeat: Option<u64>,
    /// Whether any message was sent for it yet.
    pub delivered_any: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RequestJson {
    batch: i64,
    expires: i64,
    no_wait: bool,
    max_bytes: i64,
    idle_heartbeat: i64,
}

impl PullRequest {
    /// Parses a request body: empty for one message, a number for a batch, or JSON.
    pub fn parse(reply: Bytes, body: &[u8], now: u64) -> Option<PullRequest> {
        let body = body.trim_ascii();
        let json = if body.is_empty() {
            RequestJson::default()
        } else if body.iter().all(u8::is_ascii_digit) {
            RequestJson {
                batch: std::str::from_utf8(body).ok()?.parse().ok()?,
                ..RequestJson::default()
            }
        } else {
            serde_json::from_slice(body).ok()?
        };
        // A batch below 1 asks for one message, as in the reference.
        if json.expires < 0 || json.max_bytes < 0 || json.idle_heartbeat < 0 {
            return None;
        }
        let heartbeat = json.idle_heartbeat as u64;
        Some(PullRequest {
            reply,
            batch: json.batch.max(1) as u64,
            max_bytes: (json.max_bytes > 0).then_some(json.max_bytes as u64),
            expires: (json.expires > 0).then(|| now.saturating_add(json.expires as u64)),
            no_wait: json.no_wait,
            heartbeat,
            next_heartbeat: (heartbeat > 0).then(|| now.saturating_add(heartbeat)),
            delivered_any: false,
        })
    }
}

/// A status message's header block (`NATS/1.0 <code> <text>` and extra lines).
pub fn status(code: u16, text: &str, extra: &[(&str, String)]) -> Bytes {
    let mut out = format!("NATS/1.0 {code} {text}\r\n");
    for (k, v) in extra {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// The 408 that ends an expired request, with what it was still owed.
pub fn request_timeout(req: &PullRequest) -> Bytes {
    with_pending(408, "Request Timeout", req)
}

/// A status that ends `req`, with what it was still owed (408, and 409 for a message
/// bigger than its `max_bytes`).
pub fn with_pending(code: u16, text: &str, req: &PullRequest) -> Bytes {
    status(
        code,
        text,
        &[
            ("Nats-Pending-Messages", req.batch.to_string()),
            ("Nats-Pending-Bytes", req.max_bytes.unwrap_or(0).to_string()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let r = |body: &[u8]| PullRequest::parse(Bytes::from_static(b"r"), body, 100);
        assert_eq!(r(b"").unwrap().batch, 1);
        assert_eq!(r(b"7").unwrap().batch, 7);
        let j = r(br#"{"batch":5,"expires":300,"no_wait":true,"max_bytes":10}"#).unwrap();
        assert_eq!(
            (j.batch, j.expires, j.no_wait, j.max_bytes),
            (5, Some(400), true, Some(10))
        );
        assert!(r(b"{nope").is_none());
        assert_eq!(r(br#"{"batch":-1}"#).unwrap().batch, 1);
        assert!(r(br#"{"batch":1,"expires":-5}"#).is_none());
    }

    #[test]
    fn status_lines_as_the_reference() {
        assert_eq!(
            &status(404, "No Messages", &[])[..],
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
        let req = PullRequest::parse(Bytes::new(), b"5", 0).unwrap();
        assert_eq!(
            &request_timeout(&req)[..],
            &b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 0\r\n\r\n"[..]
        );
        let req = PullRequest::parse(Bytes::new(), br#"{"batch":5,"max_bytes":10}"#, 0).unwrap();
        assert_eq!(
            &with_pending(409, "Message Size Exceeds MaxBytes", &req)[..],
            &b"NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 5\r\nNats-Pending-Bytes: 10\r\n\r\n"[..]
        );
    }
}
