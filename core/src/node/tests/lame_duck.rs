//! Lame duck mode through the node: the ldm INFO, the grace period, clients closed one by
//! one, and the end.

use super::*;

fn ldm_opts() -> Options {
    Options {
        lame_duck_duration: Duration::from_secs(30),
        lame_duck_grace_period: Duration::from_secs(1),
        ..Options::default()
    }
}

#[test]
fn clients_hear_of_it_then_are_closed_one_by_one() {
    let mut h = Harness::new(ldm_opts());
    let new = h.client(r#"{"verbose":false,"protocol":1}"#);
    let old = h.client(r#"{"verbose":false,"protocol":0}"#);
    assert!(h.node.enter_lame_duck(h.now));
    assert!(!h.node.enter_lame_duck(h.now));
    h.pump();
    let info = h.take(new);
    assert!(info.starts_with("INFO {"), "{info}");
    assert!(info.ends_with(",\"client_id\":1,\"client_ip\":\"127.0.0.1\",\"ldm\":true} \r\n"));
    assert_eq!(h.take(old), "");
    assert!(h
        .logs
        .contains(&"Entering lame duck mode, stop accepting new clients".to_string()));
    // Nothing is closed during the grace period.
    assert_eq!(
        h.node.poll_timeout(),
        Some(Instant::ZERO + Duration::from_secs(1))
    );
    h.advance(Duration::from_millis(900));
    assert!(h.closed.is_empty());
    h.advance(Duration::from_millis(100));
    assert!(h.logs.contains(&"Closing existing clients".to_string()));
    assert_eq!(h.closed, [new]);
    assert!(!h.node.lame_duck_done());
    // The next one goes between half a second and a second later (29 s spread over two
    // clients, capped at 1 s).
    let next = h.node.poll_timeout().unwrap();
    let pause = next.saturating_since(h.now);
    assert!(
        pause >= Duration::from_millis(500) && pause < Duration::from_secs(1),
        "{pause:?}"
    );
    h.advance(pause);
    assert_eq!(h.closed, [new, old]);
    assert!(h.node.lame_duck_done());
    assert_eq!(h.node.poll_timeout(), None);
}

#[test]
fn without_clients_it_is_done_after_the_grace_period() {
    let mut h = Harness::new(ldm_opts());
    h.node.enter_lame_duck(h.now);
    h.pump();
    assert!(!h.node.lame_duck_done());
    h.advance(Duration::from_secs(1));
    assert!(h.node.lame_duck_done());
}

#[test]
fn clients_that_leave_by_themselves_are_skipped() {
    let mut h = Harness::new(ldm_opts());
    let a = h.client(r#"{"verbose":false}"#);
    let b = h.client(r#"{"verbose":false}"#);
    h.node.enter_lame_duck(h.now);
    h.pump();
    h.advance(Duration::from_secs(1));
    assert_eq!(h.closed, [a]);
    h.node.closed(b, CloseReason::ClientClosed);
    h.pump();
    let next = h.node.poll_timeout().unwrap();
    h.advance(next.saturating_since(h.now));
    assert!(h.node.lame_duck_done());
}
