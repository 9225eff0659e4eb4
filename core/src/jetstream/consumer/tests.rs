//! The consumer state machine against a memory store, with time by hand.

use super::*;
use crate::jetstream::memstore::MemStore;
use crate::jetstream::store::Limits;

const SEC: u64 = 1_000_000_000;

fn store_with(subjects: &[&str]) -> MemStore {
    let mut s = MemStore::new(Limits::default());
    for (i, subject) in subjects.iter().enumerate() {
        s.store(
            subject.as_bytes(),
            b"",
            format!("m{}", i + 1).as_bytes(),
            (i as u64 + 1) * SEC,
        )
        .unwrap();
    }
    s
}

fn config(json: &str) -> ConsumerConfig {
    let mut c: ConsumerConfig = serde_json::from_str(json).unwrap();
    let stream = crate::jetstream::config::StreamConfig::parse_create(
        br#"{"name":"S","subjects":["a","b","c"]}"#,
        "S",
    )
    .unwrap();
    c.check_and_default(&stream).unwrap();
    c
}

fn pull(batch: u64, now: u64) -> PullRequest {
    PullRequest::parse(
        Bytes::from_static(b"inbox"),
        batch.to_string().as_bytes(),
        now,
    )
    .unwrap()
}

fn seqs(out: &[Delivery]) -> Vec<u64> {
    out.iter()
        .filter_map(|d| d.reply.as_ref())
        .map(|r| {
            let (_, _, meta) = ack::parse_ack_subject(std::str::from_utf8(r).unwrap()).unwrap();
            meta.stream_seq
        })
        .collect()
}

