//! Structured sessions of client operations and faults against a whole node: it must never
//! panic, must keep its counts consistent, and must forget everything of a connection once
//! it is closed. A session runs either on an open server or on a secured one (users with
//! permissions in two accounts joined by exports and imports, a bcrypt user whose checks
//! the harness answers like the shell would, a no_auth_user).
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rnats_core::node::{CloseReason, Node, Output};
use rnats_core::options::Options;
use rnats_core::time::Instant;

#[derive(Arbitrary, Debug)]
struct Session {
    secured: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Accept,
    Connect { conn: u8, verbose: bool, echo: bool, headers: bool, user: Option<u8> },
    Sub { conn: u8, subject: u8, queue: Option<u8>, sid: u8 },
    Unsub { conn: u8, sid: u8, max: Option<u8> },
    Pub { conn: u8, subject: u8, reply: Option<u8>, len: u8 },
    HPub { conn: u8, subject: u8, len: u8 },
    Raw { conn: u8, bytes: Vec<u8> },
    Drain { conn: u8 },
    Close { conn: u8 },
    Advance { secs: u8 },
}

const SUBJECTS: &[&str] = &["foo", "foo.bar", "foo.*", "foo.>", ">", "*.bar", "a.b.c", "_INBOX.x"];

/// Credentials a client may present: right and wrong ones.
const USERS: &[(&str, &str)] = &[("a", "pa"), ("b", "pb"), ("svc", "ps"), ("h", "right"), ("h", "wrong"), ("a", "x")];

/// What the bcrypt user's hash stands for; the harness answers checks against it.
const HASHED_SECRET: &str = "right";

const SECURED: &str = r#"
accounts {
  A: {
    users: [
      {user: a, password: pa, permissions: {publish: {allow: ["foo.>", "_INBOX.>"], deny: ["foo.bar"]}, subscribe: {deny: ["a.b.c"]}}}
      {user: h, password: "$2a$04$abcdefghijklmnopqrstuuJZ5uO7qC1kO1m6zUo1h8uV9n8j2d8y2"}
    ]
    exports: [{stream: "foo.>"}, {service: "*.bar", response_type: stream}]
  }
  B: {
    users: [
      {user: b, password: pb}
      {user: svc, password: ps, permissions: {subscribe: ["foo.*", "*.bar"], allow_responses: {max: 2}}}
    ]
    imports: [
      {stream: {account: A, subject: "foo.>"}, prefix: "_INBOX"}
      {service: {account: A, subject: "*.bar"}}
    ]
  }
}
no_auth_user: b
"#;

fn options(secured: bool) -> Options {
    let mut opts = Options {
        max_pending: 4096,
        ping_interval: Duration::from_secs(5),
        max_connections: 8,
        max_subscriptions: 16,
        ..Options::default()
    };
    if secured {
        let conf = rnats_core::conf::parse(SECURED).expect("the secured config parses");
        opts.apply_conf(&conf).expect("the secured config applies");
    }
    opts
}

fuzz_target!(|session: Session| {
    let Session { secured, steps } = session;
    let opts = options(secured);
    let mut node = Node::new(opts, 4222, 1);
    let mut now = Instant::ZERO;
    let mut conns: Vec<u64> = Vec::new();
    let mut open = std::collections::BTreeSet::new();
    let pick = |conns: &Vec<u64>, i: u8| -> Option<u64> {
        (!conns.is_empty()).then(|| conns[usize::from(i) % conns.len()])
    };
    for step in steps {
        let (conn, bytes): (Option<u64>, Vec<u8>) = match step {
            Step::Accept => {
                let id = node.accept(now, "127.0.0.1:1000".parse().unwrap());
                conns.push(id);
                open.insert(id);
                (None, Vec::new())
            }
            Step::Connect { conn, verbose, echo, headers, user } => {
                let creds = user
                    .map(|u| USERS[usize::from(u) % USERS.len()])
                    .map(|(u, p)| format!(",\"user\":\"{u}\",\"pass\":\"{p}\""))
                    .unwrap_or_default();
                (
                    pick(&conns, conn),
                    format!("CONNECT {{\"verbose\":{verbose},\"echo\":{echo},\"headers\":{headers},\"no_responders\":{headers}{creds}}}\r\n").into_bytes(),
                )
            }
            Step::Sub { conn, subject, queue, sid } => {
                let subject = SUBJECTS[usize::from(subject) % SUBJECTS.len()];
                let line = match queue {
                    Some(q) => format!("SUB {subject} q{} {sid}\r\n", q % 3),
                    None => format!("SUB {subject} {sid}\r\n"),
                };
                (pick(&conns, conn), line.into_bytes())
            }
            Step::Unsub { conn, sid, max } => {
                let line = match max {
                    Some(m) => format!("UNSUB {sid} {m}\r\n"),
                    None => format!("UNSUB {sid}\r\n"),
                };
                (pick(&conns, conn), line.into_bytes())
            }
            Step::Pub { conn, subject, reply, len } => {
                let subject = SUBJECTS[usize::from(subject) % SUBJECTS.len()];
                let mut line = match reply {
                    Some(r) => format!("PUB {subject} _INBOX.{r} {len}\r\n").into_bytes(),
                    None => format!("PUB {subject} {len}\r\n").into_bytes(),
                };
                line.extend(std::iter::repeat(b'x').take(usize::from(len)));
                line.extend_from_slice(b"\r\n");
                (pick(&conns, conn), line)
            }
            Step::HPub { conn, subject, len } => {
                let subject = SUBJECTS[usize::from(subject) % SUBJECTS.len()];
                let hdr = b"NATS/1.0\r\nA: b\r\n\r\n";
                let total = hdr.len() + usize::from(len);
                let mut line = format!("HPUB {subject} {} {total}\r\n", hdr.len()).into_bytes();
                line.extend_from_slice(hdr);
                line.extend(std::iter::repeat(b'y').take(usize::from(len)));
                line.extend_from_slice(b"\r\n");
                (pick(&conns, conn), line)
            }
            Step::Raw { conn, bytes } => (pick(&conns, conn), bytes),
            Step::Drain { conn } => {
                if let Some(id) = pick(&conns, conn) {
                    let mut out = Vec::new();
                    node.take_outbound(id, &mut out);
                    node.written(id, out.iter().map(|b| b.len()).sum());
                }
                (None, Vec::new())
            }
            Step::Close { conn } => {
                if let Some(id) = pick(&conns, conn) {
                    node.closed(id, CloseReason::ClientClosed);
                }
                (None, Vec::new())
            }
            Step::Advance { secs } => {
                now = now + Duration::from_secs(u64::from(secs % 8));
                node.tick(now);
                (None, Vec::new())
            }
        };
        if let Some(id) = conn {
            node.receive(now, id, Bytes::from(bytes));
        }
        while let Some(out) = node.poll_output() {
            match out {
                Output::Close { conn, .. } => assert!(open.remove(&conn), "closed twice: {conn}"),
                Output::VerifyBcrypt { conn, secret, .. } => {
                    node.bcrypt_verified(now, conn, secret == HASHED_SECRET)
                }
                _ => {}
            }
        }
        assert_eq!(node.num_clients(), open.len());
    }
    node.shutdown();
    while node.poll_output().is_some() {}
    assert_eq!(node.num_clients(), 0);
    assert_eq!(node.num_subscriptions(), 0);
});
