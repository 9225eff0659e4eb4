//! `/accountz` and `/accstatz`: the accounts and their traffic.

use rnats_core::node::AccountInfo;
use serde::Serialize;

use super::format::rfc3339;
use super::query::Query;
use super::subsz::StatsJson;
use super::{pretty, Monitor};

#[derive(Serialize)]
struct Accountz<'a> {
    server_id: &'a str,
    now: String,
    system_account: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_detail: Option<Detail<'a>>,
}

#[derive(Serialize)]
struct Detail<'a> {
    account_name: &'a str,
    update_time: String,
    expired: bool,
    complete: bool,
    jetstream_enabled: bool,
    leafnode_connections: u32,
    client_connections: usize,
    subscriptions: u64,
    sublist_stats: StatsJson,
}

pub fn accountz(m: &Monitor, q: &Query) -> Result<Vec<u8>, String> {
    let acc = q.get("acc").filter(|a| !a.is_empty());
    let (server_id, clock, accounts) =
        m.inspect(|node, clock| (node.info().server_id.clone(), clock, node.accounts_info()));
    let mut out = Accountz {
        server_id: &server_id,
        now: rfc3339(clock.wall),
        system_account: &m.opts.system_account,
        accounts: None,
        account_detail: None,
    };
    match acc {
        None => out.accounts = Some(accounts.iter().map(|a| a.name.as_str()).collect()),
        Some(name) => {
            let a = accounts
                .iter()
                .find(|a| a.name == name)
                .ok_or_else(|| format!("Account {name} does not exist"))?;
            out.account_detail = Some(Detail {
                account_name: &a.name,
                update_time: rfc3339(m.config_load),
                expired: false,
                complete: true,
                jetstream_enabled: false,
                leafnode_connections: 0,
                client_connections: a.conns,
                subscriptions: a.sublist.num_subscriptions,
                sublist_stats: StatsJson::from(&a.sublist),
            });
        }
    }
    Ok(pretty(&out))
}

#[derive(Serialize)]
struct Accstatz<'a> {
    server_id: &'a str,
    now: String,
    account_statz: Vec<AccStat<'a>>,
}

#[derive(Serialize)]
struct Data {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct AccStat<'a> {
    acc: &'a str,
    conns: usize,
    leafnodes: u32,
    total_conns: usize,
    sent: Data,
    received: Data,
    slow_consumers: u64,
}

/// Accounts with connections (all of them with `unused=1`), optionally only those named
/// in `accounts=a,b` (or `acc=`).
pub fn accstatz(m: &Monitor, q: &Query) -> Vec<u8> {
    let unused = q.flag("unused");
    let names: Vec<&str> = q
        .get("accounts")
        .or_else(|| q.get("acc"))
        .map(|s| s.split(',').filter(|n| !n.is_empty()).collect())
        .unwrap_or_default();
    let (server_id, clock, accounts) =
        m.inspect(|node, clock| (node.info().server_id.clone(), clock, node.accounts_info()));
    let stats: Vec<AccStat<'_>> = accounts
        .iter()
        .filter(|a| unused || a.conns > 0)
        .filter(|a| names.is_empty() || names.contains(&a.name.as_str()))
        .map(stat)
        .collect();
    pretty(&Accstatz {
        server_id: &server_id,
        now: rfc3339(clock.wall),
        account_statz: stats,
    })
}

fn stat(a: &AccountInfo) -> AccStat<'_> {
    AccStat {
        acc: &a.name,
        conns: a.conns,
        leafnodes: 0,
        total_conns: a.conns,
        sent: Data {
            msgs: a.traffic.out_msgs,
            bytes: a.traffic.out_bytes,
        },
        received: Data {
            msgs: a.traffic.in_msgs,
            bytes: a.traffic.in_bytes,
        },
        slow_consumers: a.slow_consumers,
    }
}
