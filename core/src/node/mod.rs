//! The node: one server's client-facing state machine.
//!
//! The shell drives it the way quinn-proto's endpoint is driven: it reports what happened
//! ([`Node::accept`], [`Node::receive`], [`Node::written`], [`Node::closed`],
//! [`Node::tick`]), each with the current time, then drains [`Node::poll_output`] and carries
//! out what it says, and asks [`Node::poll_timeout`] when to tick next. Bytes for a client
//! wait in that client's buffer until the shell takes them with [`Node::take_outbound`].

mod account;
mod auth;
mod client;
mod close;
mod cluster;
mod connect;
mod info;
mod interest;
mod internal;
mod jetstream;
mod lame_duck;
mod monitor;
mod reload;
mod route;
mod slots;
mod sourcing;
pub mod stall;
mod system;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

pub use client::{ConnId, SubRef};
pub use close::CloseReason;
pub use connect::{ConnectError, ConnectOptions};
pub use info::{ServerInfo, REFERENCE_VERSION, RNATS_VERSION};
pub use monitor::{AccountInfo, ConnInfo, RouteSnapshot, SubInfo, Traffic};

use crate::auth::Permissions;
use crate::hash::FixedMap;
use crate::options::Options;
use crate::proto::{
    encode_err, encode_hmsg_header, Body, ClientOpRef, Data, MsgHead, Op, ParseError, Parser,
};
use crate::rng::Rng;
use crate::sublist::MatchResult;
use crate::time::Instant;
use account::Account;
use auth::is_reserved_reply;
use client::{Client, Subscription};

/// How important a log line is, as the reference's `[INF]`, `[DBG]`... markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// What the node asks the shell to do.
#[derive(Debug, PartialEq)]
pub enum Output {
    /// The connection has bytes to send: call [`Node::take_outbound`].
    Transmit(ConnId),
    /// Write `last` (what was still queued, such as a final `-ERR`), then close the socket.
    /// The node has already forgotten the connection.
    Close { conn: ConnId, last: Vec<Bytes> },
    /// A line for the server log (only produced at the levels the options enable).
    Log { level: Level, text: String },
    /// Check `secret` against the bcrypt `hash` off the node's thread (it takes ~100 ms),
    /// then report with [`Node::bcrypt_verified`].
    VerifyBcrypt {
        conn: ConnId,
        hash: String,
        secret: String,
    },
    /// Carry out `ops` under the JetStream store directory, in order, make them durable
    /// (fsync), then report with [`Node::persisted`]. One batch is outstanding at a time.
    Persist {
        batch: u64,
        ops: Vec<crate::jetstream::persist::DiskOp>,
    },
    /// A system account request for monitoring figures only the shell has: answer it with
    /// [`Node::answer_system`]. `endpoint` is the request's last token (`STATSZ` for a
    /// PING, else `VARZ`, `CONNZ`, `SUBSZ`, `JSZ`, `ACCOUNTZ`, `HEALTHZ`...).
    SystemRequest { endpoint: String, reply: Bytes },
    /// Open a route to `address` (`host:port`), then report with [`Node::route_dialed`]
    /// or [`Node::route_dial_failed`], passing `dial` back.
    DialRoute { dial: usize, address: String },
}

/// Server-wide counters, the raw material for monitoring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub in_msgs: u64,
    pub out_msgs: u64,
    pub in_bytes: u64,
    pub out_bytes: u64,
    pub slow_consumers: u64,
    pub total_connections: u64,
}

/// The longest wait before a new client's first PING.
const FIRST_PING: Duration = Duration::from_secs(2);
/// The longest wait before a new route's first PING.
const FIRST_ROUTE_PING: Duration = Duration::from_secs(1);

/// The status message sent back to a requester when nobody is subscribed.
const NO_RESPONDERS_HDR: &[u8] = b"NATS/1.0 503\r\n\r\n";

