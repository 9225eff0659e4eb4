//! Unit tests in the quinn-proto style: members wired over an in-memory network with a
//! hand-driven clock and a hand-driven disk. Every message goes through the codec.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use super::codec::{decode_entry, decode_message, encode_entry, encode_message};
use super::*;
use crate::time::Instant;

struct Disk {
    hs: HardState,
    snapshot: Option<Snapshot>,
    /// The entries after the snapshot.
    log: Vec<Entry>,
}

/// One `Output::Persist`: seq, hard state, snapshot, entries.
type Write = (u64, Option<HardState>, Option<Snapshot>, Vec<Entry>);

/// The test state machine is the list of entries applied; its snapshot encodes them.
fn snapshot_data(applied: &[Entry]) -> Bytes {
    let mut out = Vec::new();
    for e in applied {
        let b = encode_entry(e);
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(&b);
    }
    Bytes::from(out)
}

fn entries_of_snapshot(data: &Bytes) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push(decode_entry(&data.slice(at + 4..at + 4 + n)).expect("snapshot entry"));
        at += 4 + n;
    }
    out
}

struct Net {
    nodes: BTreeMap<NodeId, Raft>,
    now: Instant,
    queue: VecDeque<(NodeId, NodeId, Bytes)>,
    disks: BTreeMap<NodeId, Disk>,
    /// Writes issued but not yet made durable, per node (when `auto_persist` is off).
    unsynced: BTreeMap<NodeId, Vec<Write>>,
    auto_persist: bool,
    cut: BTreeSet<(NodeId, NodeId)>,
    applied: BTreeMap<NodeId, Vec<Entry>>,
    sent: usize,
    /// Snapshots installed from a leader.
    restores: usize,
    /// Each member's initial voters (for restarts).
    initial: BTreeMap<NodeId, Vec<NodeId>>,
    /// `Output::ReadReady`s: member, ctx, index.
    ready_reads: Vec<(NodeId, u64, u64)>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Net {
    fn new(n: u64) -> Net {
        let voters: Vec<NodeId> = (1..=n).collect();
        let mut net = Net {
            nodes: BTreeMap::new(),
            now: Instant::ZERO,
            queue: VecDeque::new(),
            disks: BTreeMap::new(),
            unsynced: BTreeMap::new(),
            auto_persist: true,
            cut: BTreeSet::new(),
            applied: BTreeMap::new(),
            sent: 0,
            restores: 0,
            initial: BTreeMap::new(),
            ready_reads: Vec::new(),
        };
        for id in 1..=n {
            net.start(id, voters.clone());
        }
        net
    }

    /// Starts member `id` with an empty log and these initial voters (none: it joins the
    /// running group and waits to be added).
    fn start(&mut self, id: NodeId, voters: Vec<NodeId>) {
        self.initial.insert(id, voters.clone());
        let cfg = Config::new(id, voters);
        self.nodes.insert(id, Raft::new(cfg, id * 7919, self.now));
        self.disks.insert(
            id,
            Disk {
                hs: HardState::default(),
                snapshot: None,
                log: Vec::new(),
            },
        );
    }

    fn raft(&self, id: NodeId) -> &Raft {
        &self.nodes[&id]
    }

    fn write(&mut self, id: NodeId, w: Write) {
        let (_, hs, snapshot, entries) = w;
        let d = self.disks.get_mut(&id).unwrap();
        if let Some(hs) = hs {
            d.hs = hs;
        }
        if let Some(s) = snapshot {
            d.snapshot = Some(s);
            d.log.clear();
        }
        if let Some(first) = entries.first() {
            let offset = d.snapshot.as_ref().map_or(0, |s| s.index);
            d.log.truncate((first.index - offset - 1) as usize);
            d.log.extend(entries);
        }
    }

    fn drain(&mut self, id: NodeId) {
        loop {
            let Some(out) = self.nodes.get_mut(&id).unwrap().poll_output() else {
                return;
            };
            match out {
                Output::Send { to, msg } => {
                    self.sent += 1;
                    if !self.cut.contains(&(id, to)) {
                        self.queue.push_back((id, to, encode_message(&msg)));
                    }
                }
                Output::Persist {
                    seq,
                    hard_state,
                    snapshot,
                    entries,
                } => {
                    let w = (seq, hard_state, snapshot, entries);
                    if self.auto_persist {
                        self.write(id, w);
                        let now = self.now;
                        self.nodes.get_mut(&id).unwrap().persisted(now, seq);
                    } else {
                        self.unsynced.entry(id).or_default().push(w);
                    }
                }
                Output::Restore(s) => {
                    self.restores += 1;
                    self.applied.insert(id, entries_of_snapshot(&s.data));
                }
                Output::Apply(es) => self.applied.entry(id).or_default().extend(es),
                Output::ReadReady { ctx, index } => self.ready_reads.push((id, ctx, index)),
            }
        }
    }

    /// Makes every pending write of `id` durable and reports it.
    fn sync(&mut self, id: NodeId) {
        let writes = self.unsynced.remove(&id).unwrap_or_default();
        let mut last = None;
        for w in writes {
            last = Some(w.0);
            self.write(id, w);
        }
        if let Some(seq) = last {
            let now = self.now;
            self.nodes.get_mut(&id).unwrap().persisted(now, seq);
            self.drain(id);
        }
    }

    fn deliver(&mut self) {
        let mut budget = 100_000;
        while let Some((from, to, bytes)) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "message storm");
            let msg = decode_message(&bytes).expect("decodes");
            let now = self.now;
            if let Some(r) = self.nodes.get_mut(&to) {
                r.step(now, from, msg);
                self.drain(to);
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now = self.now + ms(5);
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                let now = self.now;
                let r = self.nodes.get_mut(&id).unwrap();
                if r.poll_timeout() <= now {
                    r.tick(now);
                }
                self.drain(id);
            }
            self.deliver();
        }
    }

    fn leaders(&self) -> Vec<(u64, NodeId)> {
        self.nodes
            .values()
            .filter(|r| r.role() == Role::Leader)
            .map(|r| (r.term(), r.id()))
            .collect()
    }

    fn leader(&self) -> NodeId {
        let ls = self.leaders();
        assert_eq!(ls.len(), 1, "exactly one leader: {ls:?}");
        ls[0].1
    }

    fn isolate(&mut self, id: NodeId) {
        for other in self.nodes.keys().copied().collect::<Vec<_>>() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn propose(&mut self, id: NodeId, data: &'static [u8]) -> Proposed {
        let now = self.now;
        let p = self
            .nodes
            .get_mut(&id)
            .unwrap()
            .propose(now, Bytes::from_static(data))
            .expect("leader");
        self.drain(id);
        p
    }

    fn change(&mut self, id: NodeId, change: ConfChange) -> Result<Proposed, ProposeError> {
        let now = self.now;
        let p = self
            .nodes
            .get_mut(&id)
            .unwrap()
            .propose_conf_change(now, change);
        self.drain(id);
        p
    }

    fn voters(&self, id: NodeId) -> Vec<NodeId> {
        self.raft(id).membership().voters.iter().copied().collect()
    }

    fn restart(&mut self, id: NodeId) {
        let d = &self.disks[&id];
        let cfg = Config::new(id, self.initial[&id].clone());
        let r = Raft::restore(
            cfg,
            id * 31,
            self.now,
            d.hs,
            d.snapshot.clone(),
            d.log.clone(),
        );
        let restored = d.snapshot.as_ref().map(|s| entries_of_snapshot(&s.data));
        self.nodes.insert(id, r);
        self.unsynced.remove(&id);
        self.applied.insert(id, restored.unwrap_or_default());
    }

    /// Compacts `id`'s log up to what it applied, with its state machine as the snapshot.
    fn compact(&mut self, id: NodeId) -> u64 {
        let applied = self.applied.get(&id).cloned().unwrap_or_default();
        let index = applied.len() as u64;
        let now = self.now;
        let r = self.nodes.get_mut(&id).unwrap();
        if index >= r.log().first_index() {
            r.compact(now, index, snapshot_data(&applied))
                .expect("applied");
        }
        self.drain(id);
        index
    }

    fn data_applied(&self, id: NodeId) -> Vec<Bytes> {
        self.applied
            .get(&id)
            .map(|es| {
                es.iter()
                    .filter(|e| e.kind == EntryKind::Normal)
                    .map(|e| e.data.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[test]
fn three_nodes_elect_one_leader() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let term = net.raft(l).term();
    for r in net.nodes.values() {
        assert_eq!(r.term(), term);
        assert_eq!(r.leader(), Some(l));
    }
    // Heartbeats keep it: no new election for a long while.
    net.advance(ms(3000));
    assert_eq!(net.leader(), l);
    assert_eq!(net.raft(l).term(), term);
}

#[test]
fn single_node_commits_alone() {
    let mut net = Net::new(1);
    net.advance(ms(500));
    assert_eq!(net.leader(), 1);
    net.propose(1, b"x");
    assert_eq!(net.data_applied(1), vec![Bytes::from_static(b"x")]);
}

#[test]
fn rejoining_node_does_not_depose_the_leader() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let term = net.raft(l).term();
    let f = if l == 1 { 2 } else { 1 };
    net.isolate(f);
    net.advance(ms(3000));
    // Pre-vote kept its term from rising while it was alone.
    assert_eq!(net.raft(f).term(), term);
    assert_ne!(net.raft(f).role(), Role::Leader);
    net.heal();
    net.advance(ms(1000));
    assert_eq!(net.leader(), l);
    assert_eq!(net.raft(l).term(), term);
    assert_eq!(net.raft(f).leader(), Some(l));
}

#[test]
fn without_pre_vote_a_rejoining_node_raises_the_term() {
    let mut net = Net::new(3);
    for r in net.nodes.values_mut() {
        r.cfg_mut_for_tests().pre_vote = false;
    }
    net.advance(ms(1000));
    let l = net.leader();
    let term = net.raft(l).term();
    let f = if l == 1 { 2 } else { 1 };
    net.isolate(f);
    net.advance(ms(3000));
    assert!(
        net.raft(f).term() > term,
        "the contrast the pre-vote test relies on"
    );
}

#[test]
fn isolated_leader_steps_down_by_check_quorum() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.isolate(l);
    // Within two election timeouts the old leader notices it lost its quorum.
    net.advance(ms(320));
    assert_ne!(net.raft(l).role(), Role::Leader);
    net.advance(ms(1000));
    let ls = net.leaders();
    assert_eq!(ls.len(), 1);
    assert_ne!(ls[0].1, l);
}

#[test]
fn replication_commits_everywhere_in_order() {
    let mut net = Net::new(5);
    net.advance(ms(1000));
    let l = net.leader();
    for d in [&b"a"[..], b"b", b"c", b"d"] {
        let now = net.now;
        net.nodes
            .get_mut(&l)
            .unwrap()
            .propose(now, Bytes::from_static(d))
            .unwrap();
        net.drain(l);
    }
    net.advance(ms(200));
    let want: Vec<Bytes> = [&b"a"[..], b"b", b"c", b"d"]
        .iter()
        .map(|d| Bytes::from_static(d))
        .collect();
    for id in 1..=5 {
        assert_eq!(net.data_applied(id), want, "node {id}");
    }
}

#[test]
fn batching_and_pipelining_bound_the_messages() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let before = net.sent;
    // 200 proposals in one burst, no delivery between them.
    for _ in 0..200 {
        let now = net.now;
        net.nodes
            .get_mut(&l)
            .unwrap()
            .propose(now, Bytes::from_static(b"p"))
            .unwrap();
        net.drain(l);
    }
    let appends = net.sent - before;
    assert!(
        appends <= 2 * 8 + 2,
        "window bounds in-flight appends: {appends}"
    );
    net.advance(ms(300));
    for id in 1..=3 {
        assert_eq!(net.data_applied(id).len(), 200, "node {id}");
    }
}

#[test]
fn lagging_follower_catches_up_with_few_probes() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let f = (1..=3).find(|i| *i != l).unwrap();
    net.isolate(f);
    for _ in 0..300 {
        net.propose(l, b"x");
    }
    net.advance(ms(100));
    net.heal();
    let before = net.sent;
    net.advance(ms(500));
    assert_eq!(net.data_applied(f).len(), 300);
    assert!(net.sent - before < 200, "{} messages", net.sent - before);
}

