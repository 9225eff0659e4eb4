//! Interest and messages between the servers of a cluster.
//!
//! Each server tells its routes which subjects its subscriptions want (`RS+`/`RS-`, per
//! account; a queue group with how many members it has here) and keeps what its routes
//! told it in each account's `routed` sublist. A message published here goes to every
//! route with matching interest, once per route (`RMSG`), naming the queue groups that
//! route should pick a member of; a queue group with members here is served here. A
//! message that came over a route goes to this server's subscriptions only: one hop, so
//! nothing circles a full mesh.

use bytes::Bytes;

use super::route::{sub_key, RemoteSub};
use super::{ConnId, Node, SubRef};
use crate::proto::encode::push_num;
use crate::proto::{Body, MsgHead, OutBuf};
use crate::route::RoutedMsg;
use crate::sublist::MatchResult;

/// One route a message goes to, with the queue groups it is to serve.
struct Target<'a> {
    route: ConnId,
    queues: Vec<&'a [u8]>,
}

impl Node {
    /// A subscription here came (`delta` 1) or went (-1): routes hear of it when a subject
    /// gains its first or loses its last subscription, and of every change to a queue
    /// group's size.
    pub(super) fn local_interest(
        &mut self,
        account: usize,
        subject: &Bytes,
        queue: Option<&Bytes>,
        delta: i32,
    ) {
        if self.cluster.is_none() {
            return;
        }
        let acc = &mut self.accounts[account];
        let key = (subject.clone(), queue.cloned());
        let count = acc.announced.get(&key).copied().unwrap_or(0);
        let now = count.saturating_add_signed(delta);
        if now == 0 {
            acc.announced.remove(&key);
        } else {
            acc.announced.insert(key, now);
        }
        let changed = if queue.is_some() {
            now != count
        } else {
            (count == 0) != (now == 0)
        };
        if !changed || !self.imports(subject) {
            return;
        }
        let line = interest_line(&self.accounts[account].name, subject, queue, now);
        let targets: Vec<ConnId> = self.cluster().remotes.values().copied().collect();
        for id in targets {
            self.route_mut(id).out.push_slice(&line);
            self.queue_route_transmit(id);
        }
    }

    /// Whether this server takes messages on `subject` from its routes (the cluster's
    /// import permission): only such interest is announced.
    fn imports(&self, subject: &[u8]) -> bool {
        let import = self.opts.cluster.import.as_ref();
        import.is_none_or(|rules| rules.allows_publish(subject))
    }

    /// Sends a newly registered route everything this server is interested in.
    pub(super) fn send_interest(&mut self, id: ConnId) {
        let mut out = Vec::new();
        for acc in &self.accounts {
            for ((subject, queue), &n) in &acc.announced {
                if self.imports(subject) {
                    out.extend_from_slice(&interest_line(&acc.name, subject, queue.as_ref(), n));
                }
            }
        }
        if !out.is_empty() {
            self.route_mut(id).out.push_slice(&out);
            self.queue_route_transmit(id);
        }
    }

    /// `RS+` from route `id`.
    pub(super) fn remote_sub(
        &mut self,
        id: ConnId,
        account: &[u8],
        subject: Bytes,
        queue: Option<(Bytes, u32)>,
    ) {
        let Some(acc) = self.routed_account(id, account, &subject) else {
            return;
        };
        let export = self.opts.cluster.export.as_ref();
        if export.is_some_and(|rules| !rules.allows_subscription(&subject)) {
            let text = format!(
                "Can not export {:?}, ignoring remote subscription request",
                String::from_utf8_lossy(&subject)
            );
            return self.route_log(super::Level::Debug, id, &text);
        }
        let key = sub_key(account, &subject, queue.as_ref().map(|(q, _)| q.as_ref()));
        let (queue, weight) = match queue {
            Some((q, w)) => (Some(q), w.max(1)),
            None => (None, 1),
        };
        let sub = RemoteSub {
            account: acc,
            subject: subject.clone(),
            queue: queue.clone(),
            weight,
        };
        let (slot, new) = self.route_mut(id).add_sub(key, sub);
        if !new {
            return;
        }
        let r = SubRef { conn: id, slot };
        let inserted = self.accounts[acc]
            .routed
            .insert(&subject, queue.as_deref(), r);
        if inserted.is_err() {
            let key = sub_key(account, &subject, queue.as_deref());
            self.route_mut(id).remove_sub(&key);
            return;
        }
        self.jetstream_interest_changed();
    }

