//! A `nats bench`-style load generator speaking the raw client protocol over TCP.
//!
//! No client library is involved, so what is measured is the server: publishers write
//! pre-encoded `PUB` frames in large batches, subscribers only scan `MSG` lines and skip
//! payloads. Results are printed as one line starting with `RESULT` followed by
//! `key=value` pairs (see `benches/README.md`).
//!
//! Only loopback addresses are accepted and every phase is bounded by `--timeout`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::time::timeout;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Publishers and subscribers on one subject; throughput.
    Pubsub,
    /// One responder, `--pubs` sequential requesters; round-trip latency.
    Reqrep,
    /// `--conns` idle connections with one subscription each, held for `--hold` seconds
    /// (for measuring the server's memory per connection).
    Idle,
    /// JetStream: `--pubs` publishers to a stream on `--subject`, each with up to
    /// `--window` publishes awaiting their ack; ack throughput and latency.
    Js,
    /// One publisher at `--rate` messages a second, each carrying its send time, to one
    /// subscriber; one-way latency.
    Latency,
}

#[derive(Parser, Debug)]
#[command(about = "Raw-protocol NATS load generator (loopback only)")]
struct Args {
    /// Server address, `host:port` or `nats://host:port`; must be loopback.
    #[arg(long, default_value = "127.0.0.1:4222")]
    url: String,
    /// Where subscribers connect (pubsub), when not `--url`: another server of the same
    /// cluster, so every message crosses a route.
    #[arg(long)]
    sub_url: Option<String>,
    /// Milliseconds to wait after the subscriptions are made before publishing, for them
    /// to reach the other servers of a cluster.
    #[arg(long, default_value_t = 0)]
    settle_ms: u64,
    /// Publishers (pubsub) or requesters (reqrep).
    #[arg(long, default_value_t = 1)]
    pubs: usize,
    /// Subscribers (pubsub only).
    #[arg(long, default_value_t = 1)]
    subs: usize,
    /// Messages in total, split over the publishers (requests, split over requesters).
    #[arg(long, default_value_t = 100_000)]
    msgs: u64,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 128)]
    size: usize,
    #[arg(long, default_value = "bench")]
    subject: String,
    /// What subscribers subscribe to (a pattern such as `bench.>`); `--subject` if unset.
    #[arg(long)]
    sub_subject: Option<String>,
    /// Subscribers join this queue group: each message reaches one of them.
    #[arg(long)]
    queue: Option<String>,
    #[arg(long, value_enum, default_value_t = Mode::Pubsub)]
    mode: Mode,
    /// Upper bound in seconds for the measured phase.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Bytes of `PUB` frames per write.
    #[arg(long, default_value_t = 64 * 1024)]
    batch: usize,
    /// Load-generator worker threads; 0 = one per core.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Connections (idle only).
    #[arg(long, default_value_t = 10_000)]
    conns: usize,
    /// Seconds to hold the idle connections after they are all set up.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// The stream's storage (js only): `file` or `memory`.
    #[arg(long, default_value = "file")]
    storage: String,
    /// Publishes in flight per publisher, awaiting their acks (js only).
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Messages a second (latency only).
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the server sent, as far as the load generator cares.
enum Op {
    Msg {
        reply: Option<Vec<u8>>,
        len: usize,
        /// The payload's first 8 bytes as a little-endian number (0 if shorter).
        stamp: u64,
    },
    Ping,
    Pong,
    Other,
}

fn err(text: impl Into<String>) -> io::Error {
    io::Error::other(text.into())
}

/// Buffered reader of server operations; payloads are skipped, not copied.
struct Reader {
    rd: OwnedReadHalf,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Reader {
    fn new(rd: OwnedReadHalf) -> Reader {
        Reader {
            rd,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
        }
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.buf.len() - self.end < 16 * 1024 && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let len = self.buf.len() * 2;
            self.buf.resize(len, 0);
        }
        let n = self.rd.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        self.end += n;
        Ok(())
    }

    /// The next complete operation, reading as needed.
    async fn next(&mut self, want_reply: bool) -> io::Result<Op> {
        loop {
            if let Some(op) = self.try_parse(want_reply)? {
                return Ok(op);
            }
            self.fill().await?;
        }
    }

