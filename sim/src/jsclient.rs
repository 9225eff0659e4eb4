//! A raw-protocol client for JetStream scenarios: requests to the JetStream API and
//! publishes with reply inboxes, and every `MSG`/`HMSG` kept (payload, reply subject and
//! status) in arrival order for the scenario to take.
//!
//! Unlike [`crate::client::Client`] it records nothing itself: JetStream scenarios keep
//! their own log of publishes, acks and deliveries (see [`crate::check::js_stream`]).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use madsim::net::TcpStream;
use madsim::task::JoinHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use crate::client::{connect_stream, ClientError};

/// A message as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub subject: String,
    pub reply: Option<String>,
    /// The status code of an `HMSG` whose header block starts `NATS/1.0 <code>`.
    pub status: Option<u16>,
    pub payload: Bytes,
}

#[derive(Default)]
struct Mailbox {
    msgs: VecDeque<Msg>,
    closed: bool,
}

struct Inbox {
    mailbox: Mutex<Mailbox>,
    changed: Notify,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One connection; dropping it aborts its reader.
pub struct JsClient {
    wr: WriteHalf<TcpStream>,
    inbox: Arc<Inbox>,
    reader: JoinHandle<()>,
    prefix: String,
    next_inbox: u64,
}

impl Drop for JsClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl JsClient {
    /// Connects as `name` (unique in the scenario; it names the inboxes) with headers and
    /// no-responders on, and subscribes to its inboxes.
    pub async fn connect(server: SocketAddr, name: &str) -> Result<JsClient, ClientError> {
        let stream = connect_stream(server).await?;
        let (rd, wr) = tokio::io::split(stream);
        let inbox = Arc::new(Inbox {
            mailbox: Mutex::new(Mailbox::default()),
            changed: Notify::new(),
        });
        let reader = madsim::task::spawn(read_loop(inbox.clone(), rd));
        let mut c = JsClient {
            wr,
            inbox,
            reader,
            prefix: format!("_I.{name}"),
            next_inbox: 0,
        };
        let hello = format!(
            "CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true,\"name\":\"{name}\",\"lang\":\"sim\",\"protocol\":1}}\r\nSUB {}.> 1\r\n",
            c.prefix
        );
        c.send(hello.as_bytes()).await?;
        Ok(c)
    }

    async fn send(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let io = |e: std::io::Error| ClientError::Io(e.to_string());
        self.wr.write_all(data).await.map_err(io)?;
        self.wr.flush().await.map_err(io)
    }

    /// A fresh inbox subject of this client.
    pub fn new_inbox(&mut self) -> String {
        self.next_inbox += 1;
        format!("{}.{}", self.prefix, self.next_inbox)
    }

    /// Whether `subject` is one of this client's inboxes.
    pub fn owns(&self, subject: &str) -> bool {
        subject.starts_with(&self.prefix)
    }

    /// `PUB subject [reply] payload`.
    pub async fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        payload: &[u8],
    ) -> Result<(), ClientError> {
        let mut frame = match reply {
            Some(r) => format!("PUB {subject} {r} {}\r\n", payload.len()),
            None => format!("PUB {subject} {}\r\n", payload.len()),
        }
        .into_bytes();
        frame.extend_from_slice(payload);
        frame.extend_from_slice(b"\r\n");
        self.send(&frame).await
    }

    /// Publishes `payload` to `subject` with a fresh inbox and waits up to `limit` for the
    /// first message on it.
    pub async fn request(
        &mut self,
        subject: &str,
        payload: &[u8],
        limit: Duration,
    ) -> Result<Msg, ClientError> {
        let inbox = self.new_inbox();
        self.publish(subject, Some(&inbox), payload).await?;
        self.next_where(limit, |m| m.subject == inbox).await
    }

    /// The first message to have arrived (waiting up to `limit`).
    pub async fn next(&mut self, limit: Duration) -> Result<Msg, ClientError> {
        self.next_where(limit, |_| true).await
    }

    /// Takes the first message that arrived (or arrives within `limit`) matching `want`;
    /// messages before it stay. Fails when the connection ended or on timeout.
    async fn next_where(
        &mut self,
        limit: Duration,
        want: impl Fn(&Msg) -> bool,
    ) -> Result<Msg, ClientError> {
        let wait = async {
            loop {
                let changed = self.inbox.changed.notified();
                {
                    let mut mb = self.inbox.lock();
                    if let Some(i) = mb.msgs.iter().position(&want) {
                        return mb.msgs.remove(i).ok_or(ClientError::Closed);
                    }
                    if mb.closed {
                        return Err(ClientError::Closed);
                    }
                }
                changed.await;
            }
        };
        madsim::time::timeout(limit, wait)
            .await
            .unwrap_or(Err(ClientError::Timeout))
    }
}

async fn read_loop(inbox: Arc<Inbox>, mut rd: ReadHalf<TcpStream>) {
    let mut buf = BytesMut::new();
    loop {
        buf.reserve(64 * 1024);
        let Ok(n) = rd.read_buf(&mut buf).await else {
            break;
        };
        if n == 0 {
            break;
        }
        let mut got = Vec::new();
        let Some(()) = frames(&mut buf, &mut got) else {
            break;
        };
        if !got.is_empty() {
            inbox.lock().msgs.extend(got);
            inbox.changed.notify_waiters();
        }
    }
    inbox.lock().closed = true;
    inbox.changed.notify_waiters();
}

/// Takes every complete operation off `buf`, messages into `got`; other lines (`INFO`,
/// `+OK`, `-ERR`, `PING`, `PONG`) are skipped: the server's `PING`s go unanswered, as
/// requests and their timeouts tell a dead connection here and runs are shorter than a
/// ping interval. `None` if the stream is garbled.
fn frames(buf: &mut BytesMut, got: &mut Vec<Msg>) -> Option<()> {
    loop {
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            return Some(());
        };
        let line = std::str::from_utf8(&buf[..eol]).ok()?.to_string();
        let args: Vec<&str> = line.split_ascii_whitespace().collect();
        let (head, sizes) = match args.first().map(|op| op.to_ascii_uppercase()).as_deref() {
            Some("MSG") if (4..=5).contains(&args.len()) => (&args[1..args.len() - 1], 1),
            Some("HMSG") if (5..=6).contains(&args.len()) => (&args[1..args.len() - 2], 2),
            Some(_) => {
                buf.advance(eol + 2);
                continue;
            }
            None => return None,
        };
        let total: usize = args[args.len() - 1].parse().ok()?;
        let hlen: usize = if sizes == 2 {
            args[args.len() - 2].parse().ok()?
        } else {
            0
        };
        if buf.len() < eol + 2 + total + 2 {
            return Some(());
        }
        buf.advance(eol + 2);
        let body = buf.split_to(total).freeze();
        buf.advance(2);
        let status = (hlen > 0)
            .then(|| std::str::from_utf8(&body[..hlen.min(body.len())]).ok())
            .flatten()
            .and_then(|h| h.strip_prefix("NATS/1.0 "))
            .and_then(|h| h.get(..3))
            .and_then(|code| code.parse().ok());
        got.push(Msg {
            subject: head[0].to_string(),
            reply: head.get(2).map(|r| r.to_string()),
            status,
            payload: body.slice(hlen.min(body.len())..),
        });
    }
}
