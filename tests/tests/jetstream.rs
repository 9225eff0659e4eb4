//! JetStream end-to-end tests: the server started with `-js -sd <fresh dir>`, driven by the
//! `async-nats` `jetstream` module (streams, consumers, key-value and object stores).
//!
//! Written against the Go reference server:
//! `RNATS_BIN=/usr/sbin/nats-server cargo test -p rnats-tests --test jetstream`.
//! Every test starts its own server on a random port with its own store directory.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{
        self, pull, push, AckPolicy, DeliverPolicy, OrderedPushConsumer, PullConsumer, PushConsumer,
    },
    context::{ConsumerInfoErrorKind, CreateStreamErrorKind, PublishErrorKind},
    kv,
    message::PublishMessage as Publish,
    object_store,
    stream::{self, DiscardPolicy, LastRawMessageErrorKind, RetentionPolicy, StorageType},
    AckKind, Context,
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use rnats_tests::{rnats_bin, Server};
use serde_json::{json, Value::Null};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

mod common;

use common::*;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A JetStream-enabled server with its own store directory (removed on drop, after the
/// server is killed) and a JetStream context on a fresh connection.
struct Js {
    srv: Server,
    js: Context,
    // Declared last so the server is gone before its directory is removed.
    dir: TempDir,
}

impl Js {
    async fn start() -> Js {
        let dir = tempfile::Builder::new()
            .prefix("rnats-js-")
            .tempdir()
            .expect("temp dir");
        let srv = start_js(&dir);
        let js = jetstream::new(connect(&srv).await);
        Js { srv, js, dir }
    }

    /// Kills the server with SIGKILL (a crash: no shutdown work at all), starts it again on
    /// the same store directory and reconnects.
    async fn crash_and_restart(&mut self) {
        // SAFETY: kill(2) on our own child process, which has not been reaped yet.
        unsafe { libc::kill(self.srv.pid() as libc::pid_t, libc::SIGKILL) };
        assert!(
            self.srv.wait_exit(STEP).is_some(),
            "server survived SIGKILL"
        );
        self.restart().await;
    }

    /// Stops the server cleanly (SIGTERM), starts it again on the same store directory and
    /// reconnects.
    async fn stop_and_restart(&mut self) {
        assert!(
            self.srv.stop().is_some(),
            "server did not stop on SIGTERM; log:\n{}",
            self.srv.log()
        );
        self.restart().await;
    }

    async fn restart(&mut self) {
        self.srv = start_js(&self.dir);
        self.js = jetstream::new(connect(&self.srv).await);
    }
}

fn start_js(dir: &TempDir) -> Server {
    let sd = dir.path().to_str().unwrap();
    Server::start(&rnats_bin(), ["-js", "-sd", sd])
        .unwrap_or_else(|e| panic!("JetStream server did not start: {e}"))
}

/// The JetStream API error code (`err_code`, e.g. 10058) carried by any async-nats error,
/// whether it sits in the error's kind or in its source. Panics if there is none.
#[track_caller]
fn err_code(err: &impl Debug) -> u64 {
    let text = format!("{err:?}");
    let code = text
        .split("ErrorCode(")
        .nth(1)
        .and_then(|rest| rest.split(')').next().and_then(|n| n.trim().parse().ok()));
    code.unwrap_or_else(|| panic!("no JetStream error code in {text}"))
}

/// A raw JetStream API request (`$JS.API.<what>`, an empty body for `Null`), for what the
/// client does not expose: the server's JSON answer.
async fn api(js: &Context, what: &str, body: serde_json::Value) -> serde_json::Value {
    let payload = match body {
        serde_json::Value::Null => Bytes::new(),
        v => Bytes::from(v.to_string()),
    };
    let m = within(
        what,
        js.client().request(format!("$JS.API.{what}"), payload),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: {e}"));
    serde_json::from_slice(&m.payload).unwrap_or_else(|e| panic!("{what}: {e}: {:?}", m.payload))
}

fn cfg(name: &str, subjects: &[&str]) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn create_stream(js: &Context, config: stream::Config) -> stream::Stream {
    within("create stream", js.create_stream(config))
        .await
        .expect("create stream")
}

/// Publishes and waits for the stream's ack; the ack's stream sequence.
async fn publish(js: &Context, subject: &str, payload: impl Into<Bytes>) -> u64 {
    let ack = within("publish", async {
        js.publish(subject.to_string(), payload.into())
            .await
            .expect("publish")
            .await
    })
    .await
    .expect("publish ack");
    ack.sequence
}

async fn publish_with(
    js: &Context,
    subject: &str,
    msg: Publish,
) -> Result<jetstream::publish::PublishAck, jetstream::context::PublishError> {
    within("publish", async {
        js.send_publish(subject.to_string(), msg)
            .await
            .expect("send publish")
            .await
    })
    .await
}

async fn info(stream: &mut stream::Stream) -> stream::Info {
    within("stream info", stream.info())
        .await
        .expect("stream info")
        .clone()
}

async fn pull_consumer(stream: &stream::Stream, config: pull::Config) -> PullConsumer {
    within("create consumer", stream.create_consumer(config))
        .await
        .expect("create consumer")
}

async fn consumer_info(c: &mut PullConsumer) -> consumer::Info {
    within("consumer info", c.info())
        .await
        .expect("consumer info")
        .clone()
}

/// Pulls up to `n` messages, waiting at most `expires` for them.
async fn pull(c: &PullConsumer, n: usize, expires: Duration) -> Vec<jetstream::Message> {
    let batch = within(
        "pull request",
        c.batch().max_messages(n).expires(expires).messages(),
    )
    .await
    .expect("pull request");
    within("pull batch", batch.try_collect::<Vec<_>>())
        .await
        .expect("pull batch")
}

/// Pulls exactly `n` messages (fails if they do not all arrive within [`STEP`]).
async fn pull_n(c: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let msgs = pull(c, n, Duration::from_secs(5)).await;
    assert_eq!(msgs.len(), n, "pulled {} of {n} messages", msgs.len());
    msgs
}

fn payloads(msgs: &[jetstream::Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

fn stream_seqs(msgs: &[jetstream::Message]) -> Vec<u64> {
    msgs.iter()
        .map(|m| m.info().expect("message info").stream_sequence)
        .collect()
}

async fn ack(m: &jetstream::Message) {
    within("ack", m.double_ack()).await.expect("ack");
}

// ---------------------------------------------------------------------------------------
// 1. Account and stream management
// ---------------------------------------------------------------------------------------

/// `$JS.API.INFO` as raw JSON: async-nats 0.51's `query_account()` cannot parse the 2.9
/// answer (it requires fields that came with 2.10), so the response is checked directly.
async fn account_info(js: &Context) -> serde_json::Value {
    let r = api(js, "INFO", Null).await;
    assert_eq!(
        r["type"], "io.nats.jetstream.api.v1.account_info_response",
        "{r}"
    );
    assert!(r.get("error").is_none(), "{r}");
    r
}

#[tokio::test]
async fn account_info_counts_streams_and_consumers() {
    let t = Js::start().await;
    let acc = account_info(&t.js).await;
    assert_eq!(acc["streams"], 0, "{acc}");
    assert_eq!(acc["consumers"], 0, "{acc}");
    assert_eq!(acc["memory"], 0, "{acc}");
    assert_eq!(acc["storage"], 0, "{acc}");
    // Unlimited by default.
    assert_eq!(acc["limits"]["max_streams"], -1, "{acc}");
    assert_eq!(acc["limits"]["max_consumers"], -1, "{acc}");
    assert!(acc["api"]["total"].as_u64().is_some(), "{acc}");

    let stream = create_stream(&t.js, cfg("ACC", &["acc.>"])).await;
    pull_consumer(&stream, durable("d")).await;
    publish(&t.js, "acc.x", "hello").await;
    let mut mem = cfg("MEM", &["mem"]);
    mem.storage = StorageType::Memory;
    create_stream(&t.js, mem).await;
    publish(&t.js, "mem", "in memory").await;
    let acc = account_info(&t.js).await;
    assert_eq!(acc["streams"], 2, "{acc}");
    assert_eq!(acc["consumers"], 1, "{acc}");
    assert!(
        acc["storage"].as_u64().unwrap() > 5,
        "file storage used: {acc}"
    );
    assert!(
        acc["memory"].as_u64().unwrap() > 9,
        "memory storage used: {acc}"
    );
    let errors = acc["api"]["errors"].as_u64().unwrap();
    // A failing API call is counted as an error.
    let r = api(&t.js, "STREAM.INFO.NOPE", Null).await;
    assert_eq!(r["error"]["err_code"], 10059, "{r}");
    let acc = account_info(&t.js).await;
    assert_eq!(acc["api"]["errors"].as_u64().unwrap(), errors + 1, "{acc}");
}

#[tokio::test]
async fn stream_create_info_update_delete() {
    let t = Js::start().await;
    let mut config = cfg("ORDERS", &["orders.*"]);
    config.max_messages = 100;
    let mut stream = create_stream(&t.js, config.clone()).await;
    let i = info(&mut stream).await;
    assert_eq!(i.config.name, "ORDERS");
    assert_eq!(i.config.subjects, vec!["orders.*".to_string()]);
    assert_eq!(i.config.max_messages, 100);
    assert_eq!(i.config.storage, StorageType::File);
    assert_eq!(i.config.retention, RetentionPolicy::Limits);
    assert_eq!(i.state.messages, 0);
    assert_eq!(i.state.last_sequence, 0);

    // Creating again with the same configuration is idempotent.
    let again = create_stream(&t.js, config.clone()).await;
    assert_eq!(again.cached_info().config.max_messages, 100);

    // A different configuration under the same name is refused.
    let mut other = config.clone();
    other.max_messages = 5;
    let err = within("create", t.js.create_stream(other))
        .await
        .expect_err("conflicting create must fail");
    assert_eq!(err_code(&err), 10058, "{err}");

    // Update changes limits and subjects.
    let mut updated = config.clone();
    updated.max_messages = 50;
    updated.subjects = vec!["orders.*".into(), "returns.*".into()];
    let ui = within("update", t.js.update_stream(&updated))
        .await
        .expect("update");
    assert_eq!(ui.config.max_messages, 50);
    assert_eq!(ui.config.subjects.len(), 2);
    assert_eq!(publish(&t.js, "returns.1", "r").await, 1);
    let i = within("get stream", t.js.get_stream("ORDERS"))
        .await
        .expect("get stream")
        .cached_info()
        .clone();
    assert_eq!(i.config.max_messages, 50);
    assert_eq!(i.state.messages, 1);

    // Delete, then everything about it is gone.
    let del = within("delete", t.js.delete_stream("ORDERS"))
        .await
        .expect("delete");
    assert!(del.success);
    let err = within("get", t.js.get_stream("ORDERS"))
        .await
        .expect_err("deleted stream");
    assert_eq!(err_code(&err), 10059, "{err}");
    let Err(err) = within("delete", t.js.delete_stream("ORDERS")).await else {
        panic!("delete twice must fail");
    };
    assert_eq!(err_code(&err), 10059, "{err}");
    let err = within("update", t.js.update_stream(&updated))
        .await
        .expect_err("update missing stream");
    assert_eq!(err.kind(), CreateStreamErrorKind::NotFound, "{err}");
    // The server's own answer to both.
    let r = api(
        &t.js,
        "STREAM.UPDATE.ORDERS",
        serde_json::to_value(&updated).unwrap(),
    )
    .await;
    assert_eq!(r["error"]["err_code"], 10059, "{r}");
    let r = api(&t.js, "STREAM.INFO.ORDERS", Null).await;
    assert_eq!(r["error"]["err_code"], 10059, "{r}");
    assert_eq!(r["error"]["code"], 404, "{r}");
}

#[tokio::test]
async fn stream_list_and_names() {
    let t = Js::start().await;
    for (name, subj) in [("S1", "s1.>"), ("S2", "s2.>"), ("S3", "s3.>")] {
        create_stream(&t.js, cfg(name, &[subj])).await;
    }
    let mut names: Vec<String> = within("names", t.js.stream_names().try_collect())
        .await
        .expect("stream names");
    names.sort();
    assert_eq!(names, ["S1", "S2", "S3"]);
    let infos: Vec<stream::Info> = within("list", t.js.streams().try_collect())
        .await
        .expect("stream list");
    let mut listed: Vec<_> = infos
        .iter()
        .map(|i| (i.config.name.clone(), i.config.subjects.clone()))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            ("S1".to_string(), vec!["s1.>".to_string()]),
            ("S2".to_string(), vec!["s2.>".to_string()]),
            ("S3".to_string(), vec!["s3.>".to_string()]),
        ]
    );
    let name = within("stream by subject", t.js.stream_by_subject("s3.a.b"))
        .await
        .expect("stream by subject");
    assert_eq!(name, "S3");
}

#[tokio::test]
async fn stream_subject_overlap_is_refused() {
    let t = Js::start().await;
    create_stream(&t.js, cfg("A", &["foo.*"])).await;
    for subjects in [&["foo.bar"][..], &["foo.>"], &["x", "foo.*"]] {
        let err = within("create", t.js.create_stream(cfg("B", subjects)))
            .await
            .expect_err("overlapping subjects must be refused");
        assert_eq!(err_code(&err), 10065, "{subjects:?}: {err}");
    }
    // Disjoint subjects are fine.
    create_stream(&t.js, cfg("B", &["foo"])).await;
    // Update into overlap is refused too.
    let err = within("update", t.js.update_stream(cfg("B", &["foo", "foo.x"])))
        .await
        .expect_err("overlapping update must be refused");
    assert_eq!(err_code(&err), 10065, "{err}");
}

// ---------------------------------------------------------------------------------------
// 2. Publishing
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn publish_ack_sequences_increment() {
    let t = Js::start().await;
    let mut stream = create_stream(&t.js, cfg("SEQ", &["seq.>"])).await;
    for i in 1..=10u64 {
        let ack = within("publish", async {
            t.js.publish(format!("seq.{i}"), format!("m{i}").into())
                .await
                .unwrap()
                .await
        })
        .await
        .expect("ack");
        assert_eq!(ack.stream, "SEQ");
        assert_eq!(ack.sequence, i);
        assert!(!ack.duplicate);
    }
    let i = info(&mut stream).await;
    assert_eq!(i.state.messages, 10);
    assert_eq!(i.state.first_sequence, 1);
    assert_eq!(i.state.last_sequence, 10);
    assert_eq!(i.state.subjects_count, 10);
    // No stream for the subject: the ack request gets no responders.
    let err = within("publish", async {
        t.js.publish("nostream", "x".into()).await.unwrap().await
    })
    .await
    .expect_err("no stream");
    assert_eq!(err.kind(), PublishErrorKind::StreamNotFound);
}

#[tokio::test]
async fn publish_dedup_by_msg_id() {
    let t = Js::start().await;
    let mut config = cfg("DEDUP", &["dd"]);
    config.duplicate_window = Duration::from_secs(60);
    let mut stream = create_stream(&t.js, config).await;
    let first = publish_with(
        &t.js,
        "dd",
        Publish::build().payload("a".into()).message_id("id-1"),
    )
    .await
    .unwrap();
    assert_eq!((first.sequence, first.duplicate), (1, false));
    let dup = publish_with(
        &t.js,
        "dd",
        Publish::build().payload("b".into()).message_id("id-1"),
    )
    .await
    .unwrap();
    assert_eq!((dup.sequence, dup.duplicate), (1, true));
    let second = publish_with(
        &t.js,
        "dd",
        Publish::build().payload("c".into()).message_id("id-2"),
    )
    .await
    .unwrap();
    assert_eq!((second.sequence, second.duplicate), (2, false));
    let i = info(&mut stream).await;
    assert_eq!(i.state.messages, 2);
    // The stored message is the first one, not the duplicate.
    let m = within("get", stream.get_raw_message(1)).await.unwrap();
    assert_eq!(m.payload, "a");
    assert_eq!(
        m.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
        Some("id-1")
    );
}

#[tokio::test]
async fn publish_expectations_fail_with_error_codes() {
    let t = Js::start().await;
    let mut stream = create_stream(&t.js, cfg("EXP", &["exp.*"])).await;
    assert_eq!(publish(&t.js, "exp.a", "1").await, 1);
    assert_eq!(publish(&t.js, "exp.b", "2").await, 2);

    // Expected last sequence.
    let ok = publish_with(&t.js, "exp.a", Publish::build().expected_last_sequence(2))
        .await
        .unwrap();
    assert_eq!(ok.sequence, 3);
    let err = publish_with(&t.js, "exp.a", Publish::build().expected_last_sequence(2))
        .await
        .expect_err("wrong last sequence");
    assert_eq!(err.kind(), PublishErrorKind::WrongLastSequence);
    assert_eq!(err_code(&err), 10071, "{err}");

    // Expected last sequence for the subject.
    let err = publish_with(
        &t.js,
        "exp.b",
        Publish::build().expected_last_subject_sequence(1),
    )
    .await
    .expect_err("wrong last subject sequence");
    assert_eq!(err_code(&err), 10071, "{err}");
    let ok = publish_with(
        &t.js,
        "exp.b",
        Publish::build().expected_last_subject_sequence(2),
    )
    .await
    .unwrap();
    assert_eq!(ok.sequence, 4);

    // Expected stream name.
    let err = publish_with(&t.js, "exp.a", Publish::build().expected_stream("OTHER"))
        .await
        .expect_err("wrong stream");
    assert_eq!(err_code(&err), 10060, "{err}");
    let ok = publish_with(&t.js, "exp.a", Publish::build().expected_stream("EXP"))
        .await
        .unwrap();
    assert_eq!(ok.sequence, 5);

    // Expected last message id.
    publish_with(&t.js, "exp.a", Publish::build().message_id("m6"))
        .await
        .unwrap();
    let err = publish_with(
        &t.js,
        "exp.a",
        Publish::build().expected_last_message_id("nope"),
    )
    .await
    .expect_err("wrong last msg id");
    assert_eq!(err.kind(), PublishErrorKind::WrongLastMessageId);
    assert_eq!(err_code(&err), 10070, "{err}");
    let ok = publish_with(
        &t.js,
        "exp.a",
        Publish::build().expected_last_message_id("m6"),
    )
    .await
    .unwrap();
    assert_eq!(ok.sequence, 7);

    // Refused publishes stored nothing.
    let i = info(&mut stream).await;
    assert_eq!((i.state.messages, i.state.last_sequence), (7, 7));
}

#[tokio::test]
async fn max_msgs_discard_old() {
    let t = Js::start().await;
    let mut config = cfg("LIM", &["lim.>"]);
    config.max_messages = 5;
    let mut stream = create_stream(&t.js, config).await;
    for i in 1..=12 {
        assert_eq!(publish(&t.js, "lim.x", format!("{i}")).await, i);
    }
    let i = info(&mut stream).await;
    assert_eq!(i.state.messages, 5);
    assert_eq!(i.state.first_sequence, 8);
    assert_eq!(i.state.last_sequence, 12);
    let err = within("get", stream.get_raw_message(7))
        .await
        .expect_err("discarded");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
    assert_eq!(
        within("get", stream.get_raw_message(8))
            .await
            .unwrap()
            .payload,
        "8"
    );
}

#[tokio::test]
async fn max_msgs_per_subject_keeps_latest_per_subject() {
    let t = Js::start().await;
    let mut config = cfg("PER", &["per.*"]);
    config.max_messages_per_subject = 2;
    let mut stream = create_stream(&t.js, config).await;
    for i in 1..=5 {
        publish(&t.js, "per.a", format!("a{i}")).await;
        publish(&t.js, "per.b", format!("b{i}")).await;
    }
    publish(&t.js, "per.c", "c1").await;
    let i = info(&mut stream).await;
    assert_eq!(i.state.messages, 5);
    assert_eq!(i.state.subjects_count, 3);
    assert_eq!(i.state.last_sequence, 11);
    // Left: a4 (7) b4 (8) a5 (9) b5 (10) c1 (11).
    assert_eq!(i.state.first_sequence, 7);
    let c = pull_consumer(&stream, pull::Config::default()).await;
    let msgs = pull_n(&c, 5).await;
    assert_eq!(payloads(&msgs), ["a4", "b4", "a5", "b5", "c1"]);
    assert_eq!(stream_seqs(&msgs), [7, 8, 9, 10, 11]);
}

#[tokio::test]
async fn discard_new_refuses_when_full() {
    let t = Js::start().await;
    let mut config = cfg("NEW", &["new"]);
    config.max_messages = 3;
    config.discard = DiscardPolicy::New;
    let mut stream = create_stream(&t.js, config).await;
    for i in 1..=3 {
        assert_eq!(publish(&t.js, "new", format!("{i}")).await, i);
    }
    let err = publish_with(&t.js, "new", Publish::build().payload("4".into()))
        .await
        .expect_err("stream full");
    assert_eq!(err_code(&err), 10077, "{err}");
    assert!(
        err.to_string().contains("maximum messages exceeded"),
        "{err}"
    );
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (3, 1, 3)
    );
    // Making room lets publishing continue.
    within("delete", stream.delete_message(1)).await.unwrap();
    assert_eq!(publish(&t.js, "new", "4").await, 4);
}

#[tokio::test]
async fn max_age_expires_messages() {
    let t = Js::start().await;
    let mut config = cfg("AGE", &["age"]);
    config.max_age = Duration::from_millis(300);
    let mut stream = create_stream(&t.js, config).await;
    for i in 1..=3 {
        publish(&t.js, "age", format!("{i}")).await;
    }
    assert_eq!(info(&mut stream).await.state.messages, 3);
    let start = Instant::now();
    loop {
        let i = info(&mut stream).await;
        if i.state.messages == 0 {
            assert_eq!(i.state.last_sequence, 3);
            assert_eq!(i.state.first_sequence, 4);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "messages not expired after {:?}: {:?}",
            start.elapsed(),
            i.state
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // New messages are kept until they age too.
    assert_eq!(publish(&t.js, "age", "4").await, 4);
    assert_eq!(info(&mut stream).await.state.messages, 1);
}

// ---------------------------------------------------------------------------------------
// 3. Purge, get, delete
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn purge_all_by_subject_and_keep() {
    let t = Js::start().await;
    let mut stream = create_stream(&t.js, cfg("PRG", &["prg.*"])).await;
    for i in 1..=10 {
        let subj = if i % 2 == 0 { "prg.even" } else { "prg.odd" };
        publish(&t.js, subj, format!("{i}")).await;
    }
    // Keep the newest 7. (Done first: the 2.9 reference counts `keep` back from the last
    // sequence, so with interior gaps it keeps fewer messages than asked.)
    let r = within("purge keep", async { stream.purge().keep(7).await })
        .await
        .unwrap();
    assert!(r.success);
    assert_eq!(r.purged, 3);
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (7, 4, 10)
    );
    // By subject: 4 6 8 10.
    let r = within("purge subject", async {
        stream.purge().filter("prg.even").await
    })
    .await
    .unwrap();
    assert_eq!(r.purged, 4);
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.subjects_count,
            i.state.first_sequence
        ),
        (3, 1, 5)
    );
    // By subject, keeping the newest one of it: 5 and 7 go, 9 stays.
    let r = within("purge subject keep", async {
        stream.purge().filter("prg.odd").keep(1).await
    })
    .await
    .unwrap();
    assert_eq!(r.purged, 2);
    let i = info(&mut stream).await;
    assert_eq!((i.state.messages, i.state.first_sequence), (1, 9));
    // Everything; sequences carry on.
    let r = within("purge", async { stream.purge().await })
        .await
        .unwrap();
    assert_eq!(r.purged, 1);
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (0, 11, 10)
    );
    assert_eq!(publish(&t.js, "prg.odd", "x").await, 11);
    // Filter + sequence: purge prg.a messages below sequence 14.
    for n in 12..=14 {
        assert_eq!(publish(&t.js, "prg.a", format!("{n}")).await, n);
    }
    let r = within("purge filter seq", async {
        stream.purge().filter("prg.a").sequence(14).await
    })
    .await
    .unwrap();
    assert_eq!(r.purged, 2);
    let i = info(&mut stream).await;
    assert_eq!((i.state.messages, i.state.first_sequence), (2, 11));
    assert_eq!(
        within("get", stream.get_raw_message(14))
            .await
            .unwrap()
            .payload,
        "14"
    );
}