    /// Whether a complete operation might already be buffered.
    fn has_line(&self) -> bool {
        memchr::memchr(b'\n', &self.buf[self.start..self.end]).is_some()
    }

    fn try_parse(&mut self, want_reply: bool) -> io::Result<Option<Op>> {
        let data = &self.buf[self.start..self.end];
        let Some(nl) = memchr::memchr(b'\n', data) else {
            return Ok(None);
        };
        let mut line = &data[..nl];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        let op = if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
            let hmsg = line[0] == b'H';
            let Some((words, count)) = words::<6>(line) else {
                return Err(err(format!(
                    "bad message line: {}",
                    String::from_utf8_lossy(line)
                )));
            };
            let args = &words[..count];
            // MSG subject sid [reply] size; HMSG subject sid [reply] hdr_size total_size
            let base = if hmsg { 5 } else { 4 };
            if args.len() != base && args.len() != base + 1 {
                return Err(err(format!(
                    "bad message line: {}",
                    String::from_utf8_lossy(line)
                )));
            }
            let len: usize = std::str::from_utf8(args[args.len() - 1])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| err("bad message size"))?;
            let total = nl + 1 + len + 2;
            if data.len() < total {
                if self.buf.len() < total + 1024 {
                    let len = total + 1024;
                    self.buf.resize(len, 0);
                }
                return Ok(None);
            }
            let reply = if want_reply && args.len() == base + 1 {
                Some(args[3].to_vec())
            } else {
                None
            };
            // The first 8 payload bytes: the latency mode's send time.
            let header_len = if hmsg {
                std::str::from_utf8(args[args.len() - 2])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0)
            } else {
                0
            };
            let body = &data[nl + 1 + header_len.min(len)..nl + 1 + len];
            let stamp = body
                .get(..8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
            self.start += total;
            return Ok(Some(Op::Msg { reply, len, stamp }));
        } else if line.eq_ignore_ascii_case(b"PING") {
            Op::Ping
        } else if line.eq_ignore_ascii_case(b"PONG") {
            Op::Pong
        } else if line.starts_with(b"-ERR") {
            return Err(err(format!(
                "server error: {}",
                String::from_utf8_lossy(line)
            )));
        } else {
            Op::Other
        };
        self.start += nl + 1;
        Ok(Some(op))
    }
}

/// The space-separated words of `line`, if there are at most `N`.
fn words<const N: usize>(line: &[u8]) -> Option<([&[u8]; N], usize)> {
    let mut words: [&[u8]; N] = [&[]; N];
    let mut count = 0;
    for word in line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|w| !w.is_empty())
    {
        *words.get_mut(count)? = word;
        count += 1;
    }
    Some((words, count))
}

struct Conn {
    rd: Reader,
    wr: OwnedWriteHalf,
}

impl Conn {
    /// Connects, reads `INFO`, sends `CONNECT` and waits for the `PONG` to a `PING`.
    async fn open(addr: SocketAddr, name: &str) -> io::Result<Conn> {
        let stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| err("connect timed out"))??;
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut conn = Conn {
            rd: Reader::new(rd),
            wr,
        };
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"name\":\"{name}\",\"lang\":\"raw\",\"version\":\"0\",\"protocol\":1}}\r\n"
        );
        conn.wr.write_all(connect.as_bytes()).await?;
        timeout(CONNECT_TIMEOUT, conn.sync())
            .await
            .map_err(|_| err("handshake timed out"))??;
        Ok(conn)
    }

    /// `PING` and wait for its `PONG`, answering the server's pings meanwhile.
    async fn sync(&mut self) -> io::Result<()> {
        self.wr.write_all(b"PING\r\n").await?;
        loop {
            match self.rd.next(false).await? {
                Op::Pong => return Ok(()),
                Op::Ping => self.wr.write_all(b"PONG\r\n").await?,
                _ => {}
            }
        }
    }
}

