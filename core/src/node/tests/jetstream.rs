//! JetStream through the node: API requests, captured publishes with acks, pull and push
//! consumers, acks and redelivery, all as bytes on client connections.

use super::*;
use crate::jetstream::filestore::FileOp;

fn js_harness() -> (Harness, ConnId) {
    let opts = Options {
        jetstream: true,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let c = h.client(QUIET);
    h.send(c, "SUB r 1\r\nSUB _INBOX.> 2\r\n");
    (h, c)
}

/// JetStream in domain `hub`, and a client subscribed to the replies of [`request`].
pub(super) fn hub_harness() -> (Harness, ConnId) {
    let mut opts = Options {
        jetstream: true,
        ..Options::default()
    };
    opts.js.domain = Some("hub".into());
    let mut h = Harness::new(opts);
    let c = h.client(QUIET);
    h.send(c, "SUB r 1\r\n");
    (h, c)
}

/// Publishes `body` to `subject` with reply `r` and returns what came back.
pub(super) fn request(h: &mut Harness, c: ConnId, subject: &str, body: &str) -> String {
    h.send(c, &format!("PUB {subject} r {}\r\n{body}\r\n", body.len()));
    h.take(c)
}

const STREAM: &str = r#"{"name":"S","subjects":["s.>"],"storage":"memory"}"#;

#[test]
fn info_advertises_jetstream() {
    let (mut h, _) = js_harness();
    let c = h.accept();
    assert!(h
        .take(c)
        .contains(r#""max_payload":1048576,"jetstream":true"#));
    let mut plain = Harness::new(Options::default());
    let c = plain.accept();
    assert!(!plain.take(c).contains("jetstream"));
}

#[test]
fn publishes_are_stored_and_acknowledged() {
    let (mut h, c) = js_harness();
    let created = request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    assert!(created.contains(r#""did_create":true"#), "{created}");
    assert_eq!(
        request(&mut h, c, "s.a", "one"),
        "MSG r 1 23\r\n{\"stream\":\"S\", \"seq\":1}\r\n"
    );
    assert!(request(&mut h, c, "s.b", "two").contains("\"seq\":2"));
    // Not a stream subject: no responders.
    assert!(request(&mut h, c, "t.a", "x").contains("503"));
    let info = request(&mut h, c, "$JS.API.STREAM.INFO.S", "");
    assert!(info.contains(r#""messages":2"#), "{info}");
    // The stream's subjects go away with it.
    request(&mut h, c, "$JS.API.STREAM.DELETE.S", "");
    assert!(request(&mut h, c, "s.a", "x").contains("503"));
}

#[test]
fn file_stream_acks_wait_for_durable_writes() {
    let (mut h, c) = js_harness();
    h.instant_writes = false;
    h.send(
        c,
        "PUB $JS.API.STREAM.CREATE.F r 12\r\n{\"name\":\"F\"}\r\n",
    );
    assert_eq!(h.take(c), "", "the create answer waits for meta.json");
    h.finish_writes();
    assert!(h.take(c).contains("did_create"));
    // Three publishes while the first write is outstanding: the second and third go in
    // one later batch (group commit), and no ack leaves before its batch is durable.
    h.writes.clear();
    for _ in 0..3 {
        h.send(c, "PUB F r 1\r\nx\r\n");
    }
    assert_eq!(h.take(c), "");
    assert_eq!(h.writes.len(), 1, "one batch outstanding at a time");
    let (first, _) = h.writes.remove(0);
    h.node.persisted(h.now, first, Ok(()));
    h.pump();
    assert!(h.take(c).contains("\"seq\":1"));
    assert_eq!(h.writes.len(), 1, "the rest in one batch");
    let appends = |ops: &[crate::jetstream::persist::DiskOp]| {
        ops.iter()
            .filter(|op| {
                matches!(
                    op,
                    crate::jetstream::persist::DiskOp::File {
                        op: FileOp::Append { .. },
                        ..
                    }
                )
            })
            .count()
    };
    assert_eq!(appends(&h.writes[0].1), 2);
    h.finish_writes();
    let acks = h.take(c);
    assert!(
        acks.contains("\"seq\":2") && acks.contains("\"seq\":3"),
        "{acks}"
    );
}

#[test]
fn failed_writes_withhold_acks() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.F", r#"{"name":"F"}"#);
    h.instant_writes = false;
    h.writes.clear();
    h.send(c, "PUB F r 1\r\nx\r\n");
    let (batch, _) = h.writes.remove(0);
    h.node.persisted(h.now, batch, Err("disk full".into()));
    h.pump();
    assert_eq!(h.take(c), "");
    assert!(
        h.logs.iter().any(|l| l.contains("disk full")),
        "{:?}",
        h.logs
    );
}

#[test]
fn pull_consumer_delivers_acks_and_redelivers() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    for body in ["one", "two", "three"] {
        request(&mut h, c, "s.a", body);
    }
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","ack_wait":1000000000}}"#;
    let created = request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    assert!(created.contains(r#""num_pending":3"#), "{created}");
    h.send(c, "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.a 1\r\n2\r\n");
    let got = h.take(c);
    let acks: Vec<&str> = got
        .lines()
        .filter_map(|l| l.strip_prefix("MSG s.a 2 "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(acks.len(), 2, "{got}");
    assert!(acks[0].starts_with("$JS.ACK.S.D.1.1.1."), "{got}");
    assert!(acks[0].ends_with(".2"), "pending count: {got}");
    // Ack the first; let the second's ack wait run out.
    h.send(c, &format!("PUB {} 0\r\n\r\n", acks[0]));
    h.advance(Duration::from_millis(1100));
    h.send(c, "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.b 1\r\n1\r\n");
    let again = h.take(c);
    assert!(again.contains("$JS.ACK.S.D.2.2.3."), "redelivered: {again}");
    let info = request(&mut h, c, "$JS.API.CONSUMER.INFO.S.D", "");
    assert!(
        // With the time of that ack, as nats-server 2.9.10 shows it.
        info.contains(r#""ack_floor":{"consumer_seq":1,"stream_seq":1,"last_active":"#),
        "{info}"
    );
    assert!(info.contains(r#""num_redelivered":1"#), "{info}");
}

#[test]
fn pull_request_statuses() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    let body = r#"{"batch":2,"no_wait":true}"#;
    h.send(
        c,
        &format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.n {}\r\n{body}\r\n",
            body.len()
        ),
    );
    assert_eq!(
        h.take(c),
        "HMSG _INBOX.n 2 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n"
    );
    let body = r#"{"batch":2,"expires":500000000}"#;
    h.send(
        c,
        &format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.e {}\r\n{body}\r\n",
            body.len()
        ),
    );
    assert_eq!(h.take(c), "");
    request(&mut h, c, "s.x", "late");
    assert!(h.take(c).is_empty(), "the message went with the ack above");
    h.advance(Duration::from_millis(600));
    let timeout = h.take(c);
    assert!(
        timeout.contains("NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n"),
        "{timeout}"
    );
}

#[test]
fn push_consumer_delivers_once_someone_listens() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    request(&mut h, c, "s.a", "one");
    let push = r#"{"stream_name":"S","config":{"durable_name":"P","deliver_subject":"push.p","ack_policy":"none"}}"#;
    let created = request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.P", push);
    assert!(
        !created.contains("MSG s.a"),
        "nobody listens yet: {created}"
    );
    h.send(c, "SUB push.p 9\r\n");
    let got = h.take(c);
    assert!(got.starts_with("MSG s.a 9 $JS.ACK.S.P.1.1.1."), "{got}");
    let both = request(&mut h, c, "s.b", "two");
    assert!(both.contains("\"seq\":2"), "{both}");
    assert!(both.contains("MSG s.b 9 $JS.ACK.S.P.1.2.2."), "{both}");
}

#[test]
fn work_queue_removes_acked_messages() {
    let (mut h, c) = js_harness();
    let wq = r#"{"name":"W","subjects":["w"],"storage":"memory","retention":"workqueue"}"#;
    request(&mut h, c, "$JS.API.STREAM.CREATE.W", wq);
    request(&mut h, c, "w", "job");
    let durable = r#"{"stream_name":"W","config":{"durable_name":"D","ack_policy":"none"}}"#;
    let refused = request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.W.D", durable);
    // A pull consumer without acks: the reference refuses it as such (10084) first.
    assert!(refused.contains(r#""err_code":10084"#), "{refused}");
    let durable = r#"{"stream_name":"W","config":{"durable_name":"D","ack_policy":"explicit"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.W.D", durable);
    h.send(c, "PUB $JS.API.CONSUMER.MSG.NEXT.W.D _INBOX.a 0\r\n\r\n");
    let got = h.take(c);
    let ack = got
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(3)
        .unwrap()
        .to_string();
    h.send(c, &format!("PUB {ack} 0\r\n\r\n"));
    let info = request(&mut h, c, "$JS.API.STREAM.INFO.W", "");
    assert!(info.contains(r#""messages":0"#), "{info}");
}

#[test]
fn republish_and_subject_transform() {
    let (mut h, c) = js_harness();
    let config = r#"{"name":"R","subjects":["in.>"],"storage":"memory","subject_transform":{"src":"in.*","dest":"kept.$1"},"republish":{"src":"kept.>","dest":"out.>"}}"#;
    let created = request(&mut h, c, "$JS.API.STREAM.CREATE.R", config);
    assert!(
        created.contains(r#""republish":{"src":"kept.>","dest":"out.>"}"#),
        "{created}"
    );
    h.send(c, "SUB out.> 5\r\n");
    let got = request(&mut h, c, "in.x", "hello");
    assert!(got.contains("\"seq\":1"), "{got}");
    assert!(
        got.contains("HMSG out.x 5 ")
            && got.contains("Nats-Stream: R\r\nNats-Subject: kept.x\r\nNats-Sequence: 1\r\nNats-Last-Sequence: 0\r\n\r\nhello"),
        "{got}"
    );
    let stored = request(&mut h, c, "$JS.API.STREAM.MSG.GET.R", r#"{"seq":1}"#);
    assert!(stored.contains(r#""subject":"kept.x""#), "{stored}");
    let cycle =
        r#"{"name":"C","subjects":["c.>"],"storage":"memory","republish":{"dest":"c.again"}}"#;
    let refused = request(&mut h, c, "$JS.API.STREAM.CREATE.C", cycle);
    assert!(refused.contains("forms a cycle"), "{refused}");
}

#[test]
fn mirrors_keep_sequences_and_sources_gather() {
    let (mut h, c) = js_harness();
    for (name, subject) in [("A", "a.>"), ("B", "b.>")] {
        let config = format!(r#"{{"name":"{name}","subjects":["{subject}"],"storage":"memory"}}"#);
        request(&mut h, c, &format!("$JS.API.STREAM.CREATE.{name}"), &config);
    }
    request(&mut h, c, "a.1", "one");
    request(&mut h, c, "a.2", "two");
    request(&mut h, c, "$JS.API.STREAM.MSG.DELETE.A", r#"{"seq":1}"#);
    // A mirror made later catches up with what A holds, at A's sequences.
    let mirror = r#"{"name":"M","storage":"memory","mirror":{"name":"A"}}"#;
    let created = request(&mut h, c, "$JS.API.STREAM.CREATE.M", mirror);
    assert!(created.contains(r#""mirror":{"name":"A"}"#), "{created}");
    // Filled after the answer, as the reference's consumers fill it.
    assert!(created.contains(r#""messages":0"#), "{created}");
    let m = request(&mut h, c, "$JS.API.STREAM.INFO.M", "");
    assert!(m.contains(r#""first_seq":2"#), "{m}");
    let sources = r#"{"name":"ALL","storage":"memory","sources":[{"name":"A"},{"name":"B","filter_subject":"b.keep","subject_transforms":[{"src":"b.*","dest":"from-b.$1"}]}]}"#;
    request(&mut h, c, "$JS.API.STREAM.CREATE.ALL", sources);
    request(&mut h, c, "a.3", "three");
    request(&mut h, c, "b.keep", "kept");
    request(&mut h, c, "b.drop", "dropped");
    let m = request(&mut h, c, "$JS.API.STREAM.INFO.M", "");
    assert!(
        m.contains(r#""messages":2,"#) && m.contains(r#""last_seq":3"#),
        "{m}"
    );
    let all = request(&mut h, c, "$JS.API.STREAM.INFO.ALL", "");
    assert!(all.contains(r#""messages":3,"#), "{all}");
    let got = request(
        &mut h,
        c,
        "$JS.API.STREAM.MSG.GET.ALL",
        r#"{"last_by_subj":"from-b.keep"}"#,
    );
    assert!(got.contains(r#""subject":"from-b.keep""#), "{got}");
    let refused = request(
        &mut h,
        c,
        "$JS.API.STREAM.CREATE.X",
        r#"{"name":"X","subjects":["x"],"mirror":{"name":"A"}}"#,
    );
    assert!(refused.contains(r#""err_code":10034"#), "{refused}");
}

#[test]
fn paused_consumers_deliver_nothing_until_resumed() {
    let (mut h, c) = js_harness();
    h.node.set_wall_clock(1_795_769_283_000_000_000);
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    request(&mut h, c, "s.a", "one");
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    // Paused for two seconds from the wall clock's now.
    let paused = request(
        &mut h,
        c,
        "$JS.API.CONSUMER.PAUSE.S.D",
        r#"{"pause_until":"2026-11-27T08:48:05Z"}"#,
    );
    assert!(
        paused.contains(
            r#""paused":true,"pause_until":"2026-11-27T08:48:05Z","pause_remaining":2000000000"#
        ),
        "{paused}"
    );
    let body = r#"{"batch":1,"expires":5000000000}"#;
    h.send(
        c,
        &format!(
            "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.p {}\r\n{body}\r\n",
            body.len()
        ),
    );
    assert_eq!(h.take(c), "", "nothing while paused");
    let info = request(&mut h, c, "$JS.API.CONSUMER.INFO.S.D", "");
    assert!(info.contains(r#""paused":true"#), "{info}");
    h.advance(Duration::from_millis(2100));
    assert!(
        h.take(c).contains("MSG s.a 2 $JS.ACK.S.D.1.1.1."),
        "delivered once the pause ended"
    );
    let resumed = request(&mut h, c, "$JS.API.CONSUMER.PAUSE.S.D", "");
    assert!(
        resumed.contains(r#""paused":false,"pause_until":"0001-01-01T00:00:00Z""#),
        "{resumed}"
    );
}

#[test]
fn advisories_for_dead_letters_and_actions() {
    let (mut h, c) = js_harness();
    h.send(c, "SUB $JS.EVENT.ADVISORY.> 7\r\n");
    let created = request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    assert!(
        created.contains("MSG $JS.EVENT.ADVISORY.STREAM.CREATED.S 7 "),
        "{created}"
    );
    assert!(created.contains(r#""type":"io.nats.jetstream.advisory.v1.stream_action""#));
    request(&mut h, c, "s.a", "one");
    request(&mut h, c, "s.b", "two");
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":1}}"#;
    let made = request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    assert!(
        made.contains("MSG $JS.EVENT.ADVISORY.CONSUMER.CREATED.S.D 7 "),
        "{made}"
    );
    h.send(c, "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.a 1\r\n2\r\n");
    let got = h.take(c);
    let acks: Vec<&str> = got
        .lines()
        .filter(|l| l.starts_with("MSG s."))
        .map(|l| l.split(' ').nth(3).unwrap())
        .collect();
    // The second is terminated; the first never acked, and gone after one delivery.
    h.send(c, &format!("PUB {} 10\r\n+TERM spam\r\n", acks[1]));
    let term = h.take(c);
    assert!(
        term.contains("MSG $JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.D 7 "),
        "{term}"
    );
    assert!(
        term.contains(r#""stream_seq":2,"deliveries":1,"reason":"spam""#),
        "{term}"
    );
    h.advance(Duration::from_millis(1100));
    let dead = h.take(c);
    assert!(
        dead.contains("MSG $JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.D 7 "),
        "{dead}"
    );
    assert!(
        dead.contains(r#""type":"io.nats.jetstream.advisory.v1.max_deliver""#),
        "{dead}"
    );
    assert!(
        dead.contains(r#""stream":"S","consumer":"D","stream_seq":1,"deliveries":1"#),
        "{dead}"
    );
}

#[test]
fn per_message_ttl() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    let hdr = "NATS/1.0\r\nNats-TTL: 1s\r\n\r\n";
    let hpub = |subject: &str| {
        format!(
            "HPUB {subject} r {} {}\r\n{hdr}x\r\n",
            hdr.len(),
            hdr.len() + 1
        )
    };
    h.send(c, &hpub("s.a"));
    assert!(
        h.take(c).contains(r#""err_code":10166"#),
        "TTLs need allow_msg_ttl"
    );
    let ttl_stream = r#"{"name":"T","subjects":["t.>"],"storage":"memory","allow_msg_ttl":true}"#;
    let created = request(&mut h, c, "$JS.API.STREAM.CREATE.T", ttl_stream);
    assert!(created.contains(r#""allow_msg_ttl":true"#), "{created}");
    h.send(c, &hpub("t.a"));
    assert!(h.take(c).contains("\"seq\":1"));
    request(&mut h, c, "t.b", "stays");
    h.advance(Duration::from_millis(1100));
    let info = request(&mut h, c, "$JS.API.STREAM.INFO.T", "");
    assert!(
        info.contains(r#""messages":1,"#) && info.contains(r#""first_seq":2"#),
        "{info}"
    );
}

#[test]
fn push_replay_original_through_the_node() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    request(&mut h, c, "s.a", "one");
    h.advance(Duration::from_millis(500));
    request(&mut h, c, "s.b", "two");
    let push = r#"{"stream_name":"S","config":{"durable_name":"R","deliver_subject":"replay.r","ack_policy":"none","replay_policy":"original"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.R", push);
    h.send(c, "SUB replay.r 9\r\n");
    let first = h.take(c);
    assert!(
        first.contains("MSG s.a 9 ") && !first.contains("MSG s.b"),
        "{first}"
    );
    h.advance(Duration::from_millis(300));
    assert_eq!(h.take(c), "", "not yet: stored 500 ms after the first");
    h.advance(Duration::from_millis(250));
    assert!(h.take(c).contains("MSG s.b 9 "));
}

#[test]
fn sampled_acks_are_reported_as_metrics() {
    let (mut h, c) = js_harness();
    h.send(c, "SUB $JS.EVENT.METRIC.> 7\r\n");
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    request(&mut h, c, "s.a", "one");
    let bad = r#"{"stream_name":"S","config":{"durable_name":"X","sample_freq":"often"}}"#;
    let refused = request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.X", bad);
    assert!(refused.contains(r#""err_code":10095"#), "{refused}");
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","sample_freq":"100%"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    h.send(c, "PUB $JS.API.CONSUMER.MSG.NEXT.S.D _INBOX.a 1\r\n1\r\n");
    let got = h.take(c);
    let ack = got
        .lines()
        .find(|l| l.starts_with("MSG s.a"))
        .and_then(|l| l.split(' ').nth(3))
        .unwrap_or_else(|| panic!("{got}"))
        .to_string();
    h.advance(Duration::from_millis(250));
    h.send(c, &format!("PUB {ack} 4\r\n+ACK\r\n"));
    let metric = h.take(c);
    assert!(
        metric.contains("MSG $JS.EVENT.METRIC.CONSUMER.ACK.S.D 7 "),
        "{metric}"
    );
    assert!(
        metric.contains(r#""type":"io.nats.jetstream.metric.v1.consumer_ack""#),
        "{metric}"
    );
    assert!(
        metric.contains(r#""stream":"S","consumer":"D","consumer_seq":1,"stream_seq":1,"ack_time":250000000,"deliveries":1"#),
        "{metric}"
    );
}

#[test]
fn a_domain_answers_under_its_prefix_and_names_itself() {
    let (mut h, c) = hub_harness();
    let info = request(&mut h, c, "$JS.hub.API.INFO", "");
    assert!(info.contains(r#""domain":"hub","api":{"#), "{info}");
    let created = request(&mut h, c, "$JS.hub.API.STREAM.CREATE.S", STREAM);
    assert!(created.contains(r#""did_create":true"#), "{created}");
    assert!(
        !created.contains(r#""domain""#),
        "as the reference: {created}"
    );
    let plain = request(&mut h, c, "$JS.API.STREAM.INFO.S", "");
    assert!(
        plain.contains(r#""consumer_count":0},"domain":"hub"}"#),
        "{plain}"
    );
    let ack = request(&mut h, c, "s.a", "x");
    assert!(
        ack.ends_with("{\"stream\":\"S\", \"domain\":\"hub\", \"seq\":1}\r\n"),
        "{ack}"
    );
}

#[test]
fn api_requests_are_audited_for_those_who_listen() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    assert!(
        !h.take(c).contains("ADVISORY.API"),
        "nobody listens: nothing sent"
    );
    h.send(c, "SUB $JS.EVENT.ADVISORY.API 7\r\n");
    let got = request(&mut h, c, "$JS.API.STREAM.INFO.S", "");
    let audit = got
        .split("\r\n")
        .skip_while(|l| !l.starts_with("MSG $JS.EVENT.ADVISORY.API 7 "))
        .nth(1)
        .unwrap_or_else(|| panic!("{got}"));
    let audit: serde_json::Value = serde_json::from_str(audit).unwrap();
    assert_eq!(audit["type"], "io.nats.jetstream.advisory.v1.api_audit");
    assert_eq!(audit["subject"], "$JS.API.STREAM.INFO.S");
    assert_eq!(audit["client"]["id"], c);
    assert_eq!(audit["client"]["acc"], "$G");
    let response: serde_json::Value =
        serde_json::from_str(audit["response"].as_str().unwrap()).unwrap();
    assert_eq!(
        response["type"],
        "io.nats.jetstream.api.v1.stream_info_response"
    );
}

#[test]
fn clustered_only_requests_are_refused_as_the_reference_refuses_them() {
    let (mut h, c) = js_harness();
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D"}}"#;
    request(&mut h, c, "$JS.API.CONSUMER.DURABLE.CREATE.S.D", durable);
    for (subject, kind) in [
        (
            "$JS.API.STREAM.LEADER.STEPDOWN.S",
            "stream_leader_stepdown_response",
        ),
        (
            "$JS.API.STREAM.PEER.REMOVE.S",
            "stream_remove_peer_response",
        ),
        (
            "$JS.API.CONSUMER.LEADER.STEPDOWN.S.D",
            "consumer_leader_stepdown_response",
        ),
    ] {
        let got = request(&mut h, c, subject, "");
        let expected = format!(
            r#"{{"type":"io.nats.jetstream.api.v1.{kind}","error":{{"code":503,"err_code":10010,"description":"JetStream clustering support required"}}}}"#
        );
        assert!(got.contains(&expected), "{subject}: {got}");
    }
}

#[test]
fn snapshot_chunks_and_restore_chunks_go_through_the_node() {
    let (mut h, c) = js_harness();
    request(
        &mut h,
        c,
        "$JS.API.STREAM.CREATE.F",
        r#"{"name":"F","subjects":["f"]}"#,
    );
    request(&mut h, c, "f", "one");
    // A memory stream cannot be snapshot, as in the reference.
    request(&mut h, c, "$JS.API.STREAM.CREATE.S", STREAM);
    let snap = request(
        &mut h,
        c,
        "$JS.API.STREAM.SNAPSHOT.S",
        r#"{"deliver_subject":"x"}"#,
    );
    assert!(
        snap.contains(r#""err_code":10064,"description":"snapshot failed: no impl""#),
        "{snap}"
    );
    h.send(c, "SUB snap 3\r\n");
    let body = r#"{"deliver_subject":"snap"}"#;
    h.send(
        c,
        &format!(
            "PUB $JS.API.STREAM.SNAPSHOT.F r {}\r\n{body}\r\n",
            body.len()
        ),
    );
    let out = h.sent.remove(&c).unwrap_or_default();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("stream_snapshot_response"), "{text}");
    // One chunk with its ack subject, then the empty end.
    let at = text
        .find("MSG snap 3 $JS.SNAPSHOT.ACK.F.")
        .expect("a chunk");
    let line = text[at..].split("\r\n").next().unwrap();
    let ack = line.split(' ').nth(3).unwrap().to_string();
    assert!(ack.ends_with(".1"), "{ack}");
    assert!(text.ends_with("MSG snap 3 0\r\n\r\n"), "{text}");
    // The ack reaches the snapshot (which has ended; nothing more comes).
    h.send(c, &format!("PUB {ack} 0\r\n\r\n"));
    assert_eq!(h.take(c), "");
    // A restore's chunks reach it and are acked.
    let restore = r#"{"config":{"name":"G","subjects":["g"]}}"#;
    let answer = request(&mut h, c, "$JS.API.STREAM.RESTORE.G", restore);
    let at = answer
        .find("$JS.SNAPSHOT.RESTORE.G.")
        .expect("a deliver subject");
    let deliver = answer[at..].split('"').next().unwrap().to_string();
    h.send(c, &format!("PUB {deliver} r 8\r\nRNATSNAP\r\n"));
    assert_eq!(h.take(c), "MSG r 1 0\r\n\r\n");
    h.send(c, &format!("PUB {deliver} r 0\r\n\r\n"));
    let failed = h.take(c);
    assert!(
        failed.contains(
            r#""err_code":10062,"description":"restore failed: archive truncated after 8 bytes""#
        ),
        "{failed}"
    );
}
