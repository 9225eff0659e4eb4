//! Clusters of real server processes on loopback: rnats nodes formed from one seed URL,
//! clients on different nodes publishing, subscribing, queueing and requesting across
//! them, a node killed under its clients, a mixed cluster with the reference server, and
//! the three-node example in `configs/cluster-{a,b,c}.conf`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::{Client, ConnectOptions};
use bytes::Bytes;
use common::*;
use futures::StreamExt;
use rnats_tests::{reference_bin, rnats_bin, Server};

/// A cluster node on random ports, `--routes` to `seed` if given, with monitoring.
fn node(bin: &Path, name: &str, seed: Option<u16>) -> Server {
    let mut args = vec![
        "-n".to_string(),
        name.to_string(),
        "-m".into(),
        "-1".into(),
        "--cluster".into(),
        "nats://127.0.0.1:-1".into(),
        "--cluster_name".into(),
        "c1".into(),
    ];
    if let Some(port) = seed {
        args.push("--routes".into());
        args.push(format!("nats-route://127.0.0.1:{port}"));
    }
    Server::start(bin, args).unwrap_or_else(|e| panic!("{name} did not start: {e}"))
}

/// Waits until every node has `n` routes, as its `/routez` says.
async fn wait_mesh(nodes: &[&Server], n: u64) {
    let deadline = Instant::now() + STEP;
    for srv in nodes {
        loop {
            let routez = json(http_port(srv), "/routez").await;
            if routez["num_routes"] == n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no full mesh: {routez}; log:\n{}",
                srv.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Makes every client answer requests on `ready.<i>`, then asks each one's question from
/// every client until it is answered: interest has spread across the whole cluster.
async fn wait_interest(clients: &[Client]) {
    for (i, c) in clients.iter().enumerate() {
        let mut sub = c.subscribe(format!("ready.{i}")).await.unwrap();
        let c = c.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(reply) = m.reply {
                    let _ = c.publish(reply, Bytes::new()).await;
                }
            }
        });
        flush(&clients[i]).await;
    }
    let deadline = Instant::now() + STEP;
    for asker in clients {
        for i in 0..clients.len() {
            while asker
                .request(format!("ready.{i}"), Bytes::new())
                .await
                .is_err()
            {
                assert!(Instant::now() < deadline, "ready.{i} never answered");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn three_nodes_from_one_seed() {
    let bin = rnats_bin();
    let a = node(&bin, "a", None);
    let seed = route_port(&a);
    let b = node(&bin, "b", Some(seed));
    let c = node(&bin, "c", Some(seed));
    wait_mesh(&[&a, &b, &c], 2).await;
    let clients = vec![connect(&a).await, connect(&b).await, connect(&c).await];
    wait_interest(&clients).await;
    let (ca, cb, cc) = (&clients[0], &clients[1], &clients[2]);

    // Clients learn every node's address.
    let urls = cb.server_info().connect_urls;
    assert_eq!(urls.len(), 3, "{urls:?}");

    // Plain and wildcard subscriptions on one node, the publisher on another.
    let mut plain = cc.subscribe("orders.new").await.unwrap();
    let mut wild = cc.subscribe("orders.>").await.unwrap();
    flush(cc).await;
    wait_interest(&clients).await;
    cb.publish("orders.new", "o1".into()).await.unwrap();
    assert_eq!(next(&mut plain).await.payload, "o1");
    assert_eq!(next(&mut wild).await.payload, "o1");
    assert_quiet(&mut wild).await;

    // A queue group with members on a and c, published to from b (which has none): each
    // message reaches exactly one member.
    let mut qa = ca.queue_subscribe("jobs", "workers".into()).await.unwrap();
    let mut qc = cc.queue_subscribe("jobs", "workers".into()).await.unwrap();
    flush(ca).await;
    flush(cc).await;
    wait_interest(&clients).await;
    for i in 0..60 {
        cb.publish("jobs", format!("{i}").into()).await.unwrap();
    }
    flush(cb).await;
    let mut got = BTreeMap::new();
    let mut counts = [0, 0];
    while got.len() < 60 {
        let (m, who) = tokio::select! {
            m = next(&mut qa) => (m, 0),
            m = next(&mut qc) => (m, 1),
        };
        counts[who] += 1;
        assert!(
            got.insert(m.payload.clone(), who).is_none(),
            "delivered twice"
        );
    }
    assert_quiet(&mut qa).await;
    assert_quiet(&mut qc).await;
    assert!(counts[0] > 0 && counts[1] > 0, "{counts:?}");

    // Request/reply across nodes.
    let mut svc = cc.subscribe("svc.time").await.unwrap();
    flush(cc).await;
    wait_interest(&clients).await;
    let responder = cc.clone();
    tokio::spawn(async move {
        while let Some(m) = svc.next().await {
            let _ = responder.publish(m.reply.unwrap(), "now".into()).await;
        }
    });
    let answer = within("request", ca.request("svc.time", Bytes::new()))
        .await
        .unwrap();
    assert_eq!(answer.payload, "now");
}

#[tokio::test]
async fn clients_fail_over_when_a_node_dies() {
    let bin = rnats_bin();
    let a = node(&bin, "a", None);
    let seed = route_port(&a);
    let b = node(&bin, "b", Some(seed));
    let mut c = node(&bin, "c", Some(seed));
    wait_mesh(&[&a, &b, &c], 2).await;
    // The client knows only c; it learns the others from c's INFO.
    let opts = ConnectOptions::new().retry_on_initial_connect();
    let watcher = connect_with(&c, opts).await;
    let mut sub = watcher.subscribe("alerts").await.unwrap();
    flush(&watcher).await;
    let publisher = connect(&a).await;
    wait_interest(&[publisher.clone(), watcher.clone()]).await;
    publisher.publish("alerts", "before".into()).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "before");

    c.stop();
    // Once the watcher is back (on a or b) with its subscription, messages reach it again.
    let deadline = Instant::now() + STEP;
    loop {
        publisher.publish("alerts", "after".into()).await.unwrap();
        flush(&publisher).await;
        match tokio::time::timeout(Duration::from_millis(200), sub.next()).await {
            Ok(Some(m)) => {
                assert_eq!(m.payload, "after");
                break;
            }
            Ok(None) => panic!("subscription ended"),
            Err(_) => assert!(Instant::now() < deadline, "the client never came back"),
        }
    }
    wait_mesh(&[&a, &b], 1).await;
}

#[tokio::test]
async fn mixed_cluster_with_the_reference() {
    let Some(reference) = reference_bin() else {
        assert!(std::env::var_os("CI").is_none(), "CI needs nats-server");
        return;
    };
    let rnats = rnats_bin();
    let a = node(&rnats, "a", None);
    let seed = route_port(&a);
    let r = node(&reference, "r", Some(seed));
    let b = node(&rnats, "b", Some(seed));
    wait_mesh(&[&a, &r, &b], 2).await;
    let clients = vec![connect(&a).await, connect(&r).await, connect(&b).await];
    wait_interest(&clients).await;

    // Every node's subscriber gets every node's messages, with headers.
    let mut subs = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("news").await.unwrap());
        flush(c).await;
    }
    let mut queues = Vec::new();
    for c in &clients {
        queues.push(c.queue_subscribe("tasks", "q".into()).await.unwrap());
        flush(c).await;
    }
    wait_interest(&clients).await;
    for (i, c) in clients.iter().enumerate() {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("From", format!("{i}").as_str());
        c.publish_with_headers("news", headers, format!("{i}").into())
            .await
            .unwrap();
        for t in 0..20 {
            c.publish("tasks", format!("{i}.{t}").into()).await.unwrap();
        }
        flush(c).await;
    }
    for sub in &mut subs {
        let mut from = Vec::new();
        for _ in 0..3 {
            let m = next(sub).await;
            let header = m.headers.as_ref().and_then(|h| h.get("From")).unwrap();
            assert_eq!(header.as_str(), std::str::from_utf8(&m.payload).unwrap());
            from.push(m.payload.clone());
        }
        from.sort();
        assert_eq!(from, ["0", "1", "2"]);
        assert_quiet(sub).await;
    }
    // 60 tasks, each to exactly one member; publishers with a local member keep theirs.
    let mut seen = BTreeMap::new();
    for (who, q) in queues.iter_mut().enumerate() {
        while let Ok(Some(m)) = tokio::time::timeout(QUIET, q.next()).await {
            assert!(seen.insert(m.payload.clone(), who).is_none(), "twice");
        }
    }
    assert_eq!(seen.len(), 60, "{seen:?}");

    // Both servers describe their routes with the same fields.
    let ours = json(http_port(&a), "/routez").await;
    let theirs = json(http_port(&r), "/routez").await;
    let keys = |v: &serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v["routes"][0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&ours), keys(&theirs));
    let varz = json(http_port(&a), "/varz").await;
    let reference_varz = json(http_port(&r), "/varz").await;
    assert_eq!(varz["cluster"]["name"], reference_varz["cluster"]["name"]);
    assert_eq!(varz["routes"], 2);
    let urls = |v: &serde_json::Value| v["connect_urls"].as_array().map_or(0, Vec::len);
    assert_eq!((urls(&varz), urls(&reference_varz)), (3, 3));
}

