//! The replicated state machine of the Raft workload: registers by key. Clients put unique
//! values and get them back. Puts go through the log; a get goes through the log too (and
//! is answered with the value at its place there) or through ReadIndex (answered from the
//! leader's state once it confirmed its leadership): every answer is linearizable if Raft
//! is right.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::history::ClientId;

/// An operation on one key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Put { key: String, value: u64 },
    Get { key: String },
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Put { key, .. } | Op::Get { key } => key,
        }
    }
}

/// A client's request, as proposed: `client:id:put:key:value` or `client:id:get:key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub client: ClientId,
    /// The client's own numbering of its operations.
    pub id: u64,
    pub op: Op,
}

impl Request {
    pub fn encode(&self) -> Bytes {
        let (c, id) = (self.client, self.id);
        Bytes::from(match &self.op {
            Op::Put { key, value } => format!("{c}:{id}:put:{key}:{value}"),
            Op::Get { key } => format!("{c}:{id}:get:{key}"),
        })
    }

    pub fn decode(data: &[u8]) -> Option<Request> {
        let s = std::str::from_utf8(data).ok()?;
        let mut it = s.split(':');
        let client = it.next()?.parse().ok()?;
        let id = it.next()?.parse().ok()?;
        let op = match (it.next()?, it.next()?) {
            ("put", key) => Op::Put {
                key: key.to_string(),
                value: it.next()?.parse().ok()?,
            },
            ("get", key) => Op::Get {
                key: key.to_string(),
            },
            _ => return None,
        };
        it.next().is_none().then_some(Request { client, id, op })
    }
}

/// The answer to request `id`, applied at log `index`: for a get, the value read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub id: u64,
    pub index: u64,
    pub value: Option<u64>,
}

impl Reply {
    /// `id:index:value`, with `-` for no value.
    pub fn encode(&self) -> Bytes {
        let value = self.value.map_or("-".to_string(), |v| v.to_string());
        Bytes::from(format!("{}:{}:{value}", self.id, self.index))
    }

    pub fn decode(data: &[u8]) -> Option<Reply> {
        let mut it = std::str::from_utf8(data).ok()?.split(':');
        let id = it.next()?.parse().ok()?;
        let index = it.next()?.parse().ok()?;
        let value = match it.next()? {
            "-" => None,
            v => Some(v.parse().ok()?),
        };
        it.next().is_none().then_some(Reply { id, index, value })
    }
}

/// The answer to request `id` from a member that did not take it: `leader` is the one it
/// knows of, if any (possibly stale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub id: u64,
    pub leader: Option<u64>,
}

impl Redirect {
    /// `id:leader`, with `-` for none.
    pub fn encode(&self) -> Bytes {
        let leader = self.leader.map_or("-".to_string(), |l| l.to_string());
        Bytes::from(format!("{}:{leader}", self.id))
    }

    pub fn decode(data: &[u8]) -> Option<Redirect> {
        let (id, leader) = std::str::from_utf8(data).ok()?.split_once(':')?;
        let leader = match leader {
            "-" => None,
            l => Some(l.parse().ok()?),
        };
        Some(Redirect {
            id: id.parse().ok()?,
            leader,
        })
    }
}

/// The registers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Kv {
    values: BTreeMap<String, u64>,
}

impl Kv {
    /// Applies a request; a get returns what it read, a put `None`.
    pub fn apply(&mut self, req: &Request) -> Option<u64> {
        match &req.op {
            Op::Put { key, value } => {
                self.values.insert(key.clone(), *value);
                None
            }
            Op::Get { key } => self.values.get(key).copied(),
        }
    }

    /// The snapshot: `key=value` lines.
    pub fn snapshot(&self) -> Bytes {
        let text: String = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        Bytes::from(text)
    }

    pub fn restore(data: &[u8]) -> Option<Kv> {
        let mut values = BTreeMap::new();
        for line in std::str::from_utf8(data).ok()?.lines() {
            let (k, v) = line.split_once('=')?;
            values.insert(k.to_string(), v.parse().ok()?);
        }
        Some(Kv { values })
    }

    /// A stable hash of the state (FNV-1a over the snapshot), to compare members' states.
    pub fn digest(&self) -> u64 {
        crate::raft::journal::fnv64(&self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_replies_and_snapshots_round_trip() {
        for op in [
            Op::Put {
                key: "a".into(),
                value: 7,
            },
            Op::Get { key: "b".into() },
        ] {
            let r = Request {
                client: 3,
                id: 9,
                op,
            };
            assert_eq!(Request::decode(&r.encode()), Some(r));
        }
        assert_eq!(Request::decode(b"1:2:get:a:extra"), None);
        for leader in [None, Some(3)] {
            let r = Redirect { id: 8, leader };
            assert_eq!(Redirect::decode(&r.encode()), Some(r));
        }
        for value in [None, Some(5)] {
            let r = Reply {
                id: 4,
                index: 12,
                value,
            };
            assert_eq!(Reply::decode(&r.encode()), Some(r));
        }
        let mut kv = Kv::default();
        let put = |key: &str, value| Request {
            client: 1,
            id: value,
            op: Op::Put {
                key: key.into(),
                value,
            },
        };
        kv.apply(&put("a", 1));
        kv.apply(&put("b", 2));
        let get = Request {
            client: 1,
            id: 3,
            op: Op::Get { key: "a".into() },
        };
        assert_eq!(kv.apply(&get), Some(1));
        assert_eq!(Kv::restore(&kv.snapshot()), Some(kv.clone()));
        assert_ne!(kv.digest(), Kv::default().digest());
    }
}