#[test]
fn divergent_follower_is_repaired_by_conflict_hints() {
    // Node 1 led term 1..: it has many uncommitted entries of an old term that the others
    // never saw; the new leader must overwrite them.
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.isolate(l);
    for _ in 0..100 {
        net.propose(l, b"lost");
    }
    net.advance(ms(1000));
    let l2 = net.leader_among(&[l]);
    for _ in 0..5 {
        net.propose(l2, b"kept");
    }
    net.advance(ms(100));
    net.heal();
    net.advance(ms(1000));
    let want = net.data_applied(l2);
    assert_eq!(want.len(), 5);
    assert_eq!(net.data_applied(l), want);
    let (a, b) = (net.raft(l).log(), net.raft(l2).log());
    assert_eq!(a.last_index(), b.last_index());
    for i in 1..=a.last_index() {
        assert_eq!(a.term(i), b.term(i));
    }
}

#[test]
fn votes_and_acks_wait_for_the_disk() {
    let mut net = Net::new(3);
    net.auto_persist = false;
    net.advance(ms(1000));
    // Nobody synced: nobody may count even its own vote, so no leader.
    assert!(net.leaders().is_empty());
    // With the disks keeping up, an election completes.
    net.advance_syncing(ms(1000));
    let l = net.leader();
    let commit0 = net.raft(l).log().committed();
    // A proposal with followers that do not sync: the leader alone is not a quorum.
    let p = net.propose(l, b"x");
    net.sync(l);
    net.advance(ms(100));
    assert_eq!(net.raft(l).role(), Role::Leader);
    assert!(
        net.raft(l).log().committed() < p.index,
        "commit needs durable acks"
    );
    assert_eq!(net.raft(l).log().committed(), commit0);
    let f = (1..=3).find(|i| *i != l).unwrap();
    net.sync(f);
    net.deliver();
    assert!(net.raft(l).log().committed() >= p.index);
}

