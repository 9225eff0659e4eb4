//! Node tests in the quinn-proto style: a node driven by hand with bytes and time, and
//! assertions on exactly what it would write and do.

use std::time::Duration;

use super::*;
use crate::auth::AuthConfig;

mod auth;
mod cluster;
mod jetstream;
mod jetstream_external;
mod lame_duck;
mod monitor;
mod reload;
mod system;

/// A node plus the bytes each connection has been sent and which were closed.
struct Harness {
    node: Node,
    now: Instant,
    sent: FixedMap<ConnId, Vec<u8>>,
    closed: Vec<ConnId>,
    logs: Vec<String>,
    /// JetStream writes asked for and not yet reported durable, by batch.
    writes: Vec<(u64, Vec<crate::jetstream::persist::DiskOp>)>,
    /// Whether writes are reported durable at once (else [`Harness::finish_writes`]).
    instant_writes: bool,
    /// System requests asked of the shell: (endpoint, reply).
    system_requests: Vec<(String, Bytes)>,
}

impl Harness {
    fn new(opts: Options) -> Harness {
        Harness {
            node: Node::new(opts, 4222, 42),
            now: Instant::ZERO,
            sent: FixedMap::default(),
            closed: Vec::new(),
            logs: Vec::new(),
            writes: Vec::new(),
            instant_writes: true,
            system_requests: Vec::new(),
        }
    }

    fn accept(&mut self) -> ConnId {
        let id = self
            .node
            .accept(self.now, "127.0.0.1:5000".parse().unwrap());
        self.pump();
        id
    }

    /// A connection past its INFO with a `CONNECT` using `json`.
    fn client(&mut self, json: &str) -> ConnId {
        let id = self.accept();
        self.send(id, &format!("CONNECT {json}\r\n"));
        self.take(id);
        id
    }

    fn send(&mut self, id: ConnId, data: &str) {
        self.send_bytes(id, data.as_bytes());
    }

    fn send_bytes(&mut self, id: ConnId, data: &[u8]) {
        self.node
            .receive(self.now, id, Bytes::copy_from_slice(data));
        self.pump();
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        self.node.tick(self.now);
        self.pump();
    }

    /// Carries out outputs like a shell whose writes always succeed at once, and ticks
    /// when the node asks for it by now.
    fn pump(&mut self) {
        loop {
            self.drain_outputs();
            if self.node.poll_timeout().is_none_or(|at| at > self.now) {
                return;
            }
            self.node.tick(self.now);
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(out) = self.node.poll_output() {
            match out {
                Output::Transmit(id) => {
                    let mut bufs = Vec::new();
                    self.node.take_outbound(id, &mut bufs);
                    let n: usize = bufs.iter().map(|b| b.len()).sum();
                    self.sent.entry(id).or_default().extend(bufs.concat());
                    self.node.written(id, n);
                }
                Output::Close { conn, last } => {
                    self.sent.entry(conn).or_default().extend(last.concat());
                    self.closed.push(conn);
                }
                Output::Log { text, .. } => self.logs.push(text),
                Output::VerifyBcrypt { conn, hash, secret } => {
                    let ok = bcrypt::verify(&secret, &hash).unwrap_or(false);
                    self.node.bcrypt_verified(self.now, conn, ok);
                }
                Output::SystemRequest { endpoint, reply } => {
                    self.system_requests.push((endpoint, reply));
                }
                Output::Persist { batch, ops } => {
                    self.writes.push((batch, ops));
                    if self.instant_writes {
                        self.node.persisted(self.now, batch, Ok(()));
                    }
                }
                Output::DialRoute { .. } => panic!("single-node tests have no routes"),
            }
        }
    }

    /// Reports every outstanding write durable.
    fn finish_writes(&mut self) {
        let batches: Vec<u64> = self.writes.iter().map(|(b, _)| *b).collect();
        for batch in batches {
            self.node.persisted(self.now, batch, Ok(()));
        }
        self.pump();
    }

    /// Everything sent to `id` since the last call, as text.
    fn take(&mut self, id: ConnId) -> String {
        String::from_utf8(self.sent.remove(&id).unwrap_or_default()).unwrap()
    }

    fn is_closed(&self, id: ConnId) -> bool {
        self.closed.contains(&id)
    }
}

const QUIET: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#;

#[test]
fn info_on_accept() {
    let mut h = Harness::new(Options::default());
    let id = h.accept();
    let info = h.take(id);
    assert!(info.starts_with("INFO {\"server_id\":\"N"), "{info}");
    assert!(info.contains("\"version\":\"2.9.10\""));
    assert!(info.contains("\"client_id\":1,\"client_ip\":\"127.0.0.1\""));
    assert!(info.ends_with("} \r\n"));
}

#[test]
fn verbose_is_the_default_before_connect() {
    let mut h = Harness::new(Options::default());
    let id = h.accept();
    h.take(id);
    h.send(id, "CONNECT {}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n");
    assert_eq!(
        h.take(id),
        "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n"
    );
}

#[test]
fn pub_sub_across_connections_with_wildcards() {
    let mut h = Harness::new(Options::default());
    let sub = h.client(QUIET);
    let publ = h.client(QUIET);
    h.send(sub, "SUB foo.* 1\r\nSUB foo.> 2\r\nSUB bar 3\r\n");
    h.send(
        publ,
        "PUB foo.bar reply 5\r\nhello\r\nPUB foo.bar.baz 0\r\n\r\n",
    );
    let got = h.take(sub);
    assert!(got.contains("MSG foo.bar 1 reply 5\r\nhello\r\n"));
    assert!(got.contains("MSG foo.bar 2 reply 5\r\nhello\r\n"));
    assert!(got.contains("MSG foo.bar.baz 2 0\r\n\r\n"));
    assert_eq!(got.matches("MSG").count(), 3);
}

#[test]
fn queue_group_delivers_once_and_spreads() {
    let mut h = Harness::new(Options::default());
    let a = h.client(QUIET);
    let b = h.client(QUIET);
    let publ = h.client(QUIET);
    h.send(a, "SUB work q 1\r\n");
    h.send(b, "SUB work q 1\r\n");
    for _ in 0..100 {
        h.send(publ, "PUB work 1\r\nx\r\n");
    }
    let (na, nb) = (
        h.take(a).matches("MSG").count(),
        h.take(b).matches("MSG").count(),
    );
    assert_eq!(na + nb, 100);
    assert!(na > 10 && nb > 10, "a={na} b={nb}");
}

#[test]
fn echo_off_skips_own_subscriptions() {
    let mut h = Harness::new(Options::default());
    let c = h.client(r#"{"verbose":false,"echo":false}"#);
    h.send(c, "SUB foo 1\r\nPUB foo 1\r\na\r\nPING\r\n");
    assert_eq!(h.take(c), "PONG\r\n");
}

#[test]
fn unsub_with_max_auto_unsubscribes() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "SUB foo 1\r\nUNSUB 1 2\r\n");
    for _ in 0..3 {
        h.send(c, "PUB foo 1\r\na\r\n");
    }
    assert_eq!(h.take(c).matches("MSG").count(), 2);
    assert_eq!(h.node.num_subscriptions(), 0);
}

