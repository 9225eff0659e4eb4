//! Checkers over a [`History`](crate::history::History).
//!
//! Each returns a list of violations, empty when the history is fine. What they check:
//! - a delivery names a publish that was sent, on the published subject, to a subscription
//!   of the client's current connection whose subject matches it, not after its `UNSUB`
//!   was flushed;
//! - no subscription (across reconnects of its client) gets the same message twice;
//! - each subscription sees the messages of each publisher connection in publish order;
//! - a queue group gets each matching message at most once, and exactly once when all its
//!   members are healthy; a healthy plain subscription gets every matching message (a
//!   message's queue group is every queue subscription of one name whose pattern matches
//!   it, as in the server);
//! - request/reply: see [`request_reply`].
//!
//! Connections: a client's `Connected` events split its history into connections; a `SUB`
//! lives only in the connection that sent it (a client that reconnects sends it again,
//! which starts a new incarnation of the subscription). Core NATS is at-most-once, so a
//! subscription is owed only what was published while it was live and flushed.
//!
//! "Flushed" uses the `PING`/`PONG` syncs: within one connection the k-th `Ping` pairs with
//! the k-th `Flushed` (a history without `Ping` events treats each `Flushed` as its own
//! `PING`). An operation is flushed at the `PONG` of the first sync whose `PING` was sent
//! after it, in the same connection. A subscription surely receives a publish if it was
//! flushed before the publish was sent, was not unsubscribed before the publish was
//! flushed, and a `PING` of the same connection sent after the publish was flushed got its
//! `PONG` (so the message had to be queued before that `PONG`).
//!
//! Clusters: a flushed `SUB` is known at once only to its own server, and a flushed
//! publish may still be on a route, so a history with [`Event::Steady`] markers (a cluster
//! scenario's) is owed deliveries only inside steady windows, from a `Steady` to the next
//! [`Event::Quiet`]. There a subscription surely receives a publish if the publish was sent
//! in the window and flushed before its `Quiet`, the subscription was flushed before its
//! `Steady` (so every server knew of it) and not unsubscribed before the `Quiet`, and a
//! `PING` of its connection sent after the `Quiet` got its `PONG`. A queue group is owed a
//! message when every member that could have been picked (not gone before the window)
//! surely receives it. The safety checks are the same with or without windows.

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{ClientId, Event, JsEvent};

/// One incarnation of a subscription: a `SUB` in one connection of its client.
#[derive(Clone, Debug)]
struct Sub {
    client: ClientId,
    sid: String,
    subject: String,
    queue: Option<String>,
    conn: u32,
    at: usize,
    flushed: Option<usize>,
    unsub: Option<usize>,
    unsub_flushed: Option<usize>,
    /// Where its connection ended (the client's `Closed` or next `Connected`).
    ended: Option<usize>,
}

#[derive(Clone, Debug)]
struct Pub {
    subject: String,
    at: usize,
    conn: u32,
    flushed: Option<usize>,
}

/// The history, indexed.
struct Index<'a> {
    events: &'a [Event],
    subs: Vec<Sub>,
    pubs: BTreeMap<(ClientId, u64), Pub>,
    /// (ping sent, pong received) per connection, in order.
    syncs: BTreeMap<(ClientId, u32), Vec<(usize, usize)>>,
    /// For each delivery (by event index), the incarnation it went to.
    delivered_to: BTreeMap<usize, usize>,
    /// Steady windows: (`Steady`, next `Quiet`) indexes. Empty for a single server.
    windows: Vec<(usize, usize)>,
}

