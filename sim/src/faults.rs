//! Fault schedules drawn from the seed, and a client that survives them.
//!
//! A [`Schedule`] is a list of timed [`Fault`]s: client connection resets, network latency
//! and jitter changes, forward jumps of the server's clock, a server crash plus restart, and
//! link partitions between any two hosts (both ways or one way) and their healing, which
//! [`Schedule::flapping`] strings into a flapping link. [`run`] applies it to a [`Target`].
//! A [`Resilient`] client reconnects and resubscribes
//! when its connection fails (or when the schedule resets it), continuing its publish
//! sequence, so the checkers in [`check`](crate::check) see several connections per client.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::net::NetSim;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::Handle;
use madsim::task::NodeId;

use crate::client::{Client, ClientConfig, ClientError};
use crate::history::{ClientId, History};
use crate::shell::NodeClock;

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Drop `client`'s connection mid-stream (it reconnects and resubscribes).
    Reset { client: ClientId },
    /// Set every link's one-way latency to `min..max` (jitter is the spread).
    Latency { min: Duration, max: Duration },
    /// Move the server's clock forward.
    ClockJump { by: Duration },
    /// Kill the server node, restart it after `down`.
    Crash { down: Duration },
    /// Cut the link from host `from` to host `to`, and back too when `both`.
    Partition {
        from: NodeId,
        to: NodeId,
        both: bool,
    },
    /// Restore the links between `a` and `b`, both ways.
    Heal { a: NodeId, b: NodeId },
}

/// Cuts the links between hosts `a` and `b` both ways. madsim holds TCP data sent over a
/// cut link and delivers it once healed (a stall, not a loss).
pub fn partition(a: NodeId, b: NodeId) {
    let net = NetSim::current();
    net.clog_link(a, b);
    net.clog_link(b, a);
}

/// Cuts only the link from `from` to `to`: `to` still reaches `from` (asymmetric).
pub fn partition_one_way(from: NodeId, to: NodeId) {
    NetSim::current().clog_link(from, to);
}

/// Restores the links between `a` and `b`, both ways.
pub fn heal(a: NodeId, b: NodeId) {
    let net = NetSim::current();
    net.unclog_link(a, b);
    net.unclog_link(b, a);
}

/// Faults at times since the start of a run, in time order (of a client's link by
/// default; `sim::cluster_faults` schedules its own kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule<F = Fault> {
    pub faults: Vec<(Duration, F)>,
}

impl<F> Default for Schedule<F> {
    fn default() -> Self {
        Schedule { faults: Vec::new() }
    }
}

impl<F: fmt::Debug> fmt::Display for Schedule<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (at, fault) in &self.faults {
            writeln!(f, "  at {at:?}: {fault:?}")?;
        }
        Ok(())
    }
}

/// What [`Schedule::generate`] may draw.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// Faults fall in `0..span`.
    pub span: Duration,
    /// Clients that may be reset.
    pub clients: Vec<ClientId>,
    pub max_resets: usize,
    pub max_latency_changes: usize,
    pub max_clock_jumps: usize,
    /// Whether a crash may be drawn (at most one).
    pub crash: bool,
}

impl Schedule {
    /// Draws a schedule from the simulation's seeded generator.
    pub fn generate(cfg: &FaultConfig) -> Schedule {
        let mut rng = thread_rng();
        let span = cfg.span.as_millis().max(1) as u64;
        let at = |rng: &mut madsim::rand::GlobalRng| Duration::from_millis(rng.gen_range(0..span));
        let mut faults = Vec::new();
        if !cfg.clients.is_empty() {
            for _ in 0..rng.gen_range(0..=cfg.max_resets) {
                let client = cfg.clients[rng.gen_range(0..cfg.clients.len())];
                faults.push((at(&mut rng), Fault::Reset { client }));
            }
        }
        for _ in 0..rng.gen_range(0..=cfg.max_latency_changes) {
            let min = Duration::from_micros(rng.gen_range(100..20_000));
            let max = min + Duration::from_micros(rng.gen_range(1..50_000));
            faults.push((at(&mut rng), Fault::Latency { min, max }));
        }
        // Jumps at least 2 s apart, so a client has time to answer each PING they trigger
        // (a real stale connection needs several unanswered PINGs).
        let jumps = rng.gen_range(0..=cfg.max_clock_jumps);
        let slots = (span / 2000).max(1);
        let mut used = Vec::new();
        for _ in 0..jumps.min(slots as usize) {
            let slot = rng.gen_range(0..slots);
            if used.contains(&slot) {
                continue;
            }
            used.push(slot);
            let by = Duration::from_secs(rng.gen_range(1..600));
            faults.push((Duration::from_millis(slot * 2000), Fault::ClockJump { by }));
        }
        if cfg.crash && rng.gen_bool(0.5) {
            let down = Duration::from_millis(rng.gen_range(10..800));
            faults.push((at(&mut rng), Fault::Crash { down }));
        }
        faults.sort_by_key(|(t, _)| *t);
        Schedule { faults }
    }

