//! End-to-end tests: the real `rnats-server` binary driven by the `async-nats` client.
//!
//! Every test starts its own server on `127.0.0.1` and a random port (so they run in
//! parallel) and bounds every await with a timeout. `RNATS_BIN=/usr/sbin/nats-server cargo
//! test -p rnats-tests --test e2e` runs the same tests against the reference server.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;
use rnats_tests::Server;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod common;

use common::*;

#[tokio::test]
async fn pub_sub_delivers_in_order() {
    let srv = start([]);
    let subc = connect(&srv).await;
    let pubc = connect(&srv).await;
    let mut sub = within("subscribe", subc.subscribe("greet")).await.unwrap();
    sync(&subc).await;
    for i in 0..100 {
        within(
            "publish",
            pubc.publish("greet", format!("hello {i}").into()),
        )
        .await
        .unwrap();
    }
    sync(&pubc).await;
    for i in 0..100 {
        let m = next(&mut sub).await;
        assert_eq!(m.subject.as_str(), "greet");
        assert_eq!(m.payload, format!("hello {i}"));
        assert!(m.reply.is_none());
    }
    // Other subjects do not leak in.
    within("publish", pubc.publish("greeting", "no".into()))
        .await
        .unwrap();
    sync(&pubc).await;
    assert_quiet(&mut sub).await;
}

#[tokio::test]
async fn wildcards_star_and_gt() {
    let srv = start([]);
    let c = connect(&srv).await;
    // One connection only: its SUBs are processed before its PUBs, so no round trip is
    // needed (and `sync` would publish on a subject that `>` matches).
    let patterns = ["foo.*", "foo.>", "*.bar", "foo.*.baz", ">", "foo.bar"];
    let mut subs = Vec::new();
    for p in patterns {
        subs.push(within("subscribe", c.subscribe(p)).await.unwrap());
    }
    flush(&c).await;
    let subjects = ["foo", "foo.bar", "foo.bar.baz", "foo.x.baz", "x.bar", "bar"];
    for s in subjects {
        within("publish", c.publish(s, s.into())).await.unwrap();
    }
    flush(&c).await;
    let expected: [&[&str]; 6] = [
        &["foo.bar"],
        &["foo.bar", "foo.bar.baz", "foo.x.baz"],
        &["foo.bar", "x.bar"],
        &["foo.bar.baz", "foo.x.baz"],
        &subjects,
        &["foo.bar"],
    ];
    for ((p, sub), want) in patterns.iter().zip(subs.iter_mut()).zip(expected) {
        let mut got = Vec::new();
        for _ in 0..want.len() {
            let m = next(sub).await;
            assert_eq!(m.payload, m.subject.as_str());
            got.push(m.subject.to_string());
        }
        assert_eq!(got, want, "subscription {p}");
        assert_quiet(sub).await;
    }
}

#[tokio::test]
async fn queue_group_delivers_each_message_to_one_member() {
    let srv = start([]);
    const MEMBERS: usize = 3;
    const MSGS: usize = 300;
    let mut clients = Vec::new();
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let c = connect(&srv).await;
        let sub = within(
            "queue subscribe",
            c.queue_subscribe("work", "workers".into()),
        )
        .await
        .unwrap();
        sync(&c).await;
        members.push(sub.map(move |m| (i, m)));
        clients.push(c);
    }
    // A plain subscriber on the same subject gets everything.
    let pubc = connect(&srv).await;
    let mut plain = within("subscribe", pubc.subscribe("work")).await.unwrap();
    sync(&pubc).await;
    for i in 0..MSGS {
        within("publish", pubc.publish("work", i.to_string().into()))
            .await
            .unwrap();
    }
    sync(&pubc).await;

    let mut all = futures::stream::select_all(members);
    let mut per_member = [0usize; MEMBERS];
    let mut seen = vec![false; MSGS];
    for _ in 0..MSGS {
        let (i, m) = within("queue message", all.next())
            .await
            .expect("queue subscriptions ended");
        per_member[i] += 1;
        let n: usize = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
        assert!(!seen[n], "message {n} delivered twice in the group");
        seen[n] = true;
    }
    if let Ok(extra) = timeout(QUIET, all.next()).await {
        panic!("more than {MSGS} messages in the queue group: {extra:?}");
    }
    assert!(
        per_member.iter().all(|&n| n > 0),
        "messages not spread over members: {per_member:?}"
    );
    for i in 0..MSGS {
        assert_eq!(next(&mut plain).await.payload, i.to_string());
    }
    assert_quiet(&mut plain).await;
}

