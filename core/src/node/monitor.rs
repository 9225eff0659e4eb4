//! What the node shows to monitoring: plain snapshots of its connections, subscriptions and
//! accounts, taken on request. The shell turns them into the reference's JSON (`/connz`,
//! `/subsz`, `/accstatz`...); times stay in the core's [`Instant`], which the shell maps to
//! wall time.
//!
//! Nothing here is on the publish path: live figures come from counters the node keeps
//! anyway, and a closing connection leaves its last snapshot in a bounded ring and adds
//! its traffic to its account's totals.

use std::collections::VecDeque;
use std::time::Duration;

use super::client::Client;
use super::{CloseReason, ConnId, Node};
use crate::sublist::SublistStats;
use crate::time::Instant;

/// One subscription, as `/connz?subs=detail` and `/subsz?subs=1` list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubInfo {
    pub account: String,
    pub subject: String,
    pub queue: Option<String>,
    pub sid: String,
    /// Messages delivered to it.
    pub msgs: u64,
    /// The auto-unsubscribe limit, if one was set.
    pub max: Option<u64>,
    pub cid: ConnId,
}

/// One client connection, open or recently closed.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnInfo {
    pub cid: ConnId,
    pub ip: String,
    pub port: u16,
    pub start: Instant,
    pub last_activity: Instant,
    /// When it closed, and why (closed connections only).
    pub stop: Option<Instant>,
    pub reason: Option<CloseReason>,
    /// The round trip measured by the first PING/PONG.
    pub rtt: Option<Duration>,
    /// Bytes queued or being written to it.
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// How many subscriptions it has (had, when closed).
    pub num_subs: usize,
    /// Its subscriptions, when asked for (always kept for closed connections).
    pub subs: Vec<SubInfo>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    pub account: String,
    /// The configured user it authenticated as.
    pub user: Option<String>,
    pub tls: bool,
}

/// One route, as `/routez` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteSnapshot {
    pub rid: ConnId,
    /// The server at the other end, once it said (empty before).
    pub remote_id: String,
    /// This server dialed it.
    pub did_solicit: bool,
    /// It is one of the configured routes (not learned through gossip).
    pub is_configured: bool,
    pub ip: String,
    pub port: u16,
    pub start: Instant,
    pub last_activity: Instant,
    pub rtt: Option<Duration>,
    pub pending_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    /// The subjects of the subscriptions the other server announced.
    pub subs: Vec<String>,
}

/// Traffic of an account's connections: live ones are summed on request, closed ones are
/// added here as they go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

/// One account's figures, for `/accountz` and `/accstatz`.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountInfo {
    pub name: String,
    /// Client connections open now.
    pub conns: usize,
    /// Messages and bytes received from the account's clients (`in`) and sent to them
    /// (`out`), since the server started.
    pub traffic: Traffic,
    pub slow_consumers: u64,
    pub sublist: SublistStats,
}

/// Recently closed connections, oldest first, at most `cap` of them.
#[derive(Debug, Default)]
pub(super) struct ClosedRing {
    conns: VecDeque<ConnInfo>,
    cap: usize,
}

impl ClosedRing {
    pub(super) fn new(cap: usize) -> ClosedRing {
        ClosedRing {
            conns: VecDeque::new(),
            cap,
        }
    }

    pub(super) fn push(&mut self, info: ConnInfo) {
        if self.cap == 0 {
            return;
        }
        if self.conns.len() >= self.cap {
            self.conns.pop_front();
        }
        self.conns.push_back(info);
    }
}

impl Node {
    /// Snapshots of the open connections, by cid; with their subscription lists if `subs`.
    pub fn connections(&self, subs: bool) -> Vec<ConnInfo> {
        let mut out: Vec<ConnInfo> = self
            .clients
            .values()
            .map(|c| self.conn_info(c, subs))
            .collect();
        out.sort_unstable_by_key(|c| c.cid);
        out
    }

    /// Snapshots of the open routes, by rid.
    pub fn routes(&self) -> Vec<RouteSnapshot> {
        let Some(cluster) = self.cluster.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<RouteSnapshot> = cluster
            .routes
            .values()
            .map(|r| RouteSnapshot {
                rid: r.id,
                remote_id: r.remote_id().unwrap_or_default().to_string(),
                did_solicit: r.dial.is_some(),
                is_configured: r.dial.is_some_and(|d| cluster.dials[d].explicit),
                ip: r.peer.ip().to_string(),
                port: r.peer.port(),
                start: r.start,
                last_activity: r.last_activity,
                rtt: r.rtt,
                pending_bytes: r.pending() as u64,
                in_msgs: r.in_msgs,
                out_msgs: r.out_msgs,
                in_bytes: r.in_bytes,
                out_bytes: r.out_bytes,
                subs: r
                    .subs
                    .iter()
                    .map(|(_, s)| String::from_utf8_lossy(&s.subject).into_owned())
                    .collect(),
            })
            .collect();
        out.sort_unstable_by_key(|r| r.rid);
        out
    }

