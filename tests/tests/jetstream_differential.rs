//! Differential test of the JetStream API: every case plays the same requests against the
//! Go reference server and against rnats (each started with `-js -sd <own temp dir>`, at
//! the same time), over a plain `async-nats` client on raw `$JS.API.*` subjects with JSON
//! bodies, plus publishes with a reply (pub acks), `$JS.ACK` acks and
//! `$JS.API.CONSUMER.MSG.NEXT` pulls. Every answer is normalised (see [`normalise`]) and
//! the two answers must be equal, including the order of object fields.
//!
//! Environment:
//! - `RNATS_BIN`, `NATS_SERVER_BIN`: the binaries (see `rnats_tests`).
//! - `JSDIFF_SHOW=1`: print every case's reference answers, passing or not.
//! - `CI`: when set, a missing reference server is an error instead of a skip.
//!
//! Self-check (the reference against itself, must pass):
//! `RNATS_BIN=/usr/sbin/nats-server cargo test -p rnats-tests --test jetstream_differential`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use async_nats::{Client, HeaderMap, Message};
use futures::StreamExt;
use rnats_tests::{reference_bin, rnats_bin, Server};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::time::timeout;

mod common;

/// Bound for one answer. Both servers are local and answer within milliseconds; only a
/// request a server leaves unanswered (recorded as `<no answer>`) waits this long.
const ANSWER: Duration = Duration::from_secs(2);

/// Object keys whose values are times: the value is replaced by `"<time>"` (the zero time
/// `0001-01-01T00:00:00Z` of an empty stream is kept, it is not a clock reading).
const TIME_KEYS: &[&str] = &[
    "created",
    "ts",
    "first_ts",
    "last_ts",
    "last_active",
    "time",
];
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Fields rnats sends that the reference 2.9.10 does not, each documented: (answer
/// `type` without its `io.nats.jetstream.api.v1.` prefix, top-level field, why). Such a
/// field is dropped from the rnats answer only when the reference's answer of that type
/// lacks it; everywhere else it is compared like any other field.
const ALLOWED_EXTRAS: &[(&str, &str, &str)] = &[
    // Newer reference servers (2.10+) send the bytes reserved by streams' max_bytes, and
    // async-nats 0.51 requires the fields to decode `AccountInfo`.
    (
        "account_info_response",
        "reserved_memory",
        "2.10+, required by async-nats",
    ),
    (
        "account_info_response",
        "reserved_storage",
        "2.10+, required by async-nats",
    ),
];

// ---------------------------------------------------------------------------------------
// One side: a server, its store directory and a client, plus what it answered.

/// One recorded answer.
struct Record {
    /// What was sent, as `SUBJECT BODY` (ephemeral names already replaced).
    step: String,
    answer: Value,
}

struct Side {
    name: &'static str,
    client: Client,
    records: Vec<Record>,
    /// Server-chosen consumer names, in the order they were made; shown as `<ephemeral N>`.
    ephemerals: Vec<String>,
    srv: Server,
    // Last: the server is killed before its directory is removed.
    _dir: TempDir,
}

impl Side {
    async fn start(name: &'static str, bin: &Path) -> Side {
        let dir = tempfile::Builder::new()
            .prefix("rnats-jsdiff-")
            .tempdir()
            .expect("temp dir");
        let sd = dir.path().to_str().unwrap().to_owned();
        let srv = Server::start(bin, ["-js", "-sd", &sd])
            .unwrap_or_else(|e| panic!("{name}: JetStream server did not start: {e}"));
        let client = common::connect(&srv).await;
        Side {
            name,
            client,
            records: Vec::new(),
            ephemerals: Vec::new(),
            srv,
            _dir: dir,
        }
    }

    fn record(&mut self, step: String, answer: Value) {
        let step = self.hide_names(&step);
        self.records.push(Record { step, answer });
    }

    fn hide_names(&self, s: &str) -> String {
        let mut s = s.to_string();
        for (i, n) in self.ephemerals.iter().enumerate() {
            s = s.replace(n.as_str(), &format!("<ephemeral {}>", i + 1));
        }
        s
    }

    /// `$JS.API.<api>` with `body`; the answer is recorded and returned as it came.
    async fn api(&mut self, api: &str, body: &str) -> Value {
        let subject = format!("$JS.API.{api}");
        let answer = self.request(subject.clone(), HeaderMap::new(), body).await;
        // A consumer name neither in the request's subject nor in its body was chosen by
        // the server.
        if let Some(n) = answer["name"].as_str() {
            let created = answer["type"] == "io.nats.jetstream.api.v1.consumer_create_response";
            if created
                && !subject.contains(n)
                && !body.contains(n)
                && !self.ephemerals.iter().any(|e| e == n)
            {
                self.ephemerals.push(n.to_string());
            }
        }
        self.record(format!("{subject} {body}"), answer.clone());
        answer
    }

    /// [`Side::api`] with a JSON body.
    async fn api_json(&mut self, api: &str, body: Value) -> Value {
        self.api(api, &body.to_string()).await
    }

    /// Publishes with a reply and headers; the pub ack is recorded.
    async fn publish(&mut self, subject: &str, headers: &[(&str, &str)], payload: &str) -> Value {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, *v);
        }
        let answer = self.request(subject.to_string(), map, payload).await;
        let shown = if headers.is_empty() {
            String::new()
        } else {
            format!(" {headers:?}")
        };
        self.record(format!("PUB {subject}{shown} {payload:?}"), answer.clone());
        answer
    }

    /// Publishes `n` messages `<subject> #i` and records the acks as one answer.
    async fn publish_many(&mut self, subjects: &[&str], n: usize) {
        let mut acks = Vec::new();
        for i in 0..n {
            let subject = subjects[i % subjects.len()];
            let payload = format!("{subject} #{i}");
            acks.push(
                self.request(subject.to_string(), HeaderMap::new(), &payload)
                    .await,
            );
        }
        self.record(format!("PUB x{n} to {subjects:?}"), Value::Array(acks));
    }

    /// A request; the answer as JSON, or a description of whatever else came back.
    async fn request(&mut self, subject: String, headers: HeaderMap, body: &str) -> Value {
        let req = self
            .client
            .send_request(
                subject,
                async_nats::Request::new()
                    .headers(headers)
                    .payload(body.to_string().into())
                    .timeout(Some(ANSWER)),
            )
            .await;
        match req {
            Ok(msg) => message_answer(&msg),
            Err(e) => json!({ "<no answer>": format!("{:?}", e.kind()) }),
        }
    }

    /// A pull request `body` on `stream`'s consumer `consumer`; records the first `n`
    /// messages that come back (deliveries and status messages) and returns them.
    async fn pull(&mut self, stream: &str, consumer: &str, body: Value, n: usize) -> Vec<Message> {
        let inbox = self.client.new_inbox();
        let mut sub = self.client.subscribe(inbox.clone()).await.unwrap();
        let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
        self.client
            .publish_with_reply(subject.clone(), inbox, body.to_string().into())
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut shown = Vec::new();
        while got.len() < n {
            match timeout(ANSWER, sub.next()).await {
                Ok(Some(m)) => {
                    shown.push(message_answer(&m));
                    got.push(m);
                }
                _ => {
                    shown.push(json!("<nothing more within 2 s>"));
                    break;
                }
            }
        }
        self.record(
            format!("PULL {subject} {body} (first {n})"),
            Value::Array(shown),
        );
        got
    }

    /// Acks a delivery with `body` (`+ACK`, `-NAK`, `+WPI`, `+TERM`...) as a request, so
    /// that the ack has been processed when this returns (the server answers it).
    async fn ack(&mut self, msg: &Message, body: &str) {
        let reply = msg
            .reply
            .as_ref()
            .expect("delivery with a reply")
            .to_string();
        let answer = self.request(reply.clone(), HeaderMap::new(), body).await;
        self.record(format!("ACK {} {body}", hide_ack_time(&reply)), answer);
    }
}

