//! `/varz`: the server's configuration and counters, in the reference's field order.

use std::collections::BTreeMap;

use serde::Serialize;

use super::format::{go_float, rfc3339, uptime};
use super::{pretty, process, Monitor};

/// Sections for features this version does not have: empty objects, as the reference
/// shows them when they are not configured.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct Varz<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u32,
    go: &'a str,
    host: &'a str,
    port: u16,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    /// Where clients can connect in the cluster (what `INFO` gives them).
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    connect_urls: &'a [String],
    max_connections: usize,
    #[serde(skip_serializing_if = "is_zero")]
    max_subscriptions: usize,
    /// Nanoseconds, as Go's `time.Duration` marshals.
    ping_interval: u128,
    ping_max: u32,
    http_host: &'a str,
    http_port: u16,
    http_base_path: &'a str,
    https_port: i32,
    #[serde(serialize_with = "go_float")]
    auth_timeout: f64,
    max_control_line: usize,
    max_payload: u64,
    max_pending: u64,
    cluster: Cluster<'a>,
    gateway: Empty,
    leaf: Empty,
    mqtt: Empty,
    websocket: Empty,
    jetstream: serde_json::Value,
    #[serde(serialize_with = "go_float")]
    tls_timeout: f64,
    write_deadline: u128,
    start: String,
    now: String,
    uptime: String,
    mem: u64,
    cores: usize,
    gomaxprocs: usize,
    #[serde(serialize_with = "go_float")]
    cpu: f64,
    connections: usize,
    total_connections: u64,
    routes: u32,
    remotes: u32,
    leafnodes: u32,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    slow_consumers: u64,
    subscriptions: usize,
    http_req_stats: BTreeMap<&'static str, u64>,
    config_load_time: String,
    system_account: &'a str,
}

/// The `cluster` section: empty without clustering, as the reference shows it.
#[derive(Serialize, Default)]
struct Cluster<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "addr", skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(rename = "cluster_port", skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(
        serialize_with = "go_float_opt",
        skip_serializing_if = "Option::is_none"
    )]
    auth_timeout: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    urls: Vec<String>,
    #[serde(
        serialize_with = "go_float_opt",
        skip_serializing_if = "Option::is_none"
    )]
    tls_timeout: Option<f64>,
}

fn go_float_opt<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    go_float(&v.unwrap_or_default(), s)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn render(m: &Monitor) -> Vec<u8> {
    let req_stats = m
        .req_stats
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let cpu = m.cpu.percent();
    let mem = process::rss_bytes();
    let cores = process::cores();
    let o = &m.opts;
    // Before the node is locked below: the section locks it itself.
    let jetstream = super::jsz::varz_section(m);
    m.inspect(|node, clock| {
        let info = node.info();
        let stats = node.stats();
        let start = clock.wall_of(rnats_core::time::Instant::ZERO);
        let varz = Varz {
            server_id: &info.server_id,
            server_name: &info.server_name,
            version: &info.version,
            proto: info.proto,
            go: &info.go,
            host: &info.host,
            port: info.port,
            auth_required: info.auth_required,
            tls_required: info.tls_required,
            tls_verify: info.tls_verify,
            connect_urls: &info.connect_urls,
            max_connections: o.max_connections,
            max_subscriptions: o.max_subscriptions,
            ping_interval: o.ping_interval.as_nanos(),
            ping_max: o.ping_max,
            http_host: &m.http_host,
            http_port: m.http_port,
            http_base_path: &o.http_base_path,
            https_port: o.https_port,
            auth_timeout: o.auth_timeout().as_secs_f64(),
            max_control_line: o.max_control_line,
            max_payload: o.max_payload,
            max_pending: o.max_pending,
            cluster: match node.cluster_name() {
                None => Cluster::default(),
                Some(name) => Cluster {
                    name: Some(name),
                    host: Some(o.cluster.listen_host()),
                    port: node.cluster_port(),
                    auth_timeout: Some(
                        o.cluster
                            .auth_timeout
                            .unwrap_or(std::time::Duration::from_secs(2))
                            .as_secs_f64(),
                    ),
                    urls: o.cluster.routes.iter().map(|r| r.address()).collect(),
                    tls_timeout: Some(2.0),
                },
            },
            gateway: Empty {},
            leaf: Empty {},
            mqtt: Empty {},
            websocket: Empty {},
            jetstream,
            tls_timeout: o.tls.as_ref().map_or(2.0, |t| t.timeout.as_secs_f64()),
            write_deadline: o.write_deadline.as_nanos(),
            start: rfc3339(start),
            now: rfc3339(clock.wall),
            uptime: uptime(clock.core.saturating_since(rnats_core::time::Instant::ZERO)),
            mem,
            cores,
            gomaxprocs: cores,
            cpu,
            connections: node.num_clients(),
            total_connections: stats.total_connections,
            routes: node.routes().len() as u32,
            remotes: 0,
            leafnodes: 0,
            in_msgs: stats.in_msgs,
            out_msgs: stats.out_msgs,
            in_bytes: stats.in_bytes,
            out_bytes: stats.out_bytes,
            slow_consumers: stats.slow_consumers,
            subscriptions: node.num_subscriptions(),
            http_req_stats: req_stats,
            config_load_time: rfc3339(m.config_load.min(clock.wall)),
            system_account: &o.system_account,
        };
        pretty(&varz)
    })
}