#[test]
fn no_responders_goes_to_the_reply_subscription() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "SUB _INBOX.> 9\r\nPUB svc _INBOX.abc 2\r\nhi\r\n");
    assert_eq!(
        h.take(c),
        "HMSG _INBOX.abc 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
    );
}

#[test]
fn headers_are_stripped_for_clients_without_them() {
    let mut h = Harness::new(Options::default());
    let old = h.client(r#"{"verbose":false}"#);
    let new = h.client(QUIET);
    h.send(old, "SUB foo 1\r\n");
    h.send(new, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert_eq!(h.take(old), "MSG foo 1 2\r\nhi\r\n");
}

#[test]
fn hpub_without_headers_support_closes() {
    let mut h = Harness::new(Options::default());
    let c = h.client(r#"{"verbose":false}"#);
    h.send(c, "HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
    assert!(h.is_closed(c));
}

#[test]
fn max_payload_violation_closes_without_allocating() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "PUB foo 999999999\r\n");
    assert_eq!(h.take(c), "-ERR 'Maximum Payload Violation'\r\n");
    assert!(h.is_closed(c));
    let d = h.client(QUIET);
    h.send(d, "PUB foo 2000000000\r\n");
    assert_eq!(h.take(d), "");
    assert!(h.is_closed(d));
}

#[test]
fn unknown_op_closes() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "FOO\r\n");
    assert_eq!(h.take(c), "-ERR 'Unknown Protocol Operation'\r\n");
    assert!(h.is_closed(c));
}

#[test]
fn invalid_subject_is_reported_and_connection_stays() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "SUB foo..bar 1\r\nPING\r\n");
    assert_eq!(h.take(c), "-ERR 'Invalid Subject'\r\nPONG\r\n");
    assert!(!h.is_closed(c));
}

