//! The cluster as this server sees it: the routes it dials and keeps dialing, the one
//! route it keeps to each other server, what it learns of new servers through gossip, and
//! the addresses it gives clients so they can fail over.
//!
//! Dialing is decided here, carried out by the shell: [`Output::DialRoute`] asks for a
//! connection, [`Node::route_dialed`] or [`Node::route_dial_failed`] reports how it went,
//! and redials wait for [`Node::tick`], so the simulator runs the same schedule.

use std::collections::BTreeMap;
use std::time::Duration;

use super::route::Route;
use super::{CloseReason, ConnId, Level, Node, Output};
use crate::hash::FixedMap;
use crate::route::{info, RouteConnect, RouteInfo, RouteUrl};
use crate::time::Instant;

/// The pause between two attempts to dial a route (the reference's
/// `DEFAULT_ROUTE_CONNECT`).
const REDIAL: Duration = Duration::from_secs(1);
/// A random extra pause before redialing a route that closed, so two servers that dialed
/// each other at once do not keep colliding.
const REDIAL_JITTER_MS: usize = 100;
/// A failing first dial is logged as an error on the first attempt and then once per
/// this many attempts (debug in between), as the reference does.
const DIAL_ERROR_REPORTS: u32 = 3600;

/// One peer this server dials.
#[derive(Debug)]
pub(super) struct Dial {
    pub url: RouteUrl,
    /// From the configuration (dialed for ever), or learned through gossip.
    pub explicit: bool,
    pub attempts: u32,
    /// When to dial next; `None` while a dial is under way, while connected, or for good.
    pub due: Option<Instant>,
    /// A dial is under way (the shell has not answered yet).
    pub dialing: bool,
    /// The route it made, while open.
    pub conn: Option<ConnId>,
    /// It led back to this very server: never dialed again.
    pub is_self: bool,
    /// The server its last route led to: while that server stays connected through the
    /// route it dialed itself, this dial rests, and it takes over when that route goes.
    pub reached: Option<String>,
}

/// Cluster-wide state; present when clustering is configured.
pub(super) struct Cluster {
    pub name: String,
    /// The name was made up here, and gives way to a peer's.
    pub dynamic: bool,
    /// This server's `INFO` for routes.
    pub info: RouteInfo,
    pub routes: FixedMap<ConnId, Route>,
    /// The registered route to each server, by server id.
    pub remotes: BTreeMap<String, ConnId>,
    pub dials: Vec<Dial>,
    /// The addresses clients can reach this server at.
    pub own_urls: Vec<String>,
    /// The port the route listener is bound to (0 until started).
    pub listen_port: u16,
    /// The server is shutting down: nothing is redialed.
    pub stopping: bool,
}

impl Node {
    /// Sets up clustering from the options (called by [`Node::new`]); nothing is dialed
    /// before [`Node::start_cluster`].
    pub(super) fn enable_cluster(&mut self) {
        let opts = &self.opts.cluster;
        let (name, dynamic) = match &opts.name {
            Some(n) => (n.clone(), false),
            None => {
                let mut raw = [0u8; 16];
                self.rng.fill(&mut raw);
                (dynamic_name(raw), true)
            }
        };
        let info = RouteInfo {
            server_id: self.info.server_id.clone(),
            server_name: self.info.server_name.clone(),
            version: self.info.version.clone(),
            proto: 1,
            go: self.info.go.clone(),
            host: opts.listen_host().to_string(),
            port: 0,
            headers: true,
            auth_required: opts.user.is_some(),
            tls_required: opts.tls.is_some(),
            tls_verify: opts.tls.is_some(),
            max_payload: self.opts.max_payload as i64,
            jetstream: self.info.jetstream,
            cluster: name.clone(),
            dynamic,
            lnoc: true,
            ..RouteInfo::default()
        };
        let dials = opts
            .routes
            .iter()
            .map(|url| Dial {
                url: url.clone(),
                explicit: true,
                attempts: 0,
                due: None,
                dialing: false,
                conn: None,
                is_self: false,
                reached: None,
            })
            .collect();
        self.info.cluster = Some(name.clone());
        self.cluster = Some(Box::new(Cluster {
            name,
            dynamic,
            info,
            routes: FixedMap::default(),
            remotes: BTreeMap::new(),
            dials,
            own_urls: Vec::new(),
            listen_port: 0,
            stopping: false,
        }));
    }

