//! JetStream durability under power loss: one node with a file-backed stream, publishers
//! that record which publishes were acknowledged, and crashes of the host (unsynced disk
//! writes lost, the last one per file possibly torn) at random moments, several per run.
//! After the last restart the stream is read back and judged by `check::js_stream`; the
//! consumer variant also runs a durable pull consumer throughout, judged by
//! `check::js_consumer`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use madsim::rand::{thread_rng, Rng};
use rnats_core::options::Options;
use serde_json::Value;
use sim::check;
use sim::client::ClientError;
use sim::history::{self, ClientId, History, JsEvent};
use sim::hosts::{self, client_host, start_server, ServerHost};
use sim::jsclient::JsClient;
use sim::shell::ShellConfig;

const PUBLISHERS: ClientId = 4;
const CONSUMER_CONFIG: &str = r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","ack_wait":1000000000,"deliver_policy":"all","max_deliver":-1}}"#;
const ACK_WAIT: Duration = Duration::from_secs(1);

sim::scenario!(js_publish_crash, js_publish_crash_run);
sim::scenario!(js_consumer_crash, js_consumer_crash_run);
sim::scenario!(js_limits_crash, js_limits_crash_run);

async fn js_publish_crash_run() {
    run("js_publish_crash", false, false).await;
}

async fn js_consumer_crash_run() {
    run("js_consumer_crash", true, false).await;
}

async fn js_limits_crash_run() {
    run("js_limits_crash", false, true).await;
}

/// The consumer scenario twice per seed (up to three seeds from `MADSIM_TEST_SEED`), with
/// the recovery reports: the same history each time.
#[test]
fn js_same_seed_same_history() {
    sim::same_seed_twice("js_same_seed_same_history", 3, js_consumer_digest);
}

async fn js_consumer_digest() -> u64 {
    run("js_same_seed_same_history", true, false).await
}

