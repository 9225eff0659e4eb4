//! One route connection: the handshake with the peer server, its keepalive, and the
//! operations it sends. What concerns the cluster as a whole (dialing, gossip, client
//! URLs) is in `cluster.rs`; interest and message forwarding are in `interest.rs`.
//!
//! The handshake as the reference runs it: the dialing side sends `CONNECT` then `INFO`,
//! the accepting side `INFO`. Each side checks the other's `INFO` (not itself, same cluster
//! name, not a second route to the same server), registers the route, and sends its
//! interest as `RS+` lines. From then on interest changes and messages flow both ways.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::slots::Slots;
use super::{CloseReason, ConnId, Level, Node, Output};
use crate::hash::FixedMap;
use crate::proto::{encode_err, OutBuf};
use crate::route::{info, RouteConnect, RouteInfo, RouteOp, RouteParseError, RouteParser};
use crate::time::Instant;

/// How long an accepted route has to send `CONNECT` when no timeout is configured.
const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);

/// A subscription the peer announced (`RS+`): what the routed sublist entry stands for.
#[derive(Clone, Debug)]
pub(super) struct RemoteSub {
    pub account: usize,
    pub subject: Bytes,
    pub queue: Option<Bytes>,
    /// Members of the queue group at the peer (1 for a plain subscription).
    pub weight: u32,
}

/// A route connection's state.
pub(super) struct Route {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub parser: RouteParser,
    pub out: OutBuf,
    pub in_flight: usize,
    pub transmit_queued: bool,
    /// The dial (index into the cluster's dials) this connection came from, if this side
    /// dialed.
    pub dial: Option<usize>,
    /// The peer's `INFO`, once it arrived.
    pub remote: Option<RouteInfo>,
    /// The route carries interest and messages (it passed the checks and is the one route
    /// to its server).
    pub registered: bool,
    /// When an accepted route must have sent `CONNECT` by.
    pub auth_deadline: Option<Instant>,
    pub pings_out: u32,
    pub next_ping: Instant,
    pub ping_sent: Option<Instant>,
    pub rtt: Option<Duration>,
    pub start: Instant,
    pub last_activity: Instant,
    pub timer_key: Option<Instant>,
    /// The peer's announced subscriptions by slot, and slots by `account subject [queue]`.
    pub subs: Slots<RemoteSub>,
    by_key: FixedMap<Vec<u8>, u32>,
    pub in_msgs: u64,
    pub in_bytes: u64,
    pub out_msgs: u64,
    pub out_bytes: u64,
}

impl Route {
    fn new(id: ConnId, peer: SocketAddr, parser: RouteParser, now: Instant) -> Route {
        Route {
            id,
            peer,
            parser,
            out: OutBuf::default(),
            in_flight: 0,
            transmit_queued: false,
            dial: None,
            remote: None,
            registered: false,
            auth_deadline: None,
            pings_out: 0,
            next_ping: now,
            ping_sent: None,
            rtt: None,
            start: now,
            last_activity: now,
            timer_key: None,
            subs: Slots::default(),
            by_key: FixedMap::default(),
            in_msgs: 0,
            in_bytes: 0,
            out_msgs: 0,
            out_bytes: 0,
        }
    }

    pub fn remote_id(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.server_id.as_str())
    }

    /// Bytes queued or in flight, bounded like a client's.
    pub fn pending(&self) -> usize {
        self.out.len() + self.in_flight
    }

    fn next_timer(&self) -> Instant {
        match self.auth_deadline {
            Some(d) => d.min(self.next_ping),
            None => self.next_ping,
        }
    }

    /// Notes that the shell will be told to transmit; whether it needs telling (it is
    /// told once until it takes the bytes).
    pub fn mark_transmit(&mut self) -> bool {
        !std::mem::replace(&mut self.transmit_queued, true)
    }

    /// `ip:port - rid:N`, the prefix of this route's log lines.
    pub fn log_prefix(&self) -> String {
        format!("{} - rid:{}", self.peer, self.id)
    }

    /// Records an announced subscription; its slot, and whether it is new (a known one
    /// only has its weight changed).
    pub fn add_sub(&mut self, key: Vec<u8>, sub: RemoteSub) -> (u32, bool) {
        if let Some(&slot) = self.by_key.get(&key) {
            if let Some(old) = self.subs.get_mut(slot) {
                old.weight = sub.weight;
            }
            return (slot, false);
        }
        let slot = self.subs.insert(sub);
        self.by_key.insert(key, slot);
        (slot, true)
    }

    pub fn remove_sub(&mut self, key: &[u8]) -> Option<(u32, RemoteSub)> {
        let slot = self.by_key.remove(key)?;
        Some((slot, self.subs.remove(slot)?))
    }

    /// Every announced subscription with its slot, emptying the table (on close).
    pub fn drain_subs(&mut self) -> Vec<(u32, RemoteSub)> {
        self.by_key.clear();
        self.subs.drain()
    }
}

