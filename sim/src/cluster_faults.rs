//! Faults between the servers of a cluster, drawn from the seed: partitions (both ways,
//! one way, one server cut from all others), healing, a server crash and restart, slow
//! links, and route connections reset. Links are cut with [`crate::faults`]; crashes go
//! through [`hosts::crash_server`].

use std::time::Duration;

use madsim::net::NetSim;
use madsim::rand::{thread_rng, Rng};

use crate::faults;
use crate::hosts::{self, ServerHost};

/// One fault; servers by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterFault {
    /// Cut the links between `a` and `b` both ways.
    Partition { a: usize, b: usize },
    /// Cut the link from `from` to `to` only.
    OneWay { from: usize, to: usize },
    /// Cut `server` from every other server, both ways.
    Isolate { server: usize },
    /// Restore every link between servers.
    HealAll,
    /// Kill `server`, restart it after `down`.
    Crash { server: usize, down: Duration },
    /// Every link's one-way latency becomes `min..max`.
    Slow { min: Duration, max: Duration },
    /// `server` drops its `nth` open route (modulo how many it has) as a reset would.
    ResetRoute { server: usize, nth: usize },
}

/// Cluster faults at times since the start of [`run`], in time order.
pub type ClusterSchedule = crate::faults::Schedule<ClusterFault>;

impl ClusterSchedule {
    /// Draws 1..=`max` faults for `n` servers within `0..span`.
    pub fn random(n: usize, span: Duration, max: usize) -> ClusterSchedule {
        let mut rng = thread_rng();
        let span = span.as_millis().max(1) as u64;
        let mut faults = Vec::new();
        for _ in 0..rng.gen_range(1..=max) {
            let at = Duration::from_millis(rng.gen_range(0..span));
            let a = rng.gen_range(0..n);
            let b = (a + rng.gen_range(1..n)) % n;
            let fault = match rng.gen_range(0..7) {
                0 => ClusterFault::Partition { a, b },
                1 => ClusterFault::OneWay { from: a, to: b },
                2 => ClusterFault::Isolate { server: a },
                3 => ClusterFault::HealAll,
                4 => ClusterFault::Crash {
                    server: a,
                    down: Duration::from_millis(rng.gen_range(10..1500)),
                },
                5 => {
                    let min = Duration::from_millis(rng.gen_range(1..50));
                    let max = min + Duration::from_millis(rng.gen_range(1..200));
                    ClusterFault::Slow { min, max }
                }
                _ => ClusterFault::ResetRoute {
                    server: a,
                    nth: rng.gen_range(0..n),
                },
            };
            faults.push((at, fault));
        }
        faults.sort_by_key(|(t, _)| *t);
        ClusterSchedule { faults }
    }
}

/// Applies `schedule` (times relative to now; a crash holds the schedule for its
/// downtime), then heals every link and restores madsim's default latency, so the
/// network is healthy again and every server up when it returns.
pub async fn run(schedule: &ClusterSchedule, servers: &[ServerHost]) {
    let start = madsim::time::Instant::now();
    for (at, fault) in &schedule.faults {
        faults::sleep_until(start + *at).await;
        apply(fault, servers).await;
    }
    apply(&ClusterFault::HealAll, servers).await;
    NetSim::current().update_config(|c| {
        c.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
    });
}

async fn apply(fault: &ClusterFault, servers: &[ServerHost]) {
    let id = |i: usize| servers[i].node.id();
    match fault {
        ClusterFault::Partition { a, b } => faults::partition(id(*a), id(*b)),
        ClusterFault::OneWay { from, to } => faults::partition_one_way(id(*from), id(*to)),
        ClusterFault::Isolate { server } => {
            for other in (0..servers.len()).filter(|o| o != server) {
                faults::partition(id(*server), id(other));
            }
        }
        ClusterFault::HealAll => {
            for a in 0..servers.len() {
                for b in a + 1..servers.len() {
                    faults::heal(id(a), id(b));
                }
            }
        }
        ClusterFault::Crash { server, down } => {
            hosts::crash_server(&servers[*server], *down).await;
        }
        ClusterFault::Slow { min, max } => {
            let (min, max) = (*min, *max);
            NetSim::current().update_config(|c| c.send_latency = min..max);
        }
        ClusterFault::ResetRoute { server, nth } => {
            let view = &servers[*server].view;
            let routes = view.routes();
            if !routes.is_empty() {
                view.reset_route(routes[nth % routes.len()].rid);
            }
        }
    }
}
