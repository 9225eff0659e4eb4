//! A stream held in memory (`storage: memory`).
//!
//! Messages sit in a map ordered by sequence; each subject keeps the set of its sequences,
//! for `max_msgs_per_subject`, last-by-subject lookups and per-subject purges. Ordered maps
//! throughout, so iteration (and everything built on it) is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::headers::{ttl, Ttl};
use super::store::{
    file_msg_size, msg_size, Discard, Limits, Store, StoreError, StoreState, StoredMsg,
};
use crate::subject::matches;

#[derive(Clone, Debug, Default)]
pub struct MemStore {
    limits: Limits,
    msgs: BTreeMap<u64, StoredMsg>,
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
    /// Whether messages are accounted at their file store size ([`file_msg_size`]), as
    /// when this store holds a file store's messages.
    file_sizes: bool,
    /// Messages with a time to live of their own (`Nats-TTL`): (expiry, sequence), and
    /// each one's expiry by sequence.
    ttls: BTreeSet<(u64, u64)>,
    expiry_of: BTreeMap<u64, u64>,
    /// Messages that never expire, not even by `max_age`.
    immortal: BTreeSet<u64>,
}

impl MemStore {
    pub fn new(limits: Limits) -> MemStore {
        MemStore {
            limits,
            next_seq: 1,
            ..MemStore::default()
        }
    }

    /// The same store, accounting messages at their file store size.
    pub fn with_file_sizes(mut self) -> MemStore {
        self.file_sizes = true;
        self.bytes = self.msgs.values().map(|m| self.size_of(m)).sum();
        self
    }

    fn size(&self, subject: &[u8], headers: &[u8], data: &[u8]) -> u64 {
        if self.file_sizes {
            file_msg_size(subject, headers, data)
        } else {
            msg_size(subject, headers, data)
        }
    }

    fn size_of(&self, m: &StoredMsg) -> u64 {
        self.size(&m.subject, &m.headers, &m.data)
    }

    /// A store holding `msgs` (in sequence order) as recovered from disk, whose next
    /// sequence is `next_seq` and last message was stored at `last_time`. Limits are not
    /// applied: the caller does, through [`Store::set_limits`], so what they discard is seen.
    pub(crate) fn restore(
        limits: Limits,
        msgs: impl IntoIterator<Item = StoredMsg>,
        next_seq: u64,
        last_time: u64,
    ) -> MemStore {
        let mut s = MemStore {
            limits,
            next_seq,
            last_time,
            ..MemStore::default()
        };
        for msg in msgs {
            s.bytes += msg.size();
            s.subjects
                .entry(msg.subject.clone())
                .or_default()
                .insert(msg.seq);
            s.note_ttl(&msg);
            s.msgs.insert(msg.seq, msg);
        }
        s
    }

    /// Remembers when a message with a `Nats-TTL` of its own expires.
    fn note_ttl(&mut self, msg: &StoredMsg) {
        match ttl(&msg.headers) {
            Some(Ok(Ttl::After(nanos))) => {
                let at = msg.time.saturating_add(nanos);
                self.ttls.insert((at, msg.seq));
                self.expiry_of.insert(msg.seq, at);
            }
            Some(Ok(Ttl::Never)) => {
                self.immortal.insert(msg.seq);
            }
            _ => {}
        }
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
}

impl Store for MemStore {
    fn store(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        time: u64,
    ) -> Result<u64, StoreError> {
        let size = self.size(subject, headers, data);
        if let Some(refused) = self.refusal(subject, size) {
            return Err(refused);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.last_time = time;
        let subject = Bytes::copy_from_slice(subject);
        self.subjects
            .entry(subject.clone())
            .or_default()
            .insert(seq);
        self.bytes += size;
        let msg = StoredMsg {
            seq,
            subject,
            headers: Bytes::copy_from_slice(headers),
            data: Bytes::copy_from_slice(data),
            time,
        };
        if !headers.is_empty() {
            self.note_ttl(&msg);
        }
        self.msgs.insert(seq, msg);
        self.enforce();
        Ok(seq)
    }

    fn load(&self, seq: u64) -> Option<&StoredMsg> {
        self.msgs.get(&seq)
    }

    fn load_next(&self, filter: &[u8], start: u64) -> Option<&StoredMsg> {
        self.msgs
            .range(start..)
            .map(|(_, m)| m)
            .find(|m| matches(filter, &m.subject))
    }

    fn load_last(&self, filter: &[u8]) -> Option<&StoredMsg> {
        self.subjects
            .iter()
            .filter(|(subject, _)| matches(filter, subject))
            .filter_map(|(_, seqs)| seqs.last())
            .max()
            .and_then(|seq| self.msgs.get(seq))
    }

    fn remove(&mut self, seq: u64) -> bool {
        let Some(msg) = self.msgs.remove(&seq) else {
            return false;
        };
        if let Some(at) = self.expiry_of.remove(&seq) {
            self.ttls.remove(&(at, seq));
        }
        self.immortal.remove(&seq);
        self.bytes -= self.size_of(&msg);
        if let Some(removed) = &mut self.removed {
            removed.push(seq);
        }
        if let Some(seqs) = self.subjects.get_mut(&msg.subject) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.subjects.remove(&msg.subject);
            }
        }
        true
    }

    fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64 {
        let below = |seq: u64| upto.is_none_or(|upto| seq < upto);
        let doomed: Vec<u64> = match filter {
            Some(filter) => self
                .subjects
                .iter()
                .filter(|(subject, _)| matches(filter, subject))
                .flat_map(|(_, seqs)| {
                    let spare = keep.map_or(0, |k| k.min(seqs.len() as u64)) as usize;
                    seqs.iter().take(seqs.len() - spare).copied()
                })
                .filter(|&seq| below(seq))
                .collect(),
            None => {
                let spare = keep.map_or(0, |k| k.min(self.msgs.len() as u64)) as usize;
                self.msgs
                    .keys()
                    .take(self.msgs.len() - spare)
                    .copied()
                    .filter(|&seq| below(seq))
                    .collect()
            }
        };
        for &seq in &doomed {
            self.remove(seq);
        }
        doomed.len() as u64
    }

    fn expire(&mut self, now: u64) -> u64 {
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
                    .values()
                    .take_while(|m| m.time <= cutoff)
                    .filter(|m| {
                        !self.immortal.contains(&m.seq) && !self.expiry_of.contains_key(&m.seq)
                    })
                    .map(|m| m.seq),
            );
        }
        for &seq in &old {
            self.remove(seq);
        }
        old.len() as u64
    }

    fn next_expiry(&self) -> Option<u64> {
        let own = self.ttls.first().map(|&(at, _)| at);
        let by_age = self.limits.max_age.and_then(|max_age| {
            let first = self.msgs.values().find(|m| {
                !self.immortal.contains(&m.seq) && !self.expiry_of.contains_key(&m.seq)
            })?;
            Some(first.time + max_age)
        });
        own.into_iter().chain(by_age).min()
    }

    fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.enforce();
    }

    fn skip_to(&mut self, seq: u64) {
        self.next_seq = self.next_seq.max(seq);
    }

    fn state(&self) -> StoreState {
        let last_seq = self.next_seq - 1;
        let (first_seq, first_time) = match self.msgs.values().next() {
            Some(m) => (m.seq, m.time),
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

    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)> {
        self.subjects
            .iter()
            .filter(|(subject, _)| matches(filter, subject))
            .map(|(subject, seqs)| (subject.clone(), seqs.len() as u64))
            .collect()
    }
}

#[cfg(test)]
mod tests;
