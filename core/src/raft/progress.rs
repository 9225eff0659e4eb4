//! A leader's view of one follower's replication.

use std::collections::VecDeque;

/// How the leader is sending to a follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressState {
    /// Looking for the match point: one append in flight at a time.
    Probe,
    /// Streaming: several appends in flight, `next` advanced optimistically.
    Replicate,
}

/// Replication progress of one peer.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Highest index known durable and matching on the peer.
    pub matched: u64,
    /// Next index to send.
    pub next: u64,
    pub state: ProgressState,
    /// In probe: an append is out and unanswered (cleared by the heartbeat).
    pub paused: bool,
    /// In replicate: last index of each append in flight.
    pub inflight: VecDeque<u64>,
    /// Heard from since the last check-quorum round.
    pub recent_active: bool,
    /// `matched` at the previous heartbeat, to spot a stalled pipeline.
    pub matched_at_heartbeat: u64,
}

impl Progress {
    pub fn new(next: u64) -> Progress {
        Progress {
            matched: 0,
            next,
            state: ProgressState::Probe,
            paused: false,
            inflight: VecDeque::new(),
            recent_active: false,
            matched_at_heartbeat: 0,
        }
    }

    /// Back to probing from `next`.
    pub fn probe(&mut self, next: u64) {
        self.state = ProgressState::Probe;
        self.next = next.max(self.matched + 1);
        self.paused = false;
        self.inflight.clear();
    }

    /// An acknowledgement that the peer's log matches up to `index`. Returns whether it
    /// told anything new.
    pub fn ack(&mut self, index: u64) -> bool {
        let mut updated = false;
        if index > self.matched {
            self.matched = index;
            updated = true;
        }
        self.next = self.next.max(index + 1);
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
        if self.state == ProgressState::Probe {
            self.state = ProgressState::Replicate;
            self.inflight.clear();
        }
        self.paused = false;
        updated
    }

    /// Whether the leader may send another append now.
    pub fn can_send(&self, max_inflight: usize) -> bool {
        match self.state {
            ProgressState::Probe => !self.paused,
            ProgressState::Replicate => self.inflight.len() < max_inflight,
        }
    }

    /// Records an append ending at `last` as sent.
    pub fn sent(&mut self, last: u64) {
        match self.state {
            ProgressState::Probe => self.paused = true,
            ProgressState::Replicate => {
                if last >= self.next {
                    self.next = last + 1;
                    self.inflight.push_back(last);
                }
            }
        }
    }
}
