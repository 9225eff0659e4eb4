//! A moment of polling for I/O after input arrives, instead of going to sleep at once.
//!
//! Most of a request/reply round trip on one machine is spent waking sleeping threads: a
//! worker with nothing to do sleeps in `epoll_wait`, and the next message has to wake it
//! (on a virtual machine, an idle virtual CPU must be woken by the host, which costs tens
//! of microseconds). The reference server's Go runtime keeps a thread spinning for work a
//! while before it sleeps; this does the same for tokio: after input, one task keeps
//! yielding for [`WINDOW`], and a worker whose only task has yielded polls for I/O without
//! waiting (tokio polls its driver with a zero timeout then). An idle server does not spin,
//! and a busy one has no gaps for it to fill. Measured with `loadgen --mode reqrep` on two
//! cores, round trips went from 125–150 µs to about 55 µs at the median.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long polling goes on after the last input.
const WINDOW: Duration = Duration::from_micros(100);

#[derive(Default)]
pub struct BusyPoll {
    /// Input arrived since the poller last looked.
    input: AtomicBool,
    /// The poller sleeps (or is about to): input must wake it.
    asleep: AtomicBool,
    wake: Notify,
}

impl BusyPoll {
    /// Input arrived: poll a while from now on.
    pub fn input(&self) {
        self.input.store(true, SeqCst);
        if self.asleep.load(SeqCst) {
            self.wake.notify_one();
        }
    }

    /// Polls for [`WINDOW`] after each input, sleeping in between; never returns.
    pub async fn run(&self) {
        loop {
            self.asleep.store(true, SeqCst);
            if !self.input.swap(false, SeqCst) {
                self.wake.notified().await;
            }
            self.asleep.store(false, SeqCst);
            let mut until = Instant::now() + WINDOW;
            loop {
                tokio::task::yield_now().await;
                let now = Instant::now();
                if self.input.swap(false, SeqCst) {
                    until = now + WINDOW;
                } else if now >= until {
                    break;
                }
            }
        }
    }
}
