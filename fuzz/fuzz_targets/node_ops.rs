//! Structured sessions of client operations and faults against a whole node: it must never
//! panic, must keep its counts consistent, and must forget everything of a connection once
//! it is closed. A session runs either on an open server or on a secured one (users with
//! permissions in two accounts joined by exports and imports, a bcrypt user whose checks
//! the harness answers like the shell would, a no_auth_user), with or without JetStream,
//! whose API requests (well-formed or arbitrary JSON), acks and pulls it also sends.
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
    jetstream: bool,
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
    /// A JetStream request: one of [`JS_SUBJECTS`] with one of [`JS_BODIES`] or any bytes.
    Js { conn: u8, subject: u8, body: Result<u8, Vec<u8>> },
}

const JS_SUBJECTS: &[&str] = &[
    "$JS.API.INFO",
    "$JS.API.STREAM.CREATE.S",
    "$JS.API.STREAM.UPDATE.S",
    "$JS.API.STREAM.INFO.S",
    "$JS.API.STREAM.NAMES",
    "$JS.API.STREAM.LIST",
    "$JS.API.STREAM.PURGE.S",
    "$JS.API.STREAM.DELETE.S",
    "$JS.API.STREAM.MSG.GET.S",
    "$JS.API.STREAM.MSG.DELETE.S",
    "$JS.API.DIRECT.GET.S",
    "$JS.API.STREAM.CREATE.M",
    "$JS.API.CONSUMER.CREATE.S",
    "$JS.API.CONSUMER.DURABLE.CREATE.S.D",
    "$JS.API.CONSUMER.CREATE.S.N.foo.bar",
    "$JS.API.CONSUMER.INFO.S.D",
    "$JS.API.CONSUMER.NAMES.S",
    "$JS.API.CONSUMER.LIST.S",
    "$JS.API.CONSUMER.DELETE.S.D",
    "$JS.API.CONSUMER.MSG.NEXT.S.D",
    "$JS.ACK.S.D.1.1.1.0.0",
    "$JS.ACK.S.D.2.2.2.0.0",
];

const JS_BODIES: &[&str] = &[
    "",
    r#"{"name":"S","subjects":["foo.>","a.b.c"],"storage":"memory","max_msgs":5}"#,
    r#"{"name":"S","subjects":["foo.>"],"storage":"file","retention":"workqueue"}"#,
    r#"{"name":"S","subjects":["foo.*"],"retention":"interest","republish":{"dest":"_INBOX.rp"}}"#,
    r#"{"name":"M","storage":"memory","mirror":{"name":"S"}}"#,
    r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":3}}"#,
    r#"{"stream_name":"S","config":{"deliver_subject":"_INBOX.push","idle_heartbeat":1000000000,"flow_control":true}}"#,
    r#"{"stream_name":"S","config":{"name":"N","filter_subject":"foo.bar","deliver_policy":"last_per_subject"}}"#,
    r#"{"batch":3,"expires":2000000000}"#,
    r#"{"batch":2,"no_wait":true}"#,
    r#"{"seq":1}"#,
    r#"{"last_by_subj":"foo.bar"}"#,
    r#"{"filter":"foo.*","keep":1}"#,
    "+ACK",
    r#"-NAK {"delay":1000000000}"#,
    "+WPI",
    "+TERM",
    "+NXT 2",
];

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

fn options(secured: bool, jetstream: bool) -> Options {
    let mut opts = Options {
        jetstream,
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
    let Session {
        secured,
        jetstream,
        steps,
    } = session;
    let opts = options(secured, jetstream);
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
            Step::Js { conn, subject, body } => {
                let subject = JS_SUBJECTS[usize::from(subject) % JS_SUBJECTS.len()];
                let body = match body {
                    Ok(i) => JS_BODIES[usize::from(i) % JS_BODIES.len()].as_bytes().to_vec(),
                    Err(bytes) => bytes,
                };
                let mut line = format!("PUB {subject} _INBOX.js {}\r\n", body.len()).into_bytes();
                line.extend_from_slice(&body);
                line.extend_from_slice(b"\r\n");
                (pick(&conns, conn), line)
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
                // Writes are durable at once, as a shell with an instant disk would say.
                Output::Persist { batch, .. } => node.persisted(now, batch, Ok(())),
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
