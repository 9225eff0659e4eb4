//! What every message store does: append with sequence numbers, enforce the stream's
//! limits (discarding old messages or refusing new ones), look messages up, delete and
//! purge them, and report its state. The memory store and the file store implement it, so
//! a stream behaves the same whichever one holds it.

use bytes::Bytes;

use super::filestore::{Corruption, FileOp};

/// Stream limits a store enforces. `None` means unlimited (the reference's `-1`); `max_age`
/// and timestamps are nanoseconds of wall-clock time given by the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_msgs: Option<u64>,
    pub max_bytes: Option<u64>,
    pub max_age: Option<u64>,
    pub max_msgs_per_subject: Option<u64>,
    pub discard: Discard,
    /// With [`Discard::New`], also refuse a message that would exceed
    /// `max_msgs_per_subject` (otherwise that limit always discards old messages).
    pub discard_new_per_subject: bool,
}

/// What happens when a limit is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Discard {
    /// Drop the oldest messages to make room (the default).
    #[default]
    Old,
    /// Refuse the new message.
    New,
}

/// A message as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMsg {
    pub seq: u64,
    pub subject: Bytes,
    /// The header block (`NATS/1.0\r\n...`), empty when there is none.
    pub headers: Bytes,
    pub data: Bytes,
    /// When it was stored, nanoseconds since the Unix epoch.
    pub time: u64,
}

impl StoredMsg {
    /// The size the reference accounts a message at (`max_bytes`, `bytes` in the state):
    /// subject, headers and data plus 16 bytes of bookkeeping.
    pub fn size(&self) -> u64 {
        msg_size(&self.subject, &self.headers, &self.data)
    }
}

/// See [`StoredMsg::size`].
pub fn msg_size(subject: &[u8], headers: &[u8], data: &[u8]) -> u64 {
    (subject.len() + headers.len() + data.len() + 16) as u64
}

/// The size the reference's file store accounts a message at: its record on disk, 30
/// bytes of framing, 4 more for a header block.
pub fn file_msg_size(subject: &[u8], headers: &[u8], data: &[u8]) -> u64 {
    let framing = if headers.is_empty() { 30 } else { 34 };
    (subject.len() + headers.len() + data.len() + framing) as u64
}

/// Why a store refused a message (the stream turns each into the reference's error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// [`Discard::New`] and the stream holds `max_msgs`.
    MaxMsgs,
    /// [`Discard::New`] and the message would take the stream past `max_bytes`.
    MaxBytes,
    /// [`Discard::New`] with `discard_new_per_subject`, and the subject holds
    /// `max_msgs_per_subject`.
    MaxMsgsPerSubject,
    /// The message alone is larger than `max_bytes`.
    TooLarge,
}

/// A stream's contents in numbers, as `$JS.API.STREAM.INFO` reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreState {
    pub msgs: u64,
    pub bytes: u64,
    /// The first sequence still held (`last_seq + 1` when empty).
    pub first_seq: u64,
    pub first_time: u64,
    pub last_seq: u64,
    pub last_time: u64,
    /// Sequences between first and last that were deleted.
    pub num_deleted: u64,
    pub num_subjects: u64,
}

/// A message store.
pub trait Store {
    /// Appends a message stored at `time`; its sequence number. Messages past the limits
    /// are discarded first ([`Discard::Old`]) or the message is refused ([`Discard::New`]).
    fn store(
        &mut self,
        subject: &[u8],
        headers: &[u8],
        data: &[u8],
        time: u64,
    ) -> Result<u64, StoreError>;

    /// Makes `seq` the sequence of the next message, if it is beyond the next one: the
    /// ones between are never used (a mirror keeps its origin's sequence numbers).
    fn skip_to(&mut self, seq: u64);

    /// The message with sequence `seq`, if held (and, for a store that reads it back from
    /// disk, readable: see [`Store::take_faults`]). Owned, as a file store may have read it
    /// just now; its parts are shared slices, cheap to clone.
    fn load(&self, seq: u64) -> Option<StoredMsg>;

    /// The first message at or after `start` whose subject matches `filter` (a subject
    /// pattern; `>` for all).
    fn load_next(&self, filter: &[u8], start: u64) -> Option<StoredMsg>;

    /// The last message whose subject matches `filter`.
    fn load_last(&self, filter: &[u8]) -> Option<StoredMsg>;

    /// The sequence of the last message whose subject matches `filter`, without reading
    /// it.
    fn last_seq(&self, filter: &[u8]) -> Option<u64>;

    /// Whether message `seq` is held, without reading it.
    fn holds(&self, seq: u64) -> bool;

    /// The first message held, in sequence order, stored at or after `time`, without
    /// reading the ones before: every message before it is older.
    fn seq_from_time(&self, time: u64) -> Option<u64>;

    /// Removes one message; whether it was held.
    fn remove(&mut self, seq: u64) -> bool;

    /// Removes messages, as the reference's purge options `filter`, `seq` and `keep` say:
    /// those whose subject matches `filter` (all when `None`), only those below sequence
    /// `upto` when given, sparing the newest `keep` matching messages (with a filter) or the
    /// newest `keep` sequences (without one). Without a filter, an `upto` beyond the last
    /// sequence becomes the next one. How many were removed.
    fn purge(&mut self, filter: Option<&[u8]>, upto: Option<u64>, keep: Option<u64>) -> u64;

    /// Removes the messages older than `max_age` at `now`; how many.
    fn expire(&mut self, now: u64) -> u64;

    /// When the oldest message will be too old, if `max_age` is set and anything is held.
    fn next_expiry(&self) -> Option<u64>;

    /// Changes the limits (a stream update), applying them at once.
    fn set_limits(&mut self, limits: Limits);

    fn state(&self) -> StoreState;

    /// How many messages at or after `start` match any of `filters` (subject patterns;
    /// `>` for all), counted from the index without reading any of them: a consumer
    /// created on a large file stream must not read the stream through to learn it.
    fn count_matching(&self, filters: &[&str], start: u64) -> u64;

    /// How many messages each subject matching `filter` holds, by subject.
    fn subjects(&self, filter: &[u8]) -> Vec<(Bytes, u64)>;

    /// What to write to disk for the changes since the last call, in order; nothing for a
    /// store that keeps nothing on disk. They go out in write batch `batch`.
    fn take_ops(&mut self, _batch: u64) -> Vec<FileOp> {
        Vec::new()
    }

    /// Every write batch up to `batch` is on disk: what they carry may now be read back
    /// from there instead of being kept in memory.
    fn written(&mut self, _batch: u64) {}

    /// Damage found since the last call in data read back from disk; the messages it hit
    /// were not served.
    fn take_faults(&mut self) -> Vec<Corruption> {
        Vec::new()
    }
}