#[tokio::test]
async fn get_message_by_sequence_and_last_by_subject() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("GET", &["get.*"])).await;
    publish(&t.js, "get.a", "a1").await;
    publish_with(
        &t.js,
        "get.b",
        Publish::build()
            .payload("b1".into())
            .header("X-Test", "yes"),
    )
    .await
    .unwrap();
    publish(&t.js, "get.a", "a2").await;

    let m = within("get 2", stream.get_raw_message(2)).await.unwrap();
    assert_eq!(m.sequence, 2);
    assert_eq!(m.subject.as_str(), "get.b");
    assert_eq!(m.payload, "b1");
    assert_eq!(m.headers.get("X-Test").map(|v| v.as_str()), Some("yes"));

    let m = within("last a", stream.get_last_raw_message_by_subject("get.a"))
        .await
        .unwrap();
    assert_eq!((m.sequence, m.payload.as_ref()), (3, &b"a2"[..]));
    let m = within("last b", stream.get_last_raw_message_by_subject("get.b"))
        .await
        .unwrap();
    assert_eq!(m.sequence, 2);

    let err = within("get 99", stream.get_raw_message(99))
        .await
        .expect_err("no such sequence");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
    let err = within("last c", stream.get_last_raw_message_by_subject("get.c"))
        .await
        .expect_err("no message on subject");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
}