/// One server node.
pub struct Node {
    opts: Options,
    info: ServerInfo,
    rng: Rng,
    next_cid: ConnId,
    clients: FixedMap<ConnId, Client>,
    /// The global account first, then the system account, then the configured ones.
    accounts: Vec<Account>,
    /// Each configured user's permissions, resolved once.
    user_perms: Vec<Option<Arc<Permissions>>>,
    /// The time of the call being handled, for what needs it deep down (response grants).
    now: Instant,
    /// A subscriber whose backlog crossed the stall threshold during the current publish.
    stall: Option<ConnId>,
    /// Clients by the instant they next need attention (pings, auth deadline).
    timers: BTreeSet<(Instant, ConnId)>,
    outputs: VecDeque<Output>,
    stats: NodeStats,
    /// Recently closed connections, for monitoring.
    closed: monitor::ClosedRing,
    /// Lame duck mode, once entered.
    lame_duck: Option<lame_duck::LameDuck>,
    /// JetStream, when enabled.
    js: Option<jetstream::JsNode>,
    /// The server's own subscriptions and the messages waiting for them.
    internal: internal::Internal,
    /// Unix time in nanoseconds at `Instant::ZERO` (see [`Node::set_wall_clock`]).
    wall_at_zero: u64,
    /// The sequence number of the last system event or answer.
    event_seq: u64,
    /// Routes to the other servers of the cluster, when clustering is configured.
    cluster: Option<Box<cluster::Cluster>>,
}

impl Node {
    /// A node with `opts`, telling clients it listens on `port` (the port actually bound,
    /// which differs from the option when that asked for a random one). `seed` drives every
    /// random choice the node makes, its server id included.
    pub fn new(opts: Options, port: u16, seed: u64) -> Node {
        let mut rng = Rng::new(seed);
        let mut raw = [0u8; 32];
        rng.fill(&mut raw);
        let server_id = info::server_id(raw);
        let info = ServerInfo {
            server_name: opts
                .server_name
                .clone()
                .unwrap_or_else(|| server_id.clone()),
            server_id,
            version: REFERENCE_VERSION.to_string(),
            proto: 1,
            go: format!("rnats-{RNATS_VERSION}"),
            host: opts.host.clone(),
            port,
            headers: true,
            // With a no_auth_user, clients need not authenticate, though the reference still
            // times out one that never speaks.
            auth_required: opts.auth.required() && opts.auth.no_auth_identity().is_none(),
            tls_required: opts.tls.is_some(),
            tls_verify: opts.tls.as_ref().is_some_and(|t| t.verify),
            max_payload: opts.max_payload,
            jetstream: opts.jetstream,
            cluster: None,
            connect_urls: Vec::new(),
        };
        let accounts = account::accounts_for(&opts);
        let user_perms = auth::user_permissions(&opts.auth);
        let opts_closed = opts.max_closed_clients;
        let jetstream = opts.jetstream;
        let mut node = Node {
            opts,
            info,
            rng,
            next_cid: 1,
            clients: FixedMap::default(),
            accounts,
            user_perms,
            now: Instant::ZERO,
            stall: None,
            timers: BTreeSet::new(),
            outputs: VecDeque::new(),
            stats: NodeStats::default(),
            closed: monitor::ClosedRing::new(opts_closed),
            lame_duck: None,
            js: None,
            internal: internal::Internal::default(),
            wall_at_zero: 0,
            event_seq: 0,
            cluster: None,
        };
        if node.opts.cluster.enabled() {
            node.enable_cluster();
            node.announce_response_subjects();
        }
        node.enable_system();
        if jetstream {
            node.enable_jetstream();
        }
        node
    }

    /// The server-wide part of `INFO`.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// Connected clients.
    pub fn num_clients(&self) -> usize {
        self.clients.len()
    }

    /// Bytes the node holds for `conn`: queued, plus taken by the shell but not yet
    /// reported written. What the slow-consumer limit bounds.
    pub fn pending_bytes(&self, conn: ConnId) -> Option<usize> {
        self.clients.get(&conn).map(Client::pending)
    }

    /// Subscriptions across all clients, here and (announced over routes) on the other
    /// servers of the cluster; the server's own are not counted.
    pub fn num_subscriptions(&self) -> usize {
        let all: usize = self
            .accounts
            .iter()
            .map(|a| a.sublist.count() + a.routed.count())
            .sum();
        all - self.internal_subs().count()
    }

