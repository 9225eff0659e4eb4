//! JetStream per account, from `configs/jetstream-accounts.conf`: only accounts that
//! enable it have it, each within its limits, and the others are told so by its API.

use async_nats::ConnectOptions;
use serde_json::Value;
use tempfile::TempDir;

mod common;

use common::*;

fn start_accounts(dir: &TempDir) -> rnats_tests::Server {
    let conf = config("jetstream-accounts.conf");
    start(["-c", &conf, "-sd", dir.path().to_str().unwrap()])
}

async fn api(client: &async_nats::Client, subject: &str, body: &str) -> Value {
    let msg = within(
        subject,
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&msg.payload).unwrap()
}

async fn login(srv: &rnats_tests::Server, user: &str, pass: &str) -> async_nats::Client {
    connect_with(
        srv,
        ConnectOptions::with_user_and_password(user.into(), pass.into()),
    )
    .await
}

#[tokio::test]
async fn accounts_without_jetstream_are_told_so() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_accounts(&dir);
    let plain = login(&srv, "plain", "plain-secret").await;
    let info = api(&plain, "$JS.API.INFO", "").await;
    assert_eq!(
        info["type"],
        "io.nats.jetstream.api.v1.account_info_response"
    );
    assert_eq!(info["error"]["err_code"], 10039, "{info}");
    let create = api(&plain, "$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#).await;
    assert_eq!(
        create["type"],
        "io.nats.jetstream.api.v1.stream_create_response"
    );
    assert_eq!(create["error"]["err_code"], 10039, "{create}");
}

#[tokio::test]
async fn account_limits_show_and_hold() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_accounts(&dir);
    let orders = login(&srv, "orders", "orders-secret").await;
    let info = api(&orders, "$JS.API.INFO", "").await;
    assert_eq!(info["limits"]["max_streams"], 10, "{info}");
    assert_eq!(info["limits"]["max_consumers"], 100, "{info}");
    assert_eq!(info["limits"]["max_memory"], 256 << 20, "{info}");
    for i in 0..10 {
        let body = format!(r#"{{"name":"S{i}","storage":"memory"}}"#);
        let created = api(&orders, &format!("$JS.API.STREAM.CREATE.S{i}"), &body).await;
        assert!(created["error"].is_null(), "{created}");
    }
    let over = api(&orders, "$JS.API.STREAM.CREATE.S10", r#"{"name":"S10"}"#).await;
    assert_eq!(over["error"]["err_code"], 10027, "{over}");
    // Another account's streams are its own: same names, no clash, no shared limit.
    let metrics = login(&srv, "metrics", "metrics-secret").await;
    let created = api(&metrics, "$JS.API.STREAM.CREATE.S0", r#"{"name":"S0"}"#).await;
    assert!(created["error"].is_null(), "{created}");
    let names = api(&metrics, "$JS.API.STREAM.NAMES", "").await;
    assert_eq!(names["total"], 1, "{names}");
}

#[tokio::test]
async fn storage_limit_refuses_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_accounts(&dir);
    let orders = login(&srv, "orders", "orders-secret").await;
    // A 256 MB memory limit: a stream of 1 MB messages is refused once it is full.
    let create = api(
        &orders,
        "$JS.API.STREAM.CREATE.BIG",
        r#"{"name":"BIG","storage":"memory","subjects":["big"]}"#,
    )
    .await;
    assert!(create["error"].is_null(), "{create}");
    let payload = vec![b'x'; 1000 * 1000];
    let mut refused = None;
    for i in 0..300 {
        let ack = within("publish", orders.request("big", payload.clone().into()))
            .await
            .unwrap();
        let ack: Value = serde_json::from_slice(&ack.payload).unwrap();
        if !ack["error"].is_null() {
            refused = Some((i, ack));
            break;
        }
    }
    let (at, ack) = refused.expect("the limit was never reached");
    assert_eq!(ack["error"]["err_code"], 10028, "{ack}");
    assert!((260..=270).contains(&at), "refused after {at} messages");
}
