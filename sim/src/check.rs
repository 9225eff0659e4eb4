//! Checkers over a [`History`](crate::history::History).
//!
//! Each returns a list of violations, empty when the history is fine. What they check:
//! - a delivery names a publish that was sent, on the published subject, to a subscription
//!   whose subject matches it, not after its `UNSUB` was flushed;
//! - no subscription gets the same message twice;
//! - each subscription sees each publisher's messages in publish order;
//! - a queue group gets each matching message at most once, and exactly once when all its
//!   members are healthy; a healthy plain subscription gets every matching message.
//!
//! "Flushed" and "healthy" use the `PING`/`PONG` syncs in the history: an operation is
//! flushed at the first `Flushed` of its client after it; a subscription surely receives a
//! publish if it was flushed before the publish was sent, was not unsubscribed before the
//! publish was flushed, and its client flushed again after that (so the message had to
//! arrive before that `PONG`).

use std::collections::{BTreeMap, BTreeSet};

use crate::history::{ClientId, Event};

#[derive(Clone, Debug)]
struct Sub {
    subject: String,
    queue: Option<String>,
    at: usize,
    flushed: Option<usize>,
    unsub: Option<usize>,
    unsub_flushed: Option<usize>,
}

#[derive(Clone, Debug)]
struct Pub {
    subject: String,
    at: usize,
    flushed: Option<usize>,
}

/// The history, indexed.
struct Index<'a> {
    events: &'a [Event],
    subs: BTreeMap<(ClientId, String), Sub>,
    pubs: BTreeMap<(ClientId, u64), Pub>,
    flushes: BTreeMap<ClientId, Vec<usize>>,
}

impl<'a> Index<'a> {
    fn new(events: &'a [Event]) -> Index<'a> {
        let mut flushes: BTreeMap<ClientId, Vec<usize>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            if let Event::Flushed { client } = e {
                flushes.entry(*client).or_default().push(i);
            }
        }
        let flushed_after = |client: ClientId, i: usize| -> Option<usize> {
            let f = flushes.get(&client)?;
            f.get(f.partition_point(|&x| x < i)).copied()
        };
        let mut subs = BTreeMap::new();
        let mut pubs = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::Subscribe {
                    client,
                    sid,
                    subject,
                    queue,
                } => {
                    subs.insert(
                        (*client, sid.clone()),
                        Sub {
                            subject: subject.clone(),
                            queue: queue.clone(),
                            at: i,
                            flushed: flushed_after(*client, i),
                            unsub: None,
                            unsub_flushed: None,
                        },
                    );
                }
                Event::Unsubscribe { client, sid } => {
                    if let Some(s) = subs.get_mut(&(*client, sid.clone())) {
                        if s.unsub.is_none() {
                            s.unsub = Some(i);
                            s.unsub_flushed = flushed_after(*client, i);
                        }
                    }
                }
                Event::Publish {
                    publisher,
                    seq,
                    subject,
                } => {
                    pubs.insert(
                        (*publisher, *seq),
                        Pub {
                            subject: subject.clone(),
                            at: i,
                            flushed: flushed_after(*publisher, i),
                        },
                    );
                }
                _ => {}
            }
        }
        Index {
            events,
            subs,
            pubs,
            flushes,
        }
    }

    /// Whether `sub` of `client` must receive `p` (see the module comment).
    fn surely_receives(&self, client: ClientId, sub: &Sub, p: &Pub) -> bool {
        let Some(pf) = p.flushed else {
            return false;
        };
        let active = sub.flushed.is_some_and(|f| f < p.at) && sub.unsub.is_none_or(|u| u > pf);
        let later_flush = self
            .flushes
            .get(&client)
            .is_some_and(|f| f.last().is_some_and(|&l| l > pf));
        active && later_flush
    }
}

/// Every check at once.
pub fn all(events: &[Event]) -> Vec<String> {
    let mut v = deliveries(events);
    v.extend(no_duplicates(events));
    v.extend(per_publisher_order(events));
    v.extend(completeness(events));
    v
}