#[tokio::test]
async fn request_reply() {
    let srv = start([]);
    let responder = connect(&srv).await;
    let mut service = within("subscribe", responder.subscribe("svc.upper"))
        .await
        .unwrap();
    sync(&responder).await;
    let server_side = tokio::spawn(async move {
        while let Some(m) = service.next().await {
            let reply = m.reply.expect("request without reply subject");
            let up = String::from_utf8(m.payload.to_vec())
                .unwrap()
                .to_uppercase();
            responder.publish(reply, up.into()).await.unwrap();
        }
    });
    let c = connect(&srv).await;
    let answer = within("request", c.request("svc.upper", "hello".into()))
        .await
        .unwrap();
    assert_eq!(answer.payload, "HELLO");
    // Many requests in flight at once each get their own answer.
    let reqs = (0..50).map(|i| {
        let c = c.clone();
        async move {
            let m = c
                .request("svc.upper", format!("req{i}").into())
                .await
                .unwrap();
            assert_eq!(m.payload, format!("REQ{i}"));
        }
    });
    within("concurrent requests", futures::future::join_all(reqs)).await;
    server_side.abort();
}

#[tokio::test]
async fn request_without_responders_fails_fast() {
    let srv = start([]);
    let c = connect_with(
        &srv,
        ConnectOptions::new().request_timeout(Some(Duration::from_secs(5))),
    )
    .await;
    assert!(c.server_info().headers, "server must advertise headers");
    let started = std::time::Instant::now();
    let err = within("request", c.request("nobody.home", "hi".into()))
        .await
        .expect_err("request without responders succeeded");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no-responders answer came only after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn headers_round_trip() {
    let srv = start([]);
    let c = connect(&srv).await;
    let mut sub = within("subscribe", c.subscribe("hdr")).await.unwrap();
    sync(&c).await;
    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "abc-123");
    headers.append("X-Multi", "one");
    headers.append("X-Multi", "two");
    within(
        "publish with headers",
        c.publish_with_headers("hdr", headers, "body".into()),
    )
    .await
    .unwrap();
    // Headers with an empty payload.
    let mut only = HeaderMap::new();
    only.insert("Only", "header");
    within(
        "publish with headers",
        c.publish_with_headers("hdr", only, Bytes::new()),
    )
    .await
    .unwrap();
    sync(&c).await;

    let m = next(&mut sub).await;
    assert_eq!(m.payload, "body");
    let h = m.headers.expect("headers lost");
    assert_eq!(h.get("X-Trace").map(|v| v.as_str()), Some("abc-123"));
    let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect::<Vec<_>>();
    assert_eq!(multi, ["one", "two"]);

    let m = next(&mut sub).await;
    assert!(m.payload.is_empty());
    let h = m.headers.expect("headers lost");
    assert_eq!(h.get("Only").map(|v| v.as_str()), Some("header"));

    // Requests carry headers both ways.
    let mut svc = within("subscribe", c.subscribe("hdr.svc")).await.unwrap();
    sync(&c).await;
    let c2 = c.clone();
    let responder = tokio::spawn(async move {
        let m = svc.next().await.unwrap();
        let got = m.headers.unwrap().get("Req").unwrap().as_str().to_owned();
        let mut back = HeaderMap::new();
        back.insert("Resp", format!("{got}!").as_str());
        c2.publish_with_headers(m.reply.unwrap(), back, "pong".into())
            .await
            .unwrap();
    });
    let mut req = HeaderMap::new();
    req.insert("Req", "ping");
    let answer = within(
        "request with headers",
        c.request_with_headers("hdr.svc", req, "ping".into()),
    )
    .await
    .unwrap();
    assert_eq!(answer.payload, "pong");
    assert_eq!(
        answer
            .headers
            .unwrap()
            .get("Resp")
            .map(|v| v.as_str().to_owned()),
        Some("ping!".to_owned())
    );
    within("responder", responder).await.unwrap();
}

