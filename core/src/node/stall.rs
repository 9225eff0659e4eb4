//! Slowing a fast publisher down before its subscriber becomes a slow consumer.
//!
//! As in the reference: when a delivery leaves a subscriber with more than three quarters
//! of `max_pending` waiting (here at most 4 MiB), the publisher is marked; the shell then
//! pauses reading from the publisher for a few milliseconds (or until the subscriber
//! drains), which lets TCP push back on the publisher instead of the server cutting the
//! subscriber off. The pause is short and bounded, so a subscriber that does not read at
//! all still ends up a slow consumer.

use std::time::Duration;

use super::{ConnId, Node};

/// The first pause, doubling up to [`MAX_PAUSE`], at most [`TOTAL_PAUSE`] per stall (the
/// reference's stall timings).
pub const MIN_PAUSE: Duration = Duration::from_millis(2);
pub const MAX_PAUSE: Duration = Duration::from_millis(5);
pub const TOTAL_PAUSE: Duration = Duration::from_millis(10);

/// The most a subscriber may have waiting before it stalls its publishers, whatever
/// `max_pending` allows: a backlog past this only costs memory, as it already keeps a
/// subscriber reading at 1 GB/s busy for 4 ms. Measured with `loadgen` (1 KiB, 1 pub → 1
/// sub): the server's peak RSS went from 49–72 MiB (stalling at 48 MiB) to 15 MiB, at
/// the same or a higher rate.
const MAX_STALL_THRESHOLD: usize = 4 << 20;

/// The backlog above which a subscriber stalls its publishers: three quarters of
/// `max_pending` as in the reference, at most [`MAX_STALL_THRESHOLD`].
pub(super) fn threshold(max_pending: usize) -> usize {
    (max_pending / 4 * 3).min(MAX_STALL_THRESHOLD)
}

impl Node {
    /// The subscriber `conn` should wait for before the shell reads more from it, if its
    /// last publish left one backed up; cleared by the call.
    pub fn take_stall(&mut self, conn: ConnId) -> Option<ConnId> {
        let consumer = self.clients.get_mut(&conn)?.stalled_on.take()?;
        self.is_stalling(consumer).then_some(consumer)
    }

    /// Whether `consumer` (a client or a route) still has more than the stall threshold
    /// waiting.
    pub fn is_stalling(&self, consumer: ConnId) -> bool {
        let limit = threshold(self.opts.max_pending as usize);
        let route = || {
            let routes = self.cluster.as_ref().map(|c| &c.routes);
            routes
                .and_then(|r| r.get(&consumer))
                .is_some_and(|r| r.pending() > limit)
        };
        self.clients
            .get(&consumer)
            .map_or_else(route, |c| c.pending() > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::time::Instant;
    use bytes::Bytes;

    /// A node whose clients may have 4,000 bytes waiting (3,000 stall their publishers).
    fn small_pending_node() -> Node {
        Node::new(
            Options {
                max_pending: 4000,
                ..Options::default()
            },
            4222,
            1,
        )
    }

    #[test]
    fn a_backed_up_subscriber_stalls_its_publisher() {
        let mut node = small_pending_node();
        let now = Instant::ZERO;
        let connect = Bytes::from_static(b"CONNECT {\"verbose\":false}\r\n");
        let publisher = node.accept(now, "127.0.0.1:1".parse().unwrap());
        node.receive(now, publisher, connect.clone());
        let sub = node.accept(now, "127.0.0.1:2".parse().unwrap());
        node.receive(now, sub, connect);
        node.receive(now, sub, Bytes::from_static(b"SUB x 1\r\n"));
        let msg = Bytes::from(format!("PUB x 1000\r\n{}\r\n", "y".repeat(1000)));
        node.receive(now, publisher, msg.clone());
        assert_eq!(node.take_stall(publisher), None, "1 KB of 4 KB: no stall");
        node.receive(now, publisher, msg.clone());
        node.receive(now, publisher, msg);
        assert_eq!(node.take_stall(publisher), Some(sub));
        assert_eq!(node.take_stall(publisher), None, "taken");
        assert!(node.is_stalling(sub));
        let mut out = Vec::new();
        node.take_outbound(sub, &mut out);
        node.written(sub, out.iter().map(Bytes::len).sum());
        assert!(!node.is_stalling(sub));
    }

    /// A client subscribed to `x`, where it publishes.
    fn self_subscriber(node: &mut Node) -> ConnId {
        let client = node.accept(Instant::ZERO, "127.0.0.1:1".parse().unwrap());
        let setup = b"CONNECT {\"verbose\":false}\r\nSUB x 1\r\n";
        node.receive(Instant::ZERO, client, Bytes::from_static(setup));
        client
    }

    /// With the default `max_pending` (64 MiB) publishers stall once a subscriber has
    /// 4 MiB waiting, not 48 MiB: a larger backlog only costs memory.
    #[test]
    fn the_stall_threshold_is_at_most_4_mib() {
        assert_eq!(threshold(4000), 3000);
        assert_eq!(threshold(Options::default().max_pending as usize), 4 << 20);
        let mut node = Node::new(Options::default(), 4222, 1);
        let client = self_subscriber(&mut node);
        let msg = Bytes::from(format!("PUB x 65536\r\n{}\r\n", "y".repeat(65536)));
        for _ in 0..63 {
            node.receive(Instant::ZERO, client, msg.clone());
        }
        assert_eq!(node.take_stall(client), None, "just under 4 MiB waiting");
        node.receive(Instant::ZERO, client, msg.clone());
        node.receive(Instant::ZERO, client, msg);
        assert_eq!(node.take_stall(client), Some(client));
    }

    /// A client that receives what it publishes is paused by its own backlog (as the
    /// reference stalls any producer on a backed-up consumer): reading less from it is
    /// what lets it catch up, where reading on would make it a slow consumer.
    #[test]
    fn a_publisher_backed_up_with_its_own_messages_stalls_itself() {
        let mut node = small_pending_node();
        let client = self_subscriber(&mut node);
        let msg = Bytes::from(format!("PUB x 1000\r\n{}\r\n", "y".repeat(1000)));
        for _ in 0..3 {
            node.receive(Instant::ZERO, client, msg.clone());
        }
        assert_eq!(node.take_stall(client), Some(client));
    }
}