#[tokio::test]
async fn delete_message_by_sequence() {
    let t = Js::start().await;
    let mut stream = create_stream(&t.js, cfg("DEL", &["del"])).await;
    for i in 1..=3 {
        publish(&t.js, "del", format!("{i}")).await;
    }
    assert!(within("delete", stream.delete_message(2)).await.unwrap());
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (2, 1, 3)
    );
    assert_eq!(i.state.deleted_count, Some(1));
    let err = within("get", stream.get_raw_message(2))
        .await
        .expect_err("deleted");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
    let err = within("delete again", stream.delete_message(2))
        .await
        .expect_err("delete twice");
    assert!(err_code(&err) > 0, "{err}");
    let r = api(&t.js, "STREAM.MSG.GET.DEL", json!({"seq": 2})).await;
    assert_eq!(r["error"]["err_code"], 10037, "{r}");
    // Consumers skip the gap.
    let c = pull_consumer(&stream, pull::Config::default()).await;
    assert_eq!(stream_seqs(&pull_n(&c, 2).await), [1, 3]);
}

// ---------------------------------------------------------------------------------------
// 4. Pull consumers
// ---------------------------------------------------------------------------------------

fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

#[tokio::test]
async fn pull_durable_fetch_batch_and_ack() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("PULL", &["pull.>"])).await;
    for i in 1..=10 {
        publish(&t.js, "pull.x", format!("m{i}")).await;
    }
    let mut c = pull_consumer(&stream, durable("worker")).await;
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.name, "worker");
    assert_eq!(ci.stream_name, "PULL");
    assert_eq!(ci.num_pending, 10);
    assert_eq!(ci.num_ack_pending, 0);

    // fetch: no_wait, returns what is there up to the batch size.
    let batch = within("fetch", c.fetch().max_messages(4).messages())
        .await
        .unwrap();
    let msgs: Vec<_> = within("fetch", batch.try_collect()).await.unwrap();
    assert_eq!(payloads(&msgs), ["m1", "m2", "m3", "m4"]);
    for (n, m) in msgs.iter().enumerate() {
        let mi = m.info().unwrap();
        assert_eq!(mi.stream, "PULL");
        assert_eq!(mi.consumer, "worker");
        assert_eq!(mi.stream_sequence, n as u64 + 1);
        assert_eq!(mi.consumer_sequence, n as u64 + 1);
        assert_eq!(mi.delivered, 1);
        assert_eq!(mi.pending, 10 - (n as u64 + 1));
    }
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_pending, 6);
    assert_eq!(ci.num_ack_pending, 4);
    assert_eq!(ci.delivered.stream_sequence, 4);
    assert_eq!(ci.delivered.consumer_sequence, 4);
    assert_eq!(ci.ack_floor.stream_sequence, 0);

    for m in &msgs {
        ack(m).await;
    }
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_ack_pending, 0);
    assert_eq!(ci.ack_floor.stream_sequence, 4);
    assert_eq!(ci.ack_floor.consumer_sequence, 4);

    // batch: more than available returns the rest when the request expires.
    let msgs = pull(&c, 20, Duration::from_millis(300)).await;
    assert_eq!(msgs.len(), 6);
    assert_eq!(stream_seqs(&msgs), [5, 6, 7, 8, 9, 10]);
    for m in &msgs {
        ack(m).await;
    }
    let ci = consumer_info(&mut c).await;
    assert_eq!((ci.num_pending, ci.num_ack_pending), (0, 0));
    assert_eq!(ci.ack_floor.stream_sequence, 10);

    // The durable is found again by name.
    let mut again: PullConsumer = within("get consumer", stream.get_consumer("worker"))
        .await
        .unwrap();
    assert_eq!(
        consumer_info(&mut again).await.delivered.stream_sequence,
        10
    );
}