impl<'a> Index<'a> {
    fn new(events: &'a [Event]) -> Index<'a> {
        // Pass 1: the connection of every event, and the syncs.
        let mut conn_of: BTreeMap<ClientId, u32> = BTreeMap::new();
        let mut conns = Vec::with_capacity(events.len());
        let mut pings: BTreeMap<(ClientId, u32), Vec<usize>> = BTreeMap::new();
        let mut pongs: BTreeMap<(ClientId, u32), Vec<usize>> = BTreeMap::new();
        // Where each connection ended, by (client, connection).
        let mut ends: BTreeMap<(ClientId, u32), usize> = BTreeMap::new();
        let mut windows = Vec::new();
        let mut steady = None;
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::Steady => steady = Some(i),
                Event::Quiet => windows.extend(steady.take().map(|s| (s, i))),
                _ => {}
            }
            let Some(client) = event_client(e) else {
                conns.push(0);
                continue;
            };
            if matches!(e, Event::Connected { .. } | Event::Closed { .. }) {
                let c = conn_of.get(&client).copied().unwrap_or(0);
                ends.entry((client, c)).or_insert(i);
            }
            if matches!(e, Event::Connected { .. }) {
                *conn_of.entry(client).or_default() += 1;
            }
            let c = conn_of.get(&client).copied().unwrap_or(0);
            conns.push(c);
            match e {
                Event::Ping { .. } => pings.entry((client, c)).or_default().push(i),
                Event::Flushed { .. } => pongs.entry((client, c)).or_default().push(i),
                _ => {}
            }
        }
        let mut syncs: BTreeMap<(ClientId, u32), Vec<(usize, usize)>> = BTreeMap::new();
        for (key, po) in &pongs {
            let pi = pings.get(key);
            let v = po
                .iter()
                .enumerate()
                .map(|(k, &pong)| {
                    let ping = pi.and_then(|p| p.get(k)).copied().unwrap_or(pong);
                    (ping.min(pong), pong)
                })
                .collect();
            syncs.insert(*key, v);
        }
        let flushed_after = |client: ClientId, conn: u32, i: usize| -> Option<usize> {
            let s = syncs.get(&(client, conn))?;
            s.get(s.partition_point(|&(ping, _)| ping <= i))
                .map(|&(_, pong)| pong)
        };
        // Pass 2: subscriptions, publishes, deliveries.
        let mut subs: Vec<Sub> = Vec::new();
        let mut current: BTreeMap<(ClientId, String), usize> = BTreeMap::new();
        let mut pubs = BTreeMap::new();
        let mut delivered_to = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            let conn = conns[i];
            match e {
                Event::Subscribe {
                    client,
                    sid,
                    subject,
                    queue,
                } => {
                    current.insert((*client, sid.clone()), subs.len());
                    subs.push(Sub {
                        client: *client,
                        sid: sid.clone(),
                        subject: subject.clone(),
                        queue: queue.clone(),
                        conn,
                        at: i,
                        flushed: flushed_after(*client, conn, i),
                        unsub: None,
                        unsub_flushed: None,
                        ended: ends.get(&(*client, conn)).copied(),
                    });
                }
                Event::Unsubscribe { client, sid } => {
                    if let Some(&k) = current.get(&(*client, sid.clone())) {
                        let s = &mut subs[k];
                        if s.conn == conn && s.unsub.is_none() {
                            s.unsub = Some(i);
                            s.unsub_flushed = flushed_after(*client, conn, i);
                        }
                    }
                }
                Event::Publish {
                    publisher,
                    seq,
                    subject,
                    ..
                } => {
                    pubs.insert(
                        (*publisher, *seq),
                        Pub {
                            subject: subject.clone(),
                            at: i,
                            conn,
                            flushed: flushed_after(*publisher, conn, i),
                        },
                    );
                }
                Event::Deliver { client, sid, .. } => {
                    if let Some(&k) = current.get(&(*client, sid.clone())) {
                        if subs[k].conn == conn {
                            delivered_to.insert(i, k);
                        }
                    }
                }
                _ => {}
            }
        }
        Index {
            events,
            subs,
            pubs,
            syncs,
            delivered_to,
            windows,
        }
    }

    /// The steady window `p` was published in, if the history has windows.
    fn window_of(&self, p: &Pub) -> Option<(usize, usize)> {
        self.windows
            .iter()
            .copied()
            .find(|&(steady, quiet)| steady < p.at && p.at < quiet)
    }

    /// Whether a queue group of incarnations `members` must receive `p` (see the module
    /// comment).
    fn group_surely_receives(&self, members: &[usize], p: &Pub) -> bool {
        let pf = p.flushed.unwrap_or(usize::MAX);
        let start = self.window_of(p).map_or(0, |(steady, _)| steady);
        let gone = |s: &Sub| {
            let before = |at: Option<usize>| at.is_some_and(|x| x < start);
            !self.windows.is_empty() && (before(s.ended) || before(s.unsub_flushed))
        };
        let mut candidates = members
            .iter()
            .filter(|&&k| self.subs[k].at < pf && !gone(&self.subs[k]))
            .peekable();
        candidates.peek().is_some() && candidates.all(|&k| self.surely_receives(&self.subs[k], p))
    }

    /// The queue groups `subject` reaches, by name: the incarnations of that queue name
    /// whose patterns match it. As in the server, members of one name under different
    /// matching patterns are one group for the message.
    fn groups_for(&self, subject: &str) -> BTreeMap<&str, Vec<usize>> {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (k, s) in self.subs.iter().enumerate() {
            if let Some(q) = &s.queue {
                if subject_matches(&s.subject, subject) {
                    groups.entry(q).or_default().push(k);
                }
            }
        }
        groups
    }

    fn surely_receives(&self, sub: &Sub, p: &Pub) -> bool {
        let Some(pf) = p.flushed else {
            return false;
        };
        if self.windows.is_empty() {
            let active = sub.flushed.is_some_and(|f| f < p.at) && sub.unsub.is_none_or(|u| u > pf);
            return active && self.pinged_after(sub.client, sub.conn, pf);
        }
        let Some((steady, quiet)) = self.window_of(p) else {
            return false;
        };
        pf < quiet
            && sub.flushed.is_some_and(|f| f < steady)
            && sub.unsub.is_none_or(|u| u > quiet)
            && self.pinged_after(sub.client, sub.conn, quiet)
    }

    /// Whether request `p` of `requester` is settled: every answer it is owed was queued
    /// for the requester before a `PONG` it got. For a single server, once a `PING` of the
    /// request's connection followed the last `PONG` of every connection holding a
    /// matching subscription (each answered what it got before that `PONG`); in a cluster,
    /// once the request's connection sent a `PING` after the `Quiet` of the request's
    /// window (the scenario has the responders flush their answers before it).
    fn settled(&self, requester: ClientId, p: &Pub) -> bool {
        if !self.windows.is_empty() {
            return self
                .window_of(p)
                .is_some_and(|(_, quiet)| self.pinged_after(requester, p.conn, quiet));
        }
        let last_pong = self
            .subs
            .iter()
            .filter(|s| subject_matches(&s.subject, &p.subject))
            .map(|s| {
                self.syncs
                    .get(&(s.client, s.conn))
                    .and_then(|v| v.last())
                    .map_or(0, |x| x.1)
            })
            .max()
            .unwrap_or(0);
        self.pinged_after(requester, p.conn, last_pong.max(p.at))
    }

    /// Whether connection `conn` of `client` sent a `PING` after event `i` that got its
    /// `PONG` (its syncs are in order: the last one tells).
    fn pinged_after(&self, client: ClientId, conn: u32, i: usize) -> bool {
        self.syncs
            .get(&(client, conn))
            .and_then(|s| s.last())
            .is_some_and(|&(ping, _)| ping > i)
    }
}

