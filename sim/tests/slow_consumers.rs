//! Memory stays bounded under slow consumers: several subscribers with small socket windows
//! stop reading at random moments while two publishers send messages of random sizes; the
//! node closes each of them as a slow consumer, never buffers more than `max_pending` plus
//! one message for any connection, and keeps serving the fast subscribers in full.

use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::{Client, ClientConfig};
use sim::history::History;
use sim::hosts::{self, client_host, server_addr, PORT};
use sim::shell::ShellConfig;
use sim::wire::Wires;

/// The largest filler a publisher sends.
const MAX_FILLER: usize = 2000;
/// The largest `MSG` frame: the filler, the `publisher:seq:` prefix and the `MSG` line.
const MAX_FRAME: usize = MAX_FILLER + 64;

sim::scenario!(slow_consumers_bounded, slow_consumers_bounded_run);

async fn slow_consumers_bounded_run() {
    const TEST: &str = "slow_consumers_bounded";
    let history = History::new();
    let wires = Wires::default();
    let max_pending = [16 * 1024, 32 * 1024, 64 * 1024][thread_rng().gen_range(0..3)];
    let opts = Options {
        max_pending: max_pending as _,
        ..Options::default()
    };
    let mut cfg = ShellConfig::new(opts, PORT, thread_rng().gen());
    cfg.wires = wires.clone();
    let server = hosts::start_server(0, cfg).view;
    madsim::time::sleep(Duration::from_millis(100)).await;

    let subscriber = |id: u32, window: usize| {
        let mut cfg = ClientConfig::new(id, server_addr());
        cfg.window = Some(window);
        cfg.wires = wires.clone();
        let h = history.clone();
        client_host(id).spawn(async move {
            let mut c = Client::connect(cfg, h).await.expect("connect");
            c.subscribe("feed.>", None, "1").await.expect("sub");
            c.flush().await.expect("flush");
            c
        })
    };
    // Slow ones: a small window, and they stop reading 0..300 ms into the publishing.
    let mut slow = Vec::new();
    for id in [20, 21, 22] {
        let c = subscriber(id, thread_rng().gen_range(1024..16 * 1024));
        slow.push(c.await.expect("slow subscriber"));
    }
    let mut fast = Vec::new();
    for id in [30, 31] {
        fast.push(subscriber(id, 256 * 1024).await.expect("fast subscriber"));
    }
    let mut publishers = Vec::new();
    for id in [1, 2] {
        let h = history.clone();
        publishers.push(client_host(id).spawn(async move {
            let mut c = Client::connect(ClientConfig::new(id, server_addr()), h)
                .await
                .expect("connect");
            for i in 0..300 {
                let filler = thread_rng().gen_range(100..=MAX_FILLER);
                c.publish("feed.x", filler).await.expect("pub");
                if i % 20 == 19 {
                    c.flush().await.expect("flush");
                    let ms = thread_rng().gen_range(0..10);
                    madsim::time::sleep(Duration::from_millis(ms)).await;
                }
            }
            c.flush().await.expect("last flush");
            c
        }));
    }
    for c in &slow {
        let ms = thread_rng().gen_range(0..300);
        madsim::time::sleep(Duration::from_millis(ms)).await;
        c.stop_reading();
    }
    let mut done = Vec::new();
    for p in publishers {
        done.push(p.await.expect("publisher"));
    }

    let mut v = Vec::new();
    for c in &mut fast {
        if let Err(e) = c.flush().await {
            v.push(format!("fast subscriber {} final flush: {e:?}", c.id()));
        }
    }
    // Resumed, a slow consumer reads what reached its socket, then the end of the stream.
    for c in &slow {
        c.resume_reading();
        if !c.wait_closed(Duration::from_secs(5)).await {
            v.push(format!("slow consumer {} was not closed", c.id()));
        }
    }
    let stats = server.stats();
    if stats.slow_consumers != slow.len() as u64 {
        v.push(format!(
            "{} slow consumers counted, want {}",
            stats.slow_consumers,
            slow.len()
        ));
    }
    if server.num_clients() != fast.len() + done.len() {
        v.push(format!("{} clients still connected", server.num_clients()));
    }
    v.extend(check::pending_bound(
        &server.pending_peaks(),
        max_pending,
        MAX_FRAME,
    ));
    for c in fast.into_iter().chain(done) {
        c.close().await;
    }
    let events = history.events();
    v.extend(check::all(&events));
    v.extend(check::errors(&events));
    if !v.is_empty() {
        v.push(format!("max_pending {max_pending}"));
        sim::fail(TEST, &v);
    }
}
