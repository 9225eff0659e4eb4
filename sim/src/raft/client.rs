//! The Raft workload's clients: each runs one operation at a time on the replicated
//! registers ([`super::kv`]) and records every invocation and answer with its simulated
//! time. Like a real client it knows no more than members tell it: it sends to the member
//! that answered last, follows "not the leader" redirects, and tries a random member after
//! an answer fails to come. [`check_linearizable`] judges the record, key by key.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::Endpoint;
use madsim::rand::{thread_rng, Rng};
use rnats_core::raft::NodeId;

use super::kv::{Op, Redirect, Reply, Request};
use super::{addr_of, lock, TAG_PROPOSE, TAG_REDIRECT, TAG_REPLY};
use crate::history::{ClientId, History};
use crate::linearizability::{check_register, Call, Failure, RegisterOp};

/// What a client did and saw; `at` is simulated nanoseconds since the run's start.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvEvent {
    Invoke {
        client: ClientId,
        id: u64,
        op: Op,
        at: u64,
    },
    /// The answer came (for a get, with the value read).
    Return {
        client: ClientId,
        id: u64,
        value: Option<u64>,
        at: u64,
    },
}

/// The address of client `id`.
pub fn client_addr(id: ClientId) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 3, 1)), 7100 + id as u16)
}

/// What a member said to a request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    Done(Reply),
    NotLeader(Redirect),
}

impl Answer {
    fn id(&self) -> u64 {
        match self {
            Answer::Done(r) => r.id,
            Answer::NotLeader(r) => r.id,
        }
    }
}

/// Redirects followed for one operation at most (two members with stale views could send
/// it back and forth).
const MAX_REDIRECTS: usize = 4;

/// One client, bound on the current madsim host.
pub struct KvClient {
    id: ClientId,
    next: u64,
    /// Members `1..=hosts`.
    hosts: u64,
    /// Where requests go: the member that answered last, or a guess.
    to: NodeId,
    ep: Arc<Endpoint>,
    /// Answers as they arrive (tasks receive them: receive futures are not cancel-safe).
    replies: Arc<Mutex<VecDeque<Answer>>>,
    wake: Arc<tokio::sync::Notify>,
    history: History<KvEvent>,
    epoch: madsim::time::Instant,
}