#[tokio::test]
async fn unsubscribe_after_max_messages() {
    let srv = start([]);
    let c = connect(&srv).await;
    let mut sub = within("subscribe", c.subscribe("limited")).await.unwrap();
    within("unsubscribe_after", sub.unsubscribe_after(3))
        .await
        .unwrap();
    sync(&c).await;
    // Watch the subject from another connection: all 5 messages are published.
    let other = connect(&srv).await;
    let mut watch = within("subscribe", other.subscribe("limited"))
        .await
        .unwrap();
    sync(&other).await;
    for i in 0..5 {
        within("publish", c.publish("limited", i.to_string().into()))
            .await
            .unwrap();
    }
    sync(&c).await;
    for i in 0..3 {
        assert_eq!(next(&mut sub).await.payload, i.to_string());
    }
    let end = within("end of subscription", sub.next()).await;
    assert!(end.is_none(), "got a message past the max: {end:?}");
    for i in 0..5 {
        assert_eq!(next(&mut watch).await.payload, i.to_string());
    }

    // Already-counted: unsubscribe_after(2) on a subscription that then receives 2.
    let mut sub2 = within("subscribe", c.subscribe("limited2")).await.unwrap();
    within("unsubscribe_after", sub2.unsubscribe_after(2))
        .await
        .unwrap();
    sync(&c).await;
    for i in 0..4 {
        within("publish", other.publish("limited2", i.to_string().into()))
            .await
            .unwrap();
    }
    sync(&other).await;
    assert_eq!(next(&mut sub2).await.payload, "0");
    assert_eq!(next(&mut sub2).await.payload, "1");
    let end = within("end of subscription", sub2.next()).await;
    assert!(end.is_none(), "got a message past the max: {end:?}");
}

#[tokio::test]
async fn no_echo_suppresses_own_messages_only() {
    let srv = start([]);
    let quiet = connect_with(&srv, ConnectOptions::new().no_echo()).await;
    let loud = connect(&srv).await;
    let mut quiet_sub = within("subscribe", quiet.subscribe("echo")).await.unwrap();
    let mut loud_sub = within("subscribe", loud.subscribe("echo")).await.unwrap();
    sync(&quiet).await;
    sync(&loud).await;

    within("publish", quiet.publish("echo", "from-quiet".into()))
        .await
        .unwrap();
    sync(&quiet).await;
    within("publish", loud.publish("echo", "from-loud".into()))
        .await
        .unwrap();
    sync(&loud).await;

    // The no-echo client sees only the other client's message.
    assert_eq!(next(&mut quiet_sub).await.payload, "from-loud");
    assert_quiet(&mut quiet_sub).await;
    // The echoing client sees both, its own included.
    assert_eq!(next(&mut loud_sub).await.payload, "from-quiet");
    assert_eq!(next(&mut loud_sub).await.payload, "from-loud");
    assert_quiet(&mut loud_sub).await;
}

/// `limits.conf` sets `max_payload: 512KB`.
const LIMITS_MAX_PAYLOAD: usize = 512 * 1024;

