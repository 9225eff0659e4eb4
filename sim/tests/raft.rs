//! Raft clusters of 3 and 5 members under partitions (symmetric, one-way, flapping), message
//! loss, duplication, delay and reordering, clock skew, and crashes that lose every unsynced
//! write; a client proposes values throughout. Checked on every seed: election safety, log
//! matching, leader completeness, state-machine safety, no acknowledged proposal lost, and
//! liveness once the faults stop.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use madsim::net::{Endpoint, NetSim};
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::Handle;
use rnats_core::raft::NodeId;
use sim::faults;
use sim::raft::{self, ClusterConfig, Observer, RaftHost};

/// How long the faults go on (simulated).
const FAULTY: Duration = Duration::from_secs(6);
/// After the faults stop, a leader must commit a new proposal within this (simulated).
const LIVENESS: Duration = Duration::from_secs(10);

sim::scenario!(raft_three, raft_three_run);
sim::scenario!(raft_five, raft_five_run);

async fn raft_three_run() {
    run_cluster("raft_three", 3).await
}

async fn raft_five_run() {
    run_cluster("raft_five", 5).await
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Applies random faults for [`FAULTY`], then heals everything.
async fn chaos(hosts: &[RaftHost], obs: &Observer, log: &mut Vec<String>) {
    let net = NetSim::current();
    let ids: Vec<_> = hosts.iter().map(|h| h.node.id()).collect();
    let n = hosts.len();
    let start = madsim::time::Instant::now();
    // Crashed hosts restart in the background, so several may be down at once.
    let down_now: Arc<Mutex<BTreeSet<NodeId>>> = Arc::default();
    let mut crashes = Vec::new();
    while start.elapsed() < FAULTY {
        madsim::time::sleep(ms(thread_rng().gen_range(50..600))).await;
        let t = start.elapsed().as_millis();
        // Half the faults aim at the current leader.
        let leader = obs.current_leader().map(|l| l as usize - 1);
        let (a, b) = {
            let mut rng = thread_rng();
            let a = match leader {
                Some(l) if rng.gen_bool(0.5) => l,
                _ => rng.gen_range(0..n),
            };
            let b = (a + rng.gen_range(1..n)) % n;
            (a, b)
        };
        match thread_rng().gen_range(0..10) {
            0 => {
                log.push(format!("{t}ms partition {} <-> {}", a + 1, b + 1));
                faults::partition(ids[a], ids[b]);
            }
            1 => {
                log.push(format!("{t}ms partition {} -> {}", a + 1, b + 1));
                faults::partition_one_way(ids[a], ids[b]);
            }
            2 => {
                log.push(format!("{t}ms isolate {}", a + 1));
                for (k, id) in ids.iter().enumerate() {
                    if k != a {
                        faults::partition(ids[a], *id);
                    }
                }
            }
            3 => {
                log.push(format!("{t}ms flap {} <-> {}", a + 1, b + 1));
                for _ in 0..thread_rng().gen_range(2..6) {
                    faults::partition(ids[a], ids[b]);
                    madsim::time::sleep(ms(thread_rng().gen_range(10..200))).await;
                    faults::heal(ids[a], ids[b]);
                    madsim::time::sleep(ms(thread_rng().gen_range(10..200))).await;
                }
            }
            4 => {
                log.push(format!("{t}ms heal all"));
                heal_all(&ids);
            }
            5 => {
                let loss = thread_rng().gen_range(0.0..0.3);
                log.push(format!("{t}ms loss {loss:.2}"));
                net.update_config(|c| c.packet_loss_rate = loss);
            }
            6 => {
                let max = thread_rng().gen_range(2..80);
                log.push(format!("{t}ms latency 1..{max}ms"));
                net.update_config(|c| c.send_latency = ms(1)..ms(max));
            }
            7 if thread_rng().gen_bool(0.2) => {
                // Power loss of the whole cluster: only synced writes survive.
                log.push(format!("{t}ms crash all"));
                for host in hosts {
                    let down = ms(thread_rng().gen_range(0..1000));
                    crashes.push(crash_in_background(host, obs, &down_now, down));
                }
            }
            _ => {
                let down = ms(thread_rng().gen_range(0..1500));
                log.push(format!("{t}ms crash {} for {down:?}", a + 1));
                crashes.push(crash_in_background(&hosts[a], obs, &down_now, down));
            }
        }
    }
    for c in crashes.into_iter().flatten() {
        let _ = c.await;
    }
    heal_all(&ids);
    net.update_config(|c| {
        c.packet_loss_rate = 0.0;
        c.send_latency = ms(1)..ms(10);
    });
}

/// Crashes `host` and restarts it after `down`, in a task, unless it is down already.
fn crash_in_background(
    host: &RaftHost,
    obs: &Observer,
    down_now: &Arc<Mutex<BTreeSet<NodeId>>>,
    down: Duration,
) -> Option<madsim::task::JoinHandle<()>> {
    if !down_now.lock().unwrap().insert(host.id) {
        return None;
    }
    let (h, o, d) = (host.clone(), obs.clone(), down_now.clone());
    Some(madsim::task::spawn(async move {
        raft::crash(&h, &o, down).await;
        d.lock().unwrap().remove(&h.id);
    }))
}

fn heal_all(ids: &[madsim::task::NodeId]) {
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            faults::heal(*a, *b);
        }
    }
}

