//! A stream held in memory (`storage: memory`).
//!
//! Messages sit in a map ordered by sequence; each subject keeps the set of its sequences,
//! for `max_msgs_per_subject`, last-by-subject lookups and per-subject purges. Ordered maps
//! throughout, so iteration (and everything built on it) is deterministic.
//!
//! What is kept of each message is an [`Entry`]: the whole message for a memory stream;
//! for the file store, which keeps this store as its index, only the subject, time and
//! size, the payloads staying on disk. Everything here (limits, expiry, purges, state,
//! lookups by subject) needs no more than that, so both share this one implementation.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::headers::{ttl, Ttl};
use super::store::{msg_size, Discard, Limits, Store, StoreError, StoreState, StoredMsg};
use crate::subject::{is_valid_literal_subject, matches};

/// What the store keeps of one message.
pub trait Entry: Clone + std::fmt::Debug {
    /// The entry of a message being stored; `subject` is shared with the messages before
    /// it on the same subject.
    fn new(seq: u64, subject: Bytes, headers: &[u8], data: &[u8], time: u64) -> Self;
    fn subject(&self) -> &Bytes;
    fn time(&self) -> u64;
    /// The size it is accounted at (`max_bytes`, `bytes` in the state).
    fn size(&self) -> u64;
}

impl Entry for StoredMsg {
    fn new(seq: u64, subject: Bytes, headers: &[u8], data: &[u8], time: u64) -> StoredMsg {
        StoredMsg {
            seq,
            subject,
            headers: Bytes::copy_from_slice(headers),
            data: Bytes::copy_from_slice(data),
            time,
        }
    }

    fn subject(&self) -> &Bytes {
        &self.subject
    }

    fn time(&self) -> u64 {
        self.time
    }

    fn size(&self) -> u64 {
        msg_size(&self.subject, &self.headers, &self.data)
    }
}

#[derive(Clone, Debug)]
pub struct MemStore<M = StoredMsg> {
    limits: Limits,
    msgs: BTreeMap<u64, M>,
    subjects: BTreeMap<Bytes, BTreeSet<u64>>,
    bytes: u64,
    /// The sequence the next message gets.
    next_seq: u64,
    /// When the last message was stored (kept when the stream empties, as the reference's
    /// state shows it).
    last_time: u64,
    /// Sequences removed since [`MemStore::take_removed`] was last called, when journaling
    /// is on: the file store wraps a memory store and writes a record for each.
    removed: Option<Vec<u64>>,
    /// Messages with a time to live of their own (`Nats-TTL`): (expiry, sequence), and
    /// each one's expiry by sequence.
    ttls: BTreeSet<(u64, u64)>,
    expiry_of: BTreeMap<u64, u64>,
    /// Messages that never expire, not even by `max_age`.
    immortal: BTreeSet<u64>,
}

impl MemStore {
    pub fn new(limits: Limits) -> MemStore {
        MemStore::empty(limits)
    }
}

impl<M: Entry> MemStore<M> {
    /// An empty store keeping `M` of each message.
    pub fn empty(limits: Limits) -> MemStore<M> {
        MemStore::restore(limits, [], 1, 0)
    }

    /// A store holding `entries` (sequence, entry, its `Nats-TTL` if valid) as recovered
    /// from disk, whose next sequence is `next_seq` and last message was stored at
    /// `last_time`. Limits are not applied: the caller does, through
    /// [`MemStore::set_limits`], so what they discard is seen.
    pub(crate) fn restore(
        limits: Limits,
        entries: impl IntoIterator<Item = (u64, M, Option<Ttl>)>,
        next_seq: u64,
        last_time: u64,
    ) -> MemStore<M> {
        let mut s = MemStore {
            limits,
            msgs: BTreeMap::new(),
            subjects: BTreeMap::new(),
            bytes: 0,
            next_seq,
            last_time,
            removed: None,
            ttls: BTreeSet::new(),
            expiry_of: BTreeMap::new(),
            immortal: BTreeSet::new(),
        };
        for (seq, entry, ttl) in entries {
            s.bytes += entry.size();
            s.subjects
                .entry(entry.subject().clone())
                .or_default()
                .insert(seq);
            s.note_ttl(seq, entry.time(), ttl);
            s.msgs.insert(seq, entry);
        }
        s
    }