#[test]
fn leader_counts_itself_only_once_durable() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.auto_persist = false;
    let f = (1..=3).find(|i| *i != l).unwrap();
    let other = (1..=3).find(|i| *i != l && *i != f).unwrap();
    net.isolate(other);
    let p = net.propose(l, b"x");
    net.sync(f);
    net.deliver();
    net.sync(f);
    net.advance(ms(200));
    net.sync(f);
    net.deliver();
    // f acked durably, but the leader's own write is not synced: 1 of 3.
    assert!(net.raft(l).log().committed() < p.index);
    net.sync(l);
    net.deliver();
    assert!(net.raft(l).log().committed() >= p.index);
}

#[test]
fn crash_loses_unsynced_entries_but_never_committed_ones() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    for _ in 0..10 {
        net.propose(l, b"c");
    }
    net.advance(ms(200));
    // Restart every node from its disk: the committed entries come back.
    for id in 1..=3 {
        net.restart(id);
    }
    net.advance(ms(1500));
    carries_on_with_eleven(&mut net);
}

#[test]
fn current_term_rule_holds_back_old_entries() {
    // Node 1 has an entry of term 2 nobody else has; it wins term 4 and must not commit
    // index 2 by counting replicas until its own term-4 entry is replicated.
    let e = |index, term| Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: Bytes::new(),
    };
    let now = Instant::ZERO;
    let cfg = Config::new(1, vec![1, 2, 3]);
    let mut r = Raft::restore(
        cfg,
        1,
        now,
        HardState {
            term: 3,
            vote: None,
        },
        None,
        vec![e(1, 1), e(2, 2)],
    );
    let mut now = now + ms(400);
    r.tick(now);
    let granted = |term, pre| Message {
        term,
        body: Body::VoteResp { pre, granted: true },
    };
    r.step(now, 2, granted(4, true));
    while let Some(out) = r.poll_output() {
        if let Output::Persist { seq, .. } = out {
            r.persisted(now, seq);
        }
    }
    r.step(now, 2, granted(4, false));
    assert_eq!(r.role(), Role::Leader);
    assert_eq!(r.term(), 4);
    while let Some(out) = r.poll_output() {
        if let Output::Persist { seq, .. } = out {
            r.persisted(now, seq);
        }
    }
    assert_eq!(r.log().last_index(), 3);
    assert_eq!(r.log().stable(), 3);
    let ack = |index| Message {
        term: 4,
        body: Body::AppendResp {
            success: true,
            index,
            hint: None,
        },
    };
    now = now + ms(1);
    r.step(now, 2, ack(2));
    assert_eq!(
        r.log().committed(),
        0,
        "index 2 is of term 2: not by counting"
    );
    r.step(now, 2, ack(3));
    assert_eq!(r.log().committed(), 3);
}

