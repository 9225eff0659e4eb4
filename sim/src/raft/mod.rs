//! A Raft cluster on madsim: one `rnats_core::raft::Raft` per host, messages over madsim
//! endpoints (datagrams: loss, delay, reordering, duplication), a write-ahead journal on the
//! host's simulated [`Disk`] (unsynced writes are lost on crash, see [`journal`]), per-host
//! clock skew and drift, a replicated key-value state machine ([`kv`]) that compacts the log
//! into snapshots as it goes, clients that record a history for a linearizability check
//! ([`client`]), and an [`Observer`] that checks the Raft safety properties as the run goes
//! and at its end.

pub mod client;
pub mod journal;
pub mod kv;
pub mod observer;

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use madsim::net::Endpoint;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, NodeHandle};
use rnats_core::raft::codec;
use rnats_core::raft::{ConfChange, Config, EntryKind, NodeId, Output, ProposeError, Raft};
use rnats_core::time::Instant as CoreInstant;

use crate::disk::Disk;
use journal::JOURNAL;
use kv::{Kv, Redirect, Reply, Request};
pub use observer::Observer;

/// The port every Raft host listens on.
pub const PORT: u16 = 7000;
const TAG_RAFT: u64 = 1;
/// A client request ([`kv::Request`]) for the member to propose.
const TAG_PROPOSE: u64 = 2;
/// The answer to a client ([`kv::Reply`]).
const TAG_REPLY: u64 = 3;
/// "Not the leader" to a client ([`kv::Redirect`]).
const TAG_REDIRECT: u64 = 5;
/// An operator's command ([`Admin`]) for the member, if it leads.
const TAG_ADMIN: u64 = 4;

/// The address of Raft member `id` (1-based).
pub fn addr_of(id: NodeId) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, id as u8)), PORT)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per-host clock: node time = (sim time since `epoch`) * (1000 + drift_permille) / 1000 +
/// offset.
#[derive(Clone, Copy, Debug)]
pub struct Skew {
    pub offset: Duration,
    pub drift_permille: i64,
}

impl Skew {
    fn now(&self, epoch: madsim::time::Instant) -> CoreInstant {
        let el = madsim::time::Instant::now()
            .saturating_duration_since(epoch)
            .as_nanos() as i128;
        let scaled = el * (1000 + self.drift_permille as i128) / 1000;
        CoreInstant::from_nanos((scaled as u64).saturating_add(self.offset.as_nanos() as u64))
    }

    /// The sim duration until node time `t`.
    fn until(&self, epoch: madsim::time::Instant, t: CoreInstant) -> Duration {
        let d = t.saturating_since(self.now(epoch)).as_nanos() as i128;
        Duration::from_nanos((d * 1000 / (1000 + self.drift_permille as i128)) as u64 + 1)
    }
}

/// One Raft host.
#[derive(Clone)]
pub struct RaftHost {
    pub id: NodeId,
    pub node: NodeHandle,
    pub disk: Disk,
}

/// How the hosts run.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Hosts `1..=hosts` run a member each.
    pub hosts: u64,
    /// Hosts `1..=voters` start as the group's voters; the others start with no
    /// configuration and wait to be added.
    pub voters: u64,
    /// Probability that a sent message is sent twice.
    pub duplicate: f64,
    /// Longest delay before a write is synced (each is drawn from `0..=max_sync`).
    pub max_sync: Duration,
    /// A member compacts its log once this many entries are applied past its snapshot.
    pub compact_every: u64,
    /// `Config::check_quorum` (without it a deposed leader keeps believing it leads until
    /// it hears of a newer term, which is what ReadIndex must not be fooled by).
    pub check_quorum: bool,
}

/// An operator's command to a member, carried out if it leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admin {
    Change(ConfChange),
    Transfer(NodeId),
}

impl Admin {
    fn encode(&self) -> String {
        match self {
            Admin::Change(ConfChange::AddLearner(id)) => format!("learner:{id}"),
            Admin::Change(ConfChange::AddVoter(id)) => format!("voter:{id}"),
            Admin::Change(ConfChange::Remove(id)) => format!("remove:{id}"),
            Admin::Transfer(id) => format!("transfer:{id}"),
        }
    }

    fn decode(data: &[u8]) -> Option<Admin> {
        let (what, id) = std::str::from_utf8(data).ok()?.split_once(':')?;
        let id = id.parse().ok()?;
        Some(match what {
            "learner" => Admin::Change(ConfChange::AddLearner(id)),
            "voter" => Admin::Change(ConfChange::AddVoter(id)),
            "remove" => Admin::Change(ConfChange::Remove(id)),
            "transfer" => Admin::Transfer(id),
            _ => return None,
        })
    }

    /// Sends the command to member `to` from `ep` (best effort).
    pub async fn send(&self, ep: &Endpoint, to: NodeId) {
        let _ = ep
            .send_to(addr_of(to), TAG_ADMIN, self.encode().as_bytes())
            .await;
    }
}

