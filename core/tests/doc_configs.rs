//! Configurations in the shapes the reference's documentation teaches (permission maps kept
//! in variables, default permissions, deny-only users, allow_responses, accounts with
//! public and private exports, verify_and_map users, nkeys): each parses and applies with
//! no warning and gives the options it says. Each was also checked with `nats-server -t`.

use std::time::Duration;

use rnats_core::auth::Credential;
use rnats_core::exports::{ExportKind, ImportKind, ResponseType};
use rnats_core::options::Options;

fn apply(text: &str) -> Options {
    let conf = rnats_core::conf::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut opts = Options::default();
    let warnings = opts
        .apply_conf(&conf)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    opts
}

#[test]
fn permission_maps_in_variables() {
    let o = apply(
        r#"
authorization {
  ADMIN = { publish = ">", subscribe = ">" }
  REQUESTOR = { publish = ["req.a", "req.b"], subscribe = "_INBOX.>" }
  RESPONDER = { subscribe = ["req.a", "req.b"], publish = "_INBOX.>" }
  DEFAULTS = { publish = "SANDBOX.*", subscribe = ["PUBLIC.>", "_INBOX.>"] }
  PASS: abcdefghijklmnopqrstuvwxyz
  users = [
    {user: joe,     password: foo,   permissions: $ADMIN}
    {user: alice,   password: bar,   permissions: $REQUESTOR}
    {user: bob,     password: $PASS, permissions: $RESPONDER}
    {user: charlie, password: bar}
  ]
  default_permissions = $DEFAULTS
}
"#,
    );
    let users = &o.auth.users;
    assert_eq!(users.len(), 4);
    assert_eq!(
        users[2].credential,
        Credential::Password("abcdefghijklmnopqrstuvwxyz".into())
    );
    let alice = users[1].permissions.as_ref().unwrap();
    assert!(alice.allows_publish(b"req.a") && !alice.allows_publish(b"req.c"));
    assert!(users[3].permissions.is_none());
    let defaults = o.auth.default_permissions.as_ref().unwrap();
    assert!(defaults.allows_publish(b"SANDBOX.x") && !defaults.allows_publish(b"other"));
}

#[test]
fn deny_everything_and_responses() {
    let o = apply(
        r#"
authorization: {
  users = [
    { user: test, password: test, permissions: { publish: { deny: ">" }, subscribe: { allow: "client.>" } } }
    { user: b, password: b, permissions: {subscribe: "b", allow_responses: true}}
    { user: c, password: c, permissions: {subscribe: "c", allow_responses: { max: 5, expires: "1m" }}}
  ]
}
"#,
    );
    let test = o.auth.users[0].permissions.as_ref().unwrap();
    assert!(!test.allows_publish(b"anything"));
    assert!(test.allows_subscription(b"client.x") && !test.allows_subscription(b"other"));
    let c = o.auth.users[2].permissions.as_ref().unwrap();
    let responses = c.responses.unwrap();
    assert_eq!(
        (responses.max, responses.expires),
        (5, Duration::from_secs(60))
    );
}

#[test]
fn accounts_with_public_and_private_exports() {
    let o = apply(
        r#"
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    exports: [
      {stream: puba.>}
      {service: pubq.>}
      {stream: b.>, accounts: [B]}
      {service: q.b, accounts: [B]}
    ]
  },
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      {stream: {account: A, subject: b.>}}
      {service: {account: A, subject: q.b}}
    ]
  }
  C: {
    users: [ {user: c, password: c} ]
    imports: [
      {stream: {account: A, subject: puba.>}, prefix: from_a}
      {service: {account: A, subject: pubq.C}, to: Q}
    ]
  }
}
no_auth_user: a
"#,
    );
    assert_eq!(o.accounts.len(), 3);
    let a = &o.accounts[0];
    assert_eq!(
        a.exports[3].kind,
        ExportKind::Service(ResponseType::Singleton)
    );
    assert_eq!(a.exports[2].accounts, Some(vec!["B".to_string()]));
    let c = &o.accounts[2];
    assert_eq!(c.imports[0].local, "from_a.puba.>");
    assert_eq!(c.imports[1].kind, ImportKind::Service);
    assert_eq!(
        (c.imports[1].subject.as_str(), c.imports[1].local.as_str()),
        ("pubq.C", "Q")
    );
    assert_eq!(o.auth.no_auth_user.as_deref(), Some("a"));
    assert_eq!(o.auth.users[2].account, "C");
}

#[test]
fn a_private_export_refuses_other_importers() {
    let conf = rnats_core::conf::parse(
        "accounts { A: { exports: [{stream: x, accounts: [B]}] }, C: { imports: [{stream: {account: A, subject: x}}] } }",
    )
    .unwrap();
    let err = Options::default().apply_conf(&conf).unwrap_err();
    assert!(err.message.contains("not exported"), "{err}");
}

#[test]
fn certificate_users_and_nkeys() {
    let o = apply(
        r#"
tls {
  cert_file: "server-cert.pem"
  key_file:  "server-key.pem"
  ca_file:   "rootCA.pem"
  verify_and_map: true
}
authorization {
  users = [
    {user: "derek@nats.io", permissions: { publish: "foo" }}
    {user: "CN=example.com,OU=NATS.io", permissions: { subscribe: "bar" }}
    {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4}
  ]
}
"#,
    );
    let tls = o.tls.as_ref().unwrap();
    assert!(tls.verify && tls.verify_and_map);
    assert_eq!(o.auth.users[1].name, "CN=example.com,OU=NATS.io");
    assert_eq!(o.auth.users[2].credential, Credential::Nkey);
    assert_eq!(o.auth_timeout(), Duration::from_secs(3));
}