    /// Remembers when a message with a `Nats-TTL` of its own expires.
    fn note_ttl(&mut self, seq: u64, time: u64, ttl: Option<Ttl>) {
        match ttl {
            Some(Ttl::After(nanos)) => {
                let at = time.saturating_add(nanos);
                self.ttls.insert((at, seq));
                self.expiry_of.insert(seq, at);
            }
            Some(Ttl::Never) => {
                self.immortal.insert(seq);
            }
            None => {}
        }
    }

    /// The subject as a shared copy: the one already held for it, if any, so messages on
    /// one subject keep one allocation of it.
    pub(crate) fn intern(&self, subject: &[u8]) -> Bytes {
        self.subjects
            .get_key_value(subject)
            .map_or_else(|| Bytes::copy_from_slice(subject), |(s, _)| s.clone())
    }

    /// Starts recording removed sequences for [`MemStore::take_removed`].
    pub(crate) fn journal_removals(&mut self) {
        self.removed.get_or_insert_with(Vec::new);
    }

    /// The sequences removed since the last call, in the order they went.
    pub(crate) fn take_removed(&mut self) -> Vec<u64> {
        self.removed
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn first_seq(&self) -> Option<u64> {
        self.msgs.keys().next().copied()
    }

    /// Whether one more message of `size` bytes on `subject` fits without discarding.
    fn refusal(&self, subject: &[u8], size: u64) -> Option<StoreError> {
        let l = &self.limits;
        if l.max_bytes.is_some_and(|max| size > max) {
            return Some(StoreError::TooLarge);
        }
        if l.discard != Discard::New {
            return None;
        }
        if l.max_msgs.is_some_and(|max| self.msgs.len() as u64 >= max) {
            return Some(StoreError::MaxMsgs);
        }
        if l.max_bytes.is_some_and(|max| self.bytes + size > max) {
            return Some(StoreError::MaxBytes);
        }
        let held = self.subjects.get(subject).map_or(0, |s| s.len() as u64);
        if l.discard_new_per_subject && l.max_msgs_per_subject.is_some_and(|max| held >= max) {
            return Some(StoreError::MaxMsgsPerSubject);
        }
        None
    }

    /// Discards the oldest messages until every limit holds.
    fn enforce(&mut self) {
        if let Some(max) = self.limits.max_msgs_per_subject {
            let over: Vec<u64> = self
                .subjects
                .values()
                .filter(|seqs| seqs.len() as u64 > max)
                .flat_map(|seqs| seqs.iter().take(seqs.len() - max as usize).copied())
                .collect();
            for seq in over {
                self.remove(seq);
            }
        }
        while self
            .limits
            .max_msgs
            .is_some_and(|max| self.msgs.len() as u64 > max)
            || self.limits.max_bytes.is_some_and(|max| self.bytes > max)
        {
            let Some(first) = self.first_seq() else { break };
            self.remove(first);
        }
    }

    /// See [`Store::store`].
    pub fn store(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        time: u64,
    ) -> Result<u64, StoreError> {
        let seq = self.next_seq;
        let entry = M::new(seq, self.intern(subject), headers, data, time);
        if let Some(refused) = self.refusal(subject, entry.size()) {
            return Err(refused);
        }
        self.next_seq += 1;
        self.last_time = time;
        self.subjects
            .entry(entry.subject().clone())
            .or_default()
            .insert(seq);
        self.bytes += entry.size();
        if !headers.is_empty() {
            self.note_ttl(seq, time, ttl(headers).and_then(Result::ok));
        }
        self.msgs.insert(seq, entry);
        self.enforce();
        Ok(seq)
    }

    /// What is kept of message `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&M> {
        self.msgs.get(&seq)
    }

