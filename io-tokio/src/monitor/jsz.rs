//! `/jsz` and `/varz`'s `jetstream` section: JetStream's configuration, usage and, on
//! request, every account's streams and consumers, in the reference's shape.

use std::path::Path;

use rnats_core::jetstream::api::{Report, StreamDetail};
use serde::Serialize;
use serde_json::Value;

use super::format::rfc3339;
use super::query::Query;
use super::{pretty, Monitor};

#[derive(Serialize)]
pub struct Config {
    max_memory: i64,
    max_storage: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    store_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
}

#[derive(Serialize)]
struct Api {
    total: u64,
    errors: u64,
}

/// Usage over all accounts.
#[derive(Serialize)]
pub struct Stats {
    memory: u64,
    storage: u64,
    reserved_memory: u64,
    reserved_storage: u64,
    accounts: usize,
    ha_assets: usize,
    api: Api,
}

#[derive(Serialize)]
struct Jsz {
    server_id: String,
    now: String,
    /// JetStream is not enabled (then the limits are zero, as the reference shows them).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disabled: bool,
    config: Config,
    #[serde(flatten)]
    stats: Stats,
    streams: usize,
    consumers: usize,
    messages: u64,
    bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_details: Option<Vec<AccountJson>>,
}

#[derive(Serialize)]
struct AccountJson {
    name: String,
    id: String,
    #[serde(flatten)]
    stats: Stats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    stream_detail: Vec<Value>,
}

/// The configured limits, or the reference's defaults: three quarters of the machine's
/// memory and of the disk space free under the store directory.
pub fn config(m: &Monitor) -> Config {
    let dir = crate::disk::jetstream_dir(&m.opts);
    let js = &m.opts.js;
    Config {
        max_memory: if js.max_memory >= 0 {
            js.max_memory
        } else {
            (total_memory() / 4 * 3) as i64
        },
        max_storage: if js.max_store >= 0 {
            js.max_store
        } else {
            (free_disk(&dir) / 4 * 3) as i64
        },
        store_dir: dir.display().to_string(),
        domain: js.domain.clone(),
    }
}

/// The usage of the accounts `reports` tell of, added up.
fn stats(reports: &[&Report]) -> Stats {
    Stats {
        memory: reports.iter().map(|r| r.memory).sum(),
        storage: reports.iter().map(|r| r.storage).sum(),
        reserved_memory: 0,
        reserved_storage: 0,
        accounts: reports.len(),
        ha_assets: 0,
        api: Api {
            total: reports.iter().map(|r| r.api_total).sum(),
            errors: reports.iter().map(|r| r.api_errors).sum(),
        },
    }
}

/// Every report of `reports`, without its account's name.
fn all(reports: &[(String, Report)]) -> Vec<&Report> {
    reports.iter().map(|(_, r)| r).collect()
}

/// `/varz`'s `jetstream`: `{}` without JetStream, else its configuration and usage.
pub fn varz_section(m: &Monitor) -> Value {
    let Some(reports) = m.inspect(|node, _| node.jetstream_report(false)) else {
        return Value::Object(Default::default());
    };
    serde_json::json!({ "config": config(m), "stats": stats(&all(&reports)) })
}

pub fn render(m: &Monitor, q: &Query) -> Result<Vec<u8>, String> {
    let accounts = q.flag("accounts") || q.flag("streams") || q.flag("consumers");
    let streams = q.flag("streams") || q.flag("consumers");
    let (server_id, clock, reports) = m.inspect(|node, clock| {
        let reports = node.jetstream_report(streams);
        (node.info().server_id.clone(), clock, reports)
    });
    let disabled = reports.is_none();
    let reports = reports.unwrap_or_default();
    let only = q.get("acc").filter(|a| !a.is_empty());
    let details = accounts.then(|| {
        reports
            .iter()
            .filter(|(name, _)| only.is_none_or(|o| o == name))
            .map(|(name, r)| AccountJson {
                name: name.clone(),
                id: name.clone(),
                stats: Stats {
                    // As the reference shows an account's reservations: none, as -1
                    // unsigned; and it counts no accounts inside one.
                    reserved_memory: u64::MAX,
                    reserved_storage: u64::MAX,
                    accounts: 0,
                    ..stats(&[r])
                },
                stream_detail: r
                    .stream_detail
                    .iter()
                    .map(|s| stream_json(s, &server_id, q.flag("config"), q.flag("consumers")))
                    .collect(),
            })
            .collect()
    });
    let jsz = Jsz {
        server_id: server_id.clone(),
        now: rfc3339(clock.wall),
        disabled,
        config: if disabled {
            Config {
                max_memory: 0,
                max_storage: 0,
                store_dir: String::new(),
                domain: None,
            }
        } else {
            config(m)
        },
        stats: stats(&all(&reports)),
        streams: reports.iter().map(|(_, r)| r.streams).sum(),
        consumers: reports.iter().map(|(_, r)| r.consumers).sum(),
        messages: reports.iter().map(|(_, r)| r.messages).sum(),
        bytes: reports.iter().map(|(_, r)| r.bytes).sum(),
        account_details: details,
    };
    Ok(pretty(&jsz))
}

fn stream_json(s: &StreamDetail, server_id: &str, config: bool, consumers: bool) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("name".into(), Value::String(s.name.clone()));
    let created = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(s.created);
    out.insert("created".into(), Value::String(rfc3339(created)));
    out.insert("cluster".into(), serde_json::json!({ "leader": server_id }));
    if config {
        out.insert("config".into(), s.config.clone());
    }
    out.insert("state".into(), s.state.clone());
    if consumers && !s.consumers.is_empty() {
        out.insert("consumer_detail".into(), Value::Array(s.consumers.clone()));
    }
    Value::Object(out)
}

/// Physical memory in bytes (`/proc/meminfo`), 0 if unknown.
fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

/// Bytes free for unprivileged use on the file system of `dir` (or its nearest existing
/// ancestor), 0 if unknown.
fn free_disk(dir: &Path) -> u64 {
    let mut at = dir;
    while !at.exists() {
        match at.parent() {
            Some(p) => at = p,
            None => return 0,
        }
    }
    let Ok(path) = std::ffi::CString::new(at.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs to fill.
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}