    /// A new client connection from `peer`: queues its `INFO` and returns its id.
    pub fn accept(&mut self, now: Instant, peer: SocketAddr) -> ConnId {
        self.now = now;
        let id = self.next_cid;
        self.next_cid += 1;
        self.stats.total_connections += 1;
        let parser = Parser::new(self.opts.max_control_line, self.opts.max_payload);
        let ip = peer.ip().to_string();
        let mut client = Client::new(
            id,
            peer.to_string(),
            ip,
            parser,
            now + self.first_ping(FIRST_PING),
        );
        client.last_activity = now;
        client.start = now;
        if self.opts.auth.required() {
            client.auth_deadline = Some(now + self.opts.auth_timeout());
        }
        if self.opts.auth.needs_nonce() {
            client.nonce = Some(self.new_nonce());
        }
        let line = self.info.line_for(id, &client.ip, client.nonce.as_deref());
        client.out.push_slice(&line);
        let too_many = self.clients.len() >= self.opts.max_connections;
        self.clients.insert(id, client);
        self.log(Level::Debug, id, "Client connection created");
        if too_many {
            self.close_with_err(
                id,
                "maximum connections exceeded",
                CloseReason::MaxConnectionsExceeded,
            );
        } else {
            self.reschedule(id);
            self.queue_transmit(id);
        }
        id
    }

    /// The first PING goes out early, to measure the round trip: after the ping interval
    /// or 2 s (1 s for a route), whichever is shorter, plus up to 20% so that clients that
    /// connected together are not all PINGed together.
    fn first_ping(&mut self, first: Duration) -> Duration {
        let base = self.opts.ping_interval.min(first);
        let jitter_ms = (base.as_millis() / 5) as usize;
        base + Duration::from_millis(self.rng.below(jitter_ms + 1) as u64)
    }

    /// Bytes that arrived from a client.
    pub fn receive(&mut self, now: Instant, conn: ConnId, data: Bytes) {
        self.now = now;
        if self.is_route(conn) {
            return self.route_receive(now, conn, data);
        }
        if let Some(client) = self.clients.get_mut(&conn) {
            client.last_activity = now;
        }
        // Ops borrow their bytes from `data` where they can; `pos` is how far it is read.
        let mut pos = 0;
        loop {
            let Some(client) = self.clients.get_mut(&conn) else {
                return;
            };
            if let Some(pending) = client.pending_auth.as_mut() {
                if pos < data.len() && !pending.hold(data.slice(pos..)) {
                    self.close(conn, CloseReason::ProtocolViolation);
                }
                return;
            }
            let parsed = if client.auth_deadline.is_some()
                && client.parser.at_op_start()
                && data
                    .get(pos)
                    .is_some_and(|b| !b.eq_ignore_ascii_case(&b'C'))
            {
                // Until it has authenticated, a client may send nothing but CONNECT; the
                // reference rejects the first byte of anything else.
                if !self.speak_before_connect(conn) {
                    return;
                }
                self.client_mut(conn).parser.next_ref(&data, &mut pos)
            } else {
                client.parser.next_ref(&data, &mut pos)
            };
            match parsed {
                Ok(Some(op)) => self.process(now, conn, op, &data),
                Ok(None) => return,
                Err(e) => return self.parse_error(conn, e),
            }
        }
    }

    /// Moves the bytes queued for `conn` into `out`; they count as in flight (towards the
    /// slow-consumer limit) until [`Node::written`] reports them written.
    pub fn take_outbound(&mut self, conn: ConnId, out: &mut Vec<Bytes>) {
        if self.is_route(conn) {
            return self.route_take_outbound(conn, out);
        }
        if let Some(client) = self.clients.get_mut(&conn) {
            client.in_flight += client.out.len();
            client.out.drain_into(out);
            client.transmit_queued = false;
        }
    }

    /// The shell wrote `n` bytes of what it took for `conn` to the socket.
    pub fn written(&mut self, conn: ConnId, n: usize) {
        if self.is_route(conn) {
            return self.route_written(conn, n);
        }
        if let Some(client) = self.clients.get_mut(&conn) {
            client.in_flight = client.in_flight.saturating_sub(n);
        }
    }