/// Starts members `1..=cfg.hosts`.
pub fn start(cfg: &ClusterConfig, obs: &Observer) -> Vec<RaftHost> {
    let epoch = madsim::time::Instant::now();
    (1..=cfg.hosts)
        .map(|id| {
            let disk = Disk::new();
            let skew = Skew {
                offset: Duration::from_millis(thread_rng().gen_range(0..100_000)),
                drift_permille: thread_rng().gen_range(-20..=20),
            };
            let (d, o, c) = (disk.clone(), obs.clone(), cfg.clone());
            let node = Handle::current()
                .create_node()
                .name(format!("raft{id}"))
                .ip(addr_of(id).ip())
                .init(move || run_member(id, d.clone(), o.clone(), c.clone(), skew, epoch))
                .build();
            RaftHost { id, node, disk }
        })
        .collect()
}

/// Kills a host, drops its unsynced writes, and restarts it after `down`.
pub async fn crash(host: &RaftHost, obs: &Observer, down: Duration) {
    Handle::current().kill(host.node.id());
    obs.state().live.remove(&host.id);
    host.disk.crash(&mut thread_rng());
    madsim::time::sleep(down).await;
    Handle::current().restart(host.node.id());
}

/// The member's state machine and what it owes clients.
struct Machine {
    kv: Kv,
    applied: u64,
    /// This member's own proposals: index -> (client, term, request bytes).
    proposed: BTreeMap<u64, (SocketAddr, u64, Bytes)>,
    /// Gets served by ReadIndex rather than the log: ctx -> (client, request).
    reads: BTreeMap<u64, (SocketAddr, Request)>,
    next_read: u64,
}