/// An answer message as JSON: its JSON payload, or status, headers and payload (and the
/// reply subject of a delivery, with its timestamp token hidden).
fn message_answer(m: &Message) -> Value {
    let plain = m.status.is_none() && m.headers.is_none() && m.reply.is_none();
    if plain {
        if let Ok(v) = serde_json::from_slice::<Value>(&m.payload) {
            return v;
        }
    }
    let mut out = serde_json::Map::new();
    // Answers come on the client's own (random) inbox.
    let subject = if m.subject.starts_with("_INBOX.") {
        "<inbox>"
    } else {
        m.subject.as_str()
    };
    out.insert("subject".into(), json!(subject));
    if let Some(s) = m.status {
        out.insert("status".into(), json!(s.as_u16()));
    }
    if let Some(d) = &m.description {
        out.insert("description".into(), json!(d));
    }
    if let Some(h) = &m.headers {
        let sorted: BTreeMap<String, Vec<String>> = h
            .iter()
            .map(|(k, vs)| {
                (
                    k.to_string(),
                    vs.iter().map(|v| v.as_str().to_string()).collect(),
                )
            })
            .collect();
        out.insert("headers".into(), json!(sorted));
    }
    if let Some(r) = &m.reply {
        out.insert("reply".into(), json!(hide_ack_time(r)));
    }
    out.insert("payload".into(), json!(String::from_utf8_lossy(&m.payload)));
    Value::Object(out)
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`: the timestamp
/// token becomes `<ts>`.
fn hide_ack_time(reply: &str) -> String {
    let mut t: Vec<&str> = reply.split('.').collect();
    if t.len() == 9 && t[0] == "$JS" && t[1] == "ACK" {
        t[7] = "<ts>";
    }
    t.join(".")
}

// ---------------------------------------------------------------------------------------
// Normalising and comparing

/// What legitimately differs between two servers: times, the names the server chose
/// for ephemeral consumers, and the account's API statistics (rnats counts what it
/// answers; the reference's counts differ by the requests it handles internally).
/// Everything else is kept.
fn normalise(side: &Side, v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let account_info = map.get("type").and_then(Value::as_str)
                == Some("io.nats.jetstream.api.v1.account_info_response");
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let v = if TIME_KEYS.contains(&k.as_str())
                    && v.is_string()
                    && v.as_str() != Some(ZERO_TIME)
                {
                    json!("<time>")
                } else if account_info && k == "api" {
                    json!("<statistics>")
                } else if k == "active" && v.as_i64().is_some_and(|n| n >= 0) {
                    // How long since a mirror's or source's origin was heard from.
                    json!("<active>")
                } else {
                    normalise(side, v)
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| normalise(side, v)).collect()),
        Value::String(s) => Value::String(side.hide_names(s)),
        other => other.clone(),
    }
}

/// Drops the [`ALLOWED_EXTRAS`] from `got` where `want` lacks them.
fn drop_allowed_extras(want: &Value, got: &mut Value) {
    let (Value::Object(w), Value::Object(g)) = (want, got) else {
        return;
    };
    let kind = g
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    for (t, field, _why) in ALLOWED_EXTRAS {
        if kind.strip_prefix("io.nats.jetstream.api.v1.") == Some(*t) && !w.contains_key(*field) {
            g.shift_remove(*field);
        }
    }
}

/// Compares the two recordings; one text per difference.
fn compare(reference: &Side, rnats: &Side) -> Vec<String> {
    let mut out = Vec::new();
    let n = reference.records.len().max(rnats.records.len());
    for i in 0..n {
        let (Some(w), Some(g)) = (reference.records.get(i), rnats.records.get(i)) else {
            out.push(format!("step {i}: recordings have different lengths"));
            break;
        };
        let want = normalise(reference, &w.answer);
        let mut got = normalise(rnats, &g.answer);
        drop_allowed_extras(&want, &mut got);
        let (ws, gs) = (want.to_string(), got.to_string());
        let step = if w.step == g.step {
            w.step.clone()
        } else {
            format!("{} / rnats: {}", w.step, g.step)
        };
        // `Value` equality ignores the order of object keys; the texts do not.
        if want != got {
            out.push(format!(
                "step {i}: {step}\n  reference: {ws}\n  rnats:     {gs}"
            ));
        } else if ws != gs {
            out.push(format!(
                "step {i} (field order only): {step}\n  reference: {ws}\n  rnats:     {gs}"
            ));
        }
    }
    out
}

fn show(side: &Side) -> String {
    side.records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "  {i}: {}\n     -> {}\n",
                r.step,
                normalise(side, &r.answer)
            )
        })
        .collect()
}

/// Defines a test that plays `$body` (an async block using `$s: &mut Side`) on both
/// servers at once and compares what they answered.
macro_rules! case {
    ($(#[$m:meta])* $name:ident, |$s:ident| $body:block) => {
        $(#[$m])*
        #[tokio::test]
        async fn $name() {
            async fn play($s: &mut Side) $body
            let Some(reference) = reference() else { return };
            let rnats = rnats_bin();
            let (mut want, mut got) = tokio::join!(
                Side::start("reference", &reference),
                Side::start("rnats", &rnats)
            );
            tokio::join!(play(&mut want), play(&mut got));
            finish(stringify!($name), &mut want, &mut got);
        }
    };
}

fn reference() -> Option<std::path::PathBuf> {
    let found = reference_bin();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the reference nats-server is not installed (CI is set): \
             install it (apt-get install nats-server) or set NATS_SERVER_BIN"
        );
        eprintln!("skipped: no reference nats-server found");
    }
    found
}

fn finish(name: &str, want: &mut Side, got: &mut Side) {
    want.srv.stop();
    got.srv.stop();
    if std::env::var_os("JSDIFF_SHOW").is_some() {
        eprintln!("--- {name}: reference answers\n{}", show(want));
    }
    let diffs = compare(want, got);
    assert!(
        diffs.is_empty(),
        "{name}: {} difference(s) between the {} and {} answers (normalised):\n{}",
        diffs.len(),
        want.name,
        got.name,
        diffs.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Cases: accounts and streams

case!(account_info, |s| {
    s.api("INFO", "").await;
    s.api_json("STREAM.CREATE.A", json!({"name": "A", "subjects": ["a.>"]}))
        .await;
    s.api_json(
        "STREAM.CREATE.B",
        json!({"name": "B", "subjects": ["b"], "storage": "memory"}),
    )
    .await;
    s.publish_many(&["a.1", "b"], 4).await;
    s.api("INFO", "").await;
});

case!(stream_create_defaults, |s| {
    // No subjects: the stream's name is its subject.
    s.api_json("STREAM.CREATE.S", json!({"name": "S"})).await;
    s.api_json(
        "STREAM.CREATE.F",
        json!({"name": "F", "subjects": ["f.*"], "storage": "file"}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.M",
        json!({"name": "M", "subjects": ["m.>"], "storage": "memory"}),
    )
    .await;
    s.api("STREAM.INFO.S", "").await;
    s.api("STREAM.INFO.M", "").await;
});

case!(stream_create_limits, |s| {
    s.api_json(
        "STREAM.CREATE.L",
        json!({
            "name": "L", "subjects": ["l.>"], "retention": "limits",
            "max_consumers": 5, "max_msgs": 10, "max_bytes": 4096, "max_age": 3_600_000_000_000u64,
            "max_msgs_per_subject": 2, "max_msg_size": 100, "discard": "new",
            "storage": "memory", "num_replicas": 1, "duplicate_window": 60_000_000_000u64,
            "allow_rollup_hdrs": true, "deny_delete": true, "deny_purge": false,
            "allow_direct": true, "description": "limited", "sealed": false
        }),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.W",
        json!({"name": "W", "subjects": ["w.>"], "retention": "workqueue"}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.I",
        json!({"name": "I", "subjects": ["i.>"], "retention": "interest", "max_age": 1_000_000_000u64}),
    )
    .await;
});

case!(stream_create_invalid, |s| {
    // Name in the subject and in the body differ.
    s.api_json("STREAM.CREATE.X", json!({"name": "Y"})).await;
    // Bad JSON, empty body.
    s.api("STREAM.CREATE.X", "{not json").await;
    s.api("STREAM.CREATE.X", "").await;
    // Invalid names.
    s.api_json("STREAM.CREATE.a*b", json!({"name": "a*b"}))
        .await;
    s.api_json("STREAM.CREATE.a>b", json!({"name": "a>b"}))
        .await;
    // Subjects: invalid, overlapping each other, reserved.
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "subjects": ["a..b"]}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "subjects": ["a.>", "a.b"]}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "subjects": ["$JS.API.>"]}),
    )
    .await;
    // Limits out of range.
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "max_age": -1}))
        .await;
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "num_replicas": 7}))
        .await;
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "max_msg_size": -5}))
        .await;
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "duplicate_window": 10_000_000_000u64, "max_age": 1_000_000_000u64}),
    )
    .await;
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "storage": "floppy"}))
        .await;
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "sealed": true}))
        .await;
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "retention": "workqueue", "max_msgs_per_subject": 1}),
    )
    .await;
    // Overlap with an existing stream.
    s.api_json("STREAM.CREATE.A", json!({"name": "A", "subjects": ["o.*"]}))
        .await;
    s.api_json("STREAM.CREATE.B", json!({"name": "B", "subjects": ["o.x"]}))
        .await;
    s.api("INFO", "").await;
    // Last: a stream on `>` stores (and acks) every later request, answers included.
    s.api_json("STREAM.CREATE.X", json!({"name": "X", "subjects": [">"]}))
        .await;
});

case!(stream_create_twice, |s| {
    let cfg = json!({"name": "T", "subjects": ["t.>"]});
    s.api_json("STREAM.CREATE.T", cfg.clone()).await;
    s.api_json("STREAM.CREATE.T", cfg).await;
    s.api_json(
        "STREAM.CREATE.T",
        json!({"name": "T", "subjects": ["t.>", "u"]}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.T",
        json!({"name": "T", "subjects": ["t.>"], "storage": "memory"}),
    )
    .await;
    s.api("STREAM.INFO.T", "").await;
});

case!(stream_info, |s| {
    s.api("STREAM.INFO.NOPE", "").await;
    s.api_json("STREAM.CREATE.S", json!({"name": "S", "subjects": ["s.*"]}))
        .await;
    s.api("STREAM.INFO.S", "").await;
    s.publish_many(&["s.a", "s.b", "s.c"], 7).await;
    s.api_json("STREAM.MSG.DELETE.S", json!({"seq": 3})).await;
    s.api("STREAM.INFO.S", "").await;
    s.api_json("STREAM.INFO.S", json!({"subjects_filter": ">"}))
        .await;
    s.api_json("STREAM.INFO.S", json!({"subjects_filter": "s.a"}))
        .await;
    s.api_json("STREAM.INFO.S", json!({"subjects_filter": "x"}))
        .await;
    // async-nats asks with a `null` body.
    s.api("STREAM.INFO.S", "null").await;
    s.api("STREAM.INFO.S", "{bad").await;
    s.api_json("STREAM.INFO.S", json!({"deleted_details": true}))
        .await;
});

case!(stream_update, |s| {
    s.api_json("STREAM.UPDATE.U", json!({"name": "U", "subjects": ["u"]}))
        .await;
    s.api_json(
        "STREAM.CREATE.U",
        json!({"name": "U", "subjects": ["u.>"], "max_msgs": 100}),
    )
    .await;
    // Allowed: subjects, limits, description, discard, duplicate window.
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>", "v"], "max_msgs": 5, "max_bytes": 10000,
               "description": "updated", "discard": "new", "duplicate_window": 30_000_000_000u64}),
    )
    .await;
    // Refused: storage, retention, name mismatch, bad config, max_consumers, sealed->unsealed.
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>"], "storage": "memory"}),
    )
    .await;
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>"], "retention": "workqueue"}),
    )
    .await;
    s.api_json("STREAM.UPDATE.U", json!({"name": "V", "subjects": ["u.>"]}))
        .await;
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>"], "max_consumers": 3}),
    )
    .await;
    s.api("STREAM.UPDATE.U", "{bad").await;
    s.api_json("STREAM.CREATE.O", json!({"name": "O", "subjects": ["o"]}))
        .await;
    s.api_json("STREAM.UPDATE.U", json!({"name": "U", "subjects": ["o"]}))
        .await;
    // Max msgs lowered below what is stored: trimmed.
    s.publish_many(&["u.1"], 6).await;
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>", "v"], "max_msgs": 2}),
    )
    .await;
    s.api("STREAM.INFO.U", "").await;
    // Seal.
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>", "v"], "max_msgs": 2, "sealed": true,
               "max_age": 3_600_000_000_000u64, "allow_rollup_hdrs": true}),
    )
    .await;
    s.publish("u.1", &[], "sealed?").await;
    s.api("STREAM.PURGE.U", "").await;
    s.api_json("STREAM.MSG.DELETE.U", json!({"seq": 5})).await;
    s.api_json(
        "STREAM.UPDATE.U",
        json!({"name": "U", "subjects": ["u.>", "v"], "max_msgs": 2}),
    )
    .await;
});

case!(stream_names_list, |s| {
    s.api("STREAM.NAMES", "").await;
    s.api("STREAM.LIST", "").await;
    for n in ["C", "A", "B", "D"] {
        s.api_json(
            &format!("STREAM.CREATE.{n}"),
            json!({"name": n, "subjects": [format!("{}.>", n.to_lowercase())]}),
        )
        .await;
    }
    s.api("STREAM.NAMES", "").await;
    s.api_json("STREAM.NAMES", json!({"offset": 2})).await;
    s.api_json("STREAM.NAMES", json!({"offset": 10})).await;
    s.api_json("STREAM.NAMES", json!({"subject": "b.x"})).await;
    s.api("STREAM.LIST", "").await;
    s.api_json("STREAM.LIST", json!({"offset": 3})).await;
    s.api("STREAM.NAMES", "{bad").await;
    s.api("STREAM.LIST", "{bad").await;
    s.api_json("STREAM.LIST", json!({"offset": 10})).await;
});

case!(stream_delete, |s| {
    s.api("STREAM.DELETE.NOPE", "").await;
    s.api_json("STREAM.CREATE.D", json!({"name": "D"})).await;
    s.publish("D", &[], "x").await;
    s.api("STREAM.DELETE.D", "").await;
    s.api("STREAM.INFO.D", "").await;
    s.api("STREAM.DELETE.D", "").await;
    s.publish("D", &[], "gone").await;
});

case!(stream_purge, |s| {
    s.api("STREAM.PURGE.NOPE", "").await;
    s.api_json("STREAM.CREATE.P", json!({"name": "P", "subjects": ["p.*"]}))
        .await;
    s.publish_many(&["p.a", "p.b"], 10).await;
    s.api_json("STREAM.PURGE.P", json!({"filter": "p.a"})).await;
    s.api("STREAM.INFO.P", "").await;
    s.api_json("STREAM.PURGE.P", json!({"filter": "p.b", "keep": 2}))
        .await;
    s.api("STREAM.INFO.P", "").await;
    s.publish_many(&["p.a", "p.b"], 6).await;
    s.api_json("STREAM.PURGE.P", json!({"seq": 14})).await;
    s.api("STREAM.INFO.P", "").await;
    s.api_json("STREAM.PURGE.P", json!({"keep": 1})).await;
    s.api("STREAM.INFO.P", "").await;
    s.api_json("STREAM.PURGE.P", json!({"seq": 3, "keep": 1}))
        .await;
    s.api("STREAM.PURGE.P", "").await;
    s.api("STREAM.INFO.P", "").await;
    s.api("STREAM.PURGE.P", "{bad").await;
    s.api_json(
        "STREAM.CREATE.DP",
        json!({"name": "DP", "subjects": ["dp"], "deny_purge": true}),
    )
    .await;
    s.api("STREAM.PURGE.DP", "").await;
});

case!(stream_msg_get_delete, |s| {
    s.api_json("STREAM.MSG.GET.NOPE", json!({"seq": 1})).await;
    s.api_json("STREAM.CREATE.G", json!({"name": "G", "subjects": ["g.*"]}))
        .await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 1})).await;
    s.publish("g.a", &[("X-Head", "v")], "first").await;
    s.publish_many(&["g.a", "g.b"], 4).await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 1})).await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 2})).await;
    s.api_json("STREAM.MSG.GET.G", json!({"last_by_subj": "g.a"}))
        .await;
    s.api_json("STREAM.MSG.GET.G", json!({"last_by_subj": "g.*"}))
        .await;
    s.api_json("STREAM.MSG.GET.G", json!({"last_by_subj": "g.zz"}))
        .await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 99})).await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 2, "next_by_subj": "g.b"}))
        .await;
    s.api("STREAM.MSG.GET.G", "").await;
    s.api("STREAM.MSG.GET.G", "{bad").await;
    s.api_json("STREAM.MSG.DELETE.G", json!({"seq": 2})).await;
    s.api_json("STREAM.MSG.DELETE.G", json!({"seq": 2})).await;
    s.api_json("STREAM.MSG.DELETE.G", json!({"seq": 99})).await;
    s.api_json("STREAM.MSG.DELETE.G", json!({"seq": 3, "no_erase": true}))
        .await;
    s.api_json("STREAM.MSG.GET.G", json!({"seq": 2})).await;
    s.api("STREAM.INFO.G", "").await;
    s.api_json(
        "STREAM.CREATE.DD",
        json!({"name": "DD", "subjects": ["dd"], "deny_delete": true}),
    )
    .await;
    s.publish("dd", &[], "x").await;
    s.api_json("STREAM.MSG.DELETE.DD", json!({"seq": 1})).await;
});

// ---------------------------------------------------------------------------------------
// Cases: publishing

case!(publish_acks, |s| {
    s.api_json(
        "STREAM.CREATE.P",
        json!({"name": "P", "subjects": ["p.>"], "max_msg_size": 10}),
    )
    .await;
    s.publish("p.1", &[], "one").await;
    s.publish("p.1", &[("Nats-Msg-Id", "id-1")], "two").await;
    s.publish("p.1", &[("Nats-Msg-Id", "id-1")], "two again")
        .await;
    s.publish("p.1", &[("Nats-Expected-Last-Sequence", "1")], "x")
        .await;
    s.publish("p.1", &[("Nats-Expected-Last-Sequence", "2")], "y")
        .await;
    s.publish("p.2", &[("Nats-Expected-Last-Subject-Sequence", "1")], "z")
        .await;
    s.publish("p.2", &[("Nats-Expected-Last-Subject-Sequence", "0")], "z")
        .await;
    s.publish("p.2", &[("Nats-Expected-Stream", "Q")], "z")
        .await;
    s.publish("p.2", &[("Nats-Expected-Stream", "P")], "z")
        .await;
    s.publish("p.2", &[("Nats-Expected-Last-Msg-Id", "nope")], "z")
        .await;
    s.publish("p.2", &[("Nats-Expected-Last-Msg-Id", "id-1")], "z")
        .await;
    s.publish("p.3", &[], "this is too long").await;
    s.api("STREAM.INFO.P", "").await;
});

case!(publish_discard_new, |s| {
    s.api_json(
        "STREAM.CREATE.N",
        json!({"name": "N", "subjects": ["n.*"], "max_msgs": 2, "discard": "new"}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.B",
        json!({"name": "B", "subjects": ["b"], "max_bytes": 100, "discard": "new"}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.O",
        json!({"name": "O", "subjects": ["o"], "max_msgs": 2, "discard": "old"}),
    )
    .await;
    s.publish_many(&["n.a", "n.b", "n.c"], 3).await;
    s.publish("b", &[], &"x".repeat(60)).await;
    s.publish("b", &[], &"x".repeat(60)).await;
    s.publish_many(&["o"], 4).await;
    s.api("STREAM.INFO.N", "").await;
    s.api("STREAM.INFO.O", "").await;
});

case!(mirrors_and_sources, |s| {
    s.api_json("STREAM.CREATE.A", json!({"name": "A", "subjects": ["a.*"]}))
        .await;
    s.publish_many(&["a.x", "a.y"], 4).await;
    s.api_json(
        "STREAM.CREATE.M",
        json!({"name": "M", "mirror": {"name": "A"}}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.S",
        json!({"name": "S", "sources": [{"name": "A", "filter_subject": "a.x", "opt_start_seq": 2}]}),
    )
    .await;
    s.api_json(
        "STREAM.CREATE.G",
        json!({"name": "G", "sources": [{"name": "NOPE"}]}),
    )
    .await;
    // Nothing answers under this prefix here (no import): never active, no error.
    let elsewhere = json!({"api": "$JS.ELSEWHERE.API", "deliver": "deliver.x"});
    s.api_json(
        "STREAM.CREATE.X",
        json!({"name": "X", "sources": [{"name": "A", "external": elsewhere}]}),
    )
    .await;
    // Refused external prefixes: the own API, wildcards, a deliver prefix that A's
    // subjects would capture.
    for (api, deliver) in [
        ("$JS.API", "d"),
        ("$JS.*.API", "d"),
        ("X.API", "d.>"),
        ("X.API", "a"),
    ] {
        let external = json!({"api": api, "deliver": deliver});
        s.api_json(
            "STREAM.CREATE.B",
            json!({"name": "B", "mirror": {"name": "A", "external": external}}),
        )
        .await;
    }
    s.publish_many(&["a.x"], 1).await;
    // The reference copies through consumers of its own, a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for name in ["M", "S", "G", "X"] {
        s.api(&format!("STREAM.INFO.{name}"), "").await;
    }
    s.api("STREAM.MSG.GET.S", r#"{"seq": 1}"#).await;
});

// ---------------------------------------------------------------------------------------
// Cases: consumers

/// A stream `S` on `s.*` with five messages, alternating `s.a`, `s.b`.
async fn stream_with_messages(s: &mut Side) {
    s.api_json("STREAM.CREATE.S", json!({"name": "S", "subjects": ["s.*"]}))
        .await;
    s.publish_many(&["s.a", "s.b"], 5).await;
}

case!(consumer_create, |s| {
    stream_with_messages(s).await;
    // Durable pull via DURABLE.CREATE, then the same again, then a changed config.
    let cfg =
        json!({"stream_name": "S", "config": {"durable_name": "D", "ack_policy": "explicit"}});
    s.api_json("CONSUMER.DURABLE.CREATE.S.D", cfg.clone()).await;
    s.api_json("CONSUMER.DURABLE.CREATE.S.D", cfg).await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.D",
        json!({"stream_name": "S", "config": {"durable_name": "D", "ack_policy": "explicit", "max_ack_pending": 10}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.D",
        json!({"stream_name": "S", "config": {"durable_name": "D", "ack_policy": "none"}}),
    )
    .await;
    // Ephemeral pull and push.
    s.api_json(
        "CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {"ack_policy": "explicit", "filter_subject": "s.a"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.CREATE.S",
        json!({"stream_name": "S", "config": {"deliver_subject": "push.here", "deliver_policy": "last"}}),
    )
    .await;
    // Named via CREATE.<stream>.<name>, with and without the filter token.
    s.api_json(
        "CONSUMER.CREATE.S.N",
        json!({"stream_name": "S", "config": {"name": "N", "ack_policy": "explicit", "deliver_policy": "by_start_sequence", "opt_start_seq": 3}}),
    )
    .await;
    s.api_json(
        "CONSUMER.CREATE.S.F.s.b",
        json!({"stream_name": "S", "config": {"name": "F", "filter_subject": "s.b", "ack_policy": "all", "durable_name": "F"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.CREATE.S.R",
        json!({"stream_name": "S", "config": {"name": "R", "deliver_policy": "new", "ack_policy": "explicit",
               "ack_wait": 2_000_000_000u64, "max_deliver": 3, "replay_policy": "instant",
               "max_waiting": 16, "max_batch": 4, "inactive_threshold": 60_000_000_000u64,
               "description": "all of it", "headers_only": true}}),
    )
    .await;
    s.api("STREAM.INFO.S", "").await;
});

case!(consumer_create_invalid, |s| {
    s.api_json(
        "CONSUMER.DURABLE.CREATE.NOPE.D",
        json!({"stream_name": "NOPE", "config": {"durable_name": "D"}}),
    )
    .await;
    stream_with_messages(s).await;
    let bad: &[(&str, Value)] = &[
        // Stream name in the body differs.
        (
            "CONSUMER.DURABLE.CREATE.S.D",
            json!({"stream_name": "T", "config": {"durable_name": "D"}}),
        ),
        // Durable name mismatch, missing, invalid.
        (
            "CONSUMER.DURABLE.CREATE.S.D",
            json!({"stream_name": "S", "config": {"durable_name": "E"}}),
        ),
        (
            "CONSUMER.DURABLE.CREATE.S.D",
            json!({"stream_name": "S", "config": {}}),
        ),
        (
            "CONSUMER.DURABLE.CREATE.S",
            json!({"stream_name": "S", "config": {"durable_name": "D"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"durable_name": "a.b"}}),
        ),
        (
            "CONSUMER.CREATE.S.N",
            json!({"stream_name": "S", "config": {"name": "M"}}),
        ),
        (
            "CONSUMER.CREATE.S.N.s.a",
            json!({"stream_name": "S", "config": {"name": "N", "filter_subject": "s.b"}}),
        ),
        // No config, bad JSON.
        ("CONSUMER.CREATE.S", json!({"stream_name": "S"})),
        // Filter not in the stream's subjects, invalid filter.
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"filter_subject": "x.y"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"filter_subject": "s..a"}}),
        ),
        // Delivery policy options.
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "by_start_sequence"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "by_start_time"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "all", "opt_start_seq": 2}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "last", "opt_start_time": "2020-01-01T00:00:00Z"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "sideways"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "last_per_subject"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_policy": "by_start_time",
                   "opt_start_time": "2020-01-01T00:00:00Z", "opt_start_seq": 1}}),
        ),
        // Ack policies and limits.
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"ack_policy": "maybe"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"ack_policy": "none", "max_ack_pending": 5}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"max_deliver": 2, "backoff": [1_000_000_000u64, 2_000_000_000u64, 3_000_000_000u64]}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"max_waiting": 5, "deliver_subject": "d"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"max_batch": 5, "deliver_subject": "d"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"max_waiting": -1}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"idle_heartbeat": 1_000_000_000u64}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"flow_control": true}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"rate_limit_bps": 1000}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"replay_policy": "original", "deliver_subject": "d", "max_batch": 1}}),
        ),
        // Deliver subject cycles back into the stream, or is invalid.
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_subject": "s.a"}}),
        ),
        (
            "CONSUMER.CREATE.S",
            json!({"stream_name": "S", "config": {"deliver_subject": "d.*"}}),
        ),
        // Consumer on a stream that does not exist.
        (
            "CONSUMER.CREATE.NOPE",
            json!({"stream_name": "NOPE", "config": {}}),
        ),
    ];
    for (api, body) in bad {
        s.api_json(api, body.clone()).await;
    }
    s.api("CONSUMER.CREATE.S", "{bad").await;
    s.api("CONSUMER.CREATE.S", "").await;
    // Work queue rules: one consumer per subject set, explicit acks.
    s.api_json(
        "STREAM.CREATE.W",
        json!({"name": "W", "subjects": ["w.*"], "retention": "workqueue"}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.N",
        json!({"stream_name": "W", "config": {"durable_name": "N", "ack_policy": "none"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.A",
        json!({"stream_name": "W", "config": {"durable_name": "A", "ack_policy": "explicit", "filter_subject": "w.a"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.B",
        json!({"stream_name": "W", "config": {"durable_name": "B", "ack_policy": "explicit", "filter_subject": "w.a"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.C",
        json!({"stream_name": "W", "config": {"durable_name": "C", "ack_policy": "explicit"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.D",
        json!({"stream_name": "W", "config": {"durable_name": "D", "ack_policy": "explicit", "filter_subject": "w.b", "deliver_policy": "last"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.W.E",
        json!({"stream_name": "W", "config": {"durable_name": "E", "ack_policy": "explicit", "filter_subject": "w.b", "deliver_subject": "dw"}}),
    )
    .await;
    // Max consumers of a stream.
    s.api_json(
        "STREAM.CREATE.M",
        json!({"name": "M", "subjects": ["m"], "max_consumers": 1}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.M.A",
        json!({"stream_name": "M", "config": {"durable_name": "A"}}),
    )
    .await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.M.B",
        json!({"stream_name": "M", "config": {"durable_name": "B"}}),
    )
    .await;
    // Updating a durable: refused changes.
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.U",
        json!({"stream_name": "S", "config": {"durable_name": "U", "ack_policy": "explicit", "filter_subject": "s.a"}}),
    )
    .await;
    for change in [
        json!({"durable_name": "U", "ack_policy": "explicit", "filter_subject": "s.b"}),
        json!({"durable_name": "U", "ack_policy": "explicit", "filter_subject": "s.a", "deliver_policy": "last"}),
        json!({"durable_name": "U", "ack_policy": "explicit", "filter_subject": "s.a", "deliver_subject": "push"}),
        json!({"durable_name": "U", "ack_policy": "explicit", "filter_subject": "s.a", "description": "ok"}),
    ] {
        s.api_json(
            "CONSUMER.DURABLE.CREATE.S.U",
            json!({"stream_name": "S", "config": change}),
        )
        .await;
    }
});

case!(consumer_pull_and_ack, |s| {
    stream_with_messages(s).await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.D",
        json!({"stream_name": "S", "config": {"durable_name": "D", "ack_policy": "explicit", "ack_wait": 30_000_000_000u64}}),
    )
    .await;
    s.api("CONSUMER.INFO.S.D", "").await;
    let first = s.pull("S", "D", json!({"batch": 2}), 2).await;
    s.api("CONSUMER.INFO.S.D", "").await;
    s.ack(&first[1], "+ACK").await;
    s.api("CONSUMER.INFO.S.D", "").await;
    s.ack(&first[0], "+ACK").await;
    s.api("CONSUMER.INFO.S.D", "").await;
    // NAK: redelivered at once.
    let next = s.pull("S", "D", json!({"batch": 1}), 1).await;
    s.ack(&next[0], "-NAK").await;
    let again = s.pull("S", "D", json!({"batch": 1}), 1).await;
    s.api("CONSUMER.INFO.S.D", "").await;
    s.ack(&again[0], "+WPI").await;
    s.ack(&again[0], "+TERM").await;
    s.api("CONSUMER.INFO.S.D", "").await;
    // The rest, with a batch bigger than what is left and a short expiry: the 408 says
    // how much of the request was not used.
    let rest = s
        .pull("S", "D", json!({"batch": 5, "expires": 300_000_000u64}), 3)
        .await;
    for m in rest.iter().filter(|m| m.status.is_none()) {
        s.ack(m, "").await;
    }
    s.api("CONSUMER.INFO.S.D", "").await;
    // Nothing left: no_wait gives 404.
    s.pull("S", "D", json!({"batch": 1, "no_wait": true}), 1)
        .await;
    // Max bytes.
    s.publish_many(&["s.a"], 2).await;
    s.pull(
        "S",
        "D",
        json!({"batch": 5, "max_bytes": 10, "expires": 300_000_000u64}),
        1,
    )
    .await;
    s.api("CONSUMER.INFO.S.D", "").await;
    // Bad pull requests.
    s.pull("S", "D", json!({"batch": -1}), 1).await;
    s.pull("S", "D", json!({"batch": 1, "expires": -5}), 1)
        .await;
    s.pull(
        "S",
        "D",
        json!({"batch": 1, "no_wait": true, "expires": 1_000_000u64}),
        1,
    )
    .await;
});

case!(consumer_ack_all_and_pending, |s| {
    stream_with_messages(s).await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.A",
        json!({"stream_name": "S", "config": {"durable_name": "A", "ack_policy": "all", "filter_subject": "s.a"}}),
    )
    .await;
    let got = s.pull("S", "A", json!({"batch": 3}), 3).await;
    s.api("CONSUMER.INFO.S.A", "").await;
    s.ack(&got[1], "+ACK").await;
    s.api("CONSUMER.INFO.S.A", "").await;
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.N",
        json!({"stream_name": "S", "config": {"durable_name": "N", "ack_policy": "none", "deliver_policy": "last"}}),
    )
    .await;
    s.pull("S", "N", json!({"batch": 3, "no_wait": true}), 2)
        .await;
    s.api("CONSUMER.INFO.S.N", "").await;
    // The ack floor of a consumer that starts late, before and after its first ack.
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.L",
        json!({"stream_name": "S", "config": {"durable_name": "L", "ack_policy": "explicit", "deliver_policy": "by_start_sequence", "opt_start_seq": 3}}),
    )
    .await;
    let late = s.pull("S", "L", json!({"batch": 2}), 2).await;
    s.api("CONSUMER.INFO.S.L", "").await;
    s.ack(&late[1], "+ACK").await;
    s.api("CONSUMER.INFO.S.L", "").await;
    s.ack(&late[0], "+ACK").await;
    s.api("CONSUMER.INFO.S.L", "").await;
    // Pulls on a push consumer and on a consumer that does not exist.
    s.api_json(
        "CONSUMER.DURABLE.CREATE.S.P",
        json!({"stream_name": "S", "config": {"durable_name": "P", "deliver_subject": "p.inbox"}}),
    )
    .await;
    s.pull("S", "P", json!({"batch": 1}), 1).await;
    s.api("CONSUMER.INFO.S.P", "").await;
});

case!(consumer_names_list_delete, |s| {
    s.api("CONSUMER.NAMES.NOPE", "").await;
    s.api("CONSUMER.LIST.NOPE", "").await;
    stream_with_messages(s).await;
    s.api("CONSUMER.NAMES.S", "").await;
    s.api("CONSUMER.LIST.S", "").await;
    for n in ["C", "A", "B"] {
        s.api_json(
            &format!("CONSUMER.DURABLE.CREATE.S.{n}"),
            json!({"stream_name": "S", "config": {"durable_name": n, "ack_policy": "explicit"}}),
        )
        .await;
    }
    s.api("CONSUMER.NAMES.S", "").await;
    s.api_json("CONSUMER.NAMES.S", json!({"offset": 1})).await;
    s.api_json("CONSUMER.NAMES.S", json!({"offset": 10})).await;
    s.api_json("CONSUMER.LIST.S", json!({"offset": 10})).await;
    s.api("CONSUMER.NAMES.S", "{bad").await;
    s.api("CONSUMER.LIST.S", "").await;
    s.api_json("CONSUMER.LIST.S", json!({"offset": 2})).await;
    s.api("CONSUMER.INFO.S.NOPE", "").await;
    s.api("CONSUMER.INFO.NOPE.A", "").await;
    s.api("CONSUMER.DELETE.S.NOPE", "").await;
    s.api("CONSUMER.DELETE.NOPE.A", "").await;
    s.api("CONSUMER.DELETE.S.B", "").await;
    s.api("CONSUMER.INFO.S.B", "").await;
    s.api("CONSUMER.NAMES.S", "").await;
    s.api("STREAM.INFO.S", "").await;
    s.api("INFO", "").await;
});

case!(snapshot_and_restore_requests, |s| {
    s.api_json("STREAM.CREATE.F", json!({"name": "F", "subjects": ["f"]}))
        .await;
    s.api_json(
        "STREAM.CREATE.M",
        json!({"name": "M", "subjects": ["m"], "storage": "memory"}),
    )
    .await;
    s.publish_many(&["f"], 3).await;
    // Refused snapshots: nothing asked, bad JSON, no deliver subject, no such stream, a
    // memory stream (the reference's memory store cannot snapshot).
    s.api("STREAM.SNAPSHOT.F", "").await;
    s.api("STREAM.SNAPSHOT.F", "{}").await;
    s.api("STREAM.SNAPSHOT.F", "{nope").await;
    s.api_json("STREAM.SNAPSHOT.F", json!({"no_consumers": true}))
        .await;
    s.api_json("STREAM.SNAPSHOT.X", json!({"deliver_subject": "snap"}))
        .await;
    s.api_json("STREAM.SNAPSHOT.M", json!({"deliver_subject": "snap"}))
        .await;
    // A snapshot's answer: the stream's configuration and state (the chunks follow).
    s.api_json("STREAM.SNAPSHOT.F", json!({"deliver_subject": "snap"}))
        .await;
    // Refused restores: nothing asked, bad JSON, a stream that exists, a bad name.
    s.api("STREAM.RESTORE.R", "").await;
    s.api("STREAM.RESTORE.R", "{nope").await;
    s.api_json(
        "STREAM.RESTORE.F",
        json!({"config": {"name": "F"}, "state": {}}),
    )
    .await;
    s.api_json("STREAM.RESTORE.F", json!({"config": {}, "state": {}}))
        .await;
    s.api_json("STREAM.RESTORE.R", json!({"config": {"name": "a.b"}}))
        .await;
});