#[tokio::test]
async fn max_payload_exact_ok_and_over_rejected() {
    let srv = start(["-c", &config("limits.conf")]);
    let c = connect(&srv).await;
    assert_eq!(c.server_info().max_payload, LIMITS_MAX_PAYLOAD);
    let mut sub = within("subscribe", c.subscribe("big")).await.unwrap();
    sync(&c).await;

    let exact = Bytes::from(vec![b'x'; LIMITS_MAX_PAYLOAD]);
    within("publish exact", c.publish("big", exact.clone()))
        .await
        .expect("payload of exactly max_payload rejected");
    sync(&c).await;
    let m = next(&mut sub).await;
    assert_eq!(m.payload.len(), LIMITS_MAX_PAYLOAD);
    assert_eq!(m.payload, exact);

    // async-nats refuses a larger payload itself, without sending it.
    let over = Bytes::from(vec![b'y'; LIMITS_MAX_PAYLOAD + 1]);
    let err = within("publish over", c.publish("big", over))
        .await
        .expect_err("payload over max_payload accepted by the client");
    assert_eq!(
        err.kind(),
        async_nats::client::PublishErrorKind::MaxPayloadExceeded
    );
    // The client connection is still usable.
    sync(&c).await;
    within("publish", c.publish("big", "small".into()))
        .await
        .unwrap();
    sync(&c).await;
    assert_eq!(next(&mut sub).await.payload, "small");

    // A raw client that sends an oversized PUB anyway gets the reference's error and is
    // disconnected; nothing is delivered.
    let mut raw = RawConn::connect(&srv).await;
    raw.send(format!("PUB big {}\r\n", LIMITS_MAX_PAYLOAD + 1).as_bytes())
        .await;
    assert_eq!(raw.line().await, "-ERR 'Maximum Payload Violation'");
    raw.expect_closed().await;
    assert_quiet(&mut sub).await;

    // Other clients do not notice.
    sync(&c).await;
    assert_healthy(&srv).await;
}

/// A hand-driven protocol connection, for what the client library will not send.
struct RawConn {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl RawConn {
    /// Connects, reads INFO, sends CONNECT and checks the PONG.
    async fn connect(srv: &Server) -> RawConn {
        let stream = within("tcp connect", TcpStream::connect(srv.addr()))
            .await
            .unwrap();
        let (rd, wr) = stream.into_split();
        let mut conn = RawConn {
            rd: BufReader::new(rd),
            wr,
        };
        assert!(conn.line().await.starts_with("INFO {"));
        conn.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
            .await;
        assert_eq!(conn.line().await, "PONG");
        conn
    }

    async fn send(&mut self, bytes: &[u8]) {
        within("raw write", self.wr.write_all(bytes)).await.unwrap();
    }

    /// The next line, without CRLF.
    async fn line(&mut self) -> String {
        let mut s = String::new();
        let n = within("raw read", self.rd.read_line(&mut s)).await.unwrap();
        assert!(n > 0, "connection closed while waiting for a line");
        assert!(s.ends_with("\r\n"), "line without CRLF: {s:?}");
        s.truncate(s.len() - 2);
        s
    }

    async fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        let r = within("server to close", self.rd.read_to_end(&mut rest)).await;
        // A reset is as good as an orderly close.
        if r.is_ok() {
            assert!(rest.is_empty(), "unexpected data before close: {rest:?}");
        }
    }
}

#[tokio::test]
async fn flush_and_ping_round_trips() {
    let srv = start([]);
    let c = connect(&srv).await;
    for _ in 0..200 {
        flush(&c).await;
    }
    // Flushes from many tasks at once.
    let flushes = (0..100).map(|_| {
        let c = c.clone();
        async move { c.flush().await.unwrap() }
    });
    within("concurrent flushes", futures::future::join_all(flushes)).await;
    // Flush after publishes on the same connection: the messages loop back in order.
    let mut sub = within("subscribe", c.subscribe("f")).await.unwrap();
    for i in 0..10 {
        within("publish", c.publish("f", i.to_string().into()))
            .await
            .unwrap();
    }
    flush(&c).await;
    for i in 0..10 {
        assert_eq!(next(&mut sub).await.payload, i.to_string());
    }

    // Raw PING/PONG, including pipelined PINGs and PING before CONNECT is complete.
    let mut raw = RawConn::connect(&srv).await;
    raw.send(b"PING\r\nPING\r\nPING\r\n").await;
    for _ in 0..3 {
        assert_eq!(raw.line().await, "PONG");
    }
    // The server's own PING is answered by a PONG, which it accepts silently.
    raw.send(b"PONG\r\nPING\r\n").await;
    assert_eq!(raw.line().await, "PONG");
}

