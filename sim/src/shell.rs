//! The sim shell: one core [`Node`] on a simulated host.
//!
//! Shaped like the tokio shell (`io-tokio/src/server.rs`): a listener task accepts
//! connections, each connection has a reader task (bytes into the node) and a writer task
//! (the node's queued bytes out), and a timer task ticks the node when it asks. The node sits
//! behind one mutex never held across an `await`. Differences: time is madsim's virtual
//! clock shifted by a per-node offset (clock skew), writes go out in random-sized chunks
//! (each flushed, so the peer reads them at random boundaries), and a client that registered
//! a [`Window`](crate::wire::Window) pushes back on the writer like a full socket buffer.
//! JetStream's write batches go to the host's simulated [`Disk`] through a disk task (see
//! [`crate::jsdisk`]), and a restarted node recovers its streams from it before serving.
//!
//! A node with a cluster port (`opts.cluster.port`) also listens for routes there, on the
//! same host, and a dial task carries out the node's [`Output::DialRoute`]s over madsim
//! TCP (see [`crate::cluster`] for how scenarios set clusters up). Route connections get
//! the same reader and writer tasks as clients: the node tells them apart by id.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use madsim::net::{TcpListener, TcpStream};
use madsim::rand::{thread_rng, Rng};
use madsim::task::JoinHandle;
use rnats_core::jetstream::persist::DiskOp;
use rnats_core::node::{CloseReason, ConnId, Level, Node, NodeStats, Output, RouteSnapshot};
use rnats_core::options::Options;
use rnats_core::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use crate::disk::Disk;
use crate::jsdisk;
use crate::wire::Wires;

/// How one simulated server is set up.
#[derive(Clone, Debug)]
pub struct ShellConfig {
    pub opts: Options,
    pub port: u16,
    /// The host's address, for the client URL the node tells its routes (and so the other
    /// servers' clients) about.
    pub host: IpAddr,
    /// Seeds the node's own generator.
    pub seed: u64,
    /// Added to madsim's clock before it reaches the node (clock skew between nodes).
    pub clock_offset: Duration,
    /// The largest chunk the writer sends at once (chunks are 1..=this, chosen at random).
    pub max_write_chunk: usize,
    /// The largest read the reader asks for at once.
    pub max_read: usize,
    /// Socket windows registered by clients.
    pub wires: Wires,
    /// Jumps of the node's clock, set from outside while it runs (survives restarts).
    pub clock: NodeClock,
    /// The host's disk, where JetStream keeps its files (see [`crate::jsdisk`]).
    pub disk: Disk,
    /// The longest a sync of JetStream's files takes (each takes `1 ms..=this`).
    pub max_sync: Duration,
}

/// A node clock's forward jumps on top of `clock_offset`: a fault schedule moves it, the
/// shell adds it to every `now` and wakes its timer so the node sees the jump at once.
#[derive(Clone, Debug, Default)]
pub struct NodeClock {
    inner: Arc<(Mutex<Duration>, Notify)>,
}

impl NodeClock {
    /// Moves the node's clock forward by `by`.
    pub fn jump(&self, by: Duration) {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
        self.inner.1.notify_one();
    }

