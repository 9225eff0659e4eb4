//! Mirrors and sourcing streams: copying from their origins, and what each knows of every
//! origin for the `mirror` and `sources` of its info (when it last heard from the origin
//! and what went wrong).
//!
//! The reference reads each origin through a push consumer with a one second idle
//! heartbeat, so a healthy origin is "heard from" at least every second, and `active` (the
//! time since) stays under a second. rnats copies directly, without a consumer: within the
//! account as each message is stored (and by a backfill when streams come and go), from
//! other accounts through the node (its `sourcing` module). So it reports what those
//! heartbeats would give: the time since the last copy or since the origin was reached,
//! modulo the heartbeat. Nothing is ever left pending, so `lag` is 0.

use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::api::JetStream;
use super::api_error::ApiError;
use super::config::{ExternalStream, StreamSource};
use super::store::StoredMsg;

/// The reference's idle heartbeat of the consumers that feed mirrors and sources.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The reference's `getHash`: the first 8 bytes of the name's SHA-256, each mapped into
/// base 62 digits.
pub fn name_hash(name: &str) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let sum = Sha256::digest(name.as_bytes());
    sum[..8]
        .iter()
        .map(|b| DIGITS[(*b as usize) % DIGITS.len()] as char)
        .collect()
}

/// How one origin of a stream is doing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// When the origin was last heard from (nanoseconds since the Unix epoch): reached, or
    /// a message copied; `None` while it has never been reached.
    heard: Option<u64>,
    /// Whether it is still reached: then it counts as heard from every heartbeat since.
    alive: bool,
    /// Why the origin refused to be read, as its JetStream answered.
    error: Option<ApiError>,
}

impl Link {
    /// The origin was reached at `now`: it counts as heard from since then (a heartbeat
    /// every second) if it was not reached already.
    pub fn reached(&mut self, now: u64) {
        if !self.alive {
            self.heard = Some(now);
            self.alive = true;
        }
        self.error = None;
    }

    /// A message was copied from the origin at `now`.
    pub fn copied(&mut self, now: u64) {
        self.heard = Some(now);
        self.alive = true;
        self.error = None;
    }

    /// The origin answered with `error` (its stream is not there, say): nothing more is
    /// heard from it, and the time since it was last heard grows.
    pub fn failed(&mut self, error: ApiError) {
        self.alive = false;
        self.error = Some(error);
    }

    /// The origin cannot be reached at all (no import leads to it): like a request that
    /// nobody answers, nothing more is heard and no error comes back.
    pub fn lost(&mut self) {
        self.alive = false;
        self.error = None;
    }

    /// The origin as the info shows it at `now`: `active` -1 if it was never heard from.
    pub fn info<'a>(
        &self,
        name: &'a str,
        external: Option<&'a ExternalStream>,
        now: u64,
    ) -> SourceInfo<'a> {
        let beat = HEARTBEAT.as_nanos() as u64;
        let active = self.heard.map_or(-1, |at| {
            let since = now.saturating_sub(at);
            let since = if self.alive { since % beat } else { since };
            i64::try_from(since).unwrap_or(i64::MAX)
        });
        SourceInfo {
            name,
            external,
            lag: 0,
            active,
            error: self.error.clone(),
        }
    }
}

/// One entry of a stream info's `mirror` or `sources`.
#[derive(Clone, Debug, Serialize)]
pub struct SourceInfo<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external: Option<&'a ExternalStream>,
    pub lag: u64,
    /// Nanoseconds since the origin was last heard from; -1 if never.
    pub active: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
}

/// A mirror or source of one of this account's streams whose origin is reached through an
/// API prefix (`external`): the node finds which account's JetStream answers there and
/// hands its messages over ([`JetStream::copy_external`]).
#[derive(Clone, Debug)]
pub struct ExternalOrigin {
    /// The stream that copies.
    pub stream: String,
    /// The source's index name in that stream.
    pub iname: String,
    pub source: StreamSource,
    pub mirror: bool,
    /// The first sequence of the origin still to copy.
    pub next: u64,
}

impl JetStream {
    /// Copies each (stream, sequence) just stored, at `now`, to the streams of this account
    /// that mirror or source that stream, and what that stores onwards again.
    pub(super) fn copy_onwards(&mut self, mut work: Vec<(String, u64)>, now: u64) {
        while let Some((origin, seq)) = work.pop() {
            let targets: Vec<String> = self
                .streams
                .iter()
                .filter(|(_, s)| s.config().source(&origin).is_some())
                .map(|(name, _)| name.clone())
                .collect();
            for target in targets {
                let Some(msg) = self.streams.get(&origin).and_then(|s| s.store().load(seq)) else {
                    continue;
                };
                if let Some(copied) = self.copy(&target, &origin, &msg, now) {
                    work.push((target, copied));
                }
            }
        }
    }

    /// Copies `msg` of the origin with index name `iname` into stream `target`, if
    /// `target`'s source takes it; its sequence in `target`.
    fn copy(&mut self, target: &str, iname: &str, msg: &StoredMsg, now: u64) -> Option<u64> {
        let stream = self.streams.get_mut(target)?;
        let source = stream.config().source(iname)?;
        let subject = source.takes(msg.seq, msg.time, &msg.subject)?;
        let copied = stream.copy_in(iname, msg, &subject, now)?;
        self.touched.insert(target.to_string());
        Some(copied)
    }