/// Every delivery is of a sent publish, on its subject, to a live matching subscription.
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
        } = e
        else {
            continue;
        };
        let what = format!("#{i} client {client} sid {sid} got {publisher}:{seq} on {subject}");
        match ix.pubs.get(&(*publisher, *seq)) {
            None => v.push(format!("{what}: never published")),
            Some(p) if p.at > i => v.push(format!("{what}: delivered before it was published")),
            Some(p) if p.subject != *subject => {
                v.push(format!("{what}: published on {}", p.subject))
            }
            Some(_) => {}
        }
        match ix.subs.get(&(*client, sid.clone())) {
            None => v.push(format!("{what}: no such subscription")),
            Some(s) => {
                if s.at > i {
                    v.push(format!("{what}: before the SUB was sent"));
                }
                if !subject_matches(&s.subject, subject) {
                    v.push(format!("{what}: does not match {}", s.subject));
                }
                if s.unsub_flushed.is_some_and(|f| f < i) {
                    v.push(format!("{what}: after its UNSUB was flushed"));
                }
            }
        }
    }
    v
}

/// No subscription receives the same message twice.
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

/// Each subscription sees each publisher's messages in increasing sequence order.
pub fn per_publisher_order(events: &[Event]) -> Vec<String> {
    let mut last: BTreeMap<(ClientId, String, ClientId), u64> = BTreeMap::new();
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
            let prev = last.insert((*client, sid.clone(), *publisher), *seq);
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
/// that may have been chosen surely receives; healthy plain subscriptions get every
/// matching message.
pub fn completeness(events: &[Event]) -> Vec<String> {
    let ix = Index::new(events);
    let mut got: BTreeMap<(ClientId, u64), Vec<(ClientId, String)>> = BTreeMap::new();
    for e in ix.events {
        if let Event::Deliver {
            client,
            sid,
            publisher,
            seq,
            ..
        } = e
        {
            got.entry((*publisher, *seq))
                .or_default()
                .push((*client, sid.clone()));
        }
    }
    // Queue groups are (subject, queue name), as in the server.
    let mut groups: BTreeMap<(String, String), Vec<(ClientId, String)>> = BTreeMap::new();
    for ((client, sid), s) in &ix.subs {
        if let Some(q) = &s.queue {
            groups
                .entry((s.subject.clone(), q.clone()))
                .or_default()
                .push((*client, sid.clone()));
        }
    }
    let mut v = Vec::new();
    let none = Vec::new();
    for (&(publisher, seq), p) in &ix.pubs {
        let got = got.get(&(publisher, seq)).unwrap_or(&none);
        let count =
            |c: ClientId, sid: &str| got.iter().filter(|(gc, gs)| *gc == c && gs == sid).count();
        for ((client, sid), s) in &ix.subs {
            if s.queue.is_some() || !subject_matches(&s.subject, &p.subject) {
                continue;
            }
            if ix.surely_receives(*client, s, p) && count(*client, sid) == 0 {
                v.push(format!(
                    "{publisher}:{seq} on {} lost for client {client} sid {sid} ({})",
                    p.subject, s.subject
                ));
            }
        }
        for ((gsubject, queue), members) in &groups {
            if !subject_matches(gsubject, &p.subject) {
                continue;
            }
            let n: usize = members.iter().map(|(c, sid)| count(*c, sid)).sum();
            if n > 1 {
                v.push(format!(
                    "{publisher}:{seq} on {} delivered {n} times to queue group {queue} ({gsubject})",
                    p.subject
                ));
            }
            let pf = p.flushed.unwrap_or(usize::MAX);
            let candidates: Vec<_> = members
                .iter()
                .filter(|(c, sid)| ix.subs[&(*c, sid.clone())].at < pf)
                .collect();
            let healthy = !candidates.is_empty()
                && candidates
                    .iter()
                    .all(|(c, sid)| ix.surely_receives(*c, &ix.subs[&(*c, sid.clone())], p));
            if healthy && n == 0 {
                v.push(format!(
                    "{publisher}:{seq} on {} lost for queue group {queue} ({gsubject})",
                    p.subject
                ));
            }
        }
    }
    v
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
        }
    }
    fn got(client: ClientId, seq: u64, subject: &str) -> Event {
        Event::Deliver {
            client,
            sid: "1".into(),
            subject: subject.into(),
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
}