    /// The sum of all jumps so far.
    pub fn jumped(&self) -> Duration {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShellConfig {
    pub fn new(opts: Options, port: u16, seed: u64) -> ShellConfig {
        ShellConfig {
            opts,
            port,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            seed,
            clock_offset: Duration::ZERO,
            max_write_chunk: 4096,
            max_read: 4096,
            wires: Wires::default(),
            clock: NodeClock::default(),
            disk: Disk::default(),
            max_sync: Duration::from_millis(5),
        }
    }
}

/// The Unix time (nanoseconds) of the simulation's start, for JetStream's timestamps: fixed,
/// so message times depend on the seed alone.
pub const WALL_EPOCH: u64 = 1_700_000_000_000_000_000;

/// What a test can see of a running server from outside: its stats and log lines. Survives
/// restarts of the host (it is re-pointed at the new node).
#[derive(Clone, Default)]
pub struct ServerView {
    inner: Arc<Mutex<Option<Arc<Shared>>>>,
    recoveries: Arc<Mutex<Vec<String>>>,
    /// How many times the node started; each start seeds its node differently, so a
    /// restarted server has a new server id, as a real one has.
    starts: Arc<Mutex<u64>>,
}

impl ServerView {
    pub fn stats(&self) -> NodeStats {
        self.get()
            .map(|s| s.lock().node.stats().clone())
            .unwrap_or_default()
    }

    pub fn num_clients(&self) -> usize {
        self.get().map(|s| s.lock().node.num_clients()).unwrap_or(0)
    }

    /// The most outbound bytes each connection (by node connection id) ever had buffered:
    /// queued in the node plus taken by the writer and not yet written, the figure the
    /// node holds against `max_pending`. Observed whenever the writer takes bytes, when
    /// the node closes the connection (what was still queued), and from the node itself
    /// ([`Node::pending_bytes`]) after every event it handles.
    pub fn pending_peaks(&self) -> BTreeMap<ConnId, usize> {
        self.get()
            .map(|s| s.lock().peaks.clone())
            .unwrap_or_default()
    }

    /// Every log line the node produced so far.
    pub fn logs(&self) -> Vec<String> {
        self.get()
            .map(|s| s.logs.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    /// What JetStream recovery reported at every start of the node, per stream, in order.
    pub fn recoveries(&self) -> Vec<String> {
        self.recoveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The node's server id (empty before it starts).
    pub fn server_id(&self) -> String {
        self.get()
            .map(|s| s.lock().node.info().server_id.clone())
            .unwrap_or_default()
    }

    /// The node's open routes (registered ones name their server, see [`Node::routes`]).
    pub fn routes(&self) -> Vec<RouteSnapshot> {
        self.get()
            .map(|s| s.lock().node.routes())
            .unwrap_or_default()
    }

    /// Drops route connection `rid` as a connection reset would: the node closes it (and
    /// redials it if it is one it dials), the peer reads the end of the stream.
    pub fn reset_route(&self, rid: ConnId) {
        if let Some(s) = self.get() {
            let now = s.now();
            s.with_node(|n| n.closed_at(now, rid, CloseReason::ReadError));
        }
    }

    fn get(&self) -> Option<Arc<Shared>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The shell's side of one connection.
struct Conn {
    wake: Notify,
    /// Interrupts a write blocked on a full window when the node closes the connection.
    close_now: Notify,
    closing: Mutex<Option<Vec<Bytes>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    node: Node,
    conns: BTreeMap<ConnId, Arc<Conn>>,
    timer_at: Option<Instant>,
    /// Bytes taken from the node and not yet reported written, per connection.
    in_flight: BTreeMap<ConnId, usize>,
    /// See [`ServerView::pending_peaks`].
    peaks: BTreeMap<ConnId, usize>,
    /// JetStream's write batch waiting for the disk task (at most one is outstanding).
    persist: Option<(u64, Vec<DiskOp>)>,
    /// Routes the node asked to dial, waiting for the dial task: (dial, address).
    dials: Vec<(usize, String)>,
}

impl State {
    /// `id` has `pending` outbound bytes buffered now.
    fn observe(&mut self, id: ConnId, pending: usize) {
        let peak = self.peaks.entry(id).or_default();
        *peak = (*peak).max(pending);
    }
}

struct Shared {
    state: Mutex<State>,
    logs: Mutex<Vec<String>>,
    epoch: madsim::time::Instant,
    offset: Duration,
    clock: NodeClock,
    timer_wake: Notify,
    disk: Disk,
    max_sync: Duration,
    disk_wake: Notify,
    dial_wake: Notify,
    write_deadline: Duration,
    max_write_chunk: usize,
    max_read: usize,
    wires: Wires,
}

impl Shared {
    fn now(&self) -> Instant {
        let d = self.epoch.elapsed() + self.offset + self.clock.jumped();
        Instant::from_nanos(d.as_nanos() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.lock();
        let r = f(&mut st);
        self.dispatch(&mut st);
        r
    }

    fn with_node<R>(&self, f: impl FnOnce(&mut Node) -> R) -> R {
        self.with_state(|st| f(&mut st.node))
    }

    fn dispatch(&self, st: &mut State) {
        while let Some(out) = st.node.poll_output() {
            match out {
                Output::Transmit(id) => {
                    if let Some(conn) = st.conns.get(&id) {
                        conn.wake.notify_one();
                    }
                }
                Output::Close { conn: id, last } => {
                    let queued: usize = last.iter().map(Bytes::len).sum();
                    let pending = st.in_flight.remove(&id).unwrap_or(0) + queued;
                    st.observe(id, pending);
                    if let Some(conn) = st.conns.remove(&id) {
                        *conn.closing.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
                        conn.wake.notify_one();
                        conn.close_now.notify_one();
                    }
                }
                // Simulated time does not pass while hashing, so the check runs inline.
                Output::VerifyBcrypt { conn, hash, secret } => {
                    let ok = bcrypt::verify(&secret, &hash).unwrap_or(false);
                    let now = self.now();
                    st.node.bcrypt_verified(now, conn, ok);
                }
                // The disk task writes it and reports it durable.
                Output::Persist { batch, ops } => {
                    st.persist = Some((batch, ops));
                    self.disk_wake.notify_one();
                }
                // The simulated shell keeps no process figures: such requests go unanswered
                // (no scenario makes them).
                Output::SystemRequest { .. } => {}
                // The dial task connects (dispatch may run outside the node's own tasks, so
                // it never spawns one itself).
                Output::DialRoute { dial, address } => {
                    st.dials.push((dial, address));
                    self.dial_wake.notify_one();
                }
                Output::Log { level, text } => {
                    let line = format!("[{}] {text}", level_tag(level));
                    self.logs
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(line);
                }
            }
        }
        // What the node itself holds for each connection after every event: bounded by
        // max_pending (plus the message that crossed it) or the connection is gone.
        let held: Vec<(ConnId, usize)> = st
            .conns
            .keys()
            .filter_map(|&id| st.node.pending_bytes(id).map(|p| (id, p)))
            .collect();
        for (id, pending) in held {
            st.observe(id, pending);
        }
        let next = st.node.poll_timeout();
        if next.is_some() && (st.timer_at.is_none() || next < st.timer_at) {
            st.timer_at = next;
            self.timer_wake.notify_one();
        }
    }
}

fn level_tag(level: Level) -> &'static str {
    match level {
        Level::Error => "ERR",
        Level::Warn => "WRN",
        Level::Info => "INF",
        Level::Debug => "DBG",
        Level::Trace => "TRC",
    }
}

/// How long a route dial may take (as the production shell's `ROUTE_DIAL_TIMEOUT`).
const ROUTE_DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs a server until the host is killed: binds `0.0.0.0:port` (and the cluster port,
/// when clustered), accepts and serves. Use it as (part of) a madsim node's `init`.
pub async fn run(cfg: ShellConfig, view: ServerView) {
    let listener = TcpListener::bind(("0.0.0.0", cfg.port))
        .await
        .expect("bind the simulated listener");
    let route_listener = if cfg.opts.cluster.enabled() {
        let port = u16::try_from(cfg.opts.cluster.port).expect("a fixed cluster port");
        let l = TcpListener::bind(("0.0.0.0", port))
            .await
            .expect("bind the simulated route listener");
        Some((l, port))
    } else {
        None
    };
    let client_url = SocketAddr::new(cfg.host, cfg.port).to_string();
    let write_deadline = cfg.opts.write_deadline.max(Duration::from_millis(1));
    let jetstream = cfg.opts.jetstream;
    let start = {
        let mut starts = view.starts.lock().unwrap_or_else(|e| e.into_inner());
        *starts += 1;
        *starts - 1
    };
    let node = Node::new(cfg.opts, cfg.port, cfg.seed.wrapping_add(start));
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            node,
            conns: BTreeMap::new(),
            timer_at: None,
            in_flight: BTreeMap::new(),
            peaks: BTreeMap::new(),
            persist: None,
            dials: Vec::new(),
        }),
        logs: Mutex::new(Vec::new()),
        epoch: madsim::time::Instant::now(),
        offset: cfg.clock_offset,
        clock: cfg.clock,
        timer_wake: Notify::new(),
        disk: cfg.disk,
        max_sync: cfg.max_sync,
        disk_wake: Notify::new(),
        dial_wake: Notify::new(),
        write_deadline,
        max_write_chunk: cfg.max_write_chunk.max(1),
        max_read: cfg.max_read.max(1),
        wires: cfg.wires,
    });
    *view.inner.lock().unwrap_or_else(|e| e.into_inner()) = Some(shared.clone());
    if jetstream {
        let report = start_jetstream(&shared);
        let mut all = view.recoveries.lock().unwrap_or_else(|e| e.into_inner());
        all.extend(report);
    }
    madsim::task::spawn(timer_loop(shared.clone()));
    if let Some((routes, port)) = route_listener {
        madsim::task::spawn(dial_loop(shared.clone()));
        let now = shared.now();
        shared.with_node(|n| n.start_cluster(now, port, vec![client_url]));
        madsim::task::spawn(accept_loop(shared.clone(), routes, Node::accept_route));
    }
    accept_loop(shared, listener, Node::accept).await
}

/// Accepts connections for ever, registering each with the node through `register`
/// ([`Node::accept`] for clients, [`Node::accept_route`] for routes).
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    register: fn(&mut Node, Instant, SocketAddr) -> ConnId,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                start_conn(&shared, stream, peer, |n, now| register(n, now, peer))
            }
            Err(_) => madsim::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Starts a task per route dial the node asks for.
async fn dial_loop(shared: Arc<Shared>) {
    loop {
        let dials = std::mem::take(&mut shared.lock().dials);
        if dials.is_empty() {
            shared.dial_wake.notified().await;
            continue;
        }
        for (dial, address) in dials {
            madsim::task::spawn(dial_route(shared.clone(), dial, address));
        }
    }
}

/// Dials a route and tells the node how it went; a connected route is served like any
/// other connection.
async fn dial_route(shared: Arc<Shared>, dial: usize, address: String) {
    let connect = TcpStream::connect(address.as_str());
    let error = match madsim::time::timeout(ROUTE_DIAL_TIMEOUT, connect).await {
        Ok(Ok(stream)) => match stream.peer_addr() {
            Ok(peer) => {
                return start_conn(&shared, stream, peer, |n, now| {
                    n.route_dialed(now, dial, peer)
                })
            }
            Err(e) => e.to_string(),
        },
        Ok(Err(e)) => e.to_string(),
        Err(_) => "i/o timeout".to_string(),
    };
    let now = shared.now();
    let text = format!("dial tcp {address}: {error}");
    shared.with_node(|n| n.route_dial_failed(now, dial, &text));
}

/// Serves a new connection: registers it with the node (`register` returns its id) and
/// starts its reader and writer.
fn start_conn(
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    register: impl FnOnce(&mut Node, Instant) -> ConnId,
) {
    let (rd, wr) = tokio::io::split(stream);
    let conn = Arc::new(Conn {
        wake: Notify::new(),
        close_now: Notify::new(),
        closing: Mutex::new(None),
        reader: Mutex::new(None),
    });
    let now = shared.now();
    let id = shared.with_state(|st| {
        let id = register(&mut st.node, now);
        st.conns.insert(id, conn.clone());
        id
    });
    let reader = madsim::task::spawn(read_loop(shared.clone(), id, rd));
    *conn.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(reader);
    madsim::task::spawn(write_loop(shared.clone(), id, conn, wr, peer));
}

async fn read_loop(shared: Arc<Shared>, id: ConnId, mut rd: ReadHalf<TcpStream>) {
    let mut buf = BytesMut::new();
    loop {
        let want = thread_rng().gen_range(1..=shared.max_read);
        buf.reserve(want);
        let mut limited = (&mut buf).limit(want);
        match rd.read_buf(&mut limited).await {
            Ok(0) => {
                shared.with_node(|n| n.closed(id, CloseReason::ClientClosed));
                return;
            }
            Ok(_) => {
                let data = buf.split().freeze();
                let now = shared.now();
                shared.with_node(|node| node.receive(now, id, data));
            }
            Err(_) => {
                shared.with_node(|n| n.closed(id, CloseReason::ReadError));
                return;
            }
        }
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    id: ConnId,
    conn: Arc<Conn>,
    mut wr: WriteHalf<TcpStream>,
    peer: SocketAddr,
) {
    let mut bufs: Vec<Bytes> = Vec::new();
    loop {
        conn.wake.notified().await;
        let closing = conn
            .closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut last) = closing {
            let deadline = shared.write_deadline;
            let _ = madsim::time::timeout(
                deadline,
                write_chunks(&shared, peer, &mut wr, &mut last, None),
            )
            .await;
            let _ = wr.shutdown().await;
            if let Some(reader) = conn.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
                reader.abort();
            }
            // Dropping both halves ends the simulated stream: the client reads EOF.
            return;
        }
        shared.with_state(|st| {
            st.node.take_outbound(id, &mut bufs);
            if bufs.is_empty() {
                return;
            }
            let in_flight = st.in_flight.entry(id).or_default();
            *in_flight += bufs.iter().map(Bytes::len).sum::<usize>();
            let pending = *in_flight;
            st.observe(id, pending);
        });
        if bufs.is_empty() {
            continue;
        }
        let write = madsim::time::timeout(
            shared.write_deadline,
            write_chunks(&shared, peer, &mut wr, &mut bufs, Some(id)),
        );
        tokio::select! {
            biased;
            _ = conn.close_now.notified() => {
                // The node dropped the connection: the next wake-up carries out the close.
                conn.wake.notify_one();
            }
            res = write => match res {
                Ok(Ok(())) => {}
                Ok(Err(_)) => shared.with_node(|n| n.closed(id, CloseReason::WriteError)),
                Err(_) => shared.with_node(|n| n.write_stalled(id)),
            },
        }
        bufs.clear();
    }
}

/// Writes every chunk in order, in random-sized pieces, each flushed (madsim sends on
/// flush), waiting for room in the client's window if it has one. Reports each piece to
/// the node as written when `report` names the connection.
async fn write_chunks(
    shared: &Shared,
    peer: SocketAddr,
    wr: &mut WriteHalf<TcpStream>,
    bufs: &mut Vec<Bytes>,
    report: Option<ConnId>,
) -> std::io::Result<()> {
    let mut window = None;
    for buf in bufs.iter_mut() {
        while buf.has_remaining() {
            let mut n = thread_rng()
                .gen_range(1..=shared.max_write_chunk)
                .min(buf.len());
            if window.is_none() {
                window = shared.wires.get(peer);
            }
            if let Some(w) = &window {
                n = w.reserve(n).await;
            }
            wr.write_all(&buf[..n]).await?;
            wr.flush().await?;
            buf.advance(n);
            if let Some(id) = report {
                shared.with_state(|st| {
                    st.node.written(id, n);
                    if let Some(in_flight) = st.in_flight.get_mut(&id) {
                        *in_flight = in_flight.saturating_sub(n);
                    }
                });
            }
        }
    }
    bufs.clear();
    Ok(())
}

/// Restores the streams found on the host's disk (before any client is served), logging
/// what recovery found (and returning it), and starts the disk task.
fn start_jetstream(shared: &Arc<Shared>) -> Vec<String> {
    let wall = WALL_EPOCH + madsim::time::TimeHandle::current().elapsed().as_nanos() as u64;
    let now = shared.now();
    let report = shared.with_node(|node| {
        node.set_wall_clock(wall.saturating_sub(now.as_nanos()));
        jsdisk::recover(&shared.disk, node, now)
    });
    let mut logs = shared.logs.lock().unwrap_or_else(|e| e.into_inner());
    logs.extend(report.iter().map(|l| format!("[INF] recovered {l}")));
    drop(logs);
    madsim::task::spawn(disk_loop(shared.clone()));
    report
}

/// Writes JetStream's batches one at a time and reports each durable. A kill of the host
/// may stop it in the middle of one (see [`jsdisk`]).
async fn disk_loop(shared: Arc<Shared>) {
    loop {
        let next = shared.lock().persist.take();
        let Some((batch, ops)) = next else {
            shared.disk_wake.notified().await;
            continue;
        };
        jsdisk::apply(&shared.disk, &ops, shared.max_sync).await;
        let now = shared.now();
        shared.with_node(|n| n.persisted(now, batch, Ok(())));
    }
}

/// Ticks the node whenever it asked to be ticked.
async fn timer_loop(shared: Arc<Shared>) {
    loop {
        let next = shared.lock().timer_at;
        let sleep = match next {
            Some(at) => at.saturating_since(shared.now()),
            None => Duration::from_secs(3600),
        };
        // biased: tokio's own branch shuffling would draw from an RNG madsim does not seed.
        tokio::select! {
            biased;
            _ = madsim::time::sleep(sleep) => {
                let now = shared.now();
                shared.with_state(|st| {
                    st.timer_at = None;
                    st.node.tick(now);
                });
            }
            _ = shared.timer_wake.notified() => {}
            _ = shared.clock.inner.1.notified() => {}
        }
    }
}
