//! Raft clusters under partitions (symmetric, one-way, flapping), message loss,
//! duplication, delay and reordering, clock skew, and crashes that lose every unsynced
//! write, while clients put and get values on replicated registers and an operator hands
//! leadership over (and, in `raft_membership`, adds, promotes and removes members).
//! Checked on every seed: election safety, log matching, leader completeness, state-machine
//! safety (snapshots included), no acknowledged proposal lost, liveness once the faults stop,
//! and linearizability of the clients' history.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::{Endpoint, NetSim};
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, NodeHandle};
use rnats_core::raft::{ConfChange, NodeId};
use sim::faults;
use sim::history::History;
use sim::raft::client::{check_linearizable, KvClient, KvEvent};
use sim::raft::kv::Op;
use sim::raft::{self, Admin, ClusterConfig, Observer, RaftHost};

/// How long the faults go on (simulated).
const FAULTY: Duration = Duration::from_secs(6);
/// After the faults stop, a leader must commit a new proposal within this (simulated).
const LIVENESS: Duration = Duration::from_secs(10);
/// How long a client waits for an answer before it moves on.
const CALL_TIMEOUT: Duration = Duration::from_millis(500);
const KEYS: [&str; 3] = ["x", "y", "z"];
const CLIENTS: u32 = 5;

sim::scenario!(raft_three, raft_three_run);
sim::scenario!(raft_five, raft_five_run);
sim::scenario!(raft_snapshots, raft_snapshots_run);
sim::scenario!(raft_membership, raft_membership_run);

/// What a scenario varies.
struct Scenario {
    name: &'static str,
    hosts: u64,
    voters: u64,
    /// Compaction interval choices (one drawn per run).
    compact_every: &'static [u64],
    /// Whether the operator changes the membership (it always transfers leadership now
    /// and then).
    membership: bool,
}

const THREE: Scenario = Scenario {
    name: "raft_three",
    hosts: 3,
    voters: 3,
    compact_every: &[500],
    membership: false,
};

const FIVE: Scenario = Scenario {
    name: "raft_five",
    hosts: 5,
    voters: 5,
    compact_every: &[500],
    membership: false,
};

/// Compacts every 10-50 entries, so lagging and restarted members often need the leader's
/// snapshot while partitions and crashes go on.
const SNAPSHOTS: Scenario = Scenario {
    name: "raft_snapshots",
    hosts: 3,
    voters: 3,
    compact_every: &[10, 25, 50],
    membership: false,
};

/// Five hosts, three of them the first voters; the operator adds learners, promotes them
/// and removes voters (the leader too) one at a time throughout the faults.
const MEMBERSHIP: Scenario = Scenario {
    name: "raft_membership",
    hosts: 5,
    voters: 3,
    compact_every: &[50],
    membership: true,
};

async fn raft_three_run() {
    run_cluster(THREE).await;
}

async fn raft_five_run() {
    run_cluster(FIVE).await;
}

async fn raft_snapshots_run() {
    run_cluster(SNAPSHOTS).await;
}

async fn raft_membership_run() {
    run_cluster(MEMBERSHIP).await;
}

