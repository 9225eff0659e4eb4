use super::*;

fn stream(json: &str) -> StreamConfig {
    let name = serde_json::from_str::<serde_json::Value>(json).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    StreamConfig::parse_create(json.as_bytes(), &name).unwrap()
}

fn create(body: &str, kind: CreateKind<'_>) -> Result<ConsumerConfig, ApiError> {
    let s = stream(r#"{"name":"S","subjects":["s.>"]}"#);
    let mut c = ConsumerConfig::parse_create(body.as_bytes(), "S", kind)?;
    c.check_and_default(&s)?;
    Ok(c)
}

#[test]
fn defaults_serialize_like_the_reference() {
    // As nats-server 2.9.10 answered the same durable create.
    let c = create(
        r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","ack_wait":2000000000}}"#,
        CreateKind::Durable("D"),
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"durable_name":"D","deliver_policy":"all","ack_policy":"explicit","ack_wait":2000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#
    );
    // And an ephemeral push consumer without acks.
    let c = create(
        r#"{"stream_name":"S","config":{"deliver_subject":"push.x","ack_policy":"none"}}"#,
        CreateKind::Ephemeral,
    )
    .unwrap();
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"push.x","inactive_threshold":5000000000,"num_replicas":0}"#
    );
}

#[test]
fn refusals() {
    let code = |body: &str, kind| create(body, kind).unwrap_err().err_code;
    let durable = r#"{"stream_name":"S","config":{"durable_name":"D"}}"#;
    assert_eq!(code(durable, CreateKind::Ephemeral), 10020);
    assert_eq!(code(durable, CreateKind::Durable("E")), 10017);
    assert_eq!(
        code(
            r#"{"stream_name":"S","config":{}}"#,
            CreateKind::Durable("D")
        ),
        10018
    );
    assert_eq!(
        code(r#"{"stream_name":"X","config":{}}"#, CreateKind::Ephemeral),
        10056
    );
    assert_eq!(code("nope", CreateKind::Ephemeral), 10025);
    let cycle = r#"{"stream_name":"S","config":{"deliver_subject":"s.x"}}"#;
    assert_eq!(code(cycle, CreateKind::Ephemeral), 10081);
    let outside = r#"{"stream_name":"S","config":{"filter_subject":"t.x"}}"#;
    assert_eq!(code(outside, CreateKind::Ephemeral), 10093);
    let by_seq = r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence"}}"#;
    assert_eq!(code(by_seq, CreateKind::Ephemeral), 10012);
    let bad_name = r#"{"stream_name":"S","config":{"durable_name":"a.b"}}"#;
    assert_eq!(code(bad_name, CreateKind::Durable("a.b")), 10103);
    let filter = r#"{"stream_name":"S","config":{"filter_subject":"s.y"}}"#;
    assert_eq!(code(filter, CreateKind::Named("N", Some("s.x"))), 10131);
    let wq = stream(r#"{"name":"W","retention":"workqueue"}"#);
    let mut none = ConsumerConfig {
        ack_policy: AckPolicy::None,
        ..ConsumerConfig::default()
    };
    assert_eq!(none.check_and_default(&wq).unwrap_err().err_code, 10098);
}

#[test]
fn backoff_sets_ack_waits() {
    let c = create(
        r#"{"stream_name":"S","config":{"backoff":[1000,2000,5000],"max_deliver":5}}"#,
        CreateKind::Ephemeral,
    )
    .unwrap();
    assert_eq!(c.ack_wait, 1000);
    let waits: Vec<u64> = (1..=5)
        .map(|n| c.ack_wait_for(n).as_nanos() as u64)
        .collect();
    assert_eq!(waits, [1000, 2000, 5000, 5000, 5000]);
    let short = r#"{"stream_name":"S","config":{"backoff":[1,2],"max_deliver":2}}"#;
    assert!(create(short, CreateKind::Ephemeral).is_err());
}

#[test]
fn filters_and_updates() {
    let mut c = create(
        r#"{"stream_name":"S","config":{"filter_subjects":["s.a","s.b.*"]}}"#,
        CreateKind::Ephemeral,
    )
    .unwrap();
    assert!(c.wants(b"s.a") && c.wants(b"s.b.x") && !c.wants(b"s.c"));
    let mut longer = c.clone();
    longer.ack_wait *= 2;
    assert!(c.may_update_to(&longer));
    c.deliver_policy = DeliverPolicy::New;
    assert!(!c.may_update_to(&longer));
}
