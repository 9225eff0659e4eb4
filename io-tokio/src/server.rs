//! The tokio shell: sockets, tasks and time around one core [`Node`].
//!
//! Each connection has a reader task (bytes into the node) and a writer task (the node's
//! queued bytes out, as vectored writes). The node sits behind one mutex that is never held
//! across an `await`: every task locks it, feeds it an event, carries out the outputs that
//! event produced, and lets go. A timer task ticks the node when it asks to be ticked.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rnats_core::jetstream::persist::{DiskOp, Paging};
use rnats_core::node::{CloseReason, ConnId, Level, Node, Output};
use rnats_core::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::disk::{read_streams, BlockFiles, Disk};
use crate::log::Logger;
use crate::monitor::Monitor;
use crate::tls::{RouteTls, Tls};

mod busy_poll;
mod writer;

use writer::{write_all, write_loop, Claim, Direct};

/// Read buffers start small and grow while reads fill them, as the reference's do, so that
/// idle connections cost little and busy ones read in large gulps.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;
/// The first byte of a TLS handshake record (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// The shell's side of one connection.
struct Conn {
    /// Wakes the writer: there are bytes to take, or the connection is closing.
    wake: Notify,
    /// Set when the node has closed the connection: the last bytes to write first.
    closing: Mutex<Option<Vec<Bytes>>>,
    reader: Mutex<Option<AbortHandle>>,
    /// Notified after each write: publishers stalled on this connection look again.
    drained: Notify,
    /// Plain TCP client connections: the socket's write side, which any task may write
    /// to (`writer.rs`).
    direct: Option<Direct>,
}

struct State {
    node: Node,
    conns: HashMap<ConnId, Arc<Conn>>,
    /// The deadline the timer task is sleeping towards.
    timer_at: Option<Instant>,
}

/// What the node asked for that is done after it is unlocked.
#[derive(Default)]
struct Later {
    logs: Vec<(Level, String)>,
    /// Connection, stored hash, secret the client gave.
    bcrypt: Vec<(ConnId, String, String)>,
    /// JetStream write batches.
    persist: Vec<(u64, Vec<DiskOp>)>,
    /// System account requests: endpoint and reply subject.
    system: Vec<(String, Bytes)>,
    /// Routes to dial: the node's dial number and the address.
    dials: Vec<(usize, String)>,
    /// Connections claimed for writing, their queued bytes taken: written at once.
    claimed: Vec<(ConnId, Claim)>,
}

/// Everything the tasks share.
pub struct Shared {
    state: Mutex<State>,
    logger: Arc<Logger>,
    epoch: tokio::time::Instant,
    timer_wake: Notify,
    /// How long a write may take, in nanoseconds (a reload may change it).
    write_deadline: AtomicU64,
    /// Tells the accept loop to close the listener (lame duck mode).
    stop_accepting: Notify,
    /// The accept loop's answer: the listener is closed.
    accept_stopped: Notify,
    /// Tells the main task the node is done with lame duck mode.
    lame_duck_done: Notify,
    /// Where JetStream's write batches go (the disk thread), once started.
    disk: OnceLock<mpsc::Sender<(u64, Vec<DiskOp>)>>,
    /// What answers the system account's requests.
    monitor: OnceLock<Arc<Monitor>>,
    /// The certificates new client connections get; a reload may replace them.
    tls: Mutex<Option<Arc<Tls>>>,
    /// TLS for routes, when the cluster block has it.
    route_tls: OnceLock<Arc<RouteTls>>,
    /// Told of every read, so that workers poll for a moment before sleeping.
    busy_poll: busy_poll::BusyPoll,
}

impl Shared {
    pub fn new(mut node: Node, logger: Arc<Logger>) -> Arc<Shared> {
        let write_deadline = deadline_nanos(node.options().write_deadline);
        let unix_now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        node.set_wall_clock(unix_now);
        Arc::new(Shared {
            state: Mutex::new(State {
                node,
                conns: HashMap::new(),
                timer_at: None,
            }),
            logger,
            epoch: tokio::time::Instant::now(),
            timer_wake: Notify::new(),
            write_deadline: AtomicU64::new(write_deadline),
            stop_accepting: Notify::new(),
            accept_stopped: Notify::new(),
            lame_duck_done: Notify::new(),
            disk: OnceLock::new(),
            monitor: OnceLock::new(),
            tls: Mutex::new(None),
            route_tls: OnceLock::new(),
            busy_poll: busy_poll::BusyPoll::default(),
        })
    }