    /// The route listener is up on `route_port`, and clients can reach this server at
    /// `client_urls` (`host:port` each): start dialing the configured routes.
    pub fn start_cluster(&mut self, now: Instant, route_port: u16, client_urls: Vec<String>) {
        self.now = now;
        let advertise = self.opts.cluster.advertise.clone();
        let no_advertise = self.opts.cluster.no_advertise;
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        cluster.info.port = route_port;
        cluster.listen_port = route_port;
        if let Some(adv) = advertise {
            if let Ok(u) = RouteUrl::parse(&adv) {
                cluster.info.ip = format!("nats-route://{}/", u.address());
                cluster.info.host = u.host;
                cluster.info.port = u.port;
            }
        }
        if !no_advertise {
            cluster.info.connect_urls = client_urls.clone();
        }
        cluster.own_urls = client_urls;
        for dial in &mut cluster.dials {
            dial.due = Some(now);
        }
        let name = cluster.name.clone();
        let dynamic = cluster.dynamic;
        self.log_server(Level::Info, &format!("Cluster name is {name}"));
        if dynamic {
            self.log_server(
                Level::Warn,
                "Cluster name was dynamically generated, consider setting one",
            );
        }
        if self.opts.jetstream {
            // Said plainly rather than left to be found out: two JetStream servers in one
            // cluster would both answer the API and both store what is published.
            self.log_server(
                Level::Warn,
                "JetStream is not replicated across a cluster by rnats yet: this server \
                 serves its own streams to the whole cluster; enable JetStream on one server only",
            );
        }
        self.update_client_urls();
        self.cluster_tick(now);
    }

    pub(super) fn cluster(&self) -> &Cluster {
        self.cluster.as_deref().expect("clustering is enabled")
    }

    pub(super) fn cluster_mut(&mut self) -> &mut Cluster {
        self.cluster.as_deref_mut().expect("clustering is enabled")
    }

    /// When the next dial is due.
    pub(super) fn cluster_timeout(&self) -> Option<Instant> {
        let cluster = self.cluster.as_ref()?;
        cluster.dials.iter().filter_map(|d| d.due).min()
    }

