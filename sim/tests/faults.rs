//! Pub/sub under a fault schedule drawn from the seed: connection resets, latency and
//! jitter, server clock jumps, a server crash and restart. Prints the seed, the schedule
//! and the command to reproduce on failure.

use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::ClientConfig;
use sim::faults::{self, FaultConfig, Resets, Resilient, Schedule, Target};
use sim::history::{Event, History};
use sim::hosts::{self, client_host, server_addr, ServerHost, PORT};
use sim::shell::ShellConfig;
use sim::sync::Barrier;

const SUBJECTS: [&str; 4] = [
    "orders.eu.new",
    "orders.us.new",
    "metrics.cpu",
    "metrics.mem",
];

fn client_cfg(id: u32) -> ClientConfig {
    let mut c = ClientConfig::new(id, server_addr());
    c.flush_timeout = Duration::from_secs(1);
    c
}

sim::scenario!(pubsub_under_faults, pubsub_under_faults_run);

async fn pubsub_under_faults_run() {
    const TEST: &str = "pubsub_under_faults";
    let history = History::new();
    let mut cfg = ShellConfig::new(Options::default(), PORT, thread_rng().gen());
    cfg.clock_offset = Duration::from_millis(thread_rng().gen_range(0..10_000));
    let ServerHost {
        node: server,
        view,
        clock,
        ..
    } = hosts::start_server(0, cfg);
    madsim::time::sleep(Duration::from_millis(100)).await;

    type Subs = Vec<(&'static str, Option<&'static str>, &'static str)>;
    let subscribers: Vec<(u32, Subs)> = vec![
        (10, vec![("orders.>", None, "1")]),
        (
            11,
            vec![("orders.*.new", None, "1"), ("metrics.>", None, "2")],
        ),
        (12, vec![("orders.eu.*", Some("workers"), "1")]),
        (13, vec![("orders.eu.*", Some("workers"), "1")]),
        (14, vec![(">", None, "1")]),
    ];
    let publishers: Vec<u32> = vec![1, 2, 3];
    let mut ids: Vec<u32> = subscribers.iter().map(|(id, _)| *id).collect();
    ids.extend(&publishers);

    let resets = Resets::default();
    let schedule = Schedule::generate(&FaultConfig {
        span: Duration::from_secs(6),
        clients: ids.clone(),
        max_resets: 6,
        max_latency_changes: 3,
        max_clock_jumps: 3,
        crash: true,
    });
    let target = Target {
        server: server.id(),
        clock: clock.clone(),
        resets: resets.clone(),
    };

    let n = subscribers.len() + publishers.len();
    let subscribed = Arc::new(Barrier::new(n + 1));
    // The faults are over and every publisher has flushed its last message.
    let published = Arc::new(Barrier::new(n + 1));
    let mut tasks = Vec::new();
    for (id, subs) in subscribers {
        let (h, r) = (history.clone(), resets.clone());
        let (subscribed, published) = (subscribed.clone(), published.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut c = Resilient::new(client_cfg(id), h, r);
            for (subject, queue, sid) in &subs {
                let _ = c.subscribe(subject, *queue, sid).await;
            }
            c.flush_surely().await;
            subscribed.wait().await;
            // Keep syncing while the workload runs, so deliveries become owed.
            let done = published.clone();
            let syncing = async {
                loop {
                    let ms = thread_rng().gen_range(20..200);
                    madsim::time::sleep(Duration::from_millis(ms)).await;
                    let _ = c.flush().await;
                }
            };
            tokio::select! {
                biased;
                _ = done.wait() => {}
                _ = syncing => {}
            }
            c.flush_surely().await;
            c.flush_surely().await;
            c.close().await;
        }));
    }
    for id in publishers.clone() {
        let (h, r) = (history.clone(), resets.clone());
        let (subscribed, published) = (subscribed.clone(), published.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut c = Resilient::new(client_cfg(id), h, r);
            c.flush_surely().await;
            subscribed.wait().await;
            let start = madsim::time::Instant::now();
            let mut i = 0u32;
            // Publish through the fault window and a little after it.
            while start.elapsed() < Duration::from_secs(8) {
                let subject = SUBJECTS[thread_rng().gen_range(0..SUBJECTS.len())];
                let _ = c.publish(subject, thread_rng().gen_range(0..200)).await;
                i += 1;
                if i.is_multiple_of(10) {
                    let _ = c.flush().await;
                }
                let ms = thread_rng().gen_range(0..20);
                madsim::time::sleep(Duration::from_millis(ms)).await;
            }
            c.flush_surely().await;
            published.wait().await;
            c.close().await;
        }));
    }
    subscribed.wait().await;
    faults::run(&schedule, &target).await;
    published.wait().await;
    for t in tasks {
        t.await.expect("client task");
    }

    let events = history.events();
    let mut v = check::all(&events);
    // No -ERR at all: in particular no 'Stale Connection' for a client that answers PINGs.
    v.extend(check::errors(&events));
    let delivered = events
        .iter()
        .filter(|e| matches!(e, Event::Deliver { .. }))
        .count();
    if delivered < 200 {
        v.push(format!("only {delivered} deliveries"));
    }
    if view.logs().iter().any(|l| l.contains("Stale Connection")) {
        v.push("the node closed a client as stale".to_string());
    }
    if let Ok(path) = std::env::var("SIM_DUMP") {
        let text: Vec<String> = events
            .iter()
            .enumerate()
            .map(|(i, e)| format!("#{i} {e:?}"))
            .collect();
        std::fs::write(path, text.join("\n")).expect("dump");
    }
    if !v.is_empty() {
        v.push(format!("fault schedule:\n{schedule}"));
        sim::fail(TEST, &v);
    }
}