#[tokio::test]
async fn pull_expires_with_no_messages() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("EMPTY", &["empty"])).await;
    let c = pull_consumer(&stream, durable("d")).await;
    let start = Instant::now();
    let msgs = pull(&c, 5, Duration::from_millis(300)).await;
    let took = start.elapsed();
    assert!(msgs.is_empty());
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "batch request ended after {took:?}"
    );
    // fetch (no_wait) returns at once.
    let start = Instant::now();
    let batch = within("fetch", c.fetch().max_messages(5).messages())
        .await
        .unwrap();
    let msgs: Vec<_> = within("fetch", batch.try_collect()).await.unwrap();
    assert!(msgs.is_empty());
    assert!(start.elapsed() < Duration::from_millis(250));
    // A waiting pull request is served by a later publish.
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { pull(&c, 1, Duration::from_secs(3)).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    publish(&t.js, "empty", "late").await;
    let msgs = within("waiting pull", waiting).await.unwrap();
    assert_eq!(payloads(&msgs), ["late"]);
}

#[tokio::test]
async fn pull_messages_stream_delivers_continuously() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("CONT", &["cont"])).await;
    let c = pull_consumer(&stream, durable("d")).await;
    for i in 1..=5 {
        publish(&t.js, "cont", format!("{i}")).await;
    }
    let mut msgs = within("messages", c.messages()).await.unwrap();
    for i in 1..=5u64 {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i);
        m.ack().await.unwrap();
    }
    // Published after the stream started.
    for i in 6..=8 {
        publish(&t.js, "cont", format!("{i}")).await;
    }
    for i in 6..=8u64 {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, i.to_string());
        ack(&m).await;
    }
}

#[tokio::test]
async fn nak_redelivers_at_once_and_term_never() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("NAK", &["nak"])).await;
    publish(&t.js, "nak", "one").await;
    publish(&t.js, "nak", "two").await;
    let mut c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_secs(30),
            ..durable("d")
        },
    )
    .await;
    let msgs = pull_n(&c, 2).await;
    within("nak", msgs[0].double_ack_with(AckKind::Nak(None)))
        .await
        .unwrap();
    within("term", msgs[1].double_ack_with(AckKind::Term))
        .await
        .unwrap();
    // Only the nak'ed one comes back, long before ack_wait.
    let again = pull(&c, 2, Duration::from_millis(500)).await;
    assert_eq!(payloads(&again), ["one"]);
    let mi = again[0].info().unwrap();
    assert_eq!((mi.stream_sequence, mi.delivered), (1, 2));
    assert_eq!(mi.consumer_sequence, 3);
    ack(&again[0]).await;
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_ack_pending, 0);
    assert_eq!(ci.num_pending, 0);
    assert_eq!(ci.num_redelivered, 0);
    assert_eq!(ci.ack_floor.stream_sequence, 2);
}

#[tokio::test]
async fn redelivery_after_ack_wait_counts_deliveries() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("RED", &["red"])).await;
    publish(&t.js, "red", "again").await;
    let mut c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(500),
            ..durable("d")
        },
    )
    .await;
    let first = pull_n(&c, 1).await;
    let got_at = Instant::now();
    assert_eq!(first[0].info().unwrap().delivered, 1);
    // Not acked: it comes back once ack_wait has passed, not before.
    let second = pull_n(&c, 1).await;
    let after = got_at.elapsed();
    assert!(
        after >= Duration::from_millis(400),
        "redelivered after only {after:?}"
    );
    let mi = second[0].info().unwrap();
    assert_eq!(second[0].payload, "again");
    assert_eq!(
        (mi.stream_sequence, mi.consumer_sequence, mi.delivered),
        (1, 2, 2)
    );
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_ack_pending, 1);
    assert_eq!(ci.num_redelivered, 1);
    // Acking the redelivery settles it.
    ack(&second[0]).await;
    let ci = consumer_info(&mut c).await;
    assert_eq!((ci.num_ack_pending, ci.num_redelivered), (0, 0));
}

#[tokio::test]
async fn in_progress_extends_ack_wait() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("WPI", &["wpi"])).await;
    publish(&t.js, "wpi", "slow").await;
    let mut c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(500),
            ..durable("d")
        },
    )
    .await;
    let m = pull_n(&c, 1).await.remove(0);
    // Four progress reports 250 ms apart keep it from being redelivered for 1 s, twice
    // ack_wait.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        within("progress", m.ack_with(AckKind::Progress))
            .await
            .unwrap();
    }
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_redelivered, 0);
    assert_eq!(ci.delivered.consumer_sequence, 1);
    let none = pull(&c, 1, Duration::from_millis(100)).await;
    assert!(none.is_empty(), "redelivered despite progress reports");
    ack(&m).await;
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.num_ack_pending, 0);
    assert_eq!(ci.ack_floor.stream_sequence, 1);
}

#[tokio::test]
async fn max_deliver_stops_redelivery() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("MAXD", &["maxd"])).await;
    publish(&t.js, "maxd", "poison").await;
    publish(&t.js, "maxd", "fine").await;
    let c = pull_consumer(
        &stream,
        pull::Config {
            max_deliver: 2,
            ack_wait: Duration::from_secs(30),
            ..durable("d")
        },
    )
    .await;
    let msgs = pull_n(&c, 2).await;
    assert_eq!(payloads(&msgs), ["poison", "fine"]);
    ack(&msgs[1]).await;
    within("nak", msgs[0].double_ack_with(AckKind::Nak(None)))
        .await
        .unwrap();
    let again = pull_n(&c, 1).await;
    assert_eq!(again[0].payload, "poison");
    assert_eq!(again[0].info().unwrap().delivered, 2);
    within("nak", again[0].double_ack_with(AckKind::Nak(None)))
        .await
        .unwrap();
    // Delivered max_deliver times: never again.
    let none = pull(&c, 1, Duration::from_millis(400)).await;
    assert!(none.is_empty(), "delivered a third time");
}