#[test]
fn stale_and_foreign_messages_are_harmless() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let term = net.raft(l).term();
    let now = net.now;
    let r = net.nodes.get_mut(&l).unwrap();
    // From a non-member, from itself, with an old term, an ack past its log.
    let m = Message {
        term,
        body: Body::AppendResp {
            success: true,
            index: 1_000_000,
            hint: None,
        },
    };
    r.step(now, 99, m.clone());
    r.step(now, l, m.clone());
    let f = if l == 1 { 2 } else { 1 };
    r.step(now, f, m);
    r.step(
        now,
        f,
        Message {
            term: term - 1,
            body: Body::Vote {
                pre: false,
                transfer: false,
                last_index: 100,
                last_term: 100,
            },
        },
    );
    assert_eq!(r.role(), Role::Leader);
    assert!(r.log().committed() <= r.log().last_index());
    net.drain(l);
    net.advance(ms(500));
    assert_eq!(net.leader(), l);
}

impl Net {
    /// Advances time, every disk syncing at each step.
    fn advance_syncing(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.advance(ms(5));
            for id in self.nodes.keys().copied().collect::<Vec<_>>() {
                self.sync(id);
            }
            self.deliver();
        }
    }

    /// The single leader among nodes other than `except`.
    fn leader_among(&self, except: &[NodeId]) -> NodeId {
        let ls: Vec<_> = self
            .leaders()
            .into_iter()
            .filter(|(_, id)| !except.contains(id))
            .collect();
        assert_eq!(ls.len(), 1, "{ls:?}");
        ls[0].1
    }
}

/// Many seeds of a lossy, duplicating, reordering in-memory network: at most one leader per
/// term, every member applies the same entry at each index, and everything heals.
#[test]
fn lossy_network_keeps_safety() {
    let mut restores = 0;
    for seed in 0..30u64 {
        let mut rng = crate::rng::Rng::new(seed);
        let mut net = Net::new(5);
        let mut leaders: BTreeMap<u64, NodeId> = BTreeMap::new();
        for step in 0..400 {
            // Shuffle, drop and duplicate what is in flight, then run 5 ms.
            let mut q: Vec<_> = net.queue.drain(..).collect();
            for i in (1..q.len()).rev() {
                q.swap(i, rng.below(i + 1));
            }
            for m in q {
                match rng.below(10) {
                    0 | 1 => {}
                    2 => {
                        net.queue.push_back(m.clone());
                        net.queue.push_back(m);
                    }
                    _ => net.queue.push_back(m),
                }
            }
            if step % 40 == 0 {
                net.heal();
                let victim = 1 + rng.below(5) as u64;
                if step < 300 {
                    net.isolate(victim);
                }
            }
            if let Some(l) = net.leaders().first().map(|x| x.1) {
                if rng.below(2) == 0 && net.raft(l).transferring_to().is_none() {
                    net.propose(l, b"p");
                }
            }
            if step % 60 == 30 {
                if let Some(l) = net.leaders().first().map(|x| x.1) {
                    let now = net.now;
                    let to = 1 + rng.below(5) as u64;
                    let _ = net.nodes.get_mut(&l).unwrap().transfer_leader(now, to);
                    net.drain(l);
                }
            }
            if step % 25 == 0 {
                // Snapshots under loss: lagging members need InstallSnapshot.
                let id = 1 + rng.below(5) as u64;
                net.compact(id);
            }
            net.advance(ms(5));
            for (term, id) in net.leaders() {
                let prev = leaders.insert(term, id);
                assert!(
                    prev.is_none() || prev == Some(id),
                    "seed {seed}: two leaders in {term}"
                );
            }
        }
        net.heal();
        net.advance(ms(2000));
        let l = net.leader();
        net.propose(l, b"last");
        net.advance(ms(500));
        let want = net.applied[&l].clone();
        for id in 1..=5 {
            assert_eq!(net.applied[&id], want, "seed {seed}: member {id}");
        }
        restores += net.restores;
    }
    assert!(restores > 0, "no snapshot was ever installed");
}

