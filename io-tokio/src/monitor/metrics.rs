//! `/metrics`: the server's figures in the Prometheus text exposition format (beyond the
//! reference, which needs a separate exporter for this).

use std::fmt::Write;

use rnats_core::node::AccountInfo;

use super::{process, Monitor};

/// Reads one figure of an account.
type Getter = fn(&AccountInfo) -> u64;

/// Writes one metric family: its help, its type and its samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn render(m: &Monitor) -> String {
    let (id, stats, conns, subs, accounts, sublist, uptime) = m.inspect(|node, clock| {
        (
            node.info().server_id.clone(),
            node.stats().clone(),
            node.num_clients(),
            node.num_subscriptions(),
            node.accounts_info(),
            node.sublist_stats(),
            clock.core.as_nanos() as f64 / 1e9,
        )
    });
    let server = format!("{{server_id=\"{}\"}}", label(&id));
    let one = |v: f64| vec![(server.clone(), v)];
    let mut out = String::new();
    let counters: [(&str, &str, u64); 6] = [
        ("in_msgs", "Messages received from clients.", stats.in_msgs),
        ("out_msgs", "Messages sent to clients.", stats.out_msgs),
        (
            "in_bytes",
            "Payload bytes received from clients.",
            stats.in_bytes,
        ),
        (
            "out_bytes",
            "Payload bytes sent to clients.",
            stats.out_bytes,
        ),
        (
            "total_connections",
            "Client connections accepted since start.",
            stats.total_connections,
        ),
        (
            "slow_consumers",
            "Clients cut off as slow consumers.",
            stats.slow_consumers,
        ),
    ];
    for (name, help, v) in counters {
        let name = format!("nats_server_{name}_total");
        family(&mut out, &name, "counter", help, &one(v as f64));
    }
    let gauges: [(&str, &str, f64); 7] = [
        ("connections", "Client connections open now.", conns as f64),
        ("subscriptions", "Subscriptions now.", subs as f64),
        (
            "mem_bytes",
            "Resident memory of the process.",
            process::rss_bytes() as f64,
        ),
        (
            "uptime_seconds",
            "Seconds since the server started.",
            uptime,
        ),
        (
            "sublist_cache_entries",
            "Subjects in the sublist match caches.",
            sublist.num_cache as f64,
        ),
        (
            "sublist_cache_hit_rate",
            "Sublist match cache hit rate.",
            sublist.cache_hit_rate,
        ),
        (
            "sublist_max_fanout",
            "Largest cached fan-out.",
            sublist.max_fanout as f64,
        ),
    ];
    for (name, help, v) in gauges {
        let name = format!("nats_server_{name}");
        family(&mut out, &name, "gauge", help, &one(v));
    }
    let per_account = |f: &dyn Fn(&AccountInfo) -> f64| -> Vec<(String, f64)> {
        accounts
            .iter()
            .map(|a| {
                let labels = format!(
                    "{{server_id=\"{}\",account=\"{}\"}}",
                    label(&id),
                    label(&a.name)
                );
                (labels, f(a))
            })
            .collect()
    };
    family(
        &mut out,
        "nats_account_connections",
        "gauge",
        "Client connections open now, per account.",
        &per_account(&|a| a.conns as f64),
    );
    family(
        &mut out,
        "nats_account_subscriptions",
        "gauge",
        "Subscriptions now, per account.",
        &per_account(&|a| a.sublist.num_subscriptions as f64),
    );
    let account_counters: [(&str, &str, Getter); 5] = [
        (
            "in_msgs",
            "Messages received from the account's clients.",
            |a| a.traffic.in_msgs,
        ),
        ("out_msgs", "Messages sent to the account's clients.", |a| {
            a.traffic.out_msgs
        }),
        (
            "in_bytes",
            "Payload bytes received from the account's clients.",
            |a| a.traffic.in_bytes,
        ),
        (
            "out_bytes",
            "Payload bytes sent to the account's clients.",
            |a| a.traffic.out_bytes,
        ),
        (
            "slow_consumers",
            "The account's clients cut off as slow consumers.",
            |a| a.slow_consumers,
        ),
    ];
    for (name, help, get) in account_counters {
        let name = format!("nats_account_{name}_total");
        family(
            &mut out,
            &name,
            "counter",
            help,
            &per_account(&|a| get(a) as f64),
        );
    }
    out
}
