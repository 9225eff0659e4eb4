//! Clusters of 3 or 5 servers joined by routes, formed from one seed URL (gossip must make
//! the full mesh) or from full route lists. Clients spread over the servers run a random
//! workload (publishes on subjects their subscriptions match with `*` and `>`, queue
//! groups, requests to plain and queue-group responders, subscriptions that come and go)
//! through steady windows (a healthy network and a settled cluster: everything published
//! must reach every matching subscription) and, in `cluster_under_faults`, faulty phases
//! (partitions, crashes, slow links, route resets: only the safety checks apply there).

use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use sim::check;
use sim::client::ClientConfig;
use sim::cluster::{self, Probes, Topology};
use sim::cluster_faults::{self, ClusterSchedule};
use sim::faults::{Resets, Resilient};
use sim::history::{ClientId, Event, History};
use sim::hosts::{client_host, ServerHost, PORT};
use sim::shell::ShellConfig;
use sim::sync::Barrier;

/// Subjects the workload publishes on.
const SUBJECTS: [&str; 6] = ["s.a.x", "s.a.y", "s.b.x", "s.b.y", "s.c.x", "s.c.z"];
/// What its subscriptions pick from: (pattern, queue group). `q3` spans two patterns: a
/// message both match goes to one member of either.
const PATTERNS: [(&str, Option<&str>); 9] = [
    ("s.a.x", None),
    ("s.b.y", None),
    ("s.*.x", None),
    ("s.a.*", None),
    ("s.>", None),
    ("s.*.x", Some("q1")),
    ("s.>", Some("q2")),
    ("s.b.*", Some("q3")),
    ("s.c.>", Some("q3")),
];
/// Request subjects.
const SERVICES: [&str; 3] = ["svc.a", "svc.b", "svc.c"];
/// What responders pick from: (pattern, queue group).
const RESPONDERS: [(&str, Option<&str>); 4] = [
    ("svc.a", None),
    ("svc.*", Some("workers")),
    ("svc.>", Some("workers")),
    ("svc.b", Some("solo")),
];

/// How long a steady window's workload runs, and how long a window waits for what was
/// published (and then for the answers) to cross the cluster: far more than a healthy
/// link's 1-10 ms per hop.
const STEADY_SPAN: Duration = Duration::from_secs(1);
const DRAIN: Duration = Duration::from_millis(300);
/// Faults fall within this span of a faulty phase; the workload runs half a second longer.
const FAULT_SPAN: Duration = Duration::from_secs(2);
/// How long the cluster may take to form or to settle again.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Steady,
    Faulty,
}

impl Phase {
    /// The barriers each phase passes through (see `client_task` and `run`).
    fn steps(self) -> usize {
        match self {
            Phase::Steady => 6,
            Phase::Faulty => 2,
        }
    }
}

/// The numbered barriers every participant (each client and the scenario itself) passes
/// in the same order.
struct Steps {
    all: Arc<Vec<Barrier>>,
    next: usize,
}

impl Steps {
    async fn pass(&mut self) {
        self.all[self.next].wait().await;
        self.next += 1;
    }
}

/// One workload client, drawn from the seed.
#[derive(Clone, Debug)]
struct Member {
    id: ClientId,
    server: usize,
    subs: Vec<(&'static str, Option<&'static str>)>,
    /// Its responder subscription: it answers every request it gets.
    responder: Option<(&'static str, Option<&'static str>)>,
    /// It asks for `503` statuses on requests nobody can answer.
    no_responders: bool,
}

impl Member {
    fn draw(id: ClientId, servers: usize) -> Member {
        let mut rng = thread_rng();
        let pick = |rng: &mut madsim::rand::GlobalRng| PATTERNS[rng.gen_range(0..PATTERNS.len())];
        let subs = (0..rng.gen_range(1..=3)).map(|_| pick(&mut rng)).collect();
        Member {
            id,
            server: rng.gen_range(0..servers),
            subs,
            responder: rng
                .gen_bool(0.5)
                .then(|| RESPONDERS[rng.gen_range(0..RESPONDERS.len())]),
            no_responders: rng.gen_bool(0.5),
        }
    }
}

sim::scenario!(cluster_seed, cluster_seed_run);
sim::scenario!(cluster_full, cluster_full_run);
sim::scenario!(cluster_under_faults, cluster_under_faults_run);

/// Formed through gossip from one seed, two steady windows.
async fn cluster_seed_run() {
    let plan = [Phase::Steady, Phase::Steady];
    run("cluster_seed", Some(Topology::Seed), &plan).await;
}

/// Formed from full route lists, two steady windows.
async fn cluster_full_run() {
    let plan = [Phase::Steady, Phase::Steady];
    run("cluster_full", Some(Topology::Full), &plan).await;
}

