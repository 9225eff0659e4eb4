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
    // As nats-server 2.9.10 answers them (tests/tests/jetstream_differential.rs).
    for (config, err_code) in [
        (r#"{"deliver_policy":"by_start_sequence"}"#, 10094),
        (r#"{"deliver_policy":"last","opt_start_seq":3}"#, 10094),
        (r#"{"filter_subject":"s..a"}"#, 10093),
        (r#"{"max_deliver":2,"backoff":[1,2,3]}"#, 10116),
        (r#"{"deliver_subject":"d","max_waiting":5}"#, 10080),
        (r#"{"deliver_subject":"d.*"}"#, 10079),
        (r#"{"max_waiting":-1}"#, 10087),
        (r#"{"idle_heartbeat":1000}"#, 10088),
        (r#"{"flow_control":true}"#, 10089),
        (r#"{"rate_limit_bps":1000}"#, 10086),
        (r#"{"deliver_subject":"d","max_ack_pending":10}"#, 10082),
        (
            r#"{"deliver_subject":"d","idle_heartbeat":99000000}"#,
            10083,
        ),
    ] {
        let body = format!(r#"{{"stream_name":"S","config":{config}}}"#);
        assert_eq!(code(&body, CreateKind::Ephemeral), err_code, "{config}");
    }
    let last = r#"{"stream_name":"S","config":{"deliver_policy":"last","opt_start_time":"2020-01-01T00:00:00Z"}}"#;
    assert_eq!(
        create(last, CreateKind::Ephemeral).unwrap_err().description,
        "consumer delivery policy is deliver last, but optional start time is also set"
    );
    // No ack policy in the request: none (Go's zero value), as the reference answers.
    let plain = create(r#"{"stream_name":"S","config":{}}"#, CreateKind::Ephemeral).unwrap();
    assert_eq!(plain.ack_policy, AckPolicy::None);
    // No config at all: an empty one.
    let bare = create(r#"{"stream_name":"S"}"#, CreateKind::Ephemeral).unwrap();
    assert_eq!(bare.ack_policy, AckPolicy::None);
    // Pull options on a push consumer are taken.
    let push_batch = r#"{"stream_name":"S","config":{"deliver_subject":"d","max_batch":5}}"#;
    assert!(create(push_batch, CreateKind::Ephemeral).is_ok());
    // A deliver group on a pull consumer is taken (and unused), as by the reference.
    let pull_group = r#"{"stream_name":"S","config":{"deliver_group":"g"}}"#;
    assert!(create(pull_group, CreateKind::Ephemeral).is_ok());
    let bad_name = r#"{"stream_name":"S","config":{"durable_name":"a.b"}}"#;
    assert_eq!(code(bad_name, CreateKind::Durable("a.b")), 10103);
    let filter = r#"{"stream_name":"S","config":{"filter_subject":"s.y"}}"#;
    assert_eq!(code(filter, CreateKind::Named("N", Some("s.x"))), 10131);
    let wq = stream(r#"{"name":"W","retention":"workqueue"}"#);
    let mut none = ConsumerConfig {
        ack_policy: AckPolicy::None,
        ..ConsumerConfig::default()
    };
    // A pull consumer without acks is refused as such first, a push one for the work queue.
    assert_eq!(none.check_and_default(&wq).unwrap_err().err_code, 10084);
    none.deliver_subject = "d".into();
    assert_eq!(none.check_and_default(&wq).unwrap_err().err_code, 10098);
}

#[test]
fn backoff_sets_ack_waits() {
    let c = create(
        r#"{"stream_name":"S","config":{"ack_policy":"explicit","backoff":[1000,2000,5000],"max_deliver":5}}"#,
        CreateKind::Ephemeral,
    )
    .unwrap();
    assert_eq!(c.ack_wait, 1000);
    let waits: Vec<u64> = (1..=5)
        .map(|n| c.ack_wait_for(n).as_nanos() as u64)
        .collect();
    assert_eq!(waits, [1000, 2000, 5000, 5000, 5000]);
    let short =
        r#"{"stream_name":"S","config":{"ack_policy":"explicit","backoff":[1,2],"max_deliver":2}}"#;
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
    let mut refiltered = c.clone();
    refiltered.filter_subjects = vec!["s.c".into()];
    assert!(c.may_update_to(&refiltered), "filters may change");
    c.deliver_policy = DeliverPolicy::New;
    assert!(!c.may_update_to(&longer));
    assert_eq!(
        c.update_refusal(&longer),
        Some("deliver policy can not be updated")
    );
    // As nats-server 2.9.10 words them; a pull consumer turned push first differs in
    // max_waiting.
    let mut push = longer.clone();
    push.deliver_subject = "d".into();
    push.max_waiting = 0;
    assert_eq!(
        longer.update_refusal(&push),
        Some("max waiting can not be updated")
    );
    let mut acks = longer.clone();
    acks.ack_policy = AckPolicy::All;
    assert_eq!(
        longer.update_refusal(&acks),
        Some("ack policy can not be updated")
    );
}
