//! Authentication and permissions through the node.

use std::time::Duration;

use super::*;
use crate::auth::{AuthConfig, Credential, Permissions, ResponsePermission, SubjectRules, User};

fn user(name: &str, credential: Credential, permissions: Option<Permissions>) -> User {
    User {
        name: name.into(),
        credential,
        permissions,
        account: crate::auth::GLOBAL_ACCOUNT.into(),
    }
}

fn with_users(users: Vec<User>) -> Harness {
    Harness::new(Options {
        auth: AuthConfig {
            users,
            ..AuthConfig::default()
        },
        ..Options::default()
    })
}

fn allow(subjects: &[&str]) -> Option<SubjectRules> {
    Some(SubjectRules {
        allow: Some(subjects.iter().map(|s| s.to_string()).collect()),
        deny: Vec::new(),
    })
}

#[test]
fn a_subscription_must_lie_within_the_allowed_subjects() {
    let perms = Permissions {
        subscribe: allow(&["foo.*"]),
        ..Permissions::default()
    };
    let pass = Credential::Password("p".into());
    let mut h = with_users(vec![user("u", pass, Some(perms))]);
    let c = h.client(r#"{"verbose":false,"user":"u","pass":"p"}"#);
    h.send(
        c,
        "SUB foo.> 1\r\nSUB foo.* 2\r\nPUB foo.a.b 1\r\nx\r\nPUB foo.a 1\r\ny\r\nPING\r\n",
    );
    assert_eq!(
        h.take(c),
        "-ERR 'Permissions Violation for Subscription to \"foo.>\"'\r\nMSG foo.a 2 1\r\ny\r\nPONG\r\n"
    );
}

#[test]
fn nkey_users_sign_the_nonce() {
    let key = nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::User, [9; 32]).unwrap();
    let mut h = with_users(vec![user(&key.public_key(), Credential::Nkey, None)]);
    let connect = |h: &mut Harness, sign: &dyn Fn(&str) -> Vec<u8>| {
        let c = h.accept();
        let info = h.take(c);
        let json: serde_json::Value =
            serde_json::from_str(info.trim_start_matches("INFO ").trim_end()).unwrap();
        let nonce = json["nonce"]
            .as_str()
            .expect("INFO has a nonce")
            .to_string();
        use base64::Engine;
        let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sign(&nonce));
        let line = format!(
            "CONNECT {{\"verbose\":false,\"nkey\":\"{}\",\"sig\":\"{sig}\"}}\r\nPING\r\n",
            key.public_key()
        );
        h.send(c, &line);
        (c, h.take(c))
    };
    let (_, out) = connect(&mut h, &|nonce| key.sign(nonce.as_bytes()).unwrap());
    assert_eq!(out, "PONG\r\n");
    let (c, out) = connect(&mut h, &|_| key.sign(b"something else").unwrap());
    assert_eq!(out, "-ERR 'Authorization Violation'\r\n");
    assert!(h.is_closed(c));
}

#[test]
fn bcrypt_passwords_hold_what_follows_connect() {
    let hash = bcrypt::hash("secret", 4).unwrap();
    let mut h = with_users(vec![user("u", Credential::Password(hash), None)]);
    let c = h.accept();
    h.take(c);
    h.send(
        c,
        "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"secret\"}\r\nSUB x 1\r\nPUB x 1\r\nz\r\nPING\r\n",
    );
    assert_eq!(h.take(c), "MSG x 1 1\r\nz\r\nPONG\r\n");
    let bad = h.accept();
    h.take(bad);
    h.send(
        bad,
        "CONNECT {\"user\":\"u\",\"pass\":\"guess\"}\r\nPING\r\n",
    );
    assert_eq!(h.take(bad), "-ERR 'Authorization Violation'\r\n");
    assert!(h.is_closed(bad));
}

#[test]
fn response_grants_expire() {
    let perms = Permissions {
        responses: Some(ResponsePermission {
            max: 2,
            expires: Duration::from_secs(1),
        }),
        ..Permissions::default()
    }
    .normalized();
    let pass = |p: &str| Credential::Password(p.into());
    let mut h = with_users(vec![
        user("svc", pass("s"), Some(perms)),
        user("cli", pass("c"), None),
    ]);
    let svc = h.client(r#"{"verbose":false,"user":"svc","pass":"s"}"#);
    let cli = h.client(r#"{"verbose":false,"user":"cli","pass":"c"}"#);
    h.send(svc, "SUB req 1\r\n");
    h.send(cli, "PUB req r.1 0\r\n\r\nPUB req r.2 0\r\n\r\n");
    assert_eq!(
        h.take(svc),
        "MSG req 1 r.1 0\r\n\r\nMSG req 1 r.2 0\r\n\r\n"
    );
    h.send(svc, "PUB r.1 0\r\n\r\nPUB r.1 0\r\n\r\nPUB r.1 0\r\n\r\n");
    assert_eq!(
        h.take(svc),
        "-ERR 'Permissions Violation for Publish to \"r.1\"'\r\n",
        "two responses allowed, the third refused"
    );
    h.advance(Duration::from_secs(2));
    h.take(svc);
    h.send(svc, "PUB r.2 0\r\n\r\n");
    assert_eq!(
        h.take(svc),
        "-ERR 'Permissions Violation for Publish to \"r.2\"'\r\n",
        "expired"
    );
}

#[test]
fn verify_and_map_takes_the_user_from_the_certificate() {
    let perms = Permissions {
        publish: allow(&["ok"]),
        ..Permissions::default()
    };
    let mut h = Harness::new(Options {
        auth: AuthConfig {
            users: vec![user(
                "CN=app,O=Acme",
                Credential::Password(String::new()),
                Some(perms),
            )],
            ..AuthConfig::default()
        },
        tls: Some(crate::tls_config::TlsConfig {
            cert_file: "server.pem".into(),
            key_file: "server-key.pem".into(),
            ca_file: Some("ca.pem".into()),
            verify: true,
            verify_and_map: true,
            timeout: Duration::from_secs(2),
            handshake_first: false,
        }),
        ..Options::default()
    });
    let c = h.accept();
    h.take(c);
    h.node
        .certificate_verified(c, vec!["app@acme.test".into(), "CN=app,O=Acme".into()]);
    h.send(c, "CONNECT {\"verbose\":false}\r\nPUB no 0\r\n\r\nPING\r\n");
    assert_eq!(
        h.take(c),
        "-ERR 'Permissions Violation for Publish to \"no\"'\r\nPONG\r\n",
        "the certificate's user, with its permissions"
    );
    let stranger = h.accept();
    h.take(stranger);
    h.node
        .certificate_verified(stranger, vec!["CN=someone,O=Else".into()]);
    h.send(stranger, "CONNECT {\"verbose\":false}\r\n");
    assert_eq!(h.take(stranger), "-ERR 'Authorization Violation'\r\n");
}