#[tokio::test]
async fn consumer_list_names_and_delete() {
    let t = Js::start().await;
    let mut stream = create_stream(&t.js, cfg("CL", &["cl"])).await;
    for name in ["c1", "c2", "c3"] {
        pull_consumer(&stream, durable(name)).await;
    }
    let mut names: Vec<String> = within("names", stream.consumer_names().try_collect())
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, ["c1", "c2", "c3"]);
    let infos: Vec<consumer::Info> = within("list", stream.consumers().try_collect())
        .await
        .unwrap();
    assert_eq!(infos.len(), 3);
    assert!(infos.iter().all(|i| i.stream_name == "CL"));
    assert_eq!(info(&mut stream).await.state.consumer_count, 3);

    let del = within("delete", stream.delete_consumer("c2"))
        .await
        .unwrap();
    assert!(del.success);
    let mut names: Vec<String> = within("names", stream.consumer_names().try_collect())
        .await
        .unwrap();
    names.sort();
    assert_eq!(names, ["c1", "c3"]);
    let err = within("info", stream.consumer_info("c2"))
        .await
        .expect_err("deleted consumer");
    assert_eq!(err.kind(), ConsumerInfoErrorKind::NotFound, "{err}");
    let r = api(&t.js, "CONSUMER.INFO.CL.c2", Null).await;
    assert_eq!(r["error"]["err_code"], 10014, "{r}");
    let Err(err) = within("delete", stream.delete_consumer("c2")).await else {
        panic!("delete twice must fail");
    };
    assert_eq!(err_code(&err), 10014, "{err}");
    assert_eq!(info(&mut stream).await.state.consumer_count, 2);
}

#[tokio::test]
async fn consumer_filter_subject() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("FLT", &["flt.*"])).await;
    for (i, s) in ["flt.a", "flt.b", "flt.a", "flt.c", "flt.a"]
        .iter()
        .enumerate()
    {
        publish(&t.js, s, format!("{i}")).await;
    }
    let mut c = pull_consumer(
        &stream,
        pull::Config {
            filter_subject: "flt.a".into(),
            ..durable("only-a")
        },
    )
    .await;
    assert_eq!(consumer_info(&mut c).await.num_pending, 3);
    let msgs = pull(&c, 10, Duration::from_millis(300)).await;
    assert_eq!(stream_seqs(&msgs), [1, 3, 5]);
    assert!(msgs.iter().all(|m| m.subject.as_str() == "flt.a"));
}

#[tokio::test]
async fn consumer_deliver_policies() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("DP", &["dp.*"])).await;
    for (s, p) in [
        ("dp.a", "a1"),
        ("dp.b", "b1"),
        ("dp.a", "a2"),
        ("dp.c", "c1"),
        ("dp.b", "b2"),
    ] {
        publish(&t.js, s, p).await;
    }
    let with = |name: &str, deliver_policy| pull::Config {
        deliver_policy,
        ..durable(name)
    };

    let last = pull_consumer(&stream, with("last", DeliverPolicy::Last)).await;
    assert_eq!(
        payloads(&pull(&last, 10, Duration::from_millis(200)).await),
        ["b2"]
    );

    let from3 = pull_consumer(
        &stream,
        with(
            "from3",
            DeliverPolicy::ByStartSequence { start_sequence: 3 },
        ),
    )
    .await;
    assert_eq!(
        payloads(&pull(&from3, 10, Duration::from_millis(200)).await),
        ["a2", "c1", "b2"]
    );

    // (2.9 requires a filter subject with last_per_subject: error 10094 otherwise.)
    let lps = pull_consumer(
        &stream,
        pull::Config {
            filter_subject: "dp.*".into(),
            ..with("lps", DeliverPolicy::LastPerSubject)
        },
    )
    .await;
    assert_eq!(
        stream_seqs(&pull(&lps, 10, Duration::from_millis(200)).await),
        [3, 4, 5]
    );

    let mut new = pull_consumer(&stream, with("new", DeliverPolicy::New)).await;
    assert_eq!(consumer_info(&mut new).await.num_pending, 0);
    assert!(pull(&new, 10, Duration::from_millis(200)).await.is_empty());
    publish(&t.js, "dp.a", "a3").await;
    let msgs = pull_n(&new, 1).await;
    assert_eq!(payloads(&msgs), ["a3"]);
    assert_eq!(stream_seqs(&msgs), [6]);
}

// ---------------------------------------------------------------------------------------
// 5. Push and ordered consumers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn push_durable_explicit_ack() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("PUSH", &["push"])).await;
    for i in 1..=5 {
        publish(&t.js, "push", format!("{i}")).await;
    }
    let deliver = t.js.client().new_inbox();
    let mut c: PushConsumer = within(
        "create push consumer",
        stream.create_consumer(push::Config {
            durable_name: Some("pusher".into()),
            deliver_subject: deliver.clone(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let mut msgs = within("messages", c.messages()).await.unwrap();
    for i in 1..=5u64 {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, i.to_string());
        let mi = m.info().unwrap();
        assert_eq!(
            (mi.stream_sequence, mi.consumer, mi.delivered),
            (i, "pusher", 1)
        );
        if i <= 3 {
            ack(&m).await;
        }
    }
    publish(&t.js, "push", "6").await;
    let m = within("next", msgs.next()).await.unwrap().unwrap();
    assert_eq!(m.payload, "6");
    ack(&m).await;
    let ci = within("info", c.info()).await.unwrap();
    assert_eq!(ci.config.deliver_subject.as_deref(), Some(deliver.as_str()));
    assert_eq!(ci.delivered.stream_sequence, 6);
    assert_eq!(ci.num_ack_pending, 2);
    assert_eq!(ci.ack_floor.stream_sequence, 3);
    assert_eq!(ci.num_pending, 0);
}

#[tokio::test]
async fn ordered_push_consumer_reads_everything_in_order() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("ORD", &["ord.*"])).await;
    for i in 1..=50 {
        publish(&t.js, &format!("ord.{}", i % 3), format!("{i}")).await;
    }
    let mut msgs = ordered_messages(&t, &stream).await;
    for i in 1..=50u64 {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, i.to_string());
        assert_eq!(m.info().unwrap().stream_sequence, i);
    }
}

/// The messages of a new ordered push consumer on `stream`.
async fn ordered_messages(t: &Js, stream: &stream::Stream) -> push::Ordered {
    let c: OrderedPushConsumer = within(
        "create ordered",
        stream.create_consumer(push::OrderedConfig {
            deliver_subject: t.js.client().new_inbox(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    within("messages", c.messages()).await.unwrap()
}

/// Several megabytes through an ordered push consumer: the server asks for flow control
/// along the way and the client's answers keep it going.
#[tokio::test]
async fn ordered_push_consumer_with_flow_control_reads_megabytes() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("BIGORD", &["big.ord"])).await;
    let payload = Bytes::from(vec![b'z'; 32 * 1024]);
    for _ in 0..128 {
        publish(&t.js, "big.ord", payload.clone()).await;
    }
    let mut msgs = ordered_messages(&t, &stream).await;
    for i in 1..=128u64 {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i);
        assert_eq!(m.payload.len(), payload.len());
    }
}

#[tokio::test]
async fn ordered_pull_consumer_reads_everything_in_order() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("ORDP", &["ordp.*"])).await;
    for i in 1..=50 {
        publish(&t.js, &format!("ordp.{}", i % 3), format!("{i}")).await;
    }
    let c: consumer::Consumer<pull::OrderedConfig> = within(
        "create ordered",
        stream.create_consumer(pull::OrderedConfig {
            filter_subject: "ordp.1".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let mut msgs = within("messages", c.messages()).await.unwrap();
    let want: Vec<u64> = (1..=50).filter(|i| i % 3 == 1).collect();
    for i in want {
        let m = within("next", msgs.next()).await.unwrap().unwrap();
        assert_eq!(m.payload, i.to_string());
        assert_eq!(m.subject.as_str(), "ordp.1");
    }
}

// ---------------------------------------------------------------------------------------
// 6. Retention policies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn work_queue_removes_acked_messages() {
    let t = Js::start().await;
    let mut config = cfg("WQ", &["wq.*"]);
    config.retention = RetentionPolicy::WorkQueue;
    let mut stream = create_stream(&t.js, config).await;
    for i in 1..=4 {
        publish(&t.js, "wq.job", format!("{i}")).await;
    }
    let c = pull_consumer(&stream, durable("w")).await;
    let msgs = pull_n(&c, 4).await;
    ack(&msgs[0]).await;
    ack(&msgs[2]).await;
    let i = info(&mut stream).await;
    assert_eq!((i.state.messages, i.state.first_sequence), (2, 2));
    for n in [1, 3] {
        let err = within("get", stream.get_raw_message(n))
            .await
            .expect_err("acked message removed");
        assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
    }
    ack(&msgs[1]).await;
    ack(&msgs[3]).await;
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (0, 5, 4)
    );
    // A second unfiltered consumer on a work queue is refused.
    let err = within("second", stream.create_consumer(durable("w2")))
        .await
        .expect_err("work queue allows one consumer per subject");
    assert_eq!(err_code(&err), 10099, "{err}");
}

