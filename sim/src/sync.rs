//! Deterministic coordination for scenarios.
//!
//! Avoid `tokio::sync::{Barrier, watch}` here: they wake through tokio's `BigNotify`, which
//! picks among its slots with tokio's thread-local RNG, a source madsim does not seed, so
//! the same seed could schedule differently. `Notify` and `Mutex` wake in FIFO order.

use std::sync::Mutex;

use tokio::sync::Notify;

/// Lets `n` tasks wait until all of them have arrived (single use).
#[derive(Debug)]
pub struct Barrier {
    n: usize,
    arrived: Mutex<usize>,
    all: Notify,
}

impl Barrier {
    pub fn new(n: usize) -> Barrier {
        Barrier {
            n,
            arrived: Mutex::new(0),
            all: Notify::new(),
        }
    }

    pub async fn wait(&self) {
        let all = self.all.notified();
        {
            let mut arrived = self.arrived.lock().unwrap_or_else(|e| e.into_inner());
            *arrived += 1;
            if *arrived >= self.n {
                self.all.notify_waiters();
                return;
            }
        }
        all.await;
    }
}