/// Either way of forming, faults between steady windows.
async fn cluster_under_faults_run() {
    cluster_under_faults_digest().await;
}

async fn cluster_under_faults_digest() -> u64 {
    use Phase::*;
    let plan = [Steady, Faulty, Steady, Faulty, Steady];
    run("cluster_under_faults", None, &plan).await
}

/// Routes, dials, crashes and restarts keep the simulation deterministic: one seed, one
/// history (at most 3 seeds, each run twice).
#[test]
fn cluster_same_seed_same_history() {
    sim::same_seed_twice(
        "cluster_same_seed_same_history",
        3,
        cluster_under_faults_digest,
    );
}

/// Runs one scenario and checks its history; the history's digest.
async fn run(test: &str, topology: Option<Topology>, plan: &[Phase]) -> u64 {
    let mut rng = thread_rng();
    let n: u8 = if rng.gen_bool(0.5) { 3 } else { 5 };
    let topology = topology.unwrap_or(if rng.gen_bool(0.5) {
        Topology::Seed
    } else {
        Topology::Full
    });
    let history = History::new();
    let servers = cluster::start(n, topology, |_| {
        let mut opts = Options {
            // Routes (and clients) PINGed every second: a cut route goes stale in seconds.
            ping_interval: Duration::from_secs(1),
            debug: std::env::var("SIM_DEBUG").is_ok(),
            ..Options::default()
        };
        // A closed route learned through gossip is dialed again once by default, as in
        // the reference; these retries (one a second) outlast a faulty phase.
        opts.cluster.connect_retries = 30;
        let mut cfg = ShellConfig::new(opts, PORT, thread_rng().gen());
        cfg.clock_offset = Duration::from_millis(thread_rng().gen_range(0..10_000));
        cfg
    });
    let mut v = Vec::new();
    let what = format!("{n} servers, {topology:?} topology");
    if !cluster::wait_mesh(&servers, Duration::from_secs(3), SETTLE_LIMIT).await {
        v.push(format!("{what}: no full mesh within {SETTLE_LIMIT:?}"));
        v.extend(routes(&servers));
        sim::fail(test, &v);
    }

    let members: Vec<Member> = (1..=ClientId::from(n) + 2)
        .map(|id| Member::draw(id, servers.len()))
        .collect();
    let steps_per_run = 1 + plan.iter().map(|p| p.steps()).sum::<usize>();
    let all: Arc<Vec<Barrier>> = Arc::new(
        (0..steps_per_run)
            .map(|_| Barrier::new(members.len() + 1))
            .collect(),
    );
    let mut tasks = Vec::new();
    for m in &members {
        let steps = Steps {
            all: all.clone(),
            next: 0,
        };
        let (m, h, plan, addr) = (
            m.clone(),
            history.clone(),
            plan.to_vec(),
            servers[m.server].addr,
        );
        tasks.push(client_host(m.id).spawn(client_task(m, addr, plan, steps, h)));
    }

    let mut steps = Steps { all, next: 0 };
    let mut probes = Probes::new(&servers);
    let mut schedules = Vec::new();
    steps.pass().await;
    for phase in plan {
        match phase {
            Phase::Steady => {
                if !cluster::settle(&servers, &mut probes, &history, SETTLE_LIMIT).await {
                    v.push(format!("{what}: did not settle within {SETTLE_LIMIT:?}"));
                    v.extend(routes(&servers));
                    break;
                }
                // The clients' workload runs until they flushed it.
                steps.pass().await;
                steps.pass().await;
                // The requests (and messages) cross; the clients flush their answers.
                madsim::time::sleep(DRAIN).await;
                steps.pass().await;
                steps.pass().await;
                // The answers cross; the window closes; the clients' final syncs.
                madsim::time::sleep(DRAIN).await;
                history.record(Event::Quiet);
                steps.pass().await;
                steps.pass().await;
            }
            Phase::Faulty => {
                let schedule = ClusterSchedule::random(usize::from(n), FAULT_SPAN, 5);
                steps.pass().await;
                cluster_faults::run(&schedule, &servers).await;
                schedules.push(schedule);
                steps.pass().await;
            }
        }
    }
    if v.is_empty() {
        for t in tasks {
            t.await.expect("client task");
        }
    }

    let events = history.events();
    v.extend(check::all(&events));
    v.extend(check::errors(&events));
    let delivered = events
        .iter()
        .filter(|e| matches!(e, Event::Deliver { .. }))
        .count();
    if delivered < 100 {
        v.push(format!("only {delivered} deliveries"));
    }
    if !v.is_empty() {
        v.push(format!("{what}, members {members:?}"));
        for (k, s) in schedules.iter().enumerate() {
            v.push(format!("fault schedule {k}:\n{s}"));
        }
        if let Ok(path) = std::env::var("SIM_DUMP") {
            dump(&path, &events, &servers);
        }
        sim::fail(test, &v);
    }
    history.digest()
}

