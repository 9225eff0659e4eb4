//! Configuration reload through the node: what changes live, what is refused, and what
//! becomes of the clients already connected.

use super::*;
use crate::auth::{AuthConfig, Credential, Permissions, SubjectRules, User};

fn user(name: &str, pass: &str, permissions: Option<Permissions>) -> User {
    User {
        name: name.into(),
        credential: Credential::Password(pass.into()),
        permissions,
        account: crate::auth::GLOBAL_ACCOUNT.into(),
    }
}

fn opts(users: Vec<User>) -> Options {
    Options {
        auth: AuthConfig {
            users,
            ..AuthConfig::default()
        },
        ..Options::default()
    }
}

fn only_subscribe(subjects: &[&str]) -> Option<Permissions> {
    Some(Permissions {
        subscribe: Some(SubjectRules {
            allow: Some(subjects.iter().map(|s| s.to_string()).collect()),
            deny: Vec::new(),
        }),
        ..Permissions::default()
    })
}

fn connect(h: &mut Harness, user: &str, pass: &str) -> ConnId {
    h.client(&format!(
        r#"{{"verbose":false,"protocol":1,"user":"{user}","pass":"{pass}"}}"#
    ))
}

fn reload(h: &mut Harness, new: Options) -> Result<(), String> {
    let r = h.node.reload(h.now, new);
    h.pump();
    r
}

#[test]
fn a_changed_password_closes_its_clients_and_spares_the_others() {
    let mut h = Harness::new(opts(vec![user("a", "pa", None), user("b", "pb", None)]));
    let a = connect(&mut h, "a", "pa");
    let b = connect(&mut h, "b", "pb");
    h.send(b, "SUB foo 1\r\n");
    reload(
        &mut h,
        opts(vec![user("a", "pa2", None), user("b", "pb", None)]),
    )
    .unwrap();
    assert!(h.is_closed(a));
    assert_eq!(h.take(a), "-ERR 'Authorization Violation'\r\n");
    assert!(h
        .logs
        .iter()
        .any(|l| l.ends_with("authentication error - User \"a\"")));
    assert!(!h.is_closed(b));
    // The survivor keeps its subscription; the new password works, the old one not.
    let p = connect(&mut h, "a", "pa2");
    h.send(p, "PUB foo 2\r\nhi\r\n");
    assert_eq!(h.take(b), "MSG foo 1 2\r\nhi\r\n");
    let old = h.accept();
    h.send(
        old,
        "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"pa\"}\r\n",
    );
    assert!(h.is_closed(old));
}

#[test]
fn a_removed_user_is_closed_without_an_error() {
    let mut h = Harness::new(opts(vec![user("a", "pa", None), user("b", "pb", None)]));
    let a = connect(&mut h, "a", "pa");
    reload(&mut h, opts(vec![user("b", "pb", None)])).unwrap();
    assert!(h.is_closed(a));
    assert_eq!(h.take(a), "");
}

#[test]
fn new_permissions_apply_and_drop_subscriptions_they_forbid() {
    let mut h = Harness::new(opts(vec![user("b", "pb", None)]));
    let b = connect(&mut h, "b", "pb");
    h.send(b, "SUB foo 1\r\nSUB bar 2\r\n");
    reload(
        &mut h,
        opts(vec![user("b", "pb", only_subscribe(&["bar"]))]),
    )
    .unwrap();
    assert_eq!(
        h.take(b),
        "-ERR 'Permissions Violation for Subscription to \"foo\" (sid \"1\")'\r\n"
    );
    assert!(h
        .logs
        .iter()
        .any(|l| l == "Removed sub \"foo\" (sid \"1\") for User \"b\" - not authorized"));
    h.send(b, "SUB baz 3\r\nPUB bar 1\r\nx\r\nPUB foo 1\r\ny\r\n");
    assert_eq!(
        h.take(b),
        "-ERR 'Permissions Violation for Subscription to \"baz\"'\r\nMSG bar 2 1\r\nx\r\n"
    );
    assert_eq!(h.node.num_subscriptions(), 1);
}

#[test]
fn options_that_cannot_change_live_refuse_the_whole_reload() {
    let mut h = Harness::new(opts(vec![user("a", "pa", None)]));
    let a = connect(&mut h, "a", "pa");
    let new = Options {
        port: 4333,
        ..opts(vec![user("a", "other", None)])
    };
    assert_eq!(
        reload(&mut h, new),
        Err("config reload not supported for Port: old=4222, new=4333".to_string())
    );
    assert!(!h.is_closed(a));
    assert_eq!(
        h.node.options().auth.users[0].credential,
        Credential::Password("pa".into())
    );
}

#[test]
fn changes_are_logged_in_the_reference_order_and_limits_apply() {
    let mut h = Harness::new(Options::default());
    let c = h.client(r#"{"verbose":false}"#);
    h.logs.clear();
    let new = Options {
        debug: true,
        max_payload: 4,
        ping_interval: Duration::from_secs(30),
        ..Options::default()
    };
    reload(&mut h, new).unwrap();
    assert_eq!(
        h.logs,
        [
            "Reloaded: debug = true",
            "Reloaded: authorization users",
            "Reloaded: accounts",
            "Reloaded: ping_interval = 30s",
            "Reloaded: max_payload = 4",
        ]
    );
    assert_eq!(h.node.info().max_payload, 4);
    h.send(c, "PUB foo 5\r\nhello\r\n");
    assert!(h.is_closed(c));
    assert_eq!(h.take(c), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn a_lower_max_connections_closes_the_newest() {
    let mut h = Harness::new(Options::default());
    let ids: Vec<ConnId> = (0..3).map(|_| h.client(r#"{"verbose":false}"#)).collect();
    let new = Options {
        max_connections: 1,
        ..Options::default()
    };
    reload(&mut h, new).unwrap();
    assert!(!h.is_closed(ids[0]));
    assert!(h.is_closed(ids[1]) && h.is_closed(ids[2]));
    assert_eq!(h.take(ids[2]), "-ERR 'maximum connections exceeded'\r\n");
    assert!(h
        .logs
        .iter()
        .any(|l| l == "Closed 2 connections to fall within max_connections"));
}

#[test]
fn turning_auth_on_refuses_anonymous_clients() {
    let mut h = Harness::new(Options::default());
    let c = h.client(r#"{"verbose":false}"#);
    reload(&mut h, opts(vec![user("a", "pa", None)])).unwrap();
    assert!(h.is_closed(c));
    assert!(h.node.info().auth_required);
}

#[test]
fn a_changed_bcrypt_hash_is_checked_again() {
    let hashed = |p: &str| bcrypt::hash(p, 4).unwrap();
    let mut h = Harness::new(opts(vec![user("a", &hashed("pa"), None)]));
    let a = connect(&mut h, "a", "pa");
    assert!(!h.is_closed(a));
    // Same password, new hash: still welcome.
    reload(&mut h, opts(vec![user("a", &hashed("pa"), None)])).unwrap();
    assert!(!h.is_closed(a));
    // Another password: refused once the check comes back.
    reload(&mut h, opts(vec![user("a", &hashed("other"), None)])).unwrap();
    assert!(h.is_closed(a));
    assert_eq!(h.take(a), "-ERR 'Authorization Violation'\r\n");
}
