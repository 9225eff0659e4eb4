//! Snapshots and restores through one account's JetStream: requests in, chunks and acks
//! out, the restored stream compared with the original, also after a restart from what
//! it wrote to disk.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::*;
use crate::jetstream::config::StreamConfig;
use crate::jetstream::filestore::{is_store_file, BlockReader, FileOp, FileStore};
use crate::jetstream::memstore::MemStore;
use crate::jetstream::persist::{ConsumerFiles, DiskOp, Paging};
use crate::jetstream::restore::INACTIVE;
use crate::jetstream::store::StoredMsg;

const NOW: u64 = 1_795_769_417_000_000_000;
const SNAP_INBOX: &str = "snap.inbox";

/// (directory, file) → bytes.
type Files = BTreeMap<(String, String), Vec<u8>>;

/// The account's directory in memory.
#[derive(Clone, Default)]
struct Disk(Arc<Mutex<Files>>);

impl BlockReader for Disk {
    fn read(&self, dir: &str, file: &str) -> io::Result<Bytes> {
        let dir = dir.strip_prefix("acc/").unwrap_or(dir);
        let files = self.0.lock().unwrap();
        let data = files.get(&(dir.to_string(), file.to_string()));
        data.map(|d| Bytes::copy_from_slice(d))
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

impl Disk {
    fn apply(&self, ops: Vec<DiskOp>) {
        let mut files = self.0.lock().unwrap();
        for op in ops {
            match op {
                DiskOp::RemoveDir { dir } => {
                    files.retain(|(d, _), _| d != &dir && !d.starts_with(&format!("{dir}/")))
                }
                DiskOp::File { dir, op } => match op {
                    FileOp::Append { file, data } => {
                        files.entry((dir, file)).or_default().extend(&data[..])
                    }
                    FileOp::Replace { file, data } => {
                        files.insert((dir, file), data.to_vec());
                    }
                    FileOp::Truncate { file, len } => {
                        if let Some(f) = files.get_mut(&(dir, file)) {
                            f.truncate(len as usize);
                        }
                    }
                    FileOp::Remove { file } => {
                        files.remove(&(dir, file));
                    }
                },
            }
        }
    }

    /// Brings back every stream with a `meta.json`, as the shell does after a restart.
    fn restart(&self) -> JetStream {
        let mut js = jetstream();
        let paging = Paging::new(Arc::new(self.clone()));
        let files = self.0.lock().unwrap().clone();
        let streams: Vec<&String> = files
            .keys()
            .filter(|(d, f)| f == "meta.json" && d.matches('/').count() == 1)
            .map(|(d, _)| d)
            .collect();
        for dir in streams {
            let blocks = files
                .keys()
                .filter(|(d, f)| d == dir && is_store_file(f))
                .map(|(_, f)| f.clone())
                .collect();
            let consumers = files
                .iter()
                .filter_map(|((d, f), meta)| {
                    let name = d.strip_prefix(&format!("{dir}/obs/"))?;
                    (f == "meta.json").then(|| ConsumerFiles {
                        name: name.to_string(),
                        meta: Bytes::from(meta.clone()),
                        state: files
                            .get(&(d.clone(), "state.json".to_string()))
                            .map(|s| Bytes::from(s.clone())),
                    })
                })
                .collect();
            let meta = &files[&(dir.clone(), "meta.json".to_string())];
            js.recover_stream("acc", meta, blocks, &paging, consumers, NOW)
                .unwrap();
        }
        js
    }
}

fn jetstream() -> JetStream {
    JetStream::new(
        Box::new(|config: &StreamConfig| {
            Ok(match config.storage {
                Storage::Memory => Box::new(MemStore::new(config.limits())) as _,
                Storage::File => Box::new(FileStore::new(config.limits())) as _,
            })
        }),
        1,
    )
}

/// What JetStream published, advisories aside (see [`advisories`]).
fn drain(js: &mut JetStream) -> Vec<Delivery> {
    let mut out = Vec::new();
    js.drain_outbox(&mut out);
    out.retain(|d| !d.to.starts_with(ADVISORY));
    out
}

const ADVISORY: &[u8] = b"$JS.EVENT.ADVISORY.";

/// The subjects and types of the advisories JetStream published.
fn advisories(js: &mut JetStream) -> Vec<(String, String)> {
    let mut out = Vec::new();
    js.drain_outbox(&mut out);
    out.iter()
        .filter(|d| d.to.starts_with(ADVISORY))
        .map(|d| {
            let event = json(std::str::from_utf8(&d.data).unwrap());
            let subject = String::from_utf8(d.to.to_vec()).unwrap();
            (subject, event["type"].as_str().unwrap().to_string())
        })
        .collect()
}

/// The answer to a request, and whatever else JetStream published meanwhile.
fn api(js: &mut JetStream, subject: &str, body: &str) -> (String, Vec<Delivery>) {
    js.on_api(subject, Some(b"reply"), body.as_bytes(), NOW);
    let mut out = drain(js);
    let at = out
        .iter()
        .position(|d| &d.to[..] == b"reply")
        .expect("an answer");
    let answer = out.remove(at);
    (String::from_utf8(answer.data.to_vec()).unwrap(), out)
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap()
}

/// Takes a whole snapshot, acking every chunk: the answer and the archive.
fn snapshot(js: &mut JetStream, name: &str, body: &str) -> (String, Vec<u8>) {
    let (answer, out) = api(js, &format!("$JS.API.STREAM.SNAPSHOT.{name}"), body);
    (answer, acked(js, out))
}

/// Acks the chunks in `out` and every one they let through, until the end: the archive.
fn acked(js: &mut JetStream, mut out: Vec<Delivery>) -> Vec<u8> {
    let mut archive = Vec::new();
    loop {
        assert!(!out.is_empty(), "the snapshot stopped before its end");
        for chunk in std::mem::take(&mut out) {
            assert_eq!(&chunk.to[..], SNAP_INBOX.as_bytes());
            let Some(reply) = chunk.reply else {
                assert!(chunk.data.is_empty());
                return archive;
            };
            archive.extend_from_slice(&chunk.data);
            let reply = String::from_utf8(reply.to_vec()).unwrap();
            assert!(!js.on_snapshot_message(&reply, None, b"", NOW));
            out.extend(drain(js));
        }
    }
}

/// Restores `archive` into stream `name` in chunks of `chunk` bytes: the answer to the
/// end of the archive (`None` if a chunk was refused: then that refusal).
fn restore(js: &mut JetStream, name: &str, config: &str, archive: &[u8], chunk: usize) -> String {
    let body = format!(r#"{{"config":{config},"state":{{}}}}"#);
    let (answer, _) = api(js, &format!("$JS.API.STREAM.RESTORE.{name}"), &body);
    let answer = json(&answer);
    let deliver = answer["deliver_subject"]
        .as_str()
        .expect("a deliver subject");
    assert!(deliver.starts_with("$JS.SNAPSHOT.RESTORE."), "{deliver}");
    for part in archive.chunks(chunk) {
        js.on_snapshot_message(deliver, Some(b"ack"), part, NOW);
        let out = drain(js);
        assert_eq!(out.len(), 1);
        if !out[0].data.is_empty() {
            return String::from_utf8(out[0].data.to_vec()).unwrap();
        }
    }
    js.on_snapshot_message(deliver, Some(b"done"), b"", NOW);
    let out = drain(js);
    assert_eq!(&out[0].to[..], b"done");
    String::from_utf8(out[0].data.to_vec()).unwrap()
}

fn messages(js: &JetStream, name: &str) -> Vec<StoredMsg> {
    let store = js.streams[name].store();
    let mut seq = 0;
    let mut all = Vec::new();
    while let Some(m) = store.load_next(b">", seq) {
        seq = m.seq + 1;
        all.push(m);
    }
    all
}

fn info(js: &mut JetStream, name: &str) -> serde_json::Value {
    let (answer, _) = api(js, &format!("$JS.API.STREAM.INFO.{name}"), "");
    json(&answer)
}

/// A file stream with gaps at its start, middle and end, headers, and a consumer with
/// deliveries acked and pending.
fn filled() -> JetStream {
    let mut js = jetstream();
    api(
        &mut js,
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","subjects":["s.>"]}"#,
    );
    for i in 1..=20u64 {
        let headers = format!("NATS/1.0\r\nI: {i}\r\n\r\n");
        let headers = if i % 3 == 0 { "" } else { headers.as_str() };
        let subject = format!("s.{}", i % 4);
        js.publish(
            "S",
            subject.as_bytes(),
            headers.as_bytes(),
            &[i as u8; 100],
            NOW + i,
        )
        .unwrap();
    }
    for seq in [1, 7, 8, 20] {
        let body = format!(r#"{{"seq":{seq}}}"#);
        api(&mut js, "$JS.API.STREAM.MSG.DELETE.S", &body);
    }
    let consumer = r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit"}}"#;
    api(&mut js, "$JS.API.CONSUMER.DURABLE.CREATE.S.C", consumer);
    js.on_api("$JS.API.CONSUMER.MSG.NEXT.S.C", Some(b"pull"), b"5", NOW);
    let delivered = drain(&mut js);
    assert_eq!(delivered.len(), 5);
    for d in &delivered[..2] {
        let ack = String::from_utf8(d.reply.as_ref().unwrap().to_vec()).unwrap();
        js.on_ack(&ack, None, b"+ACK", NOW);
    }
    drain(&mut js);
    js
}

const REQUEST: &str = r#"{"deliver_subject":"snap.inbox","chunk_size":256}"#;
const CONFIG: &str = r#"{"name":"S","subjects":["s.>"]}"#;

#[test]
fn a_file_stream_comes_back_whole_and_survives_a_restart() {
    let mut js = filled();
    let before = info(&mut js, "S");
    let msgs = messages(&js, "S");
    let consumer = js.streams["S"].consumers["C"].state();
    assert_eq!(consumer.pending.len(), 3, "{consumer:?}");
    let (answer, archive) = snapshot(&mut js, "S", REQUEST);
    let answer = json(&answer);
    assert_eq!(
        answer["type"],
        "io.nats.jetstream.api.v1.stream_snapshot_response"
    );
    assert_eq!(answer["config"], before["config"]);
    assert_eq!(answer["state"], before["state"]);

    let disk = Disk::default();
    disk.apply(js.take_disk_ops(1));
    api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    disk.apply(js.take_disk_ops(2));
    assert!(disk.0.lock().unwrap().is_empty());

    let restored = json(&restore(&mut js, "S", CONFIG, &archive, 1000));
    assert_eq!(
        restored["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(restored["config"], before["config"]);
    assert_eq!(
        restored["state"], before["state"],
        "gaps and last sequence kept"
    );
    assert_eq!(restored["created"], before["created"]);
    assert_eq!(restored.get("did_create"), None);
    let check = |js: &mut JetStream| {
        assert_eq!(info(js, "S")["state"], before["state"]);
        assert_eq!(messages(js, "S"), msgs);
        assert_eq!(js.streams["S"].consumers["C"].state(), consumer);
    };
    check(&mut js);
    disk.apply(js.take_disk_ops(3));
    let ops = disk.0.lock().unwrap().clone();
    assert!(ops.contains_key(&("streams/S/obs/C".into(), "state.json".into())));
    check(&mut disk.restart());
}

#[test]
fn consumers_are_left_out_when_asked() {
    let mut js = filled();
    let body = r#"{"deliver_subject":"snap.inbox","no_consumers":true}"#;
    let (_, archive) = snapshot(&mut js, "S", body);
    api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    let restored = json(&restore(&mut js, "S", CONFIG, &archive, archive.len()));
    assert_eq!(restored["state"]["consumer_count"], 0);
    assert_eq!(restored["state"]["messages"], 16);
}

#[test]
fn an_emptied_stream_keeps_its_sequences() {
    let mut js = filled();
    api(&mut js, "$JS.API.STREAM.PURGE.S", "");
    let before = info(&mut js, "S")["state"].clone();
    let (_, archive) = snapshot(&mut js, "S", REQUEST);
    api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    let disk = Disk::default();
    restore(&mut js, "S", CONFIG, &archive, 64);
    assert_eq!(info(&mut js, "S")["state"], before);
    disk.apply(js.take_disk_ops(1));
    assert_eq!(info(&mut disk.restart(), "S")["state"], before);
}

#[test]
fn chunks_wait_for_acks_past_the_window() {
    let mut js = filled();
    // Its ack deadlines would come first.
    api(&mut js, "$JS.API.CONSUMER.DELETE.S.C", "");
    for i in 0..40 {
        js.publish("S", b"s.big", b"", &vec![i; 512 * 1024], NOW)
            .unwrap();
    }
    let body = r#"{"deliver_subject":"snap.inbox"}"#;
    let (_, chunks) = api(&mut js, "$JS.API.STREAM.SNAPSHOT.S", body);
    let sent: usize = chunks.iter().map(|c| c.data.len()).sum();
    assert!(chunks.iter().all(|c| c.data.len() <= DEFAULT_CHUNK));
    assert!(
        sent as u64 > WINDOW && sent as u64 <= WINDOW + DEFAULT_CHUNK as u64,
        "{sent}"
    );
    assert!(chunks.iter().all(|c| c.reply.is_some()), "no end yet");
    // Nothing more until an ack, then as much as it freed.
    js.tick(NOW + 1);
    assert!(drain(&mut js).is_empty());
    let first = String::from_utf8(chunks[0].reply.clone().unwrap().to_vec()).unwrap();
    assert_eq!(first.rsplit('.').next(), Some("1"), "{first}");
    let len: usize = first.rsplit('.').nth(1).unwrap().parse().unwrap();
    assert_eq!(len, chunks[0].data.len());
    js.on_snapshot_message(&first, None, b"", NOW + 2);
    let more = drain(&mut js);
    assert_eq!(more.len(), 1);
    // A client that stops acking is given up on: the snapshot ends, without its archive's
    // end, so what it got cannot be restored.
    assert_eq!(js.next_deadline(), Some(NOW + 2 + STALLED));
    js.tick(NOW + 2 + STALLED);
    let end = drain(&mut js);
    assert_eq!(end.len(), 1);
    assert!(end[0].data.is_empty() && end[0].reply.is_none());
    assert!(js.snapshots.is_empty());
}

#[test]
fn snapshot_requests_are_refused_as_the_reference_refuses_them() {
    let mut js = filled();
    api(
        &mut js,
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","subjects":["m"],"storage":"memory"}"#,
    );
    let refused = |js: &mut JetStream, subject: &str, body: &str| {
        let (answer, out) = api(js, subject, body);
        assert!(out.is_empty(), "no chunks");
        let answer = json(&answer);
        assert_eq!(
            answer["type"],
            "io.nats.jetstream.api.v1.stream_snapshot_response"
        );
        (
            answer["error"]["err_code"].as_u64().unwrap(),
            answer["error"]["description"].clone(),
        )
    };
    let snap = "$JS.API.STREAM.SNAPSHOT.S";
    assert_eq!(refused(&mut js, snap, "").0, 10003);
    assert_eq!(refused(&mut js, snap, "{}").0, 10003);
    assert_eq!(
        refused(&mut js, "$JS.API.STREAM.SNAPSHOT.X", REQUEST).0,
        10059
    );
    assert_eq!(refused(&mut js, snap, "{nope").0, 10025);
    assert_eq!(refused(&mut js, snap, r#"{"no_consumers":true}"#).0, 10015);
    let memory = refused(&mut js, "$JS.API.STREAM.SNAPSHOT.M", REQUEST);
    assert_eq!(memory, (10064, "snapshot failed: no impl".into()));
}

#[test]
fn restore_requests_are_refused_as_the_reference_refuses_them() {
    let mut js = filled();
    let refused = |js: &mut JetStream, name: &str, body: &str| {
        let (answer, _) = api(js, &format!("$JS.API.STREAM.RESTORE.{name}"), body);
        let answer = json(&answer);
        assert_eq!(
            answer["type"],
            "io.nats.jetstream.api.v1.stream_restore_response"
        );
        let e = &answer["error"];
        (
            e["err_code"].as_u64().unwrap(),
            e["description"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(refused(&mut js, "T", "").0, 10003);
    assert_eq!(refused(&mut js, "T", "[").0, 10025);
    let exists = refused(&mut js, "S", r#"{"config":{"subjects":["t"]}}"#);
    assert_eq!(
        exists,
        (10130, "stream name already in use, cannot restore".into())
    );
    js.limits.max_streams = 1;
    assert_eq!(refused(&mut js, "T", r#"{"config":{"name":"T"}}"#).0, 10027);
    // A restore under way holds its name, from restores and creates.
    js.limits.max_streams = -1;
    api(
        &mut js,
        "$JS.API.STREAM.RESTORE.T",
        r#"{"config":{"name":"T"}}"#,
    );
    assert_eq!(refused(&mut js, "T", r#"{"config":{"name":"T"}}"#).0, 10130);
    let (created, _) = api(&mut js, "$JS.API.STREAM.CREATE.T", r#"{"name":"T"}"#);
    assert_eq!(json(&created)["error"]["err_code"], 10058, "{created}");
}

/// A restore of `archive` into a fresh account: the error it ends with.
fn restore_error(archive: &[u8], config: &str) -> String {
    let mut js = jetstream();
    let answer = json(&restore(&mut js, "S", config, archive, 100));
    assert_eq!(
        answer["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(answer["error"]["err_code"], 10062, "{answer}");
    assert!(js.streams.is_empty() && js.restores.is_empty());
    let removed = js.take_disk_ops(1);
    let removed =
        matches!(removed.last(), Some(DiskOp::RemoveDir { dir }) if dir.starts_with("streams/S"));
    assert!(removed, "what the restore wrote goes");
    answer["error"]["description"].as_str().unwrap().to_string()
}

#[test]
fn damaged_or_foreign_archives_are_refused() {
    let mut js = filled();
    let (_, archive) = snapshot(&mut js, "S", REQUEST);
    let cut = &archive[..archive.len() - 10];
    let err = restore_error(cut, CONFIG);
    assert_eq!(
        err,
        format!(
            "restore failed: archive truncated after {} bytes",
            cut.len()
        )
    );
    let mut flipped = archive.clone();
    flipped[500] ^= 0x40;
    let err = restore_error(&flipped, CONFIG);
    assert!(
        err.starts_with("restore failed: archive corrupt at byte"),
        "{err}"
    );
    assert!(err.ends_with("checksum mismatch"), "{err}");
    let err = restore_error(b"\x28\xb5\x2f\xfd tar.s2 of the reference", CONFIG);
    assert_eq!(err, "restore failed: not an rnats stream archive");
    let err = restore_error(&archive, r#"{"name":"S2","subjects":["s.>"]}"#);
    assert_eq!(err, "restore failed: stream names do not match");
    // The consumer's filter does not suit the stream as restored.
    let mut js = filled();
    let consumer = r#"{"stream_name":"S","config":{"durable_name":"D","filter_subject":"s.1"}}"#;
    api(&mut js, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", consumer);
    let (_, archive) = snapshot(&mut js, "S", REQUEST);
    let err = restore_error(&archive, r#"{"name":"S","subjects":["t.>"]}"#);
    assert!(
        err.starts_with(r#"restore failed: error restoring consumer ["D"]"#),
        "{err}"
    );
}

/// Starts restoring stream `S`: where its chunks go.
fn start_restore(js: &mut JetStream) -> String {
    let (answer, _) = api(
        js,
        "$JS.API.STREAM.RESTORE.S",
        &format!(r#"{{"config":{CONFIG}}}"#),
    );
    json(&answer)["deliver_subject"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_silent_restore_is_dropped() {
    let mut js = jetstream();
    let deliver = start_restore(&mut js);
    js.on_snapshot_message(&deliver, Some(b"ack"), b"RNATSNAP", NOW + 1);
    assert_eq!(drain(&mut js).len(), 1);
    assert_eq!(js.next_deadline(), Some(NOW + 1 + INACTIVE));
    js.tick(NOW + 1 + INACTIVE);
    assert!(js.restores.is_empty());
    assert!(drain(&mut js).is_empty(), "no answer, as the reference");
    // Later chunks go nowhere.
    js.on_snapshot_message(&deliver, Some(b"ack"), b"", NOW + 2 + INACTIVE);
    assert!(drain(&mut js).is_empty());
    // A chunk without a reply ends a restore too.
    let deliver = start_restore(&mut js);
    js.on_snapshot_message(&deliver, None, b"RNATSNAP", NOW);
    assert!(js.restores.is_empty());
}

#[test]
fn a_restore_cut_short_by_a_crash_leaves_no_stream() {
    let mut js = filled();
    let (_, archive) = snapshot(&mut js, "S", REQUEST);
    let mut js = jetstream();
    let disk = Disk::default();
    js.on_api(
        "$JS.API.STREAM.RESTORE.S",
        None,
        br#"{"config":{"name":"S"}}"#,
        NOW,
    );
    let deliver = js.restores.keys().next().unwrap().clone();
    js.on_snapshot_message(&deliver, Some(b"ack"), &archive[..archive.len() / 2], NOW);
    disk.apply(js.take_disk_ops(1));
    assert!(disk.0.lock().unwrap().keys().any(|(d, _)| d == "streams/S"));
    // No `meta.json`, no stream; and its blocks are not taken for a new one's.
    let mut js = disk.restart();
    assert!(js.streams.is_empty());
    api(&mut js, "$JS.API.STREAM.CREATE.S", CONFIG);
    disk.apply(js.take_disk_ops(2));
    assert_eq!(messages(&disk.restart(), "S"), []);
}

#[test]
fn a_snapshot_holds_the_stream_as_it_was_when_asked_for() {
    let mut js = filled();
    for i in 0..100 {
        js.publish("S", b"s.big", b"", &vec![i; 128 * 1024], NOW)
            .unwrap();
    }
    let before = info(&mut js, "S")["state"].clone();
    let body = r#"{"deliver_subject":"snap.inbox"}"#;
    let (_, out) = api(&mut js, "$JS.API.STREAM.SNAPSHOT.S", body);
    // Published while the window is full.
    js.publish("S", b"s.late", b"", b"late", NOW).unwrap();
    let archive = acked(&mut js, out);
    api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    restore(&mut js, "S", CONFIG, &archive, 1 << 20);
    assert_eq!(info(&mut js, "S")["state"], before);
    // A stream deleted midway ends its snapshot without the archive's end.
    let (_, mut out) = api(&mut js, "$JS.API.STREAM.SNAPSHOT.S", body);
    let (_, end) = api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    out.extend(
        end.into_iter()
            .filter(|d| &d.to[..] == SNAP_INBOX.as_bytes()),
    );
    let cut = acked(&mut js, out);
    assert!(cut.len() < archive.len());
    assert!(restore_error(&cut, CONFIG).contains("archive truncated"));
}

#[test]
fn snapshots_and_restores_are_announced_as_the_reference_announces_them() {
    let mut js = filled();
    drain(&mut js);
    js.on_api(
        "$JS.API.STREAM.SNAPSHOT.S",
        Some(b"r"),
        REQUEST.as_bytes(),
        NOW,
    );
    let prefix = "$JS.EVENT.ADVISORY.STREAM";
    let kind = "io.nats.jetstream.advisory.v1";
    let pair = |word: &str, t: &str| (format!("{prefix}.{word}.S"), format!("{kind}.{t}"));
    // Small enough to go out at once.
    assert_eq!(
        advisories(&mut js),
        [
            pair("SNAPSHOT_CREATE", "snapshot_create"),
            pair("SNAPSHOT_COMPLETE", "snapshot_complete")
        ]
    );
    let (_, archive) = snapshot(&mut js, "S", REQUEST);
    api(&mut js, "$JS.API.STREAM.DELETE.S", "");
    let body = format!(r#"{{"config":{CONFIG}}}"#);
    js.on_api("$JS.API.STREAM.RESTORE.S", Some(b"r"), body.as_bytes(), NOW);
    assert_eq!(
        advisories(&mut js),
        [pair("RESTORE_CREATE", "restore_create")]
    );
    let deliver = js.restores.keys().next().unwrap().clone();
    js.on_snapshot_message(&deliver, Some(b"ack"), &archive, NOW);
    js.on_snapshot_message(&deliver, Some(b"done"), b"", NOW);
    assert_eq!(
        advisories(&mut js),
        [pair("RESTORE_COMPLETE", "restore_complete")]
    );
}
