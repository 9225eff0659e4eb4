//! Authentication, permissions and accounts with a real client (`async-nats`), using the
//! example files in `configs/`.

use std::sync::{Arc, Mutex};

use async_nats::{ConnectErrorKind, ConnectOptions, Event, ServerError};
use bytes::Bytes;
use futures::StreamExt;

mod common;

use common::*;

fn start_with(conf: &str) -> rnats_tests::Server {
    start(["-c", conf, "-p", "-1", "-a", "127.0.0.1"])
}

/// Connect options that also collect the `-ERR` texts the server sends.
fn collecting(opts: ConnectOptions) -> (ConnectOptions, Arc<Mutex<Vec<String>>>) {
    let errors = Arc::new(Mutex::new(Vec::new()));
    let sink = errors.clone();
    let opts = opts.event_callback(move |event| {
        let sink = sink.clone();
        async move {
            if let Event::ServerError(ServerError::Other(text)) = event {
                sink.lock().unwrap().push(text);
            }
        }
    });
    (opts, errors)
}

fn user(name: &str, pass: &str) -> ConnectOptions {
    ConnectOptions::with_user_and_password(name.into(), pass.into())
}

/// A round trip for a client whose permissions rule out [`sync`]: it publishes to
/// `subject` (which it may publish and subscribe to) and waits for its own message.
async fn sync_via(c: &async_nats::Client, subject: &str) {
    let mut sub = c.subscribe(subject.to_string()).await.unwrap();
    c.publish(subject.to_string(), "sync".into()).await.unwrap();
    next(&mut sub).await;
}

