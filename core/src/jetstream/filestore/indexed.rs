//! What the file store keeps in memory of each message: enough for limits, expiry,
//! purges, state and lookups by subject, none of the payload, which stays on disk.

use bytes::Bytes;

use crate::jetstream::memstore::Entry;
use crate::jetstream::store::file_msg_size;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Indexed {
    /// Shared with the other messages on the subject.
    pub subject: Bytes,
    pub time: u64,
    /// As the reference's file store accounts it ([`file_msg_size`]).
    pub size: u64,
}

impl Entry for Indexed {
    fn new(_seq: u64, subject: Bytes, headers: &[u8], data: &[u8], time: u64) -> Indexed {
        let size = file_msg_size(&subject, headers, data);
        Indexed {
            subject,
            time,
            size,
        }
    }

    fn subject(&self) -> &Bytes {
        &self.subject
    }

    fn time(&self) -> u64 {
        self.time
    }

    fn size(&self) -> u64 {
        self.size
    }
}
