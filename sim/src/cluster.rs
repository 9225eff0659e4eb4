//! Clusters of simulated servers joined by routes: their options, waiting for the full
//! mesh, and settling the cluster before a steady window of the history.
//!
//! Server `i` listens for routes on [`ROUTE_PORT`] of its host. A cluster forms from one
//! seed ([`Topology::Seed`]: every server dials server 0 and learns of the others through
//! gossip) or from full route lists ([`Topology::Full`]: every server lists every server,
//! itself included, as one configuration file shared by all would).
//!
//! [`settle`] is what a steady window needs (see [`crate::check`]): once it returns, every
//! subscription flushed before it was called is known to every server, and every route
//! carries messages both ways. It waits for a full mesh that stayed unchanged for a while
//! (a redial still due could replace a route, and messages in flight on a replaced route
//! are lost), then runs probe rounds: a probe client on each server subscribes to a fresh
//! subject and publishes to every other probe's subject until each probe heard from every
//! other server. A probe's `SUB` reaches its server after the workload's, so its interest
//! travels each route behind theirs (a route registered later is sent all interest at
//! once); a probe from server `j` reaching server `i` shows that `j` knew of `i`'s
//! subscriptions and that the route from `j` to `i` flows now.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::NodeHandle;
use rnats_core::options::Options;
use rnats_core::route::RouteUrl;

use crate::client::{Client, ClientConfig};
use crate::history::{ClientId, Event, History};
use crate::hosts::{self, ServerHost};
use crate::shell::{ServerView, ShellConfig};
use crate::sync::Barrier;

/// The route port of every simulated server.
pub const ROUTE_PORT: u16 = 6222;

/// Probe clients are numbered from here (server `i`'s is `PROBE_BASE + i`): scenarios
/// number their own clients below it.
pub const PROBE_BASE: ClientId = 200;

/// How a cluster is told about its members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Every server dials server 0 only; gossip makes the mesh.
    Seed,
    /// Every server lists every server's route URL, its own included.
    Full,
}

/// The route URL of server `i`.
pub fn route_url(i: u8) -> RouteUrl {
    let addr = SocketAddr::new(hosts::server_addr_of(i).ip(), ROUTE_PORT);
    RouteUrl::parse(&format!("nats-route://{addr}")).expect("a valid route URL")
}

/// `base` made server `i` of an `n`-server cluster named `sim`.
pub fn options(i: u8, n: u8, topology: Topology, base: &Options) -> Options {
    let mut o = base.clone();
    o.server_name = Some(format!("s{i}"));
    o.cluster.name = Some("sim".to_string());
    o.cluster.port = i32::from(ROUTE_PORT);
    o.cluster.routes = match topology {
        Topology::Seed if i == 0 => Vec::new(),
        Topology::Seed => vec![route_url(0)],
        Topology::Full => (0..n).map(route_url).collect(),
    };
    o
}

/// Starts an `n`-server cluster, server `i` with `cfg(i)` made a member by [`options`].
pub fn start(n: u8, topology: Topology, cfg: impl Fn(u8) -> ShellConfig) -> Vec<ServerHost> {
    hosts::start_servers(n, |i| {
        let mut c = cfg(i);
        c.opts = options(i, n, topology, &c.opts);
        c
    })
}

/// The servers each server has a registered route to (a route names its server once it
/// is registered), or `None` while it has an open route not registered yet.
fn peers(view: &ServerView) -> Option<BTreeSet<String>> {
    let routes = view.routes();
    let named: BTreeSet<String> = routes
        .iter()
        .filter(|r| !r.remote_id.is_empty())
        .map(|r| r.remote_id.clone())
        .collect();
    (named.len() == routes.len()).then_some(named)
}

/// The route ids of every server, if the cluster is a full mesh of one route per pair.
fn mesh(servers: &[ServerHost]) -> Option<Vec<Vec<u64>>> {
    let n = servers.len();
    let full = servers
        .iter()
        .all(|s| peers(&s.view).is_some_and(|p| p.len() == n - 1));
    full.then(|| {
        servers
            .iter()
            .map(|s| s.view.routes().iter().map(|r| r.rid).collect())
            .collect()
    })
}