/// The same seed gives the same client history (operations, answers and their simulated
/// times), run twice on fresh threads: the core and the workload are deterministic.
#[test]
fn raft_same_seed_same_history() {
    async fn digest() -> u64 {
        run_cluster(MEMBERSHIP).await
    }
    sim::same_seed_twice("raft_same_seed_same_history", 3, digest);
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Schedule = Arc<Mutex<Vec<String>>>;

fn note(schedule: &Schedule, start: madsim::time::Instant, what: String) {
    let t = start.elapsed().as_millis();
    schedule.lock().unwrap().push(format!("{t}ms {what}"));
}

/// Applies random faults for [`FAULTY`], then heals everything.
async fn chaos(hosts: &[RaftHost], obs: &Observer, log: &Schedule) {
    let net = NetSim::current();
    let ids: Vec<_> = hosts.iter().map(|h| h.node.id()).collect();
    let n = hosts.len();
    let start = madsim::time::Instant::now();
    // Crashed hosts restart in the background, so several may be down at once.
    let down_now: Arc<Mutex<BTreeSet<NodeId>>> = Arc::default();
    let mut crashes = Vec::new();
    while start.elapsed() < FAULTY {
        madsim::time::sleep(ms(thread_rng().gen_range(50..600))).await;
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
                note(log, start, format!("partition {} <-> {}", a + 1, b + 1));
                faults::partition(ids[a], ids[b]);
            }
            1 => {
                note(log, start, format!("partition {} -> {}", a + 1, b + 1));
                faults::partition_one_way(ids[a], ids[b]);
            }
            2 => {
                note(log, start, format!("isolate {}", a + 1));
                for (k, id) in ids.iter().enumerate() {
                    if k != a {
                        faults::partition(ids[a], *id);
                    }
                }
            }
            3 => {
                note(log, start, format!("flap {} <-> {}", a + 1, b + 1));
                for _ in 0..thread_rng().gen_range(2..6) {
                    faults::partition(ids[a], ids[b]);
                    madsim::time::sleep(ms(thread_rng().gen_range(10..200))).await;
                    faults::heal(ids[a], ids[b]);
                    madsim::time::sleep(ms(thread_rng().gen_range(10..200))).await;
                }
            }
            4 => {
                note(log, start, "heal all".to_string());
                heal_all(&ids);
            }
            5 => {
                let loss = thread_rng().gen_range(0.0..0.3);
                note(log, start, format!("loss {loss:.2}"));
                net.update_config(|c| c.packet_loss_rate = loss);
            }
            6 => {
                let max = thread_rng().gen_range(2..80);
                note(log, start, format!("latency 1..{max}ms"));
                net.update_config(|c| c.send_latency = ms(1)..ms(max));
            }
            7 if thread_rng().gen_bool(0.2) => {
                // Power loss of the whole cluster: only synced writes survive.
                note(log, start, "crash all".to_string());
                for host in hosts {
                    let down = ms(thread_rng().gen_range(0..1000));
                    crashes.push(crash_in_background(host, obs, &down_now, down));
                }
            }
            _ => {
                let down = ms(thread_rng().gen_range(0..1500));
                note(log, start, format!("crash {} for {down:?}", a + 1));
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

/// The operator: every 200-800 ms, tells the current leader to hand over to another voter
/// now and then, and (with `membership`) to make one configuration change: add a host as a
/// learner, promote a learner, or remove a member (at least two voters stay).
async fn operator(
    obs: Observer,
    hosts: u64,
    membership: bool,
    stop: Arc<AtomicBool>,
    log: Schedule,
) {
    let ep = Endpoint::bind(std::net::SocketAddr::new(
        raft::client::client_addr(0).ip(),
        7099,
    ))
    .await
    .expect("bind");
    let start = madsim::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        madsim::time::sleep(ms(thread_rng().gen_range(200..800))).await;
        let Some(l) = obs.current_leader() else {
            continue;
        };
        let Some(m) = obs.membership_of(l) else {
            continue;
        };
        let voters: Vec<NodeId> = m.voters.iter().copied().filter(|v| *v != l).collect();
        let learners: Vec<NodeId> = m.learners.iter().copied().collect();
        let outside: Vec<NodeId> = (1..=hosts)
            .filter(|h| !m.members().any(|x| x == *h))
            .collect();
        let pick = |v: &[NodeId]| v[thread_rng().gen_range(0..v.len())];
        let action = match thread_rng().gen_range(0..4) {
            0 if !voters.is_empty() => Admin::Transfer(pick(&voters)),
            1 if membership && !outside.is_empty() => {
                Admin::Change(ConfChange::AddLearner(pick(&outside)))
            }
            2 if membership && !learners.is_empty() => {
                Admin::Change(ConfChange::AddVoter(pick(&learners)))
            }
            3 if membership && m.voters.len() > 2 => {
                let all: Vec<NodeId> = m.members().collect();
                Admin::Change(ConfChange::Remove(pick(&all)))
            }
            _ => continue,
        };
        note(&log, start, format!("operator {action:?} via {l}"));
        action.send(&ep, l).await;
    }
}

/// A client: puts unique values and gets them back, one at a time, until `stop`.
async fn client(
    id: u32,
    hosts: u64,
    history: History<KvEvent>,
    epoch: madsim::time::Instant,
    stop: Arc<AtomicBool>,
) {
    let mut c = KvClient::bind(id, hosts, history, epoch).await;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = KEYS[thread_rng().gen_range(0..KEYS.len())].to_string();
        let op = if thread_rng().gen_bool(0.5) {
            n += 1;
            Op::Put {
                key,
                value: id as u64 * 1_000_000 + n,
            }
        } else {
            Op::Get { key }
        };
        c.call(op, CALL_TIMEOUT).await;
        madsim::time::sleep(ms(thread_rng().gen_range(0..20))).await;
    }
}

async fn run_cluster(sc: Scenario) -> u64 {
    let test = sc.name;
    let obs = Observer::default();
    let cfg = ClusterConfig {
        hosts: sc.hosts,
        voters: sc.voters,
        duplicate: 0.05,
        // Slow disks widen the window in which a crash loses unsynced writes.
        max_sync: ms([1, 20, 100][thread_rng().gen_range(0..3)]),
        compact_every: sc.compact_every[thread_rng().gen_range(0..sc.compact_every.len())],
        check_quorum: thread_rng().gen_bool(0.75),
    };
    let hosts = raft::start(&cfg, &obs);
    let epoch = madsim::time::Instant::now();
    let history: History<KvEvent> = History::new();
    let schedule: Schedule = Arc::default();
    let stop_clients = Arc::new(AtomicBool::new(false));
    let stop_operator = Arc::new(AtomicBool::new(false));

    let client_host: NodeHandle = Handle::current()
        .create_node()
        .name("raft-client")
        .ip(raft::client::client_addr(0).ip())
        .build();
    for id in 1..=CLIENTS {
        let (h, s) = (history.clone(), stop_clients.clone());
        client_host.spawn(client(id, sc.hosts, h, epoch, s));
    }
    client_host.spawn(operator(
        obs.clone(),
        sc.hosts,
        sc.membership,
        stop_operator.clone(),
        schedule.clone(),
    ));

    chaos(&hosts, &obs, &schedule).await;
    stop_operator.store(true, Ordering::Relaxed);

    // Liveness: once healed, a put made now is committed and answered in bounded time,
    // and every member of the configuration applies it.
    let (h, n) = (history.clone(), sc.hosts);
    let probe = client_host.spawn(async move {
        let mut c = KvClient::bind(0, n, h, epoch).await;
        // Values unique per attempt, as the linearizability check needs.
        let mut value = 0;
        loop {
            value += 1;
            let op = Op::Put {
                key: "live".into(),
                value,
            };
            if let Some(reply) = c.call(op, ms(100)).await {
                return reply.index;
            }
        }
    });
    let mut violations = Vec::new();
    let acked_at = madsim::time::timeout(LIVENESS, probe).await;
    let acked_at = match acked_at {
        Ok(Ok(index)) => Some(index),
        _ => {
            violations.push(format!(
                "liveness: nothing acknowledged within {LIVENESS:?} after the faults stopped"
            ));
            None
        }
    };
    if let Some(index) = acked_at {
        let deadline = madsim::time::Instant::now() + Duration::from_secs(5);
        loop {
            let behind = obs.members_behind(index);
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
    // Let the clients finish what they have in flight, then judge their history.
    stop_clients.store(true, Ordering::Relaxed);
    madsim::time::sleep(CALL_TIMEOUT + ms(100)).await;
    let events = history.events();
    violations.extend(check_linearizable(&events));
    violations.extend(obs.final_checks());
    {
        let s = obs.state();
        if s.decode_errors > 0 {
            violations.push(format!("{} undecodable messages", s.decode_errors));
        }
    }
    let schedule = schedule.lock().unwrap().join(", ");
    if std::env::var("SIM_RAFT_STATS").is_ok() {
        let s = obs.state();
        let answered = events
            .iter()
            .filter(|e| matches!(e, KvEvent::Return { .. }))
            .count();
        println!(
            "{test} seed {}: {} elections (last term {}), {} snapshots installed, {} applied, {} client calls ({} answered), schedule: {schedule}",
            Handle::current().seed(),
            s.elections,
            s.leaders.keys().next_back().copied().unwrap_or(0),
            s.installs,
            s.applied.len(),
            events.len() - answered,
            answered,
        );
    }
    if !violations.is_empty() {
        violations.push(format!("schedule: {schedule}"));
        sim::fail(test, &violations);
    }
    history.digest()
}