impl KvClient {
    /// A client of members `1..=hosts`.
    pub async fn bind(
        id: ClientId,
        hosts: u64,
        history: History<KvEvent>,
        epoch: madsim::time::Instant,
    ) -> KvClient {
        let ep = Arc::new(Endpoint::bind(client_addr(id)).await.expect("bind"));
        let replies: Arc<Mutex<VecDeque<Answer>>> = Arc::default();
        let wake = Arc::new(tokio::sync::Notify::new());
        for tag in [TAG_REPLY, TAG_REDIRECT] {
            let (e, r, w) = (ep.clone(), replies.clone(), wake.clone());
            madsim::task::spawn(async move {
                while let Ok((data, _)) = e.recv_from_raw(tag).await {
                    let Ok(data) = data.downcast::<Vec<u8>>() else {
                        continue;
                    };
                    let answer = match tag {
                        TAG_REPLY => Reply::decode(&data).map(Answer::Done),
                        _ => Redirect::decode(&data).map(Answer::NotLeader),
                    };
                    if let Some(a) = answer {
                        lock(&r).push_back(a);
                        w.notify_one();
                    }
                }
            });
        }
        KvClient {
            id,
            next: 0,
            hosts,
            to: thread_rng().gen_range(1..=hosts),
            ep,
            replies,
            wake,
            history,
            epoch,
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Runs `op`: the answer, or `None` if none came within `timeout` (the operation may
    /// still take effect, later or never).
    pub async fn call(&mut self, op: Op, timeout: Duration) -> Option<Reply> {
        self.next += 1;
        let req = Request {
            client: self.id,
            id: self.next,
            op: op.clone(),
        };
        self.history.record(KvEvent::Invoke {
            client: self.id,
            id: req.id,
            op,
            at: self.now(),
        });
        let bytes = req.encode();
        let _ = self.ep.send_to(addr_of(self.to), TAG_PROPOSE, &bytes).await;
        let deadline = madsim::time::Instant::now() + timeout;
        let mut redirects = 0;
        loop {
            // Answers to earlier, given-up operations are dropped here.
            let answer = {
                let mut q = lock(&self.replies);
                while q.front().is_some_and(|a| a.id() != req.id) {
                    q.pop_front();
                }
                q.pop_front()
            };
            match answer {
                Some(Answer::Done(reply)) => {
                    self.history.record(KvEvent::Return {
                        client: self.id,
                        id: req.id,
                        value: reply.value,
                        at: self.now(),
                    });
                    return Some(reply);
                }
                // Not taken there, so not in any log: safe to send again elsewhere.
                Some(Answer::NotLeader(r)) if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    self.to = r
                        .leader
                        .unwrap_or_else(|| thread_rng().gen_range(1..=self.hosts));
                    let _ = self.ep.send_to(addr_of(self.to), TAG_PROPOSE, &bytes).await;
                    continue;
                }
                Some(Answer::NotLeader(_)) => {}
                None => {
                    let left = deadline.saturating_duration_since(madsim::time::Instant::now());
                    if !left.is_zero() {
                        let _ = madsim::time::timeout(left, self.wake.notified()).await;
                        continue;
                    }
                }
            }
            self.to = thread_rng().gen_range(1..=self.hosts);
            return None;
        }
    }
}

/// Checks the history key by key; returns one line per key that is not linearizable (or
/// that the search gave up on, which counts as a failure so it is looked at).
pub fn check_linearizable(events: &[KvEvent]) -> Vec<String> {
    let mut calls: BTreeMap<(ClientId, u64), (String, Call)> = BTreeMap::new();
    for e in events {
        match e {
            KvEvent::Invoke { client, id, op, at } => {
                let op_ = match op {
                    Op::Put { value, .. } => RegisterOp::Write(*value),
                    Op::Get { .. } => RegisterOp::Read(None),
                };
                let call = Call {
                    call: *at,
                    ret: None,
                    op: op_,
                };
                calls.insert((*client, *id), (op.key().to_string(), call));
            }
            KvEvent::Return {
                client,
                id,
                value,
                at,
            } => {
                if let Some((_, c)) = calls.get_mut(&(*client, *id)) {
                    c.ret = Some(*at);
                    if let RegisterOp::Read(_) = c.op {
                        c.op = RegisterOp::Read(*value);
                    }
                }
            }
        }
    }
    let mut by_key: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for (key, call) in calls.into_values() {
        by_key.entry(key).or_default().push(call);
    }
    let mut out = Vec::new();
    for (key, calls) in by_key {
        match check_register(&calls, 2_000_000) {
            Ok(()) => {}
            Err(Failure::GaveUp) => out.push(format!(
                "linearizability: the search for key {key:?} ({} operations) gave up",
                calls.len()
            )),
            Err(Failure::NotLinearizable { stuck }) => out.push(format!(
                "linearizability: key {key:?} ({} operations) has no valid order; none of these can come next: {stuck:?}",
                calls.len()
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_get_fails_the_check() {
        let put = |id, value, at| KvEvent::Invoke {
            client: 1,
            id,
            op: Op::Put {
                key: "k".into(),
                value,
            },
            at,
        };
        let ret = |id, value, at| KvEvent::Return {
            client: 1,
            id,
            value,
            at,
        };
        let get = |id, at| KvEvent::Invoke {
            client: 2,
            id,
            op: Op::Get { key: "k".into() },
            at,
        };
        let ret2 = |id, value, at| KvEvent::Return {
            client: 2,
            id,
            value,
            at,
        };
        let ok = [
            put(1, 10, 0),
            ret(1, None, 5),
            get(1, 6),
            ret2(1, Some(10), 7),
        ];
        assert!(check_linearizable(&ok).is_empty());
        let stale = [
            put(1, 10, 0),
            ret(1, None, 5),
            put(2, 11, 6),
            ret(2, None, 8),
            get(1, 9),
            ret2(1, Some(10), 10),
        ];
        assert_eq!(check_linearizable(&stale).len(), 1);
    }
}
