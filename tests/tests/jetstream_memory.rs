//! A file stream much larger than the memory the server may use for it: the server keeps
//! only a few blocks of it in memory (the file store's cache budget) and reads the rest
//! back from disk, so its resident memory stays well under the stream's size, while every
//! message still comes back through a consumer, byte for byte, also after a restart, and
//! after a snapshot and a restore of the whole stream.
//!
//! The figures are printed: `cargo test -p rnats-tests --test jetstream_memory --
//! --nocapture`.

use std::future::IntoFuture;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, stream, Context};
use bytes::Bytes;
use futures::TryStreamExt;
use rnats_tests::{rnats_bin, Server};
use tempfile::TempDir;
use tokio::time::timeout;

mod common;

use common::*;

/// 200 MiB in 64 KiB messages.
const MSG_SIZE: usize = 64 << 10;
const MSGS: u64 = 3200;
/// Publishes in flight at once.
const WINDOW: usize = 64;
/// What the server may hold resident at most, well under the stream's 200 MiB.
const MAX_RSS: u64 = 100 << 20;
/// What the server may have in memory for the stream at any moment, whatever its size:
/// the file store's cache budget and active block (24 MiB), the publishes in flight
/// (`WINDOW` × 64 KiB) and the write batch carrying them. Resident memory sampled at two
/// moments may differ by that much, never by the 100 MiB the second half of the stream is.
const WORKING_SET: u64 = 32 << 20;
/// Bound for one publish or delivery: writes of 4 MiB at a time, fsynced, on a machine
/// that may be busy.
const SLOW_STEP: Duration = Duration::from_secs(60);

/// Awaits `fut` for at most [`SLOW_STEP`], panicking with `what` otherwise.
async fn slowly<F: IntoFuture>(what: &str, fut: F) -> F::Output {
    timeout(SLOW_STEP, fut.into_future())
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn start_js(dir: &TempDir) -> Server {
    let sd = dir.path().to_str().unwrap();
    Server::start(&rnats_bin(), ["-js", "-sd", sd])
        .unwrap_or_else(|e| panic!("JetStream server did not start: {e}"))
}

/// A field of `/proc/<pid>/status` in bytes (`VmRSS` now, `VmHWM` the peak).
fn proc_status(srv: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.pid())).unwrap();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc status"));
    kb << 10
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// Message `seq`'s payload: its sequence, then bytes that depend on it.
fn payload(seq: u64) -> Bytes {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend((0..MSG_SIZE - 8).map(|i| (i as u64 * 31 + seq) as u8));
    Bytes::from(p)
}

/// Publishes messages `from..=to`, a window of them in flight at a time.
async fn publish(js: &Context, from: u64, to: u64) {
    let mut acks = Vec::with_capacity(WINDOW);
    for seq in from..=to {
        let ack = js.publish(format!("big.{}", seq % 16), payload(seq));
        acks.push(slowly("publish", ack).await.expect("publish"));
        if acks.len() == WINDOW || seq == to {
            for ack in acks.drain(..) {
                slowly("publish ack", ack).await.expect("publish ack");
            }
        }
    }
}