fn resolve(url: &str) -> io::Result<SocketAddr> {
    let hostport = url.strip_prefix("nats://").unwrap_or(url);
    let addr = hostport
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| err("address did not resolve"))?;
    if !addr.ip().is_loopback() {
        return Err(err(format!("refusing non-loopback address {addr}")));
    }
    Ok(addr)
}

/// `total` split over `n` workers, the remainder going to the first ones.
fn share(total: u64, n: usize, i: usize) -> u64 {
    let n = n as u64;
    total / n + u64::from((i as u64) < total % n)
}

fn rate(count: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        count as f64 / secs
    } else {
        0.0
    }
}

async fn publisher(addr: SocketAddr, args: &Args, n: u64, i: usize) -> io::Result<Duration> {
    let mut conn = Conn::open(addr, &format!("loadgen-pub-{i}")).await?;
    let mut frame = format!("PUB {} {}\r\n", args.subject, args.size).into_bytes();
    frame.resize(frame.len() + args.size, b'x');
    frame.extend_from_slice(b"\r\n");
    let per_batch = (args.batch / frame.len()).max(1) as u64;
    let batch: Vec<u8> = frame.repeat(per_batch as usize);
    let start = Instant::now();
    let mut left = n;
    while left > 0 {
        let k = left.min(per_batch);
        conn.wr
            .write_all(&batch[..k as usize * frame.len()])
            .await?;
        left -= k;
    }
    conn.sync().await?;
    Ok(start.elapsed())
}

/// What the subscribers of one run count together: they stop once `target` messages
/// arrived over all of them (each expects every message, or, in a queue group, the group
/// together does).
struct Tally {
    received: std::sync::atomic::AtomicU64,
    target: u64,
    done: tokio::sync::Notify,
}

impl Tally {
    fn finished(&self) -> bool {
        self.received.load(std::sync::atomic::Ordering::Relaxed) >= self.target
    }
}

/// Counts messages until the run's `tally` is complete; (messages, payload bytes, time of
/// the last).
async fn subscriber(
    mut conn: Conn,
    tally: std::sync::Arc<Tally>,
    start: Instant,
    deadline: Instant,
) -> (u64, u64, Duration, Option<io::Error>) {
    let mut msgs = 0;
    let mut bytes = 0;
    let mut last = Duration::ZERO;
    loop {
        // Everything already buffered first, counted into the tally once per read (one
        // shared counter bumped per message would cost the generator more than the server).
        let mut got = 0;
        let mut pings = 0;
        loop {
            match conn.rd.try_parse(false) {
                Ok(Some(Op::Msg { len, .. })) => {
                    got += 1;
                    bytes += len as u64;
                }
                Ok(Some(Op::Ping)) => pings += 1,
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => return (msgs, bytes, last, Some(e)),
            }
        }
        if got > 0 {
            msgs += got;
            last = start.elapsed();
            let n = tally
                .received
                .fetch_add(got, std::sync::atomic::Ordering::Relaxed)
                + got;
            if n >= tally.target {
                tally.done.notify_waiters();
            }
        }
        for _ in 0..pings {
            if let Err(e) = conn.wr.write_all(b"PONG\r\n").await {
                return (msgs, bytes, last, Some(e));
            }
        }
        if tally.finished() {
            break;
        }
        if Instant::now() >= deadline {
            return (msgs, bytes, last, Some(err("timed out")));
        }
        // Waits in short steps, so that a subscriber whose group is done notices even if
        // the wake-up came between its check and its wait.
        let filled = tokio::select! {
            biased;
            _ = tally.done.notified() => continue,
            filled = timeout(Duration::from_millis(50), conn.rd.fill()) => filled,
        };
        if let Ok(Err(e)) = filled {
            return (msgs, bytes, last, Some(e));
        }
    }
    (msgs, bytes, last, None)
}