/// Client `i` of the many-connections tests: connects, flushes, and does a request (even
/// `i`) or a pub/sub loop on its own subject (odd `i`). Returns the still-open client.
async fn busy_client(url: String, i: usize) -> Result<Client, String> {
    let c = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(20))
        .connect(url)
        .await
        .map_err(|e| format!("client {i}: connect: {e}"))?;
    c.flush()
        .await
        .map_err(|e| format!("client {i}: flush: {e}"))?;
    if i.is_multiple_of(2) {
        let m = c
            .request("echo.svc", i.to_string().into())
            .await
            .map_err(|e| format!("client {i}: request: {e}"))?;
        if m.payload != i.to_string() {
            return Err(format!("client {i}: wrong reply {:?}", m.payload));
        }
    } else {
        let subject = format!("own.{i}");
        let mut sub = c
            .subscribe(subject.clone())
            .await
            .map_err(|e| format!("client {i}: subscribe: {e}"))?;
        c.publish(subject, "x".into())
            .await
            .map_err(|e| format!("client {i}: publish: {e}"))?;
        match sub.next().await {
            Some(m) if m.payload == "x" => {}
            other => return Err(format!("client {i}: got {other:?}")),
        }
    }
    Ok(c)
}

#[tokio::test]
async fn thousand_concurrent_connections() {
    const N: usize = 1000;
    let srv = start([]);
    let responder = connect(&srv).await;
    let mut svc = within("subscribe", responder.subscribe("echo.svc"))
        .await
        .unwrap();
    sync(&responder).await;
    let r2 = responder.clone();
    let service = tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            r2.publish(m.reply.unwrap(), m.payload).await.unwrap();
        }
    });

    let url = srv.url();
    // All 1000 clients connect at once and stay open together.
    let mut clients = Vec::new();
    let mut errors = Vec::new();
    let all = async {
        let tasks = (0..N).map(|i| tokio::spawn(busy_client(url.clone(), i)));
        for r in futures::future::join_all(tasks).await {
            match r.unwrap() {
                Ok(c) => clients.push(c),
                Err(e) => errors.push(e),
            }
        }
    };
    timeout(Duration::from_secs(60), all)
        .await
        .expect("1000 clients did not finish within 60 s");
    assert!(
        errors.is_empty(),
        "{} of {N} clients failed, first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // All 1000 are open at the same time; the server still answers.
    assert_eq!(clients.len(), N);
    assert_healthy(&srv).await;
    drop(clients);
    service.abort();
    assert_healthy(&srv).await;
}

