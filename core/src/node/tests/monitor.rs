//! Monitoring snapshots: connections, the closed ring, subscriptions, account figures.

use super::*;

#[test]
fn connection_snapshots_carry_real_figures() {
    let mut h = Harness::new(Options::default());
    h.advance(Duration::from_millis(5));
    let started = h.now;
    let publ = h.accept();
    h.advance(Duration::from_micros(300));
    h.send(
        publ,
        r#"CONNECT {"verbose":false,"pedantic":false,"name":"p","lang":"rust","version":"1.2"}"#,
    );
    h.send(publ, "\r\n");
    let sub = h.client(QUIET);
    h.send(sub, "SUB foo.* 1\r\nSUB bar q 2\r\nUNSUB 1 10\r\n");
    h.send(publ, "PUB foo.x 3\r\nabc\r\nPUB foo.y 2\r\nde\r\n");

    let conns = h.node.connections(true);
    assert_eq!(conns.len(), 2);
    let p = &conns[0];
    assert_eq!((p.cid, p.in_msgs, p.in_bytes, p.num_subs), (publ, 2, 5, 0));
    assert_eq!(p.name.as_deref(), Some("p"));
    assert_eq!(p.lang.as_deref(), Some("rust"));
    assert_eq!(p.version.as_deref(), Some("1.2"));
    assert_eq!((p.ip.as_str(), p.port), ("127.0.0.1", 5000));
    assert_eq!(p.start, started);
    // Until a PING/PONG measures it, the round trip is from INFO to CONNECT.
    assert_eq!(p.rtt, Some(Duration::from_micros(300)));
    assert_eq!(p.account, "$G");
    let s = &conns[1];
    assert_eq!((s.out_msgs, s.out_bytes, s.num_subs), (2, 5, 2));
    let subjects: Vec<_> = s.subs.iter().map(|x| x.subject.as_str()).collect();
    assert_eq!(subjects, ["foo.*", "bar"]);
    assert_eq!(s.subs[0].msgs, 2);
    assert_eq!(s.subs[0].max, Some(10));
    assert_eq!(s.subs[1].queue.as_deref(), Some("q"));
    assert!(h.node.connections(false)[1].subs.is_empty());

    assert_eq!(h.node.subscriptions().len(), 2);
    let stats = h.node.sublist_stats();
    assert_eq!((stats.num_subscriptions, stats.num_matches), (2, 2));
}

#[test]
fn closed_connections_keep_reason_and_traffic_in_a_bounded_ring() {
    let opts = Options {
        max_closed_clients: 2,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let publ = h.client(QUIET);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let c = h.client(QUIET);
        h.send(c, "SUB a 1\r\n");
        h.send(publ, "PUB a 1\r\nx\r\n");
        ids.push(c);
    }
    h.advance(Duration::from_secs(1));
    for &c in &ids {
        h.node.closed_at(h.now, c, CloseReason::ClientClosed);
        h.pump();
    }
    let closed: Vec<_> = h.node.closed_connections().collect();
    assert_eq!(closed.len(), 2, "the ring holds the newest two");
    assert_eq!(closed[0].cid, ids[1]);
    assert_eq!(closed[1].cid, ids[2]);
    assert_eq!(closed[1].reason, Some(CloseReason::ClientClosed));
    assert_eq!(closed[1].stop, Some(h.now));
    assert_eq!(
        closed[1].subs.len(),
        1,
        "subscriptions are kept with the closed"
    );

    // The account still counts what the closed clients received.
    let accounts = h.node.accounts_info();
    let global = &accounts[0];
    assert_eq!(global.name, "$G");
    assert_eq!(global.conns, 1);
    assert_eq!(global.traffic.in_msgs, 3);
    assert_eq!(global.traffic.out_msgs, 1 + 2 + 3);
}

#[test]
fn slow_consumers_count_per_account() {
    let opts = Options {
        max_pending: 100,
        ..Options::default()
    };
    let mut h = Harness::new(opts);
    let slow = h.client(QUIET);
    let publ = h.client(QUIET);
    h.send(slow, "SUB foo 1\r\n");
    let mut held = Vec::new();
    h.node.take_outbound(slow, &mut held);
    h.node.receive(
        h.now,
        publ,
        Bytes::from(format!("PUB foo 200\r\n{}\r\n", "x".repeat(200))),
    );
    h.pump();
    assert!(h.is_closed(slow));
    assert_eq!(h.node.accounts_info()[0].slow_consumers, 1);
    let closed: Vec<_> = h.node.closed_connections().collect();
    assert_eq!(
        closed[0].reason,
        Some(CloseReason::SlowConsumerPendingBytes)
    );
}
