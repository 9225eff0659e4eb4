//! The system account: client events and requests to the server.

use super::*;

fn with_accounts() -> Harness {
    let conf = crate::conf::parse(
        "accounts {\n  SYS: { users: [{user: sys, password: sys}] }\n  APP: { users: [{user: app, password: app}] }\n}\nsystem_account: SYS\n",
    )
    .unwrap();
    let mut opts = Options::default();
    opts.apply_conf(&conf).unwrap();
    let mut h = Harness::new(opts);
    h.node.set_wall_clock(1_795_769_283_000_000_000);
    h
}

fn login(h: &mut Harness, user: &str, name: &str) -> ConnId {
    h.client(&format!(
        r#"{{"verbose":false,"user":"{user}","pass":"{user}","name":"{name}","lang":"rust","version":"1.0","headers":true}}"#
    ))
}

#[test]
fn connect_and_disconnect_events() {
    let mut h = with_accounts();
    let sys = login(&mut h, "sys", "watcher");
    h.send(sys, "SUB $SYS.ACCOUNT.> 1\r\nPING\r\n");
    h.take(sys);
    let app = login(&mut h, "app", "myapp");
    let events = h.take(sys);
    assert!(
        events.contains("MSG $SYS.ACCOUNT.APP.CONNECT 1 "),
        "{events}"
    );
    assert!(events.contains(r#""type":"io.nats.server.advisory.v1.client_connect""#));
    assert!(events.contains(r#""acc":"APP","user":"app","name":"myapp","lang":"rust","ver":"1.0","kind":"Client","client_type":"nats""#), "{events}");
    assert!(
        events.contains("MSG $SYS.ACCOUNT.APP.SERVER.CONNS 1 "),
        "{events}"
    );
    assert!(events.contains(r#""acc":"APP","conns":1,"#), "{events}");
    h.send(app, "PUB x 2\r\nhi\r\n");
    h.node.closed(app, CloseReason::ClientClosed);
    h.pump();
    let events = h.take(sys);
    assert!(
        events.contains("MSG $SYS.ACCOUNT.APP.DISCONNECT 1 "),
        "{events}"
    );
    assert!(
        events.contains(r#""sent":{"msgs":1,"bytes":2}"#),
        "{events}"
    );
    assert!(events.contains(r#""reason":"Client Closed""#), "{events}");
    assert!(events.contains(r#""acc":"APP","conns":0,"#), "{events}");
    // The app account's own clients never see system events.
    let other = login(&mut h, "app", "other");
    h.send(other, "SUB $SYS.> 1\r\nPING\r\n");
    assert_eq!(h.take(other), "PONG\r\n");
}

#[test]
fn ping_asks_the_shell_and_answers() {
    let mut h = with_accounts();
    let sys = login(&mut h, "sys", "tool");
    h.send(
        sys,
        "SUB _INBOX.> 1\r\nPUB $SYS.REQ.SERVER.PING _INBOX.a 0\r\n\r\n",
    );
    assert_eq!(h.system_requests.len(), 1);
    let (endpoint, reply) = h.system_requests.remove(0);
    assert_eq!(
        (endpoint.as_str(), &reply[..]),
        ("STATSZ", &b"_INBOX.a"[..])
    );
    h.node
        .answer_system(h.now, &reply, "statsz", r#"{"connections":1}"#);
    h.pump();
    let answer = h.take(sys);
    assert!(answer.starts_with("MSG _INBOX.a 1 "), "{answer}");
    assert!(answer.contains(r#"{"server":{"name":"#), "{answer}");
    assert!(
        answer.contains(r#""statsz":{"connections":1}}"#),
        "{answer}"
    );
    let id = h.node.info().server_id.clone();
    h.send(sys, &format!("PUB $SYS.REQ.SERVER.{id}.VARZ _INBOX.b 0\r\n\r\nPUB $SYS.REQ.SERVER.PING.CONNZ _INBOX.c 0\r\n\r\n"));
    let asked: Vec<&str> = h.system_requests.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(asked, ["VARZ", "CONNZ"]);
}