#[test]
fn deliver_policies_choose_the_start() {
    let store = store_with(&["a", "b", "a", "c", "b"]);
    let start = |json: &str| {
        let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
        let mut out = Vec::new();
        c.request(pull(10, 0), 0, &mut out);
        c.deliver(&store, 0, &mut out);
        seqs(&out)
    };
    assert_eq!(start(r#"{"durable_name":"C"}"#), [1, 2, 3, 4, 5]);
    assert_eq!(
        start(r#"{"durable_name":"C","deliver_policy":"last"}"#),
        [5]
    );
    assert_eq!(
        start(r#"{"durable_name":"C","deliver_policy":"new"}"#),
        Vec::<u64>::new()
    );
    assert_eq!(
        start(r#"{"durable_name":"C","deliver_policy":"by_start_sequence","opt_start_seq":4}"#),
        [4, 5]
    );
    assert_eq!(
        start(
            r#"{"durable_name":"C","deliver_policy":"by_start_time","opt_start_time":"1970-01-01T00:00:03Z"}"#
        ),
        [3, 4, 5]
    );
    assert_eq!(
        // The reference requires a filter with last_per_subject (10094 otherwise).
        start(r#"{"durable_name":"C","deliver_policy":"last_per_subject","filter_subject":"*"}"#),
        [3, 4, 5]
    );
    assert_eq!(
        start(r#"{"durable_name":"C","filter_subject":"b"}"#),
        [2, 5]
    );
}

#[test]
fn acks_redelivery_and_max_deliver() {
    let store = store_with(&["a", "a", "a"]);
    let json =
        r#"{"durable_name":"C","ack_policy":"explicit","ack_wait":1000000000,"max_deliver":2}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    let mut out = Vec::new();
    c.request(pull(3, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    assert_eq!(seqs(&out), [1, 2, 3]);
    let meta = |seq, cseq| AckMeta {
        delivered: 1,
        stream_seq: seq,
        consumer_seq: cseq,
    };
    assert_eq!(c.on_ack(meta(2, 2), AckKind::Ack, 0), [2]);
    assert_eq!(
        c.on_ack(
            meta(3, 3),
            AckKind::Term {
                reason: String::new()
            },
            0
        ),
        [3]
    );
    assert_eq!(
        c.info(&store, 0).ack_floor.stream_seq,
        0,
        "1 is still pending"
    );
    // The floor's last_active is the last ack's time, even while the floor stays (as in
    // nats-server 2.9.10).
    assert_eq!(
        c.info(&store, 0).ack_floor.last_active,
        Some(crate::jetstream::time::rfc3339(0))
    );
    assert_eq!(c.next_deadline(), Some(SEC));
    // 1 times out, comes back once, times out again and is given up.
    c.tick(SEC, &mut out);
    out.clear();
    c.request(pull(5, SEC), SEC, &mut out);
    c.deliver(&store, SEC, &mut out);
    assert_eq!(seqs(&out), [1]);
    assert!(std::str::from_utf8(out[0].reply.as_ref().unwrap())
        .unwrap()
        .starts_with("$JS.ACK.S.C.2.1.4."));
    c.tick(3 * SEC, &mut out);
    // Given up unacknowledged, as nats-server 2.9.10 shows it: the floor stays below it
    // and it still counts as redelivered.
    let info = c.info(&store, 0);
    assert_eq!(
        (
            info.num_ack_pending,
            info.ack_floor.stream_seq,
            info.num_redelivered
        ),
        (0, 0, 1)
    );
}

#[test]
fn ack_all_acks_everything_below() {
    let store = store_with(&["a", "a", "a"]);
    let mut c = Consumer::new(
        "S",
        "C".into(),
        config(r#"{"durable_name":"C","ack_policy":"all"}"#),
        &store,
        0,
    );
    let mut out = Vec::new();
    c.request(pull(3, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    let meta = AckMeta {
        delivered: 1,
        stream_seq: 2,
        consumer_seq: 2,
    };
    assert_eq!(c.on_ack(meta, AckKind::Ack, 0), [1, 2]);
    assert_eq!(c.info(&store, 0).num_ack_pending, 1);
    // The floor is the acked delivery, as nats-server 2.9.10 shows it.
    let floor = c.info(&store, 0).ack_floor;
    assert_eq!((floor.consumer_seq, floor.stream_seq), (2, 2));
}

#[test]
fn ack_floor_stays_zero_until_an_ack_moves_it() {
    let store = store_with(&["a", "b", "a", "b", "a"]);
    // A filtered ack-all consumer: the floor is the acked message, not below the next
    // pending one.
    let json = r#"{"durable_name":"C","ack_policy":"all","filter_subject":"a"}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    let mut out = Vec::new();
    c.request(pull(3, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    assert_eq!(seqs(&out), [1, 3, 5]);
    let meta = AckMeta {
        delivered: 1,
        stream_seq: 3,
        consumer_seq: 2,
    };
    assert_eq!(c.on_ack(meta, AckKind::Ack, 0), [1, 3]);
    let floor = c.info(&store, 0).ack_floor;
    assert_eq!((floor.consumer_seq, floor.stream_seq), (2, 3));
    // A consumer starting at 3 shows no stream floor before its first ack.
    let json = r#"{"durable_name":"L","deliver_policy":"by_start_sequence","opt_start_seq":3}"#;
    let late = Consumer::new("S", "L".into(), config(json), &store, 0);
    let floor = late.info(&store, 0).ack_floor;
    assert_eq!((floor.consumer_seq, floor.stream_seq), (0, 0));
}

#[test]
fn nak_with_delay_and_progress() {
    let store = store_with(&["a"]);
    let json = r#"{"durable_name":"C","ack_policy":"explicit","ack_wait":10000000000}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    let mut out = Vec::new();
    c.request(pull(1, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    let meta = AckMeta {
        delivered: 1,
        stream_seq: 1,
        consumer_seq: 1,
    };
    c.on_ack(meta, AckKind::Progress, 5 * SEC);
    assert_eq!(c.next_deadline(), Some(15 * SEC));
    let delay = Some(std::time::Duration::from_secs(2));
    c.on_ack(meta, AckKind::Nak { delay }, 6 * SEC);
    assert_eq!(c.next_deadline(), Some(8 * SEC));
    c.tick(8 * SEC, &mut out);
    out.clear();
    c.request(pull(1, 8 * SEC), 8 * SEC, &mut out);
    c.deliver(&store, 8 * SEC, &mut out);
    assert_eq!(seqs(&out), [1]);
}

#[test]
fn max_ack_pending_holds_back() {
    let store = store_with(&["a", "a", "a"]);
    let json = r#"{"durable_name":"C","ack_policy":"explicit","max_ack_pending":2}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    let mut out = Vec::new();
    c.request(pull(3, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    assert_eq!(seqs(&out), [1, 2]);
    let meta = AckMeta {
        delivered: 1,
        stream_seq: 1,
        consumer_seq: 1,
    };
    c.on_ack(meta, AckKind::Ack, 0);
    out.clear();
    c.deliver(&store, 0, &mut out);
    assert_eq!(seqs(&out), [3]);
}

#[test]
fn pending_counts_follow_the_store() {
    let mut store = store_with(&["a", "b"]);
    let mut c = Consumer::new(
        "S",
        "C".into(),
        config(r#"{"durable_name":"C","filter_subject":"a"}"#),
        &store,
        0,
    );
    assert_eq!(c.num_pending(&store), 1);
    let seq = store.store(b"a", b"", b"x", 3 * SEC).unwrap();
    c.on_stored(seq, b"a");
    let seq = store.store(b"b", b"", b"x", 3 * SEC).unwrap();
    c.on_stored(seq, b"b");
    assert_eq!(c.num_pending(&store), 2);
    store.remove(1);
    c.on_removed();
    assert_eq!(c.num_pending(&store), 1);
}

#[test]
fn push_heartbeats_and_inactivity() {
    let store = store_with(&[]);
    let json = r#"{"deliver_subject":"d","idle_heartbeat":1000000000,"flow_control":true}"#;
    let mut c = Consumer::new("S", "E".into(), config(json), &store, 0);
    assert!(!c.is_inactive(4 * SEC));
    assert!(c.is_inactive(5 * SEC), "ephemeral without a listener");
    c.set_push_active(true, SEC);
    assert!(!c.is_inactive(100 * SEC));
    let mut out = Vec::new();
    c.tick(2 * SEC, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(
        &out[0].headers[..],
        b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n"
    );
}

#[test]
fn headers_only_sends_the_size() {
    let mut store = MemStore::new(Limits::default());
    store
        .store(b"a", b"NATS/1.0\r\nX: 1\r\n\r\n", b"12345", SEC)
        .unwrap();
    let mut c = Consumer::new(
        "S",
        "C".into(),
        config(r#"{"durable_name":"C","headers_only":true}"#),
        &store,
        0,
    );
    let mut out = Vec::new();
    c.request(pull(1, 0), 0, &mut out);
    c.deliver(&store, 0, &mut out);
    assert_eq!(
        &out[0].headers[..],
        b"NATS/1.0\r\nX: 1\r\nNats-Msg-Size: 5\r\n\r\n"
    );
    assert!(out[0].data.is_empty());
}

#[test]
fn flow_control_waits_for_the_client() {
    let mut store = MemStore::new(Limits::default());
    let big = vec![b'x'; 100 * 1024];
    for i in 0..5 {
        store.store(b"a", b"", &big, i).unwrap();
    }
    let json = r#"{"deliver_subject":"d","ack_policy":"none","idle_heartbeat":1000000000,"flow_control":true}"#;
    let mut c = Consumer::new("S", "F".into(), config(json), &store, 0);
    c.set_push_active(true, 0);
    let mut out = Vec::new();
    c.deliver(&store, 0, &mut out);
    // Three messages cross 256 KiB: then the request, and nothing more.
    assert_eq!(out.len(), 4);
    let request = &out[3];
    assert_eq!(
        &request.headers[..],
        b"NATS/1.0 100 FlowControl Request\r\n\r\n"
    );
    let reply = request.reply.clone().unwrap();
    assert_eq!(&reply[..], b"$JS.FC.S.F.1");
    out.clear();
    c.deliver(&store, 0, &mut out);
    assert!(out.is_empty(), "stalled until the client answers");
    c.tick(2_000_000_000, &mut out);
    assert!(std::str::from_utf8(&out[0].headers)
        .unwrap()
        .contains("Nats-Consumer-Stalled: $JS.FC.S.F.1"));
    out.clear();
    assert!(!c.on_flow_control(b"$JS.FC.S.F.9"));
    assert!(c.on_flow_control(&reply));
    c.deliver(&store, 2_000_000_000, &mut out);
    assert_eq!(seqs(&out), [4, 5]);
}

#[test]
fn replay_original_keeps_the_spacing() {
    let mut store = MemStore::new(Limits::default());
    for (i, t) in [0, SEC, 3 * SEC].into_iter().enumerate() {
        store
            .store(b"a", b"", format!("m{i}").as_bytes(), t)
            .unwrap();
    }
    let json = r#"{"durable_name":"C","replay_policy":"original"}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    let now = 10 * SEC;
    let mut out = Vec::new();
    c.request(pull(3, now), now, &mut out);
    c.deliver(&store, now, &mut out);
    assert_eq!(seqs(&out), [1]);
    assert_eq!(c.next_deadline(), Some(now + SEC));
    c.tick(now + SEC, &mut out);
    c.deliver(&store, now + SEC, &mut out);
    assert_eq!(seqs(&out), [1, 2]);
    c.tick(now + 2 * SEC, &mut out);
    c.deliver(&store, now + 2 * SEC, &mut out);
    assert_eq!(
        seqs(&out),
        [1, 2],
        "the third was stored two seconds after the second"
    );
    c.tick(now + 3 * SEC, &mut out);
    c.deliver(&store, now + 3 * SEC, &mut out);
    assert_eq!(seqs(&out), [1, 2, 3]);
}

#[test]
fn rate_limit_spaces_push_deliveries() {
    // 8 Mbit/s is 1 MB/s; the bucket holds 1 MiB to begin with.
    let mut store = MemStore::new(Limits::default());
    let big = vec![b'x'; 600_000];
    for _ in 0..3 {
        store.store(b"a", b"", &big, 0).unwrap();
    }
    let json = r#"{"deliver_subject":"d","ack_policy":"none","rate_limit_bps":8000000}"#;
    let mut c = Consumer::new("S", "C".into(), config(json), &store, 0);
    c.set_push_active(true, 0);
    let mut out = Vec::new();
    c.deliver(&store, 0, &mut out);
    assert_eq!(
        out.len(),
        1,
        "the second does not fit what is left of the burst"
    );
    let due = c.next_deadline().unwrap();
    // ~600 KB less what was left (~448 KiB) at 1 MB/s: about 0.13 s.
    assert!(due > SEC / 10 && due < SEC / 5, "{due}");
    c.tick(due - 1, &mut out);
    c.deliver(&store, due - 1, &mut out);
    assert_eq!(out.len(), 1);
    c.tick(due, &mut out);
    c.deliver(&store, due, &mut out);
    assert_eq!(out.len(), 2);
    // The bucket is empty now: the third (600,017 bytes as accounted) waits as long.
    let third = c.next_deadline().unwrap();
    assert_eq!(third - due, 600_017 * 1_000);
    c.tick(third, &mut out);
    c.deliver(&store, third, &mut out);
    assert_eq!(out.len(), 3);
}