async fn pubsub(addr: SocketAddr, args: Args) -> io::Result<()> {
    let sub_addr = match &args.sub_url {
        Some(url) => resolve(url)?,
        None => addr,
    };
    let args = std::sync::Arc::new(args);
    let mut subs = Vec::new();
    let pattern = args.sub_subject.as_deref().unwrap_or(&args.subject);
    let queue = args
        .queue
        .as_deref()
        .map(|q| format!(" {q}"))
        .unwrap_or_default();
    for i in 0..args.subs {
        let mut conn = Conn::open(sub_addr, &format!("loadgen-sub-{i}")).await?;
        conn.wr
            .write_all(format!("SUB {pattern}{queue} 1\r\n").as_bytes())
            .await?;
        conn.sync().await?;
        subs.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    let expected = match args.queue {
        Some(_) if args.subs > 0 => args.msgs,
        _ => args.msgs * args.subs as u64,
    };
    let tally = std::sync::Arc::new(Tally {
        received: std::sync::atomic::AtomicU64::new(0),
        target: expected,
        done: tokio::sync::Notify::new(),
    });
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout);
    let sub_tasks: Vec<_> = subs
        .into_iter()
        .map(|conn| tokio::spawn(subscriber(conn, tally.clone(), start, deadline)))
        .collect();
    let pub_tasks: Vec<_> = (0..args.pubs)
        .map(|i| {
            let args = args.clone();
            let n = share(args.msgs, args.pubs, i);
            tokio::spawn(async move {
                let left = deadline.saturating_duration_since(Instant::now());
                timeout(left, publisher(addr, &args, n, i))
                    .await
                    .map_err(|_| err("publisher timed out"))?
            })
        })
        .collect();

    let mut errors = Vec::new();
    let mut pub_secs: f64 = 0.0;
    for t in pub_tasks {
        match t.await.map_err(|e| err(e.to_string()))? {
            Ok(d) => pub_secs = pub_secs.max(d.as_secs_f64()),
            Err(e) => errors.push(format!("pub: {e}")),
        }
    }
    let (mut got, mut got_bytes, mut sub_secs) = (0u64, 0u64, 0f64);
    for t in sub_tasks {
        let (m, b, last, e) = t.await.map_err(|e| err(e.to_string()))?;
        got += m;
        got_bytes += b;
        sub_secs = sub_secs.max(last.as_secs_f64());
        if let Some(e) = e {
            errors.push(format!("sub: {e}"));
        }
    }
    let sent_bytes = args.msgs * args.size as u64;
    println!(
        "RESULT mode=pubsub pubs={} subs={} msgs={} size={} pub_msgs_s={:.0} pub_mb_s={:.2} \
         sub_msgs_s={:.0} sub_mb_s={:.2} pub_secs={:.3} sub_secs={:.3} received={} expected={} complete={}",
        args.pubs,
        args.subs,
        args.msgs,
        args.size,
        if errors.is_empty() { rate(args.msgs, pub_secs) } else { 0.0 },
        if errors.is_empty() { rate(sent_bytes, pub_secs) / 1e6 } else { 0.0 },
        rate(got, sub_secs),
        rate(got_bytes, sub_secs) / 1e6,
        pub_secs,
        sub_secs,
        got,
        expected,
        if got == expected { "yes" } else { "no" },
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(err(errors.join("; ")))
    }
}

async fn responder(mut conn: Conn, size: usize) -> io::Result<()> {
    let payload = vec![b'r'; size];
    let mut out = Vec::new();
    loop {
        match conn.rd.next(true).await? {
            Op::Msg {
                reply: Some(reply), ..
            } => {
                out.extend_from_slice(b"PUB ");
                out.extend_from_slice(&reply);
                out.extend_from_slice(format!(" {size}\r\n").as_bytes());
                out.extend_from_slice(&payload);
                out.extend_from_slice(b"\r\n");
            }
            Op::Ping => out.extend_from_slice(b"PONG\r\n"),
            _ => {}
        }
        // Answer everything already buffered in one write.
        if !conn.rd.has_line() && !out.is_empty() {
            conn.wr.write_all(&out).await?;
            out.clear();
        }
    }
}