proptest::proptest! {
    /// Arbitrary messages from arbitrary senders, with ticks and proposals between them,
    /// into a member that has a log and a leader: no panic, and the commit index never
    /// passes the log nor moves back.
    #[test]
    fn arbitrary_messages_never_panic(
        msgs in proptest::collection::vec((0u64..5, super::codec::tests::message(), 0u64..40), 0..60)
    ) {
        let mut net = Net::new(3);
        net.advance(ms(1000));
        let l = net.leader();
        net.propose(l, b"x");
        net.advance(ms(100));
        for target in 1..=3 {
            let mut now = net.now;
            let r = net.nodes.get_mut(&target).unwrap();
            let mut commit = r.log().committed();
            for (from, msg, dt) in msgs.clone() {
                now = now + ms(dt);
                r.step(now, from, msg);
                r.tick(now);
                let _ = r.propose(now, Bytes::from_static(b"y"));
                while r.poll_output().is_some() {}
                proptest::prop_assert!(r.log().committed() >= commit);
                proptest::prop_assert!(r.log().committed() <= r.log().last_index());
                commit = r.log().committed();
            }
        }
    }
}

#[test]
fn compaction_writes_the_snapshot_and_survives_a_restart() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    for _ in 0..10 {
        net.propose(l, b"c");
    }
    net.advance(ms(200));
    let last = net.raft(l).log().last_index();
    let index = net.compact(l);
    assert_eq!(index, last);
    let log = net.raft(l).log();
    assert_eq!(log.first_index(), index + 1);
    assert_eq!(log.term(index), Some(net.raft(l).term()));
    assert_eq!(log.term(index - 1), None, "compacted away");
    assert_eq!(
        net.disks[&l].snapshot.as_ref().map(|s| s.index),
        Some(index)
    );
    assert!(net.disks[&l].log.is_empty());
    let now = net.now;
    assert_eq!(
        net.nodes
            .get_mut(&l)
            .unwrap()
            .compact(now, index, Bytes::new()),
        Err(CompactError::Compacted {
            first_index: index + 1
        })
    );
    // Back from disk: the state machine is the snapshot, and the member carries on.
    net.restart(l);
    net.advance(ms(1500));
    carries_on_with_eleven(&mut net);
}

#[test]
fn compaction_refuses_what_is_not_applied() {
    let mut net = Net::new(1);
    net.advance(ms(500));
    net.propose(1, b"x");
    let now = net.now;
    let r = net.nodes.get_mut(&1).unwrap();
    let applied = r.log().applied();
    assert_eq!(
        r.compact(now, applied + 1, Bytes::new()),
        Err(CompactError::NotApplied { applied })
    );
    assert_eq!(r.log().first_index(), 1);
}

#[test]
fn lagging_follower_is_sent_the_snapshot() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let f = (1..=3).find(|i| *i != l).unwrap();
    net.isolate(f);
    for _ in 0..50 {
        net.propose(l, b"x");
    }
    net.advance(ms(200));
    let index = net.compact(l);
    net.heal();
    net.advance(ms(500));
    let log = net.raft(f).log();
    assert_eq!(log.first_index(), index + 1, "installed, not replayed");
    assert_eq!(
        net.disks[&f].snapshot.as_ref().map(|s| s.index),
        Some(index)
    );
    net.propose(l, b"after");
    net.advance(ms(200));
    assert_eq!(net.applied[&f], net.applied[&l]);
    assert_eq!(net.data_applied(f).len(), 51);
}

