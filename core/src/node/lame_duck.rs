//! Lame duck mode: the server drains before it goes away.
//!
//! As the reference does it: the shell stops accepting connections, clients that understand
//! async `INFO` (protocol 1 and up) are told `"ldm":true` so they can move elsewhere, then
//! after `lame_duck_grace_period` the clients are closed one by one, spread over what is left
//! of `lame_duck_duration` (at most a second apart, at random between half the interval and
//! the interval), and then the node is done: the shell shuts down.

use std::time::Duration;

use super::{CloseReason, ConnId, Level, Node, Output};
use crate::time::Instant;

/// The longest pause between two clients being closed.
const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// Where lame duck mode stands.
#[derive(Debug)]
pub struct LameDuck {
    /// When the next step is due; `None` once every client is closed.
    next: Option<Instant>,
    /// Clients left to close, last first; `None` during the grace period.
    queue: Option<Vec<ConnId>>,
    /// The pause between two closes.
    interval: Duration,
}

impl Node {
    /// Enters lame duck mode at `now` (the shell has stopped accepting connections).
    /// False if the node already was in it.
    pub fn enter_lame_duck(&mut self, now: Instant) -> bool {
        if self.lame_duck.is_some() {
            return false;
        }
        self.now = now;
        self.outputs.push_back(Output::Log {
            level: Level::Info,
            text: "Entering lame duck mode, stop accepting new clients".to_string(),
        });
        self.send_async_info(ldm_info);
        self.tell_routes_lame_duck();
        self.lame_duck = Some(LameDuck {
            next: Some(now + self.opts.lame_duck_grace_period),
            queue: None,
            interval: Duration::ZERO,
        });
        true
    }

    /// Whether lame duck mode has been entered.
    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.is_some()
    }

    /// Whether lame duck mode has closed every client: the shell should shut down now.
    pub fn lame_duck_done(&self) -> bool {
        self.lame_duck.as_ref().is_some_and(|l| l.next.is_none())
    }

    pub(super) fn lame_duck_timeout(&self) -> Option<Instant> {
        self.lame_duck.as_ref().and_then(|l| l.next)
    }

    /// Ends the grace period and closes clients as they come due.
    pub(super) fn lame_duck_tick(&mut self, now: Instant) {
        let Some(mut ld) = self.lame_duck.take() else {
            return;
        };
        while let Some(at) = ld.next.filter(|&at| at <= now) {
            let queue = match &mut ld.queue {
                Some(queue) => queue,
                None => {
                    self.outputs.push_back(Output::Log {
                        level: Level::Info,
                        text: "Closing existing clients".to_string(),
                    });
                    let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
                    ids.sort_unstable_by(|a, b| b.cmp(a));
                    let mut spread = self
                        .opts
                        .lame_duck_duration
                        .saturating_sub(self.opts.lame_duck_grace_period);
                    if spread.is_zero() {
                        spread = Duration::from_secs(1);
                    }
                    if !ids.is_empty() {
                        ld.interval = (spread / ids.len() as u32).min(MAX_INTERVAL);
                    }
                    ld.queue.insert(ids)
                }
            };
            // Clients that left by themselves meanwhile cost no pause.
            let next = loop {
                match queue.pop() {
                    Some(id) if self.clients.contains_key(&id) => break Some(id),
                    Some(_) => continue,
                    None => break None,
                }
            };
            let Some(id) = next else {
                ld.next = None;
                break;
            };
            self.close(id, CloseReason::ServerShutdown);
            if queue.iter().all(|id| !self.clients.contains_key(id)) {
                ld.next = None;
                break;
            }
            let ns = ld.interval.as_nanos() as usize;
            let pause = self.rng.below(ns.max(1)).max(ns / 2);
            ld.next = Some(at.max(now) + Duration::from_nanos(pause as u64));
        }
        self.lame_duck = Some(ld);
    }
}

/// An `INFO` line with `"ldm":true` added last, as the reference sends it.
fn ldm_info(mut line: Vec<u8>) -> Vec<u8> {
    const END: &[u8] = b"} \r\n";
    if line.ends_with(END) {
        line.truncate(line.len() - END.len());
        line.extend_from_slice(b",\"ldm\":true} \r\n");
    }
    line
}