async fn requester(addr: SocketAddr, args: &Args, n: u64, i: usize) -> io::Result<Vec<u32>> {
    let mut conn = Conn::open(addr, &format!("loadgen-req-{i}")).await?;
    let inbox = format!("_INBOX.loadgen.{i}");
    conn.wr
        .write_all(format!("SUB {inbox} 1\r\n").as_bytes())
        .await?;
    conn.sync().await?;
    let mut frame = format!("PUB {} {inbox} {}\r\n", args.subject, args.size).into_bytes();
    frame.resize(frame.len() + args.size, b'q');
    frame.extend_from_slice(b"\r\n");
    let mut lat = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t = Instant::now();
        conn.wr.write_all(&frame).await?;
        loop {
            match conn.rd.next(false).await? {
                Op::Msg { .. } => break,
                Op::Ping => conn.wr.write_all(b"PONG\r\n").await?,
                _ => {}
            }
        }
        lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    Ok(lat)
}

async fn reqrep(addr: SocketAddr, args: Args) -> io::Result<()> {
    let args = std::sync::Arc::new(args);
    let mut resp = Conn::open(addr, "loadgen-responder").await?;
    resp.wr
        .write_all(format!("SUB {} 1\r\n", args.subject).as_bytes())
        .await?;
    resp.sync().await?;
    let responder = tokio::spawn(responder(resp, args.size));
    let (lat, errors, secs) = latencies(&args, "requester", |args, n, i| async move {
        requester(addr, &args, n, i).await
    })
    .await?;
    responder.abort();
    let pct = |p: f64| percentile(&lat, p);
    println!(
        "RESULT mode=reqrep requesters={} msgs={} size={} rtt_s={:.0} p50_us={} p90_us={} p99_us={} max_us={} completed={} complete={}",
        args.pubs,
        args.msgs,
        args.size,
        rate(lat.len() as u64, secs),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        lat.last().copied().unwrap_or(0),
        lat.len(),
        if lat.len() as u64 == args.msgs { "yes" } else { "no" },
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(err(errors.join("; ")))
    }
}

