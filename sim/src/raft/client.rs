//! The Raft workload's clients: each runs one operation at a time on the replicated
//! registers ([`super::kv`]), sending it to a member and waiting a while for the answer, and
//! records every invocation and answer with its simulated time. [`check_linearizable`]
//! judges the record, key by key.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::Endpoint;
use rnats_core::raft::NodeId;

use super::kv::{Op, Reply, Request};
use super::{addr_of, lock, TAG_PROPOSE, TAG_REPLY};
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

/// One client, bound on the current madsim host.
pub struct KvClient {
    id: ClientId,
    next: u64,
    ep: Arc<Endpoint>,
    /// Answers as they arrive (a task receives them: receive futures are not cancel-safe).
    replies: Arc<Mutex<VecDeque<Reply>>>,
    wake: Arc<tokio::sync::Notify>,
    history: History<KvEvent>,
    epoch: madsim::time::Instant,
}

impl KvClient {
    pub async fn bind(
        id: ClientId,
        history: History<KvEvent>,
        epoch: madsim::time::Instant,
    ) -> KvClient {
        let ep = Arc::new(Endpoint::bind(client_addr(id)).await.expect("bind"));
        let replies: Arc<Mutex<VecDeque<Reply>>> = Arc::default();
        let wake = Arc::new(tokio::sync::Notify::new());
        let (e, r, w) = (ep.clone(), replies.clone(), wake.clone());
        madsim::task::spawn(async move {
            while let Ok((data, _)) = e.recv_from_raw(TAG_REPLY).await {
                if let Some(reply) = data
                    .downcast::<Vec<u8>>()
                    .ok()
                    .and_then(|d| Reply::decode(&d))
                {
                    lock(&r).push_back(reply);
                    w.notify_one();
                }
            }
        });
        KvClient {
            id,
            next: 0,
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

    /// Runs `op` through member `to`: the answer, or `None` if none came within `timeout`
    /// (the operation may still take effect, later or never).
    pub async fn call(&mut self, to: NodeId, op: Op, timeout: Duration) -> Option<Reply> {
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
        let _ = self
            .ep
            .send_to(addr_of(to), TAG_PROPOSE, &req.encode())
            .await;
        let deadline = madsim::time::Instant::now() + timeout;
        loop {
            // Answers to earlier, given-up operations are dropped here.
            let reply = {
                let mut q = lock(&self.replies);
                while q.front().is_some_and(|r| r.id != req.id) {
                    q.pop_front();
                }
                q.pop_front()
            };
            if let Some(reply) = reply {
                self.history.record(KvEvent::Return {
                    client: self.id,
                    id: req.id,
                    value: reply.value,
                    at: self.now(),
                });
                return Some(reply);
            }
            let left = deadline.saturating_duration_since(madsim::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let _ = madsim::time::timeout(left, self.wake.notified()).await;
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