/// The key a route's subscription is known by: `account subject [queue]`.
pub(super) fn sub_key(account: &[u8], subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut key = Vec::with_capacity(account.len() + subject.len() + 16);
    key.extend_from_slice(account);
    key.push(b' ');
    key.extend_from_slice(subject);
    if let Some(q) = queue {
        key.push(b' ');
        key.extend_from_slice(q);
    }
    key
}

impl Node {
    /// A route connection accepted on the cluster port: queues this server's `INFO`.
    pub fn accept_route(&mut self, now: Instant, peer: SocketAddr) -> ConnId {
        self.now = now;
        let id = self.new_route(now, peer);
        let timeout = self
            .opts
            .cluster
            .auth_timeout
            .unwrap_or(DEFAULT_AUTH_TIMEOUT);
        self.route_mut(id).auth_deadline = Some(now + timeout);
        self.send_route_info(id);
        self.route_log(Level::Info, id, "Route connection created");
        self.route_reschedule(id);
        id
    }

    /// A dial asked for with [`Output::DialRoute`] connected: queues `CONNECT` and `INFO`.
    pub fn route_dialed(&mut self, now: Instant, dial: usize, peer: SocketAddr) -> ConnId {
        self.now = now;
        let id = self.new_route(now, peer);
        self.route_mut(id).dial = Some(dial);
        let connect = self.route_connect(dial);
        self.route_mut(id)
            .out
            .push_slice(&info::line("CONNECT", &connect));
        self.send_route_info(id);
        self.route_log(Level::Info, id, "Route connection created");
        self.dial_connected(dial, id);
        self.route_reschedule(id);
        id
    }

    fn new_route(&mut self, now: Instant, peer: SocketAddr) -> ConnId {
        let id = self.next_cid;
        self.next_cid += 1;
        // Routes carry many clients' traffic: their lines and payloads are bounded as a
        // client's are, with the reference's limits.
        let parser = RouteParser::new(self.opts.max_control_line, self.opts.max_payload);
        let first_ping = self.first_ping(super::FIRST_ROUTE_PING);
        let mut route = Route::new(id, peer, parser, now);
        route.next_ping = now + first_ping;
        self.cluster_mut().routes.insert(id, route);
        id
    }

    fn send_route_info(&mut self, id: ConnId) {
        let line = info::line("INFO", &self.cluster().info);
        self.route_mut(id).out.push_slice(&line);
        self.queue_route_transmit(id);
    }

