//! Mirrors and sources of streams in other accounts (`external`), with the accounts of
//! `configs/jetstream-cross-account.conf`: ORDERS exports its consumer API and delivery
//! subjects, SHOP imports them, OTHER imports nothing.

use super::jetstream::{hub_harness, request};
use super::*;

fn cross_account() -> Harness {
    let conf = crate::conf::parse(include_str!(
        "../../../../configs/jetstream-cross-account.conf"
    ))
    .unwrap();
    let mut opts = Options {
        jetstream: true,
        ..Options::default()
    };
    opts.apply_conf(&conf).unwrap();
    let mut h = Harness::new(opts);
    h.node.set_wall_clock(1_795_769_283_000_000_000);
    h
}

fn login(h: &mut Harness, user: &str) -> ConnId {
    let c = h.client(&format!(
        r#"{{"verbose":false,"user":"{user}","pass":"{user}-secret","headers":true,"no_responders":true}}"#
    ));
    h.send(c, "SUB r 1\r\n");
    c
}

/// The JSON of an API answer (the payload of the one message in `got`, past any PING).
fn json(got: &str) -> serde_json::Value {
    let mut lines = got.split("\r\n").skip_while(|l| !l.starts_with("MSG "));
    let body = lines.nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {got}"))
}

const EXTERNAL: &str = r#""external":{"api":"$JS.ORDERS.API","deliver":"deliver.shop"}"#;