    /// `RS-` from route `id`.
    pub(super) fn remote_unsub(
        &mut self,
        id: ConnId,
        account: &[u8],
        subject: &[u8],
        queue: Option<&[u8]>,
    ) {
        let key = sub_key(account, subject, queue);
        let Some((slot, sub)) = self.route_mut(id).remove_sub(&key) else {
            return;
        };
        let r = SubRef { conn: id, slot };
        self.accounts[sub.account]
            .routed
            .remove(&sub.subject, sub.queue.as_deref(), r);
        self.jetstream_interest_changed();
    }

    /// The account a route's interest or message is for, if this route carries traffic
    /// and the account is known here.
    fn routed_account(&mut self, id: ConnId, account: &[u8], subject: &[u8]) -> Option<usize> {
        if !self.route_mut(id).registered {
            return None;
        }
        let found = self
            .accounts
            .iter()
            .position(|a| a.name.as_bytes() == account);
        if found.is_none() {
            let text = format!(
                "Unknown account {:?} for remote subject {:?}",
                String::from_utf8_lossy(account),
                String::from_utf8_lossy(subject)
            );
            self.route_log(super::Level::Debug, id, &text);
        }
        found
    }

    /// A message from route `id`: for this server's subscriptions, and one member of each
    /// queue group the sender named.
    pub(super) fn routed_msg(&mut self, id: ConnId, msg: &RoutedMsg) {
        let (subject, reply, header_len) = (msg.subject(), msg.reply(), msg.header_len);
        // A JetStream delivery carries the subject to show after its ack reply.
        let (shown, reply) = match reply.and_then(split_shown_subject) {
            Some((reply, shown)) => (shown, Some(reply)),
            None => (subject, reply),
        };
        let payload = &msg.payload;
        let size = payload.len() as u64;
        let route = self.route_mut(id);
        route.in_msgs += 1;
        route.in_bytes += size;
        self.stats.in_msgs += 1;
        self.stats.in_bytes += size;
        let Some(acc) = self.routed_account(id, msg.account(), subject) else {
            return;
        };
        let body = Body::new(payload, Some(payload));
        // A response to a service request that crossed accounts here.
        if let Some(back) = self.take_response_route(acc, subject) {
            self.deliver_in(id, back.account, &back.reply, None, header_len, body);
        }
        let Some(result) = self.accounts[acc].sublist.interest(subject) else {
            return;
        };
        let head = MsgHead::new(shown, reply, header_len, body.len());
        for &sub in &result.plain {
            self.deliver(id, sub, &head, body);
        }
        for group in result.queues.iter().filter(|_| msg.has_queues()) {
            if msg.queues().any(|q| q == &*group.name) {
                self.deliver_to_one(id, true, &group.members, &head, body);
            }
        }
        if self.internal_pending() {
            self.run_internal();
        }
    }

    /// Sends a message published here to the routes interested in it; how many routes
    /// it went to. Queue groups with members here (in `local`) are left to them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_to_routes(
        &mut self,
        account: usize,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
        local: Option<&MatchResult<SubRef>>,
    ) -> usize {
        let Some(result) = self.accounts[account].routed.interest(subject) else {
            return 0;
        };
        let mut targets: Vec<Target<'_>> = Vec::new();
        let target = |targets: &mut Vec<Target<'_>>, route: ConnId| -> usize {
            match targets.iter().position(|t| t.route == route) {
                Some(i) => i,
                None => {
                    targets.push(Target {
                        route,
                        queues: Vec::new(),
                    });
                    targets.len() - 1
                }
            }
        };
        for sub in &result.plain {
            target(&mut targets, sub.conn);
        }
        for group in &result.queues {
            let served_here = local.is_some_and(|l| {
                l.queues
                    .iter()
                    .any(|g| g.name == group.name && !g.members.is_empty())
            });
            if served_here || group.members.is_empty() {
                continue;
            }
            let chosen = self.pick_weighted(&group.members);
            let i = target(&mut targets, chosen);
            targets[i].queues.push(&group.name);
        }
        let name = &self.accounts[account].name;
        let stall_at = super::stall::threshold(self.opts.max_pending as usize);
        let Some(cluster) = self.cluster.as_mut() else {
            return 0;
        };
        let mut sent = 0;
        for t in &targets {
            let Some(route) = cluster.routes.get_mut(&t.route) else {
                continue;
            };
            let headers = route.remote.as_ref().is_some_and(|r| r.headers);
            let out = &mut route.out;
            let len = encode_rmsg(
                out,
                name,
                subject,
                reply,
                &t.queues,
                header_len,
                headers,
                message.len(),
            );
            let from = if headers { 0 } else { header_len.unwrap_or(0) };
            out.push_body(message, from);
            out.push_slice(b"\r\n");
            route.out_msgs += 1;
            route.out_bytes += len as u64;
            // A route is never cut for its backlog (only for a write that does not
            // finish, as in the reference): its publishers are slowed down instead.
            if route.pending() > stall_at {
                self.stall = Some(t.route);
            }
            if route.mark_transmit() {
                self.outputs.push_back(super::Output::Transmit(t.route));
            }
            self.stats.out_msgs += 1;
            self.stats.out_bytes += len as u64;
            sent += 1;
        }
        sent
    }

    /// A queue group member of another server, chosen at random in proportion to how
    /// many members each server has.
    fn pick_weighted(&mut self, members: &[SubRef]) -> ConnId {
        let weight = |s: &SubRef| -> usize {
            self.cluster
                .as_ref()
                .and_then(|c| c.routes.get(&s.conn))
                .and_then(|r| r.subs.get(s.slot))
                .map_or(1, |sub| sub.weight as usize)
        };
        let total: usize = members.iter().map(weight).sum();
        let mut at = self.rng.below(total.max(1));
        for m in members {
            let w = weight(m);
            if at < w {
                return m.conn;
            }
            at -= w;
        }
        members[0].conn
    }
}

