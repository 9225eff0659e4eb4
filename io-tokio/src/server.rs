//! The tokio shell: sockets, tasks and time around one core [`Node`].
//!
//! Each connection has a reader task (bytes into the node) and a writer task (the node's
//! queued bytes out, as vectored writes). The node sits behind one mutex that is never held
//! across an `await`: every task locks it, feeds it an event, carries out the outputs that
//! event produced, and lets go. A timer task ticks the node when it asks to be ticked.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rnats_core::node::{CloseReason, ConnId, Level, Node, Output};
use rnats_core::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::log::Logger;

/// Read buffers start small and grow while reads fill them, as the reference's do, so that
/// idle connections cost little and busy ones read in large gulps.
const MIN_READ: usize = 512;
const MAX_READ: usize = 64 * 1024;
/// At most this many chunks go into one vectored write.
const MAX_IOVECS: usize = 64;

/// The shell's side of one connection.
struct Conn {
    /// Wakes the writer: there are bytes to take, or the connection is closing.
    wake: Notify,
    /// Set when the node has closed the connection: the last bytes to write first.
    closing: Mutex<Option<Vec<Bytes>>>,
    reader: Mutex<Option<AbortHandle>>,
}

struct State {
    node: Node,
    conns: HashMap<ConnId, Arc<Conn>>,
    /// The deadline the timer task is sleeping towards.
    timer_at: Option<Instant>,
}

/// Everything the tasks share.
pub struct Shared {
    state: Mutex<State>,
    logger: Arc<Logger>,
    epoch: tokio::time::Instant,
    timer_wake: Notify,
    write_deadline: Duration,
}

impl Shared {
    pub fn new(node: Node, logger: Arc<Logger>) -> Arc<Shared> {
        let write_deadline = node.options().write_deadline.max(Duration::from_millis(1));
        Arc::new(Shared {
            state: Mutex::new(State {
                node,
                conns: HashMap::new(),
                timer_at: None,
            }),
            logger,
            epoch: tokio::time::Instant::now(),
            timer_wake: Notify::new(),
            write_deadline,
        })
    }

    fn now(&self) -> Instant {
        Instant::from_nanos(self.epoch.elapsed().as_nanos() as u64)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the node and carries out whatever it asked for.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut logs = Vec::new();
        let r = {
            let mut st = self.lock();
            let r = f(&mut st);
            self.dispatch(&mut st, &mut logs);
            r
        };
        for (level, text) in logs {
            self.logger.log(level, &text);
        }
        r
    }

    fn with_node<R>(&self, f: impl FnOnce(&mut Node) -> R) -> R {
        self.with_state(|st| f(&mut st.node))
    }

    fn dispatch(&self, st: &mut State, logs: &mut Vec<(Level, String)>) {
        while let Some(out) = st.node.poll_output() {
            match out {
                Output::Transmit(id) => {
                    if let Some(conn) = st.conns.get(&id) {
                        conn.wake.notify_one();
                    }
                }
                Output::Close { conn: id, last } => {
                    if let Some(conn) = st.conns.remove(&id) {
                        *conn.closing.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
                        conn.wake.notify_one();
                    }
                }
                Output::Log { level, text } => logs.push((level, text)),
            }
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

/// Accepts clients until the listener fails for good.
pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => start_conn(&shared, stream, peer),
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

fn start_conn(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let conn = Arc::new(Conn {
        wake: Notify::new(),
        closing: Mutex::new(None),
        reader: Mutex::new(None),
    });
    let now = shared.now();
    let id = shared.with_state(|st| {
        let id = st.node.accept(now, peer);
        st.conns.insert(id, conn.clone());
        id
    });
    let reader = tokio::spawn(read_loop(shared.clone(), id, rd));
    *conn.reader.lock().unwrap_or_else(|e| e.into_inner()) = Some(reader.abort_handle());
    tokio::spawn(write_loop(shared.clone(), id, conn, wr));
}

async fn read_loop(shared: Arc<Shared>, id: ConnId, mut rd: OwnedReadHalf) {
    let mut buf = BytesMut::new();
    let mut want = MIN_READ;
    loop {
        buf.reserve(want);
        let room = buf.capacity() - buf.len();
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                shared.with_node(|n| n.closed(id, CloseReason::ClientClosed));
                return;
            }
            Ok(n) => {
                if n == room {
                    want = (want * 2).min(MAX_READ);
                } else if n < want / 4 {
                    want = (want / 2).max(MIN_READ);
                }
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

async fn write_loop(shared: Arc<Shared>, id: ConnId, conn: Arc<Conn>, mut wr: OwnedWriteHalf) {
    let mut bufs: Vec<Bytes> = Vec::new();
    loop {
        conn.wake.notified().await;
        let closing = conn
            .closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut last) = closing {
            let _ =
                tokio::time::timeout(shared.write_deadline, write_all(&mut wr, &mut last)).await;
            let _ = wr.shutdown().await;
            if let Some(reader) = conn.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
                reader.abort();
            }
            return;
        }
        shared.with_node(|n| n.take_outbound(id, &mut bufs));
        if bufs.is_empty() {
            continue;
        }
        let total: usize = bufs.iter().map(Bytes::len).sum();
        match tokio::time::timeout(shared.write_deadline, write_all(&mut wr, &mut bufs)).await {
            Ok(Ok(())) => shared.with_node(|n| n.written(id, total)),
            Ok(Err(_)) => shared.with_node(|n| n.closed(id, CloseReason::WriteError)),
            Err(_) => shared.with_node(|n| n.write_stalled(id)),
        }
        bufs.clear();
    }
}

/// Writes every chunk, in order, with vectored writes.
async fn write_all(wr: &mut OwnedWriteHalf, bufs: &mut Vec<Bytes>) -> io::Result<()> {
    let mut first = 0;
    while first < bufs.len() {
        let slices: Vec<IoSlice<'_>> = bufs[first..]
            .iter()
            .take(MAX_IOVECS)
            .map(|b| IoSlice::new(b))
            .collect();
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 {
            let len = bufs[first].len();
            if n >= len {
                n -= len;
                first += 1;
            } else {
                bufs[first].advance(n);
                n = 0;
            }
        }
    }
    bufs.clear();
    Ok(())
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