    /// Whether `conn` is a route connection.
    pub(super) fn is_route(&self, conn: ConnId) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.routes.contains_key(&conn))
    }

    pub(super) fn route_mut(&mut self, id: ConnId) -> &mut Route {
        self.cluster_mut().routes.get_mut(&id).expect("live route")
    }

    /// Bytes from a route.
    pub(super) fn route_receive(&mut self, now: Instant, id: ConnId, mut data: Bytes) {
        self.now = now;
        let route = self.route_mut(id);
        route.last_activity = now;
        loop {
            let Some(route) = self.cluster.as_mut().and_then(|c| c.routes.get_mut(&id)) else {
                return;
            };
            match route.parser.next(&mut data) {
                Ok(Some(op)) => self.route_op(id, op),
                Ok(None) => return,
                Err(e) => return self.route_parse_error(id, e),
            }
        }
    }

    fn route_parse_error(&mut self, id: ConnId, e: RouteParseError) {
        let reason = match e {
            RouteParseError::MaxPayload { .. } => CloseReason::MaxPayloadExceeded,
            RouteParseError::MaxControlLine => CloseReason::MaxControlLineExceeded,
            RouteParseError::UnknownOp => CloseReason::ParseError,
            RouteParseError::BadArgs(_) => CloseReason::ProtocolViolation,
        };
        if let RouteParseError::BadArgs(args) = &e {
            self.route_log(Level::Error, id, &format!("Route Parse Error: '{args}'"));
        }
        match e.err_text() {
            Some(text) => self.close_route_with_err(id, text, reason),
            None => self.close_route(id, reason),
        }
    }

    fn route_op(&mut self, id: ConnId, op: RouteOp) {
        if self.opts.trace {
            self.route_trace_in(id, &op);
        }
        match op {
            RouteOp::Connect(json) => self.route_connect_received(id, &json),
            RouteOp::Info(json) => self.route_info_received(id, &json),
            RouteOp::Ping => {
                self.route_mut(id).out.push_slice(b"PONG\r\n");
                self.queue_route_transmit(id);
            }
            RouteOp::Pong => {
                let now = self.now;
                let route = self.route_mut(id);
                route.pings_out = 0;
                if let Some(sent) = route.ping_sent.take() {
                    route.rtt = Some(now.saturating_since(sent));
                }
            }
            RouteOp::Ok | RouteOp::AccountInterest => {}
            RouteOp::Err(text) => {
                let text = format!("Route Error {}", String::from_utf8_lossy(&text));
                self.route_log(Level::Error, id, &text);
                self.close_route(id, CloseReason::ParseError);
            }
            RouteOp::Sub {
                account,
                subject,
                queue,
            } => self.remote_sub(id, &account, subject, queue),
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => self.remote_unsub(id, &account, &subject, queue.as_deref()),
            RouteOp::Msg(msg) => self.routed_msg(id, &msg),
        }
    }

    /// The dialing side's `CONNECT`: a client or gateway on the wrong port, credentials,
    /// the cluster name.
    fn route_connect_received(&mut self, id: ConnId, json: &[u8]) {
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            return self.close_route_with_err(id, "Invalid CONNECT", CloseReason::ParseError);
        };
        if !connect.lang.is_empty() {
            return self.close_route_with_err(
                id,
                "attempted to connect to route port",
                CloseReason::WrongPort,
            );
        }
        if !connect.gateway.is_empty() {
            let text = format!(
                "Rejecting connection from gateway {:?} on the Route port",
                connect.gateway
            );
            self.route_log(Level::Error, id, &text);
            return self.close_route_with_err(id, &text, CloseReason::WrongPort);
        }
        if !self.route_authorized(&connect) {
            self.route_log(Level::Error, id, "Authorization Error");
            return self.close_route_with_err(
                id,
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            );
        }
        if !self.cluster_name_agrees(&connect.cluster, connect.dynamic) {
            let ours = self.cluster().name.clone();
            let text = format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                connect.cluster, ours
            );
            self.route_log(Level::Error, id, &text);
            return self.close_route_with_err(id, &text, CloseReason::ClusterNameConflict);
        }
        self.route_mut(id).auth_deadline = None;
        self.route_reschedule(id);
    }

    fn route_authorized(&self, connect: &RouteConnect) -> bool {
        let cluster = &self.opts.cluster;
        let Some(user) = &cluster.user else {
            return true;
        };
        let pass = cluster.password.as_deref().unwrap_or_default();
        crate::auth::constant_eq(user.as_bytes(), connect.user.as_bytes())
            & crate::auth::constant_eq(pass.as_bytes(), connect.pass.as_bytes())
    }

    /// The peer's `INFO`: the first one opens the route, later ones tell of other servers
    /// (gossip) or of changes at the peer.
    fn route_info_received(&mut self, id: ConnId, json: &[u8]) {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            return self.close_route_with_err(id, "Invalid INFO", CloseReason::ParseError);
        };
        let route = self.route_mut(id);
        let dial = route.dial;
        if let Some(remote) = route.remote.as_ref().map(|r| r.server_id.clone()) {
            if remote != info.server_id {
                return self.implicit_route(info);
            }
            return self.route_info_update(id, info);
        }
        if info.server_id == self.info.server_id {
            self.route_log(Level::Debug, id, "Detected route to self, ignoring");
            if let Some(dial) = dial {
                self.dial_reached_self(dial);
            }
            return self.close_route(id, CloseReason::DuplicateRoute);
        }
        if !info.cluster.is_empty() && !self.cluster_name_agrees(&info.cluster, info.dynamic) {
            return self.close_route(id, CloseReason::ClusterNameConflict);
        }
        if dial.is_none() && info.server_name == self.info.server_name {
            let text = format!("Remote server has a duplicate name: {:?}", info.server_name);
            self.route_log(Level::Error, id, &text);
            return self.close_route(id, CloseReason::DuplicateServerName);
        }
        self.route_mut(id).remote = Some(info);
        self.register_route(id);
    }

    /// Sends a PING when one is due, closes a route whose peer stopped answering or never
    /// sent `CONNECT`.
    pub(super) fn route_timer(&mut self, now: Instant, id: ConnId) {
        let ping_interval = self.opts.ping_interval;
        let ping_max = self.opts.ping_max;
        let Some(route) = self.cluster.as_mut().and_then(|c| c.routes.get_mut(&id)) else {
            return;
        };
        route.timer_key = None;
        if route.auth_deadline.is_some_and(|d| d <= now) {
            return self.close_route_with_err(
                id,
                "Authentication Timeout",
                CloseReason::AuthenticationTimeout,
            );
        }
        if route.next_ping <= now {
            if route.pings_out + 1 > ping_max {
                return self.close_route_with_err(
                    id,
                    "Stale Connection",
                    CloseReason::StaleConnection,
                );
            }
            route.pings_out += 1;
            route.ping_sent = Some(now);
            route.next_ping = now + ping_interval;
            route.out.push_slice(b"PING\r\n");
            self.queue_route_transmit(id);
        }
        self.route_reschedule(id);
    }

    fn route_reschedule(&mut self, id: ConnId) {
        let route = self.route_mut(id);
        let at = route.next_timer();
        if route.timer_key == Some(at) {
            return;
        }
        let old = route.timer_key.replace(at);
        if let Some(old) = old {
            self.timers.remove(&(old, id));
        }
        self.timers.insert((at, id));
    }

    pub(super) fn queue_route_transmit(&mut self, id: ConnId) {
        if self.route_mut(id).mark_transmit() {
            self.outputs.push_back(Output::Transmit(id));
        }
    }

    pub(super) fn route_take_outbound(&mut self, id: ConnId, out: &mut Vec<Bytes>) {
        let route = self.route_mut(id);
        route.in_flight += route.out.len();
        route.out.drain_into(out);
        route.transmit_queued = false;
    }

    pub(super) fn route_written(&mut self, id: ConnId, n: usize) {
        let route = self.route_mut(id);
        route.in_flight = route.in_flight.saturating_sub(n);
    }

    fn close_route_with_err(&mut self, id: ConnId, text: &str, reason: CloseReason) {
        encode_err(&mut self.route_mut(id).out, text);
        self.close_route(id, reason);
    }

    /// Forgets a route: its peer's interest goes, and a route this side dialed is dialed
    /// again unless its server is still reachable through another.
    pub(super) fn close_route(&mut self, id: ConnId, reason: CloseReason) {
        let Some(mut route) = self.cluster_mut().routes.remove(&id) else {
            return;
        };
        if let Some(at) = route.timer_key {
            self.timers.remove(&(at, id));
        }
        for (slot, sub) in route.drain_subs() {
            let r = super::SubRef { conn: id, slot };
            self.accounts[sub.account]
                .routed
                .remove(&sub.subject, sub.queue.as_deref(), r);
        }
        let mut last = Vec::new();
        route.out.drain_into(&mut last);
        self.outputs.push_back(Output::Close { conn: id, last });
        let text = format!(
            "{} - Router connection closed: {reason}",
            route.log_prefix()
        );
        self.outputs.push_back(Output::Log {
            level: Level::Info,
            text,
        });
        self.route_closed(&route, reason);
        self.jetstream_interest_changed();
    }

    pub(super) fn route_log(&mut self, level: Level, id: ConnId, msg: &str) {
        let enabled = match level {
            Level::Trace => self.opts.trace,
            Level::Debug => self.opts.debug,
            _ => true,
        };
        if !enabled {
            return;
        }
        if let Some(route) = self.cluster.as_ref().and_then(|c| c.routes.get(&id)) {
            let text = format!("{} - {msg}", route.log_prefix());
            self.outputs.push_back(Output::Log { level, text });
        }
    }

    fn route_trace_in(&mut self, id: ConnId, op: &RouteOp) {
        let s = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        let line = match op {
            RouteOp::Info(j) => format!("INFO {}", s(j)),
            RouteOp::Connect(j) => format!("CONNECT {}", super::connect::redacted(&s(j))),
            RouteOp::Ping => "PING".into(),
            RouteOp::Pong => "PONG".into(),
            RouteOp::Ok => "OK".into(),
            RouteOp::Err(t) => format!("-ERR {}", s(t)),
            RouteOp::AccountInterest => "A+".into(),
            RouteOp::Sub {
                account,
                subject,
                queue,
            } => match queue {
                Some((q, w)) => format!("RS+ {} {} {} {w}", s(account), s(subject), s(q)),
                None => format!("RS+ {} {}", s(account), s(subject)),
            },
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => match queue {
                Some(q) => format!("RS- {} {} {}", s(account), s(subject), s(q)),
                None => format!("RS- {} {}", s(account), s(subject)),
            },
            RouteOp::Msg(m) => format!(
                "RMSG {} {} {}",
                String::from_utf8_lossy(m.account()),
                String::from_utf8_lossy(m.subject()),
                m.payload.len()
            ),
        };
        self.route_log(Level::Trace, id, &format!("<<- [{line}]"));
    }
}
