//! A simulated raw-protocol client: speaks NATS bytes over madsim TCP, records what it sends
//! and receives in the [`History`].
//!
//! Writes go out in random-sized chunks, each flushed, so the server reads at random byte
//! boundaries; reads ask for random amounts. A background reader task parses what arrives
//! (`INFO`, `MSG`, `HMSG`, `PING`, `PONG`, `+OK`, `-ERR`), answers server `PING`s and, for a
//! responder, answers every request.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use madsim::net::TcpStream;
use madsim::rand::{thread_rng, Rng};
use madsim::task::JoinHandle;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use crate::history::{self, ClientId, Event, History};
use crate::wire::{Window, Wires};

/// How a client behaves on the wire.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub id: ClientId,
    pub server: SocketAddr,
    /// Writes are 1..=this bytes, chosen at random.
    pub max_write_chunk: usize,
    /// Reads ask for 1..=this bytes, chosen at random.
    pub max_read: usize,
    /// If set, the server may have at most this many bytes unread by this client in flight
    /// (a socket buffer), registered in `wires`.
    pub window: Option<usize>,
    pub wires: Wires,
    /// How long [`Client::flush`] waits for its `PONG`.
    pub flush_timeout: Duration,
    /// `CONNECT` with `headers` and `no_responders`: a request nobody is subscribed to
    /// comes back as an `HMSG` with status `503`.
    pub no_responders: bool,
    /// Answer every message that carries a reply subject, at once from the reader task,
    /// with this client's next publish (an empty filler) on that subject.
    pub responder: bool,
}

impl ClientConfig {
    pub fn new(id: ClientId, server: SocketAddr) -> ClientConfig {
        ClientConfig {
            id,
            server,
            max_write_chunk: 64,
            max_read: 256,
            window: None,
            wires: Wires::default(),
            flush_timeout: Duration::from_secs(10),
            no_responders: false,
            responder: false,
        }
    }
}

/// Why a client operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The connection has ended.
    Closed,
    /// No `PONG` within the flush timeout.
    Timeout,
    Io(String),
}

#[derive(Default)]
struct Status {
    pongs: u64,
    closed: bool,
    paused: bool,
    /// The last publish sequence number used (shared: a responder's reader publishes too).
    last_seq: u64,
    /// `MSG`s and `503` statuses received.
    received: u64,
}

struct Shared {
    id: ClientId,
    status: Mutex<Status>,
    changed: Notify,
    history: History,
    writer: tokio::sync::Mutex<WriteHalf<TcpStream>>,
    max_write_chunk: usize,
    responder: bool,
}

impl Shared {
    /// Records the end of the connection once, however many paths notice it, and wakes
    /// whoever waits on the client.
    fn mark_closed(&self) {
        let mut st = self.status();
        if !st.closed {
            st.closed = true;
            self.history.record(Event::Closed { client: self.id });
        }
        drop(st);
        self.changed.notify_waiters();
    }

