//! Answers to the system account's requests (`$SYS.REQ.SERVER.PING...`): the same JSON as
//! the HTTP endpoints, compact, and the `statsz` the reference sends on a PING and
//! publishes periodically on `$SYS.SERVER.<id>.STATSZ`.

use serde::Serialize;

use super::format::rfc3339;
use super::query::Query;
use super::{accounts, connz, jsz, process, subsz, varz, Monitor};

#[derive(Serialize)]
struct Counts {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Statsz {
    start: String,
    mem: u64,
    cores: usize,
    cpu: f64,
    connections: usize,
    total_connections: u64,
    active_accounts: usize,
    subscriptions: usize,
    sent: Counts,
    received: Counts,
    slow_consumers: u64,
    active_servers: u32,
}

/// The server's statistics as `statsz`.
pub fn statsz(m: &Monitor) -> String {
    let cpu = m.cpu.percent();
    let mem = process::rss_bytes();
    let cores = process::cores();
    let statsz = m.inspect(|node, clock| {
        let stats = node.stats();
        Statsz {
            start: rfc3339(clock.wall_of(rnats_core::time::Instant::ZERO)),
            mem,
            cores,
            cpu: (cpu * 100.0).round() / 100.0,
            connections: node.num_clients(),
            total_connections: stats.total_connections,
            active_accounts: node.accounts_info().iter().filter(|a| a.conns > 0).count(),
            subscriptions: node.num_subscriptions(),
            sent: Counts {
                msgs: stats.out_msgs,
                bytes: stats.out_bytes,
            },
            received: Counts {
                msgs: stats.in_msgs,
                bytes: stats.in_bytes,
            },
            slow_consumers: stats.slow_consumers,
            active_servers: 1,
        }
    });
    serde_json::to_string(&statsz).expect("statsz serializes")
}

/// The answer to a request for `endpoint`: the key it goes under and its JSON; `None`
/// for an endpoint this server does not answer.
pub fn answer(m: &Monitor, endpoint: &str) -> Option<(&'static str, String)> {
    let q = Query::parse("");
    let pretty = match endpoint {
        "STATSZ" => return Some(("statsz", statsz(m))),
        "VARZ" => varz::render(m),
        "CONNZ" => connz::render(m, &q).ok()?,
        "SUBSZ" => subsz::render(m, &q).ok()?,
        "JSZ" => jsz::render(m, &q).ok()?,
        "ACCOUNTZ" => accounts::accountz(m, &q).ok()?,
        "HEALTHZ" => br#"{"status":"ok"}"#.to_vec(),
        _ => return None,
    };
    // The HTTP endpoints indent; over NATS the reference sends compact JSON.
    let value: serde_json::Value = serde_json::from_slice(&pretty).ok()?;
    Some(("data", value.to_string()))
}
