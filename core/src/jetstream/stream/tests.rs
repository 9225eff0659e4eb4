//! Publishing to a stream, each case as nats-server 2.9.10 answered it.

use super::*;
use crate::jetstream::memstore::MemStore;

fn stream(json: &str) -> Stream {
    let config: StreamConfig = serde_json::from_str(json).unwrap();
    let mut config = config;
    config.check_and_default().unwrap();
    Stream::new(config, Box::new(MemStore::new(Default::default())), 0)
}

fn hdrs(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut h = b"NATS/1.0\r\n".to_vec();
    for (k, v) in pairs {
        h.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    h.extend_from_slice(b"\r\n");
    h
}

fn answer(s: &mut Stream, subject: &str, headers: &[u8], data: &str) -> String {
    let name = s.config().name.clone();
    match s.publish(subject.as_bytes(), headers, data.as_bytes(), 1_000) {
        Ok(ack) => ack.to_json(&name, None),
        Err(e) => pub_error_json(&name, &e),
    }
}

#[test]
fn expected_headers_and_size() {
    let mut s = stream(
        r#"{"name":"S","subjects":["s.>"],"storage":"memory","max_msgs":3,"discard":"new","max_msg_size":20}"#,
    );
    assert_eq!(
        answer(&mut s, "s.a", &hdrs(&[("Nats-Msg-Id", "m1")]), "one"),
        r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"S","seq":0}"#
    );
    assert_eq!(
        answer(&mut s, "s.b", &hdrs(&[("Nats-Expected-Stream", "T")]), "x"),
        r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"S","seq":0}"#
    );
    assert_eq!(
        answer(
            &mut s,
            "s.b",
            &hdrs(&[("Nats-Expected-Last-Sequence", "5")]),
            "x"
        ),
        r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"},"stream":"S","seq":0}"#
    );
    assert_eq!(
        answer(
            &mut s,
            "s.b",
            &hdrs(&[("Nats-Expected-Last-Msg-Id", "zz")]),
            "x"
        ),
        r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"S","seq":0}"#
    );
    assert_eq!(
        answer(
            &mut s,
            "s.b",
            &hdrs(&[("Nats-Expected-Last-Subject-Sequence", "7")]),
            "x"
        ),
        r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"},"stream":"S","seq":0}"#
    );
    for (i, subject) in ["s.c", "s.d", "s.e"].iter().enumerate() {
        assert_eq!(
            answer(&mut s, subject, b"", "2"),
            format!(r#"{{"stream":"S", "seq":{}}}"#, i + 1)
        );
    }
    assert_eq!(
        answer(&mut s, "s.a", &hdrs(&[("Nats-Rollup", "sub")]), "r"),
        r#"{"error":{"code":500,"err_code":10111,"description":"rollup not permitted"},"stream":"S","seq":0}"#
    );
    assert_eq!(
        answer(
            &mut s,
            "s.b",
            &hdrs(&[("Nats-Expected-Last-Sequence", "2")]),
            "x"
        ),
        r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}"#
    );
}

#[test]
fn duplicates_limits_and_last_msg_id() {
    let mut s = stream(
        r#"{"name":"T","subjects":["t.>"],"storage":"memory","max_msgs":2,"discard":"new","allow_rollup_hdrs":true}"#,
    );
    let m1 = hdrs(&[("Nats-Msg-Id", "m1")]);
    assert_eq!(
        answer(&mut s, "t.a", &m1, "one"),
        r#"{"stream":"T", "seq":1}"#
    );
    assert_eq!(
        answer(&mut s, "t.a", &m1, "one"),
        r#"{"stream":"T", "seq":1,"duplicate": true}"#
    );
    assert_eq!(
        answer(&mut s, "t.b", b"", "two"),
        r#"{"stream":"T", "seq":2}"#
    );
    assert_eq!(
        answer(&mut s, "t.c", b"", "three"),
        r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"T","seq":0}"#
    );
    // The last message had no id.
    assert_eq!(
        answer(
            &mut s,
            "t.x",
            &hdrs(&[("Nats-Expected-Last-Msg-Id", "m1")]),
            "y"
        ),
        r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"T","seq":0}"#
    );
}

#[test]
fn rollups_and_the_duplicate_window() {
    let mut s = stream(
        r#"{"name":"R","subjects":["r.>"],"storage":"memory","allow_rollup_hdrs":true,"duplicate_window":100000000}"#,
    );
    for subject in ["r.a", "r.a", "r.b"] {
        s.publish(subject.as_bytes(), b"", b"x", 0).unwrap();
    }
    s.publish(b"r.a", &hdrs(&[("Nats-Rollup", "sub")]), b"only", 10)
        .unwrap();
    assert_eq!(
        s.store().subjects(b">"),
        vec![("r.a".into(), 1), ("r.b".into(), 1)]
    );
    s.publish(b"r.c", &hdrs(&[("Nats-Rollup", "all")]), b"all", 20)
        .unwrap();
    assert_eq!(s.store().state().msgs, 1);
    let id = hdrs(&[("Nats-Msg-Id", "x")]);
    assert_eq!(
        s.publish(b"r.d", &id, b"1", 100),
        Ok(PubAck::Stored { seq: 6 })
    );
    assert_eq!(
        s.publish(b"r.d", &id, b"1", 100_000_099),
        Ok(PubAck::Duplicate { seq: 6 })
    );
    assert_eq!(
        s.publish(b"r.d", &id, b"1", 100_000_100),
        Ok(PubAck::Stored { seq: 7 })
    );
}