#[tokio::test]
async fn interest_retention_removes_after_all_consumers_ack() {
    let t = Js::start().await;
    let mut config = cfg("INT", &["int"]);
    config.retention = RetentionPolicy::Interest;
    let mut stream = create_stream(&t.js, config).await;
    // No consumers: nothing is kept.
    publish(&t.js, "int", "dropped").await;
    assert_eq!(info(&mut stream).await.state.messages, 0);

    let a = pull_consumer(&stream, durable("a")).await;
    let b = pull_consumer(&stream, durable("b")).await;
    publish(&t.js, "int", "kept").await;
    assert_eq!(info(&mut stream).await.state.messages, 1);
    let ma = pull_n(&a, 1).await;
    assert_eq!(ma[0].info().unwrap().stream_sequence, 2);
    ack(&ma[0]).await;
    // b has not acked: still there.
    assert_eq!(info(&mut stream).await.state.messages, 1);
    let mb = pull_n(&b, 1).await;
    ack(&mb[0]).await;
    let i = info(&mut stream).await;
    assert_eq!((i.state.messages, i.state.last_sequence), (0, 2));
}

// ---------------------------------------------------------------------------------------
// 7. Key-value store
// ---------------------------------------------------------------------------------------

/// Creates a bucket and opens it. `create_key_value` cannot be used against the 2.9
/// reference (it first calls `query_account()`, whose answer async-nats 0.51 fails to
/// parse), so the backing stream is made exactly as that function would make it and the
/// bucket is opened with `get_key_value`.
async fn kv_bucket(js: &Context, config: kv::Config) -> kv::Store {
    let stream = stream::Config {
        name: format!("KV_{}", config.bucket),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: config.history.max(1),
        max_age: config.max_age,
        storage: config.storage,
        num_replicas: 1,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        ..Default::default()
    };
    create_stream(js, stream).await;
    within("open bucket", js.get_key_value(config.bucket))
        .await
        .expect("open bucket")
}

/// The bucket made the way applications make it, by the client's `create_key_value`,
/// which first asks for the account's info and needs the `reserved_memory` and
/// `reserved_storage` fields newer servers send (nats-server 2.9.10 lacks them, so this
/// one test fails against it).
#[tokio::test]
async fn kv_created_by_the_client() {
    let t = Js::start().await;
    let store = within(
        "create bucket",
        t.js.create_key_value(kv::Config {
            bucket: "profiles".into(),
            history: 3,
            ..Default::default()
        }),
    )
    .await
    .expect("create bucket");
    within("put", store.put("alice", "v1".into()))
        .await
        .unwrap();
    within("put", store.put("alice", "v2".into()))
        .await
        .unwrap();
    assert_eq!(
        within("get", store.get("alice")).await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    let history: Vec<_> = within("history", store.history("alice"))
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    let account = within("account", t.js.query_account()).await.unwrap();
    assert_eq!(account.streams, 1);
}

#[tokio::test]
async fn kv_put_get_update_delete_purge() {
    let t = Js::start().await;
    let store = kv_bucket(
        &t.js,
        kv::Config {
            bucket: "cfg".into(),
            history: 5,
            ..Default::default()
        },
    )
    .await;
    let r1 = within("put", store.put("color", "red".into()))
        .await
        .unwrap();
    assert_eq!(r1, 1);
    let r2 = within("put", store.put("size", "L".into())).await.unwrap();
    assert_eq!(r2, 2);
    assert_eq!(
        within("get", store.get("color")).await.unwrap().as_deref(),
        Some(&b"red"[..])
    );
    assert_eq!(within("get", store.get("missing")).await.unwrap(), None);

    // Update with the right revision succeeds, with a stale one fails.
    let r3 = within("update", store.update("color", "blue".into(), r1))
        .await
        .unwrap();
    assert_eq!(r3, 3);
    let err = within("update", store.update("color", "green".into(), r1))
        .await
        .expect_err("stale revision");
    assert_eq!(err.kind(), kv::UpdateErrorKind::WrongLastRevision);
    // create refuses an existing key.
    let err = within("create", store.create("color", "x".into()))
        .await
        .expect_err("key exists");
    assert_eq!(err.kind(), kv::CreateErrorKind::AlreadyExists);
    let e = within("entry", store.entry("color"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.revision, e.value.as_ref()), (3, &b"blue"[..]));
    assert_eq!(e.operation, kv::Operation::Put);

    // Delete leaves a marker; get sees nothing, create works again.
    within("delete", store.delete("color")).await.unwrap();
    assert_eq!(within("get", store.get("color")).await.unwrap(), None);
    let r5 = within("create", store.create("color", "pink".into()))
        .await
        .unwrap();
    assert_eq!(r5, 5);

    // History keeps every revision up to the bucket's limit.
    let hist: Vec<kv::Entry> = within("history", async {
        store.history("color").await.unwrap().try_collect().await
    })
    .await
    .unwrap();
    let ops: Vec<_> = hist.iter().map(|e| (e.revision, e.operation)).collect();
    assert_eq!(
        ops,
        [
            (1, kv::Operation::Put),
            (3, kv::Operation::Put),
            (4, kv::Operation::Delete),
            (5, kv::Operation::Put),
        ]
    );

    // Purge removes the history, keeping one purge marker.
    within("purge", store.purge("color")).await.unwrap();
    assert_eq!(within("get", store.get("color")).await.unwrap(), None);
    let hist: Vec<kv::Entry> = within("history", async {
        store.history("color").await.unwrap().try_collect().await
    })
    .await
    .unwrap();
    assert_eq!(hist.len(), 1);
    assert_eq!(
        (hist[0].revision, hist[0].operation),
        (6, kv::Operation::Purge)
    );

    // Keys lists live keys only.
    within("put", store.put("weight", "3".into()))
        .await
        .unwrap();
    let mut keys: Vec<String> = within("keys", async {
        store.keys().await.unwrap().try_collect().await
    })
    .await
    .unwrap();
    keys.sort();
    assert_eq!(keys, ["size", "weight"]);
    let status = within("status", store.status()).await.unwrap();
    assert_eq!(status.history(), 5);
    assert_eq!(status.bucket(), "cfg");
}

#[tokio::test]
async fn kv_watch_receives_updates() {
    let t = Js::start().await;
    let store = kv_bucket(
        &t.js,
        kv::Config {
            bucket: "watched".into(),
            ..Default::default()
        },
    )
    .await;
    within("put", store.put("a.x", "old".into())).await.unwrap();
    within("put", store.put("b.w", "old".into())).await.unwrap();
    // `watch` only sees what happens from now on, `watch_with_history` starts with the
    // latest value of every matching key.
    let mut watch = within("watch", store.watch("a.>")).await.unwrap();
    let mut all = within("watch all", store.watch_all()).await.unwrap();
    let mut hist = within("watch history", store.watch_with_history("a.>"))
        .await
        .unwrap();
    let e = within("watch history", hist.next()).await.unwrap().unwrap();
    assert_eq!(
        (e.key.as_str(), e.value.as_ref(), e.revision),
        ("a.x", &b"old"[..], 1)
    );
    within("put", store.put("a.y", "1".into())).await.unwrap();
    within("put", store.put("b.z", "2".into())).await.unwrap();
    within("delete", store.delete("a.x")).await.unwrap();
    for w in [&mut watch, &mut hist] {
        let e = within("watch", w.next()).await.unwrap().unwrap();
        assert_eq!(
            (e.key.as_str(), e.value.as_ref(), e.revision, e.operation),
            ("a.y", &b"1"[..], 3, kv::Operation::Put)
        );
        let e = within("watch", w.next()).await.unwrap().unwrap();
        assert_eq!(
            (e.key.as_str(), e.revision, e.operation),
            ("a.x", 5, kv::Operation::Delete)
        );
    }
    // watch_all sees every key, including b.z.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let e = within("watch all", all.next()).await.unwrap().unwrap();
        seen.push((e.key, e.revision));
    }
    assert_eq!(
        seen,
        [
            ("a.y".to_string(), 3),
            ("b.z".to_string(), 4),
            ("a.x".to_string(), 5)
        ]
    );
    if let Ok(more) = timeout(QUIET, watch.next()).await {
        panic!("unexpected watch event: {more:?}");
    }
}

