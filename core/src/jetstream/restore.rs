//! `$JS.API.STREAM.RESTORE.<stream>`: a stream brought back from a snapshot's archive
//! (see [`super::archive`]), as the reference takes it: the answer names a deliver
//! subject `$JS.SNAPSHOT.RESTORE.<stream>.<id>`, the client sends the archive there in
//! chunks, each with a reply that gets an empty message once the chunk is taken, and an
//! empty chunk ends it; its reply gets the new stream's info, or the error.
//!
//! The reference stages the archive in a temporary file and builds the stream at the end.
//! rnats reads each chunk as it comes and stores its messages at once, into a store that
//! is not yet a stream: a file store writes (and pages out) its blocks in the stream's
//! directory as any stream's, so a restore holds no more than a record in memory beyond
//! what the store keeps. The directory only becomes a stream when its `meta.json` is
//! written, after everything else, once the archive proved complete; a restore that fails,
//! stalls or is cut short by a crash leaves no stream behind.
//!
//! As in the reference, the stream takes the configuration of the request (the archive's
//! must name the same stream) and the archive's messages, sequences, creation time and
//! consumers; a restore that sees no chunk for [`INACTIVE`] is dropped without an answer.

use serde::Deserialize;

use super::advisory::Transfer;
use super::api::{answer, error_answer, is_empty_request, JetStream};
use super::api_error::ApiError;
use super::archive::{ArchivedConsumer, ArchivedStream, End, Item, Reader};
use super::config::{Storage, StreamConfig};
use super::consumer::config::is_valid_consumer_name;
use super::consumer::{Consumer, Delivery};
use super::store::{Limits, Store};
use super::stream::Stream;

/// How long a restore waits for its next chunk, the reference's `activityInterval`:
/// nanoseconds.
pub const INACTIVE: u64 = 5_000_000_000;

const DELIVER_PREFIX: &str = "$JS.SNAPSHOT.RESTORE.";

#[derive(Deserialize, Default)]
#[serde(default)]
struct RestoreRequest {
    config: StreamConfig,
    // `state`, the stream's state when the snapshot was taken, is for the client only.
}

/// A restore receiving its archive.
pub(super) struct Restore {
    /// The request's configuration, checked: the stream's once restored.
    pub(super) config: StreamConfig,
    /// The archive's messages so far, stored without limits until the stream applies its
    /// own at the end (as the reference updates the restored stream to the request's).
    pub(super) store: Box<dyn Store + Send>,
    reader: Reader,
    archived: Option<ArchivedStream>,
    consumers: Vec<ArchivedConsumer>,
    end: Option<End>,
    /// Archive bytes received.
    total: u64,
    /// When the last chunk came.
    active: u64,
    /// When it started, for its advisory.
    started: u64,
}

impl Restore {
    /// Reads the next chunk of the archive into the store.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), String> {
        let Restore {
            config,
            store,
            reader,
            archived,
            consumers,
            end,
            ..
        } = self;
        reader.feed(chunk, |item| {
            match item {
                Item::Stream(s) if s.config.name != config.name => {
                    return Err("stream names do not match".into())
                }
                Item::Stream(s) => *archived = Some(*s),
                Item::Msg(m) => {
                    store.skip_to(m.seq);
                    let seq = store
                        .store(&m.subject, &m.headers, &m.data, m.time)
                        .map_err(|e| format!("message {} not stored: {e:?}", m.seq))?;
                    if seq != m.seq {
                        return Err(format!("message {} stored as {seq}", m.seq));
                    }
                }
                Item::Consumer(mut c) => {
                    // Its name becomes a directory name; its configuration must suit the
                    // stream as restored, as for any consumer made on it.
                    let checked = match is_valid_consumer_name(&c.name) {
                        true => c
                            .config
                            .check_and_default(config)
                            .map_err(|e| e.description),
                        false => Err("invalid name".into()),
                    };
                    if let Err(why) = checked {
                        return Err(format!("error restoring consumer [{:?}]: {why}", c.name));
                    }
                    consumers.push(*c)
                }
                Item::End(e) => *end = Some(e),
            }
            Ok(())
        })
    }

    /// Makes the store's last sequence and its time the archive's, when they lie past its
    /// last message (the newest messages were deleted): a placeholder is stored there and
    /// removed at once, which the store records as it records any removal, so they
    /// survive a restart too.
    fn restore_last(&mut self, end: &End) {
        if end.last_seq <= self.store.state().last_seq {
            return;
        }
        self.store.skip_to(end.last_seq);
        if let Ok(seq) = self.store.store(b"_", b"", b"", end.last_time) {
            self.store.remove(seq);
        }
    }
}

impl JetStream {
    /// Starts a restore into stream `name`; its answer, as the reference's.
    pub(super) fn restore(
        &mut self,
        name: &str,
        body: &[u8],
        now: u64,
    ) -> Result<String, (&'static str, ApiError)> {
        const KIND: &str = "stream_restore_response";
        if is_empty_request(body) {
            return Err((KIND, ApiError::bad_request()));
        }
        let req: RestoreRequest =
            serde_json::from_slice(body).map_err(|_| (KIND, ApiError::invalid_json()))?;
        let mut config = req.config;
        // As the reference: a nameless configuration is the subject's stream; a named one
        // is restored under its own name.
        if config.name.is_empty() {
            config.name = name.to_string();
        }
        config.check_and_default().map_err(|e| (KIND, e))?;
        let max = self.limits.max_streams;
        if max >= 0 && (self.streams.len() + self.restores.len()) as i64 >= max {
            return Err((KIND, ApiError::maximum_streams()));
        }
        let name = config.name.clone();
        if self.streams.contains_key(&name) || self.restoring(&name) {
            return Err((KIND, ApiError::stream_name_exist_restore_failed()));
        }
        let mut store = (self.new_store)(&config).map_err(|e| (KIND, e))?;
        store.set_limits(Limits::default());
        let deliver = format!("{DELIVER_PREFIX}{name}.{}", self.rng.alphanumeric(22));
        // Whatever an earlier restore cut short by a crash left there goes first.
        self.dir_removed(&config);
        let restore = Restore {
            config,
            store,
            reader: Reader::default(),
            archived: None,
            consumers: Vec::new(),
            end: None,
            total: 0,
            active: now,
            started: now,
        };
        self.transfer_action(&name, Transfer::RestoreCreate, now);
        self.restores.insert(deliver.clone(), restore);
        Ok(answer(
            KIND,
            serde_json::json!({ "deliver_subject": deliver }),
        ))
    }

