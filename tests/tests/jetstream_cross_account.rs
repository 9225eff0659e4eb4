//! Mirrors and sources across accounts, from `configs/jetstream-cross-account.conf`: SHOP
//! copies ORDERS' stream through the imports of ORDERS' consumer API and delivery
//! subjects, configured with async-nats' `external`, as a user of the reference would.

use async_nats::jetstream::{self, consumer, stream};
use std::future::IntoFuture;

use async_nats::ConnectOptions;
use futures::StreamExt;
use tempfile::TempDir;

mod common;

use common::*;

fn start_cross_account(dir: &TempDir) -> rnats_tests::Server {
    let conf = config("jetstream-cross-account.conf");
    start(["-c", &conf, "-sd", dir.path().to_str().unwrap()])
}

async fn login(srv: &rnats_tests::Server, user: &str) -> jetstream::Context {
    let pass = format!("{user}-secret");
    let opts = ConnectOptions::with_user_and_password(user.into(), pass);
    jetstream::new(connect_with(srv, opts).await)
}

/// Publishes to a stream and waits for its ack.
async fn publish(js: &jetstream::Context, subject: &'static str, payload: &'static str) {
    let ack = within("publish", js.publish(subject, payload.into())).await;
    within("ack", ack.unwrap().into_future()).await.unwrap();
}

/// A source or mirror of ORDERS' stream of the same name, as SHOP imports it.
/// The two accounts' JetStream, the ORDERS stream made in the first.
async fn orders_and_shop(srv: &rnats_tests::Server) -> (jetstream::Context, jetstream::Context) {
    let orders = login(srv, "orders").await;
    let shop = login(srv, "shop").await;
    within(
        "create ORDERS",
        orders.create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    (orders, shop)
}

fn from_orders(filter: Option<&str>) -> stream::Source {
    stream::Source {
        name: "ORDERS".into(),
        filter_subject: filter.map(str::to_string),
        external: Some(stream::External {
            api_prefix: "$JS.ORDERS.API".into(),
            delivery_prefix: Some("deliver.shop".into()),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn mirrors_and_sources_follow_another_accounts_stream() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_cross_account(&dir);
    let (orders, shop) = orders_and_shop(&srv).await;
    for subject in ["orders.new", "orders.paid", "orders.new"] {
        publish(&orders, subject, "o").await;
    }
    within(
        "create MIRROR",
        shop.create_stream(stream::Config {
            name: "MIRROR".into(),
            mirror: Some(from_orders(None)),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let mut copy = within(
        "create NEW",
        shop.create_stream(stream::Config {
            name: "NEW".into(),
            sources: Some(vec![from_orders(Some("orders.new"))]),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    // A consumer in SHOP sees what ORDERS stores from now on, as it is stored.
    let consumer = copy
        .create_consumer(consumer::push::OrderedConfig {
            deliver_subject: "shop.watch".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    publish(&orders, "orders.new", "later").await;
    let mut payloads = Vec::new();
    for _ in 0..3 {
        let msg = within("sourced message", msgs.next())
            .await
            .unwrap()
            .unwrap();
        payloads.push(String::from_utf8_lossy(&msg.payload).into_owned());
    }
    assert_eq!(payloads, ["o", "o", "later"]);

    let info = within("info NEW", copy.info()).await.unwrap();
    assert_eq!(info.state.messages, 3);
    let source = &info.sources[0];
    assert_eq!((source.name.as_str(), source.lag), ("ORDERS", 0));
    assert!(source.active.is_some(), "{source:?}");
    let mut mirror = within("get MIRROR", shop.get_stream("MIRROR"))
        .await
        .unwrap();
    let info = within("info MIRROR", mirror.info()).await.unwrap();
    assert_eq!((info.state.messages, info.state.last_sequence), (4, 4));
    assert!(info.mirror.as_ref().unwrap().active.is_some(), "{info:?}");

    // Without the imports, OTHER's source never reaches ORDERS' stream.
    let other = login(&srv, "other").await;
    let mut lonely = within(
        "create LONELY",
        other.create_stream(stream::Config {
            name: "LONELY".into(),
            sources: Some(vec![from_orders(None)]),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let info = within("info LONELY", lonely.info()).await.unwrap();
    assert_eq!(info.state.messages, 0);
    assert_eq!(info.sources[0].active, None, "never active: {info:?}");
}

#[tokio::test]
async fn sourced_streams_carry_on_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_cross_account(&dir);
    let (orders, shop) = orders_and_shop(&srv).await;
    within(
        "create COPY",
        shop.create_stream(stream::Config {
            name: "COPY".into(),
            sources: Some(vec![from_orders(None)]),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    publish(&orders, "orders.1", "one").await;
    drop((orders, shop));
    drop(srv);

    let srv = start_cross_account(&dir);
    let orders = login(&srv, "orders").await;
    let shop = login(&srv, "shop").await;
    publish(&orders, "orders.2", "two").await;
    let mut copy = within("get COPY", shop.get_stream("COPY")).await.unwrap();
    let info = within("info COPY", copy.info()).await.unwrap();
    assert_eq!(info.state.messages, 2, "each copied once: {info:?}");
}