/// Opens the idle connections, each subscribed, a hundred at a time; reports when all are
/// ready (the `RESULT` line is the moment to read the server's memory), then holds them.
async fn idle(addr: SocketAddr, args: Args) -> io::Result<()> {
    let start = Instant::now();
    let mut conns = Vec::with_capacity(args.conns);
    for first in (0..args.conns).step_by(100) {
        let handles: Vec<_> = (first..(first + 100).min(args.conns))
            .map(|i| {
                tokio::spawn(async move {
                    let mut conn = Conn::open(addr, &format!("loadgen-idle-{i}")).await?;
                    conn.wr
                        .write_all(format!("SUB idle.{i} 1\r\n").as_bytes())
                        .await?;
                    conn.sync().await?;
                    io::Result::Ok(conn)
                })
            })
            .collect();
        for handle in handles {
            conns.push(handle.await.map_err(|e| err(e.to_string()))??);
        }
    }
    println!(
        "RESULT mode=idle conns={} setup_s={:.2}",
        conns.len(),
        start.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    drop(conns);
    Ok(())
}

/// Runs `worker` for each of `--pubs` workers with its share of `--msgs`, each bounded
/// by `--timeout`: every latency they measured (sorted), their errors, and the seconds
/// it all took.
async fn latencies<F, Fut>(
    args: &std::sync::Arc<Args>,
    what: &'static str,
    worker: F,
) -> io::Result<(Vec<u32>, Vec<String>, f64)>
where
    F: Fn(std::sync::Arc<Args>, u64, usize) -> Fut,
    Fut: std::future::Future<Output = io::Result<Vec<u32>>> + Send + 'static,
{
    let start = Instant::now();
    let deadline = Duration::from_secs(args.timeout);
    let tasks: Vec<_> = (0..args.pubs)
        .map(|i| {
            let n = share(args.msgs, args.pubs, i);
            let run = worker(args.clone(), n, i);
            tokio::spawn(async move {
                timeout(deadline, run)
                    .await
                    .map_err(|_| err(format!("{what} timed out")))?
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut errors = Vec::new();
    for t in tasks {
        match t.await.map_err(|e| err(e.to_string()))? {
            Ok(l) => lat.extend(l),
            Err(e) => errors.push(format!("{what}: {e}")),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    Ok((lat, errors, secs))
}

/// The `p` quantile of sorted latencies (0 when there are none).
fn percentile(lat: &[u32], p: f64) -> u32 {
    lat.get(((lat.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(0)
}

/// One-way latency: a paced publisher (a thread of its own, so that its timing does not
/// depend on the runtime's timers) stamps each message with the time it is written, and
/// the subscriber, in the same process and so on the same clock, notes how long after
/// that it arrived.
async fn latency(addr: SocketAddr, args: Args) -> io::Result<()> {
    if args.size < 8 {
        return Err(err("--size must be at least 8 for the send time"));
    }
    let mut sub = Conn::open(addr, "loadgen-latency-sub").await?;
    sub.wr
        .write_all(format!("SUB {} 1\r\n", args.subject).as_bytes())
        .await?;
    sub.sync().await?;
    let start = Instant::now();
    let (subject, size, msgs, rate) = (args.subject.clone(), args.size, args.msgs, args.rate);
    let publisher = tokio::task::spawn_blocking(move || {
        paced_publisher(addr, &subject, size, msgs, rate, start)
    });
    let deadline = start + Duration::from_secs(args.timeout);
    let mut lat = Vec::with_capacity(msgs as usize);
    let mut error = None;
    while (lat.len() as u64) < msgs {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, sub.rd.next(false)).await {
            Err(_) => {
                error = Some(err("subscriber timed out"));
                break;
            }
            Ok(Err(e)) => {
                error = Some(e);
                break;
            }
            Ok(Ok(Op::Msg { stamp, .. })) => {
                let now = start.elapsed().as_nanos() as u64;
                lat.push((now.saturating_sub(stamp) / 1000) as u32);
            }
            Ok(Ok(Op::Ping)) => sub.wr.write_all(b"PONG\r\n").await?,
            Ok(Ok(_)) => {}
        }
    }
    let sent = publisher.await.map_err(|e| err(e.to_string()))?;
    lat.sort_unstable();
    let pct = |p: f64| percentile(&lat, p);
    println!(
        "RESULT mode=latency rate={} msgs={} size={} p50_us={} p99_us={} p999_us={} max_us={} received={} complete={}",
        rate,
        msgs,
        size,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        lat.last().copied().unwrap_or(0),
        lat.len(),
        if lat.len() as u64 == msgs { "yes" } else { "no" },
    );
    match (sent, error) {
        (Err(e), _) | (Ok(()), Some(e)) => Err(e),
        (Ok(()), None) => Ok(()),
    }
}

/// Publishes `msgs` messages of `size` bytes at `rate` a second (sleeping between them;
/// one that is late goes at once), each starting with its send time in nanoseconds since
/// `start`, little-endian.
fn paced_publisher(
    addr: SocketAddr,
    subject: &str,
    size: usize,
    msgs: u64,
    rate: u64,
    start: Instant,
) -> io::Result<()> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    conn.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"loadgen-latency-pub\",\"lang\":\"raw\",\"version\":\"0\",\"protocol\":1}\r\nPING\r\n",
    )?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while memchr::memmem::find(&seen, b"PONG\r\n").is_none() {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Err(err("server closed the connection"));
        }
        seen.extend_from_slice(&buf[..n]);
    }
    let mut frame = format!("PUB {subject} {size}\r\n").into_bytes();
    let body = frame.len();
    frame.resize(body + size, b'x');
    frame.extend_from_slice(b"\r\n");
    let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
    for i in 0..msgs {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let stamp = start.elapsed().as_nanos() as u64;
        frame[body..body + 8].copy_from_slice(&stamp.to_le_bytes());
        conn.write_all(&frame)?;
    }
    Ok(())
}

/// The stream the js mode publishes to.
const JS_STREAM: &str = "LOADGEN";

/// Sends a JetStream API request and waits for its answer (the reply's payload is
/// skipped; the answer only has to come).
async fn js_api(conn: &mut Conn, subject: &str, body: &str) -> io::Result<()> {
    let inbox = "_INBOX.loadgen.api";
    let msg = format!(
        "SUB {inbox} 99\r\nPUB {subject} {inbox} {}\r\n{body}\r\nUNSUB 99 1\r\n",
        body.len()
    );
    conn.wr.write_all(msg.as_bytes()).await?;
    loop {
        match conn.rd.next(false).await? {
            Op::Msg { .. } => return Ok(()),
            Op::Ping => conn.wr.write_all(b"PONG\r\n").await?,
            _ => {}
        }
    }
}

/// One publisher: `n` publishes, at most `window` of them awaiting their ack; the
/// latency of each ack.
async fn js_publisher(addr: SocketAddr, args: &Args, n: u64, i: usize) -> io::Result<Vec<u32>> {
    let mut conn = Conn::open(addr, &format!("loadgen-js-{i}")).await?;
    let inbox = format!("_INBOX.loadgen.js.{i}");
    conn.wr
        .write_all(format!("SUB {inbox} 1\r\n").as_bytes())
        .await?;
    conn.sync().await?;
    let mut frame = format!("PUB {} {inbox} {}\r\n", args.subject, args.size).into_bytes();
    frame.resize(frame.len() + args.size, b'j');
    frame.extend_from_slice(b"\r\n");
    let mut sent_at = std::collections::VecDeque::with_capacity(args.window);
    let mut lat = Vec::with_capacity(n as usize);
    let mut out = Vec::new();
    let mut sent = 0;
    while (lat.len() as u64) < n {
        while sent < n && sent_at.len() < args.window.max(1) {
            out.extend_from_slice(&frame);
            sent_at.push_back(Instant::now());
            sent += 1;
        }
        if !out.is_empty() {
            conn.wr.write_all(&out).await?;
            out.clear();
        }
        // Acks of one stream come in order: each answers the oldest publish in flight.
        match conn.rd.next(false).await? {
            Op::Msg { .. } => {
                let t = sent_at
                    .pop_front()
                    .ok_or_else(|| err("ack without publish"))?;
                lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Op::Ping => conn.wr.write_all(b"PONG\r\n").await?,
            _ => {}
        }
    }
    Ok(lat)
}

async fn js(addr: SocketAddr, args: Args) -> io::Result<()> {
    let mut admin = Conn::open(addr, "loadgen-js-admin").await?;
    let delete = format!("$JS.API.STREAM.DELETE.{JS_STREAM}");
    js_api(&mut admin, &delete, "").await?;
    let create = format!(
        r#"{{"name":"{JS_STREAM}","subjects":["{}"],"storage":"{}"}}"#,
        args.subject, args.storage
    );
    js_api(
        &mut admin,
        &format!("$JS.API.STREAM.CREATE.{JS_STREAM}"),
        &create,
    )
    .await?;
    let args = std::sync::Arc::new(args);
    let (lat, errors, secs) = latencies(&args, "publisher", |args, n, i| async move {
        js_publisher(addr, &args, n, i).await
    })
    .await?;
    js_api(&mut admin, &delete, "").await?;
    let pct = |p: f64| percentile(&lat, p);
    println!(
        "RESULT mode=js storage={} pubs={} window={} msgs={} size={} acks_s={:.0} p50_us={} p99_us={} completed={}",
        args.storage,
        args.pubs,
        args.window,
        args.msgs,
        args.size,
        rate(lat.len() as u64, secs),
        pct(0.50),
        pct(0.99),
        lat.len(),
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(err(errors.join("; ")))
    }
}

fn main() {
    let args = Args::parse();
    if args.pubs == 0 || args.msgs == 0 {
        eprintln!("loadgen: --pubs and --msgs must be at least 1");
        std::process::exit(2);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if args.threads > 0 {
        rt.worker_threads(args.threads);
    }
    let rt = rt.enable_all().build().expect("tokio runtime");
    let result = rt.block_on(async move {
        let addr = resolve(&args.url)?;
        match args.mode {
            Mode::Pubsub => pubsub(addr, args).await,
            Mode::Reqrep => reqrep(addr, args).await,
            Mode::Idle => idle(addr, args).await,
            Mode::Js => js(addr, args).await,
            Mode::Latency => latency(addr, args).await,
        }
    });
    if let Err(e) = result {
        eprintln!("loadgen: error: {e}");
        std::process::exit(1);
    }
    // Do not wait for a still-blocked task (e.g. the responder) at runtime shutdown.
    std::process::exit(0);
}