    /// A chunk of a restore's archive, published to its deliver subject with `reply`;
    /// whether a stream was restored.
    pub(super) fn on_restore_chunk(
        &mut self,
        subject: &str,
        reply: Option<&[u8]>,
        chunk: &[u8],
        now: u64,
    ) -> bool {
        let Some(mut r) = self.restores.remove(subject) else {
            return false;
        };
        r.active = now;
        let taken = match reply {
            None => Err(format!(
                "restore for stream '{}' requires reply subject for each chunk",
                r.config.name
            )),
            Some(reply) if chunk.is_empty() => return self.finish_restore(r, reply, now),
            Some(_) => self.take_chunk(&mut r, chunk),
        };
        match taken {
            Ok(()) => {
                let reply = reply.expect("checked above");
                self.outbox.push(Delivery::answer(reply, String::new()));
                self.restores.insert(subject.to_string(), r);
            }
            Err(why) => self.abandon(r, reply, &why, now),
        }
        false
    }

    /// Reads a chunk into the restore, within the account's storage limit.
    fn take_chunk(&self, r: &mut Restore, chunk: &[u8]) -> Result<(), String> {
        r.total += chunk.len() as u64;
        let (memory, storage) = self.usage();
        let (used, max) = match r.config.storage {
            Storage::Memory => (memory, self.limits.max_memory),
            Storage::File => (storage, self.limits.max_storage),
        };
        if max >= 0 && used + r.total > max as u64 {
            return Err("insufficient resources".into());
        }
        r.feed(chunk)
    }

    /// The archive of restore `r` ended: if it is all there, its stream joins the others
    /// and is written out (its `meta.json` last), and `reply` gets its info once that is
    /// durable.
    fn finish_restore(&mut self, mut r: Restore, reply: &[u8], now: u64) -> bool {
        let checked = r.reader.finish().and_then(|()| {
            match self
                .streams
                .values()
                .any(|s| s.config().overlaps(&r.config))
            {
                true => Err(ApiError::subjects_overlap().description),
                false => Ok(()),
            }
        });
        if let Err(why) = checked {
            self.abandon(r, Some(reply), &why, now);
            return false;
        }
        let ended = Transfer::RestoreComplete(r.started, r.total);
        let archived = r
            .archived
            .take()
            .expect("a complete archive names its stream");
        let end = r.end.expect("a complete archive has its end");
        r.restore_last(&end);
        let name = r.config.name.clone();
        let mut stream = Stream::new(r.config, r.store, archived.created);
        stream.recover_dedupe(now);
        stream.recover_sourced();
        for c in r.consumers {
            let consumer =
                Consumer::restore(&name, c.name.clone(), c.config, c.created, c.state, now);
            stream.consumers.insert(c.name, consumer);
        }
        self.streams.insert(name.clone(), stream);
        self.stream_restored(&name);
        let mut info = self.stream_info(&self.streams[&name], now);
        // The reference answers with configuration, creation time and state only.
        info.domain = None;
        info.mirror = None;
        info.sources = Vec::new();
        let fields = serde_json::to_value(info).expect("info serializes");
        let json = answer("stream_create_response", fields);
        self.outbox.push(Delivery::answer(reply, json));
        self.transfer_action(&name, ended, now);
        true
    }

    /// Ends restore `r` for `why`, removing what it wrote; `reply` hears why.
    fn abandon(&mut self, r: Restore, reply: Option<&[u8]>, why: &str, now: u64) {
        self.dir_removed(&r.config);
        let ended = Transfer::RestoreComplete(r.started, r.total);
        self.transfer_action(&r.config.name, ended, now);
        if let Some(reply) = reply {
            let json = error_answer("stream_create_response", &ApiError::restore_failed(why));
            self.outbox.push(Delivery::answer(reply, json));
        }
    }

    /// Drops the restores that saw no chunk for [`INACTIVE`], as the reference does:
    /// without a word to the client, which has stopped sending, nor an advisory.
    pub(super) fn expire_restores(&mut self, now: u64) {
        let stalled: Vec<String> = self
            .restores
            .iter()
            .filter(|(_, r)| now.saturating_sub(r.active) >= INACTIVE)
            .map(|(key, _)| key.clone())
            .collect();
        for key in stalled {
            let r = self.restores.remove(&key).expect("listed above");
            self.dir_removed(&r.config);
        }
    }

    /// Whether a restore into stream `name` is under way: the name is taken, as its
    /// directory is (the reference would let a create take it and fail the restore at
    /// its end; here both would write the same files).
    pub(super) fn restoring(&self, name: &str) -> bool {
        self.restores.values().any(|r| r.config.name == name)
    }

    /// When the next restore stalls, if any is under way.
    pub(super) fn restore_deadline(&self) -> Option<u64> {
        self.restores
            .values()
            .map(|r| r.active.saturating_add(INACTIVE))
            .min()
    }
}