async fn run_cluster(test: &'static str, members: u64) {
    let obs = Observer::default();
    let cfg = ClusterConfig {
        members,
        duplicate: 0.05,
        // Slow disks widen the window in which a crash loses unsynced writes.
        max_sync: ms([1, 20, 100][thread_rng().gen_range(0..3)]),
    };
    let hosts = raft::start(&cfg, &obs);

    // The client: a proposal every 10-60 ms, through the faults and after.
    let client = Handle::current()
        .create_node()
        .name("raft-client")
        .ip(raft::client_addr().ip())
        .build();
    let o = obs.clone();
    client.spawn(async move {
        let ep = Endpoint::bind(raft::client_addr()).await.expect("bind");
        for n in 0u64.. {
            raft::propose_to(&ep, &o, members, Bytes::from(format!("v{n}"))).await;
            madsim::time::sleep(ms(thread_rng().gen_range(10..60))).await;
        }
    });

    let mut schedule = Vec::new();
    chaos(&hosts, &obs, &mut schedule).await;
    let faults_over = madsim::time::Instant::now();

    // Liveness: once healed, a proposal made now is committed and acknowledged in bounded
    // time, and every member applies it.
    let probe = Bytes::from_static(b"liveness");
    let (o, p) = (obs.clone(), probe.clone());
    client.spawn(async move {
        let addr = std::net::SocketAddr::new(raft::client_addr().ip(), 7002);
        let ep = Endpoint::bind(addr).await.expect("bind");
        while !o.state().acked.contains_key(&p) {
            raft::propose_to(&ep, &o, members, p.clone()).await;
            madsim::time::sleep(ms(100)).await;
        }
    });
    let mut violations = Vec::new();
    let acked_at = loop {
        if let Some(&(index, _)) = obs.state().acked.get(&probe) {
            break Some(index);
        }
        if faults_over.elapsed() > LIVENESS {
            violations.push(format!(
                "liveness: nothing acknowledged within {LIVENESS:?} after the faults stopped"
            ));
            break None;
        }
        madsim::time::sleep(ms(20)).await;
    };
    if let Some(index) = acked_at {
        let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
        loop {
            let behind: Vec<_> = {
                let s = obs.state();
                s.live
                    .iter()
                    .filter(|(_, r)| r.lock().map_or(true, |r| r.log().applied() < index))
                    .map(|(id, _)| *id)
                    .collect()
            };
            if behind.is_empty() {
                break;
            }
            if madsim::time::Instant::now() > deadline {
                violations.push(format!(
                    "liveness: members {behind:?} did not apply {index}"
                ));
                break;
            }
            madsim::time::sleep(ms(50)).await;
        }
    }
    violations.extend(obs.final_checks());
    {
        let s = obs.state();
        if s.decode_errors > 0 {
            violations.push(format!("{} undecodable messages", s.decode_errors));
        }
    }
    if std::env::var("SIM_RAFT_STATS").is_ok() {
        let s = obs.state();
        println!(
            "{test} seed {}: {} elections (last term {}), {} acked, {} applied, schedule: {}",
            Handle::current().seed(),
            s.elections,
            s.leaders.keys().next_back().copied().unwrap_or(0),
            s.acked.len(),
            s.applied.len(),
            schedule.join(", ")
        );
    }
    if !violations.is_empty() {
        violations.push(format!("schedule: {}", schedule.join(", ")));
        sim::fail(test, &violations);
    }
}