#[tokio::test]
async fn kv_max_age_expires_entries() {
    let t = Js::start().await;
    let store = kv_bucket(
        &t.js,
        kv::Config {
            bucket: "ttl".into(),
            max_age: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    within("put", store.put("k", "v".into())).await.unwrap();
    assert_eq!(
        within("get", store.get("k")).await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let start = Instant::now();
    while within("get", store.get("k")).await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "entry still there after {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The revision counter carries on.
    assert_eq!(within("put", store.put("k", "w".into())).await.unwrap(), 2);
}

// ---------------------------------------------------------------------------------------
// 8. Object store
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn object_store_put_get_list_delete() {
    let t = Js::start().await;
    let bucket = within(
        "create object store",
        t.js.create_object_store(object_store::Config {
            bucket: "files".into(),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    // 1 MiB + a bit of pseudo-random bytes: several 128 KiB chunks, last one partial.
    let mut data = vec![0u8; (1 << 20) + 1234];
    let mut x: u32 = 0x1234_5678;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    let put = within("put", bucket.put("big.bin", &mut data.as_slice()))
        .await
        .unwrap();
    assert_eq!(put.size, data.len());
    assert_eq!(put.chunks, 9);
    within("put small", bucket.put("small.txt", &mut &b"hello"[..]))
        .await
        .unwrap();

    let mut obj = within("get", bucket.get("big.bin")).await.unwrap();
    let mut back = Vec::new();
    within("read", obj.read_to_end(&mut back)).await.unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "object read back differs");

    let oi = within("info", bucket.info("big.bin")).await.unwrap();
    assert_eq!(
        (oi.name.as_str(), oi.size, oi.chunks),
        ("big.bin", data.len(), 9)
    );
    assert_eq!(oi.bucket, "files");

    let mut names: Vec<(String, usize)> = within("list", async {
        bucket
            .list()
            .await
            .unwrap()
            .map_ok(|i| (i.name, i.size))
            .try_collect::<Vec<_>>()
            .await
    })
    .await
    .unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            ("big.bin".to_string(), data.len()),
            ("small.txt".to_string(), 5)
        ]
    );

    within("delete", bucket.delete("big.bin")).await.unwrap();
    let err = within("get deleted", bucket.get("big.bin"))
        .await
        .expect_err("deleted object");
    assert_eq!(err.kind(), object_store::GetErrorKind::NotFound);
    let names: Vec<String> = within("list", async {
        bucket
            .list()
            .await
            .unwrap()
            .map_ok(|i| i.name)
            .try_collect::<Vec<_>>()
            .await
    })
    .await
    .unwrap();
    assert_eq!(names, ["small.txt"]);
    // The chunks are purged from the underlying stream: only small.txt's chunk and meta
    // plus big.bin's delete marker remain.
    let mut s = within("stream", t.js.get_stream("OBJ_files"))
        .await
        .unwrap();
    assert_eq!(info(&mut s).await.state.messages, 3);
}

// ---------------------------------------------------------------------------------------
// 9. Durability across restarts
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn file_stream_survives_crash() {
    let mut t = Js::start().await;
    let mut config = cfg("DUR", &["dur.*"]);
    config.storage = StorageType::File;
    create_stream(&t.js, config).await;
    const N: u64 = 200;
    for i in 1..=N {
        assert_eq!(
            publish(&t.js, &format!("dur.{}", i % 4), format!("msg {i}")).await,
            i
        );
    }
    t.crash_and_restart().await;

    let mut stream = within("get stream", t.js.get_stream("DUR")).await.unwrap();
    let i = info(&mut stream).await;
    assert_eq!(
        (
            i.state.messages,
            i.state.first_sequence,
            i.state.last_sequence
        ),
        (N, 1, N)
    );
    assert_eq!(i.state.subjects_count, 4);
    for seq in 1..=N {
        let m = within("get", stream.get_raw_message(seq)).await.unwrap();
        assert_eq!(m.payload, format!("msg {seq}"));
        assert_eq!(m.subject.as_str(), format!("dur.{}", seq % 4));
    }
    // Sequences continue after the restart.
    assert_eq!(publish(&t.js, "dur.0", "after").await, N + 1);
}

#[tokio::test]
async fn durable_consumer_ack_state_survives_restart() {
    let mut t = Js::start().await;
    let stream = create_stream(&t.js, cfg("ACKS", &["acks"])).await;
    for i in 1..=10 {
        publish(&t.js, "acks", format!("{i}")).await;
    }
    let c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_secs(30),
            ..durable("keeper")
        },
    )
    .await;
    let msgs = pull_n(&c, 6).await;
    for m in &msgs[..4] {
        ack(m).await;
    }
    // A clean stop: the 2.9 reference writes consumer state lazily, so after SIGKILL right
    // after the acks it comes back with an ack floor of 0.
    t.stop_and_restart().await;

    let stream = within("get stream", t.js.get_stream("ACKS")).await.unwrap();
    let mut c: PullConsumer = within("get consumer", stream.get_consumer("keeper"))
        .await
        .unwrap();
    let ci = consumer_info(&mut c).await;
    assert_eq!(ci.ack_floor.stream_sequence, 4);
    assert_eq!(ci.delivered.stream_sequence, 6);
    assert_eq!(ci.num_pending, 4);
    assert_eq!(ci.config.ack_wait, Duration::from_secs(30));
    // The unacked 5 and 6 are still pending, then 7..10 follow; acked ones never return.
    assert_eq!(ci.num_ack_pending, 2);
    let rest = pull(&c, 4, Duration::from_millis(500)).await;
    assert_eq!(stream_seqs(&rest), [7, 8, 9, 10]);
}

/// A mirror keeps its origin's sequences, a sourcing stream gathers (filtered, with a
/// subject transform) from several origins; both catch up with what was there before
/// them and go on after a restart without copying anything twice.
#[tokio::test]
async fn mirror_and_sources_survive_restart() {
    let mut t = Js::start().await;
    create_stream(&t.js, cfg("ORDERS", &["orders.>"])).await;
    create_stream(&t.js, cfg("RETURNS", &["returns.>"])).await;
    for i in 1..=3 {
        publish(&t.js, &format!("orders.{i}"), format!("o{i}")).await;
    }
    publish(&t.js, "returns.1", "r1").await;
    let mirror = stream::Config {
        name: "BACKUP".into(),
        mirror: Some(stream::Source {
            name: "ORDERS".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    create_stream(&t.js, mirror).await;
    let sources = stream::Config {
        name: "ALL".into(),
        sources: Some(vec![
            stream::Source {
                name: "ORDERS".into(),
                filter_subject: Some("orders.2".into()),
                ..Default::default()
            },
            stream::Source {
                name: "RETURNS".into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    create_stream(&t.js, sources).await;
    t.stop_and_restart().await;
    publish(&t.js, "orders.2", "o2-again").await;
    publish(&t.js, "returns.2", "r2").await;
    // The reference copies asynchronously: wait until each stream has caught up.
    let caught_up = |name: &'static str, messages: u64| {
        let js = t.js.clone();
        within("catch up", async move {
            loop {
                let mut s = js.get_stream(name).await.unwrap();
                let state = s.info().await.unwrap().state.clone();
                if state.messages >= messages {
                    return state;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let backup = caught_up("BACKUP", 4).await;
    assert_eq!(
        (backup.messages, backup.first_sequence, backup.last_sequence),
        (4, 1, 4)
    );
    let all = caught_up("ALL", 4).await;
    assert_eq!(
        all.messages, 4,
        "orders.2 twice and both returns, each once"
    );
    let backup = within("get", t.js.get_stream("BACKUP")).await.unwrap();
    let msg = within("get 4", backup.get_raw_message(4)).await.unwrap();
    assert_eq!(
        (msg.subject.as_str(), &msg.payload[..]),
        ("orders.2", &b"o2-again"[..])
    );
}

/// Pausing a consumer (nats-server 2.11's `CONSUMER.PAUSE`; 2.9.10 lacks it): nothing is
/// delivered until the pause ends or it is resumed.
#[tokio::test]
async fn paused_consumer_delivers_after_resume() {
    let t = Js::start().await;
    let stream = create_stream(&t.js, cfg("PAUSED", &["paused.>"])).await;
    publish(&t.js, "paused.x", "waiting").await;
    let mut c = pull_consumer(&stream, durable("sleepy")).await;
    let until = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
    let paused = within("pause", stream.pause_consumer("sleepy", until))
        .await
        .unwrap();
    assert!(paused.paused);
    assert!(consumer_info(&mut c).await.paused);
    let batch = within(
        "fetch while paused",
        c.fetch()
            .max_messages(1)
            .expires(Duration::from_millis(300))
            .messages(),
    )
    .await
    .unwrap();
    let msgs: Vec<_> = within("fetch", batch.try_collect()).await.unwrap();
    assert!(msgs.is_empty(), "delivered while paused");
    let resumed = within("resume", stream.resume_consumer("sleepy"))
        .await
        .unwrap();
    assert!(!resumed.paused);
    let batch = within("fetch", c.fetch().max_messages(1).messages())
        .await
        .unwrap();
    let msgs: Vec<_> = within("fetch", batch.try_collect()).await.unwrap();
    assert_eq!(payloads(&msgs), ["waiting"]);
}

/// Per-message TTL (nats-server 2.11's `allow_msg_ttl` and `Nats-TTL`; 2.9.10 lacks it):
/// the message goes when its own time is up, the others stay.
#[tokio::test]
async fn messages_with_their_own_ttl_expire() {
    let t = Js::start().await;
    let mut config = cfg("TTL", &["ttl.>"]);
    config.allow_message_ttl = true;
    let mut stream = create_stream(&t.js, config).await;
    publish_with(
        &t.js,
        "ttl.short",
        Publish::build()
            .payload("brief".into())
            .ttl(Duration::from_secs(1)),
    )
    .await
    .unwrap();
    publish(&t.js, "ttl.long", "stays").await;
    assert_eq!(info(&mut stream).await.state.messages, 2);
    within("expiry", async {
        while info(&mut stream).await.state.messages != 1 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let left = within("get", stream.get_raw_message(2)).await.unwrap();
    assert_eq!(left.payload, "stays");
}

// ---------------------------------------------------------------------------------------
// Snapshots and restores, as `nats stream backup` / `nats stream restore` speak them
// (async-nats has no API for them)
// ---------------------------------------------------------------------------------------

/// Takes a snapshot of `stream` as jsm.go does: chunks to an inbox, each acked by an
/// empty reply, until an empty message. The answer and the archive.
async fn backup(js: &Context, stream: &str) -> (serde_json::Value, Vec<u8>) {
    let client = js.client();
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.unwrap();
    let req = json!({ "deliver_subject": inbox, "chunk_size": 4096 });
    let answer = api(js, &format!("STREAM.SNAPSHOT.{stream}"), req).await;
    assert_eq!(answer["error"], Null, "{answer}");
    let mut archive = Vec::new();
    loop {
        let m = next(&mut sub).await;
        let Some(reply) = m.reply else {
            assert!(m.payload.is_empty(), "only the end comes without a reply");
            return (answer, archive);
        };
        archive.extend_from_slice(&m.payload);
        client.publish(reply, Bytes::new()).await.unwrap();
    }
}

/// Restores `archive` into a stream configured by `config`, as jsm.go does: each chunk a
/// request answered empty, then an empty request answered with the stream's info (or
/// the error).
async fn restore(js: &Context, config: &serde_json::Value, archive: &[u8]) -> serde_json::Value {
    let name = config["name"].as_str().unwrap();
    let req = json!({ "config": config, "state": {} });
    let answer = api(js, &format!("STREAM.RESTORE.{name}"), req).await;
    let deliver = answer["deliver_subject"]
        .as_str()
        .expect("a deliver subject");
    let client = js.client();
    for chunk in archive.chunks(64 * 1024) {
        let ack = within(
            "chunk ack",
            client.request(deliver.to_string(), chunk.to_vec().into()),
        )
        .await
        .unwrap();
        // An archive found wrong midway is refused at once, on that chunk's reply.
        if !ack.payload.is_empty() {
            return serde_json::from_slice(&ack.payload).unwrap();
        }
    }
    let done = within("restore", client.request(deliver.to_string(), Bytes::new()))
        .await
        .unwrap();
    serde_json::from_slice(&done.payload).unwrap()
}

/// Every message of stream `S` from sequence 1 to `last`, as `STREAM.MSG.GET` shows it
/// (subject, sequence, headers, data, time), or its error where there is none.
async fn all_messages(js: &Context, last: u64) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for seq in 1..=last {
        let got = api(js, "STREAM.MSG.GET.S", json!({ "seq": seq })).await;
        all.push(if got["error"].is_null() {
            got["message"].clone()
        } else {
            got["error"].clone()
        });
    }
    all
}

/// Whether the tests run against the reference server rather than rnats.
fn against_reference() -> bool {
    rnats_bin().ends_with("nats-server")
}

/// What a restore must bring back of consumer `C`: where it is, what waits for acks, and
/// (but for the reference, which makes it anew) when it was created.
async fn consumer_position(js: &Context) -> serde_json::Value {
    let info = api(js, "CONSUMER.INFO.S.C", Null).await;
    let created = match against_reference() {
        true => Null,
        false => info["created"].clone(),
    };
    json!({
        "config": info["config"],
        "created": created,
        "delivered": [info["delivered"]["consumer_seq"], info["delivered"]["stream_seq"]],
        "ack_floor": [info["ack_floor"]["consumer_seq"], info["ack_floor"]["stream_seq"]],
        "num_ack_pending": info["num_ack_pending"],
        "num_redelivered": info["num_redelivered"],
        "num_pending": info["num_pending"],
    })
}

#[tokio::test]
async fn a_file_stream_is_backed_up_and_restored_with_its_consumer() {
    let mut t = Js::start().await;
    let stream = create_stream(&t.js, cfg("S", &["s.>"])).await;
    // Sent together, acked together (one fsync for many).
    let mut acks = Vec::new();
    for i in 0..300u32 {
        let mut msg =
            Publish::build().payload(vec![(i % 251) as u8; (i as usize * 37) % 3000].into());
        if i % 3 == 0 {
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("I", i.to_string().as_str());
            msg = msg.headers(headers);
        }
        let subject = format!("s.{}", i % 7);
        acks.push(t.js.send_publish(subject, msg).await.expect("publish"));
    }
    for ack in acks {
        let ack = std::future::IntoFuture::into_future(ack);
        within("publish ack", ack).await.expect("publish ack");
    }
    for seq in [1, 50, 51, 300] {
        let deleted = api(&t.js, "STREAM.MSG.DELETE.S", json!({ "seq": seq })).await;
        assert_eq!(deleted["success"], true, "{deleted}");
    }
    let consumer = pull_consumer(
        &stream,
        pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        },
    )
    .await;
    for (i, m) in pull_n(&consumer, 10).await.into_iter().enumerate() {
        if i % 2 == 0 {
            m.double_ack().await.unwrap();
        }
    }
    let state = api(&t.js, "STREAM.INFO.S", Null).await["state"].clone();
    let messages = all_messages(&t.js, 300).await;
    let position = consumer_position(&t.js).await;

    let (answer, archive) = backup(&t.js, "S").await;
    assert_eq!(answer["state"], state);
    // The reference forgets the time of a deleted last message on restore (`last_ts`
    // becomes 1970); rnats keeps it. Against the reference, it is not compared.
    let mut state = state;
    if against_reference() {
        state["last_ts"] = json!("1970-01-01T00:00:00Z");
    }
    let deleted = api(&t.js, "STREAM.DELETE.S", Null).await;
    assert_eq!(deleted["success"], true);
    let restored = restore(&t.js, &answer["config"], &archive).await;
    assert_eq!(
        restored["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(restored["state"], state, "{restored}");

    let check = |js: Context| {
        let (state, messages, position) = (state.clone(), messages.clone(), position.clone());
        async move {
            assert_eq!(api(&js, "STREAM.INFO.S", Null).await["state"], state);
            assert_eq!(all_messages(&js, 300).await, messages);
            assert_eq!(consumer_position(&js).await, position);
        }
    };
    check(t.js.clone()).await;
    // Restored means on disk: a crash right after loses nothing.
    t.crash_and_restart().await;
    check(t.js.clone()).await;
    // And the restored consumer goes on where it was.
    let stream = t.js.get_stream("S").await.unwrap();
    let consumer: PullConsumer = stream.get_consumer("C").await.unwrap();
    let next = pull_n(&consumer, 1).await;
    assert!(next[0].info().unwrap().stream_sequence > 10);

    // A damaged archive is refused and leaves nothing behind.
    let mut damaged = archive.clone();
    damaged[archive.len() / 2] ^= 1;
    let mut config = answer["config"].clone();
    config["name"] = json!("T");
    config["subjects"] = json!(["t"]);
    let refused = restore(&t.js, &config, &damaged).await;
    assert_eq!(refused["error"]["err_code"], 10062, "{refused}");
}