/// A follower that heard nothing yet: the leader's snapshot replaces its log and its state
/// machine, and the answer waits for the write.
#[test]
fn installed_snapshot_is_acknowledged_only_once_durable() {
    let now = Instant::ZERO;
    let mut r = Raft::new(Config::new(2, vec![1, 2, 3]), 5, now);
    let snapshot = Snapshot {
        index: 40,
        term: 3,
        membership: Membership::with_voters([1, 2, 3]),
        data: Bytes::from_static(b"state"),
    };
    let msg = Message {
        term: 3,
        body: Body::InstallSnapshot {
            snapshot: snapshot.clone(),
        },
    };
    r.step(now, 1, msg.clone());
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    let seq = match &outs[..] {
        [Output::Persist {
            seq,
            snapshot: Some(s),
            entries,
            ..
        }, Output::Restore(restored)] => {
            assert_eq!(s, &snapshot);
            assert_eq!(restored, &snapshot);
            assert!(entries.is_empty());
            *seq
        }
        other => panic!("unexpected outputs {other:?}"),
    };
    assert_eq!(r.log().committed(), 40);
    assert_eq!(r.log().last_index(), 40);
    r.persisted(now, seq);
    let ack = Message {
        term: 3,
        body: Body::AppendResp {
            success: true,
            index: 40,
            hint: None,
        },
    };
    assert_eq!(r.poll_output(), Some(Output::Send { to: 1, msg: ack }));
    // The same snapshot again (a resend): acknowledged at the commit point, nothing
    // installed twice.
    r.step(now, 1, msg);
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert!(
        matches!(
            &outs[..],
            [Output::Send {
                msg: Message {
                    body: Body::AppendResp {
                        success: true,
                        index: 40,
                        ..
                    },
                    ..
                },
                ..
            }]
        ),
        "{outs:?}"
    );
}

/// A snapshot whose last entry the follower holds only moves its commit point: the entries
/// after it stay and nothing is installed.
#[test]
fn snapshot_of_a_held_entry_only_commits() {
    let now = Instant::ZERO;
    let e = |index, term| Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: Bytes::new(),
    };
    let hs = HardState {
        term: 2,
        vote: None,
    };
    let entries = vec![e(1, 1), e(2, 1), e(3, 2), e(4, 2)];
    let mut r = Raft::restore(Config::new(2, vec![1, 2, 3]), 5, now, hs, None, entries);
    let snapshot = Snapshot {
        index: 3,
        term: 2,
        membership: Membership::with_voters([1, 2, 3]),
        data: Bytes::new(),
    };
    r.step(
        now,
        1,
        Message {
            term: 2,
            body: Body::InstallSnapshot { snapshot },
        },
    );
    let outs: Vec<Output> = std::iter::from_fn(|| r.poll_output()).collect();
    assert!(
        matches!(&outs[..], [Output::Send { .. }, Output::Apply(es)] if es.len() == 3),
        "{outs:?}"
    );
    assert_eq!(r.log().last_index(), 4);
    assert_eq!(r.log().first_index(), 1);
}

#[test]
fn learner_catches_up_without_voting_then_is_promoted() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    for _ in 0..20 {
        net.propose(l, b"x");
    }
    net.start(4, Vec::new());
    net.advance(ms(1000));
    assert_eq!(
        net.raft(4).role(),
        Role::Follower,
        "no configuration: no campaign"
    );
    assert_eq!(net.raft(4).term(), 0);
    net.change(l, ConfChange::AddLearner(4)).unwrap();
    net.advance(ms(300));
    assert_eq!(net.data_applied(4).len(), 20);
    assert!(net.raft(4).membership().learners.contains(&4));
    assert_eq!(net.raft(l).matched(4), Some(net.raft(l).log().last_index()));
    // A learner does not count: with it and one voter cut off, the other two still commit.
    let f = (1..=3).find(|i| *i != l).unwrap();
    net.isolate(4);
    net.isolate(f);
    let p = net.propose(l, b"two of three");
    net.advance(ms(100));
    assert!(net.raft(l).log().committed() >= p.index);
    net.heal();
    net.advance(ms(300));
    net.change(l, ConfChange::AddVoter(4)).unwrap();
    net.advance(ms(300));
    for id in 1..=4 {
        assert_eq!(net.voters(id), vec![1, 2, 3, 4], "member {id}");
    }
    // Four voters: a quorum is three, so two cut off stop commits.
    let others: Vec<NodeId> = (1..=4).filter(|i| *i != l).collect();
    net.isolate(others[0]);
    net.isolate(others[1]);
    let p = net.propose(l, b"needs three");
    net.advance(ms(100));
    assert!(net.raft(l).log().committed() < p.index);
    net.heal();
    net.advance(ms(1000));
    let l = net.leader();
    net.propose(l, b"all");
    net.advance(ms(300));
    for id in 1..=4 {
        assert_eq!(net.data_applied(id).len(), 23, "member {id}");
    }
}

#[test]
fn one_uncommitted_change_at_a_time() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.start(4, Vec::new());
    net.start(5, Vec::new());
    net.change(l, ConfChange::AddLearner(4)).unwrap();
    assert_eq!(
        net.change(l, ConfChange::AddLearner(5)),
        Err(ProposeError::ChangeInProgress)
    );
    assert_eq!(
        net.change(l, ConfChange::Remove(9)),
        Err(ProposeError::ChangeInProgress)
    );
    net.advance(ms(200));
    assert_eq!(
        net.change(l, ConfChange::Remove(9)),
        Err(ProposeError::InvalidChange(ConfChangeError::NotMember))
    );
    net.change(l, ConfChange::AddLearner(5)).unwrap();
    let f = (1..=3).find(|i| *i != l).unwrap();
    assert_eq!(
        net.change(f, ConfChange::AddVoter(4)),
        Err(ProposeError::NotLeader { leader: Some(l) })
    );
}