    /// The first message at or after `start` whose subject matches `filter`.
    pub fn next_matching(&self, filter: &[u8], start: u64) -> Option<(u64, &M)> {
        self.msgs
            .range(start..)
            .find(|(_, m)| matches(filter, m.subject()))
            .map(|(&seq, m)| (seq, m))
    }

    /// See [`Store::seq_from_time`].
    pub fn seq_from_time(&self, time: u64) -> Option<u64> {
        self.msgs
            .iter()
            .find(|(_, m)| m.time() >= time)
            .map(|(&seq, _)| seq)
    }

    /// See [`Store::last_seq`]. A subject without wildcards is looked up directly.
    pub fn last_seq(&self, filter: &[u8]) -> Option<u64> {
        if is_valid_literal_subject(filter) {
            return self.subjects.get(filter)?.last().copied();
        }
        self.subjects
            .iter()
            .filter(|(subject, _)| matches(filter, subject))
            .filter_map(|(_, seqs)| seqs.last())
            .max()
            .copied()
    }

    /// See [`Store::remove`].
    pub fn remove(&mut self, seq: u64) -> bool {
        let Some(msg) = self.msgs.remove(&seq) else {
            return false;
        };
        if let Some(at) = self.expiry_of.remove(&seq) {
            self.ttls.remove(&(at, seq));
        }
        self.immortal.remove(&seq);
        self.bytes -= msg.size();
        if let Some(removed) = &mut self.removed {
            removed.push(seq);
        }
        if let Some(seqs) = self.subjects.get_mut(msg.subject()) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.subjects.remove(msg.subject());
            }
        }
        true
    }

    /// See [`Store::purge`].
    pub fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64 {
        let keep = keep.filter(|&k| k > 0);
        let doomed: Vec<u64> = match filter {
            Some(filter) => {
                let mut seqs: Vec<u64> = self
                    .subjects
                    .iter()
                    .filter(|(subject, _)| matches(filter, subject))
                    .flat_map(|(_, seqs)| seqs.iter().copied())
                    .filter(|&seq| upto.is_none_or(|upto| seq < upto))
                    .collect();
                seqs.sort_unstable();
                let spare = keep.map_or(0, |k| k.min(seqs.len() as u64)) as usize;
                seqs.truncate(seqs.len() - spare);
                seqs
            }
            None => {
                // The reference compacts the stream below `last - keep + 1`: it spares the
                // newest `keep` sequences, which hold fewer messages when some were deleted.
                let upto = match keep {
                    Some(k) if k >= self.msgs.len() as u64 => return 0,
                    Some(k) => Some(self.next_seq - k),
                    None => upto,
                };
                // Past the end, the reference also makes `upto` the next sequence.
                if let Some(upto) = upto {
                    self.next_seq = self.next_seq.max(upto);
                }
                self.msgs
                    .keys()
                    .take_while(|&&seq| upto.is_none_or(|upto| seq < upto))
                    .copied()
                    .collect()
            }
        };
        for &seq in &doomed {
            self.remove(seq);
        }
        doomed.len() as u64
    }

    /// See [`Store::expire`].
    pub fn expire(&mut self, now: u64) -> u64 {
        let mut old: Vec<u64> = self
            .ttls
            .iter()
            .take_while(|&&(at, _)| at <= now)
            .map(|&(_, seq)| seq)
            .collect();
        if let Some(max_age) = self.limits.max_age {
            let cutoff = now.saturating_sub(max_age);
            old.extend(
                self.msgs
                    .iter()
                    .take_while(|(_, m)| m.time() <= cutoff)
                    .map(|(&seq, _)| seq)
                    .filter(|seq| {
                        !self.immortal.contains(seq) && !self.expiry_of.contains_key(seq)
                    }),
            );
        }
        for &seq in &old {
            self.remove(seq);
        }
        old.len() as u64
    }

    /// See [`Store::next_expiry`].
    pub fn next_expiry(&self) -> Option<u64> {
        let own = self.ttls.first().map(|&(at, _)| at);
        let by_age = self.limits.max_age.and_then(|max_age| {
            let (_, first) = self.msgs.iter().find(|(seq, _)| {
                !self.immortal.contains(seq) && !self.expiry_of.contains_key(seq)
            })?;
            Some(first.time() + max_age)
        });
        own.into_iter().chain(by_age).min()
    }

    /// See [`Store::set_limits`].
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.enforce();
    }

    /// See [`Store::skip_to`].
    pub fn skip_to(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }

    /// See [`Store::state`].
    pub fn state(&self) -> StoreState {
        let last_seq = self.next_seq - 1;
        let (first_seq, first_time) = match self.msgs.iter().next() {
            Some((&seq, m)) => (seq, m.time()),
            // A stream that never held a message reports 0, one emptied since the next.
            None if self.next_seq == 1 => (0, 0),
            None => (self.next_seq, 0),
        };
        let span = if self.msgs.is_empty() {
            0
        } else {
            last_seq - first_seq + 1
        };
        StoreState {
            msgs: self.msgs.len() as u64,
            bytes: self.bytes,
            first_seq,
            first_time,
            last_seq,
            last_time: self.last_time,
            num_deleted: span - self.msgs.len() as u64,
            num_subjects: self.subjects.len() as u64,
        }
    }

    /// See [`Store::count_matching`]: from the subjects' sequence sets, every message at
    /// or after `start` when any filter is `>`.
    pub fn count_matching(&self, filters: &[&str], start: u64) -> u64 {
        if filters.contains(&">") {
            return match self.msgs.first_key_value() {
                Some((&first, _)) if first >= start => self.msgs.len() as u64,
                _ => self.msgs.range(start..).count() as u64,
            };
        }
        self.subjects
            .iter()
            .filter(|(subject, _)| filters.iter().any(|f| matches(f.as_bytes(), subject)))
            .map(|(_, seqs)| seqs.range(start..).count() as u64)
            .sum()
    }

    /// See [`Store::subjects`].
    pub fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        self.subjects
            .iter()
            .filter(|(subject, _)| matches(filter, subject))
            .map(|(subject, seqs)| (subject.clone(), seqs.len() as u64))
            .collect()
    }
}

