//! Simulated socket buffers.
//!
//! madsim's TCP never blocks a writer: every write is queued without bound, so on its own a
//! client that stops reading would never push back on the server. A [`Window`] models the
//! kernel's send plus receive buffers of one connection: the server may have at most
//! `capacity` bytes written but not yet read by the client. The client reports what it read,
//! the server's writer waits for room. [`Wires`] finds a connection's window by the client's
//! address, which both ends see.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// Bytes in flight from the server to one client.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    unread: Mutex<usize>,
    room: Notify,
}

impl Window {
    pub fn new(capacity: usize) -> Window {
        Window {
            capacity: capacity.max(1),
            unread: Mutex::new(0),
            room: Notify::new(),
        }
    }

    /// Waits until there is room, then reserves up to `want` bytes; returns how many.
    pub async fn reserve(&self, want: usize) -> usize {
        loop {
            let notified = self.room.notified();
            {
                let mut unread = self.unread.lock().unwrap_or_else(|e| e.into_inner());
                let room = self.capacity.saturating_sub(*unread);
                if room > 0 {
                    let n = room.min(want);
                    *unread += n;
                    return n;
                }
            }
            notified.await;
        }
    }

    /// The client read `n` bytes.
    pub fn consumed(&self, n: usize) {
        let mut unread = self.unread.lock().unwrap_or_else(|e| e.into_inner());
        *unread = unread.saturating_sub(n);
        self.room.notify_waiters();
    }
}

/// The windows of every connection whose client registered one.
#[derive(Clone, Debug, Default)]
pub struct Wires {
    windows: Arc<Mutex<BTreeMap<SocketAddr, Arc<Window>>>>,
}

impl Wires {
    pub fn register(&self, client_addr: SocketAddr, window: Arc<Window>) {
        self.lock().insert(client_addr, window);
    }

    pub fn get(&self, client_addr: SocketAddr) -> Option<Arc<Window>> {
        self.lock().get(&client_addr).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, Arc<Window>>> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}
