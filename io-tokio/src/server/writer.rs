//! Writing a connection's queued bytes to its socket.
//!
//! Every connection has a writer task that waits for the node to queue bytes and writes
//! them with vectored writes. Plain TCP client connections also have a faster way out,
//! as the reference's "flush in the reader" has: the task whose event produced the bytes
//! (usually the publisher's reader) takes them while it still holds the node and writes
//! them itself with a non-blocking write as soon as it lets the node go. A request's
//! reply then reaches the socket without waking another task on another thread. Only
//! what the socket does not take at once is handed to the writer task, which waits for
//! the socket and applies the write deadline.
//!
//! One writer at a time: a [`Claim`] on a connection's [`Direct`] side is the right to
//! write, and bytes are taken from the node only by the holder of a claim, after any
//! bytes it still holds, so they go out in the order the node queued them.

use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Buf, Bytes};
use rnats_core::node::{CloseReason, ConnId, Node};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

use super::{Conn, Shared};

/// At most this many chunks go into one vectored write.
const MAX_IOVECS: usize = 64;

/// The write side of a plain TCP connection, usable from any task.
pub(super) struct Direct {
    socket: OwnedWriteHalf,
    /// Set while somebody holds a [`Claim`].
    busy: AtomicBool,
    /// Set by whoever found the connection claimed: the holder wakes the writer task
    /// when it lets go, so that what the node queued meanwhile is written.
    wanted: AtomicBool,
    /// Bytes taken from the node and not yet written, oldest first (only the holder of
    /// a claim touches them).
    pending: Mutex<Vec<Bytes>>,
}

impl Direct {
    pub(super) fn new(socket: OwnedWriteHalf) -> Direct {
        Direct {
            socket,
            busy: AtomicBool::new(false),
            wanted: AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
        }
    }
}

/// The right to write to a connection; letting go of it wakes the writer task if
/// somebody else wanted to write meanwhile.
pub(super) struct Claim {
    conn: Arc<Conn>,
}

impl Claim {
    /// Claims `conn` for writing, if it has a direct side and nobody else holds it.
    pub(super) fn try_new(conn: &Arc<Conn>) -> Option<Claim> {
        let direct = conn.direct.as_ref()?;
        if !direct.busy.swap(true, Ordering::SeqCst) {
            return Some(Claim { conn: conn.clone() });
        }
        direct.wanted.store(true, Ordering::SeqCst);
        // The holder may have let go before it could see `wanted`: try once more.
        if !direct.busy.swap(true, Ordering::SeqCst) {
            return Some(Claim { conn: conn.clone() });
        }
        None
    }

    fn direct(&self) -> &Direct {
        self.conn
            .direct
            .as_ref()
            .expect("claims exist for direct connections")
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Bytes>> {
        self.direct()
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Takes what the node queued for the connection, after what is still pending.
    pub(super) fn take(&mut self, node: &mut Node, id: ConnId) {
        node.take_outbound(id, &mut self.pending());
    }

    /// Adds bytes after what is pending (a closing connection's last words).
    fn append(&mut self, last: Vec<Bytes>) {
        self.pending().extend(last);
    }

    /// Writes what the socket takes without waiting: the number of bytes written, and
    /// whether anything is left.
    pub(super) fn write_now(&mut self) -> io::Result<(usize, bool)> {
        let direct = self.direct();
        let mut pending = direct.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut written = 0;
        while !pending.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let count = pending.len().min(MAX_IOVECS);
            for (slice, chunk) in slices.iter_mut().zip(pending.iter()) {
                *slice = IoSlice::new(chunk);
            }
            let n = match direct.socket.try_write_vectored(&slices[..count]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok((written, true)),
                Err(e) => return Err(e),
            };
            written += n;
            consume(&mut pending, n);
        }
        Ok((written, false))
    }

    /// Writes everything pending, waiting for the socket as needed: the bytes written.
    async fn write_all(&mut self) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let (n, left) = self.write_now()?;
            total += n;
            if !left {
                return Ok(total);
            }
            self.direct().socket.writable().await?;
        }
    }

    /// Lets go and has the writer task finish what the socket did not take at once.
    pub(super) fn hand_over(self) {
        self.direct().wanted.store(true, Ordering::SeqCst);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let direct = self.direct();
        direct.busy.store(false, Ordering::SeqCst);
        if direct.wanted.swap(false, Ordering::SeqCst) {
            self.conn.wake.notify_one();
        }
    }
}