    /// The port routes are accepted on, once listening.
    pub fn cluster_port(&self) -> Option<u16> {
        self.cluster
            .as_ref()
            .map(|c| c.listen_port)
            .filter(|&p| p != 0)
    }

    /// The cluster's name, when clustered.
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster.as_ref().map(|c| c.name.as_str())
    }

    /// The most recently closed connections (at most `max_closed_clients`), oldest first.
    pub fn closed_connections(&self) -> impl Iterator<Item = &ConnInfo> + '_ {
        self.closed.conns.iter()
    }

    /// Every subscription of every client, by account then cid, each client's in the
    /// order they were made (slots reused after an unsubscribe come first).
    pub fn subscriptions(&self) -> Vec<SubInfo> {
        let mut clients: Vec<&Client> = self.clients.values().collect();
        clients.sort_unstable_by_key(|c| (c.account, c.id));
        clients.iter().flat_map(|c| self.sub_infos(c)).collect()
    }

    /// The sublist figures of every account added together, as `/subsz` shows them; the
    /// server's own subscriptions are not counted.
    pub fn sublist_stats(&self) -> SublistStats {
        let mut total = SublistStats::default();
        for account in &self.accounts {
            total.merge(&account.sublist.stats());
            // Other servers' interest counts, as in the reference, whose sublists hold it.
            total.merge(&account.routed.stats());
        }
        total.num_subscriptions -= self.internal_subs().count() as u64;
        total
    }

    /// Every account's figures, the global account first, then the system account, then
    /// the configured ones.
    pub fn accounts_info(&self) -> Vec<AccountInfo> {
        let mut infos: Vec<AccountInfo> = self
            .accounts
            .iter()
            .map(|a| AccountInfo {
                name: a.name.clone(),
                conns: 0,
                traffic: a.departed,
                slow_consumers: a.slow_consumers,
                sublist: a.sublist.stats(),
            })
            .collect();
        for client in self.clients.values() {
            let info = &mut infos[client.account];
            info.conns += 1;
            info.traffic.in_msgs += client.in_msgs;
            info.traffic.in_bytes += client.in_bytes;
            info.traffic.out_msgs += client.out_msgs;
            info.traffic.out_bytes += client.out_bytes;
        }
        infos
    }

    /// Remembers a closing client: its snapshot goes into the closed ring, its traffic
    /// into its account's totals. Called before its subscriptions are removed.
    pub(super) fn record_closed(&mut self, client: &Client, reason: CloseReason) {
        let mut info = self.conn_info(client, true);
        info.stop = Some(self.now);
        info.reason = Some(reason);
        let account = &mut self.accounts[client.account];
        account.departed.in_msgs += client.in_msgs;
        account.departed.in_bytes += client.in_bytes;
        account.departed.out_msgs += client.out_msgs;
        account.departed.out_bytes += client.out_bytes;
        if matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        ) {
            account.slow_consumers += 1;
        }
        self.closed.push(info);
    }

    fn conn_info(&self, c: &Client, subs: bool) -> ConnInfo {
        let port = c
            .peer
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(0);
        ConnInfo {
            cid: c.id,
            ip: c.ip.clone(),
            port,
            start: c.start,
            last_activity: c.last_activity,
            stop: None,
            reason: None,
            rtt: c.rtt.or(c.connect_rtt),
            pending_bytes: c.pending() as u64,
            in_msgs: c.in_msgs,
            out_msgs: c.out_msgs,
            in_bytes: c.in_bytes,
            out_bytes: c.out_bytes,
            num_subs: c.sub_count(),
            subs: if subs { self.sub_infos(c) } else { Vec::new() },
            name: c.opts.name.clone().filter(|s| !s.is_empty()),
            lang: c.opts.lang.clone().filter(|s| !s.is_empty()),
            version: c.opts.version.clone().filter(|s| !s.is_empty()),
            account: self.accounts[c.account].name.clone(),
            user: c.user.map(|u| self.opts.auth.users[u].name.clone()),
            tls: self.opts.tls.is_some(),
        }
    }

    fn sub_infos(&self, c: &Client) -> Vec<SubInfo> {
        let account = &self.accounts[c.account].name;
        c.subs()
            .map(|s| SubInfo {
                account: account.clone(),
                subject: String::from_utf8_lossy(&s.subject).into_owned(),
                queue: s
                    .queue
                    .as_ref()
                    .map(|q| String::from_utf8_lossy(q).into_owned()),
                sid: String::from_utf8_lossy(&s.sid).into_owned(),
                msgs: s.delivered,
                max: s.max,
                cid: c.id,
            })
            .collect()
    }
}