    /// Counts one received message and wakes whoever waits for it.
    fn received(&self) {
        self.status().received += 1;
        self.changed.notify_waiters();
    }

    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `data` in random-sized, separately flushed chunks.
    async fn send(&self, data: &[u8]) -> Result<(), ClientError> {
        let mut wr = self.writer.lock().await;
        let mut rest = data;
        while !rest.is_empty() {
            let n = thread_rng()
                .gen_range(1..=self.max_write_chunk)
                .min(rest.len());
            wr.write_all(&rest[..n])
                .await
                .map_err(|e| ClientError::Io(e.to_string()))?;
            wr.flush()
                .await
                .map_err(|e| ClientError::Io(e.to_string()))?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Publishes the next sequence number to `subject` (a request when `reply` is set).
    async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        filler: usize,
    ) -> Result<u64, ClientError> {
        let seq = {
            let mut st = self.status();
            st.last_seq += 1;
            st.last_seq
        };
        let payload = history::payload(self.id, seq, filler);
        self.history.record(Event::Publish {
            publisher: self.id,
            seq,
            subject: subject.to_string(),
            reply: reply.map(str::to_string),
        });
        let head = match reply {
            Some(r) => format!("PUB {subject} {r} {}\r\n", payload.len()),
            None => format!("PUB {subject} {}\r\n", payload.len()),
        };
        let mut msg = head.into_bytes();
        msg.extend_from_slice(&payload);
        msg.extend_from_slice(b"\r\n");
        self.send(&msg).await?;
        Ok(seq)
    }
}

/// Opens a TCP connection to `server`, retrying refused connects (a server that is not
/// listening yet, or a connect lost to packet loss) for about a second.
pub async fn connect_stream(server: SocketAddr) -> Result<TcpStream, ClientError> {
    let mut tries = 0;
    loop {
        match TcpStream::connect(server).await {
            Ok(s) => return Ok(s),
            Err(_) if tries < 50 => {
                tries += 1;
                madsim::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(ClientError::Io(e.to_string())),
        }
    }
}

/// One connected client.
pub struct Client {
    id: ClientId,
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
    pings: u64,
    flush_timeout: Duration,
}

impl Client {
    /// Connects (retrying refused connects), sends `CONNECT` and starts the reader.
    pub async fn connect(cfg: ClientConfig, history: History) -> Result<Client, ClientError> {
        let stream = connect_stream(cfg.server).await?;
        history.record(Event::Connected { client: cfg.id });
        let window = cfg.window.map(|cap| Arc::new(Window::new(cap)));
        if let (Some(w), Ok(addr)) = (&window, stream.local_addr()) {
            cfg.wires.register(addr, w.clone());
        }
        let (rd, wr) = tokio::io::split(stream);
        let shared = Arc::new(Shared {
            id: cfg.id,
            status: Mutex::new(Status::default()),
            changed: Notify::new(),
            history,
            writer: tokio::sync::Mutex::new(wr),
            max_write_chunk: cfg.max_write_chunk.max(1),
            responder: cfg.responder,
        });
        let reader =
            madsim::task::spawn(read_loop(shared.clone(), rd, window, cfg.max_read.max(1)));
        let client = Client {
            id: cfg.id,
            shared,
            reader,
            pings: 0,
            flush_timeout: cfg.flush_timeout,
        };
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"echo\":true,\"lang\":\"sim\",\"version\":\"0.1\",\"name\":\"c{}\",\"protocol\":1,\"headers\":{nr},\"no_responders\":{nr}}}\r\n",
            cfg.id,
            nr = cfg.no_responders
        );
        client.shared.send(connect.as_bytes()).await?;
        Ok(client)
    }

    pub fn id(&self) -> ClientId {
        self.id
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.status().closed
    }

    pub async fn subscribe(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        sid: &str,
    ) -> Result<(), ClientError> {
        self.shared.history.record(Event::Subscribe {
            client: self.id,
            sid: sid.to_string(),
            subject: subject.to_string(),
            queue: queue.map(str::to_string),
        });
        let line = match queue {
            Some(q) => format!("SUB {subject} {q} {sid}\r\n"),
            None => format!("SUB {subject} {sid}\r\n"),
        };
        self.shared.send(line.as_bytes()).await
    }

    pub async fn unsubscribe(&mut self, sid: &str) -> Result<(), ClientError> {
        self.shared.history.record(Event::Unsubscribe {
            client: self.id,
            sid: sid.to_string(),
        });
        self.shared
            .send(format!("UNSUB {sid}\r\n").as_bytes())
            .await
    }

    /// Publishes this client's next sequence number to `subject`, with `filler` bytes of
    /// padding; returns the sequence number.
    pub async fn publish(&mut self, subject: &str, filler: usize) -> Result<u64, ClientError> {
        self.shared.publish(subject, None, filler).await
    }

    /// Publishes a request to `subject` with reply subject `inbox` (which this client
    /// should be subscribed to); returns its sequence number.
    pub async fn request(
        &mut self,
        subject: &str,
        inbox: &str,
        filler: usize,
    ) -> Result<u64, ClientError> {
        self.shared.publish(subject, Some(inbox), filler).await
    }

    /// Sends raw bytes (for protocol-level scenarios).
    pub async fn send_raw(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.shared.send(data).await
    }

    /// `PING`, then waits for its `PONG`: afterwards the server has processed everything
    /// this client sent before.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        self.pings += 1;
        let target = self.pings;
        self.shared.history.record(Event::Ping { client: self.id });
        self.shared.send(b"PING\r\n").await?;
        let wait = async {
            loop {
                let changed = self.shared.changed.notified();
                {
                    let st = self.shared.status();
                    if st.pongs >= target {
                        return Ok(());
                    }
                    if st.closed {
                        return Err(ClientError::Closed);
                    }
                }
                changed.await;
            }
        };
        match madsim::time::timeout(self.flush_timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// Stops reading from the socket (a stuck consumer) until [`Client::resume_reading`].
    pub fn stop_reading(&self) {
        self.shared.status().paused = true;
    }

    pub fn resume_reading(&self) {
        self.shared.status().paused = false;
        self.shared.changed.notify_waiters();
    }

    /// Waits until the connection ends or `limit` passes; whether it ended.
    pub async fn wait_closed(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let changed = self.shared.changed.notified();
                if self.shared.status().closed {
                    return;
                }
                changed.await;
            }
        };
        madsim::time::timeout(limit, wait).await.is_ok()
    }

    /// Waits until this connection has received `n` messages (`MSG`s and `503` statuses)
    /// in all, or `limit` passes; whether it has.
    pub async fn wait_received(&self, n: u64, limit: Duration) -> bool {
        let wait = async {
            loop {
                let changed = self.shared.changed.notified();
                if self.shared.status().received >= n {
                    return;
                }
                changed.await;
            }
        };
        madsim::time::timeout(limit, wait).await.is_ok()
    }

    /// The sequence number the next [`Client::publish`] will use minus one.
    pub fn last_seq(&self) -> u64 {
        self.shared.status().last_seq
    }