/// Waits until the server has sent an `-ERR` containing `needle`.
async fn expect_error(errors: &Arc<Mutex<Vec<String>>>, needle: &str) {
    let found = async {
        while !errors.lock().unwrap().iter().any(|e| e.contains(needle)) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    if tokio::time::timeout(STEP, found).await.is_err() {
        panic!(
            "no error containing {needle:?}: {:?}",
            errors.lock().unwrap()
        );
    }
}

async fn refused(srv: &rnats_tests::Server, opts: ConnectOptions) {
    let err = within("refused connect", opts.connect(srv.url()))
        .await
        .expect_err("bad credentials accepted");
    assert_eq!(err.kind(), ConnectErrorKind::AuthorizationViolation);
}

#[tokio::test]
async fn users_bcrypt_and_permissions() {
    let srv = start_with(&config("auth-users.conf"));
    // admin's password is stored as a bcrypt hash.
    let admin = connect_with(&srv, user("admin", "admin-secret")).await;
    refused(&srv, user("admin", "admin-wrong")).await;
    refused(&srv, user("nobody", "x")).await;
    let (opts, errors) = collecting(user("app", "app-secret"));
    let app = connect_with(&srv, opts).await;

    // Publish: allowed under app.>, refused elsewhere without losing the connection.
    let mut refused_subject = admin.subscribe("other.>").await.unwrap();
    let mut allowed_subject = admin.subscribe("app.ok").await.unwrap();
    sync_via(&admin, "admin.sync").await;
    app.publish("other.thing", "no".into()).await.unwrap();
    app.publish("app.ok", "yes".into()).await.unwrap();
    sync_via(&app, "app.sync").await;
    assert_eq!(next(&mut allowed_subject).await.payload, "yes");
    assert_quiet(&mut refused_subject).await;

    // Subscribe: a subject inside the deny list is refused; a wider subscription is taken
    // but never sees the denied subjects.
    let _denied = app.subscribe("app.secret.x").await.unwrap();
    let mut wide = app.subscribe("app.>").await.unwrap();
    sync_via(&app, "app.sync").await;
    assert_eq!(next(&mut wide).await.subject.as_str(), "app.sync");
    admin
        .publish("app.secret.x", "hidden".into())
        .await
        .unwrap();
    admin.publish("app.public", "shown".into()).await.unwrap();
    let m = next(&mut wide).await;
    assert_eq!(m.subject.as_str(), "app.public");
    assert_quiet(&mut wide).await;
    expect_error(
        &errors,
        "Permissions Violation for Publish to \"other.thing\"",
    )
    .await;
    expect_error(
        &errors,
        "Permissions Violation for Subscription to \"app.secret.x\"",
    )
    .await;
}

#[tokio::test]
async fn a_service_may_answer_requests_it_receives() {
    let srv = start_with(&config("auth-users.conf"));
    let (opts, errors) = collecting(user("svc", "svc-secret"));
    let svc = connect_with(&srv, opts).await;
    let app = connect_with(&srv, user("app", "app-secret")).await;
    let mut requests = svc.subscribe("svc.echo").await.unwrap();
    svc.flush().await.unwrap();
    let responder = svc.clone();
    let task = tokio::spawn(async move {
        let m = requests.next().await.unwrap();
        responder
            .publish(m.reply.unwrap(), m.payload)
            .await
            .unwrap();
        // Anything else is still refused.
        responder.publish("app.x", "no".into()).await.unwrap();
        responder.flush().await.unwrap();
    });
    // The subscription may not have reached the server yet: retry until it has.
    let reply = within("request", async {
        loop {
            match app.request("svc.echo", "ping".into()).await {
                Ok(reply) => return reply,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert_eq!(reply.payload, "ping");
    within("responder", task).await.unwrap();
    expect_error(&errors, "Permissions Violation for Publish to \"app.x\"").await;
}

#[tokio::test]
async fn accounts_are_separate_and_no_auth_user_applies() {
    let srv = start_with(&config("accounts.conf"));
    let orders = connect_with(&srv, user("orders", "orders-secret")).await;
    // No credentials: the no_auth_user `guest`, in account PUBLIC.
    let guest = connect(&srv).await;
    assert!(!guest.server_info().auth_required);
    let guest2 = connect(&srv).await;
    let mut orders_sub = orders.subscribe("news").await.unwrap();
    let mut guest_sub = guest.subscribe("news").await.unwrap();
    sync(&orders).await;
    sync(&guest).await;
    guest2.publish("news", "public".into()).await.unwrap();
    sync(&guest2).await;
    assert_eq!(next(&mut guest_sub).await.payload, "public");
    assert_quiet(&mut orders_sub).await;
    orders.publish("news", "private".into()).await.unwrap();
    sync(&orders).await;
    assert_eq!(next(&mut orders_sub).await.payload, "private");
    assert_quiet(&mut guest_sub).await;
    refused(&srv, user("orders", "wrong")).await;
}

#[tokio::test]
async fn nkey_users_sign_the_nonce() {
    let key = nkeys::KeyPair::new_user();
    let other = nkeys::KeyPair::new_user();
    let dir = std::env::temp_dir().join(format!("rnats-nkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("nkeys.conf");
    std::fs::write(
        &conf,
        format!(
            "authorization {{ users: [ {{nkey: {}, permissions: {{publish: \"ok.>\"}}}} ] }}\n",
            key.public_key()
        ),
    )
    .unwrap();
    let srv = start_with(conf.to_str().unwrap());
    let client = connect_with(&srv, ConnectOptions::with_nkey(key.seed().unwrap())).await;
    let mut sub = client.subscribe("ok.1").await.unwrap();
    client.publish("ok.1", Bytes::from("signed")).await.unwrap();
    assert_eq!(next(&mut sub).await.payload, "signed");
    refused(&srv, ConnectOptions::with_nkey(other.seed().unwrap())).await;
    refused(&srv, ConnectOptions::new()).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn stream_and_service_imports_cross_accounts() {
    let srv = start_with(&config("accounts.conf"));
    let orders = connect_with(&srv, user("orders", "orders-secret")).await;
    let guest = connect(&srv).await;
    // The service: ORDERS answers orders.status; PUBLIC asks on its own subject "status".
    let mut status = orders.subscribe("orders.status").await.unwrap();
    sync(&orders).await;
    let responder = orders.clone();
    let task = tokio::spawn(async move {
        let m = status.next().await.unwrap();
        let answer = format!("status of {}", String::from_utf8_lossy(&m.payload));
        responder
            .publish(m.reply.unwrap(), answer.into())
            .await
            .unwrap();
        responder.flush().await.unwrap();
    });
    let reply = within(
        "request across accounts",
        guest.request("status", "42".into()),
    )
    .await
    .expect("the service in ORDERS answers");
    assert_eq!(reply.payload, "status of 42");
    within("responder", task).await.unwrap();
    // The stream: ORDERS' events arrive in PUBLIC under the prefix.
    let mut events = guest.subscribe("ext.orders.events.>").await.unwrap();
    sync(&guest).await;
    orders
        .publish("orders.events.created", "order 7".into())
        .await
        .unwrap();
    orders.publish("orders.secret", "no".into()).await.unwrap();
    sync(&orders).await;
    let m = next(&mut events).await;
    assert_eq!(m.subject.as_str(), "ext.orders.events.created");
    assert_eq!(m.payload, "order 7");
    assert_quiet(&mut events).await;
}