    /// Asks the shell for the dials that are due.
    pub(super) fn cluster_tick(&mut self, now: Instant) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        for (i, dial) in cluster.dials.iter_mut().enumerate() {
            if dial.due.is_some_and(|d| d <= now) {
                dial.due = None;
                dial.dialing = true;
                dial.attempts += 1;
                self.outputs.push_back(Output::DialRoute {
                    dial: i,
                    address: dial.url.address(),
                });
            }
        }
    }

    /// A dial failed (refused, unreachable, timed out): try again later, for ever for a
    /// configured route, `connect_retries` times for one learned through gossip.
    pub fn route_dial_failed(&mut self, now: Instant, dial: usize, error: &str) {
        self.now = now;
        let retries = self.opts.cluster.connect_retries;
        let Some(d) = self.cluster.as_mut().and_then(|c| c.dials.get_mut(dial)) else {
            return;
        };
        d.dialing = false;
        let attempts = d.attempts;
        let level = if attempts == 1 || attempts % DIAL_ERROR_REPORTS == 0 {
            Level::Error
        } else {
            Level::Debug
        };
        if d.explicit || attempts <= retries {
            d.due = Some(now + REDIAL);
        }
        let text = format!("Error trying to connect to route (attempt {attempts}): {error}");
        self.log_server(level, &text);
    }

    pub(super) fn dial_connected(&mut self, dial: usize, id: ConnId) {
        if let Some(d) = self.cluster_mut().dials.get_mut(dial) {
            d.conn = Some(id);
            d.dialing = false;
            d.attempts = 0;
        }
    }

    pub(super) fn dial_reached_self(&mut self, dial: usize) {
        if let Some(d) = self.cluster_mut().dials.get_mut(dial) {
            d.is_self = true;
        }
    }

    /// The `CONNECT` for a route made by `dial`: the URL's credentials, or the cluster's.
    pub(super) fn route_connect(&self, dial: usize) -> RouteConnect {
        let cluster = self.cluster();
        let url = cluster.dials.get(dial).map(|d| &d.url);
        let (user, pass) = match url.and_then(|u| u.user.clone()) {
            Some(user) => (user, url.and_then(|u| u.password.clone())),
            None => (
                self.opts.cluster.user.clone().unwrap_or_default(),
                self.opts.cluster.password.clone(),
            ),
        };
        RouteConnect {
            echo: true,
            user,
            pass: pass.unwrap_or_default(),
            tls_required: self.opts.cluster.tls.is_some(),
            headers: true,
            name: self.info.server_id.clone(),
            cluster: cluster.name.clone(),
            dynamic: cluster.dynamic,
            lnoc: true,
            ..RouteConnect::default()
        }
    }

    /// Whether a peer's cluster name is acceptable. A made-up name gives way to a
    /// configured one, or to a made-up one that sorts higher, as in the reference; the
    /// other routes then go (they were of the old name).
    pub(super) fn cluster_name_agrees(&mut self, theirs: &str, their_dynamic: bool) -> bool {
        let cluster = self.cluster_mut();
        if cluster.name == theirs {
            return true;
        }
        if !(cluster.dynamic && (!their_dynamic || cluster.name.as_str() < theirs)) {
            return false;
        }
        cluster.name = theirs.to_string();
        cluster.info.cluster = theirs.to_string();
        self.log_server(Level::Info, &format!("Cluster name updated to {theirs}"));
        let cluster = self.cluster_mut();
        cluster.dynamic = their_dynamic;
        cluster.info.dynamic = their_dynamic;
        self.info.cluster = Some(theirs.to_string());
        let others: Vec<ConnId> = self.cluster().remotes.values().copied().collect();
        for id in others {
            self.close_route(id, CloseReason::ClusterNameConflict);
        }
        true
    }

    /// Makes route `id` the one to its server, unless it already has one. Two servers
    /// that dial each other at once end up with two routes; both keep the one dialed by
    /// the server with the smaller id, so they agree without talking about it.
    pub(super) fn register_route(&mut self, id: ConnId) {
        let me = self.info.server_id.clone();
        let cluster = self.cluster_mut();
        let route = &cluster.routes[&id];
        let remote = route.remote_id().expect("INFO received").to_string();
        let dialer = |r: &Route| if r.dial.is_some() { &me } else { &remote };
        if let Some(&existing) = cluster.remotes.get(&remote) {
            let old = &cluster.routes[&existing];
            let keep_new =
                dialer(route) != dialer(old) && *dialer(route) == me.clone().min(remote.clone());
            let text = format!("Detected duplicate remote route {remote:?}");
            if !keep_new {
                self.route_log(Level::Debug, id, &text);
                return self.close_route(id, CloseReason::DuplicateRoute);
            }
            self.route_log(Level::Debug, existing, &text);
            let cluster = self.cluster_mut();
            cluster.remotes.insert(remote.clone(), id);
            cluster.routes.get_mut(&id).expect("live").registered = true;
            self.close_route(existing, CloseReason::DuplicateRoute);
        } else {
            cluster.remotes.insert(remote.clone(), id);
            cluster.routes.get_mut(&id).expect("live").registered = true;
        }
        self.route_log(
            Level::Debug,
            id,
            &format!("Registering remote route {remote:?}"),
        );
        self.send_interest(id);
        self.gossip_new_route(id);
        self.update_client_urls();
    }

    /// Tells every other registered route about the server behind route `id`, so they
    /// dial it and the cluster becomes a full mesh.
    fn gossip_new_route(&mut self, id: ConnId) {
        let cluster = self.cluster();
        let route = &cluster.routes[&id];
        let mut info = route.remote.clone().expect("INFO received");
        if info.ip.is_empty() {
            info.ip = format!("nats-route://{}/", peer_route_address(route, &info));
        }
        info.nonce.clear();
        let line = info::line("INFO", &info);
        let others: Vec<ConnId> = cluster
            .remotes
            .values()
            .copied()
            .filter(|&r| r != id)
            .collect();
        for other in others {
            self.route_mut(other).out.push_slice(&line);
            self.queue_route_transmit(other);
        }
    }

    /// Another server's `INFO`, forwarded by a peer: dial it, unless it is this server,
    /// already connected, configured (dialed anyway) or being dialed (a dial given up on
    /// is taken up again).
    pub(super) fn implicit_route(&mut self, info: RouteInfo) {
        if info.server_id == self.info.server_id {
            return;
        }
        let now = self.now;
        let user = self.opts.cluster.user.clone();
        let password = self.opts.cluster.password.clone();
        let cluster = self.cluster_mut();
        if cluster.remotes.contains_key(&info.server_id) {
            return;
        }
        let target = if info.ip.is_empty() {
            RouteUrl::parse(&format!("{}:{}", info.host, info.port))
        } else {
            RouteUrl::parse(&info.ip)
        };
        let Ok(mut url) = target else {
            return;
        };
        if info.auth_required {
            url.user = user;
            url.password = password;
        }
        self.dial_implicit(url, now, &info.server_id);
        self.cluster_tick(now);
    }

    /// Dials `url`, a route learned through gossip to server `server`, at `due`, unless a
    /// dial of that address is configured (dialed anyway), due, under way, or connected
    /// to that server. One given up on is taken up again; one whose route still leads to
    /// another server (the one that was there before, gone but not yet noticed) does not
    /// stand in the way: the new server is dialed alongside.
    fn dial_implicit(&mut self, url: RouteUrl, due: Instant, server: &str) {
        let cluster = self.cluster_mut();
        let address = url.address();
        let leads_elsewhere = |c: ConnId| {
            let remote = cluster.routes.get(&c).and_then(|r| r.remote_id());
            remote.is_some_and(|r| r != server)
        };
        let mut idle = None;
        for (i, d) in cluster.dials.iter().enumerate() {
            if d.url.address() != address {
                continue;
            }
            let busy = d.dialing || d.due.is_some() || d.conn.is_some_and(|c| !leads_elsewhere(c));
            if d.explicit || d.is_self || busy {
                return;
            }
            if d.conn.is_none() {
                idle = Some(i);
            }
        }
        match idle {
            Some(i) => cluster.dials[i].due = Some(due),
            None => cluster.dials.push(Dial {
                url,
                explicit: false,
                attempts: 0,
                due: Some(due),
                dialing: false,
                conn: None,
                is_self: false,
                reached: None,
            }),
        }
    }

    /// A later `INFO` from a route's own server: its client URLs changed, or it entered
    /// lame duck mode (then its clients are not sent there).
    pub(super) fn route_info_update(&mut self, id: ConnId, info: RouteInfo) {
        let route = self.route_mut(id);
        if let Some(remote) = route.remote.as_mut() {
            remote.connect_urls = if info.ldm {
                Vec::new()
            } else {
                info.connect_urls
            };
        }
        self.update_client_urls();
    }

    /// What a closed route leaves behind: its server's client URLs go, and the route is
    /// dialed again unless its server is still connected another way. A configured one
    /// for ever (also one that rested while the other server's own route to here was
    /// up). One learned through gossip after it lost a collision with the route the other
    /// server dialed (the other one may have gone too), or, as in the reference, by the
    /// server with the smaller id (whichever side dialed it, so one of the two always
    /// does), `connect_retries` more times if that fails.
    pub(super) fn route_closed(&mut self, route: &Route, reason: CloseReason) {
        let now = self.now;
        let jitter = Duration::from_millis(self.rng.below(REDIAL_JITTER_MS) as u64);
        let me = self.info.server_id.clone();
        let cluster = self.cluster_mut();
        let remote = route.remote_id().map(str::to_string);
        if let Some(r) = &remote {
            if cluster.remotes.get(r) == Some(&route.id) {
                cluster.remotes.remove(r);
            }
        }
        let still_connected = remote
            .as_ref()
            .is_some_and(|r| cluster.remotes.contains_key(r));
        let retry = route.registered && remote.as_ref().is_some_and(|r| me < *r);
        let stopping = cluster.stopping;
        match route.dial.and_then(|d| cluster.dials.get_mut(d)) {
            Some(d) => {
                d.conn = None;
                d.reached.clone_from(&remote);
                let redial = d.explicit || reason == CloseReason::DuplicateRoute || retry;
                if redial && !d.is_self && !still_connected && !stopping {
                    let pause = if d.explicit || retry {
                        REDIAL
                    } else {
                        Duration::ZERO
                    };
                    d.due = Some(now + jitter + pause);
                }
            }
            None if retry && !still_connected && !stopping => {
                let info = route.remote.as_ref().expect("registered");
                let address = peer_route_address(route, info);
                if let Ok(mut url) = RouteUrl::parse(&address) {
                    if info.auth_required {
                        url.user = self.opts.cluster.user.clone();
                        url.password = self.opts.cluster.password.clone();
                    }
                    self.dial_implicit(url, now + jitter + REDIAL, &info.server_id);
                }
            }
            None => {}
        }
        // A configured route that gave way to this one (the other server dialed it)
        // takes over.
        let cluster = self.cluster_mut();
        if route.registered && !still_connected && !stopping {
            let rested = cluster.dials.iter_mut().filter(|d| {
                d.explicit && !d.is_self && !d.dialing && d.conn.is_none() && d.due.is_none()
            });
            for d in rested.filter(|d| d.reached.is_some() && d.reached == remote) {
                d.due = Some(now + jitter + REDIAL);
            }
        }
        if route.registered {
            self.update_client_urls();
        }
    }

    /// Recomputes the addresses clients are given (this server's, then every connected
    /// server's) and sends the new list to clients that take `INFO` updates.
    pub(super) fn update_client_urls(&mut self) {
        let Some(cluster) = self.cluster.as_ref() else {
            return;
        };
        let mut urls = cluster.own_urls.clone();
        if !self.opts.cluster.no_advertise {
            for id in cluster.remotes.values() {
                let remote = cluster.routes[id].remote.as_ref();
                for url in remote.map(|r| &r.connect_urls).into_iter().flatten() {
                    if !urls.contains(url) {
                        urls.push(url.clone());
                    }
                }
            }
        }
        if urls == self.info.connect_urls {
            return;
        }
        self.info.connect_urls = urls;
        self.send_async_info(|line| line);
    }

    /// Tells the other servers this one is going (lame duck mode), so they stop giving
    /// clients its address.
    pub(super) fn tell_routes_lame_duck(&mut self) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        cluster.info.ldm = true;
        let line = info::line("INFO", &cluster.info);
        let ids: Vec<ConnId> = cluster.remotes.values().copied().collect();
        for id in ids {
            self.route_mut(id).out.push_slice(&line);
            self.queue_route_transmit(id);
        }
    }

    /// A server-wide log line (no connection prefix).
    fn log_server(&mut self, level: Level, text: &str) {
        let enabled = match level {
            Level::Trace => self.opts.trace,
            Level::Debug => self.opts.debug,
            _ => true,
        };
        if enabled {
            self.outputs.push_back(Output::Log {
                level,
                text: text.to_string(),
            });
        }
    }

    /// Closes every route and stops dialing (server shutdown).
    pub(super) fn shutdown_routes(&mut self) {
        let Some(cluster) = self.cluster.as_mut() else {
            return;
        };
        cluster.stopping = true;
        let mut ids: Vec<ConnId> = cluster.routes.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.close_route(id, CloseReason::ServerShutdown);
        }
    }
}

/// Where the server behind `route` takes routes: the address it announced, or else the
/// one it connected from with the route port it announced.
fn peer_route_address(route: &Route, info: &RouteInfo) -> String {
    if !info.ip.is_empty() {
        if let Ok(url) = RouteUrl::parse(&info.ip) {
            return url.address();
        }
    }
    match route.peer.ip() {
        std::net::IpAddr::V6(h) => format!("[{h}]:{}", info.port),
        std::net::IpAddr::V4(h) => format!("{h}:{}", info.port),
    }
}

/// A made-up cluster name, as random as the reference's (22 characters).
fn dynamic_name(raw: [u8; 16]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}
