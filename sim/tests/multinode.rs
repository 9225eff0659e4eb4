//! Two independent server nodes (not clustered), each with its own clients
//! and disk. A client's link to its server is cut both ways, then one way each way, then
//! flaps: the client stalls while cut and resumes once healed, losing nothing (madsim holds
//! TCP data on a cut link), while the other node and its clients carry on.

use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::{Client, ClientConfig, ClientError};
use sim::faults::{self, Resets, Schedule, Target};
use sim::history::{ClientId, Event, History};
use sim::hosts::{self, client_host, PORT};
use sim::shell::ShellConfig;
use sim::sync::Barrier;

/// Publishes `n` messages to `subject` and flushes.
async fn publish(c: &mut Client, subject: &str, n: u32) {
    for _ in 0..n {
        c.publish(subject, thread_rng().gen_range(0..100))
            .await
            .expect("pub");
    }
    c.flush().await.expect("flush");
}

/// Flushes until a flush succeeds, for up to 20 flush timeouts: madsim retries data held on a
/// cut link with a backoff that doubles up to 10 s, so a healed link resumes after a while.
/// Flushes that timed out are still owed their `PONG`s; a success means all have come.
async fn resync(c: &mut Client) -> bool {
    for _ in 0..20 {
        if c.flush().await.is_ok() {
            return true;
        }
    }
    false
}

sim::scenario!(partition_and_heal, partition_and_heal_run);

async fn partition_and_heal_run() {
    const TEST: &str = "partition_and_heal";
    let history = History::new();
    let servers = hosts::start_servers(2, |_| {
        let mut cfg = ShellConfig::new(Options::default(), PORT, thread_rng().gen());
        cfg.clock_offset = Duration::from_millis(thread_rng().gen_range(0..10_000));
        cfg
    });
    madsim::time::sleep(Duration::from_millis(100)).await;
    let mut v = Vec::new();
    // Each host has its own disk.
    servers[0].disk.write("marker", 0, b"server0");
    servers[0].disk.sync("marker");
    if servers[1].disk.len("marker").is_some() {
        v.push("server 1 sees server 0's disk".to_string());
    }

    // Server 0: publisher 1 on a.x, subscriber 10. Server 1: publisher 2 on b.x,
    // subscribers 20 (its link gets cut) and 21. Disjoint subjects per node, as the nodes
    // do not route to each other.
    let connect = |id: ClientId, server: usize, subject: &'static str| {
        let (h, addr) = (history.clone(), servers[server].addr);
        let host = client_host(id);
        let host_id = host.id();
        let task = host.spawn(async move {
            let mut cfg = ClientConfig::new(id, addr);
            cfg.flush_timeout = Duration::from_millis(300);
            let mut c = Client::connect(cfg, h).await.expect("connect");
            if !subject.is_empty() {
                c.subscribe(subject, None, "1").await.expect("sub");
            }
            c.flush().await.expect("flush");
            c
        });
        (host_id, task)
    };
    let (_, p1) = connect(1, 0, "");
    let (_, s10) = connect(10, 0, "a.>");
    let (_, p2) = connect(2, 1, "");
    let (host20, s20) = connect(20, 1, "b.>");
    let (_, s21) = connect(21, 1, "b.*");
    let (mut p1, mut s10) = (p1.await.expect("p1"), s10.await.expect("s10"));
    let (mut p2, mut s20, mut s21) = (
        p2.await.expect("p2"),
        s20.await.expect("s20"),
        s21.await.expect("s21"),
    );
    let server1 = servers[1].node.id();

    // Each cut: (from, to, both ways). While cut, 20 stalls: its flush times out and no
    // message reaches it; the rest carries on. Healed, it gets everything.
    let cuts = [
        (host20, server1, true),
        (server1, host20, false),
        (host20, server1, false),
    ];
    let mut sent: u64 = 0;
    for (from, to, both) in cuts {
        publish(&mut p2, "b.x", 10).await;
        sent += 10;
        if !s20.wait_received(sent, Duration::from_secs(2)).await {
            v.push(format!("20 did not get {sent} messages before the cut"));
        }
        if both {
            faults::partition(from, to);
        } else {
            faults::partition_one_way(from, to);
        }
        publish(&mut p2, "b.x", 10).await;
        publish(&mut p1, "a.x", 10).await;
        sent += 10;
        if s20.flush().await != Err(ClientError::Timeout) {
            v.push(format!("20 synced through the cut {from:?} -> {to:?}"));
        }
        let server_to_client_cut = both || to == host20;
        if server_to_client_cut && s20.wait_received(sent, Duration::from_millis(300)).await {
            v.push("messages reached 20 through the cut".to_string());
        }
        s21.flush().await.expect("21 flush while 20 is cut");
        s10.flush().await.expect("10 flush while 20 is cut");
        faults::heal(from, to);
        if !resync(&mut s20).await {
            v.push(format!("20 never synced after healing {from:?} -> {to:?}"));
        }
        if !s20.wait_received(sent, Duration::from_secs(2)).await {
            v.push(format!("20 did not get {sent} messages after healing"));
        }
    }

    // A flapping link while 2 publishes; 20 keeps syncing (flushes may time out).
    let schedule = Schedule::flapping(
        host20,
        server1,
        Duration::from_secs(2),
        5,
        Duration::from_millis(300),
    );
    let target = Target {
        server: server1,
        clock: servers[1].clock.clone(),
        resets: Resets::default(),
    };
    let done = Arc::new(Barrier::new(2));
    let d = done.clone();
    let publisher = madsim::task::spawn(async move {
        for _ in 0..20 {
            publish(&mut p2, "b.x", 5).await;
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
        d.wait().await;
        p2
    });
    let syncing = async {
        loop {
            let _ = s20.flush().await;
            madsim::time::sleep(Duration::from_millis(thread_rng().gen_range(20..200))).await;
        }
    };
    tokio::select! {
        biased;
        _ = async { faults::run(&schedule, &target).await; done.wait().await } => {}
        _ = syncing => {}
    }
    let p2 = publisher.await.expect("publisher");
    sent += 100;
    if !resync(&mut s20).await {
        v.push("20 never synced after the flapping".to_string());
    }
    if !s20.wait_received(sent, Duration::from_secs(2)).await {
        v.push(format!("20 did not get {sent} messages after the flapping"));
    }
    s21.flush().await.expect("21 final flush");
    s10.flush().await.expect("10 final flush");
    for c in [p1, p2, s10, s20, s21] {
        c.close().await;
    }

    let events = history.events();
    v.extend(check::all(&events));
    v.extend(check::errors(&events));
    let got = |id: ClientId| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Deliver { client, .. } if *client == id))
            .count() as u64
    };
    for (id, want) in [(10, 30), (20, sent), (21, sent)] {
        if got(id) != want {
            v.push(format!("client {id} got {} messages, want {want}", got(id)));
        }
    }
    if !v.is_empty() {
        v.push(format!("flapping schedule:\n{schedule}"));
        sim::fail(TEST, &v);
    }
}