    /// Continues a publisher's sequence on a new connection: the next publish is `seq + 1`.
    pub fn set_last_seq(&mut self, seq: u64) {
        self.shared.status().last_seq = seq;
    }

    /// Drops the connection abruptly, mid-stream: sends the first `partial` bytes of one
    /// more `PUB` to `subject` (never a whole one, so the server must discard it), then
    /// drops the socket without a shutdown. Nothing of the partial publish is recorded.
    pub async fn reset(self, subject: &str, partial: usize) {
        let payload = history::payload(self.id, self.last_seq() + 1, 16);
        let mut msg = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        msg.extend_from_slice(&payload);
        // Without the final CRLF the message is never complete.
        let _ = self.shared.send(&msg[..partial.min(msg.len() - 1)]).await;
        self.reader.abort();
        self.shared.mark_closed();
    }

    /// Closes the connection from the client's side.
    pub async fn close(self) {
        self.reader.abort();
        let mut wr = self.shared.writer.lock().await;
        let _ = wr.shutdown().await;
        drop(wr);
        self.shared.mark_closed();
    }
}

/// A dropped client has given its connection up (as a client library that reconnects
/// abandons the old socket): its reader stops, so nothing still in flight on the old
/// connection is recorded after the client opened a new one.
impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn read_loop(
    shared: Arc<Shared>,
    mut rd: ReadHalf<TcpStream>,
    window: Option<Arc<Window>>,
    max_read: usize,
) {
    let mut buf = BytesMut::new();
    loop {
        loop {
            let changed = shared.changed.notified();
            if !shared.status().paused {
                break;
            }
            changed.await;
        }
        let want = thread_rng().gen_range(1..=max_read);
        buf.reserve(want);
        let res = rd.read_buf(&mut (&mut buf).limit(want)).await;
        let n = match res {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(w) = &window {
            w.consumed(n);
        }
        if !parse(&shared, &mut buf).await {
            break;
        }
    }
    shared.mark_closed();
}

/// Handles every complete operation in `buf`; false if the stream is garbled.
async fn parse(shared: &Shared, buf: &mut BytesMut) -> bool {
    loop {
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            return true;
        };
        let line = String::from_utf8_lossy(&buf[..eol]).into_owned();
        let mut words = line.split_ascii_whitespace();
        let op = words.next().unwrap_or("").to_ascii_uppercase();
        match op.as_str() {
            "MSG" => {
                let args: Vec<&str> = words.collect();
                if args.len() < 3 || args.len() > 4 {
                    return false;
                }
                let Ok(size) = args[args.len() - 1].parse::<usize>() else {
                    return false;
                };
                let total = eol + 2 + size + 2;
                if buf.len() < total {
                    return true;
                }
                let reply = (args.len() == 4).then(|| args[2].to_string());
                let payload = &buf[eol + 2..eol + 2 + size];
                let event = match history::parse_payload(payload) {
                    Some((publisher, seq)) => Event::Deliver {
                        client: shared.id,
                        sid: args[1].to_string(),
                        subject: args[0].to_string(),
                        reply: reply.clone(),
                        publisher,
                        seq,
                    },
                    None => Event::Error {
                        client: shared.id,
                        text: format!("unparsable payload on {}", args[0]),
                    },
                };
                shared.history.record(event);
                shared.received();
                buf.advance(total);
                if let (true, Some(reply)) = (shared.responder, reply) {
                    if shared.publish(&reply, None, 0).await.is_err() {
                        return false;
                    }
                }
                continue;
            }
            "HMSG" => {
                // HMSG subject sid [reply] header_len total_len: only the no-responders
                // status is expected (the sim clients never send headers).
                let args: Vec<&str> = words.collect();
                if args.len() < 4 || args.len() > 5 {
                    return false;
                }
                let n = args.len();
                let (Ok(hlen), Ok(size)) = (args[n - 2].parse::<usize>(), args[n - 1].parse())
                else {
                    return false;
                };
                let total = eol + 2 + size + 2;
                if buf.len() < total {
                    return true;
                }
                let headers = &buf[eol + 2..eol + 2 + hlen.min(size)];
                let event = if headers.starts_with(b"NATS/1.0 503") {
                    Event::NoResponders {
                        client: shared.id,
                        sid: args[1].to_string(),
                        subject: args[0].to_string(),
                    }
                } else {
                    Event::Error {
                        client: shared.id,
                        text: format!("unexpected HMSG on {}", args[0]),
                    }
                };
                shared.history.record(event);
                shared.received();
                buf.advance(total);
                continue;
            }
            "PING" => {
                if shared.send(b"PONG\r\n").await.is_err() {
                    return false;
                }
            }
            "PONG" => {
                shared.status().pongs += 1;
                shared.history.record(Event::Flushed { client: shared.id });
                shared.changed.notify_waiters();
            }
            "-ERR" => {
                let text = line[4..].trim().to_string();
                shared.history.record(Event::Error {
                    client: shared.id,
                    text,
                });
            }
            "INFO" | "+OK" => {}
            _ => return false,
        }
        buf.advance(eol + 2);
    }
}
