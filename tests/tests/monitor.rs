//! HTTP monitoring: rnats-server and the reference server run the same scenario, and every
//! endpoint's JSON is compared: the same field names with the same JSON types, and the
//! values that must agree (counts, subjects, names, sorting, paging, close reasons).
//!
//! What is not comparable, and why:
//! - The reference runs an internal system client whose subscriptions (`$SYS.>` and a few
//!   service imports in `$G`) show in `/subsz` counts and lists, in `/varz` `subscriptions`
//!   and in `/accountz` details. So subscription *counts* are compared on `/connz` (which
//!   lists only client connections) and subscription lists after filtering by subject.
//! - Ids, ports, times, durations, `mem`, `cpu`, `go` and the rtt differ by nature: only
//!   their presence and JSON types are compared.
//!
//! Without the reference server (`rnats_tests::reference_bin`) only rnats is checked,
//! unless `CI` is set, which makes its absence an error.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_nats::ConnectOptions;
use common::*;
use rnats_tests::{reference_bin, Server};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An object's field names and the JSON type of each.
fn shape(v: &Value) -> BTreeMap<String, &'static str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, v)| (k.clone(), type_of(v)))
        .collect()
}

/// The field names (in order) and types must be the same.
#[track_caller]
fn same_shape(what: &str, ours: &Value, theirs: &Value) {
    assert_eq!(shape(ours), shape(theirs), "{what}: fields and types");
    let order = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(order(ours), order(theirs), "{what}: field order");
}

fn names(connz: &Value) -> Vec<String> {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or("").to_string())
        .collect()
}

fn conn<'a>(connz: &'a Value, name: &str) -> &'a Value {
    connz["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no connection {name} in {connz}"))
}

/// What one server shows after the scenario.
struct Seen {
    varz: Value,
    connz: Value,
    connz_subs: Value,
    connz_detail: Value,
    by_msgs_from: Value,
    page: Value,
    by_cid: Value,
    closed: Value,
    subsz: Value,
    subsz_test: Value,
    routez: Value,
    gatewayz: Value,
    leafz: Value,
    accountz: Value,
    account: Value,
    accstatz: Value,
    healthz: Answer,
    jsonp: Answer,
    bad_sort: Answer,
    bad_state: Answer,
    stop_on_open: Answer,
    missing: Answer,
}

