//! What the client-driven test files share: starting servers, bounded waits, and
//! round trips that prove the server has processed everything sent before them.
// Each test file compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions, Message, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use rnats_tests::{rnats_bin, Server};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(10);
/// How long to wait to be fairly sure that nothing more arrives.
pub const QUIET: Duration = Duration::from_millis(200);

pub fn start<const N: usize>(args: [&str; N]) -> Server {
    Server::start(&rnats_bin(), args).unwrap_or_else(|e| panic!("server did not start: {e}"))
}

pub fn config(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../configs")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Awaits `fut` for at most [`STEP`], panicking with `what` otherwise.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

pub async fn connect(srv: &Server) -> Client {
    connect_with(srv, ConnectOptions::new()).await
}

pub async fn connect_with(srv: &Server, opts: ConnectOptions) -> Client {
    within("connect", opts.connect(srv.url()))
        .await
        .unwrap_or_else(|e| panic!("connect failed: {e}; log:\n{}", srv.log()))
}

#[track_caller]
pub fn next(sub: &mut Subscriber) -> impl Future<Output = Message> + '_ {
    let loc = std::panic::Location::caller();
    async move {
        within(&format!("next message at {loc}"), sub.next())
            .await
            .expect("subscription ended")
    }
}

/// Asserts that nothing arrives on `sub` for [`QUIET`].
pub async fn assert_quiet(sub: &mut Subscriber) {
    if let Ok(m) = timeout(QUIET, sub.next()).await {
        panic!("unexpected message or end of subscription: {m:?}");
    }
}

pub async fn flush(c: &Client) {
    within("flush", c.flush()).await.expect("flush failed");
}

/// A true round trip: async-nats's `flush` only writes the socket buffer, it does not wait
/// for a PONG. A request nobody answers gets the server's no-responders status on this
/// connection, so when it returns the server has processed everything sent before it.
pub async fn sync(c: &Client) {
    let subject = format!("sync.{}", c.new_inbox());
    match within("sync round trip", c.request(subject, Bytes::new())).await {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        other => panic!("sync round trip: expected no responders, got {other:?}"),
    }
}

/// A request/reply round trip through a fresh responder, to prove the server still works.
pub async fn assert_healthy(srv: &Server) {
    let c = connect(srv).await;
    let mut sub = within("subscribe", c.subscribe("health")).await.unwrap();
    sync(&c).await;
    within("publish", c.publish("health", "ok".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.payload, "ok");
}

/// One HTTP answer.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        assert_eq!(self.status, 200, "status of {}", self.body);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// A hand-rolled HTTP/1.0 GET (1.0, so that neither server answers in chunks).
pub async fn get(port: u16, path: &str) -> Answer {
    within(&format!("GET {path}"), async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        Answer {
            status,
            content_type,
            body: body.to_string(),
        }
    })
    .await
}

pub async fn json(port: u16, path: &str) -> Value {
    get(port, path).await.json()
}

/// The monitoring port, from the `Starting http monitor on HOST:PORT` log line.
pub fn http_port(srv: &Server) -> u16 {
    srv.log()
        .lines()
        .find_map(|l| l.split_once("Starting http monitor on "))
        .and_then(|(_, addr)| addr.trim().rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no http monitor line; log:\n{}", srv.log()))
}

/// Waits until the server has logged `needle` `times` times in all.
pub fn wait_log(srv: &Server, needle: &str, times: usize) {
    let deadline = Instant::now() + STEP;
    while srv.log().matches(needle).count() < times {
        assert!(
            Instant::now() < deadline,
            "no {times}x `{needle}` in log:\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The route port, from the `Listening for route connections on HOST:PORT` line.
pub fn route_port(srv: &Server) -> u16 {
    wait_log(srv, "Listening for route connections on ", 1);
    srv.log()
        .lines()
        .find_map(|l| l.split_once("Listening for route connections on "))
        .and_then(|(_, addr)| addr.trim().rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no route listener line; log:\n{}", srv.log()))
}
