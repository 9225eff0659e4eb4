//! The stream API against what nats-server 2.9.10 answered to the same requests (its
//! timestamps replaced by this test's clock).

use super::*;
use crate::jetstream::memstore::MemStore;

fn jetstream() -> JetStream {
    JetStream::new(
        Box::new(|config: &StreamConfig| {
            Ok(Box::new(MemStore::new(config.limits())) as Box<dyn Store + Send>)
        }),
        1,
    )
}

const CONFIG_A: &str = r#"{"name":"A","subjects":["a.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"memory","num_replicas":1,"duplicate_window":120000000000,"allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false}"#;

/// 2026-11-27T08:50:17.130371364Z and the two publish times, in Unix nanoseconds.
const CREATED: u64 = 1_795_769_417_130_371_364;
const T1: u64 = 1_795_769_417_530_674_780;
const T2: u64 = 1_795_769_417_730_998_665;

#[test]
fn a_stream_from_create_to_delete() {
    let mut js = jetstream();
    let req =
        |js: &mut JetStream, s: &str, b: &str, now: u64| js.request(s, b.as_bytes(), now).unwrap();
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.NAMES", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null}"#
    );
    let create = r#"{"name":"A","subjects":["a.>"],"storage":"memory"}"#;
    let created = format!(
        r#"{{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{CONFIG_A},"created":"2026-11-27T08:50:17.130371364Z","state":{{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}},"did_create":true}}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.CREATE.A", create, CREATED),
        created
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.CREATE.A", create, CREATED + 5),
        created
    );
    assert_eq!(js.stream_for(b"a.x"), Some("A"));
    assert_eq!(js.stream_for(b"b"), None);
    let ack = js
        .publish("A", b"a.x", b"NATS/1.0\r\nK: v\r\n\r\n", b"hello", T1)
        .unwrap();
    assert_eq!(ack.to_json("A", None), r#"{"stream":"A", "seq":1}"#);
    let in_domain = r#"{"stream":"A", "domain":"d", "seq":1}"#;
    assert_eq!(ack.to_json("A", Some("d")), in_domain);
    js.publish("A", b"a.y", b"", b"world", T2).unwrap();
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.INFO.A", "", 0),
        format!(
            r#"{{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{CONFIG_A},"created":"2026-11-27T08:50:17.130371364Z","state":{{"messages":2,"bytes":66,"first_seq":1,"first_ts":"2026-11-27T08:50:17.53067478Z","last_seq":2,"last_ts":"2026-11-27T08:50:17.730998665Z","num_subjects":2,"consumer_count":0}}}}"#
        )
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.NAMES", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":1,"offset":0,"limit":1024,"streams":["A"]}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.MSG.GET.A", r#"{"seq":1}"#, 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"a.x","seq":1,"hdrs":"TkFUUy8xLjANCks6IHYNCg0K","data":"aGVsbG8=","time":"2026-11-27T08:50:17.53067478Z"}}"#
    );
    assert_eq!(
        req(
            &mut js,
            "$JS.API.STREAM.MSG.GET.A",
            r#"{"last_by_subj":"a.y"}"#,
            0
        ),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"a.y","seq":2,"data":"d29ybGQ=","time":"2026-11-27T08:50:17.730998665Z"}}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.MSG.GET.A", r#"{"seq":9}"#, 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10037,"description":"no message found"}}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.MSG.DELETE.A", r#"{"seq":1}"#, 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","success":true}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.PURGE.A", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":1}"#
    );
    let empty_state = r#""state":{"messages":0,"bytes":0,"first_seq":3,"first_ts":"0001-01-01T00:00:00Z","last_seq":2,"last_ts":"2026-11-27T08:50:17.730998665Z","consumer_count":0}"#;
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.LIST", "", 0),
        format!(
            r#"{{"type":"io.nats.jetstream.api.v1.stream_list_response","total":1,"offset":0,"limit":256,"streams":[{{"config":{CONFIG_A},"created":"2026-11-27T08:50:17.130371364Z",{empty_state}}}]}}"#
        )
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.DELETE.A", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.DELETE.A", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#
    );
    assert_eq!(
        req(&mut js, "$JS.API.STREAM.INFO.NOPE", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
    );
    // Every request counts here, this one included (the reference's counts differ by a
    // request or two; they are statistics, not protocol).
    assert_eq!(
        req(&mut js, "$JS.API.INFO", "", 0),
        r#"{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,"reserved_memory":0,"reserved_storage":0,"streams":0,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,"max_consumers":-1,"max_ack_pending":-1,"memory_max_stream_bytes":-1,"storage_max_stream_bytes":-1,"max_bytes_required":false},"api":{"total":15,"errors":3}}"#
    );
}