#[test]
fn pedantic_publish_to_wildcard_warns_but_delivers() {
    let mut h = Harness::new(Options::default());
    let c = h.client(r#"{"verbose":false}"#);
    h.send(c, "SUB foo.* 1\r\nPUB foo.* 1\r\na\r\n");
    assert_eq!(
        h.take(c),
        "-ERR 'Invalid Publish Subject'\r\nMSG foo.* 1 1\r\na\r\n"
    );
}

#[test]
fn stale_connection_after_ping_max() {
    let opts = Options {
        ping_interval: Duration::from_secs(1),
        ping_max: 2,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let c = h.client(QUIET);
    // Steps longer than the interval plus the first PING's jitter.
    let step = Duration::from_millis(1250);
    h.advance(step);
    h.advance(step);
    assert_eq!(h.take(c), "PING\r\nPING\r\n");
    h.advance(step);
    assert_eq!(h.take(c), "-ERR 'Stale Connection'\r\n");
    assert!(h.is_closed(c));
}

#[test]
fn first_ping_comes_within_two_seconds() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.advance(Duration::from_millis(1900));
    assert_eq!(h.take(c), "");
    h.advance(Duration::from_millis(500));
    assert_eq!(h.take(c), "PING\r\n");
}

#[test]
fn answering_pings_keeps_the_connection_alive() {
    let opts = Options {
        ping_interval: Duration::from_secs(1),
        ping_max: 1,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let c = h.client(QUIET);
    let mut pings = 0;
    for _ in 0..10 {
        h.advance(Duration::from_millis(700));
        if h.take(c) == "PING\r\n" {
            pings += 1;
            h.send(c, "PONG\r\n");
        }
    }
    assert!(pings >= 2, "{pings}");
    assert!(!h.is_closed(c));
}

#[test]
fn busy_clients_are_not_pinged_after_the_first() {
    let opts = Options {
        ping_interval: Duration::from_secs(1),
        ping_max: 1,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let c = h.client(QUIET);
    h.advance(Duration::from_millis(1250));
    assert_eq!(h.take(c), "PING\r\n");
    h.send(c, "PONG\r\n");
    for _ in 0..10 {
        h.advance(Duration::from_millis(500));
        h.send(c, "PUB x 0\r\n\r\n");
    }
    assert_eq!(h.take(c), "");
    assert!(!h.is_closed(c));
}

#[test]
fn user_and_password_auth() {
    let opts = Options {
        auth: AuthConfig::single_user("u", "p"),
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let ok = h.accept();
    assert!(h.take(ok).contains("\"auth_required\":true"));
    h.send(
        ok,
        "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nPING\r\n",
    );
    assert_eq!(h.take(ok), "PONG\r\n");
    let bad = h.accept();
    h.take(bad);
    h.send(bad, "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n");
    assert_eq!(h.take(bad), "-ERR 'Authorization Violation'\r\n");
    assert!(h.is_closed(bad));
    let early = h.accept();
    h.take(early);
    h.send(early, "PING\r\n");
    assert_eq!(h.take(early), "-ERR 'Authorization Violation'\r\n");
}

#[test]
fn auth_timeout() {
    let opts = Options {
        auth: AuthConfig::token("t"),
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let c = h.accept();
    h.take(c);
    h.advance(Duration::from_secs(3));
    assert_eq!(h.take(c), "-ERR 'Authentication Timeout'\r\n");
    assert!(h.is_closed(c));
}

#[test]
fn slow_consumer_is_closed_and_counted() {
    let opts = Options {
        max_pending: 1000,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let slow = h.client(QUIET);
    let publ = h.client(QUIET);
    h.send(slow, "SUB foo 1\r\n");
    // Nobody drains `slow` now: take its bytes without reporting them written.
    let mut held = Vec::new();
    for _ in 0..20 {
        h.node
            .receive(h.now, publ, Bytes::from_static(b"PUB foo 100\r\n"));
        h.node.receive(h.now, publ, Bytes::from(vec![b'x'; 100]));
        h.node.receive(h.now, publ, Bytes::from_static(b"\r\n"));
        h.node.take_outbound(slow, &mut held);
    }
    h.pump();
    assert!(h.is_closed(slow));
    assert_eq!(h.node.stats().slow_consumers, 1);
    assert!(!h.is_closed(publ));
}

#[test]
fn max_connections_and_subscriptions() {
    let opts = Options {
        max_connections: 1,
        max_subscriptions: 1,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let a = h.client(QUIET);
    let b = h.accept();
    assert!(h
        .take(b)
        .ends_with("-ERR 'maximum connections exceeded'\r\n"));
    assert!(h.is_closed(b));
    h.send(a, "SUB a 1\r\nSUB b 2\r\n");
    assert_eq!(h.take(a), "-ERR 'maximum subscriptions exceeded'\r\n");
    assert!(!h.is_closed(a));
}

#[test]
fn closing_removes_subscriptions() {
    let mut h = Harness::new(Options::default());
    let c = h.client(QUIET);
    h.send(c, "SUB a 1\r\nSUB b q 2\r\n");
    assert_eq!(h.node.num_subscriptions(), 2);
    h.node.closed(c, CloseReason::ClientClosed);
    h.pump();
    assert_eq!(h.node.num_subscriptions(), 0);
    assert_eq!(h.node.num_clients(), 0);
}

#[test]
fn byte_at_a_time_matches_whole() {
    let script =
        "SUB foo 1\r\nPUB foo 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";
    let mut whole = Harness::new(Options::default());
    let c = whole.client(QUIET);
    whole.send(c, script);
    let mut split = Harness::new(Options::default());
    let d = split.client(QUIET);
    for b in script.as_bytes() {
        split.send_bytes(d, &[*b]);
    }
    assert_eq!(whole.take(c), split.take(d));
}

#[test]
fn same_seed_same_server_id() {
    let a = Node::new(Options::default(), 4222, 7);
    let b = Node::new(Options::default(), 4222, 7);
    let c = Node::new(Options::default(), 4222, 8);
    assert_eq!(a.info().server_id, b.info().server_id);
    assert_ne!(a.info().server_id, c.info().server_id);
}