/// Reads the whole stream through a new pull consumer and checks every message.
async fn read_all(js: &Context, srv: &Server) {
    let stream = within("get stream", js.get_stream("BIG")).await.unwrap();
    let consumer = within(
        "create consumer",
        stream.create_consumer(pull::Config {
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        }),
    )
    .await
    .expect("create consumer");
    // Small batches: on a busy machine a client holding many 64 KiB messages unread may
    // be cut off as a slow consumer, which is not what this test is about.
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(16)
        .messages()
        .await
        .expect("messages");
    for seq in 1..=MSGS {
        let m = timeout(SLOW_STEP, messages.try_next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "message {seq} did not come within {SLOW_STEP:?}; server log:\n{}",
                    srv.log()
                )
            })
            .unwrap_or_else(|e| panic!("message {seq}: {e}; server log:\n{}", srv.log()))
            .expect("stream open");
        assert_eq!(m.info().unwrap().stream_sequence, seq);
        assert!(m.payload == payload(seq), "message {seq} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_stream_stays_on_disk() {
    let dir = tempfile::Builder::new()
        .prefix("rnats-js-mem-")
        .tempdir()
        .expect("temp dir");
    let mut srv = start_js(&dir);
    let js = jetstream::new(connect(&srv).await);
    within(
        "create stream",
        js.create_stream(stream::Config {
            name: "BIG".into(),
            subjects: vec!["big.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .expect("create stream");
    let before = proc_status(&srv, "VmRSS");
    publish(&js, 1, MSGS / 2).await;
    let half = proc_status(&srv, "VmRSS");
    publish(&js, MSGS / 2 + 1, MSGS).await;
    let (published, peak) = (proc_status(&srv, "VmRSS"), proc_status(&srv, "VmHWM"));
    read_all(&js, &srv).await;
    let (read, read_peak) = (proc_status(&srv, "VmRSS"), proc_status(&srv, "VmHWM"));
    println!(
        "{} MiB stored; server RSS: {} MiB at start, {} MiB after publishing half, {} MiB \
         after publishing all (peak {} MiB), {} MiB after reading it all back (peak {} MiB)",
        mib(MSGS * MSG_SIZE as u64),
        mib(before),
        mib(half),
        mib(published),
        mib(peak),
        mib(read),
        mib(read_peak),
    );
    // The second 100 MiB cost no more than what may be in flight.
    assert!(published < half + WORKING_SET, "RSS grew with the stream");
    assert!(read_peak < MAX_RSS, "peak RSS {} MiB", mib(read_peak));

    // After a restart the stream comes back without being loaded into memory.
    drop(js);
    assert!(srv.stop().is_some(), "server did not stop");
    let srv = start_js(&dir);
    let js = jetstream::new(connect(&srv).await);
    let restarted = proc_status(&srv, "VmHWM");
    read_all(&js, &srv).await;
    let read_peak = proc_status(&srv, "VmHWM");
    println!(
        "after a restart: peak RSS {} MiB recovered, {} MiB after reading it all back",
        mib(restarted),
        mib(read_peak)
    );
    assert!(read_peak < MAX_RSS, "peak RSS {} MiB", mib(read_peak));

    // A snapshot pages through the stream as a consumer does, and a restore writes the
    // stream out as it arrives: neither holds it in memory.
    let archive = dir.path().join("BIG.archive");
    backup(&js, &archive).await;
    let backup_peak = proc_status(&srv, "VmHWM");
    let size = std::fs::metadata(&archive).unwrap().len();
    let client = js.client();
    let deleted = client.request("$JS.API.STREAM.DELETE.BIG", Bytes::new());
    within("delete", deleted).await.unwrap();
    restore(&js, &archive).await;
    let restore_peak = proc_status(&srv, "VmHWM");
    read_all(&js, &srv).await;
    println!(
        "a {} MiB snapshot: peak RSS {} MiB after taking it, {} MiB after restoring it",
        mib(size),
        mib(backup_peak),
        mib(restore_peak)
    );
    assert!(restore_peak < MAX_RSS, "peak RSS {} MiB", mib(restore_peak));
}

/// Takes a snapshot of `BIG` into file `to`, acking each chunk as `nats stream backup`
/// does.
async fn backup(js: &Context, to: &std::path::Path) {
    use std::io::Write;
    let client = js.client();
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.unwrap();
    let req = format!(r#"{{"deliver_subject":"{inbox}"}}"#);
    let answer = client.request("$JS.API.STREAM.SNAPSHOT.BIG", req.into());
    let answer = within("snapshot", answer).await.unwrap();
    assert!(
        !answer.payload.windows(5).any(|w| w == b"error"),
        "{answer:?}"
    );
    let mut file = std::io::BufWriter::new(std::fs::File::create(to).unwrap());
    loop {
        let m = slowly("chunk", futures::StreamExt::next(&mut sub))
            .await
            .unwrap();
        let Some(reply) = m.reply else { break };
        file.write_all(&m.payload).unwrap();
        client.publish(reply, Bytes::new()).await.unwrap();
    }
    file.flush().unwrap();
}

/// Restores `BIG` from file `from` in chunks of 512 KiB, each acked before the next.
async fn restore(js: &Context, from: &std::path::Path) {
    use std::io::Read;
    let client = js.client();
    let req = r#"{"config":{"name":"BIG","subjects":["big.>"]}}"#;
    let answer = client.request("$JS.API.STREAM.RESTORE.BIG", req.into());
    let answer = within("restore", answer).await.unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    let deliver = answer["deliver_subject"]
        .as_str()
        .expect("a deliver subject");
    let mut file = std::fs::File::open(from).unwrap();
    let mut chunk = vec![0; 512 << 10];
    loop {
        let n = file.read(&mut chunk).unwrap();
        let data = Bytes::copy_from_slice(&chunk[..n]);
        let ack = slowly("chunk", client.request(deliver.to_string(), data)).await;
        let ack = ack.unwrap();
        if n == 0 {
            let info = String::from_utf8_lossy(&ack.payload);
            assert!(
                info.contains("stream_create_response") && !info.contains("error"),
                "{info}"
            );
            return;
        }
        assert!(ack.payload.is_empty(), "{:?}", ack.payload);
    }
}