    /// A link between `a` and `b` that flaps `times` times within `0..span`: each flap cuts
    /// it (both ways, or one way in either direction, drawn from the seed) for
    /// 10..=`max_down` ms, then heals it. The flaps do not overlap and the link ends healed.
    pub fn flapping(
        a: NodeId,
        b: NodeId,
        span: Duration,
        times: u32,
        max_down: Duration,
    ) -> Schedule {
        let mut rng = thread_rng();
        let slot = span.as_millis() as u64 / u64::from(times.max(1));
        let max_down = (max_down.as_millis() as u64).clamp(10, slot.max(11) - 1);
        let mut faults = Vec::new();
        for k in 0..u64::from(times) {
            let down = rng.gen_range(10..=max_down);
            let at = k * slot + rng.gen_range(0..=slot - down.min(slot));
            let both = rng.gen_bool(0.5);
            let (from, to) = if rng.gen_bool(0.5) { (a, b) } else { (b, a) };
            let cut = Fault::Partition { from, to, both };
            faults.push((Duration::from_millis(at), cut));
            faults.push((Duration::from_millis(at + down), Fault::Heal { a, b }));
        }
        Schedule { faults }
    }
}

/// Pending resets, by client: the schedule sets them, each [`Resilient`] client takes its own.
#[derive(Clone, Debug, Default)]
pub struct Resets {
    pending: Arc<Mutex<BTreeMap<ClientId, u32>>>,
}

impl Resets {
    pub fn request(&self, client: ClientId) {
        *self.lock().entry(client).or_default() += 1;
    }

    /// Whether a reset of `client` was requested (consumes it).
    pub fn take(&self, client: ClientId) -> bool {
        let mut p = self.lock();
        match p.get_mut(&client) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ClientId, u32>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a schedule acts on.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: NodeId,
    pub clock: NodeClock,
    pub resets: Resets,
}

/// Waits until `due` (at once if it has passed: a crash's downtime may have overrun it).
pub(crate) async fn sleep_until(due: madsim::time::Instant) {
    let now = madsim::time::Instant::now();
    if due > now {
        madsim::time::sleep(due - now).await;
    }
}

/// Applies `schedule` (times relative to now). Afterwards the server is up and latency is
/// back to madsim's default.
pub async fn run(schedule: &Schedule, target: &Target) {
    let start = madsim::time::Instant::now();
    for (at, fault) in &schedule.faults {
        sleep_until(start + *at).await;
        match fault {
            Fault::Reset { client } => target.resets.request(*client),
            Fault::Latency { min, max } => {
                let (min, max) = (*min, *max);
                NetSim::current().update_config(|c| c.send_latency = min..max);
            }
            Fault::ClockJump { by } => target.clock.jump(*by),
            Fault::Crash { down } => {
                Handle::current().kill(target.server);
                madsim::time::sleep(*down).await;
                Handle::current().restart(target.server);
            }
            Fault::Partition { from, to, both } => {
                if *both {
                    partition(*from, *to);
                } else {
                    partition_one_way(*from, *to);
                }
            }
            Fault::Heal { a, b } => heal(*a, *b),
        }
    }
    NetSim::current().update_config(|c| {
        c.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
    });
}

/// A client that reconnects (and resubscribes) whenever its connection fails or the
/// schedule resets it. Publishes in flight when a connection fails are lost (at-most-once);
/// the sequence continues on the next connection.
pub struct Resilient {
    cfg: ClientConfig,
    history: History,
    resets: Resets,
    client: Option<Client>,
    subs: Vec<(String, Option<String>, String)>,
    last_seq: u64,
    /// Connections opened so far.
    pub connects: u32,
}

impl Resilient {
    pub fn new(cfg: ClientConfig, history: History, resets: Resets) -> Resilient {
        Resilient {
            cfg,
            history,
            resets,
            client: None,
            subs: Vec::new(),
            last_seq: 0,
            connects: 0,
        }
    }