/// A client's whole run: subscribe, then each phase's workload between the barriers the
/// scenario passes too (see `run`).
async fn client_task(
    m: Member,
    server: std::net::SocketAddr,
    plan: Vec<Phase>,
    mut steps: Steps,
    history: History,
) {
    let mut cfg = ClientConfig::new(m.id, server);
    cfg.flush_timeout = Duration::from_secs(1);
    cfg.max_write_chunk = 256;
    cfg.responder = m.responder.is_some();
    cfg.no_responders = m.no_responders;
    let mut c = Resilient::new(cfg, history, Resets::default());
    let _ = c.subscribe(&format!("_INBOX.{}.*", m.id), None, "i").await;
    let mut w = Workload {
        id: m.id,
        live: Vec::new(),
        next_sid: 0,
        requests: 0,
    };
    for (subject, queue) in &m.subs {
        w.subscribe(&mut c, subject, *queue).await;
    }
    if let Some((subject, queue)) = m.responder {
        let _ = c.subscribe(subject, queue, "r").await;
    }
    c.flush_surely().await;
    steps.pass().await;
    for phase in plan {
        match phase {
            Phase::Steady => {
                // Settled; publishing stops and is flushed; the answers to requests are
                // flushed once the requests had time to arrive; the final syncs come after
                // the Quiet.
                steps.pass().await;
                w.run(&mut c, STEADY_SPAN).await;
                c.flush_surely().await;
                steps.pass().await;
                steps.pass().await;
                c.flush_surely().await;
                steps.pass().await;
                steps.pass().await;
                c.flush_surely().await;
                steps.pass().await;
            }
            Phase::Faulty => {
                steps.pass().await;
                w.run(&mut c, FAULT_SPAN + Duration::from_millis(500)).await;
                c.flush_surely().await;
                steps.pass().await;
            }
        }
    }
    c.close().await;
}

/// A client's random operations.
struct Workload {
    id: ClientId,
    /// Its `s.*` subscriptions' sids.
    live: Vec<String>,
    next_sid: u32,
    requests: u32,
}

impl Workload {
    async fn subscribe(&mut self, c: &mut Resilient, subject: &str, queue: Option<&str>) {
        let sid = format!("s{}", self.next_sid);
        self.next_sid += 1;
        let _ = c.subscribe(subject, queue, &sid).await;
        self.live.push(sid);
    }

    /// Publishes, requests, unsubscribes and subscribes at random for `span`, flushing
    /// every few operations.
    async fn run(&mut self, c: &mut Resilient, span: Duration) {
        let start = madsim::time::Instant::now();
        let mut ops = 0u32;
        while start.elapsed() < span {
            let roll = thread_rng().gen_range(0..100);
            if roll < 70 {
                let subject = SUBJECTS[thread_rng().gen_range(0..SUBJECTS.len())];
                let _ = c.publish(subject, thread_rng().gen_range(0..100)).await;
            } else if roll < 85 {
                let subject = SERVICES[thread_rng().gen_range(0..SERVICES.len())];
                let inbox = format!("_INBOX.{}.{}", self.id, self.requests);
                self.requests += 1;
                let _ = c
                    .request(subject, &inbox, thread_rng().gen_range(0..50))
                    .await;
            } else if roll < 93 && !self.live.is_empty() {
                let sid = self
                    .live
                    .swap_remove(thread_rng().gen_range(0..self.live.len()));
                let _ = c.unsubscribe(&sid).await;
            } else {
                let (subject, queue) = PATTERNS[thread_rng().gen_range(0..PATTERNS.len())];
                self.subscribe(c, subject, queue).await;
            }
            ops += 1;
            if ops.is_multiple_of(5) {
                let _ = c.flush().await;
            }
            madsim::time::sleep(Duration::from_millis(thread_rng().gen_range(5..40))).await;
        }
    }
}

/// Each server's open routes: (route id, the server it leads to, whether this one dialed).
fn routes(servers: &[ServerHost]) -> Vec<String> {
    servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let routes: Vec<_> = (s.view.routes().iter())
                .map(|r| (r.rid, r.remote_id.clone(), r.did_solicit))
                .collect();
            format!("server {i} ({}) routes {routes:?}", s.view.server_id())
        })
        .collect()
}

/// Writes the history and every server's log lines to `path` (`SIM_DUMP`).
fn dump(path: &str, events: &[Event], servers: &[ServerHost]) {
    let mut text: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| format!("#{i} {e:?}"))
        .collect();
    for (i, s) in servers.iter().enumerate() {
        text.extend(s.view.logs().iter().map(|l| format!("server {i}: {l}")));
    }
    std::fs::write(path, text.join("\n")).expect("dump");
}
