//! What the node keeps for one client connection.

use bytes::Bytes;

use super::auth::{ClientPerms, PendingAuth};
use super::connect::ConnectOptions;
use super::slots::Slots;
use crate::hash::FixedMap;
use crate::proto::{OutBuf, Parser};
use crate::time::Instant;

/// A connection's id: the `client_id` (`cid`) the reference shows in `INFO`, logs and
/// monitoring. Assigned by the node, increasing, never reused.
pub type ConnId = u64;

/// Where a subscription lives: its connection and its slot there. This is what the sublist
/// stores, so a match leads straight to the subscription without hashing its sid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubRef {
    pub conn: ConnId,
    pub slot: u32,
}

/// One subscription of a client.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    pub sid: Bytes,
    /// Auto-unsubscribe after this many deliveries (`UNSUB sid max`).
    pub max: Option<u64>,
    pub delivered: u64,
    /// The subscription overlaps the client's denied subjects: check each delivery.
    pub filter_denied: bool,
}

/// A client connection's state.
#[derive(Debug)]
pub struct Client {
    pub id: ConnId,
    /// The peer address as `ip:port`, for logs.
    pub peer: String,
    pub ip: String,
    pub parser: Parser,
    /// Options from `CONNECT`; the reference's defaults until one arrives.
    pub opts: ConnectOptions,
    pub connected: bool,
    /// `"vVERSION:LANG:NAME"` once the client has told any of them, for log lines.
    pub label: Option<String>,
    subs: Slots<Subscription>,
    by_sid: FixedMap<Bytes, u32>,
    /// Bytes waiting to be taken by the shell.
    pub out: OutBuf,
    /// Bytes the shell has taken but not yet reported written.
    pub in_flight: usize,
    /// Whether a `Transmit` for this connection is already queued for the shell.
    pub transmit_queued: bool,
    /// PINGs sent without a PONG back.
    pub pings_out: u32,
    pub next_ping: Instant,
    /// When bytes last arrived: a client that is busy talking is not PINGed.
    pub last_activity: Instant,
    /// When the connection was accepted.
    pub start: Instant,
    /// When the PING now outstanding was sent, to measure the round trip.
    pub ping_sent: Option<Instant>,
    /// The round trip measured by the first PING/PONG, shown by monitoring.
    pub rtt: Option<std::time::Duration>,
    /// From `INFO` sent to `CONNECT` received: what monitoring shows as the round trip
    /// until a PING/PONG measures it, as the reference does.
    pub connect_rtt: Option<std::time::Duration>,
    /// When an unauthenticated client is cut off; `None` once authenticated.
    pub auth_deadline: Option<Instant>,
    /// The account the client belongs to: an index into the node's accounts.
    pub account: usize,
    /// The configured user it authenticated as, if any.
    pub user: Option<usize>,
    /// What it may publish and subscribe to; `None` allows everything.
    pub perms: Option<Box<ClientPerms>>,
    /// The nonce sent in `INFO`, for nkey users to sign.
    pub nonce: Option<String>,
    /// A `CONNECT` waiting for the shell's bcrypt check, with the bytes that followed it.
    pub pending_auth: Option<PendingAuth>,
    /// Authenticated as the `no_auth_user` by sending something other than `CONNECT` first.
    pub implicit_auth: bool,
    /// Its password is being checked again after a configuration reload.
    pub recheck: bool,
    /// A subscriber this client's messages are piling up at: the shell should pause
    /// reading from this client for a moment (see `stall.rs`).
    pub stalled_on: Option<ConnId>,
    /// What the client's verified TLS certificate names, for `verify_and_map`.
    pub cert_names: Option<Vec<String>>,
    /// The instant under which this client sits in the node's timer set.
    pub timer_key: Option<Instant>,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl Client {
    pub fn new(id: ConnId, peer: String, ip: String, parser: Parser, next_ping: Instant) -> Client {
        Client {
            id,
            peer,
            ip,
            parser,
            opts: ConnectOptions::default(),
            connected: false,
            label: None,
            subs: Slots::default(),
            by_sid: FixedMap::default(),
            out: OutBuf::default(),
            in_flight: 0,
            transmit_queued: false,
            pings_out: 0,
            next_ping,
            last_activity: Instant::ZERO,
            start: Instant::ZERO,
            ping_sent: None,
            rtt: None,
            connect_rtt: None,
            auth_deadline: None,
            account: 0,
            user: None,
            perms: None,
            nonce: None,
            pending_auth: None,
            implicit_auth: false,
            recheck: false,
            cert_names: None,
            stalled_on: None,
            timer_key: None,
            in_msgs: 0,
            in_bytes: 0,
            out_msgs: 0,
            out_bytes: 0,
        }
    }

    /// The earliest instant this client needs the node's attention.
    pub fn next_timer(&self) -> Instant {
        match self.auth_deadline {
            Some(d) => d.min(self.next_ping),
            None => self.next_ping,
        }
    }

    /// Bytes queued or in flight: what the slow-consumer limit is checked against.
    pub fn pending(&self) -> usize {
        self.out.len() + self.in_flight
    }

    /// The prefix of this client's log lines: `ip:port - cid:N` and, once known,
    /// `- "vVERSION:LANG:NAME"`, as the reference writes it.
    pub fn log_prefix(&self) -> String {
        match &self.label {
            Some(label) => format!("{} - cid:{} - \"{}\"", self.peer, self.id, label),
            None => format!("{} - cid:{}", self.peer, self.id),
        }
    }

    pub fn sub_count(&self) -> usize {
        self.by_sid.len()
    }

    /// The live subscriptions, in slot order.
    pub fn subs(&self) -> impl Iterator<Item = &Subscription> {
        self.subs.iter().map(|(_, s)| s)
    }

    /// The slots of the live subscriptions, in order.
    pub fn slots(&self) -> Vec<u32> {
        self.subs.iter().map(|(slot, _)| slot).collect()
    }

    pub fn slot_of(&self, sid: &[u8]) -> Option<u32> {
        self.by_sid.get(sid).copied()
    }

    pub fn sub_mut(&mut self, slot: u32) -> Option<&mut Subscription> {
        self.subs.get_mut(slot)
    }

    /// The subscription in `slot` and the output buffer, borrowed together (delivery
    /// writes the subscription's sid into the buffer without copying it first).
    pub fn sub_and_out(&mut self, slot: u32) -> Option<(&mut Subscription, &mut OutBuf)> {
        let sub = self.subs.get_mut(slot)?;
        Some((sub, &mut self.out))
    }

    /// Stores a subscription; its slot.
    pub fn add_sub(&mut self, sub: Subscription) -> u32 {
        let sid = sub.sid.clone();
        let slot = self.subs.insert(sub);
        self.by_sid.insert(sid, slot);
        slot
    }

    /// Removes the subscription in `slot`; it, if there was one.
    pub fn remove_sub(&mut self, slot: u32) -> Option<Subscription> {
        let sub = self.subs.remove(slot)?;
        self.by_sid.remove(&sub.sid);
        Some(sub)
    }

    /// Every subscription with its slot, emptying the client (on close).
    pub fn drain_subs(&mut self) -> Vec<(u32, Subscription)> {
        self.by_sid.clear();
        self.subs.drain()
    }

    /// The subscription a no-responders status for `reply` goes to: the first of this
    /// client's subscriptions whose subject matches the reply subject.
    pub fn sub_for_reply(&self, reply: &[u8]) -> Option<&Subscription> {
        self.subs()
            .find(|s| crate::subject::matches(&s.subject, reply))
    }
}