/// Drops the first `n` bytes of `bufs`.
fn consume(bufs: &mut Vec<Bytes>, mut n: usize) {
    let mut done = 0;
    while n > 0 {
        let len = bufs[done].len();
        if n >= len {
            n -= len;
            done += 1;
        } else {
            bufs[done].advance(n);
            n = 0;
        }
    }
    bufs.drain(..done);
}

/// Writes, in order, every chunk, with vectored writes, then flushes (which TLS needs to
/// push its buffered records out; for TCP it does nothing).
pub(super) async fn write_all<W: AsyncWrite + Unpin>(
    wr: &mut W,
    bufs: &mut Vec<Bytes>,
) -> io::Result<()> {
    while !bufs.is_empty() {
        let slices: Vec<IoSlice<'_>> = bufs
            .iter()
            .take(MAX_IOVECS)
            .map(|b| IoSlice::new(b))
            .collect();
        let n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        consume(bufs, n);
    }
    wr.flush().await
}

impl Shared {
    /// Writes what the events just handled queued for connections that were free to be
    /// written at once (see the module's doc), then tells the node how much went out.
    pub(super) fn write_claimed(self: &Arc<Self>, claimed: Vec<(ConnId, Claim)>) {
        let mut outcomes = Vec::with_capacity(claimed.len());
        for (id, mut claim) in claimed {
            let conn = claim.conn.clone();
            let outcome = claim.write_now();
            if let Ok((_, true)) = outcome {
                claim.hand_over();
            }
            outcomes.push((id, conn, outcome.map(|(n, _)| n)));
        }
        self.with_node(|node| {
            for (id, _, outcome) in &outcomes {
                match outcome {
                    Ok(n) => node.written(*id, *n),
                    Err(_) => node.closed(*id, CloseReason::WriteError),
                }
            }
        });
        for (_, conn, _) in outcomes {
            conn.drained.notify_waiters();
        }
    }
}

/// The writer task of a connection: writes what the node queues until the connection
/// closes, then its last words, then shuts the socket. `direct` connections are written
/// through their [`Claim`]s; the others through `wr`.
pub(super) async fn write_loop<W: AsyncWrite + Unpin>(
    shared: Arc<Shared>,
    id: ConnId,
    conn: Arc<Conn>,
    mut wr: Option<W>,
) {
    let mut bufs: Vec<Bytes> = Vec::new();
    loop {
        conn.wake.notified().await;
        let closing = conn
            .closing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(last) = closing {
            let deadline = shared.write_deadline();
            match wr.as_mut() {
                Some(wr) => {
                    let mut last = last;
                    let _ = tokio::time::timeout(deadline, write_all(wr, &mut last)).await;
                    let _ = wr.shutdown().await;
                }
                None => {
                    let mut claim = loop {
                        match Claim::try_new(&conn) {
                            Some(claim) => break claim,
                            None => tokio::task::yield_now().await,
                        }
                    };
                    claim.append(last);
                    let _ = tokio::time::timeout(deadline, claim.write_all()).await;
                }
            }
            if let Some(reader) = conn.reader.lock().unwrap_or_else(|e| e.into_inner()).take() {
                reader.abort();
            }
            return;
        }
        let written = match wr.as_mut() {
            Some(wr) => {
                shared.with_node(|n| n.take_outbound(id, &mut bufs));
                if bufs.is_empty() {
                    continue;
                }
                let total: usize = bufs.iter().map(Bytes::len).sum();
                let write = write_all(wr, &mut bufs);
                let outcome = tokio::time::timeout(shared.write_deadline(), write).await;
                bufs.clear();
                outcome.map(|r| r.map(|()| total))
            }
            None => {
                // Whoever holds the claim wakes this task again when it lets go.
                let Some(mut claim) = Claim::try_new(&conn) else {
                    continue;
                };
                shared.with_node(|n| claim.take(n, id));
                tokio::time::timeout(shared.write_deadline(), claim.write_all()).await
            }
        };
        match written {
            Ok(Ok(total)) => shared.with_node(|n| n.written(id, total)),
            Ok(Err(_)) => shared.with_node(|n| n.closed(id, CloseReason::WriteError)),
            Err(_) => shared.with_node(|n| n.write_stalled(id)),
        }
        conn.drained.notify_waiters();
    }
}