async fn run_member(
    id: NodeId,
    disk: Disk,
    obs: Observer,
    ccfg: ClusterConfig,
    skew: Skew,
    epoch: madsim::time::Instant,
) {
    let ep = Arc::new(Endpoint::bind(addr_of(id)).await.expect("bind"));
    let rec = journal::recover(&disk);
    let mut journal_end = rec.end;
    let initial = if id <= ccfg.voters {
        (1..=ccfg.voters).collect()
    } else {
        Vec::new()
    };
    let mut cfg = Config::new(id, initial);
    cfg.max_batch_entries = 16;
    cfg.max_inflight = 4;
    cfg.check_quorum = ccfg.check_quorum;
    let mut m = Machine {
        kv: Kv::default(),
        applied: 0,
        proposed: BTreeMap::new(),
        reads: BTreeMap::new(),
        next_read: 0,
    };
    obs.state().next_apply.insert(id, 1);
    if let Some(s) = &rec.snapshot {
        m.kv = Kv::restore(&s.data).expect("own snapshot");
        m.applied = s.index;
        obs.restored(id, s.index, m.kv.digest(), false);
    }
    let now = skew.now(epoch);
    let raft = Arc::new(Mutex::new(Raft::restore(
        cfg,
        thread_rng().gen(),
        now,
        rec.hard_state,
        rec.snapshot,
        rec.entries,
    )));
    obs.state().live.insert(id, raft.clone());
    obs.saw_entries(lock(&raft).log().slice(1, u64::MAX));

    // Incoming datagrams into one queue (the receive futures are not cancel-safe).
    let inbox: Arc<Mutex<VecDeque<(u64, SocketAddr, Bytes)>>> = Arc::default();
    let wake = Arc::new(tokio::sync::Notify::new());
    for tag in [TAG_RAFT, TAG_PROPOSE, TAG_ADMIN] {
        let (ep, inbox, wake) = (ep.clone(), inbox.clone(), wake.clone());
        madsim::task::spawn(async move {
            loop {
                let Ok((data, from)) = ep.recv_from_raw(tag).await else {
                    return;
                };
                let Ok(data) = data.downcast::<Vec<u8>>() else {
                    continue;
                };
                lock(&inbox).push_back((tag, from, Bytes::from(*data)));
                wake.notify_one();
            }
        });
    }

    // Writes handed to the disk, waiting for their sync: (due, seq).
    let mut syncing: VecDeque<(madsim::time::Instant, u64)> = VecDeque::new();
    loop {
        // Carry out the outputs.
        loop {
            let out = lock(&raft).poll_output();
            let Some(out) = out else { break };
            match out {
                Output::Send { to, msg } => {
                    let bytes = codec::encode_message(&msg);
                    let copies = if thread_rng().gen_bool(ccfg.duplicate) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        let _ = ep.send_to(addr_of(to), TAG_RAFT, &bytes).await;
                    }
                }
                Output::Persist {
                    seq,
                    hard_state,
                    snapshot,
                    entries,
                } => {
                    obs.saw_entries(&entries);
                    let rec = journal::record(hard_state, snapshot.as_ref(), &entries);
                    disk.write(JOURNAL, journal_end, &rec);
                    journal_end += rec.len() as u64;
                    let ms = thread_rng().gen_range(0..=ccfg.max_sync.as_millis() as u64);
                    let due = madsim::time::Instant::now() + Duration::from_millis(ms);
                    let due = syncing.back().map_or(due, |(d, _)| due.max(*d));
                    syncing.push_back((due, seq));
                }
                Output::ReadReady { ctx, index } => {
                    if let Some((client, req)) = m.reads.remove(&ctx) {
                        let reply = Reply {
                            id: req.id,
                            index,
                            value: m.kv.apply(&req),
                        };
                        let _ = ep.send_to(client, TAG_REPLY, &reply.encode()).await;
                    }
                }
                Output::Restore(s) => {
                    m.kv = Kv::restore(&s.data).expect("a leader's snapshot");
                    m.applied = s.index;
                    obs.restored(id, s.index, m.kv.digest(), true);
                }
                Output::Apply(entries) => {
                    let term = lock(&raft).term();
                    for e in &entries {
                        let request = (e.kind == EntryKind::Normal)
                            .then(|| Request::decode(&e.data))
                            .flatten();
                        let value = request.as_ref().and_then(|r| m.kv.apply(r));
                        m.applied = e.index;
                        obs.applied(id, term, e, m.kv.digest());
                        let Some((client, t, data)) = m.proposed.remove(&e.index) else {
                            continue;
                        };
                        if let Some(req) = request.filter(|_| t == e.term && data == e.data) {
                            obs.state().acked.insert(data, (e.index, e.term));
                            let reply = Reply {
                                id: req.id,
                                index: e.index,
                                value,
                            };
                            let _ = ep.send_to(client, TAG_REPLY, &reply.encode()).await;
                        }
                    }
                    let mut r = lock(&raft);
                    if m.applied >= r.log().first_index() - 1 + ccfg.compact_every {
                        let now = skew.now(epoch);
                        r.compact(now, m.applied, m.kv.snapshot())
                            .expect("applied and in the log");
                    }
                }
            }
        }
        obs.saw_role(&lock(&raft));

        // Wait for a message, a sync, or the core's timer.
        let timer = {
            let r = lock(&raft);
            skew.until(epoch, r.poll_timeout())
        };
        let sync_in = syncing
            .front()
            .map(|(due, _)| due.saturating_duration_since(madsim::time::Instant::now()));
        let wait = sync_in.map_or(timer, |s| s.min(timer));
        let empty = lock(&inbox).is_empty();
        if empty {
            let _ = madsim::time::timeout(wait, wake.notified()).await;
        }

        let now = skew.now(epoch);
        let mut last_synced = None;
        while syncing
            .front()
            .is_some_and(|(due, _)| *due <= madsim::time::Instant::now())
        {
            last_synced = syncing.pop_front().map(|(_, s)| s);
        }
        if let Some(seq) = last_synced {
            disk.sync(JOURNAL);
            lock(&raft).persisted(now, seq);
        }
        let msgs: Vec<_> = lock(&inbox).drain(..).collect();
        // Sent once the member is unlocked (never hold it across an await).
        let mut redirects = Vec::new();
        for (tag, from, data) in msgs {
            let mut r = lock(&raft);
            match tag {
                TAG_PROPOSE => {
                    let Some(req) = Request::decode(&data) else {
                        obs.state().decode_errors += 1;
                        continue;
                    };
                    let by_read_index =
                        matches!(req.op, kv::Op::Get { .. }) && thread_rng().gen_bool(0.5);
                    let taken = if by_read_index {
                        m.next_read += 1;
                        r.read_index(now, m.next_read)
                            .map(|()| m.reads.insert(m.next_read, (from, req.clone())))
                            .map(|_| ())
                    } else {
                        r.propose(now, data.clone())
                            .map(|p| m.proposed.insert(p.index, (from, p.term, data)))
                            .map(|_| ())
                    };
                    if let Err(e) = taken {
                        let leader = match e {
                            ProposeError::NotLeader { leader } => leader,
                            _ => None,
                        };
                        redirects.push((from, Redirect { id: req.id, leader }));
                    }
                }
                TAG_ADMIN => match Admin::decode(&data) {
                    Some(Admin::Change(c)) => {
                        let _ = r.propose_conf_change(now, c);
                    }
                    Some(Admin::Transfer(to)) => {
                        let _ = r.transfer_leader(now, to);
                    }
                    None => obs.state().decode_errors += 1,
                },
                _ => match codec::decode_message(&data) {
                    Ok(msg) => {
                        let IpAddr::V4(ip) = from.ip() else { continue };
                        r.step(now, ip.octets()[3] as NodeId, msg);
                    }
                    Err(_) => obs.state().decode_errors += 1,
                },
            }
        }
        for (to, redirect) in redirects {
            let _ = ep.send_to(to, TAG_REDIRECT, &redirect.encode()).await;
        }
        let mut r = lock(&raft);
        if r.poll_timeout() <= now {
            r.tick(now);
        }
    }
}