fn event_client(e: &Event) -> Option<ClientId> {
    match e {
        Event::Connected { client }
        | Event::Ping { client }
        | Event::Flushed { client }
        | Event::Subscribe { client, .. }
        | Event::Unsubscribe { client, .. }
        | Event::Deliver { client, .. }
        | Event::NoResponders { client, .. }
        | Event::Error { client, .. }
        | Event::Closed { client } => Some(*client),
        Event::Publish { publisher, .. } => Some(*publisher),
        Event::Steady | Event::Quiet => None,
    }
}

/// Every check at once.
pub fn all(events: &[Event]) -> Vec<String> {
    let mut v = deliveries(events);
    v.extend(no_duplicates(events));
    v.extend(per_publisher_order(events));
    v.extend(completeness(events));
    v.extend(request_reply(events));
    v
}

/// Every delivery is of a sent publish, on its subject, to a live matching subscription of
/// the client's current connection.
pub fn deliveries(events: &[Event]) -> Vec<String> {
    let ix = Index::new(events);
    let mut v = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let Event::Deliver {
            client,
            sid,
            subject,
            publisher,
            seq,
            ..
        } = e
        else {
            continue;
        };
        let what = || format!("#{i} client {client} sid {sid} got {publisher}:{seq} on {subject}");
        match ix.pubs.get(&(*publisher, *seq)) {
            None => v.push(format!("{}: never published", what())),
            Some(p) if p.at > i => v.push(format!("{}: delivered before it was published", what())),
            Some(p) if p.subject != *subject => {
                v.push(format!("{}: published on {}", what(), p.subject))
            }
            Some(_) => {}
        }
        match ix.delivered_to.get(&i).map(|&k| &ix.subs[k]) {
            None => v.push(format!(
                "{}: no such subscription in this connection",
                what()
            )),
            Some(s) => {
                if !subject_matches(&s.subject, subject) {
                    v.push(format!("{}: does not match {}", what(), s.subject));
                }
                if s.unsub_flushed.is_some_and(|f| f < i) {
                    v.push(format!("{}: after its UNSUB was flushed", what()));
                }
            }
        }
    }
    v
}

