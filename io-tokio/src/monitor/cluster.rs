//! `/routez` (the routes to the other servers of the cluster), and `/gatewayz`, `/leafz`:
//! well-formed and empty until gateways and leaf nodes exist.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::{rfc3339, rtt, uptime};
use super::query::Query;
use super::{pretty, Monitor};

#[derive(Serialize)]
struct Routez<'a> {
    server_id: &'a str,
    now: String,
    num_routes: usize,
    routes: Vec<Route>,
}

/// One route, in the reference's field order.
#[derive(Serialize)]
struct Route {
    rid: u64,
    remote_id: String,
    did_solicit: bool,
    is_configured: bool,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    /// `0s` until the first PING/PONG measured it, as the reference shows it.
    rtt: String,
    uptime: String,
    idle: String,
    pending_size: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
}

#[derive(Serialize)]
struct Gatewayz<'a> {
    server_id: &'a str,
    now: String,
    outbound_gateways: BTreeMap<String, ()>,
    inbound_gateways: BTreeMap<String, ()>,
}

#[derive(Serialize)]
struct Leafz<'a> {
    server_id: &'a str,
    now: String,
    leafnodes: u32,
    /// `null`, as the reference writes an empty list of leaf nodes.
    leafs: Option<[(); 0]>,
}

fn header(m: &Monitor) -> (String, String) {
    m.inspect(|node, clock| (node.info().server_id.clone(), rfc3339(clock.wall)))
}

/// `/routez`, with each route's announced subjects under `subs=1`.
pub fn routez(m: &Monitor, q: &Query) -> Vec<u8> {
    let with_subs = matches!(q.get("subs"), Some("1" | "true" | "detail"));
    m.inspect(|node, clock| {
        let routes: Vec<Route> = node
            .routes()
            .into_iter()
            .map(|r| Route {
                rid: r.rid,
                remote_id: r.remote_id,
                did_solicit: r.did_solicit,
                is_configured: r.is_configured,
                ip: r.ip,
                port: r.port,
                start: rfc3339(clock.wall_of(r.start)),
                last_activity: rfc3339(clock.wall_of(r.last_activity)),
                rtt: rtt(r.rtt.unwrap_or_default()),
                uptime: uptime(clock.core.saturating_since(r.start)),
                idle: uptime(clock.core.saturating_since(r.last_activity)),
                pending_size: r.pending_bytes,
                in_msgs: r.in_msgs,
                out_msgs: r.out_msgs,
                in_bytes: r.in_bytes,
                out_bytes: r.out_bytes,
                subscriptions: r.subs.len(),
                subscriptions_list: (with_subs && !r.subs.is_empty()).then_some(r.subs),
            })
            .collect();
        pretty(&Routez {
            server_id: &node.info().server_id,
            now: rfc3339(clock.wall),
            num_routes: routes.len(),
            routes,
        })
    })
}

pub fn gatewayz(m: &Monitor) -> Vec<u8> {
    let (id, now) = header(m);
    pretty(&Gatewayz {
        server_id: &id,
        now,
        outbound_gateways: BTreeMap::new(),
        inbound_gateways: BTreeMap::new(),
    })
}

pub fn leafz(m: &Monitor) -> Vec<u8> {
    let (id, now) = header(m);
    pretty(&Leafz {
        server_id: &id,
        now,
        leafnodes: 0,
        leafs: None,
    })
}