#[test]
fn mirrors_and_sources_copy_across_accounts() {
    let mut h = cross_account();
    let (orders, shop) = (login(&mut h, "orders"), login(&mut h, "shop"));
    let origin = r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"memory"}"#;
    request(&mut h, orders, "$JS.API.STREAM.CREATE.ORDERS", origin);
    request(&mut h, orders, "orders.new", "m0");
    request(&mut h, orders, "orders.old", "m1");
    let mirror =
        format!(r#"{{"name":"M","storage":"memory","mirror":{{"name":"ORDERS",{EXTERNAL}}}}}"#);
    let created = json(&request(&mut h, shop, "$JS.API.STREAM.CREATE.M", &mirror));
    assert_eq!(created["did_create"], true, "{created}");
    assert!(
        created.get("mirror").is_none(),
        "not in the create answer: {created}"
    );
    let source = format!(
        r#"{{"name":"S","storage":"memory","sources":[{{"name":"ORDERS","filter_subject":"orders.new","subject_transforms":[{{"src":"orders.*","dest":"copied.$1"}}],{EXTERNAL}}}]}}"#
    );
    request(&mut h, shop, "$JS.API.STREAM.CREATE.S", &source);
    // New messages keep flowing.
    h.advance(Duration::from_millis(300));
    request(&mut h, orders, "orders.new", "m2");
    h.advance(Duration::from_millis(200));

    let m = json(&request(&mut h, shop, "$JS.API.STREAM.INFO.M", ""));
    assert_eq!(m["state"]["messages"], 3, "{m}");
    assert_eq!(m["state"]["last_seq"], 3, "the origin's sequences: {m}");
    assert_eq!(m["mirror"]["name"], "ORDERS");
    assert_eq!(m["mirror"]["external"]["api"], "$JS.ORDERS.API");
    assert_eq!(m["mirror"]["lag"], 0);
    assert_eq!(
        m["mirror"]["active"], 200_000_000,
        "since the last copy: {m}"
    );
    assert!(m["config"].get("duplicate_window").is_none(), "{m}");

    let s = json(&request(&mut h, shop, "$JS.API.STREAM.INFO.S", ""));
    assert_eq!(s["state"]["messages"], 2, "only orders.new: {s}");
    assert_eq!(s["sources"][0]["external"]["deliver"], "deliver.shop");
    let first = request(&mut h, shop, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":1}"#);
    let first = json(&first);
    assert_eq!(first["message"]["subject"], "copied.new");
    // The reference's header, with its hash of the API prefix.
    assert_eq!(
        first["message"]["hdrs"],
        "TkFUUy8xLjANCk5hdHMtU3RyZWFtLVNvdXJjZTogT1JERVJTOkdQZGtSd3BHIDENCg0K"
    );

    // The origin goes: nothing more is heard from it, and its JetStream's error shows.
    request(&mut h, orders, "$JS.API.STREAM.DELETE.ORDERS", "");
    h.advance(Duration::from_secs(2));
    let m = json(&request(&mut h, shop, "$JS.API.STREAM.INFO.M", ""));
    assert_eq!(m["mirror"]["error"]["err_code"], 10059, "{m}");
    assert_eq!(
        m["mirror"]["active"], 2_200_000_000u64,
        "since the last copy: {m}"
    );
}

#[test]
fn origins_out_of_reach_are_not_active() {
    let mut h = cross_account();
    let (orders, shop, other) = (
        login(&mut h, "orders"),
        login(&mut h, "shop"),
        login(&mut h, "other"),
    );
    let origin = r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"memory"}"#;
    request(&mut h, orders, "$JS.API.STREAM.CREATE.ORDERS", origin);
    request(&mut h, orders, "orders.new", "m0");
    // OTHER has no imports: nothing reaches ORDERS' JetStream for it.
    let x =
        format!(r#"{{"name":"X","storage":"memory","sources":[{{"name":"ORDERS",{EXTERNAL}}}]}}"#);
    request(&mut h, other, "$JS.API.STREAM.CREATE.X", &x);
    let info = json(&request(&mut h, other, "$JS.API.STREAM.INFO.X", ""));
    assert_eq!(info["state"]["messages"], 0, "{info}");
    assert_eq!(info["sources"][0]["active"], -1, "{info}");
    assert!(info["sources"][0].get("error").is_none(), "{info}");
    // SHOP reaches ORDERS' JetStream, which has no such stream.
    let g =
        format!(r#"{{"name":"G","storage":"memory","sources":[{{"name":"NOPE",{EXTERNAL}}}]}}"#);
    request(&mut h, shop, "$JS.API.STREAM.CREATE.G", &g);
    let info = json(&request(&mut h, shop, "$JS.API.STREAM.INFO.G", ""));
    assert_eq!(info["sources"][0]["active"], -1, "{info}");
    assert_eq!(info["sources"][0]["error"]["err_code"], 10059, "{info}");
    // Deliveries must come back unchanged: without the stream import, nothing is read.
    let wrong = r#""external":{"api":"$JS.ORDERS.API","deliver":"elsewhere"}"#;
    let w = format!(r#"{{"name":"W","storage":"memory","sources":[{{"name":"ORDERS",{wrong}}}]}}"#);
    request(&mut h, shop, "$JS.API.STREAM.CREATE.W", &w);
    let info = json(&request(&mut h, shop, "$JS.API.STREAM.INFO.W", ""));
    assert_eq!(info["state"]["messages"], 0, "{info}");
    assert_eq!(info["sources"][0]["active"], -1, "{info}");
}

#[test]
fn external_prefixes_are_checked_as_the_reference() {
    let mut h = cross_account();
    let orders = login(&mut h, "orders");
    let origin = r#"{"name":"ORDERS","subjects":["orders.>"],"storage":"memory"}"#;
    request(&mut h, orders, "$JS.API.STREAM.CREATE.ORDERS", origin);
    let refused = |h: &mut Harness, api: &str, deliver: &str| {
        let body = format!(
            r#"{{"name":"B","mirror":{{"name":"ORDERS","external":{{"api":"{api}","deliver":"{deliver}"}}}}}}"#
        );
        json(&request(h, orders, "$JS.API.STREAM.CREATE.B", &body))["error"].clone()
    };
    let e = refused(&mut h, "$JS.API", "here");
    assert_eq!(e["err_code"], 10021);
    assert_eq!(
        e["description"],
        "stream external api prefix $JS.API must not overlap with $JS.API"
    );
    let e = refused(&mut h, "$JS.*.API", "here");
    assert_eq!(e["err_code"], 10052);
    let e = refused(&mut h, "X.API", "d.>");
    assert_eq!(e["err_code"], 10024, "{e}");
    // `orders.>` would capture `orders.orders.>`: the reference checks the deliver prefix
    // against this account's stream of the origin's name.
    let e = refused(&mut h, "X.API", "orders");
    assert_eq!(e["err_code"], 10022);
    assert_eq!(
        e["description"],
        "stream external delivery prefix orders overlaps with stream subject orders.>"
    );
}

#[test]
fn own_domain_prefix_sources_in_the_same_account() {
    let (mut h, c) = hub_harness();
    let origin = r#"{"name":"A","subjects":["a.>"],"storage":"memory"}"#;
    request(&mut h, c, "$JS.API.STREAM.CREATE.A", origin);
    request(&mut h, c, "a.1", "one");
    let copy = r#"{"name":"C","storage":"memory","sources":[{"name":"A","external":{"api":"$JS.hub.API","deliver":""}}]}"#;
    request(&mut h, c, "$JS.API.STREAM.CREATE.C", copy);
    request(&mut h, c, "a.2", "two");
    let info = json(&request(&mut h, c, "$JS.API.STREAM.INFO.C", ""));
    assert_eq!(info["state"]["messages"], 2, "{info}");
    assert_eq!(info["sources"][0]["active"], 0, "{info}");
}