/// No subscription receives the same message twice, not even across reconnects.
pub fn no_duplicates(events: &[Event]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut v = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Event::Deliver {
            client,
            sid,
            publisher,
            seq,
            ..
        } = e
        {
            if !seen.insert((*client, sid.clone(), *publisher, *seq)) {
                v.push(format!(
                    "#{i} client {client} sid {sid} got {publisher}:{seq} twice"
                ));
            }
        }
    }
    v
}

/// Each subscription (across reconnects) sees the messages each publisher sent over one
/// connection in increasing sequence order. Messages a publisher sent over different
/// connections may legitimately be reordered: the server may still be reading the old one.
pub fn per_publisher_order(events: &[Event]) -> Vec<String> {
    let ix = Index::new(events);
    let mut last: BTreeMap<(ClientId, String, ClientId, u32), u64> = BTreeMap::new();
    let mut v = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if let Event::Deliver {
            client,
            sid,
            publisher,
            seq,
            ..
        } = e
        {
            let pconn = ix.pubs.get(&(*publisher, *seq)).map_or(0, |p| p.conn);
            let prev = last.insert((*client, sid.clone(), *publisher, pconn), *seq);
            if let Some(prev) = prev {
                if prev >= *seq {
                    v.push(format!(
                        "#{i} client {client} sid {sid} got {publisher}:{seq} after {publisher}:{prev}"
                    ));
                }
            }
        }
    }
    v
}

/// Queue groups get each matching message at most once, and exactly once when every member
/// incarnation that may have been chosen surely receives; healthy plain subscriptions get
/// every matching message.
pub fn completeness(events: &[Event]) -> Vec<String> {
    let ix = Index::new(events);
    // (publisher, seq) -> incarnations it was delivered to.
    let mut got: BTreeMap<(ClientId, u64), Vec<usize>> = BTreeMap::new();
    for (i, e) in ix.events.iter().enumerate() {
        if let Event::Deliver { publisher, seq, .. } = e {
            if let Some(&k) = ix.delivered_to.get(&i) {
                got.entry((*publisher, *seq)).or_default().push(k);
            }
        }
    }
    let mut v = Vec::new();
    let none = Vec::new();
    // What each subject reaches: plain incarnations, and queue groups by name.
    type Reach<'a> = (Vec<usize>, BTreeMap<&'a str, Vec<usize>>);
    let mut reach: BTreeMap<&str, Reach<'_>> = BTreeMap::new();
    for (&(publisher, seq), p) in &ix.pubs {
        let got = got.get(&(publisher, seq)).unwrap_or(&none);
        let count = |k: usize| got.iter().filter(|&&g| g == k).count();
        let (plain, groups) = reach.entry(p.subject.as_str()).or_insert_with(|| {
            let plain = (ix.subs.iter().enumerate())
                .filter(|(_, s)| s.queue.is_none() && subject_matches(&s.subject, &p.subject))
                .map(|(k, _)| k)
                .collect();
            (plain, ix.groups_for(&p.subject))
        });
        for &k in plain.iter() {
            let s = &ix.subs[k];
            if ix.surely_receives(s, p) && count(k) == 0 {
                v.push(format!(
                    "{publisher}:{seq} on {} lost for client {} sid {} ({})",
                    p.subject, s.client, s.sid, s.subject
                ));
            }
        }
        for (queue, members) in groups.iter() {
            let n: usize = members.iter().map(|&k| count(k)).sum();
            if n > 1 {
                v.push(format!(
                    "{publisher}:{seq} on {} delivered {n} times to queue group {queue}",
                    p.subject
                ));
            }
            if ix.group_surely_receives(members, p) && n == 0 {
                v.push(format!(
                    "{publisher}:{seq} on {} lost for queue group {queue}",
                    p.subject
                ));
            }
        }
    }
    v
}