/// Waits until `/connz` shows the connection `name` with `subs` subscriptions.
async fn wait_subs(port: u16, name: &str, subs: u64) {
    for _ in 0..200 {
        let connz = json(port, "/connz").await;
        let found = connz["connections"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == name && c["subscriptions"] == subs);
        if found {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{name} never had {subs} subscriptions");
}

/// A raw client named `name` that connects, proves it was heard (PING/PONG), then ends
/// its side of the connection, which both servers record as `Client Closed`. (A client
/// library's close can race a server PING and end in a reset, a `Read Error`.)
async fn close_cleanly(srv: &Server, name: &str) {
    within("clean close", async {
        let mut s = TcpStream::connect(srv.addr()).await.unwrap();
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"name\":\"{name}\",\"lang\":\"rust\",\"version\":\"1\"}}\r\nPING\r\n"
        );
        s.write_all(connect.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("PONG") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before PONG");
            seen.extend_from_slice(&buf[..n]);
        }
        s.shutdown().await.unwrap();
        while s.read(&mut buf).await.unwrap_or(0) > 0 {}
    })
    .await
}

/// Two clients talk, a third comes and goes; then every endpoint is read.
async fn scenario(srv: &Server) -> Seen {
    let port = http_port(srv);
    let publisher = connect_with(srv, ConnectOptions::new().name("pub")).await;
    let subscriber = connect_with(srv, ConnectOptions::new().name("sub")).await;
    let mut sub = subscriber.subscribe("foo.>").await.unwrap();
    let _queue = subscriber
        .queue_subscribe("bar", "q".to_string())
        .await
        .unwrap();
    flush(&subscriber).await;
    wait_subs(port, "sub", 2).await;
    for i in 0..3 {
        publisher
            .publish("foo.a", format!("m{i}").into())
            .await
            .unwrap();
    }
    for _ in 0..3 {
        next(&mut sub).await;
    }
    close_cleanly(srv, "gone").await;
    let mut closed = Value::Null;
    for _ in 0..200 {
        closed = json(port, "/connz?state=closed").await;
        if closed["num_connections"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Seen {
        varz: json(port, "/varz").await,
        connz: json(port, "/connz").await,
        connz_subs: json(port, "/connz?subs=1").await,
        connz_detail: json(port, "/connz?subs=detail").await,
        by_msgs_from: json(port, "/connz?sort=msgs_from").await,
        page: json(port, "/connz?sort=cid&limit=1&offset=1").await,
        by_cid: {
            let connz = json(port, "/connz").await;
            let cid = conn(&connz, "sub")["cid"].as_u64().unwrap();
            json(port, &format!("/connz?cid={cid}")).await
        },
        closed,
        subsz: json(port, "/subsz?subs=1").await,
        subsz_test: json(port, "/subsz?subs=1&test=foo.a").await,
        routez: json(port, "/routez").await,
        gatewayz: json(port, "/gatewayz").await,
        leafz: json(port, "/leafz").await,
        accountz: json(port, "/accountz").await,
        account: json(port, "/accountz?acc=$G").await,
        accstatz: json(port, "/accstatz").await,
        healthz: get(port, "/healthz").await,
        jsonp: get(port, "/varz?callback=cb").await,
        bad_sort: get(port, "/connz?sort=bogus").await,
        bad_state: get(port, "/connz?state=bogus").await,
        stop_on_open: get(port, "/connz?sort=stop").await,
        missing: get(port, "/nothing-here").await,
    }
}

/// What must hold for either server.
fn check(s: &Seen) {
    assert_eq!(s.varz["connections"], 2);
    assert_eq!(s.varz["total_connections"], 3);
    assert_eq!(s.varz["in_msgs"], 3);
    assert_eq!(s.varz["out_msgs"], 3);
    assert_eq!(s.varz["in_bytes"], 6);
    assert_eq!(s.varz["out_bytes"], 6);
    assert_eq!(s.varz["slow_consumers"], 0);
    assert!(s.varz["http_req_stats"]["/connz"].as_u64().unwrap() >= 1);

    assert_eq!(s.connz["num_connections"], 2);
    assert_eq!(s.connz["total"], 2);
    assert_eq!(s.connz["limit"], 1024);
    assert_eq!(names(&s.connz), ["pub", "sub"]);
    assert_eq!(conn(&s.connz, "pub")["in_msgs"], 3);
    assert_eq!(conn(&s.connz, "sub")["out_msgs"], 3);
    assert_eq!(conn(&s.connz, "sub")["subscriptions"], 2);
    assert_eq!(conn(&s.connz, "pub")["lang"], "rust");

    let list: BTreeSet<&str> = conn(&s.connz_subs, "sub")["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(list, BTreeSet::from(["bar", "foo.>"]));
    let detail = conn(&s.connz_detail, "sub")["subscriptions_list_detail"]
        .as_array()
        .unwrap();
    let queue = detail.iter().find(|d| d["subject"] == "bar").unwrap();
    assert_eq!(queue["qgroup"], "q");
    let plain = detail.iter().find(|d| d["subject"] == "foo.>").unwrap();
    assert_eq!(plain["msgs"], 3);

    // pub sent 3, sub none: sorted by messages from the client, descending.
    assert_eq!(names(&s.by_msgs_from)[0], "pub");
    assert_eq!(s.page["num_connections"], 1);
    assert_eq!(s.page["total"], 2);
    assert_eq!(
        (&s.page["offset"], &s.page["limit"]),
        (&1.into(), &1.into())
    );
    assert_eq!(names(&s.page), ["sub"]);
    assert_eq!(names(&s.by_cid), ["sub"]);

    assert_eq!(s.closed["num_connections"], 1);
    let gone = conn(&s.closed, "gone");
    assert_eq!(gone["reason"], "Client Closed");
    assert!(gone["stop"].is_string());

    assert_eq!(s.subsz_test["total"], 1);
    let subjects: Vec<&str> = s.subsz_test["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["foo.>"]);

    assert_eq!(s.healthz.body.trim(), r#"{"status":"ok"}"#);
    assert!(s.jsonp.body.starts_with("cb({"), "{}", s.jsonp.body);
    assert!(s.jsonp.body.trim_end().ends_with("})"));
    assert_eq!(s.routez["num_routes"], 0);
    assert_eq!(s.leafz["leafnodes"], 0);
    let accounts: BTreeSet<&str> = s.accountz["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(accounts, BTreeSet::from(["$G", "$SYS"]));
    assert_eq!(s.account["account_detail"]["client_connections"], 2);
    let stats = s.accstatz["account_statz"].as_array().unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["acc"], "$G");
    assert_eq!(stats[0]["conns"], 2);
    assert_eq!(stats[0]["received"]["msgs"], 3);
    assert_eq!(stats[0]["sent"]["msgs"], 3);

    assert_eq!(s.bad_sort.status, 400);
    assert_eq!(s.bad_sort.body.trim(), "invalid sorting option: bogus");
    assert_eq!(s.bad_state.status, 400);
    assert_eq!(s.stop_on_open.status, 400);
    assert_eq!(s.missing.status, 404);
}

/// rnats and the reference must agree field for field.
fn compare(ours: &Seen, theirs: &Seen) {
    same_shape("/varz", &ours.varz, &theirs.varz);
    for (what, a, b) in [
        ("/connz", &ours.connz, &theirs.connz),
        ("/connz?subs=1", &ours.connz_subs, &theirs.connz_subs),
        (
            "/connz?subs=detail",
            &ours.connz_detail,
            &theirs.connz_detail,
        ),
        ("/connz?state=closed", &ours.closed, &theirs.closed),
    ] {
        same_shape(what, a, b);
        for name in names(a) {
            same_shape(&format!("{what} {name}"), conn(a, &name), conn(b, &name));
        }
        assert_eq!(names(a), names(b), "{what}: connections");
    }
    let detail = |s: &Seen| conn(&s.connz_detail, "sub")["subscriptions_list_detail"].clone();
    let (d1, d2) = (detail(ours), detail(theirs));
    // The reference lists a client's subscriptions in map order: match them by subject.
    assert_eq!(d1.as_array().unwrap().len(), d2.as_array().unwrap().len());
    for a in d1.as_array().unwrap() {
        let b = d2
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["subject"] == a["subject"])
            .unwrap_or_else(|| panic!("reference lacks {a}"));
        same_shape("subscriptions_list_detail", a, b);
        assert_eq!((&a["sid"], &a["msgs"]), (&b["sid"], &b["msgs"]));
    }
    assert_eq!(names(&ours.by_msgs_from), names(&theirs.by_msgs_from));
    assert_eq!(names(&ours.page), names(&theirs.page));
    assert_eq!(
        conn(&ours.closed, "gone")["reason"],
        conn(&theirs.closed, "gone")["reason"]
    );
    // /subsz counts include the reference's system subscriptions: shapes only, and the
    // list filtered to a client subject.
    same_shape("/subsz?subs=1", &ours.subsz, &theirs.subsz);
    same_shape("/subsz?subs=1&test", &ours.subsz_test, &theirs.subsz_test);
    let entry = |v: &Value| v["subscriptions_list"][0].clone();
    same_shape(
        "/subsz entry",
        &entry(&ours.subsz_test),
        &entry(&theirs.subsz_test),
    );
    // cids differ (the reference's system clients take the first ones): all but them.
    let without_cid = |v: &Value| {
        let mut list = v["subscriptions_list"].clone();
        for d in list.as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove("cid");
        }
        list
    };
    assert_eq!(
        without_cid(&ours.subsz_test),
        without_cid(&theirs.subsz_test)
    );
    same_shape("/routez", &ours.routez, &theirs.routez);
    same_shape("/gatewayz", &ours.gatewayz, &theirs.gatewayz);
    same_shape("/leafz", &ours.leafz, &theirs.leafz);
    same_shape("/accountz", &ours.accountz, &theirs.accountz);
    same_shape("/accstatz", &ours.accstatz, &theirs.accstatz);
    let first = |v: &Value| v["account_statz"][0].clone();
    same_shape(
        "/accstatz entry",
        &first(&ours.accstatz),
        &first(&theirs.accstatz),
    );
    assert_eq!(
        first(&ours.accstatz)["received"],
        first(&theirs.accstatz)["received"]
    );
    assert_eq!(
        first(&ours.accstatz)["sent"],
        first(&theirs.accstatz)["sent"]
    );
    // The account detail: the reference adds `imports` (its system services); the rest
    // must match.
    let mut theirs_detail = theirs.account["account_detail"].clone();
    theirs_detail.as_object_mut().unwrap().remove("imports");
    same_shape(
        "/accountz?acc=$G detail",
        &ours.account["account_detail"],
        &theirs_detail,
    );
    assert_eq!(ours.healthz.body.trim(), theirs.healthz.body.trim());
    assert_eq!(ours.healthz.content_type, theirs.healthz.content_type);
    assert_eq!(ours.jsonp.content_type, theirs.jsonp.content_type);
    for (a, b) in [
        (&ours.bad_sort, &theirs.bad_sort),
        (&ours.bad_state, &theirs.bad_state),
        (&ours.stop_on_open, &theirs.stop_on_open),
        (&ours.missing, &theirs.missing),
    ] {
        assert_eq!((a.status, a.body.trim()), (b.status, b.body.trim()));
    }
}

#[tokio::test]
async fn endpoints_match_the_reference() {
    let ours_srv = start(["-m", "-1"]);
    let ours = scenario(&ours_srv).await;
    check(&ours);
    let Some(bin) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the reference server"
        );
        eprintln!("reference nats-server not found: compared nothing");
        return;
    };
    let theirs_srv = Server::start(&bin, ["-m", "-1"]).unwrap();
    let theirs = scenario(&theirs_srv).await;
    check(&theirs);
    compare(&ours, &theirs);
}

#[tokio::test]
async fn base_path_index_and_metrics() {
    let dir = std::env::temp_dir().join(format!("rnats-monitor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("base.conf");
    std::fs::write(&conf, "http_base_path: \"/mon/\"\n").unwrap();
    let srv = start(["-c", conf.to_str().unwrap(), "-m", "-1"]);
    let port = http_port(&srv);
    let c = connect_with(&srv, ConnectOptions::new().name("m")).await;
    let mut sub = c.subscribe("x").await.unwrap();
    flush(&c).await;
    wait_subs_at(port, "/mon/connz", 1).await;
    c.publish("x", "hello".into()).await.unwrap();
    next(&mut sub).await;

    assert_eq!(get(port, "/varz").await.status, 404);
    let varz = json(port, "/mon/varz").await;
    assert_eq!(varz["http_base_path"], "/mon/");
    assert_eq!(varz["http_port"], port);
    let index = get(port, "/mon/").await;
    assert_eq!(index.status, 200);
    assert!(index.content_type.starts_with("text/html"));
    for endpoint in ["varz", "connz", "subsz", "accountz", "healthz", "metrics"] {
        assert!(index.body.contains(&format!("./{endpoint}")), "{endpoint}");
    }
    let metrics = get(port, "/mon/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    let value = |name: &str| -> f64 {
        metrics
            .body
            .lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit_once(' '))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or_else(|| panic!("no {name} in\n{}", metrics.body))
    };
    assert_eq!(value("nats_server_in_msgs_total{"), 1.0);
    assert_eq!(value("nats_server_out_msgs_total{"), 1.0);
    assert_eq!(value("nats_server_in_bytes_total{"), 5.0);
    assert_eq!(value("nats_server_connections{"), 1.0);
    assert_eq!(value("nats_server_subscriptions{"), 1.0);
    assert!(metrics
        .body
        .contains("nats_account_connections{server_id=\""));
    assert!(metrics.body.contains("account=\"$G\"} 1\n"));
    let _ = std::fs::remove_dir_all(dir);
}

/// As [`wait_subs`], for a connection count of subscriptions at another path.
async fn wait_subs_at(port: u16, path: &str, subs: u64) {
    for _ in 0..200 {
        let connz = json(port, path).await;
        if connz["connections"][0]["subscriptions"] == subs {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never {subs} subscriptions at {path}");
}

#[tokio::test]
async fn closed_ring_is_bounded() {
    let dir = std::env::temp_dir().join(format!("rnats-monitor-ring-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("ring.conf");
    std::fs::write(&conf, "max_closed_clients: 3\n").unwrap();
    let srv = start(["-c", conf.to_str().unwrap(), "-m", "-1"]);
    let port = http_port(&srv);
    for i in 0..5 {
        close_cleanly(&srv, &format!("c{i}")).await;
    }
    let mut closed = Value::Null;
    for _ in 0..200 {
        closed = json(port, "/connz?state=closed").await;
        if names(&closed).last().map(String::as_str) == Some("c4") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(names(&closed), ["c2", "c3", "c4"]);
    let all = json(port, "/connz?state=all&sort=stop").await;
    assert_eq!(all["total"], 3);
    let _ = std::fs::remove_dir_all(dir);
}

/// A JetStream server with a stream of two messages and a durable consumer; its `/jsz`
/// with every detail, and its `/varz`.
async fn jetstream_scenario(bin: &std::path::Path) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let srv = Server::start(bin, ["-m", "-1", "-js", "-sd", sd]).unwrap();
    let js = async_nats::jetstream::new(connect(&srv).await);
    let stream = within(
        "create stream",
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    for subject in ["s.a", "s.b"] {
        within("publish", async {
            js.publish(subject, "x".into()).await.unwrap().await
        })
        .await
        .unwrap();
    }
    within(
        "create consumer",
        stream.create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("D".into()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let port = http_port(&srv);
    let jsz = json(
        port,
        "/jsz?accounts=true&streams=true&consumers=true&config=true",
    )
    .await;
    let varz = json(port, "/varz").await;
    (jsz, varz["jetstream"].clone())
}

#[tokio::test]
async fn jsz_matches_the_reference() {
    let (ours, ours_varz) = jetstream_scenario(&rnats_tests::rnats_bin()).await;
    assert_eq!(ours["streams"], 1, "{ours}");
    assert_eq!(ours["consumers"], 1, "{ours}");
    assert_eq!(ours["messages"], 2, "{ours}");
    let account = &ours["account_details"][0];
    assert_eq!(account["name"], "$G");
    let stream = &account["stream_detail"][0];
    assert_eq!(stream["config"]["name"], "S");
    assert_eq!(stream["consumer_detail"][0]["num_pending"], 2);
    assert_eq!(ours_varz["stats"]["accounts"], 1, "{ours_varz}");
    let Some(bin) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the reference server"
        );
        return;
    };
    let (theirs, theirs_varz) = jetstream_scenario(&bin).await;
    same_shape("/jsz", &ours, &theirs);
    same_shape("/jsz config", &ours["config"], &theirs["config"]);
    let their_account = &theirs["account_details"][0];
    same_shape("/jsz account", account, their_account);
    let their_stream = &their_account["stream_detail"][0];
    same_shape("/jsz stream", stream, their_stream);
    same_shape(
        "/jsz stream state",
        &stream["state"],
        &their_stream["state"],
    );
    same_shape(
        "/jsz consumer",
        &stream["consumer_detail"][0],
        &their_stream["consumer_detail"][0],
    );
    same_shape("/varz jetstream", &ours_varz, &theirs_varz);
    same_shape(
        "/varz jetstream stats",
        &ours_varz["stats"],
        &theirs_varz["stats"],
    );
    for key in ["streams", "consumers", "messages"] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
}

/// The system account's events and answers: a client's CONNECT event, and the PING,
/// VARZ and CONNZ answers tools use, from rnats and from the reference.
async fn system_scenario(bin: &std::path::Path) -> (Value, Value, Value, Value) {
    let conf = config("system-account.conf");
    let srv = Server::start(bin, ["-c", &conf]).unwrap();
    let admin = connect_with(
        &srv,
        ConnectOptions::with_user_and_password("admin".into(), "admin-secret".into()),
    )
    .await;
    let mut events = admin.subscribe("$SYS.ACCOUNT.APP.CONNECT").await.unwrap();
    sync(&admin).await;
    let _app = connect_with(
        &srv,
        ConnectOptions::with_user_and_password("app".into(), "app-secret".into()).name("worker"),
    )
    .await;
    let connect: Value = serde_json::from_slice(&next(&mut events).await.payload).unwrap();
    let mut answers = Vec::new();
    for subject in [
        "$SYS.REQ.SERVER.PING",
        "$SYS.REQ.SERVER.PING.VARZ",
        "$SYS.REQ.SERVER.PING.CONNZ",
    ] {
        let reply = within(subject, admin.request(subject, "".into()))
            .await
            .unwrap_or_else(|e| panic!("{subject}: {e}"));
        answers.push(serde_json::from_slice::<Value>(&reply.payload).unwrap());
    }
    let connz = answers.pop().unwrap();
    let varz = answers.pop().unwrap();
    let ping = answers.pop().unwrap();
    (connect, ping, varz, connz)
}

#[tokio::test]
async fn system_account_matches_the_reference() {
    let (connect, ping, varz, connz) = system_scenario(&rnats_tests::rnats_bin()).await;
    assert_eq!(connect["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(connect["client"]["acc"], "APP");
    assert_eq!(connect["client"]["user"], "app");
    assert_eq!(connect["client"]["name"], "worker");
    assert_eq!(ping["statsz"]["connections"], 2, "{ping}");
    assert_eq!(varz["data"]["system_account"], "SYS", "{varz}");
    assert_eq!(connz["data"]["num_connections"], 2, "{connz}");
    let Some(bin) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the reference server"
        );
        return;
    };
    let (t_connect, t_ping, t_varz, t_connz) = system_scenario(&bin).await;
    same_shape("connect event", &connect, &t_connect);
    same_shape(
        "connect event server",
        &connect["server"],
        &t_connect["server"],
    );
    same_shape(
        "connect event client",
        &connect["client"],
        &t_connect["client"],
    );
    same_shape("ping", &ping, &t_ping);
    same_shape("ping statsz", &ping["statsz"], &t_ping["statsz"]);
    same_shape("varz answer", &varz, &t_varz);
    same_shape("connz answer", &connz, &t_connz);
    assert_eq!(
        connz["data"]["num_connections"],
        t_connz["data"]["num_connections"]
    );
}

/// `/jsz` of a server without JetStream: `"disabled": true` and zero limits, as the
/// reference answers.
#[tokio::test]
async fn jsz_without_jetstream_says_disabled() {
    let jsz = |bin: std::path::PathBuf| async move {
        let srv = Server::start(&bin, ["-m", "-1"]).unwrap();
        json(http_port(&srv), "/jsz").await
    };
    let ours = jsz(rnats_tests::rnats_bin()).await;
    assert_eq!(ours["disabled"], true, "{ours}");
    assert_eq!(ours["config"]["max_memory"], 0, "{ours}");
    let Some(bin) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs the reference server"
        );
        return;
    };
    let theirs = jsz(bin).await;
    same_shape("/jsz disabled", &ours, &theirs);
    same_shape("/jsz disabled config", &ours["config"], &theirs["config"]);
}
