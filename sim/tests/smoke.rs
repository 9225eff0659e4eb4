//! One-node smoke scenarios, each run for the env seeds and the fixed seeds
//! ([`sim::scenario!`]). Each prints its seed and the command to reproduce on failure.

use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::{Client, ClientConfig};
use sim::history::History;
use sim::hosts::{self, client_host, server_addr, PORT};
use sim::shell::{ServerView, ShellConfig};
use sim::sync::Barrier;
use sim::wire::Wires;

/// Starts the one server node; returns what a test can see of it.
fn start_server(opts: Options, wires: Wires) -> ServerView {
    let mut cfg = ShellConfig::new(opts, PORT, thread_rng().gen());
    cfg.wires = wires;
    // Some skew so that nothing depends on node time starting at zero.
    cfg.clock_offset = Duration::from_millis(thread_rng().gen_range(0..10_000));
    hosts::start_server(0, cfg).view
}

fn fail_if(test: &str, violations: Vec<String>) {
    if !violations.is_empty() {
        sim::fail(test, &violations);
    }
}

const SUBJECTS: [&str; 5] = [
    "orders.eu.new",
    "orders.us.new",
    "orders.eu.old",
    "metrics.cpu",
    "metrics.mem.used",
];

/// Publishers and subscribers (plain, wildcard, one queue group, one that unsubscribes
/// midway) exchange a few hundred messages. Returns the history.
async fn mixed_scenario() -> History {
    let history = History::new();
    let _server = start_server(Options::default(), Wires::default());
    madsim::time::sleep(Duration::from_millis(100)).await;

    // (client, [(subject, queue, sid)], unsubscribes sid "1" midway)
    type Subs = Vec<(&'static str, Option<&'static str>, &'static str)>;
    let subscribers: Vec<(u32, Subs, bool)> = vec![
        (10, vec![("orders.>", None, "1")], false),
        (
            11,
            vec![("orders.*.new", None, "1"), ("metrics.>", None, "2")],
            false,
        ),
        (12, vec![("orders.eu.*", Some("workers"), "1")], false),
        (13, vec![("orders.eu.*", Some("workers"), "1")], false),
        (
            14,
            vec![
                ("orders.eu.*", Some("workers"), "1"),
                ("metrics.*", None, "2"),
            ],
            false,
        ),
        (15, vec![("orders.us.new", None, "1")], true),
        (
            16,
            vec![(">", None, "1"), ("metrics.mem.used", None, "2")],
            false,
        ),
    ];
    let publishers: Vec<u32> = vec![1, 2, 3];
    let n_pub = 100;
    let n = subscribers.len() + publishers.len();
    let subscribed = Arc::new(Barrier::new(n));
    let published = Arc::new(Barrier::new(n));

    let mut tasks = Vec::new();
    for (id, subs, unsub) in subscribers {
        let (h, subscribed, published) = (history.clone(), subscribed.clone(), published.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut c = Client::connect(ClientConfig::new(id, server_addr()), h)
                .await
                .expect("connect");
            for (subject, queue, sid) in &subs {
                c.subscribe(subject, *queue, sid).await.expect("sub");
            }
            c.flush().await.expect("flush after subscribing");
            subscribed.wait().await;
            if unsub {
                let ms = thread_rng().gen_range(0..200);
                madsim::time::sleep(Duration::from_millis(ms)).await;
                c.unsubscribe("1").await.expect("unsub");
                c.flush().await.expect("flush after unsub");
            }
            published.wait().await;
            c.flush().await.expect("final flush");
            c.close().await;
        }));
    }
    for id in publishers {
        let (h, subscribed, published) = (history.clone(), subscribed.clone(), published.clone());
        tasks.push(client_host(id).spawn(async move {
            let mut c = Client::connect(ClientConfig::new(id, server_addr()), h)
                .await
                .expect("connect");
            c.flush().await.expect("flush");
            subscribed.wait().await;
            for i in 0..n_pub {
                let subject = SUBJECTS[thread_rng().gen_range(0..SUBJECTS.len())];
                let filler = thread_rng().gen_range(0..300);
                c.publish(subject, filler).await.expect("pub");
                if i % 10 == 9 {
                    let ms = thread_rng().gen_range(0..5);
                    madsim::time::sleep(Duration::from_millis(ms)).await;
                }
                if i % 25 == 24 {
                    c.flush().await.expect("flush");
                }
            }
            c.flush().await.expect("last flush");
            published.wait().await;
            c.close().await;
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    history
}

sim::scenario!(pubsub_mixed, pubsub_mixed_run);

async fn pubsub_mixed_run() {
    let history = mixed_scenario().await;
    let events = history.events();
    let delivered = events
        .iter()
        .filter(|e| matches!(e, sim::history::Event::Deliver { .. }))
        .count();
    let mut v = check::all(&events);
    v.extend(check::errors(&events));
    if delivered < 300 {
        v.push(format!("only {delivered} deliveries"));
    }
    fail_if("pubsub_mixed", v);
}

/// The same seed twice in one process gives the same history (at most 20 seeds).
#[test]
fn same_seed_same_history() {
    sim::same_seed_twice("same_seed_same_history", 20, mixed_digest);
}

async fn mixed_digest() -> u64 {
    mixed_scenario().await.digest()
}

sim::scenario!(slow_consumer, slow_consumer_run);

/// A subscriber that stops reading, with a small max_pending: the node closes it and keeps
/// serving the others; no connection ever buffers more than max_pending plus one message.
async fn slow_consumer_run() {
    const TEST: &str = "slow_consumer";
    let history = History::new();
    let wires = Wires::default();
    let opts = Options {
        max_pending: 32 * 1024,
        ..Options::default()
    };
    let server = start_server(opts, wires.clone());
    madsim::time::sleep(Duration::from_millis(100)).await;

    let mut slow_cfg = ClientConfig::new(20, server_addr());
    slow_cfg.window = Some(4 * 1024);
    slow_cfg.wires = wires.clone();
    let mut fast_cfg = ClientConfig::new(21, server_addr());
    fast_cfg.window = Some(64 * 1024);
    fast_cfg.wires = wires.clone();

    let h = history.clone();
    let slow = client_host(20)
        .spawn(async move {
            let mut c = Client::connect(slow_cfg, h).await.expect("connect");
            c.subscribe("feed.>", None, "1").await.expect("sub");
            c.flush().await.expect("flush");
            c.stop_reading();
            c
        })
        .await
        .expect("slow task");
    let h = history.clone();
    let fast = client_host(21).spawn(async move {
        let mut c = Client::connect(fast_cfg, h).await.expect("connect");
        c.subscribe("feed.*", None, "1").await.expect("sub");
        c.flush().await.expect("flush");
        c
    });
    let mut fast = fast.await.expect("fast task");

    let h = history.clone();
    let mut publisher = client_host(1)
        .spawn(async move {
            let mut c = Client::connect(ClientConfig::new(1, server_addr()), h)
                .await
                .expect("connect");
            for i in 0..300 {
                c.publish("feed.a", thread_rng().gen_range(200..800))
                    .await
                    .expect("pub");
                if i % 50 == 49 {
                    c.flush().await.expect("flush");
                }
            }
            c.flush().await.expect("flush");
            c
        })
        .await
        .expect("publisher task");

    let mut v = Vec::new();
    // The fast subscriber is still served and got everything (checked below).
    if let Err(e) = fast.flush().await {
        v.push(format!("fast subscriber flush failed: {e:?}"));
    }
    slow.resume_reading();
    if !slow.wait_closed(Duration::from_secs(5)).await {
        v.push("the slow consumer was not closed".to_string());
    }
    let stats = server.stats();
    if stats.slow_consumers == 0 {
        v.push(format!("no slow consumer counted: {stats:?}"));
    }
    if !server
        .logs()
        .iter()
        .any(|l| l.contains("Slow Consumer Detected"))
    {
        v.push("no 'Slow Consumer Detected' log line".to_string());
    }
    // The node still serves: another round of publishes reaches the fast subscriber.
    for _ in 0..10 {
        if let Err(e) = publisher.publish("feed.b", 10).await {
            v.push(format!("publish after the slow consumer: {e:?}"));
        }
    }
    if let Err(e) = publisher.flush().await {
        v.push(format!("publisher flush failed: {e:?}"));
    }
    if let Err(e) = fast.flush().await {
        v.push(format!("fast subscriber final flush failed: {e:?}"));
    }
    if server.num_clients() != 2 {
        v.push(format!(
            "{} clients connected, expected 2",
            server.num_clients()
        ));
    }
    let events = history.events();
    v.extend(check::all(&events));
    v.extend(check::errors(&events));
    let fast_got = events
        .iter()
        .filter(|e| matches!(e, sim::history::Event::Deliver { client: 21, .. }))
        .count();
    if fast_got != 310 {
        v.push(format!("fast subscriber got {fast_got} of 310 messages"));
    }
    // One message: MSG line, at most 800 bytes of filler and the payload prefix.
    v.extend(check::pending_bound(
        &server.pending_peaks(),
        32 * 1024,
        900,
    ));
    fail_if(TEST, v);
}