#[test]
fn create_conflicts_and_refused_storage() {
    let mut js = jetstream();
    js.request(
        "$JS.API.STREAM.CREATE.O",
        br#"{"name":"O","subjects":["orders.*"]}"#,
        1,
    );
    assert_eq!(
        js.request(
            "$JS.API.STREAM.CREATE.O2",
            br#"{"name":"O2","subjects":["orders.>"]}"#,
            1
        )
        .unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10065,"description":"subjects overlap with an existing stream"}}"#
    );
    assert_eq!(
        js.request(
            "$JS.API.STREAM.CREATE.O",
            br#"{"name":"O","subjects":["orders.x"]}"#,
            1
        )
        .unwrap(),
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10058,"description":"stream name already in use with a different configuration"}}"#
    );
    let mut memory_only = JetStream::new(
        Box::new(|config: &StreamConfig| match config.storage {
            crate::jetstream::config::Storage::Memory => {
                Ok(Box::new(MemStore::new(config.limits())) as Box<dyn Store + Send>)
            }
            crate::jetstream::config::Storage::File => Err(ApiError::invalid_stream_config(
                "file storage is not available",
            )),
        }),
        1,
    );
    let refused = memory_only
        .request("$JS.API.STREAM.CREATE.F", br#"{"name":"F"}"#, 1)
        .unwrap();
    assert!(
        refused.contains("file storage is not available"),
        "{refused}"
    );
    let names = memory_only
        .request("$JS.API.CONSUMER.NAMES.X", b"", 1)
        .unwrap();
    assert!(names.contains(r#""err_code":10059"#), "{names}");
    assert_eq!(memory_only.request("$JS.API.NO.SUCH.THING", b"", 1), None);
}

/// Answers compared in `tests/tests/jetstream_differential.rs` (memory streams here).
#[test]
fn errors_and_paging_as_the_reference() {
    let mut js = jetstream();
    let mut req = |s: &str, b: &str| js.request(s, b.as_bytes(), CREATED).unwrap();
    let t = |kind: &str| format!(r#"{{"type":"io.nats.jetstream.api.v1.{kind}","#);
    let not_found = r#""error":{"code":404,"err_code":10059,"description":"stream not found"}"#;
    assert_eq!(
        req("$JS.API.STREAM.PURGE.X", ""),
        format!(r#"{}{not_found},"purged":0}}"#, t("stream_purge_response"))
    );
    assert_eq!(
        req("$JS.API.CONSUMER.NAMES.X", ""),
        format!(
            r#"{}{not_found},"total":0,"offset":0,"limit":0,"consumers":[]}}"#,
            t("consumer_names_response")
        )
    );
    assert_eq!(
        req("$JS.API.STREAM.NAMES", "{bad"),
        format!(
            r#"{}"error":{{"code":400,"err_code":10025,"description":"invalid JSON"}},"total":0,"offset":0,"limit":0,"streams":null}}"#,
            t("stream_names_response")
        )
    );
    for n in ["A", "B"] {
        let body = format!(r#"{{"name":"{n}","subjects":["{n}.>"],"storage":"memory"}}"#);
        req(&format!("$JS.API.STREAM.CREATE.{n}"), &body);
    }
    assert_eq!(
        req("$JS.API.STREAM.NAMES", r#"{"offset":10}"#),
        format!(
            r#"{}"total":2,"offset":2,"limit":1024,"streams":null}}"#,
            t("stream_names_response")
        )
    );
    assert_eq!(
        req("$JS.API.STREAM.NAMES", r#"{"subject":"B.x"}"#),
        format!(
            r#"{}"total":1,"offset":0,"limit":1024,"streams":["B"]}}"#,
            t("stream_names_response")
        )
    );
    req("$JS.API.STREAM.MSG.GET.A", r#"{"seq":1}"#);
    let bad = r#""error":{"code":400,"err_code":10003,"description":"bad request"}"#;
    assert_eq!(
        req("$JS.API.STREAM.MSG.GET.A", ""),
        format!("{}{bad}}}", t("stream_msg_get_response"))
    );
    assert_eq!(
        req("$JS.API.STREAM.PURGE.A", r#"{"seq":3,"keep":1}"#),
        format!(r#"{}{bad},"purged":0}}"#, t("stream_purge_response"))
    );
    assert!(req(
        "$JS.API.STREAM.CREATE.Z",
        r#"{"name":"Z","storage":"memory","sealed":true}"#
    )
    .contains(r#"{"code":500,"err_code":10052,"description":"stream configuration for create can not be sealed"}"#));
    let sealed = r#"{"name":"B","subjects":["B.>"],"storage":"memory","sealed":true}"#;
    assert!(req("$JS.API.STREAM.UPDATE.B", sealed).contains(r#""deny_purge":true"#));
    let sealed_err = r#""error":{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"}"#;
    assert!(req("$JS.API.STREAM.PURGE.B", "").contains(sealed_err));
    assert!(req("$JS.API.STREAM.MSG.DELETE.B", r#"{"seq":1}"#).contains(sealed_err));
    // In memory any missing sequence is "not found" (the file store fails past its end).
    assert_eq!(
        req("$JS.API.STREAM.MSG.DELETE.A", r#"{"seq":9}"#),
        format!(
            r#"{}"error":{{"code":400,"err_code":10043,"description":"sequence 9 not found"}}}}"#,
            t("stream_msg_delete_response")
        )
    );
}

/// A pull request on a push consumer is refused and delivers nothing anywhere: the push
/// consumer still waits for someone to listen on its deliver subject (as the reference).
#[test]
fn pulling_a_push_consumer_does_not_start_it() {
    let mut js = jetstream();
    let create = r#"{"name":"S","subjects":["s.*"],"storage":"memory"}"#;
    js.request("$JS.API.STREAM.CREATE.S", create.as_bytes(), CREATED);
    js.publish("S", b"s.a", b"", b"x", T1).unwrap();
    let push = r#"{"stream_name":"S","config":{"durable_name":"P","deliver_subject":"p.inbox"}}"#;
    js.request("$JS.API.CONSUMER.DURABLE.CREATE.S.P", push.as_bytes(), T2);
    let mut out = Vec::new();
    js.drain_outbox(&mut out);
    out.clear();
    assert!(js.on_api("$JS.API.CONSUMER.MSG.NEXT.S.P", Some(b"r"), b"", T2));
    js.drain_outbox(&mut out);
    assert_eq!(out.len(), 1, "only the 409");
    assert_eq!(&out[0].to[..], b"r");
}

/// `STREAM.INFO` with `subjects_filter`: the counts per subject and their paging, as the
/// reference answers (paging fields stay 0 when no subject matches).
#[test]
fn stream_info_subject_details() {
    let mut js = jetstream();
    let create = r#"{"name":"S","subjects":["s.*"],"storage":"memory"}"#;
    js.request("$JS.API.STREAM.CREATE.S", create.as_bytes(), CREATED);
    for s in ["s.b", "s.a", "s.b"] {
        js.publish("S", s.as_bytes(), b"", b"x", T1).unwrap();
    }
    let mut req = |b: &str| {
        js.request("$JS.API.STREAM.INFO.S", b.as_bytes(), T2)
            .unwrap()
    };
    let all = req(r#"{"subjects_filter":">"}"#);
    assert!(
        all.contains(r#""total":2,"offset":0,"limit":100000,"config""#),
        "{all}"
    );
    assert!(
        all.contains(r#""num_subjects":2,"subjects":{"s.a":1,"s.b":2},"consumer_count""#),
        "{all}"
    );
    let none = req(r#"{"subjects_filter":"t"}"#);
    assert!(
        none.contains(r#""total":0,"offset":0,"limit":0,"config""#),
        "{none}"
    );
    assert!(!none.contains(r#""subjects":{"#), "{none}");
    assert!(req("{bad").contains(r#""err_code":10025"#));
    // As async-nats asks for it.
    assert!(req("null").contains(r#""total":0,"offset":0,"limit":0,"config""#));
}

/// Mirrors and sources say how they are doing in `STREAM.INFO` and `STREAM.LIST` (nats.go's
/// `StreamInfo.Mirror` was nil), not in the create answer; as nats-server 2.9.10 answered,
/// but for `active`, which there is the time since the last heartbeat.
#[test]
fn stream_info_of_mirrors_and_sources() {
    let mut js = jetstream();
    let mut req = |s: &str, b: &str| js.request(s, b.as_bytes(), CREATED).unwrap();
    req(
        "$JS.API.STREAM.CREATE.O",
        r#"{"name":"O","storage":"memory"}"#,
    );
    let created = req(
        "$JS.API.STREAM.CREATE.M",
        r#"{"name":"M","storage":"memory","mirror":{"name":"O"}}"#,
    );
    assert!(
        !created.contains(r#""mirror":{"name":"O","lag""#),
        "{created}"
    );
    req(
        "$JS.API.STREAM.CREATE.S",
        r#"{"name":"S","storage":"memory","sources":[{"name":"O"},{"name":"GHOST"}]}"#,
    );
    let mirror = req("$JS.API.STREAM.INFO.M", "");
    assert!(
        mirror.ends_with(r#""mirror":{"name":"O","lag":0,"active":0}}"#),
        "{mirror}"
    );
    let sources = req("$JS.API.STREAM.INFO.S", "");
    assert!(
        sources.ends_with(r#""sources":[{"name":"O","lag":0,"active":0},{"name":"GHOST","lag":0,"active":-1,"error":{"code":404,"err_code":10059,"description":"stream not found"}}]}"#),
        "{sources}"
    );
    let list = req("$JS.API.STREAM.LIST", "");
    assert!(list.contains(r#""mirror":{"name":"O""#), "{list}");
    let origin = req("$JS.API.STREAM.INFO.O", "");
    assert!(
        !origin.contains(r#""mirror":{"#) && !origin.contains(r#""sources":["#),
        "{origin}"
    );
}
