//! A Raft cluster on madsim: one `rnats_core::raft::Raft` per host, messages over madsim
//! endpoints (datagrams: loss, delay, reordering, duplication), a write-ahead journal on the
//! host's simulated [`Disk`] (unsynced writes are lost on crash), per-host clock skew and
//! drift, and an [`Observer`] that checks the Raft safety properties as the run goes and at
//! its end.
//!
//! The journal is a sequence of records `len u32 | fnv64 u64 | payload`; a payload is one
//! `Output::Persist`: a hard state (or none), a snapshot (or none: it replaces the whole
//! log) and entries, which replace the log from their first index on. Recovery replays
//! records up to the first torn or corrupt one and writes on from there. (The journal is
//! never rewritten: a simulated run is short.)

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use madsim::net::Endpoint;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::{Handle, NodeHandle};
use rnats_core::raft::codec;
use rnats_core::raft::{Config, Entry, EntryKind, HardState, NodeId, Output, Raft, Role, Snapshot};
use rnats_core::time::Instant as CoreInstant;

use crate::disk::Disk;

/// The port every Raft host listens on.
pub const PORT: u16 = 7000;
const TAG_RAFT: u64 = 1;
const TAG_PROPOSE: u64 = 2;
const JOURNAL: &str = "raft.journal";

/// The address of Raft member `id` (1-based).
pub fn addr_of(id: NodeId) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, id as u8)), PORT)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn put_opt(p: &mut BytesMut, b: Option<Bytes>) {
    match b {
        Some(b) => {
            p.put_u8(1);
            p.put_u32_le(b.len() as u32);
            p.put_slice(&b);
        }
        None => p.put_u8(0),
    }
}

/// Encodes one journal record.
fn journal_record(
    hs: Option<HardState>,
    snapshot: Option<&Snapshot>,
    entries: &[Entry],
) -> Vec<u8> {
    let mut p = BytesMut::new();
    put_opt(&mut p, hs.map(|hs| codec::encode_hard_state(&hs)));
    put_opt(&mut p, snapshot.map(codec::encode_snapshot));
    p.put_u32_le(entries.len() as u32);
    for e in entries {
        let b = codec::encode_entry(e);
        p.put_u32_le(b.len() as u32);
        p.put_slice(&b);
    }
    let mut r = Vec::with_capacity(p.len() + 12);
    r.extend_from_slice(&(p.len() as u32).to_le_bytes());
    r.extend_from_slice(&fnv64(&p).to_le_bytes());
    r.extend_from_slice(&p);
    r
}

/// What a journal holds: the hard state, the snapshot, the log after it, and where the
/// valid records end.
pub struct Recovered {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
    pub end: u64,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if b.len() < n {
        return None;
    }
    let (h, t) = b.split_at(n);
    *b = t;
    Some(h)
}

fn take_u32(b: &mut &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?))
}

/// Replays the journal on `disk`.
pub fn recover(disk: &Disk) -> Recovered {
    let mut out = Recovered {
        hard_state: HardState::default(),
        snapshot: None,
        entries: Vec::new(),
        end: 0,
    };
    let len = disk.len(JOURNAL).unwrap_or(0);
    let data = disk.read(JOURNAL, 0, len as usize).unwrap_or_default();
    let mut rest: &[u8] = &data;
    loop {
        let mut b = rest;
        let Some(plen) = take_u32(&mut b) else { break };
        let Some(sum) = take(&mut b, 8) else { break };
        let Some(payload) = take(&mut b, plen as usize) else {
            break;
        };
        if fnv64(payload).to_le_bytes() != sum {
            break;
        }
        let Some((hs, snapshot, entries)) = parse_payload(payload) else {
            break;
        };
        if let Some(s) = snapshot {
            out.snapshot = Some(s);
            out.entries.clear();
        }
        if let Some(first) = entries.first() {
            let offset = out.snapshot.as_ref().map_or(0, |s| s.index);
            if first.index <= offset || first.index > offset + out.entries.len() as u64 + 1 {
                break;
            }
            out.entries.truncate((first.index - offset - 1) as usize);
            out.entries.extend(entries);
        }
        if let Some(hs) = hs {
            out.hard_state = hs;
        }
        out.end += (12 + plen) as u64;
        rest = b;
    }
    out
}

/// One optional item written by `put_opt`: `Some(None)` when absent, `None` when broken.
fn take_opt(b: &mut &[u8]) -> Option<Option<Bytes>> {
    match take(b, 1)?[0] {
        0 => Some(None),
        1 => {
            let n = take_u32(b)? as usize;
            Some(Some(Bytes::copy_from_slice(take(b, n)?)))
        }
        _ => None,
    }
}