/// `$JS.ACK.<...>@<subject>`: the ack reply and the subject a JetStream delivery shows.
fn split_shown_subject(reply: &[u8]) -> Option<(&[u8], &[u8])> {
    if !reply.starts_with(b"$JS.ACK.") {
        return None;
    }
    let at = memchr::memrchr(b'@', reply)?;
    (at + 1 < reply.len()).then(|| (&reply[..at], &reply[at + 1..]))
}

/// `RS+ account subject [queue weight]` or, when nothing is left, `RS- account subject
/// [queue]`.
fn interest_line(account: &str, subject: &[u8], queue: Option<&Bytes>, n: u32) -> Vec<u8> {
    let mut line = Vec::with_capacity(account.len() + subject.len() + 24);
    line.extend_from_slice(if n > 0 { b"RS+ " } else { b"RS- " });
    line.extend_from_slice(account.as_bytes());
    line.push(b' ');
    line.extend_from_slice(subject);
    if let Some(q) = queue {
        line.push(b' ');
        line.extend_from_slice(q);
        if n > 0 {
            line.extend_from_slice(format!(" {n}").as_bytes());
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// Writes the head of a routed message; the payload size it announces. A peer that does
/// not take headers gets the payload alone.
#[allow(clippy::too_many_arguments)]
fn encode_rmsg(
    out: &mut OutBuf,
    account: &str,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[&[u8]],
    header_len: Option<usize>,
    headers: bool,
    total: usize,
) -> usize {
    let with_headers = header_len.is_some() && headers;
    out.push_slice(if with_headers { b"HMSG " } else { b"RMSG " });
    out.push_slice(account.as_bytes());
    out.push_slice(b" ");
    out.push_slice(subject);
    out.push_slice(b" ");
    match (reply, queues.is_empty()) {
        (Some(r), true) => {
            out.push_slice(r);
            out.push_slice(b" ");
        }
        (None, true) => {}
        (Some(r), false) => {
            out.push_slice(b"+ ");
            out.push_slice(r);
            out.push_slice(b" ");
        }
        (None, false) => out.push_slice(b"| "),
    }
    for q in queues {
        out.push_slice(q);
        out.push_slice(b" ");
    }
    let size = match header_len {
        Some(h) if with_headers => {
            push_num(out, h);
            out.push_slice(b" ");
            total
        }
        Some(h) => total - h,
        None => total,
    };
    push_num(out, size);
    out.push_slice(b"\r\n");
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetstream_deliveries_carry_their_subject_after_the_ack_reply() {
        let tagged = b"$JS.ACK.S.C.1.2.3.4.0@orders.new";
        let (reply, shown) = split_shown_subject(tagged).unwrap();
        assert_eq!(
            (reply, shown),
            (&b"$JS.ACK.S.C.1.2.3.4.0"[..], &b"orders.new"[..])
        );
        assert_eq!(split_shown_subject(b"_INBOX.a@b"), None, "only ack replies");
        assert_eq!(split_shown_subject(b"$JS.ACK.S.C.1.2.3.4.0"), None);
        assert_eq!(split_shown_subject(b"$JS.ACK.x@"), None);
    }
}