    /// Sets the TLS certificates and settings for connections accepted from now on.
    pub fn set_tls(&self, tls: Option<Arc<Tls>>) {
        *self.tls.lock().unwrap_or_else(|e| e.into_inner()) = tls;
    }

    fn current_tls(&self) -> Option<Arc<Tls>> {
        self.tls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_monitor(&self, monitor: Arc<Monitor>) {
        let _ = self.monitor.set(monitor);
    }

    /// Publishes the server's statistics on `$SYS.SERVER.<id>.STATSZ` (the node drops
    /// them when nobody listens).
    fn publish_statsz(self: &Arc<Self>) {
        if let Some(m) = self.monitor.get() {
            let statsz = crate::monitor::system::statsz(m);
            let now = self.now();
            self.with_node(|n| n.publish_statsz(now, &statsz));
        }
    }

    /// Starts JetStream's disk thread on `root` and restores the streams found there,
    /// before any client is served. Fails on a directory that cannot be read.
    /// With `sync_interval`, batches are reported as soon as written and files are
    /// fsynced on that period instead.
    pub fn start_jetstream(
        self: &Arc<Self>,
        root: PathBuf,
        sync_interval: Option<Duration>,
    ) -> Result<(), String> {
        fs::create_dir_all(&root)
            .map_err(|e| format!("could not create storage directory {}: {e}", root.display()))?;
        let (tx, rx) = mpsc::channel::<(u64, Vec<DiskOp>)>();
        let _ = self.disk.set(tx);
        let shared = self.clone();
        let mut disk = Disk::new(root.clone(), sync_interval.is_none());
        let period = sync_interval.unwrap_or(Duration::MAX);
        std::thread::Builder::new()
            .name("jetstream-disk".into())
            .spawn(move || loop {
                match rx.recv_timeout(period) {
                    Ok((batch, ops)) => {
                        let result = disk.apply(&ops).map_err(|e| e.to_string());
                        let now = shared.now();
                        shared.with_node(|n| n.persisted(now, batch, result));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if let Err(e) = disk.sync_all() {
                            shared.logger.error(&format!("JetStream sync failed: {e}"));
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(|e| e.to_string())?;
        let paging = Paging::new(Arc::new(BlockFiles::new(root.clone())));
        self.with_node(|n| n.set_paging(paging));
        let streams = read_streams(&root)
            .map_err(|e| format!("could not read storage directory {}: {e}", root.display()))?;
        for s in streams {
            let started = std::time::Instant::now();
            let now = self.now();
            let restored = self
                .with_node(|n| n.recover_stream(now, &s.account, &s.meta, s.blocks, s.consumers));
            let name = format!("'{} > {}'", s.account, s.name);
            match restored {
                Ok(r) => {
                    if let Some(t) = &r.torn_tail {
                        self.logger.warn(&format!(
                            "Stream {name}: dropped a torn record of {} bytes at the end of {} (offset {})",
                            t.dropped, t.file, t.offset
                        ));
                    }
                    for c in &r.corruption {
                        self.logger.error(&format!(
                            "Stream {name}: damage in {} at offset {}, not served: {:?}",
                            c.file, c.offset, c.damage
                        ));
                    }
                    self.logger.info(&format!(
                        "  Restored {} messages for stream {name} in {:?}",
                        r.messages,
                        started.elapsed()
                    ));
                }
                Err(e) => self
                    .logger
                    .error(&format!("Error recreating stream {name}: {e}")),
            }
        }
        Ok(())
    }

    fn write_deadline(&self) -> Duration {
        Duration::from_nanos(self.write_deadline.load(Ordering::Relaxed))
    }

    /// Applies reloaded options to the node; on success the shell takes what it keeps
    /// itself (the write deadline). The node has logged the `Reloaded: ...` lines.
    pub fn reload(self: &Arc<Self>, opts: rnats_core::options::Options) -> Result<(), String> {
        let now = self.now();
        let deadline = deadline_nanos(opts.write_deadline);
        self.with_node(|n| n.reload(now, opts))?;
        self.write_deadline.store(deadline, Ordering::Relaxed);
        Ok(())
    }

    /// Enters lame duck mode: the listener closes and the node starts draining clients.
    /// False if it already was in it.
    pub async fn enter_lame_duck(self: &Arc<Self>) -> bool {
        if self.in_lame_duck() {
            return false;
        }
        // As the reference: clients are told only once no new one can come in.
        self.stop_accepting.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.accept_stopped.notified()).await;
        let now = self.now();
        self.with_node(|n| n.enter_lame_duck(now))
    }

    pub fn in_lame_duck(&self) -> bool {
        self.lock().node.in_lame_duck()
    }

    /// Resolves once lame duck mode has closed every client.
    pub async fn lame_duck_finished(&self) {
        self.lame_duck_done.notified().await
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the node and carries out whatever it asked for. Logging and bcrypt
    /// checks wait until the node is unlocked.
    fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut later = Later::default();
        let r = {
            let mut st = self.lock();
            let r = f(&mut st);
            self.dispatch(&mut st, &mut later);
            r
        };
        self.carry_out(later);
        r
    }

    /// Writes the log lines and starts the bcrypt checks (on tokio's blocking threads:
    /// each takes ~100 ms of CPU).
    fn carry_out(self: &Arc<Self>, later: Later) {
        for (level, text) in later.logs {
            self.logger.log(level, &text);
        }
        for batch in later.persist {
            if let Some(disk) = self.disk.get() {
                let _ = disk.send(batch);
            }
        }
        for (endpoint, reply) in later.system {
            let Some(monitor) = self.monitor.get().cloned() else {
                continue;
            };
            let shared = self.clone();
            // Off the node's lock and the caller's task: the answer reads the node itself.
            tokio::spawn(async move {
                if let Some((key, json)) = crate::monitor::system::answer(&monitor, &endpoint) {
                    let now = shared.now();
                    shared.with_node(|n| n.answer_system(now, &reply, key, &json));
                }
            });
        }
        for (dial, address) in later.dials {
            tokio::spawn(dial_route(self.clone(), dial, address));
        }
        if !later.claimed.is_empty() {
            self.write_claimed(later.claimed);
        }
        for (conn, hash, secret) in later.bcrypt {
            let shared = self.clone();
            tokio::task::spawn_blocking(move || {
                let ok = bcrypt::verify(&secret, &hash).unwrap_or(false);
                shared.bcrypt_verified(conn, ok);
            });
        }
    }

    fn bcrypt_verified(self: &Arc<Self>, conn: ConnId, ok: bool) {
        let now = self.now();
        self.with_node(|n| n.bcrypt_verified(now, conn, ok));
    }

    /// Lets monitoring read the node (and the core's current instant) without changing it.
    pub fn inspect<R>(&self, f: impl FnOnce(&Node, Instant) -> R) -> R {
        let now = self.now();
        let st = self.lock();
        f(&st.node, now)
    }

    fn with_node<R>(self: &Arc<Self>, f: impl FnOnce(&mut Node) -> R) -> R {
        self.with_state(|st| f(&mut st.node))
    }

    fn dispatch(&self, st: &mut State, later: &mut Later) {
        while let Some(out) = st.node.poll_output() {
            match out {
                Output::Transmit(id) => {
                    let Some(conn) = st.conns.get(&id) else {
                        continue;
                    };
                    if conn.direct.is_none() {
                        conn.wake.notify_one();
                    } else if let Some(mut claim) = Claim::try_new(conn) {
                        claim.take(&mut st.node, id);
                        later.claimed.push((id, claim));
                    }
                }
                Output::Close { conn: id, last } => {
                    if let Some(conn) = st.conns.remove(&id) {
                        *conn.closing.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
                        conn.wake.notify_one();
                    }
                }
                Output::Log { level, text } => later.logs.push((level, text)),
                Output::VerifyBcrypt { conn, hash, secret } => {
                    later.bcrypt.push((conn, hash, secret))
                }
                Output::Persist { batch, ops } => later.persist.push((batch, ops)),
                Output::SystemRequest { endpoint, reply } => later.system.push((endpoint, reply)),
                Output::DialRoute { dial, address } => later.dials.push((dial, address)),
            }
        }
        if st.node.lame_duck_done() {
            self.lame_duck_done.notify_one();
        }
        let next = st.node.poll_timeout();
        if next.is_some() && (st.timer_at.is_none() || next < st.timer_at) {
            st.timer_at = next;
            self.timer_wake.notify_one();
        }
    }

    /// Closes every connection and gives the writers a moment to flush what was queued.
    /// (The node forgets every connection at once, so there is nothing else to wait for.)
    pub async fn shutdown(self: &Arc<Self>) {
        self.with_node(|n| n.shutdown());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A write deadline in nanoseconds, at least a millisecond.
fn deadline_nanos(d: Duration) -> u64 {
    d.max(Duration::from_millis(1))
        .as_nanos()
        .min(u64::MAX as u128) as u64
}

impl Shared {
    /// Pauses a publisher while `consumer` is backed up (`rnats_core::node` `stall.rs`):
    /// until it drains below the threshold, in short waits, for a bounded time.
    async fn stall(self: &Arc<Self>, consumer: ConnId) {
        use rnats_core::node::stall::{MAX_PAUSE, MIN_PAUSE, TOTAL_PAUSE};
        let Some(conn) = self.lock().conns.get(&consumer).cloned() else {
            return;
        };
        let (mut pause, mut paused) = (MIN_PAUSE, Duration::ZERO);
        while paused < TOTAL_PAUSE && self.with_node(|n| n.is_stalling(consumer)) {
            let _ = tokio::time::timeout(pause, conn.drained.notified()).await;
            paused += pause;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

/// Accepts clients until the listener fails for good. With `tls`, every client must
/// upgrade to TLS.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            // Lame duck mode: the listener is dropped, so new clients are refused.
            _ = shared.stop_accepting.notified() => {
                drop(listener);
                shared.accept_stopped.notify_one();
                return;
            }
        };
        match accepted {
            Ok((stream, peer)) => match shared.current_tls() {
                None => start_conn(&shared, stream, peer),
                Some(tls) => start_tls_conn(&shared, stream, peer, tls),
            },
            Err(e) => {
                // Out of file descriptors and the like: log, back off, keep serving.
                shared
                    .logger
                    .error(&format!("Error accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// How long dialing a route may take (the reference's `DEFAULT_ROUTE_DIAL`).
const ROUTE_DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Accepts route connections from the other servers of the cluster (with `tls`, each
/// starts with the TLS handshake).
pub async fn route_accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<Arc<RouteTls>>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let accept = |n: &mut Node, now| n.accept_route(now, peer);
                    match tls {
                        None => open_route(&shared, stream, accept),
                        Some(tls) => {
                            let handshake = tls.acceptor.accept(stream);
                            match tokio::time::timeout(tls.timeout, handshake).await {
                                Ok(Ok(s)) => open_route(&shared, s, accept),
                                Ok(Err(e)) => shared.logger.error(&format!(
                                    "{peer} - rid:0 - TLS route handshake error: {}",
                                    crate::tls::describe(&e)
                                )),
                                Err(_) => shared.logger.error(&format!(
                                    "{peer} - rid:0 - TLS route handshake error: timeout"
                                )),
                            }
                        }
                    }
                });
            }
            Err(e) => {
                shared
                    .logger
                    .error(&format!("Error accepting route connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Dials a route the node asked for and reports how it went.
async fn dial_route(shared: Arc<Shared>, dial: usize, address: String) {
    let connected = tokio::time::timeout(ROUTE_DIAL_TIMEOUT, TcpStream::connect(&address)).await;
    let stream = match connected {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return shared.route_dial_failed(dial, &format!("dial tcp {address}: {e}")),
        Err(_) => {
            return shared.route_dial_failed(dial, &format!("dial tcp {address}: i/o timeout"))
        }
    };
    let Ok(peer) = stream.peer_addr() else {
        return shared.route_dial_failed(dial, "connection lost");
    };
    let _ = stream.set_nodelay(true);
    let dialed = |n: &mut Node, now| n.route_dialed(now, dial, peer);
    let Some(tls) = shared.route_tls.get().cloned() else {
        return open_route(&shared, stream, dialed);
    };
    let host = address
        .rsplit_once(':')
        .map_or(address.as_str(), |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let Ok(name) = rustls::pki_types::ServerName::try_from(host.to_string()) else {
        return shared.route_dial_failed(dial, &format!("invalid TLS server name {host:?}"));
    };
    let handshake = tls.connector.connect(name, stream);
    match tokio::time::timeout(tls.timeout, handshake).await {
        Ok(Ok(s)) => open_route(&shared, s, dialed),
        Ok(Err(e)) => shared.route_dial_failed(
            dial,
            &format!("TLS handshake error: {}", crate::tls::describe(&e)),
        ),
        Err(_) => shared.route_dial_failed(dial, "TLS handshake error: timeout"),
    }
}

/// Registers a route connection with the node (`register` calls `accept_route` or
/// `route_dialed`) and starts its reader and writer.
fn open_route<S>(
    shared: &Arc<Shared>,
    stream: S,
    register: impl FnOnce(&mut Node, Instant) -> ConnId,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    let conn = new_conn(None);
    let now = shared.now();
    let id = shared.with_state(|st| {
        let id = register(&mut st.node, now);
        st.conns.insert(id, conn.clone());
        id
    });
    spawn_io(shared, id, conn, rd, Some(wr));
}

impl Shared {
    fn route_dial_failed(self: &Arc<Self>, dial: usize, error: &str) {
        let now = self.now();
        self.with_node(|n| n.route_dial_failed(now, dial, error));
    }

    /// Starts dialing the configured routes, once the route listener is bound; with
    /// `tls`, every route runs over it.
    pub fn start_cluster(
        self: &Arc<Self>,
        route_port: u16,
        client_urls: Vec<String>,
        tls: Option<Arc<RouteTls>>,
    ) {
        if let Some(tls) = tls {
            let _ = self.route_tls.set(tls);
        }
        let now = self.now();
        self.with_node(|n| n.start_cluster(now, route_port, client_urls));
    }
}

fn new_conn(direct: Option<Direct>) -> Arc<Conn> {
    Arc::new(Conn {
        wake: Notify::new(),
        closing: Mutex::new(None),
        reader: Mutex::new(None),
        drained: Notify::new(),
        direct,
    })
}

fn start_conn(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (id, conn) = register(shared, peer, Some(Direct::new(wr)));
    spawn_io(shared, id, conn, rd, None::<OwnedWriteHalf>);
}

/// Tells the node about a new connection (which queues its `INFO`).
fn register(shared: &Arc<Shared>, peer: SocketAddr, direct: Option<Direct>) -> (ConnId, Arc<Conn>) {
    let conn = new_conn(direct);
    let now = shared.now();
    let id = shared.with_state(|st| {
        let id = st.node.accept(now, peer);
        st.conns.insert(id, conn.clone());
        id
    });
    (id, conn)
}

/// Starts the reader and the writer of a connection (which writes to `wr`, or through
/// the connection's direct side when there is no `wr`).
fn spawn_io<R, W>(shared: &Arc<Shared>, id: ConnId, conn: Arc<Conn>, rd: R, wr: Option<W>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let reader = tokio::spawn(read_loop(shared.clone(), id, rd));
    *conn.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(reader.abort_handle());
    tokio::spawn(write_loop(shared.clone(), id, conn, wr));
}

/// A client that must use TLS: as the reference, `INFO` goes out in plain text, then the
/// handshake runs within the TLS timeout (with `handshake_first`, the handshake comes first
/// and `INFO` is its first record). Only then do the reader and the writer start, over
/// the TLS stream; a client that sends plain text instead fails the handshake.
fn start_tls_conn(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr, tls: Arc<Tls>) {
    let _ = stream.set_nodelay(true);
    let (id, conn) = register(shared, peer, None);
    tokio::spawn(tls_handshake(shared.clone(), id, conn, stream, peer, tls));
}

async fn tls_handshake(
    shared: Arc<Shared>,
    id: ConnId,
    conn: Arc<Conn>,
    mut stream: TcpStream,
    peer: SocketAddr,
    tls: Arc<Tls>,
) {
    if !tls.handshake_first {
        let closing = conn
            .closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut last) = closing {
            // Refused at once (too many connections): the last words in plain text.
            let _ =
                tokio::time::timeout(shared.write_deadline(), write_all(&mut stream, &mut last))
                    .await;
            let _ = stream.shutdown().await;
            return;
        }
        let mut info = Vec::new();
        shared.with_node(|n| n.take_outbound(id, &mut info));
        let total: usize = info.iter().map(Bytes::len).sum();
        match tokio::time::timeout(shared.write_deadline(), write_all(&mut stream, &mut info)).await
        {
            Ok(Ok(())) => {
                shared.with_node(|n| n.written(id, total));
                conn.drained.notify_waiters();
            }
            _ => {
                let now = shared.now();
                shared.with_node(|n| n.closed_at(now, id, CloseReason::WriteError));
                return;
            }
        }
    }
    let local = stream.local_addr().ok();
    let prefix = format!("{peer} - cid:{id}");
    let debug = |msg: &str| {
        shared
            .logger
            .log(Level::Debug, &format!("{prefix} - {msg}"))
    };
    debug("Starting TLS client connection handshake");
    let handshake = async {
        // A client speaking plain NATS gets the connection closed, no TLS alert, as from
        // the reference.
        let mut first = [0u8; 1];
        if stream.peek(&mut first).await? == 1 && first[0] != TLS_HANDSHAKE_RECORD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "tls: first record does not look like a TLS handshake",
            ));
        }
        tls.acceptor.accept(stream).await
    };
    let tls_stream = match tokio::time::timeout(tls.timeout, handshake).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let why = crate::tls::describe(&e);
            shared
                .logger
                .error(&format!("{prefix} - TLS handshake error: {why}"));
            let now = shared.now();
            shared.with_node(|n| n.closed_at(now, id, CloseReason::TlsHandshakeError));
            return;
        }
        Err(_) => {
            let local = local.map(|a| a.to_string()).unwrap_or_default();
            shared.logger.error(&format!(
                "{prefix} - TLS handshake error: read tcp {local}->{peer}: i/o timeout"
            ));
            shared
                .logger
                .error(&format!("{prefix} - TLS handshake timeout"));
            let now = shared.now();
            shared.with_node(|n| n.closed_at(now, id, CloseReason::TlsHandshakeError));
            return;
        }
    };
    debug("TLS handshake complete");
    debug(&crate::tls::describe_session(tls_stream.get_ref().1));
    if let Some(names) = crate::tls::certificate_names(tls_stream.get_ref().1) {
        shared.with_node(|n| n.certificate_verified(id, names));
    }
    let (rd, wr) = tokio::io::split(tls_stream);
    spawn_io(&shared, id, conn, rd, Some(wr));
}

async fn read_loop<R: AsyncRead + Unpin>(shared: Arc<Shared>, id: ConnId, mut rd: R) {
    let mut buf = BytesMut::new();
    let mut want = MIN_READ;
    loop {
        buf.reserve(want);
        let room = buf.capacity() - buf.len();
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                let now = shared.now();
                shared.with_node(|n| n.closed_at(now, id, CloseReason::ClientClosed));
                return;
            }
            Ok(n) => {
                if n == room {
                    want = (want * 2).min(MAX_READ);
                } else if n < want / 4 {
                    want = (want / 2).max(MIN_READ);
                }
                shared.busy_poll.input();
                let data = buf.split().freeze();
                let now = shared.now();
                let stall = shared.with_node(|node| {
                    node.receive(now, id, data);
                    node.take_stall(id)
                });
                if let Some(consumer) = stall {
                    shared.stall(consumer).await;
                }
            }
            // A TLS peer that hangs up without a close_notify: the client closed.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                let now = shared.now();
                shared.with_node(|n| n.closed_at(now, id, CloseReason::ClientClosed));
                return;
            }
            Err(_) => {
                let now = shared.now();
                shared.with_node(|n| n.closed_at(now, id, CloseReason::ReadError));
                return;
            }
        }
    }
}

/// Polls for I/O a moment after each read (see [`busy_poll`]).
pub async fn busy_poll_loop(shared: Arc<Shared>) {
    shared.busy_poll.run().await
}

/// Ticks the node whenever it asked to be ticked.
pub async fn timer_loop(shared: Arc<Shared>) {
    loop {
        let next = shared.lock().timer_at;
        let sleep = match next {
            Some(at) => {
                let now = shared.now();
                at.saturating_since(now)
            }
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {
                let now = shared.now();
                shared.with_state(|st| {
                    st.timer_at = None;
                    st.node.tick(now);
                });
            }
            _ = shared.timer_wake.notified() => {}
        }
    }
}

/// How often the server publishes its statistics in the system account, as the reference.
const STATSZ_INTERVAL: Duration = Duration::from_secs(10);

/// Publishes `$SYS.SERVER.<id>.STATSZ` every [`STATSZ_INTERVAL`].
pub async fn statsz_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(STATSZ_INTERVAL);
    loop {
        tick.tick().await;
        shared.publish_statsz();
    }
}