#[tokio::test]
async fn the_three_node_example_config() {
    let bin = rnats_bin();
    let start = |name: &str| {
        // Client and monitoring ports are random; the route ports are the example's.
        Server::start(&bin, ["-c", &config(name), "-p", "-1", "-m", "-1"])
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let a = start("cluster-a.conf");
    let b = start("cluster-b.conf");
    let c = start("cluster-c.conf");
    wait_mesh(&[&a, &b, &c], 2).await;
    let varz = json(http_port(&b), "/varz").await;
    assert_eq!(varz["cluster"]["name"], "example");
    assert_eq!(varz["cluster"]["cluster_port"], 6223);
    let clients = vec![connect(&a).await, connect(&c).await];
    wait_interest(&clients).await;
    let mut sub = clients[1].subscribe("hello").await.unwrap();
    flush(&clients[1]).await;
    wait_interest(&clients).await;
    clients[0].publish("hello", "world".into()).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "world");
}

/// JetStream on one node serves the whole cluster: a client on another node makes a
/// key-value bucket, writes and watches it, and pulls from a stream, all over routes.
#[tokio::test]
async fn jetstream_on_one_node_serves_the_cluster() {
    let bin = rnats_bin();
    let dir = tempfile::tempdir().unwrap();
    let a = Server::start(
        &bin,
        [
            "-js",
            "-sd",
            dir.path().to_str().unwrap(),
            "-m",
            "-1",
            "--cluster",
            "nats://127.0.0.1:-1",
            "--cluster_name",
            "c1",
        ],
    )
    .unwrap();
    let b = node(&bin, "b", Some(route_port(&a)));
    wait_mesh(&[&a, &b], 1).await;
    let far = connect(&b).await;
    wait_interest(&[connect(&a).await, far.clone()]).await;
    let js = async_nats::jetstream::new(far);
    let kv = within(
        "create bucket",
        js.create_key_value(async_nats::jetstream::kv::Config {
            bucket: "cfg".into(),
            history: 2,
            ..Default::default()
        }),
    )
    .await
    .expect("create bucket over a route");
    let mut watch = within("watch", kv.watch("mode")).await.unwrap();
    within("put", kv.put("mode", "fast".into())).await.unwrap();
    let seen = within("watched", watch.next()).await.unwrap().unwrap();
    assert_eq!(seen.value, "fast");
    assert_eq!(
        within("get", kv.get("mode")).await.unwrap().as_deref(),
        Some(&b"fast"[..])
    );
}
