//! `/connz`: client connections, open and recently closed, with the reference's paging,
//! sorting and filters.

use std::cmp::Reverse;

use rnats_core::node::{ConnInfo, SubInfo};
use rnats_core::time::Instant;
use serde::Serialize;

use super::format::{rfc3339, rtt, uptime};
use super::query::Query;
use super::{pretty, Clock, Monitor};

/// The reference's default and largest page.
pub const DEFAULT_LIMIT: i64 = 1024;

#[derive(Serialize)]
struct Connz<'a> {
    server_id: &'a str,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnJson<'a>>,
}

#[derive(Serialize)]
struct ConnJson<'a> {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: &'a str,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: u64,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorized_user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list_detail: Vec<SubJson<'a>>,
}

/// One subscription as `subscriptions_list_detail` and `/subsz` list it.
#[derive(Serialize)]
pub struct SubJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<&'a str>,
    pub subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<&'a str>,
    pub sid: &'a str,
    pub msgs: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    pub cid: u64,
}

impl<'a> SubJson<'a> {
    pub fn new(s: &'a SubInfo, with_account: bool) -> SubJson<'a> {
        SubJson {
            account: with_account.then_some(s.account.as_str()),
            subject: &s.subject,
            qgroup: s.queue.as_deref(),
            sid: &s.sid,
            msgs: s.msgs,
            max: s.max,
            cid: s.cid,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    All,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Subs {
    None,
    List,
    Detail,
}

/// The reference's sort keys.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Start,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "cid" => Sort::Cid,
            "start" => Sort::Start,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::MsgsTo,
            "msgs_from" => Sort::MsgsFrom,
            "bytes_to" => Sort::BytesTo,
            "bytes_from" => Sort::BytesFrom,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            "rtt" => Sort::Rtt,
            _ => return None,
        })
    }
}

/// When a connection's clock stops: its close, or now.
fn end(c: &ConnInfo, now: Instant) -> Instant {
    c.stop.unwrap_or(now)
}

fn sort(conns: &mut [ConnInfo], by: Sort, now: Instant) {
    match by {
        Sort::Cid => conns.sort_by_key(|c| c.cid),
        Sort::Start => conns.sort_by_key(|c| (c.start, c.cid)),
        Sort::Subs => conns.sort_by_key(|c| Reverse(c.num_subs)),
        Sort::Pending => conns.sort_by_key(|c| Reverse(c.pending_bytes)),
        Sort::MsgsTo => conns.sort_by_key(|c| Reverse(c.out_msgs)),
        Sort::MsgsFrom => conns.sort_by_key(|c| Reverse(c.in_msgs)),
        Sort::BytesTo => conns.sort_by_key(|c| Reverse(c.out_bytes)),
        Sort::BytesFrom => conns.sort_by_key(|c| Reverse(c.in_bytes)),
        Sort::Last => conns.sort_by_key(|c| Reverse(c.last_activity)),
        Sort::Idle => conns.sort_by_key(|c| Reverse(end(c, now) - c.last_activity)),
        Sort::Uptime => conns.sort_by_key(|c| Reverse(end(c, now) - c.start)),
        Sort::Stop => conns.sort_by_key(|c| Reverse(c.stop)),
        Sort::Reason => conns.sort_by_key(|c| c.reason.map(|r| r.to_string())),
        Sort::Rtt => conns.sort_by_key(|c| Reverse(c.rtt)),
    }
}

pub fn render(m: &Monitor, q: &Query) -> Result<Vec<u8>, String> {
    let sort_key = q.get("sort").unwrap_or("");
    let by = Sort::parse(sort_key).ok_or_else(|| format!("invalid sorting option: {sort_key}"))?;
    let state = match q.get("state").unwrap_or("") {
        "" | "open" => State::Open,
        "closed" => State::Closed,
        "any" | "all" => State::All,
        other => return Err(format!("Error decoding state for {other}")),
    };
    if state == State::Open && matches!(by, Sort::Stop | Sort::Reason) {
        return Err(format!(
            "sort by {sort_key} only valid on closed connections"
        ));
    }
    let subs = match q.get("subs").unwrap_or("") {
        "detail" => Subs::Detail,
        _ if q.flag("subs") => Subs::List,
        _ => Subs::None,
    };
    let auth = q.flag("auth");
    let cid: Option<u64> = match q.get("cid").filter(|c| !c.is_empty()) {
        Some(c) => Some(c.parse().map_err(|_| format!("invalid cid value: {c}"))?),
        None => None,
    };
    let offset = q.int("offset", 0)?.max(0) as usize;
    let mut limit = q.int("limit", DEFAULT_LIMIT)?;
    if limit <= 0 {
        limit = DEFAULT_LIMIT;
    }
    let limit = if cid.is_some() { 1 } else { limit as usize };
    let user = q.get("user").filter(|u| !u.is_empty());
    let acc = q.get("acc").filter(|a| !a.is_empty());

    let (server_id, clock, mut conns) = m.inspect(|node, clock| {
        let mut conns = Vec::new();
        if state != State::Closed {
            conns.extend(node.connections(subs != Subs::None));
        }
        if state != State::Open {
            conns.extend(node.closed_connections().cloned());
        }
        (node.info().server_id.clone(), clock, conns)
    });
    conns.retain(|c| {
        cid.is_none_or(|id| c.cid == id)
            && user.is_none_or(|u| c.user.as_deref() == Some(u))
            && acc.is_none_or(|a| c.account == a)
    });
    sort(&mut conns, by, clock.core);
    let total = conns.len();
    let page: Vec<&ConnInfo> = conns.iter().skip(offset).take(limit).collect();
    let connections: Vec<ConnJson<'_>> = page
        .iter()
        .map(|c| conn_json(c, clock, subs, auth))
        .collect();
    Ok(pretty(&Connz {
        server_id: &server_id,
        now: rfc3339(clock.wall),
        num_connections: connections.len(),
        total,
        offset,
        limit,
        connections,
    }))
}

fn conn_json<'a>(c: &'a ConnInfo, clock: Clock, subs: Subs, auth: bool) -> ConnJson<'a> {
    let until = end(c, clock.core);
    ConnJson {
        cid: c.cid,
        kind: "Client",
        kind_type: "nats",
        ip: &c.ip,
        port: c.port,
        start: rfc3339(clock.wall_of(c.start)),
        last_activity: rfc3339(clock.wall_of(c.last_activity)),
        stop: c.stop.map(|s| rfc3339(clock.wall_of(s))),
        reason: c.reason.map(|r| r.to_string()),
        rtt: rtt(c.rtt.unwrap_or_default()),
        uptime: uptime(until - c.start),
        idle: uptime(until - c.last_activity),
        pending_bytes: c.pending_bytes,
        in_msgs: c.in_msgs,
        out_msgs: c.out_msgs,
        in_bytes: c.in_bytes,
        out_bytes: c.out_bytes,
        subscriptions: c.num_subs,
        name: c.name.as_deref(),
        lang: c.lang.as_deref(),
        version: c.version.as_deref(),
        authorized_user: c.user.as_deref().filter(|_| auth),
        account: auth.then_some(c.account.as_str()),
        subscriptions_list: match subs {
            Subs::List => c.subs.iter().map(|s| s.subject.as_str()).collect(),
            _ => Vec::new(),
        },
        subscriptions_list_detail: match subs {
            Subs::Detail => c.subs.iter().map(|s| SubJson::new(s, false)).collect(),
            _ => Vec::new(),
        },
    }
}