    /// A write to `conn` has been blocked for longer than `write_deadline`.
    pub fn write_stalled(&mut self, conn: ConnId) {
        if self.is_route(conn) {
            self.stats.slow_consumers += 1;
            return self.close_route(conn, CloseReason::SlowConsumerWriteDeadline);
        }
        if self.clients.contains_key(&conn) {
            self.stats.slow_consumers += 1;
            self.close(conn, CloseReason::SlowConsumerWriteDeadline);
        }
    }

    /// The connection ended on the shell's side (EOF, reset, read or write error).
    pub fn closed(&mut self, conn: ConnId, reason: CloseReason) {
        if self.is_route(conn) {
            return self.close_route(conn, reason);
        }
        if self.clients.contains_key(&conn) {
            self.close(conn, reason);
        }
    }

    /// As [`Node::closed`], at `now` (which monitoring shows as the connection's end).
    pub fn closed_at(&mut self, now: Instant, conn: ConnId, reason: CloseReason) {
        self.now = now;
        self.closed(conn, reason);
    }

    /// Closes every connection (server shutdown).
    pub fn shutdown(&mut self) {
        self.shutdown_routes();
        let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.close(id, CloseReason::ServerShutdown);
        }
    }

    /// Time has reached `now`: send PINGs, close stale and unauthenticated connections.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        while let Some(&(at, conn)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(client) = self.clients.get_mut(&conn) else {
                self.route_timer(now, conn);
                continue;
            };
            client.timer_key = None;
            if client.auth_deadline.is_some_and(|d| d <= now) {
                self.close_with_err(
                    conn,
                    "Authentication Timeout",
                    CloseReason::AuthenticationTimeout,
                );
                continue;
            }
            if client.next_ping <= now {
                if client.pings_out + 1 > self.opts.ping_max {
                    self.close_with_err(conn, "Stale Connection", CloseReason::StaleConnection);
                    continue;
                }
                client.next_ping = now + self.opts.ping_interval;
                // Once the round trip is known, a client that sent something within the
                // interval is evidently alive and is spared the PING, as in the reference.
                let busy = now.saturating_since(client.last_activity) < self.opts.ping_interval;
                if client.rtt.is_none() || !busy {
                    client.pings_out += 1;
                    client.ping_sent = Some(now);
                    client.out.push_slice(b"PING\r\n");
                    self.trace_out(conn, "PING");
                    self.queue_transmit(conn);
                }
            }
            self.reschedule(conn);
        }
        self.lame_duck_tick(now);
        self.cluster_tick(now);
        self.jetstream_tick();
    }

    /// The next thing for the shell to do, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When the node next needs [`Node::tick`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let clients = self.timers.first().map(|&(at, _)| at);
        [
            clients,
            self.lame_duck_timeout(),
            self.jetstream_timeout(),
            self.cluster_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Carries out one op; `chunk` is what the op's borrowed bytes were parsed from.
    fn process(&mut self, now: Instant, conn: ConnId, op: ClientOpRef<'_>, chunk: &Bytes) {
        if self.opts.trace {
            self.trace_in(conn, &op);
        }
        match op {
            Op::Connect(json) => {
                let client = self.client_mut(conn);
                let since_info = now.saturating_since(client.start);
                client.connect_rtt.get_or_insert(since_info);
                self.process_connect(now, conn, &json)
            }
            Op::Pub {
                subject,
                reply,
                payload,
            } => self.process_pub(conn, &subject, reply.as_deref(), None, payload, chunk),
            Op::HPub {
                subject,
                reply,
                header_len,
                message,
            } => {
                if !self.client(conn).opts.headers {
                    // The reference drops a client that sends headers it never announced.
                    self.log(
                        Level::Error,
                        conn,
                        "Client sent HPUB without headers support",
                    );
                    return self.close(conn, CloseReason::ProtocolViolation);
                }
                // An empty header block makes a plain message, as in the reference.
                let header_len = (header_len > 0).then_some(header_len);
                self.process_pub(conn, &subject, reply.as_deref(), header_len, message, chunk)
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.process_sub(
                conn,
                subject.into_bytes(chunk),
                queue.map(|q| q.into_bytes(chunk)),
                sid.into_bytes(chunk),
            ),
            Op::Unsub { sid, max } => self.process_unsub(conn, &sid, max),
            Op::Ping => {
                self.client_mut(conn).out.push_slice(b"PONG\r\n");
                self.trace_out(conn, "PONG");
                self.queue_transmit(conn);
            }
            Op::Pong => {
                let client = self.client_mut(conn);
                client.pings_out = 0;
                if let Some(sent) = client.ping_sent.take() {
                    client.rtt.get_or_insert(now.saturating_since(sent));
                }
            }
            Op::Info(json) => {
                if serde_json::from_slice::<serde_json::Value>(&json).is_err() {
                    self.close(conn, CloseReason::ProtocolViolation);
                }
            }
            Op::Ok => {}
            Op::Err(text) => {
                let text = format!("Client Error {}", String::from_utf8_lossy(&text));
                self.log(Level::Error, conn, &text);
                self.close(conn, CloseReason::ParseError);
            }
        }
    }

    fn process_pub(
        &mut self,
        conn: ConnId,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Data<'_>,
        chunk: &Bytes,
    ) {
        let client = self.client_mut(conn);
        client.in_msgs += 1;
        client.in_bytes += message.len() as u64;
        let pedantic = client.opts.pedantic;
        let echo = client.opts.echo;
        let wants_503 = client.opts.no_responders && client.opts.headers;
        let restricted = client.perms.is_some();
        let verbose = client.opts.verbose;
        let account = client.account;
        self.stats.in_msgs += 1;
        self.stats.in_bytes += message.len() as u64;
        if pedantic && !crate::subject::is_valid_literal_subject(subject) {
            // Reported, yet still delivered: the reference only warns here.
            self.send_err(conn, "Invalid Publish Subject");
        }
        if restricted && !self.may_publish(conn, subject) {
            return;
        }
        if let Some(reply) = reply.filter(|r| is_reserved_reply(r)) {
            return self.reserved_reply_violation(conn, reply);
        }
        // The reference acknowledges before it delivers (a client subscribed to its own
        // subject sees +OK, then the message).
        if verbose {
            self.send_ok(conn);
        }
        let result = self.accounts[account].sublist.interest(subject);
        let crossing = self.accounts[account].crosses();
        let clustered = self.clustered();
        if result.is_none() && !crossing && !clustered {
            if wants_503 {
                if let Some(reply) = reply {
                    self.send_no_responders(conn, reply);
                }
            }
            return;
        }
        // A handle on the body only when it is large enough to be shared, not copied.
        let shared = Body::worth_sharing(message.len()).then(|| message.clone().into_bytes(chunk));
        let body = Body::new(&message, shared.as_ref());
        let mut delivered = match &result {
            Some(result) => self.deliver_all(conn, echo, result, subject, reply, header_len, body),
            None => 0,
        };
        if clustered {
            let local = result.as_deref();
            delivered += self.forward_to_routes(account, subject, reply, header_len, body, local);
        }
        if crossing {
            delivered += self.deliver_across(conn, account, subject, reply, header_len, body);
        }
        if let Some(consumer) = self.stall.take() {
            if let Some(publisher) = self.clients.get_mut(&conn) {
                publisher.stalled_on = Some(consumer);
            }
        }
        if delivered == 0 && wants_503 {
            if let Some(reply) = reply {
                self.send_no_responders(conn, reply);
            }
        }
        if self.internal_pending() {
            self.run_internal();
        }
    }

    /// Delivers one message to every plain subscription and one member of every queue group
    /// that match; returns how many deliveries were made.
    #[allow(clippy::too_many_arguments)]
    fn deliver_all(
        &mut self,
        from: ConnId,
        echo: bool,
        result: &Arc<MatchResult<SubRef>>,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
    ) -> usize {
        let head = MsgHead::new(subject, reply, header_len, message.len());
        let mut delivered = 0;
        for &sub in &result.plain {
            if (echo || sub.conn != from) && self.deliver(from, sub, &head, message) {
                delivered += 1;
            }
        }
        for group in &result.queues {
            delivered += self.deliver_to_one(from, echo, &group.members, &head, message);
        }
        delivered
    }

    /// Delivers to one member of a queue group; how many deliveries that made (0 or 1).
    fn deliver_to_one(
        &mut self,
        from: ConnId,
        echo: bool,
        members: &[SubRef],
        head: &MsgHead<'_>,
        message: Body<'_>,
    ) -> usize {
        if members.is_empty() {
            return 0;
        }
        let start = self.rng.below(members.len());
        // Try members from a random one onwards, so the load spreads and a member that
        // cannot take the message (our own, without echo) passes it to the next.
        for i in 0..members.len() {
            let sub = members[(start + i) % members.len()];
            if (echo || sub.conn != from) && self.deliver(from, sub, head, message) {
                return 1;
            }
        }
        0
    }

    /// Whether any route is up: messages may have to leave this server.
    fn clustered(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| !c.remotes.is_empty())
    }

    /// Queues one message from `from` for one subscription; whether it was queued.
    fn deliver(
        &mut self,
        from: ConnId,
        sub: SubRef,
        head: &MsgHead<'_>,
        message: Body<'_>,
    ) -> bool {
        let (subject, reply) = (head.subject, head.reply);
        if sub.conn == internal::INTERNAL {
            let header_len = head.header_len;
            return self.deliver_internal(from, sub.slot, subject, reply, header_len, message);
        }
        let max_pending = self.opts.max_pending as usize;
        let Some(client) = self.clients.get_mut(&sub.conn) else {
            return false;
        };
        let Some(filter_denied) = client.sub_mut(sub.slot).map(|s| s.filter_denied) else {
            return false;
        };
        if let Some(perms) = client.perms.as_mut() {
            if filter_denied && perms.denies_delivery(subject) {
                return false;
            }
            if let Some(reply) = reply {
                perms.grant_reply(self.now, reply);
            }
        }
        let headers = client.opts.headers;
        let (s, out) = client.sub_and_out(sub.slot).expect("checked above");
        s.delivered += 1;
        let done = s.max.is_some_and(|max| s.delivered >= max);
        // A client that does not do headers gets the payload alone.
        let sent = head.write(out, &s.sid, headers, message);
        client.out_msgs += 1;
        client.out_bytes += sent as u64;
        let pending = client.pending();
        let over = pending > max_pending;
        // As `queue_transmit`, without looking the client up again.
        let transmit = !over && !std::mem::replace(&mut client.transmit_queued, true);
        if pending > stall::threshold(max_pending) {
            self.stall = Some(sub.conn);
        }
        self.stats.out_msgs += 1;
        self.stats.out_bytes += sent as u64;
        if done {
            self.remove_sub(sub.conn, sub.slot);
        }
        if over {
            self.stats.slow_consumers += 1;
            let text = format!("Slow Consumer Detected: MaxPending of {max_pending} Exceeded");
            self.log(Level::Info, sub.conn, &text);
            self.close(sub.conn, CloseReason::SlowConsumerPendingBytes);
        } else if transmit {
            self.outputs.push_back(Output::Transmit(sub.conn));
        }
        true
    }

    fn send_no_responders(&mut self, conn: ConnId, reply: &[u8]) {
        let Some(client) = self.clients.get_mut(&conn) else {
            return;
        };
        let Some(sid) = client.sub_for_reply(reply).map(|s| s.sid.clone()) else {
            return;
        };
        let n = NO_RESPONDERS_HDR.len();
        encode_hmsg_header(&mut client.out, reply, &sid, None, n, n);
        client.out.push_slice(NO_RESPONDERS_HDR);
        client.out.push_slice(b"\r\n");
        self.queue_transmit(conn);
    }

    fn process_sub(&mut self, conn: ConnId, subject: Bytes, queue: Option<Bytes>, sid: Bytes) {
        let max_subs = self.opts.max_subscriptions;
        let Some(filter_denied) = self.may_subscribe(conn, &subject, queue.as_deref(), &sid) else {
            return;
        };
        let client = self.client_mut(conn);
        let account = client.account;
        if client.slot_of(&sid).is_some() {
            // A second SUB with a sid in use is ignored, as the reference does.
            return self.send_ok(conn);
        }
        if max_subs > 0 && client.sub_count() >= max_subs {
            self.log(Level::Error, conn, "maximum subscriptions exceeded");
            return self.send_err(conn, "maximum subscriptions exceeded");
        }
        if !crate::subject::is_valid_subject(&subject)
            || queue
                .as_ref()
                .is_some_and(|q| !crate::subject::is_valid_queue_name(q))
        {
            return self.send_err(conn, "Invalid Subject");
        }
        let slot = client.add_sub(Subscription {
            subject: subject.clone(),
            queue: queue.clone(),
            sid,
            max: None,
            delivered: 0,
            filter_denied,
        });
        let sub = SubRef { conn, slot };
        if self.accounts[account]
            .sublist
            .insert(&subject, queue.as_deref(), sub)
            .is_err()
        {
            self.client_mut(conn).remove_sub(slot);
            return self.send_err(conn, "Invalid Subject");
        }
        self.local_interest(account, &subject, queue.as_ref(), 1);
        self.send_ok(conn);
        self.jetstream_interest_changed();
    }

    fn process_unsub(&mut self, conn: ConnId, sid: &[u8], max: Option<u64>) {
        let client = self.client_mut(conn);
        if let Some(slot) = client.slot_of(sid) {
            let sub = client.sub_mut(slot).expect("slot of a live sid");
            match max {
                Some(max) if max > sub.delivered => sub.max = Some(max),
                _ => self.remove_sub(conn, slot),
            }
        }
        self.send_ok(conn);
    }

    fn remove_sub(&mut self, conn: ConnId, slot: u32) {
        let client = self.client_mut(conn);
        let account = client.account;
        if let Some(sub) = client.remove_sub(slot) {
            self.accounts[account].sublist.remove(
                &sub.subject,
                sub.queue.as_deref(),
                SubRef { conn, slot },
            );
            self.local_interest(account, &sub.subject, sub.queue.as_ref(), -1);
            self.jetstream_interest_changed();
        }
    }

    fn parse_error(&mut self, conn: ConnId, e: ParseError) {
        let reason = match e {
            ParseError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            ParseError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            ParseError::UnknownOp => CloseReason::ParseError,
            ParseError::BadArgs(_) | ParseError::BadHeaderSize => CloseReason::ProtocolViolation,
        };
        if let ParseError::BadArgs(args) = &e {
            self.log(
                Level::Error,
                conn,
                &format!("processPub Parse Error: '{args}'"),
            );
        }
        match e.err_text() {
            Some(text) => self.close_with_err(conn, text, reason),
            None => self.close(conn, reason),
        }
    }

    fn send_ok(&mut self, conn: ConnId) {
        let client = self.client_mut(conn);
        if client.opts.verbose {
            client.out.push_slice(b"+OK\r\n");
            self.trace_out(conn, "OK");
            self.queue_transmit(conn);
        }
    }

    fn send_err(&mut self, conn: ConnId, text: &str) {
        encode_err(&mut self.client_mut(conn).out, text);
        self.trace_out(conn, &format!("-ERR '{text}'"));
        self.queue_transmit(conn);
    }

    fn close_with_err(&mut self, conn: ConnId, text: &str, reason: CloseReason) {
        self.send_err(conn, text);
        self.close(conn, reason);
    }

    /// Forgets the connection, removes its subscriptions, and hands the shell what was
    /// still queued for it along with the order to close.
    fn close(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(mut client) = self.clients.remove(&conn) else {
            return;
        };
        if let Some(at) = client.timer_key {
            self.timers.remove(&(at, conn));
        }
        self.record_closed(&client, reason);
        let was_connected = client.connected;
        for (slot, sub) in client.drain_subs() {
            let sublist = &mut self.accounts[client.account].sublist;
            sublist.remove(&sub.subject, sub.queue.as_deref(), SubRef { conn, slot });
            self.local_interest(client.account, &sub.subject, sub.queue.as_ref(), -1);
        }
        self.jetstream_interest_changed();
        let mut last = Vec::new();
        let slow = matches!(
            reason,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        );
        if !slow {
            // A final -ERR still goes out; a slow consumer's backlog is dropped.
            client.out.drain_into(&mut last);
        }
        if self.opts.debug {
            let text = format!(
                "{} - Client connection closed: {reason}",
                client.log_prefix()
            );
            self.outputs.push_back(Output::Log {
                level: Level::Debug,
                text,
            });
        }
        self.outputs.push_back(Output::Close { conn, last });
        if was_connected {
            self.event_disconnect(&client, reason);
        }
    }

    /// Moves `conn` in the timer set to its current next deadline.
    fn reschedule(&mut self, conn: ConnId) {
        let client = self.clients.get_mut(&conn).expect("live client");
        let at = client.next_timer();
        if client.timer_key == Some(at) {
            return;
        }
        if let Some(old) = client.timer_key.replace(at) {
            self.timers.remove(&(old, conn));
        }
        self.timers.insert((at, conn));
    }

    /// Sends every client that takes `INFO` updates (protocol 1 and up) its `INFO` again,
    /// as `edit` changes it.
    fn send_async_info(&mut self, edit: impl Fn(Vec<u8>) -> Vec<u8>) {
        let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let client = self.client(id);
            if !client.connected || client.opts.protocol < 1 {
                continue;
            }
            let line = edit(self.info.line_for(id, &client.ip, None));
            self.client_mut(id).out.push_slice(&line);
            self.trace_out(id, "INFO");
            self.queue_transmit(id);
        }
    }

    fn queue_transmit(&mut self, conn: ConnId) {
        let client = self.client_mut(conn);
        if !client.transmit_queued {
            client.transmit_queued = true;
            self.outputs.push_back(Output::Transmit(conn));
        }
    }

    fn client(&self, conn: ConnId) -> &Client {
        self.clients.get(&conn).expect("live client")
    }

    fn client_mut(&mut self, conn: ConnId) -> &mut Client {
        self.clients.get_mut(&conn).expect("live client")
    }

    fn log(&mut self, level: Level, conn: ConnId, msg: &str) {
        let enabled = match level {
            Level::Trace => self.opts.trace,
            Level::Debug => self.opts.debug,
            _ => true,
        };
        if enabled {
            if let Some(client) = self.clients.get(&conn) {
                let text = format!("{} - {msg}", client.log_prefix());
                self.outputs.push_back(Output::Log { level, text });
            }
        }
    }

    fn trace_in(&mut self, conn: ConnId, op: &ClientOpRef<'_>) {
        let line = match op {
            Op::Connect(json) => {
                format!(
                    "CONNECT {}",
                    connect::redacted(&String::from_utf8_lossy(json))
                )
            }
            Op::Pub {
                subject,
                reply,
                payload,
            } => format!(
                "PUB {}{} {}",
                String::from_utf8_lossy(subject),
                reply_suffix(reply),
                payload.len()
            ),
            Op::HPub {
                subject,
                reply,
                header_len,
                message,
            } => format!(
                "HPUB {}{} {} {}",
                String::from_utf8_lossy(subject),
                reply_suffix(reply),
                header_len,
                message.len()
            ),
            Op::Sub {
                subject,
                queue,
                sid,
            } => format!(
                "SUB {}{} {}",
                String::from_utf8_lossy(subject),
                reply_suffix(queue),
                String::from_utf8_lossy(sid)
            ),
            Op::Unsub { sid, max } => match max {
                Some(max) => format!("UNSUB {} {max}", String::from_utf8_lossy(sid)),
                None => format!("UNSUB {}", String::from_utf8_lossy(sid)),
            },
            Op::Ping => "PING".to_string(),
            Op::Pong => "PONG".to_string(),
            Op::Info(json) => format!("INFO {}", String::from_utf8_lossy(json)),
            Op::Ok => "OK".to_string(),
            Op::Err(text) => format!("-ERR {}", String::from_utf8_lossy(text)),
        };
        self.log(Level::Trace, conn, &format!("<<- [{line}]"));
        if let Op::Pub { payload: m, .. } | Op::HPub { message: m, .. } = op {
            let text = format!("<<- MSG_PAYLOAD: [{:?}]", String::from_utf8_lossy(m));
            self.log(Level::Trace, conn, &text);
        }
    }

    fn trace_out(&mut self, conn: ConnId, line: &str) {
        if self.opts.trace {
            self.log(Level::Trace, conn, &format!("->> [{line}]"));
        }
    }
}

fn reply_suffix(extra: &Option<Data<'_>>) -> String {
    match extra {
        Some(r) => format!(" {}", String::from_utf8_lossy(r)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