    /// Copies into every mirror and sourcing stream what its origins in this account hold
    /// beyond what it has copied: after a stream is created or changed (a new source, or a
    /// new origin). An origin not there shows in the info as the reference's consumer
    /// request would fail, with "stream not found".
    pub(super) fn backfill(&mut self, now: u64) {
        let mut pending = Vec::new();
        let mut links = Vec::new();
        for (name, stream) in &self.streams {
            let config = stream.config();
            for source in config.mirror.iter().chain(&config.sources) {
                if source.external.is_some() {
                    continue;
                }
                let origin = self.streams.get(&source.name);
                links.push((name.clone(), source.name.clone(), origin.is_some()));
                let Some(origin) = origin else { continue };
                let mut seq = stream.next_to_copy(source);
                while let Some(m) = origin.store().load_next(b">", seq) {
                    seq = m.seq + 1;
                    pending.push((name.clone(), source.name.clone(), m));
                }
            }
        }
        for (name, origin, found) in links {
            if let Some(stream) = self.streams.get_mut(&name) {
                match found {
                    true => stream.link(&origin).reached(now),
                    false => stream.link(&origin).failed(ApiError::stream_not_found()),
                }
            }
        }
        for (target, origin, msg) in pending {
            if let Some(copied) = self.copy(&target, &origin, &msg, now) {
                self.copy_onwards(vec![(target, copied)], now);
            }
        }
    }

    /// The mirrors and sources of this account's streams that read through an API prefix.
    pub fn external_origins(&self) -> Vec<ExternalOrigin> {
        let mut found = Vec::new();
        for (name, stream) in &self.streams {
            let config = stream.config();
            let external = config.mirror.iter().chain(&config.sources);
            for source in external.filter(|s| s.external.is_some()) {
                found.push(ExternalOrigin {
                    stream: name.clone(),
                    next: stream.next_to_copy(source),
                    iname: source.index_name(),
                    source: source.clone(),
                    mirror: config.mirror.is_some(),
                });
            }
        }
        found
    }

    /// Up to `max` messages of stream `name` on `filter` from sequence `from` on, for a mirror or source
    /// in another account (or reached through this account's own domain prefix); the
    /// error the reference's consumer request would get if there is no such stream.
    pub fn messages_from(
        &self,
        name: &str,
        filter: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<StoredMsg>, ApiError> {
        let store = self.stream(name)?.store();
        let mut seq = from;
        let mut found = Vec::new();
        while found.len() < max {
            let Some(m) = store.load_next(filter.as_bytes(), seq) else {
                break;
            };
            seq = m.seq + 1;
            found.push(m);
        }
        Ok(found)
    }

    /// Copies what an external origin holds (`msgs`, read with [`JetStream::messages_from`])
    /// into `origin.stream`, and onwards to what copies from that here. Messages the
    /// source does not take count as read, as if its consumer had never delivered them.
    pub fn copy_external(&mut self, origin: &ExternalOrigin, msgs: &[StoredMsg], now: u64) {
        let Some(stream) = self.streams.get_mut(&origin.stream) else {
            return;
        };
        stream.link(&origin.iname).reached(now);
        for msg in msgs {
            if let Some(seq) = self.copy(&origin.stream, &origin.iname, msg, now) {
                self.copy_onwards(vec![(origin.stream.clone(), seq)], now);
            }
        }
        if let (Some(last), Some(stream)) = (msgs.last(), self.streams.get_mut(&origin.stream)) {
            stream.read_up_to(&origin.iname, last.seq);
        }
    }

    /// What reading an external origin came to: `None` when nothing answers at its API
    /// prefix, else its JetStream's refusal if any.
    pub fn external_link(&mut self, origin: &ExternalOrigin, outcome: Option<ApiError>) {
        let Some(stream) = self.streams.get_mut(&origin.stream) else {
            return;
        };
        let link = stream.link(&origin.iname);
        match outcome {
            None => link.lost(),
            Some(e) => link.failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_report_heartbeat_activity() {
        let mut link = Link::default();
        assert_eq!(link.info("O", None, 5).active, -1);
        link.reached(1_000);
        link.reached(2_000);
        assert_eq!(link.info("O", None, 2_500_001_000).active, 500_000_000);
        link.copied(3_000_000_000);
        assert_eq!(link.info("O", None, 3_000_000_700).active, 700);
        // Gone: the time since it was last heard grows, as the reference's does.
        link.failed(ApiError::stream_not_found());
        let info = link.info("O", None, 5_000_000_000);
        let error = info.error.map(|e| e.err_code);
        assert_eq!((info.active, error), (2_000_000_000, Some(10059)));
        link.reached(6_000_000_000);
        assert_eq!(link.info("O", None, 6_000_000_100).active, 100);
        assert_eq!(Link::default().info("O", None, 9).active, -1);
    }

    #[test]
    fn names_hash_as_the_reference() {
        // From the reference's Nats-Stream-Source header for this API prefix.
        assert_eq!(name_hash("$JS.ORDERS.API"), "GPdkRwpG");
    }
}