#[test]
fn a_new_leader_changes_nothing_before_committing_its_term() {
    let now = Instant::ZERO + ms(400);
    let mut r = Raft::new(Config::new(1, vec![1, 2, 3]), 1, Instant::ZERO);
    r.tick(now);
    let granted = |term, pre| Message {
        term,
        body: Body::VoteResp { pre, granted: true },
    };
    r.step(now, 2, granted(1, true));
    let seq = r.next_seq_for_tests() - 1;
    r.persisted(now, seq);
    r.step(now, 2, granted(1, false));
    assert_eq!(r.role(), Role::Leader);
    // Its no-op is not committed yet (not even durable here).
    assert_eq!(
        r.propose_conf_change(now, ConfChange::Remove(3)),
        Err(ProposeError::ChangeInProgress)
    );
    let seq = r.next_seq_for_tests() - 1;
    r.persisted(now, seq);
    let ack = Message {
        term: 1,
        body: Body::AppendResp {
            success: true,
            index: 1,
            hint: None,
        },
    };
    r.step(now, 2, ack);
    assert_eq!(r.log().committed(), 1);
    r.propose_conf_change(now, ConfChange::Remove(3)).unwrap();
}

#[test]
fn removed_leader_steps_down_once_its_removal_commits() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let p = net.change(l, ConfChange::Remove(l)).unwrap();
    // Appended: in effect on the leader already, which no longer counts itself.
    assert!(!net.raft(l).membership().is_voter(l));
    assert_eq!(net.raft(l).role(), Role::Leader);
    net.advance(ms(100));
    assert!(net.raft(l).log().committed() >= p.index);
    assert_ne!(net.raft(l).role(), Role::Leader);
    net.advance(ms(1000));
    let l2 = net.leader_among(&[l]);
    let term = net.raft(l2).term();
    net.propose(l2, b"without");
    net.advance(ms(2000));
    // The removed member never campaigns, and the two others go on alone.
    assert_eq!(net.leader(), l2);
    assert_eq!(net.raft(l2).term(), term);
    assert_eq!(net.voters(l2).len(), 2);
    assert!(net
        .data_applied(l2)
        .contains(&Bytes::from_static(b"without")));
    assert!(net.raft(l).term() <= term);
}

/// A member added while cut off gets the leader's snapshot, and with it the configuration.
#[test]
fn snapshot_carries_the_configuration() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.start(4, Vec::new());
    net.isolate(4);
    net.change(l, ConfChange::AddLearner(4)).unwrap();
    for _ in 0..10 {
        net.propose(l, b"x");
    }
    net.advance(ms(200));
    let index = net.compact(l);
    assert!(net
        .raft(l)
        .log()
        .snapshot()
        .unwrap()
        .membership
        .learners
        .contains(&4));
    net.heal();
    net.advance(ms(300));
    assert_eq!(net.raft(4).log().first_index(), index + 1);
    assert!(net.raft(4).membership().learners.contains(&4));
    net.restart(4);
    assert!(
        net.raft(4).membership().learners.contains(&4),
        "from its disk"
    );
}

#[test]
fn transfer_hands_leadership_to_a_caught_up_follower() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let term = net.raft(l).term();
    let to = (1..=3).find(|i| *i != l).unwrap();
    let now = net.now;
    net.nodes
        .get_mut(&l)
        .unwrap()
        .transfer_leader(now, to)
        .unwrap();
    net.drain(l);
    assert_eq!(net.raft(l).transferring_to(), Some(to));
    assert_eq!(
        net.nodes
            .get_mut(&l)
            .unwrap()
            .propose(now, Bytes::from_static(b"no")),
        Err(ProposeError::Transferring)
    );
    net.deliver();
    // Within one round trip, not an election timeout: no pre-vote, the lease ignored.
    assert_eq!(net.leader(), to);
    assert_eq!(net.raft(to).term(), term + 1);
    net.advance(ms(100));
    assert_eq!(net.raft(l).leader(), Some(to));
    assert_eq!(net.raft(l).transferring_to(), None);
    net.propose(to, b"after");
    net.advance(ms(100));
    assert_eq!(net.data_applied(l), vec![Bytes::from_static(b"after")]);
}

#[test]
fn transfer_first_brings_the_target_up_to_date() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let to = (1..=3).find(|i| *i != l).unwrap();
    net.isolate(to);
    for _ in 0..30 {
        net.propose(l, b"x");
    }
    net.advance(ms(100));
    net.heal();
    let now = net.now;
    net.nodes
        .get_mut(&l)
        .unwrap()
        .transfer_leader(now, to)
        .unwrap();
    net.drain(l);
    net.advance(ms(100));
    assert_eq!(net.leader(), to);
    assert_eq!(net.data_applied(to).len(), 30);
}