/// Request/reply. A request is a publish with a reply inbox (one inbox per request); an
/// answer is a publish on a request's inbox. The scenario's contract: every subscription a
/// request can reach belongs to a responder, which answers each request it gets before its
/// next `PING`. Checks, per request:
/// - every delivery of the request carries its inbox as the reply subject;
/// - answers reach only the requester, on the inbox, at most one per responder delivery;
/// - a `503` no-responders status comes only to the requester, on the inbox, and only for
///   a request no subscription got;
/// - once settled (see `Index::settled`: every answer was flushed before a `PONG` the
///   requester got), the requester got an answer from every plain subscription and every queue group that
///   surely received the request, so exactly one per healthy queue group (at most one per
///   group is the [`completeness`] check).
pub fn request_reply(events: &[Event]) -> Vec<String> {
    let ix = Index::new(events);
    // inbox -> (requester, seq), and back.
    let mut requests: BTreeMap<&str, (ClientId, u64)> = BTreeMap::new();
    let mut inbox_of: BTreeMap<(ClientId, u64), &str> = BTreeMap::new();
    for e in events {
        if let Event::Publish {
            publisher,
            seq,
            reply: Some(inbox),
            ..
        } = e
        {
            requests.insert(inbox, (*publisher, *seq));
            inbox_of.insert((*publisher, *seq), inbox);
        }
    }
    if requests.is_empty() {
        return Vec::new();
    }
    let mut v = Vec::new();
    // Per request: the clients it reached, the responders whose answers reached the
    // requester, the 503s it got.
    let mut reached: BTreeMap<(ClientId, u64), Vec<ClientId>> = BTreeMap::new();
    let mut answered: BTreeMap<(ClientId, u64), Vec<ClientId>> = BTreeMap::new();
    let mut statuses: BTreeMap<(ClientId, u64), usize> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        match e {
            Event::Deliver {
                client,
                subject,
                reply,
                publisher,
                seq,
                ..
            } => {
                let what = || format!("#{i} client {client} got {publisher}:{seq} on {subject}");
                if let Some(p) = ix.pubs.get(&(*publisher, *seq)) {
                    if let Some(&inbox) = inbox_of.get(&(*publisher, *seq)) {
                        if reply.as_deref() != Some(inbox) {
                            v.push(format!("{}: reply subject {reply:?}, sent {inbox}", what()));
                        }
                        reached.entry((*publisher, *seq)).or_default().push(*client);
                    }
                    if let Some(&(requester, rseq)) = requests.get(p.subject.as_str()) {
                        if *client == requester {
                            answered
                                .entry((requester, rseq))
                                .or_default()
                                .push(*publisher);
                        } else {
                            v.push(format!("{}: an answer to {requester}:{rseq}", what()));
                        }
                    }
                }
            }
            Event::NoResponders {
                client, subject, ..
            } => match requests.get(subject.as_str()) {
                Some(&(requester, rseq)) if requester == *client => {
                    *statuses.entry((requester, rseq)).or_default() += 1;
                }
                _ => v.push(format!(
                    "#{i} client {client}: 503 on {subject}, not its request"
                )),
            },
            _ => {}
        }
    }
    let none = Vec::new();
    for &(requester, seq) in requests.values() {
        let Some(p) = ix.pubs.get(&(requester, seq)) else {
            continue;
        };
        let what = format!("request {requester}:{seq} on {}", p.subject);
        let reached = reached.get(&(requester, seq)).unwrap_or(&none);
        let answered = answered.get(&(requester, seq)).unwrap_or(&none);
        for r in answered.iter().collect::<BTreeSet<_>>() {
            let from = |l: &Vec<ClientId>| l.iter().filter(|&c| c == r).count();
            if from(answered) > from(reached) {
                v.push(format!(
                    "{what}: {} answers from {r}, reached it {} times",
                    from(answered),
                    from(reached)
                ));
            }
        }
        let status = statuses.get(&(requester, seq)).copied().unwrap_or(0);
        if status > 0 && (!reached.is_empty() || status > 1) {
            v.push(format!(
                "{what}: {status} no-responders statuses, reached {reached:?}"
            ));
        }
        if !ix.settled(requester, p) {
            continue;
        }
        let plain = ix
            .subs
            .iter()
            .filter(|s| s.queue.is_none() && subject_matches(&s.subject, &p.subject))
            .filter(|s| ix.surely_receives(s, p))
            .count();
        let owed_groups = ix
            .groups_for(&p.subject)
            .values()
            .filter(|m| ix.group_surely_receives(m, p))
            .count();
        let owed = plain + owed_groups;
        if answered.len() < owed {
            v.push(format!("{what}: {} answers, owed {owed}", answered.len()));
        }
    }
    v
}

