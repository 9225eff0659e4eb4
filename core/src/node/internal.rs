//! The server's own subscriptions and publishes. JetStream (its API, acks and the
//! streams' subjects) and the system account's requests are subscriptions of a reserved
//! internal connection in their accounts, so ordinary routing, permissions and
//! no-responders apply to them unchanged. Messages for them queue in an inbox while a
//! publish is being delivered and are handled right after it; what the server answers is
//! published back into the account like any client's message.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;

use super::slots::Slots;
use super::{ConnId, Node, SubRef};
use crate::jetstream::consumer::Delivery;
use crate::proto::Body;

/// The connection id of the server's own subscriptions (clients count from 1).
pub(super) const INTERNAL: ConnId = 0;

/// What an internal subscription is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Target {
    /// `$JS.API.>`.
    JsApi,
    /// `$JS.ACK.>`.
    JsAck,
    /// `$JS.FC.>`: answers to flow control requests.
    JsFlowControl,
    /// `$JS.SNAPSHOT.>`: acks of snapshot chunks, chunks of restores.
    JsSnapshot,
    /// Capturing one of a stream's subjects (shared: the target is cloned per message).
    Stream { name: Arc<str> },
    /// A request to the server in the system account (`$SYS.REQ.SERVER...`).
    SysRequest,
}

#[derive(Clone, Debug)]
pub(super) struct InternalSub {
    pub account: usize,
    pub subject: Bytes,
    pub target: Target,
}

/// A message for an internal subscription, waiting to be handled.
pub(super) struct Inbound {
    /// Who published it: a client, a route, or the server itself.
    pub from: ConnId,
    pub slot: u32,
    pub subject: Bytes,
    pub reply: Option<Bytes>,
    pub headers: Bytes,
    pub data: Bytes,
}

#[derive(Default)]
pub(super) struct Internal {
    /// Subscriptions by slot.
    subs: Slots<InternalSub>,
    inbox: VecDeque<Inbound>,
}

impl Node {
    pub(super) fn subscribe_internal(&mut self, account: usize, subject: Bytes, target: Target) {
        let sub = InternalSub {
            account,
            subject: subject.clone(),
            target,
        };
        let slot = self.internal.subs.insert(sub);
        let sub = SubRef {
            conn: INTERNAL,
            slot,
        };
        if self.accounts[account]
            .sublist
            .insert(&subject, None, sub)
            .is_err()
        {
            self.internal.subs.remove(slot);
            return;
        }
        self.local_interest(account, &subject, None, 1);
    }

    pub(super) fn unsubscribe_internal(&mut self, slot: u32) {
        if let Some(sub) = self.internal.subs.remove(slot) {
            let r = SubRef {
                conn: INTERNAL,
                slot,
            };
            self.accounts[sub.account]
                .sublist
                .remove(&sub.subject, None, r);
            self.local_interest(sub.account, &sub.subject, None, -1);
        }
    }

    /// The live internal subscriptions and their slots.
    pub(super) fn internal_subs(&self) -> impl Iterator<Item = (u32, &InternalSub)> {
        self.internal.subs.iter()
    }

    /// Queues a message for an internal subscription; it is handled once the publish that
    /// carried it is done.
    pub(super) fn deliver_internal(
        &mut self,
        from: ConnId,
        slot: u32,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
    ) -> bool {
        let bytes = message.as_slice();
        let h = header_len.unwrap_or(0).min(bytes.len());
        self.internal.inbox.push_back(Inbound {
            from,
            slot,
            subject: Bytes::copy_from_slice(subject),
            reply: reply.map(Bytes::copy_from_slice),
            headers: Bytes::copy_from_slice(&bytes[..h]),
            data: Bytes::copy_from_slice(&bytes[h..]),
        });
        true
    }

    /// Whether internal messages wait to be handled.
    pub(super) fn internal_pending(&self) -> bool {
        !self.internal.inbox.is_empty()
    }

    /// Handles queued internal messages, until none is left (what the server publishes
    /// in answer may itself be for an internal subscription).
    pub(super) fn run_internal(&mut self) {
        while let Some(msg) = self.internal.inbox.pop_front() {
            let Some(sub) = self.internal.subs.get(msg.slot).cloned() else {
                continue;
            };
            match sub.target {
                Target::SysRequest => self.on_system_request(&msg),
                _ => self.on_jetstream_message(&sub, &msg),
            }
        }
    }

    /// Publishes one message from the server into `account`: routed by `to`, shown with
    /// its own subject.
    pub(super) fn publish_internal(&mut self, account: usize, d: Delivery) {
        let header_len = (!d.headers.is_empty()).then_some(d.headers.len());
        let message = if d.headers.is_empty() {
            d.data.clone()
        } else {
            let mut m = Vec::with_capacity(d.headers.len() + d.data.len());
            m.extend_from_slice(&d.headers);
            m.extend_from_slice(&d.data);
            Bytes::from(m)
        };
        let body = Body::new(&message, Some(&message));
        let result = self.accounts[account].sublist.interest(&d.to);
        let reply = d.reply.as_deref();
        if let Some(result) = &result {
            self.deliver_all(INTERNAL, true, result, &d.subject, reply, header_len, body);
        }
        if self.clustered() {
            // Delivered under another subject than it is routed by (a JetStream consumer's
            // deliver subject): the subject to show travels after the reply, as
            // `<reply>@<subject>`, as the reference sends it.
            let tagged = match reply {
                Some(r) if d.subject != d.to => Some([r, b"@", &d.subject[..]].concat()),
                _ => None,
            };
            let reply = tagged.as_deref().or(reply);
            let local = result.as_deref();
            self.forward_to_routes(account, &d.to, reply, header_len, body, local);
        }
        if self.accounts[account].crosses() {
            let reply = d.reply.as_deref();
            self.deliver_across(INTERNAL, account, &d.to, reply, header_len, body);
        }
    }

    /// Tells the node the Unix time (nanoseconds) at its clock's zero, so it can stamp
    /// messages and events with wall time; the caller reads the wall clock, the core never
    /// does.
    pub fn set_wall_clock(&mut self, unix_nanos_at_zero: u64) {
        self.wall_at_zero = unix_nanos_at_zero;
    }

    /// The wall time now, in nanoseconds since the Unix epoch.
    pub(super) fn wall(&self) -> u64 {
        self.wall_at_zero + self.now.as_nanos()
    }
}