#[test]
fn transfer_to_an_unreachable_target_is_given_up() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let to = (1..=3).find(|i| *i != l).unwrap();
    let now = net.now;
    let r = net.nodes.get_mut(&l).unwrap();
    assert_eq!(r.transfer_leader(now, l), Err(TransferError::NotVoter));
    assert_eq!(r.transfer_leader(now, 9), Err(TransferError::NotVoter));
    net.isolate(to);
    net.propose(l, b"behind");
    let now = net.now;
    net.nodes
        .get_mut(&l)
        .unwrap()
        .transfer_leader(now, to)
        .unwrap();
    net.drain(l);
    net.advance(ms(100));
    assert_eq!(net.raft(l).transferring_to(), Some(to));
    net.advance(ms(200));
    assert_eq!(net.raft(l).transferring_to(), None);
    assert_eq!(net.leader(), l);
    net.propose(l, b"again");
    let now = net.now;
    let f = net.nodes.get_mut(&to).unwrap();
    assert!(matches!(
        f.transfer_leader(now, l),
        Err(TransferError::NotLeader { .. })
    ));
}

impl Net {
    fn read(&mut self, id: NodeId, ctx: u64) -> Result<(), ProposeError> {
        let now = self.now;
        let r = self.nodes.get_mut(&id).unwrap().read_index(now, ctx);
        self.drain(id);
        r
    }
}

#[test]
fn read_index_waits_for_a_quorum_to_confirm_the_leader() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    let p = net.propose(l, b"x");
    net.advance(ms(100));
    net.read(l, 7).unwrap();
    assert!(net.ready_reads.is_empty(), "not before a quorum answers");
    net.deliver();
    assert_eq!(net.ready_reads, vec![(l, 7, p.index)]);
    let f = (1..=3).find(|i| *i != l).unwrap();
    assert_eq!(
        net.read(f, 8),
        Err(ProposeError::NotLeader { leader: Some(l) })
    );
}

#[test]
fn deposed_leader_never_answers_a_read() {
    let mut net = Net::new(3);
    net.advance(ms(1000));
    let l = net.leader();
    net.isolate(l);
    net.read(l, 1).unwrap();
    net.advance(ms(1000));
    let l2 = net.leader_among(&[l]);
    net.propose(l2, b"newer");
    net.heal();
    net.advance(ms(500));
    assert!(net.ready_reads.iter().all(|(id, _, _)| *id != l));
    // Alone, a leader confirms itself and answers at once.
    let mut solo = Net::new(1);
    solo.advance(ms(500));
    let p = solo.propose(1, b"x");
    solo.read(1, 2).unwrap();
    assert_eq!(solo.ready_reads, vec![(1, 2, p.index)]);
}

/// A new leader's commit index may lag what its predecessor committed: a read waits for the
/// new leader's own first entry to commit.
#[test]
fn read_index_of_a_new_leader_is_its_first_entry() {
    let now = Instant::ZERO + ms(400);
    let e = |index, term| Entry {
        index,
        term,
        kind: EntryKind::Normal,
        data: Bytes::new(),
    };
    let hs = HardState {
        term: 1,
        vote: None,
    };
    let mut r = Raft::restore(
        Config::new(1, vec![1, 2, 3]),
        1,
        Instant::ZERO,
        hs,
        None,
        vec![e(1, 1), e(2, 1)],
    );
    r.tick(now);
    let granted = |term, pre| Message {
        term,
        body: Body::VoteResp { pre, granted: true },
    };
    r.step(now, 2, granted(2, true));
    r.persisted(now, r.next_seq_for_tests() - 1);
    r.step(now, 2, granted(2, false));
    assert_eq!(r.role(), Role::Leader);
    r.persisted(now, r.next_seq_for_tests() - 1);
    while r.poll_output().is_some() {}
    r.read_index(now, 5).unwrap();
    let confirm = Message {
        term: 2,
        body: Body::ReadIndexResp { seq: 1 },
    };
    r.step(now, 2, confirm);
    let ready = |r: &mut Raft| {
        std::iter::from_fn(|| r.poll_output())
            .filter(|o| matches!(o, Output::ReadReady { .. }))
            .collect::<Vec<_>>()
    };
    assert!(
        ready(&mut r).is_empty(),
        "index 3 (its no-op) is not committed"
    );
    let ack = Message {
        term: 2,
        body: Body::AppendResp {
            success: true,
            index: 3,
            hint: None,
        },
    };
    r.step(now, 2, ack);
    assert_eq!(ready(&mut r), vec![Output::ReadReady { ctx: 5, index: 3 }]);
}

/// A leader is elected again and commits a new entry, the eleventh, on every node.
fn carries_on_with_eleven(net: &mut Net) {
    let l = net.leader();
    net.propose(l, b"after");
    net.advance(ms(200));
    for id in 1..=3 {
        let d = net.data_applied(id);
        assert_eq!(d.len(), 11, "node {id}");
        assert_eq!(d[10], Bytes::from_static(b"after"));
    }
}