/// Memory bound under slow consumers: no connection ever had more than `max_pending` plus
/// one message (`max_frame` bytes, the largest `MSG` frame the scenario can produce)
/// buffered outbound. `peaks` comes from
/// [`ServerView::pending_peaks`](crate::shell::ServerView::pending_peaks), which sees what
/// the shell took from the node (the core exposes no per-connection figure), so a backlog
/// the node queued and dropped at a slow-consumer close escapes it; the close itself is
/// checked by the scenario.
pub fn pending_bound(
    peaks: &BTreeMap<u64, usize>,
    max_pending: usize,
    max_frame: usize,
) -> Vec<String> {
    peaks
        .iter()
        .filter(|&(_, &peak)| peak > max_pending + max_frame)
        .map(|(conn, peak)| {
            format!(
                "connection {conn} buffered {peak} bytes, max_pending {max_pending} + {max_frame}"
            )
        })
        .collect()
}

/// `-ERR`s and unparsable messages any client received.
pub fn errors(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            Event::Error { client, text } => Some(format!("#{i} client {client} got -ERR {text}")),
            _ => None,
        })
        .collect()
}

/// Whether the literal `subject` matches the subscription `pattern` (`*` one token, `>` the
/// rest, at least one token). Written apart from the core's sublist on purpose.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(subject_matches("a.*.c", "a.b.c"));
        assert!(subject_matches("a.>", "a.b.c"));
        assert!(!subject_matches("a.>", "a"));
        assert!(!subject_matches("a.*", "a.b.c"));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.c"));
    }
}

#[cfg(test)]
mod detects {
    use super::*;

    fn sub(client: ClientId, subject: &str, queue: Option<&str>) -> Event {
        Event::Subscribe {
            client,
            sid: "1".into(),
            subject: subject.into(),
            queue: queue.map(Into::into),
        }
    }
    fn publ(seq: u64, subject: &str) -> Event {
        Event::Publish {
            publisher: 1,
            seq,
            subject: subject.into(),
            reply: None,
        }
    }
    fn got(client: ClientId, seq: u64, subject: &str) -> Event {
        Event::Deliver {
            client,
            sid: "1".into(),
            subject: subject.into(),
            reply: None,
            publisher: 1,
            seq,
        }
    }
    fn flushed(client: ClientId) -> Event {
        Event::Flushed { client }
    }

    #[test]
    fn a_clean_history_passes() {
        let h = [
            sub(2, "a.*", None),
            flushed(2),
            publ(1, "a.b"),
            publ(2, "a.c"),
            flushed(1),
            got(2, 1, "a.b"),
            got(2, 2, "a.c"),
            flushed(2),
        ];
        assert_eq!(all(&h), Vec::<String>::new());
    }

    #[test]
    fn violations_are_found() {
        let h = [
            sub(2, "a.*", None),
            sub(3, "q", Some("g")),
            sub(4, "q", Some("g")),
            flushed(2),
            flushed(3),
            flushed(4),
            publ(1, "a.b"),
            publ(2, "a.c"),
            publ(3, "x"),
            publ(4, "q"),
            publ(5, "a.d"),
            flushed(1),
            got(2, 2, "a.c"),
            got(2, 1, "a.b"),
            got(2, 1, "a.b"),
            got(2, 3, "x"),
            got(3, 4, "q"),
            got(4, 4, "q"),
            flushed(2),
            flushed(3),
            flushed(4),
        ];
        let v = all(&h);
        let has = |s: &str| v.iter().any(|x| x.contains(s));
        assert!(has("twice"), "{v:?}");
        assert!(has("after 1:2"), "{v:?}");
        assert!(has("does not match"), "{v:?}");
        assert!(has("delivered 2 times to queue group"), "{v:?}");
        assert!(has("1:5 on a.d lost"), "{v:?}");
    }