/// One run: with a durable pull consumer, or with a `max_msgs` limit on the stream.
/// Returns a digest of its history and recovery reports.
async fn run(test: &str, with_consumer: bool, limited: bool) -> u64 {
    let mut rng = thread_rng();
    let opts = Options {
        jetstream: true,
        ..Options::default()
    };
    let mut cfg = ShellConfig::new(opts, hosts::PORT, rng.gen());
    // Mostly a fast disk; one run in four a slow one, which groups more publishes per
    // batch and widens the window in which a crash catches a batch half written.
    let slow = rng.gen_ratio(1, 4);
    cfg.max_sync = Duration::from_millis(if slow {
        rng.gen_range(20..=50)
    } else {
        rng.gen_range(1..=5)
    });
    // In one run in eight the first publisher sends messages of 200-400 KB, so the store
    // fills its 8 MB blocks and starts new ones, and with limits removes old ones (costly
    // in a debug build: checksums).
    let big = rng.gen_ratio(1, 8);
    let max_msgs: Option<u64> = limited.then(|| rng.gen_range(10..=60));
    if big {
        cfg.max_read = 64 * 1024;
        cfg.max_write_chunk = 64 * 1024;
    }
    let host = start_server(0, cfg);
    let log: History<JsEvent> = History::new();

    let addr = host.addr;
    client_host(90)
        .spawn(async move {
            let mut admin = connect(addr, "admin").await;
            let limit = max_msgs.map_or(String::new(), |m| format!(",\"max_msgs\":{m}"));
            let create = format!(r#"{{"name":"S","subjects":["s.>"],"storage":"file"{limit}}}"#);
            api(&mut admin, "$JS.API.STREAM.CREATE.S", &create).await;
            if with_consumer {
                api(&mut admin, "$JS.API.CONSUMER.CREATE.S.C", CONSUMER_CONFIG).await;
            }
        })
        .await
        .expect("setup");

    let finishing = Arc::new(AtomicBool::new(false));
    let consumer = with_consumer.then(|| {
        let (log, finishing) = (log.clone(), finishing.clone());
        client_host(80).spawn(consume(addr, log, finishing))
    });
    let stop = Arc::new(AtomicBool::new(false));
    let publishers: Vec<_> = (1..=PUBLISHERS)
        .map(|id| {
            let filler = if big && id == 1 {
                200_000..400_000
            } else {
                0..300
            };
            let publisher = publish(addr, id, filler, stop.clone(), log.clone());
            client_host(id).spawn(publisher)
        })
        .collect();
    crashes(&host, &log, rng.gen_range(2..=5)).await;
    // Some publishing after the last restart too.
    madsim::time::sleep(Duration::from_millis(rng.gen_range(100..400))).await;
    stop.store(true, Ordering::SeqCst);
    for p in publishers {
        p.await.expect("publisher");
    }
    finishing.store(true, Ordering::SeqCst);
    if let Some(c) = consumer {
        c.await.expect("consumer");
    }
    let mut violations = client_host(91)
        .spawn(read_back(addr, log.clone(), with_consumer))
        .await
        .expect("read back");

    let events = log.events();
    if let Ok(path) = std::env::var("SIM_DUMP") {
        let text: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
        std::fs::write(path, text.join("\n")).expect("write SIM_DUMP");
    }
    // With a limit, acknowledged messages older than the last `max_msgs` may be gone.
    let last = events
        .iter()
        .filter_map(|e| match e {
            JsEvent::Stored { seq, .. } => Some(*seq),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let floor = max_msgs.map_or(0, |m| (last + 1).saturating_sub(m));
    violations.extend(check::js_stream(&events, floor));
    if with_consumer {
        violations.extend(check::js_consumer(&events));
    }
    let acked = events
        .iter()
        .filter(|e| matches!(e, JsEvent::Acked { .. }))
        .count();
    if acked == 0 {
        violations.push("no publish was ever acknowledged".into());
    }
    let recoveries = host.view.recoveries();
    if std::env::var("SIM_JS_STATS").is_ok() {
        let count = |f: fn(&JsEvent) -> bool| events.iter().filter(|e| f(e)).count();
        println!(
            "seed {}: published {} acked {acked} crashes {} stored {} delivered {} confirmed {}\n  {}",
            madsim::runtime::Handle::current().seed(),
            count(|e| matches!(e, JsEvent::Published { .. })),
            count(|e| matches!(e, JsEvent::Crashed)),
            count(|e| matches!(e, JsEvent::Stored { .. })),
            count(|e| matches!(e, JsEvent::Delivered { .. })),
            count(|e| matches!(e, JsEvent::AckConfirmed { .. })),
            recoveries.join("\n  ")
        );
    }
    if !violations.is_empty() {
        violations.extend(recoveries);
        sim::fail(test, &violations);
    }
    // Payloads enter the digest as hashes: the digest formats every event.
    let compact = History::new();
    for mut e in events {
        if let JsEvent::Published { payload, .. }
        | JsEvent::Delivered { payload, .. }
        | JsEvent::Stored { payload, .. } = &mut e
        {
            *payload = fnv64(payload).to_le_bytes().to_vec();
        }
        compact.record(e);
    }
    recoveries
        .into_iter()
        .for_each(|r| compact.record(JsEvent::Recovered(r)));
    compact.digest()
}

fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Power losses at random moments while the publishers run.
async fn crashes(host: &ServerHost, log: &History<JsEvent>, times: u32) {
    for _ in 0..times {
        let at = thread_rng().gen_range(50..600);
        madsim::time::sleep(Duration::from_millis(at)).await;
        log.record(JsEvent::Crashed);
        let down = thread_rng().gen_range(10..200);
        hosts::crash_server(host, Duration::from_millis(down)).await;
    }
}

/// Connects, retrying until the server is back.
async fn connect(addr: std::net::SocketAddr, name: &str) -> JsClient {
    loop {
        match JsClient::connect(addr, name).await {
            Ok(c) => return c,
            Err(_) => madsim::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// An API request that must succeed (used while no crash can happen).
async fn api(c: &mut JsClient, subject: &str, body: &str) -> Value {
    let m = c
        .request(subject, body.as_bytes(), Duration::from_secs(5))
        .await
        .unwrap_or_else(|e| panic!("{subject}: {e:?}"));
    let v: Value = serde_json::from_slice(&m.payload).expect("API answers are JSON");
    assert!(v.get("error").is_none(), "{subject}: {v}");
    v
}

/// Publishes to `s.<id>` until `stop`, one message at a time with a reply inbox, and
/// records each publish and each ack. A publish whose ack does not come within 500 ms is
/// given up (it may or may not be stored) and the connection is replaced.
async fn publish(
    addr: std::net::SocketAddr,
    id: ClientId,
    filler: std::ops::Range<usize>,
    stop: Arc<AtomicBool>,
    log: History<JsEvent>,
) {
    let subject = format!("s.{id}");
    let mut conn: Option<JsClient> = None;
    let mut gen = 0;
    for n in 1.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                gen += 1;
                conn.insert(connect(addr, &format!("p{id}g{gen}")).await)
            }
        };
        let payload = history::payload(id, n, thread_rng().gen_range(filler.clone()));
        log.record(JsEvent::Published {
            publisher: id,
            n,
            subject: subject.clone(),
            payload: payload.clone(),
        });
        match c
            .request(&subject, &payload, Duration::from_millis(500))
            .await
        {
            Ok(m) => {
                let v: Value = serde_json::from_slice(&m.payload).unwrap_or_default();
                if let (Some("S"), Some(seq)) = (v["stream"].as_str(), v["seq"].as_u64()) {
                    log.record(JsEvent::Acked {
                        publisher: id,
                        n,
                        seq,
                    });
                }
            }
            Err(_) => conn = None,
        }
        let pause = thread_rng().gen_range(2..40);
        madsim::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The stream sequence in a delivery's ack subject `$JS.ACK.S.C.<delivered>.<seq>...`.
fn stream_seq(reply: &str) -> Option<u64> {
    reply.split('.').nth(5)?.parse().ok()
}

/// The durable pull consumer `C`: pulls batches, acks every message with a double ack and
/// records deliveries and confirmed acks. Runs until `finishing` is set and nothing was
/// delivered for three ack waits.
async fn consume(addr: std::net::SocketAddr, log: History<JsEvent>, finishing: Arc<AtomicBool>) {
    let mut conn: Option<JsClient> = None;
    let mut gen = 0;
    let mut acks = std::collections::BTreeMap::new();
    let mut pull: Option<(String, madsim::time::Instant, u32)> = None;
    let mut last_delivery = madsim::time::Instant::now();
    const BATCH: u32 = 20;
    loop {
        if finishing.load(Ordering::SeqCst) && last_delivery.elapsed() > ACK_WAIT * 3 {
            return;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                gen += 1;
                pull = None;
                acks.clear();
                conn.insert(connect(addr, &format!("cg{gen}")).await)
            }
        };
        if pull.is_none() {
            let inbox = c.new_inbox();
            let req = format!("{{\"batch\":{BATCH},\"expires\":300000000}}");
            let sent = c
                .publish(
                    "$JS.API.CONSUMER.MSG.NEXT.S.C",
                    Some(&inbox),
                    req.as_bytes(),
                )
                .await;
            if sent.is_err() {
                conn = None;
                continue;
            }
            pull = Some((inbox, madsim::time::Instant::now(), 0));
        }
        let m = match c.next(Duration::from_millis(200)).await {
            Ok(m) => m,
            Err(ClientError::Timeout) => {
                // A pull expires after 300 ms with a 408: silence for longer means the
                // server is gone.
                if pull.as_ref().is_some_and(|p| p.1.elapsed() > ACK_WAIT) {
                    conn = None;
                }
                continue;
            }
            Err(_) => {
                conn = None;
                continue;
            }
        };
        if let Some(seq) = m.reply.as_deref().and_then(stream_seq) {
            log.record(JsEvent::Delivered {
                seq,
                payload: m.payload.to_vec(),
            });
            last_delivery = madsim::time::Instant::now();
            let inbox = c.new_inbox();
            if c.publish(
                m.reply.as_deref().unwrap_or_default(),
                Some(&inbox),
                b"+ACK",
            )
            .await
            .is_err()
            {
                conn = None;
                continue;
            }
            acks.insert(inbox, seq);
            // Deliveries show the message's own subject, not the pull's inbox.
            if let Some(p) = pull.as_mut() {
                p.2 += 1;
                if p.2 >= BATCH {
                    pull = None;
                }
            }
        } else if let Some(seq) = acks.remove(&m.subject) {
            log.record(JsEvent::AckConfirmed { seq });
        } else if m.status.is_some() && pull.as_ref().is_some_and(|p| p.0 == m.subject) {
            pull = None;
        }
    }
}

/// After the last restart: reads the whole stream through an ephemeral consumer and
/// records what it holds; compares the count with `STREAM.INFO`.
async fn read_back(
    addr: std::net::SocketAddr,
    log: History<JsEvent>,
    with_consumer: bool,
) -> Vec<String> {
    let mut c = connect(addr, "reader").await;
    let create = r#"{"stream_name":"S","config":{"ack_policy":"none","deliver_policy":"all"}}"#;
    let v = api(&mut c, "$JS.API.CONSUMER.CREATE.S", create).await;
    let name = v["name"].as_str().expect("consumer name").to_string();
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.S.{name}");
    let mut read = 0u64;
    let mut last = 0u64;
    loop {
        let inbox = c.new_inbox();
        let req = br#"{"batch":16,"no_wait":true}"#;
        c.publish(&next, Some(&inbox), req).await.expect("pull");
        let mut got = 0;
        loop {
            let m = c.next(Duration::from_secs(5)).await.expect("read back");
            if m.status.is_some() && m.subject == inbox {
                break;
            }
            let Some(seq) = m.reply.as_deref().and_then(stream_seq) else {
                continue;
            };
            log.record(JsEvent::Stored {
                seq,
                subject: m.subject,
                payload: m.payload.to_vec(),
            });
            got += 1;
            read += 1;
            last = last.max(seq);
            if got == 16 {
                break;
            }
        }
        if got == 0 {
            break;
        }
    }
    let info = api(&mut c, "$JS.API.STREAM.INFO.S", "").await;
    let state = &info["state"];
    let mut v = Vec::new();
    if state["messages"].as_u64() != Some(read) || state["last_seq"].as_u64() != Some(last) {
        v.push(format!(
            "read back {read} messages up to seq {last}, STREAM.INFO says {state}"
        ));
    }
    if with_consumer {
        // The drained consumer has everything acknowledged, as far as the server knows.
        let info = api(&mut c, "$JS.API.CONSUMER.INFO.S.C", "").await;
        let left = (
            info["num_pending"].as_u64(),
            info["num_ack_pending"].as_u64(),
        );
        let floor = info["ack_floor"]["stream_seq"].as_u64();
        if left != (Some(0), Some(0)) || floor != Some(last) {
            v.push(format!("consumer C not drained up to seq {last}: {info}"));
        }
    }
    v
}