/// A memory stream: the store's own methods, with the whole message at hand.
impl Store for MemStore {
    fn store(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        time: u64,
    ) -> Result<u64, StoreError> {
        MemStore::store(self, subject, headers, data, time)
    }

    fn skip_to(&mut self, seq: u64) {
        MemStore::skip_to(self, seq)
    }

    fn load(&self, seq: u64) -> Option<StoredMsg> {
        self.get(seq).cloned()
    }

    fn load_next(&self, filter: &[u8], start: u64) -> Option<StoredMsg> {
        self.next_matching(filter, start).map(|(_, m)| m.clone())
    }

    fn load_last(&self, filter: &[u8]) -> Option<StoredMsg> {
        self.load(MemStore::last_seq(self, filter)?)
    }

    fn holds(&self, seq: u64) -> bool {
        self.get(seq).is_some()
    }

    fn seq_from_time(&self, time: u64) -> Option<u64> {
        MemStore::seq_from_time(self, time)
    }

    fn last_seq(&self, filter: &[u8]) -> Option<u64> {
        MemStore::last_seq(self, filter)
    }

    fn remove(&mut self, seq: u64) -> bool {
        MemStore::remove(self, seq)
    }

    fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64 {
        MemStore::purge(self, filter, upto, keep)
    }

    fn expire(&mut self, now: u64) -> u64 {
        MemStore::expire(self, now)
    }

    fn next_expiry(&self) -> Option<u64> {
        MemStore::next_expiry(self)
    }

    fn set_limits(&mut self, limits: Limits) {
        MemStore::set_limits(self, limits)
    }

    fn state(&self) -> StoreState {
        MemStore::state(self)
    }

    fn count_matching(&self, filters: &[&str], start: u64) -> u64 {
        MemStore::count_matching(self, filters, start)
    }

    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        MemStore::subjects(self, filter)
    }
}

#[cfg(test)]
mod tests;