    #[test]
    fn steady_windows_decide_what_a_cluster_owes() {
        let ping = |client| Event::Ping { client };
        // Subscriber 2 flushed before the window; publish 1 is before it, 2 in it, 3 in
        // it but flushed after its Quiet; 2 pings again after the Quiet.
        let h = |delivered: &[u64]| {
            let mut h = vec![sub(2, "a.*", None), ping(2), flushed(2), publ(1, "a.b")];
            h.extend([ping(1), flushed(1), Event::Steady, publ(2, "a.c"), ping(1)]);
            h.extend([
                flushed(1),
                publ(3, "a.d"),
                Event::Quiet,
                ping(1),
                flushed(1),
            ]);
            let subject = |seq| ["a.b", "a.c", "a.d"][seq as usize - 1];
            h.extend(delivered.iter().map(|&seq| got(2, seq, subject(seq))));
            h.extend([ping(2), flushed(2)]);
            h
        };
        let v = completeness(&h(&[]));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("1:2 on a.c lost"), "{v:?}");
        assert_eq!(all(&h(&[2])), Vec::<String>::new());
        // A subscription made inside the window is owed nothing in it.
        let mut late = h(&[]);
        late.remove(0);
        late.insert(7, sub(2, "a.*", None));
        assert_eq!(completeness(&late), Vec::<String>::new());
    }

    /// Client 1 requests on `svc` with inbox `in.1`; responder 2 answers with its seq 1.
    fn request_history(answer_to: ClientId, answered: bool) -> Vec<Event> {
        let mut h = vec![
            Event::Subscribe {
                client: 1,
                sid: "i".into(),
                subject: "in.*".into(),
                queue: None,
            },
            sub(2, "svc", None),
            sub(3, "in.1", None),
            flushed(1),
            flushed(2),
            flushed(3),
            Event::Publish {
                publisher: 1,
                seq: 1,
                subject: "svc".into(),
                reply: Some("in.1".into()),
            },
            flushed(1),
            Event::Deliver {
                client: 2,
                sid: "1".into(),
                subject: "svc".into(),
                reply: Some("in.1".into()),
                publisher: 1,
                seq: 1,
            },
        ];
        if answered {
            h.push(Event::Publish {
                publisher: 2,
                seq: 1,
                subject: "in.1".into(),
                reply: None,
            });
            h.push(Event::Deliver {
                client: answer_to,
                sid: if answer_to == 1 { "i" } else { "1" }.into(),
                subject: "in.1".into(),
                reply: None,
                publisher: 2,
                seq: 1,
            });
        }
        h.extend([flushed(2), flushed(3), flushed(1)]);
        h
    }

    #[test]
    fn request_reply_violations_are_found() {
        assert_eq!(
            request_reply(&request_history(1, true)),
            Vec::<String>::new()
        );
        let v = request_reply(&request_history(3, true));
        assert!(v.iter().any(|x| x.contains("an answer to 1:1")), "{v:?}");
        let v = request_reply(&request_history(1, false));
        assert!(v.iter().any(|x| x.contains("0 answers, owed 1")), "{v:?}");
    }
}