type Payload = (Option<HardState>, Option<Snapshot>, Vec<Entry>);

fn parse_payload(mut b: &[u8]) -> Option<Payload> {
    let hs = match take_opt(&mut b)? {
        Some(hs) => Some(codec::decode_hard_state(&hs).ok()?),
        None => None,
    };
    let snapshot = match take_opt(&mut b)? {
        Some(s) => Some(codec::decode_snapshot(&s).ok()?),
        None => None,
    };
    let count = take_u32(&mut b)?;
    let mut entries: Vec<Entry> = Vec::new();
    for _ in 0..count {
        let n = take_u32(&mut b)? as usize;
        let e = codec::decode_entry(&Bytes::copy_from_slice(take(&mut b, n)?)).ok()?;
        if let Some(prev) = entries.last() {
            if e.index != prev.index + 1 {
                return None;
            }
        }
        entries.push(e);
    }
    Some((hs, snapshot, entries))
}

/// The safety record of one run, shared by every host (it survives crashes: it is the
/// test's, not a node's).
#[derive(Default)]
pub struct ObserverState {
    /// term -> leader (election safety).
    pub leaders: BTreeMap<u64, NodeId>,
    /// term -> the leader's log (index -> term) when it won, for leader completeness.
    pub leader_logs: BTreeMap<u64, Vec<u64>>,
    /// index -> (term, data, the applier's term when first applied).
    pub applied: BTreeMap<u64, (u64, Bytes, u64)>,
    /// Proposals reported committed to the client: value -> (index, term).
    pub acked: BTreeMap<Bytes, (u64, u64)>,
    /// (index, term) -> data of every entry seen in any log (log matching on content).
    pub content: BTreeMap<(u64, u64), Bytes>,
    /// Per member: every entry applied since its last restart, checked to be 1, 2, 3...
    pub next_apply: BTreeMap<NodeId, u64>,
    pub violations: Vec<String>,
    /// Members that are up, and their current `Raft` (for the final checks).
    pub live: BTreeMap<NodeId, Arc<Mutex<Raft>>>,
    pub decode_errors: u64,
    pub elections: u64,
}

/// Shared handle on the [`ObserverState`].
#[derive(Clone, Default)]
pub struct Observer(pub Arc<Mutex<ObserverState>>);

impl Observer {
    pub fn state(&self) -> MutexGuard<'_, ObserverState> {
        lock(&self.0)
    }

    /// The leader of the highest term seen.
    pub fn current_leader(&self) -> Option<NodeId> {
        self.state().leaders.values().next_back().copied()
    }

    fn saw_role(&self, r: &Raft) {
        if r.role() != Role::Leader {
            return;
        }
        let mut s = self.state();
        match s.leaders.get(&r.term()) {
            Some(&other) if other != r.id() => {
                let v = format!(
                    "election safety: term {} has leaders {other} and {}",
                    r.term(),
                    r.id()
                );
                if !s.violations.contains(&v) {
                    s.violations.push(v);
                }
            }
            Some(_) => {}
            None => {
                s.elections += 1;
                s.leaders.insert(r.term(), r.id());
                let log = r.log();
                let terms = (1..=log.last_index())
                    .map(|i| log.term(i).unwrap_or(0))
                    .collect();
                s.leader_logs.insert(r.term(), terms);
            }
        }
    }

    fn saw_entries(&self, entries: &[Entry]) {
        let mut s = self.state();
        for e in entries {
            match s.content.get(&(e.index, e.term)) {
                Some(d) if *d != e.data => {
                    let v = format!(
                        "log matching: two entries at index {} term {}",
                        e.index, e.term
                    );
                    s.violations.push(v);
                }
                Some(_) => {}
                None => {
                    s.content.insert((e.index, e.term), e.data.clone());
                }
            }
        }
    }

    fn applied(&self, id: NodeId, term_now: u64, e: &Entry) {
        let mut s = self.state();
        let next = s.next_apply.insert(id, e.index + 1).unwrap_or(1);
        if e.index != next {
            let v = format!("member {id} applied index {} expecting {next}", e.index);
            s.violations.push(v);
        }
        match s.applied.get(&e.index) {
            Some((t, d, _)) if *t != e.term || *d != e.data => {
                let v = format!(
                    "state machine safety: index {} applied as term {t} and as term {} (member {id})",
                    e.index, e.term
                );
                s.violations.push(v);
            }
            Some(_) => {}
            None => {
                s.applied
                    .insert(e.index, (e.term, e.data.clone(), term_now));
            }
        }
    }

    /// The checks that need the whole run: leader completeness, no acknowledged proposal
    /// lost, and log matching over the final logs of every live member.
    pub fn final_checks(&self) -> Vec<String> {
        let s = self.state();
        let mut v = s.violations.clone();
        for (index, (term, _, commit_term)) in &s.applied {
            for (lt, log) in s.leader_logs.range(commit_term + 1..) {
                if log.get(*index as usize - 1) != Some(term) {
                    v.push(format!(
                        "leader completeness: entry {index} (term {term}, committed by term {commit_term}) missing from the log of the term {lt} leader"
                    ));
                }
            }
        }
        for (value, (index, term)) in &s.acked {
            match s.applied.get(index) {
                Some((t, d, _)) if t == term && d == value => {}
                _ => v.push(format!(
                    "acknowledged proposal {:?} at {index}/{term} lost",
                    String::from_utf8_lossy(value)
                )),
            }
        }
        let logs: Vec<(NodeId, Vec<Entry>)> = s
            .live
            .iter()
            .map(|(id, r)| {
                let r = lock(r);
                let l = r.log();
                (*id, l.slice(1, l.last_index()).to_vec())
            })
            .collect();
        for (i, (a, la)) in logs.iter().enumerate() {
            for (b, lb) in &logs[i + 1..] {
                let n = la.len().min(lb.len());
                if let Some(top) = (0..n).rev().find(|&k| la[k].term == lb[k].term) {
                    if la[..=top] != lb[..=top] {
                        v.push(format!(
                            "log matching: members {a} and {b} agree at index {} but differ below",
                            top + 1
                        ));
                    }
                }
            }
        }
        v
    }
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
    pub members: u64,
    /// Probability that a sent message is sent twice.
    pub duplicate: f64,
    /// Longest delay before a write is synced (each is drawn from `0..=max_sync`).
    pub max_sync: Duration,
}