    /// Connects if not connected (resubscribing and flushing), retrying until it works.
    pub async fn ensure(&mut self) {
        if self.resets.take(self.cfg.id) {
            if let Some(c) = self.client.take() {
                self.last_seq = c.last_seq();
                let partial = thread_rng().gen_range(0..40);
                let subject = "reset.partial";
                c.reset(subject, partial).await;
            }
        }
        if self.client.as_ref().is_some_and(|c| c.is_closed()) {
            self.drop_client();
        }
        while self.client.is_none() {
            let connect = Client::connect(self.cfg.clone(), self.history.clone());
            let mut c = match madsim::time::timeout(Duration::from_secs(2), connect).await {
                Ok(Ok(c)) => c,
                _ => {
                    madsim::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            self.connects += 1;
            c.set_last_seq(self.last_seq);
            let mut ok = true;
            for (subject, queue, sid) in &self.subs {
                if c.subscribe(subject, queue.as_deref(), sid).await.is_err() {
                    ok = false;
                    break;
                }
            }
            if ok && c.flush().await.is_ok() {
                self.client = Some(c);
            } else {
                self.last_seq = c.last_seq();
                drop(c);
                madsim::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    fn drop_client(&mut self) {
        if let Some(c) = self.client.take() {
            self.last_seq = c.last_seq();
        }
    }

    fn result<T>(&mut self, r: Result<T, ClientError>) -> Result<T, ClientError> {
        if r.is_err() {
            self.drop_client();
        }
        r
    }

    /// Subscribes now and on every later connection.
    pub async fn subscribe(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        sid: &str,
    ) -> Result<(), ClientError> {
        self.ensure().await;
        self.subs
            .push((subject.into(), queue.map(Into::into), sid.into()));
        let c = self.client.as_mut().expect("connected");
        let r = c.subscribe(subject, queue, sid).await;
        self.result(r)
    }

    /// Unsubscribes now and on every later connection.
    pub async fn unsubscribe(&mut self, sid: &str) -> Result<(), ClientError> {
        self.ensure().await;
        self.subs.retain(|(_, _, s)| s != sid);
        let c = self.client.as_mut().expect("connected");
        let r = c.unsubscribe(sid).await;
        self.result(r)
    }

    pub async fn publish(&mut self, subject: &str, filler: usize) -> Result<u64, ClientError> {
        self.ensure().await;
        let c = self.client.as_mut().expect("connected");
        let r = c.publish(subject, filler).await;
        if r.is_ok() {
            self.last_seq = c.last_seq();
        }
        self.result(r)
    }

    /// Publishes a request to `subject` with reply subject `inbox` (see [`Client::request`]).
    pub async fn request(
        &mut self,
        subject: &str,
        inbox: &str,
        filler: usize,
    ) -> Result<u64, ClientError> {
        self.ensure().await;
        let c = self.client.as_mut().expect("connected");
        let r = c.request(subject, inbox, filler).await;
        if r.is_ok() {
            self.last_seq = c.last_seq();
        }
        self.result(r)
    }

    pub async fn flush(&mut self) -> Result<(), ClientError> {
        self.ensure().await;
        let c = self.client.as_mut().expect("connected");
        let r = c.flush().await;
        self.result(r)
    }

    /// Flushes until one flush succeeds (reconnecting in between).
    pub async fn flush_surely(&mut self) {
        while self.flush().await.is_err() {}
    }

    pub async fn close(mut self) {
        if let Some(c) = self.client.take() {
            c.close().await;
        }
    }
}