/// A JetStream stream under crashes (`tests/jetstream.rs`), judged on what was read back
/// at the end (the `Stored` events):
/// - every acknowledged publish is stored at its acknowledged sequence with its exact
///   payload and subject, unless its sequence is below `floor` (a stream limit may have
///   removed it), and no two publishes were acknowledged with one sequence;
/// - every stored message is one that was published (subject and payload), stored once;
/// - a sequence missing between the first and last stored one was never acknowledged
///   (unacknowledged tails may be lost to a crash, later ones may survive a torn block);
/// - the stream's last sequence is at least the highest acknowledged one.
pub fn js_stream(events: &[JsEvent], floor: u64) -> Vec<String> {
    let mut v = Vec::new();
    let mut published: BTreeMap<(ClientId, u64), (&str, &[u8])> = BTreeMap::new();
    let mut by_payload: BTreeMap<&[u8], (ClientId, u64)> = BTreeMap::new();
    let mut acked: BTreeMap<u64, (ClientId, u64)> = BTreeMap::new();
    let mut stored: BTreeMap<u64, (&str, &[u8])> = BTreeMap::new();
    for e in events {
        match e {
            JsEvent::Published {
                publisher,
                n,
                subject,
                payload,
            } => {
                published.insert((*publisher, *n), (subject, payload));
                by_payload.insert(payload, (*publisher, *n));
            }
            JsEvent::Acked { publisher, n, seq } => {
                if let Some(other) = acked.insert(*seq, (*publisher, *n)) {
                    v.push(format!(
                        "seq {seq} acknowledged twice: to {other:?} and to {:?}",
                        (publisher, n)
                    ));
                }
            }
            JsEvent::Stored {
                seq,
                subject,
                payload,
            } => {
                let again = stored.insert(*seq, (subject, payload)).is_some();
                if again {
                    v.push(format!("seq {seq} read back twice"));
                }
            }
            _ => {}
        }
    }
    for (seq, id) in &acked {
        let want = published.get(id).copied();
        match (stored.get(seq), want) {
            (_, None) => v.push(format!(
                "seq {seq} acknowledged for {id:?}, never published"
            )),
            (None, _) if *seq < floor => {}
            (None, _) => v.push(format!("acknowledged {id:?} at seq {seq} is lost")),
            (Some(got), Some(want)) if *got != want => v.push(format!(
                "acknowledged {id:?} at seq {seq}: stored {:?} on {}, published {:?} on {}",
                String::from_utf8_lossy(got.1),
                got.0,
                String::from_utf8_lossy(want.1),
                want.0
            )),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    for (seq, (subject, payload)) in &stored {
        let Some(id) = by_payload.get(payload) else {
            v.push(format!(
                "seq {seq} holds {:?}, never published",
                String::from_utf8_lossy(payload)
            ));
            continue;
        };
        if published[id].0 != *subject {
            v.push(format!("seq {seq}: {id:?} stored on {subject}"));
        }
        if !seen.insert(id) {
            v.push(format!("{id:?} stored twice (again at seq {seq})"));
        }
    }
    if let (Some(first), Some(last)) = (stored.keys().next(), stored.keys().last()) {
        for seq in *first..*last {
            if !stored.contains_key(&seq) && acked.contains_key(&seq) {
                v.push(format!("gap at acknowledged seq {seq}"));
            }
        }
    }
    let top_acked = acked.keys().last().copied().unwrap_or(0);
    let last = stored.keys().last().copied().unwrap_or(0);
    if last < top_acked {
        v.push(format!(
            "last seq {last} below acknowledged seq {top_acked}"
        ));
    }
    v
}

/// A durable pull consumer (explicit acks, each confirmed by a double ack) under crashes:
/// - a delivery carries the payload stored at its sequence (deliveries wait for the
///   message to be durable, so none may show a message a crash later undid);
/// - once an ack was confirmed, that sequence is never delivered again (the confirmation
///   waits for the consumer state that holds the ack to be durable);
/// - every stored message was delivered at least once (the consumer drains after the last
///   restart, and a delivery whose ack did not become durable comes back after
///   `ack_wait`). An ack that became durable but whose confirmation a crash swallowed is
///   not redelivered, so confirmations are not required; the scenario asks the server
///   that nothing is left pending instead.
pub fn js_consumer(events: &[JsEvent]) -> Vec<String> {
    let mut v = Vec::new();
    let stored: BTreeMap<u64, &[u8]> = events
        .iter()
        .filter_map(|e| match e {
            JsEvent::Stored { seq, payload, .. } => Some((*seq, payload.as_slice())),
            _ => None,
        })
        .collect();
    let mut confirmed = BTreeSet::new();
    let mut delivered = BTreeSet::new();
    let mut crashes = 0;
    for e in events {
        match e {
            JsEvent::Crashed => crashes += 1,
            JsEvent::Delivered { seq, payload } => {
                delivered.insert(*seq);
                if confirmed.contains(seq) {
                    v.push(format!(
                        "seq {seq} delivered again after its ack was confirmed (after {crashes} crash(es))"
                    ));
                }
                if stored.get(seq) != Some(&payload.as_slice()) {
                    v.push(format!(
                        "seq {seq} delivered as {:?}, stored as {:?}",
                        String::from_utf8_lossy(payload),
                        stored.get(seq).map(|p| String::from_utf8_lossy(p))
                    ));
                }
            }
            JsEvent::AckConfirmed { seq } => {
                confirmed.insert(*seq);
            }
            _ => {}
        }
    }
    let missed: Vec<u64> = stored
        .keys()
        .filter(|s| !delivered.contains(s))
        .copied()
        .collect();
    if !missed.is_empty() {
        v.push(format!(
            "{} stored message(s) never delivered to the consumer: {:?}",
            missed.len(),
            &missed[..missed.len().min(20)]
        ));
    }
    v
}
