//! Request/reply: requesters send requests with a per-request inbox they subscribed to;
//! plain and queue-group responders answer them; a request nobody can answer comes back as
//! a `503` to a client that asked for no-responders statuses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::{Client, ClientConfig};
use sim::history::{ClientId, Event, History};
use sim::hosts::{self, client_host, server_addr, PORT};
use sim::shell::ShellConfig;
use sim::sync::Barrier;

/// Request subjects and the answers each request on them is owed: one per plain responder
/// subscription and one per queue group.
const SUBJECTS: [(&str, usize); 3] = [("svc.echo", 3), ("svc.work", 2), ("nobody.home", 0)];

/// Responders: (client, subject, queue).
const RESPONDERS: [(ClientId, &str, Option<&str>); 6] = [
    (30, "svc.echo", None),
    (31, "svc.>", None),
    (32, "svc.work", Some("workers")),
    (33, "svc.work", Some("workers")),
    (34, "svc.work", Some("workers")),
    (35, "svc.echo", Some("echoers")),
];

/// Requesters: (client, asks for no-responders statuses).
const REQUESTERS: [(ClientId, bool); 3] = [(1, true), (2, true), (3, false)];

sim::scenario!(request_reply, request_reply_run);

async fn request_reply_run() {
    const TEST: &str = "request_reply";
    let history = History::new();
    let cfg = ShellConfig::new(Options::default(), PORT, thread_rng().gen());
    let _server = hosts::start_server(0, cfg);
    madsim::time::sleep(Duration::from_millis(100)).await;

    let n = RESPONDERS.len() + REQUESTERS.len();
    let ready = Arc::new(Barrier::new(n));
    let requested = Arc::new(Barrier::new(n));
    // Responders have synced after their last answer: requesters' next sync settles all.
    let answered = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for (id, subject, queue) in RESPONDERS {
        let h = history.clone();
        let (ready, requested, answered) = (ready.clone(), requested.clone(), answered.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut cfg = ClientConfig::new(id, server_addr());
            cfg.responder = true;
            let mut c = Client::connect(cfg, h).await.expect("connect");
            c.subscribe(subject, queue, "1").await.expect("sub");
            c.flush().await.expect("flush");
            ready.wait().await;
            requested.wait().await;
            c.flush().await.expect("flush after answering");
            answered.wait().await;
            c.close().await;
        }));
    }
    for (id, no_responders) in REQUESTERS {
        let h = history.clone();
        let (ready, requested, answered) = (ready.clone(), requested.clone(), answered.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut cfg = ClientConfig::new(id, server_addr());
            cfg.no_responders = no_responders;
            let mut c = Client::connect(cfg, h).await.expect("connect");
            c.subscribe(&format!("_INBOX.{id}.*"), None, "inbox")
                .await
                .expect("sub");
            c.flush().await.expect("flush");
            ready.wait().await;
            let mut owed = 0;
            for k in 0..40 {
                let (subject, answers) = SUBJECTS[thread_rng().gen_range(0..SUBJECTS.len())];
                let inbox = format!("_INBOX.{id}.{k}");
                c.request(subject, &inbox, thread_rng().gen_range(0..100))
                    .await
                    .expect("request");
                owed += match (answers, no_responders) {
                    (0, true) => 1,
                    (a, _) => a as u64,
                };
                // Sometimes wait for the answers, sometimes keep several requests in flight.
                if thread_rng().gen_bool(0.5) {
                    c.wait_received(owed, Duration::from_secs(2)).await;
                }
            }
            c.flush().await.expect("flush");
            c.wait_received(owed, Duration::from_secs(2)).await;
            requested.wait().await;
            answered.wait().await;
            c.flush().await.expect("final flush");
            c.close().await;
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }

    let events = history.events();
    let mut v = check::all(&events);
    v.extend(check::errors(&events));
    v.extend(exact_answers(&events));
    if !v.is_empty() {
        sim::fail(TEST, &v);
    }
}

/// Every client here is healthy throughout, so each request got exactly its owed answers:
/// one per plain responder, exactly one from each queue group, a `503` (and nothing else)
/// for a request nobody could answer from a client that asked for it.
fn exact_answers(events: &[Event]) -> Vec<String> {
    let mut requests: BTreeMap<String, (ClientId, String)> = BTreeMap::new();
    let mut answers: BTreeMap<String, Vec<ClientId>> = BTreeMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        match e {
            Event::Publish {
                publisher,
                subject,
                reply: Some(inbox),
                ..
            } => {
                requests.insert(inbox.clone(), (*publisher, subject.clone()));
            }
            Event::Deliver {
                subject, publisher, ..
            } if subject.starts_with("_INBOX.") => {
                answers.entry(subject.clone()).or_default().push(*publisher)
            }
            Event::NoResponders { subject, .. } => {
                *statuses.entry(subject.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
    let mut v = Vec::new();
    for (inbox, (requester, subject)) in &requests {
        let got = answers.get(inbox).cloned().unwrap_or_default();
        let status = statuses.get(inbox).copied().unwrap_or(0);
        let owed = SUBJECTS.iter().find(|s| s.0 == subject).map_or(0, |s| s.1);
        let wants_503 = REQUESTERS.iter().any(|r| r.0 == *requester && r.1);
        let groups = RESPONDERS
            .iter()
            .filter_map(|r| r.2.filter(|_| check::subject_matches(r.1, subject)))
            .collect::<std::collections::BTreeSet<_>>();
        let what = format!("request by {requester} on {subject} ({inbox})");
        if got.len() != owed {
            v.push(format!("{what}: answers from {got:?}, owed {owed}"));
        }
        for g in groups {
            let from_group = got
                .iter()
                .filter(|c| RESPONDERS.iter().any(|r| r.0 == **c && r.2 == Some(g)))
                .count();
            if from_group != 1 {
                v.push(format!("{what}: {from_group} answers from queue group {g}"));
            }
        }
        let want_status = usize::from(owed == 0 && wants_503);
        if status != want_status {
            v.push(format!("{what}: {status} no-responders statuses"));
        }
    }
    v
}