/// All 1000 TCP connects at once, each waiting for the server's INFO. A listen backlog
/// shallower than the burst (tokio's default of 128) overflows the accept queue: the
/// client believes it is connected, the server never accepts the socket, and the client
/// waits forever for INFO. A regression test for exactly that.
#[tokio::test]
async fn thousand_simultaneous_connects() {
    const N: usize = 1000;
    let srv = start([]);
    let addr = srv.addr();
    let tasks = (0..N).map(|_| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let mut rd = BufReader::new(stream);
            let mut line = String::new();
            match timeout(Duration::from_secs(10), rd.read_line(&mut line)).await {
                Ok(Ok(_)) if line.starts_with("INFO {") => Ok(rd),
                Ok(r) => Err(format!("{r:?} {line:?}")),
                Err(_) => Err("no INFO within 10 s".to_owned()),
            }
        })
    });
    let results = timeout(Duration::from_secs(30), futures::future::join_all(tasks))
        .await
        .expect("connects did not finish");
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.unwrap().err())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {N} connections got no INFO, first: {:?}",
        failed.len(),
        failed.first()
    );
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn client_reconnects_after_server_restart() {
    let port = free_port().to_string();
    let mut srv = start(["-p", &port]);
    let c = connect_with(
        &srv,
        ConnectOptions::new()
            .ignore_discovered_servers()
            .max_reconnects(None)
            .reconnect_delay_callback(|_| Duration::from_millis(100)),
    )
    .await;
    let mut sub = within("subscribe", c.subscribe("again")).await.unwrap();
    sync(&c).await;
    within("publish", c.publish("again", "before".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, "before");

    srv.stop();
    let srv = start(["-p", &port]);
    assert_eq!(srv.port().to_string(), port);

    // Wait until the client is back and has resubscribed: publish until the message loops.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "client did not reconnect; state {:?}; log:\n{}",
            c.connection_state(),
            srv.log()
        );
        if c.connection_state() == async_nats::connection::State::Connected {
            let _ = c.publish("again", "after".into()).await;
            let _ = timeout(Duration::from_secs(1), c.flush()).await;
            if let Ok(Some(m)) = timeout(Duration::from_millis(300), sub.next()).await {
                assert_eq!(m.payload, "after");
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // And another client on the restarted server reaches the resubscribed one.
    let other = connect(&srv).await;
    within("publish", other.publish("again", "from-other".into()))
        .await
        .unwrap();
    sync(&other).await;
    loop {
        let m = next(&mut sub).await;
        if m.payload != "after" {
            assert_eq!(m.payload, "from-other");
            break;
        }
    }
}

#[tokio::test]
async fn user_password_auth() {
    let srv = start(["--user", "alice", "--pass", "wonder land"]);
    let good = connect_with(
        &srv,
        ConnectOptions::with_user_and_password("alice".into(), "wonder land".into()),
    )
    .await;
    sync(&good).await;

    for (what, opts) in [
        (
            "wrong password",
            ConnectOptions::with_user_and_password("alice".into(), "wrong".into()),
        ),
        (
            "wrong user",
            ConnectOptions::with_user_and_password("bob".into(), "wonder land".into()),
        ),
        ("no credentials", ConnectOptions::new()),
        ("token instead", ConnectOptions::with_token("alice".into())),
    ] {
        let r = within(what, opts.connect(srv.url())).await;
        let err = r.err().unwrap_or_else(|| panic!("{what}: connected"));
        assert_eq!(
            err.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation,
            "{what}: {err}"
        );
    }
    // The good client was not disturbed.
    sync(&good).await;
    let mut sub = within("subscribe", good.subscribe("auth")).await.unwrap();
    sync(&good).await;
    within("publish", good.publish("auth", "ok".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, "ok");
}

#[tokio::test]
async fn token_auth() {
    let srv = start(["--auth", "s3cr3t-t0ken"]);
    let good = connect_with(&srv, ConnectOptions::with_token("s3cr3t-t0ken".into())).await;
    sync(&good).await;
    for (what, opts) in [
        ("wrong token", ConnectOptions::with_token("nope".into())),
        ("no token", ConnectOptions::new()),
        (
            "user/pass instead",
            ConnectOptions::with_user_and_password("s3cr3t-t0ken".into(), "x".into()),
        ),
    ] {
        let r = within(what, opts.connect(srv.url())).await;
        let err = r.err().unwrap_or_else(|| panic!("{what}: connected"));
        assert_eq!(
            err.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation,
            "{what}: {err}"
        );
    }
    sync(&good).await;
}

#[tokio::test]
async fn config_file_user_auth() {
    // configs/auth-user.conf listens on 4222; the command line overrides it.
    let srv = start([
        "-c",
        &config("auth-user.conf"),
        "-p",
        "-1",
        "-a",
        "127.0.0.1",
    ]);
    assert_ne!(srv.port(), 4222);
    let good = connect_with(
        &srv,
        ConnectOptions::with_user_and_password("app".into(), "s3cret".into()),
    )
    .await;
    let err = within(
        "bad connect",
        ConnectOptions::with_user_and_password("app".into(), "wrong".into()).connect(srv.url()),
    )
    .await
    .expect_err("wrong password accepted");
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
    let answer_to = good.clone();
    let mut svc = within("subscribe", good.subscribe("cfg")).await.unwrap();
    sync(&good).await;
    let responder = tokio::spawn(async move {
        let m = svc.next().await.unwrap();
        answer_to
            .publish(m.reply.unwrap(), "from config".into())
            .await
            .unwrap();
    });
    let m = within("request", good.request("cfg", "q".into()))
        .await
        .unwrap();
    assert_eq!(m.payload, "from config");
    within("responder", responder).await.unwrap();
}

#[tokio::test]
async fn config_file_token_auth_with_include() {
    // configs/auth-token.conf includes limits.conf (max_payload 512KB) and uses a variable.
    let srv = start([
        "-c",
        &config("auth-token.conf"),
        "-p",
        "-1",
        "-a",
        "127.0.0.1",
    ]);
    let good = connect_with(&srv, ConnectOptions::with_token("example-token".into())).await;
    assert_eq!(good.server_info().max_payload, LIMITS_MAX_PAYLOAD);
    assert!(good.server_info().auth_required);
    sync(&good).await;
    let err = within(
        "bad connect",
        ConnectOptions::with_token("$TOKEN".into()).connect(srv.url()),
    )
    .await
    .expect_err("wrong token accepted");
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
}

/// A subscriber that stops reading is cut off as a slow consumer, and only it: the
/// publisher, which here also receives everything it publishes, keeps going. (The stuck
/// subscriber's bytes pile up in the socket, then in the server, until `max_pending` or
/// the write deadline is reached; the publisher's own backlog pauses its reads instead.)
#[tokio::test]
async fn a_subscriber_that_stops_reading_becomes_a_slow_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("slow.conf");
    std::fs::write(&conf, "max_pending: 4MB\nwrite_deadline: \"2s\"\n").unwrap();
    let srv = start(["-c", conf.to_str().unwrap(), "-m", "-1"]);
    let http = http_port(&srv);

    let mut stuck = RawConn::connect(&srv).await;
    stuck.send(b"SUB big 1\r\nPING\r\n").await;
    assert_eq!(stuck.line().await, "PONG");
    let c = connect(&srv).await;
    let mut sub = within("subscribe", c.subscribe("big")).await.unwrap();
    flush(&c).await;

    // 32 MiB, far more than the socket buffers and `max_pending` hold.
    let payload = Bytes::from(vec![b'x'; 64 * 1024]);
    let reader = tokio::spawn(async move {
        for _ in 0..512 {
            within("message", sub.next())
                .await
                .expect("subscription ended");
        }
    });
    for _ in 0..512 {
        within("publish", c.publish("big", payload.clone()))
            .await
            .unwrap();
    }
    flush(&c).await;
    within("the reading subscriber gets everything", reader)
        .await
        .unwrap();

    let deadline = std::time::Instant::now() + STEP;
    loop {
        let varz = json(http, "/varz").await;
        if varz["slow_consumers"].as_u64() == Some(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no slow consumer: {varz}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let closed = json(http, "/connz?state=closed").await;
    let reasons: Vec<&str> = closed["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["reason"].as_str())
        .collect();
    assert_eq!(reasons.len(), 1, "{closed}");
    assert!(reasons[0].starts_with("Slow Consumer"), "{closed}");
    flush(&c).await;
}
