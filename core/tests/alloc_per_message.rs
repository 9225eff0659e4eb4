//! The publish → deliver path allocates nothing per message in steady state: a counting
//! allocator watches a node route thousands of messages to a subscriber whose bytes the
//! "shell" drains into a reused buffer. (Issue 4's target: no allocation per message.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use rnats_core::node::{Node, Output};
use rnats_core::options::Options;
use rnats_core::time::Instant;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MESSAGES: usize = 10_000;

fn pubs(n: usize, size: usize) -> Bytes {
    let mut buf = Vec::new();
    for _ in 0..n {
        buf.extend_from_slice(format!("PUB bench.subject {size}\r\n").as_bytes());
        buf.extend(std::iter::repeat_n(b'x', size));
        buf.extend_from_slice(b"\r\n");
    }
    Bytes::from(buf)
}

/// Drains every output, writing what the node queued into `out` (reused).
fn pump(node: &mut Node, out: &mut Vec<Bytes>) {
    while let Some(o) = node.poll_output() {
        if let Output::Transmit(id) = o {
            node.take_outbound(id, out);
            let n = out.iter().map(Bytes::len).sum();
            out.clear();
            node.written(id, n);
        }
    }
}

/// Allocations made while `MESSAGES` messages of `size` bytes go from one client to
/// `subscribers` others.
fn allocations_for(size: usize, subscribers: usize) -> u64 {
    let mut node = Node::new(Options::default(), 4222, 7);
    let now = Instant::ZERO;
    let mut out = Vec::with_capacity(1024);
    let connect = Bytes::from_static(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    let publisher = node.accept(now, "127.0.0.1:1".parse().unwrap());
    node.receive(now, publisher, connect.clone());
    for i in 0..subscribers {
        let sub = node.accept(now, "127.0.0.1:2".parse().unwrap());
        node.receive(now, sub, connect.clone());
        node.receive(now, sub, Bytes::from(format!("SUB bench.subject {i}\r\n")));
    }
    pump(&mut node, &mut out);
    // Warm up: caches, buffers and maps reach their steady size.
    node.receive(now, publisher, pubs(MESSAGES, size));
    pump(&mut node, &mut out);
    let batch = pubs(MESSAGES, size);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // As a shell does: a read's worth at a time, drained after each.
    for i in 0..MESSAGES / 100 {
        let chunk = batch
            .slice(i * batch.len() / (MESSAGES / 100)..(i + 1) * batch.len() / (MESSAGES / 100));
        node.receive(now, publisher, chunk);
        pump(&mut node, &mut out);
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn publishing_allocates_nothing_per_message() {
    for (size, subscribers) in [(16, 0), (16, 1), (128, 1), (1024, 3)] {
        let n = allocations_for(size, subscribers);
        println!("{size} B to {subscribers} subscribers: {n} allocations for {MESSAGES} messages");
        assert!(
            (n as usize) < MESSAGES / 100,
            "{size} B to {subscribers} subscribers: {n} allocations for {MESSAGES} messages"
        );
    }
}