/// Starts members `1..=cfg.members`.
pub fn start(cfg: &ClusterConfig, obs: &Observer) -> Vec<RaftHost> {
    let epoch = madsim::time::Instant::now();
    let voters: Vec<NodeId> = (1..=cfg.members).collect();
    (1..=cfg.members)
        .map(|id| {
            let disk = Disk::new();
            let skew = Skew {
                offset: Duration::from_millis(thread_rng().gen_range(0..100_000)),
                drift_permille: thread_rng().gen_range(-20..=20),
            };
            let (d, o, v, c) = (disk.clone(), obs.clone(), voters.clone(), cfg.clone());
            let node = Handle::current()
                .create_node()
                .name(format!("raft{id}"))
                .ip(addr_of(id).ip())
                .init(move || {
                    run_member(id, v.clone(), d.clone(), o.clone(), c.clone(), skew, epoch)
                })
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

async fn run_member(
    id: NodeId,
    voters: Vec<NodeId>,
    disk: Disk,
    obs: Observer,
    ccfg: ClusterConfig,
    skew: Skew,
    epoch: madsim::time::Instant,
) {
    let ep = Arc::new(Endpoint::bind(addr_of(id)).await.expect("bind"));
    let rec = recover(&disk);
    let mut journal_end = rec.end;
    let mut cfg = Config::new(id, voters);
    cfg.max_batch_entries = 16;
    cfg.max_inflight = 4;
    let now = skew.now(epoch);
    let first_apply = rec.snapshot.as_ref().map_or(1, |s| s.index + 1);
    let raft = Arc::new(Mutex::new(Raft::restore(
        cfg,
        thread_rng().gen(),
        now,
        rec.hard_state,
        rec.snapshot,
        rec.entries,
    )));
    obs.state().next_apply.insert(id, first_apply);
    obs.state().live.insert(id, raft.clone());
    obs.saw_entries(lock(&raft).log().slice(1, u64::MAX));

    // Incoming datagrams into one queue (the receive futures are not cancel-safe).
    let inbox: Arc<Mutex<VecDeque<(u64, NodeId, Bytes)>>> = Arc::default();
    let wake = Arc::new(tokio::sync::Notify::new());
    for tag in [TAG_RAFT, TAG_PROPOSE] {
        let (ep, inbox, wake) = (ep.clone(), inbox.clone(), wake.clone());
        madsim::task::spawn(async move {
            loop {
                let Ok((data, from)) = ep.recv_from_raw(tag).await else {
                    return;
                };
                let Ok(data) = data.downcast::<Vec<u8>>() else {
                    continue;
                };
                let IpAddr::V4(ip) = from.ip() else { continue };
                let from = ip.octets()[3] as NodeId;
                lock(&inbox).push_back((tag, from, Bytes::from(*data)));
                wake.notify_one();
            }
        });
    }

    // Writes handed to the disk, waiting for their sync: (due, seq).
    let mut syncing: VecDeque<(madsim::time::Instant, u64)> = VecDeque::new();
    // This member's own proposals: index -> (term, value).
    let mut proposed: BTreeMap<u64, (u64, Bytes)> = BTreeMap::new();
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
                    let rec = journal_record(hard_state, snapshot.as_ref(), &entries);
                    disk.write(JOURNAL, journal_end, &rec);
                    journal_end += rec.len() as u64;
                    let ms = thread_rng().gen_range(0..=ccfg.max_sync.as_millis() as u64);
                    let due = madsim::time::Instant::now() + Duration::from_millis(ms);
                    let due = syncing.back().map_or(due, |(d, _)| due.max(*d));
                    syncing.push_back((due, seq));
                }
                Output::Restore(s) => {
                    obs.state().next_apply.insert(id, s.index + 1);
                }
                Output::Apply(entries) => {
                    let term = lock(&raft).term();
                    for e in &entries {
                        obs.applied(id, term, e);
                        if let Some((t, value)) = proposed.remove(&e.index) {
                            if t == e.term && e.kind == EntryKind::Normal && e.data == value {
                                obs.state().acked.insert(value, (e.index, e.term));
                            }
                        }
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
        for (tag, from, data) in msgs {
            if tag == TAG_PROPOSE {
                let mut r = lock(&raft);
                if let Ok(p) = r.propose(now, data.clone()) {
                    proposed.insert(p.index, (p.term, data));
                }
                continue;
            }
            match codec::decode_message(&data) {
                Ok(msg) => lock(&raft).step(now, from, msg),
                Err(_) => obs.state().decode_errors += 1,
            }
        }
        let mut r = lock(&raft);
        if r.poll_timeout() <= now {
            r.tick(now);
        }
    }
}

/// A client that sends proposals: to the observer's current leader mostly, to a random
/// member otherwise. Values are `<prefix><n>`.
pub async fn propose_to(ep: &Endpoint, obs: &Observer, members: u64, value: Bytes) {
    let to = match obs.current_leader() {
        Some(l) if thread_rng().gen_bool(0.8) => l,
        _ => thread_rng().gen_range(1..=members),
    };
    let _ = ep.send_to(addr_of(to), TAG_PROPOSE, &value).await;
}

/// The client host's address.
pub fn client_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1)), 7001)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnats_core::raft::Membership;

    fn e(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            kind: EntryKind::Normal,
            data: Bytes::from(format!("{index}/{term}")),
        }
    }

    #[test]
    fn journal_replays_truncations_and_stops_at_a_torn_record() {
        let disk = Disk::new();
        let hs = HardState {
            term: 2,
            vote: Some(1),
        };
        let mut off = 0;
        for rec in [
            journal_record(Some(hs), None, &[e(1, 1), e(2, 1), e(3, 1)]),
            journal_record(None, None, &[e(2, 2)]),
        ] {
            disk.write(JOURNAL, off, &rec);
            off += rec.len() as u64;
        }
        let torn = journal_record(None, None, &[e(3, 2)]);
        disk.write(JOURNAL, off, &torn[..torn.len() - 3]);
        let r = recover(&disk);
        assert_eq!(r.hard_state, hs);
        assert_eq!(r.entries, vec![e(1, 1), e(2, 2)]);
        assert_eq!(r.end, off);
    }

    #[test]
    fn journal_snapshot_replaces_the_log_and_later_entries_follow_it() {
        let disk = Disk::new();
        let snap = Snapshot {
            index: 5,
            term: 2,
            membership: Membership::with_voters([1, 2, 3]),
            data: Bytes::from_static(b"state"),
        };
        let mut off = 0;
        for rec in [
            journal_record(None, None, &[e(1, 1), e(2, 1), e(3, 1)]),
            journal_record(None, Some(&snap), &[e(6, 2)]),
            journal_record(None, None, &[e(7, 3)]),
            // A gap after the snapshot: not a record a member writes, replay stops.
            journal_record(None, None, &[e(9, 3)]),
        ] {
            disk.write(JOURNAL, off, &rec);
            off += rec.len() as u64;
        }
        let r = recover(&disk);
        assert_eq!(r.snapshot, Some(snap));
        assert_eq!(r.entries, vec![e(6, 2), e(7, 3)]);
    }
}