/// Waits until the servers form a full mesh that stays unchanged for `stable` (longer
/// than a redial pause, so no dial is still due), or `limit` passes; whether it did.
pub async fn wait_mesh(servers: &[ServerHost], stable: Duration, limit: Duration) -> bool {
    let start = madsim::time::Instant::now();
    let mut since: Option<(madsim::time::Instant, Vec<Vec<u64>>)> = None;
    while start.elapsed() < limit {
        let now = madsim::time::Instant::now();
        since = match (mesh(servers), since) {
            (Some(m), Some((t, old))) if m == old => {
                if now - t >= stable {
                    return true;
                }
                Some((t, old))
            }
            (Some(m), _) => Some((now, m)),
            (None, _) => None,
        };
        madsim::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// One probe client per server, on hosts of their own (`10.0.3.(i+1)`, created once per
/// scenario).
pub struct Probes {
    hosts: Vec<(NodeHandle, SocketAddr)>,
    rounds: u32,
}

impl Probes {
    pub fn new(servers: &[ServerHost]) -> Probes {
        let hosts = servers
            .iter()
            .enumerate()
            .map(|(i, s)| (probe_host(PROBE_BASE + i as ClientId), s.addr))
            .collect();
        Probes { hosts, rounds: 0 }
    }
}

fn probe_host(id: ClientId) -> NodeHandle {
    madsim::runtime::Handle::current()
        .create_node()
        .name(format!("probe{id}"))
        .ip(IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            3,
            (id - PROBE_BASE) as u8 + 1,
        )))
        .build()
}

/// Makes the cluster steady (see the module comment) and records [`Event::Steady`] in
/// `history`; whether it got there within `limit`. Call it once every subscription the
/// window counts on was flushed, with the network healthy.
pub async fn settle(
    servers: &[ServerHost],
    probes: &mut Probes,
    history: &History,
    limit: Duration,
) -> bool {
    let start = madsim::time::Instant::now();
    if !wait_mesh(servers, Duration::from_secs(3), limit).await {
        return false;
    }
    probes.rounds += 1;
    let left = limit.saturating_sub(start.elapsed());
    let heard = madsim::time::timeout(left, probe_round(probes)).await;
    if heard.is_err() {
        return false;
    }
    history.record(Event::Steady);
    true
}

/// Every probe hears from every other server once (retrying until it has).
async fn probe_round(probes: &Probes) {
    let n = probes.hosts.len();
    let round = probes.rounds;
    let subscribed = Arc::new(Barrier::new(n));
    let done = Arc::new(Mutex::new(BTreeSet::new()));
    let mut tasks = Vec::new();
    for (i, (host, server)) in probes.hosts.iter().enumerate() {
        let (server, subscribed, done) = (*server, subscribed.clone(), done.clone());
        tasks.push(host.spawn(async move {
            let id = PROBE_BASE + i as ClientId;
            // The probes' own record: only the workload's history is checked.
            let seen = History::new();
            let mut c = loop {
                let mut cfg = ClientConfig::new(id, server);
                cfg.flush_timeout = Duration::from_millis(500);
                if let Ok(mut c) = Client::connect(cfg, seen.clone()).await {
                    let subject = format!("probe.{round}.{i}");
                    if c.subscribe(&subject, None, "p").await.is_ok() && c.flush().await.is_ok() {
                        break c;
                    }
                }
                madsim::time::sleep(Duration::from_millis(50)).await;
            };
            subscribed.wait().await;
            loop {
                for j in (0..n).filter(|&j| j != i) {
                    let _ = c.publish(&format!("probe.{round}.{j}"), 0).await;
                }
                let _ = c.flush().await;
                let from: BTreeSet<ClientId> = seen
                    .events()
                    .iter()
                    .filter_map(|e| match e {
                        Event::Deliver { publisher, .. } => Some(*publisher),
                        _ => None,
                    })
                    .collect();
                if from.len() == n - 1 {
                    done.lock().unwrap_or_else(|e| e.into_inner()).insert(i);
                }
                if done.lock().unwrap_or_else(|e| e.into_inner()).len() == n {
                    break;
                }
                madsim::time::sleep(Duration::from_millis(50)).await;
            }
            c.close().await;
        }));
    }
    for t in tasks {
        t.await.expect("probe task");
    }
}
