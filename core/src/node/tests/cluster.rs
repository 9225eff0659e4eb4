//! Routes between nodes wired together in memory: each node's output bytes go straight to
//! the peer connection's input, dials reach the node listening on the dialed port.

use std::collections::BTreeMap;

use super::*;
use crate::route::RouteUrl;

/// A route listener port per node: node `i` listens on `7000 + i`.
fn route_port(i: usize) -> u16 {
    7000 + i as u16
}

struct Cluster {
    nodes: Vec<Node>,
    now: Instant,
    /// (node, conn) to (node, conn) for route connections, both ways.
    links: BTreeMap<(usize, ConnId), (usize, ConnId)>,
    /// What clients were sent, by (node, conn).
    sent: BTreeMap<(usize, ConnId), Vec<u8>>,
    logs: Vec<(usize, String)>,
    /// Nodes that are down: dials to them fail.
    down: Vec<usize>,
}

fn opts(i: usize, routes: &[usize]) -> Options {
    let mut o = Options {
        server_name: Some(format!("n{i}")),
        ..Options::default()
    };
    o.cluster.port = i32::from(route_port(i));
    o.cluster.name = Some("c1".into());
    o.cluster.routes = routes
        .iter()
        .map(|&r| RouteUrl::parse(&format!("127.0.0.1:{}", route_port(r))).unwrap())
        .collect();
    o
}

impl Cluster {
    /// Nodes with the given options, started (dialing) in order.
    fn new(all: Vec<Options>) -> Cluster {
        let nodes = all
            .into_iter()
            .enumerate()
            .map(|(i, o)| Node::new(o, 4222 + i as u16, 100 + i as u64))
            .collect();
        let mut c = Cluster {
            nodes,
            now: Instant::ZERO,
            links: BTreeMap::new(),
            sent: BTreeMap::new(),
            logs: Vec::new(),
            down: Vec::new(),
        };
        for i in 0..c.nodes.len() {
            let urls = vec![format!("127.0.0.1:{}", 4222 + i)];
            c.nodes[i].start_cluster(c.now, route_port(i), urls);
        }
        c.pump();
        c
    }

    /// Runs outputs and due timers until nothing is left to do.
    fn pump(&mut self) {
        loop {
            let mut busy = false;
            for i in 0..self.nodes.len() {
                while let Some(out) = self.nodes[i].poll_output() {
                    busy = true;
                    self.carry_out(i, out);
                }
            }
            if !busy {
                return;
            }
        }
    }

    fn carry_out(&mut self, i: usize, out: Output) {
        match out {
            Output::Transmit(id) => {
                let mut bufs = Vec::new();
                self.nodes[i].take_outbound(id, &mut bufs);
                let data: Vec<u8> = bufs.concat();
                self.nodes[i].written(id, data.len());
                match self.links.get(&(i, id)).copied() {
                    Some((j, peer)) => self.nodes[j].receive(self.now, peer, Bytes::from(data)),
                    None => self.sent.entry((i, id)).or_default().extend(data),
                }
            }
            Output::Close { conn, last } => {
                if let Some((j, peer)) = self.links.remove(&(i, conn)) {
                    self.links.remove(&(j, peer));
                    let data: Vec<u8> = last.concat();
                    self.nodes[j].receive(self.now, peer, Bytes::from(data));
                    self.nodes[j].closed(peer, CloseReason::ClientClosed);
                }
            }
            Output::Log { text, .. } => self.logs.push((i, text)),
            Output::DialRoute { dial, address } => {
                let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
                let j = (port - 7000) as usize;
                if self.down.contains(&j) || j >= self.nodes.len() {
                    self.nodes[i].route_dial_failed(self.now, dial, "connection refused");
                    return;
                }
                let from: std::net::SocketAddr = format!("127.0.0.1:{}", 9000 + i).parse().unwrap();
                let to: std::net::SocketAddr = address.parse().unwrap();
                let accepted = self.nodes[j].accept_route(self.now, from);
                let dialed = self.nodes[i].route_dialed(self.now, dial, to);
                self.links.insert((i, dialed), (j, accepted));
                self.links.insert((j, accepted), (i, dialed));
            }
            other => panic!("unexpected output {other:?}"),
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        for n in &mut self.nodes {
            n.tick(self.now);
        }
        self.pump();
    }

    fn client(&mut self, i: usize) -> ConnId {
        let id = self.nodes[i].accept(self.now, "127.0.0.1:5000".parse().unwrap());
        self.pump();
        self.send(
            i,
            id,
            "CONNECT {\"verbose\":false,\"protocol\":1,\"headers\":true}\r\n",
        );
        self.take(i, id);
        id
    }

    fn send(&mut self, i: usize, id: ConnId, text: &str) {
        self.nodes[i].receive(self.now, id, Bytes::copy_from_slice(text.as_bytes()));
        self.pump();
    }

    fn take(&mut self, i: usize, id: ConnId) -> String {
        String::from_utf8(self.sent.remove(&(i, id)).unwrap_or_default()).unwrap()
    }

    /// How many routes each node has registered.
    fn mesh(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .map(|n| n.cluster().remotes.len())
            .collect()
    }

    /// Takes a node down: every route to it closes.
    fn crash(&mut self, j: usize) {
        self.down.push(j);
        let links: Vec<_> = self.links.iter().map(|(&a, &b)| (a, b)).collect();
        for ((a, ca), (b, cb)) in links {
            if a == j {
                self.links.remove(&(a, ca));
                self.links.remove(&(b, cb));
                self.nodes[b].closed(cb, CloseReason::ReadError);
            }
        }
        self.pump();
    }
}

#[test]
fn one_seed_makes_a_full_mesh() {
    // Node 0 is the seed; 1 and 2 know only it.
    let mut c = Cluster::new(vec![opts(0, &[]), opts(1, &[0]), opts(2, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [2, 2, 2], "{:?}", c.logs);
    // Clients of any node are told where the others are.
    let a = c.client(0);
    c.send(0, a, "PING\r\n");
    let info = c.nodes[0].info().connect_urls.clone();
    assert_eq!(info, ["127.0.0.1:4222", "127.0.0.1:4223", "127.0.0.1:4224"]);
}

#[test]
fn messages_cross_once_and_queue_groups_pick_one_member() {
    let mut c = Cluster::new(vec![opts(0, &[1, 2]), opts(1, &[0, 2]), opts(2, &[0, 1])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [2, 2, 2]);
    let subs: Vec<ConnId> = (0..3).map(|i| c.client(i)).collect();
    for (i, &s) in subs.iter().enumerate() {
        c.send(
            i,
            s,
            "SUB foo.* 1\r\nSUB foo.> 2\r\nSUB work grp 3\r\nPING\r\n",
        );
        c.take(i, s);
    }
    let p = c.client(1);
    c.send(1, p, "PUB foo.bar 2\r\nhi\r\n");
    for work in 0..30 {
        let _ = work;
        c.send(1, p, "PUB work 1\r\nx\r\n");
    }
    let got: Vec<String> = (0..3).map(|i| c.take(i, subs[i])).collect();
    for g in &got {
        // Both matching subscriptions see it, once each, wherever they are.
        assert_eq!(g.matches("MSG foo.bar 1 2").count(), 1, "{g}");
        assert_eq!(g.matches("MSG foo.bar 2 2").count(), 1, "{g}");
    }
    // The queue group has a member on the publisher's node: it serves every message.
    let work: Vec<usize> = got
        .iter()
        .map(|g| g.matches("MSG work 3").count())
        .collect();
    assert_eq!(work, [0, 30, 0]);
    // Without a local member, the group is served across the cluster, each message once.
    c.send(1, subs[1], "UNSUB 3\r\nPING\r\n");
    for _ in 0..40 {
        c.send(1, p, "PUB work 1\r\nx\r\n");
    }
    let work: Vec<usize> = (0..3)
        .map(|i| c.take(i, subs[i]).matches("MSG work 3").count())
        .collect();
    assert_eq!(work[0] + work[2], 40, "{work:?}");
    assert!(work[0] > 0 && work[2] > 0 && work[1] == 0, "{work:?}");
}

#[test]
fn request_reply_and_no_responders_across_nodes() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    let svc = c.client(1);
    c.send(1, svc, "SUB svc 1\r\nPING\r\n");
    c.take(1, svc);
    let req = c.client(0);
    c.send(
        0,
        req,
        "CONNECT {\"verbose\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true}\r\nSUB _INBOX.a 9\r\nPUB svc _INBOX.a 1\r\n?\r\n",
    );
    assert_eq!(c.take(1, svc), "MSG svc 1 _INBOX.a 1\r\n?\r\n");
    c.send(1, svc, "HPUB _INBOX.a 12 14\r\nNATS/1.0\r\n\r\nok\r\n");
    assert_eq!(
        c.take(0, req),
        "HMSG _INBOX.a 9 12 14\r\nNATS/1.0\r\n\r\nok\r\n"
    );
    // Nobody anywhere: the requester hears so at once.
    c.send(0, req, "PUB nobody _INBOX.a 0\r\n\r\n");
    assert!(c.take(0, req).contains("NATS/1.0 503"));
}

#[test]
fn interest_goes_when_subscribers_and_routes_go() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    let s = c.client(1);
    c.send(1, s, "SUB a 1\r\nSUB a 2\r\nPING\r\n");
    assert_eq!(
        c.nodes[0].accounts[0].routed.count(),
        1,
        "one announcement per subject"
    );
    c.send(1, s, "UNSUB 1\r\nPING\r\n");
    assert_eq!(c.nodes[0].accounts[0].routed.count(), 1);
    c.send(1, s, "UNSUB 2\r\nPING\r\n");
    assert_eq!(c.nodes[0].accounts[0].routed.count(), 0);
    c.send(1, s, "SUB b 3\r\nPING\r\n");
    assert_eq!(c.nodes[0].accounts[0].routed.count(), 1);
    c.crash(1);
    assert_eq!(c.nodes[0].accounts[0].routed.count(), 0);
    assert_eq!(c.mesh()[0], 0);
}

#[test]
fn a_configured_route_is_redialed_until_its_server_returns() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [1, 1]);
    c.crash(1);
    assert_eq!(c.mesh()[0], 0);
    for _ in 0..3 {
        c.advance(Duration::from_secs(1));
    }
    let errors = c
        .logs
        .iter()
        .filter(|(i, t)| *i == 0 && t.contains("Error trying to connect to route"))
        .count();
    assert!(errors >= 1, "{:?}", c.logs);
    // It comes back (a fresh node with the same port).
    c.down.clear();
    c.nodes[1] = Node::new(opts(1, &[]), 4223, 999);
    c.nodes[1].start_cluster(c.now, route_port(1), vec![]);
    c.advance(Duration::from_secs(2));
    assert_eq!(c.mesh(), [1, 1], "{:?}", c.logs);
}

#[test]
fn dialing_each_other_at_once_leaves_one_route() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [1, 1]);
    for _ in 0..5 {
        c.advance(Duration::from_secs(1));
    }
    assert_eq!(c.mesh(), [1, 1]);
    let open = |n: &Node| n.cluster().routes.len();
    assert_eq!(
        (open(&c.nodes[0]), open(&c.nodes[1])),
        (1, 1),
        "{:?}",
        c.logs
    );
    // Messages still flow after the duplicate went.
    let s = c.client(0);
    c.send(0, s, "SUB x 1\r\nPING\r\n");
    c.take(0, s);
    let p = c.client(1);
    c.send(1, p, "PUB x 1\r\n!\r\n");
    assert_eq!(c.take(0, s), "MSG x 1 1\r\n!\r\n");
}

#[test]
fn a_route_to_itself_is_dropped_and_not_redialed() {
    let mut c = Cluster::new(vec![opts(0, &[0])]);
    c.advance(Duration::from_secs(5));
    assert_eq!(c.mesh(), [0]);
    let created = c
        .logs
        .iter()
        .filter(|(_, t)| t.contains("Route connection created"))
        .count();
    assert_eq!(created, 2, "one dial, one accept: {:?}", c.logs);
}

#[test]
fn another_cluster_name_or_bad_credentials_are_refused() {
    let mut other = opts(1, &[0]);
    other.cluster.name = Some("c2".into());
    let mut c = Cluster::new(vec![opts(0, &[]), other]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [0, 0]);
    assert!(c
        .logs
        .iter()
        .any(|(_, t)| t.contains("cluster name \"c2\" does not match \"c1\"")));

    let mut secured = opts(0, &[]);
    secured.cluster.user = Some("ruser".into());
    secured.cluster.password = Some("pwd".into());
    let mut c = Cluster::new(vec![secured.clone(), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [0, 0]);
    let mut good = opts(1, &[]);
    good.cluster.routes = vec![RouteUrl::parse("nats-route://ruser:pwd@127.0.0.1:7000").unwrap()];
    let mut c = Cluster::new(vec![secured, good]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [1, 1]);
}

#[test]
fn a_made_up_cluster_name_gives_way() {
    let mut dynamic = opts(1, &[0]);
    dynamic.cluster.name = None;
    let mut c = Cluster::new(vec![opts(0, &[]), dynamic]);
    // As in the reference: the first route is refused for its made-up name, which the
    // dialer then drops for the seed's, and the redial gets in.
    c.advance(Duration::from_secs(2));
    assert_eq!(c.mesh(), [1, 1]);
    assert_eq!(c.nodes[1].cluster_name(), Some("c1"));
}

#[test]
fn headers_and_large_payloads_cross_in_pieces() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    let s = c.client(1);
    c.send(1, s, "SUB big 1\r\nPING\r\n");
    c.take(1, s);
    let p = c.client(0);
    let payload = "z".repeat(100_000);
    c.send(0, p, &format!("PUB big {}\r\n{payload}\r\n", payload.len()));
    let got = c.take(1, s);
    assert_eq!(got, format!("MSG big 1 {}\r\n{payload}\r\n", payload.len()));
}

#[test]
fn a_server_in_lame_duck_mode_is_no_longer_offered_to_clients() {
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.nodes[0].info().connect_urls.len(), 2);
    let client = c.client(0);
    c.nodes[1].enter_lame_duck(c.now);
    c.pump();
    assert_eq!(c.nodes[0].info().connect_urls, ["127.0.0.1:4222"]);
    // Its clients that take updates are told at once.
    let update = c.take(0, client);
    assert!(
        update.starts_with("INFO ") && !update.contains("4223"),
        "{update}"
    );
}

#[test]
fn a_backed_up_route_stalls_publishers_and_is_not_cut() {
    let mut o = opts(0, &[]);
    o.max_pending = 4000;
    let mut node = Node::new(o, 4222, 1);
    let now = Instant::ZERO;
    node.start_cluster(now, 7000, vec![]);
    let route = node.accept_route(now, "127.0.0.1:9001".parse().unwrap());
    let peer = "CONNECT {\"name\":\"NPEER\",\"cluster\":\"c1\",\"headers\":true}\r\n\
        INFO {\"server_id\":\"NPEER\",\"server_name\":\"peer\",\"port\":7001,\"headers\":true,\"cluster\":\"c1\"}\r\n\
        RS+ $G x\r\n";
    node.receive(now, route, Bytes::from(peer));
    let publisher = node.accept(now, "127.0.0.1:5000".parse().unwrap());
    node.receive(
        now,
        publisher,
        Bytes::from_static(b"CONNECT {\"verbose\":false}\r\n"),
    );
    let msg = Bytes::from(format!("PUB x 1000\r\n{}\r\n", "y".repeat(1000)));
    for _ in 0..10 {
        node.receive(now, publisher, msg.clone());
    }
    // Ten times more than max_pending would allow a client: the route stays, the
    // publisher waits for it.
    assert_eq!(node.take_stall(publisher), Some(route));
    assert!(node.is_stalling(route));
    while let Some(out) = node.poll_output() {
        assert!(!matches!(out, Output::Close { .. }), "{out:?}");
    }
    let mut out = Vec::new();
    node.take_outbound(route, &mut out);
    node.written(route, out.iter().map(Bytes::len).sum());
    assert!(!node.is_stalling(route));
}

#[test]
fn imports_and_exports_reach_across_servers() {
    let accounts = crate::conf::parse(
        r#"accounts {
             ORDERS: { users: [{user: o, password: o}],
                       exports: [{stream: "events.>"}, {service: "status"}] }
             PUBLIC: { users: [{user: p, password: p}],
                       imports: [{stream: {account: ORDERS, subject: "events.>"}, prefix: ext},
                                 {service: {account: ORDERS, subject: "status"}, to: ask}] }
           }"#,
    )
    .unwrap();
    let with_accounts = |i: usize, routes: &[usize]| {
        let mut o = opts(i, routes);
        o.apply_conf(&accounts).unwrap();
        o
    };
    let mut c = Cluster::new(vec![with_accounts(0, &[1]), with_accounts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [1, 1]);
    let login = |c: &mut Cluster, i: usize, user: &str| {
        let id = c.nodes[i].accept(c.now, "127.0.0.1:5000".parse().unwrap());
        c.pump();
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n"
        );
        c.send(i, id, &connect);
        c.take(i, id);
        id
    };
    // The service answers on node 1, the requester asks on node 0.
    let service = login(&mut c, 1, "o");
    c.send(1, service, "SUB status 1\r\nPING\r\n");
    c.take(1, service);
    let public = login(&mut c, 0, "p");
    c.send(
        0,
        public,
        "SUB _INBOX.me 1\r\nSUB ext.events.> 2\r\nPING\r\n",
    );
    c.take(0, public);
    c.send(0, public, "PUB ask _INBOX.me 1\r\n?\r\n");
    let request = c.take(1, service);
    let reply = request
        .split_whitespace()
        .nth(3)
        .unwrap_or_else(|| panic!("{request}"))
        .to_string();
    assert!(reply.starts_with("_R_."), "{request}");
    c.send(1, service, &format!("PUB {reply} 2\r\nok\r\n"));
    assert_eq!(c.take(0, public), "MSG _INBOX.me 1 2\r\nok\r\n");
    // An event published in ORDERS on node 1 reaches the importer on node 0, once.
    c.send(1, service, "PUB events.new 1\r\n!\r\n");
    assert_eq!(c.take(0, public), "MSG ext.events.new 2 1\r\n!\r\n");
}

#[test]
fn route_permissions_limit_what_crosses() {
    use crate::auth::SubjectRules;
    let mut strict = opts(0, &[1]);
    // Node 0 takes only public.> from the cluster and gives nothing under secret.>.
    strict.cluster.import = Some(SubjectRules {
        allow: Some(vec!["public.>".into()]),
        deny: Vec::new(),
    });
    strict.cluster.export = Some(SubjectRules {
        allow: None,
        deny: vec!["secret.>".into()],
    });
    let mut c = Cluster::new(vec![strict, opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    let s0 = c.client(0);
    c.send(0, s0, "SUB public.a 1\r\nSUB private.a 2\r\nPING\r\n");
    c.take(0, s0);
    let s1 = c.client(1);
    c.send(1, s1, "SUB secret.a 1\r\nSUB open.a 2\r\nPING\r\n");
    c.take(1, s1);
    c.send(1, s1, "PUB public.a 1\r\n1\r\nPUB private.a 1\r\n2\r\n");
    assert_eq!(c.take(0, s0), "MSG public.a 1 1\r\n1\r\n");
    c.send(0, s0, "PUB secret.a 1\r\n3\r\nPUB open.a 1\r\n4\r\n");
    assert_eq!(c.take(1, s1), "MSG open.a 2 1\r\n4\r\n");
}

impl Cluster {
    /// Resets the route between nodes `i` and `j` (it ends on both sides, as a TCP reset
    /// does); whether there was one.
    fn reset(&mut self, i: usize, j: usize) -> bool {
        let link = self
            .links
            .iter()
            .find(|(&(a, _), &(b, _))| a == i && b == j)
            .map(|(&a, &b)| (a, b));
        let Some(((_, ci), (_, cj))) = link else {
            return false;
        };
        self.links.remove(&(i, ci));
        self.links.remove(&(j, cj));
        self.nodes[i].closed(ci, CloseReason::ReadError);
        self.nodes[j].closed(cj, CloseReason::ReadError);
        self.pump();
        true
    }
}

#[test]
fn a_route_learned_through_gossip_comes_back_after_a_reset() {
    // 1 and 2 know only the seed: their route to each other is learned through gossip.
    let mut c = Cluster::new(vec![opts(0, &[]), opts(1, &[0]), opts(2, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [2, 2, 2]);
    assert!(c.reset(1, 2));
    assert_eq!(c.mesh(), [2, 1, 1]);
    // As in the reference, the server with the smaller id dials it again (whichever side
    // dialed it before), so the mesh is whole again with nobody else's help.
    c.advance(Duration::from_secs(2));
    assert_eq!(c.mesh(), [2, 2, 2], "{:?}", c.logs);
    // And so is the traffic between them.
    let s = c.client(2);
    c.send(2, s, "SUB x 1\r\nPING\r\n");
    c.take(2, s);
    let p = c.client(1);
    c.send(1, p, "PUB x 1\r\n!\r\n");
    assert_eq!(c.take(2, s), "MSG x 1 1\r\n!\r\n");
}

#[test]
fn a_configured_route_that_gave_way_takes_over_when_the_other_goes() {
    // Both list each other: the route the smaller id dialed stays, the other server's
    // configured dial gives way to it.
    let mut c = Cluster::new(vec![opts(0, &[1]), opts(1, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [1, 1]);
    let ids: Vec<String> = c.nodes.iter().map(|n| n.info().server_id.clone()).collect();
    let (small, large) = if ids[0] < ids[1] { (0, 1) } else { (1, 0) };
    // The smaller one goes and comes back knowing no routes (a new server id): only the
    // larger one's configured route can join them again.
    c.crash(small);
    c.down.clear();
    c.nodes[small] = Node::new(opts(small, &[]), 4222 + small as u16, 999);
    c.nodes[small].start_cluster(c.now, route_port(small), vec![]);
    c.advance(Duration::from_secs(2));
    assert_eq!(c.mesh(), [1, 1], "{:?}", c.logs);
    assert!(c.nodes[large].routes()[0].did_solicit);
}

#[test]
fn gossip_about_a_restarted_server_is_dialed_while_its_old_route_lingers() {
    // Node 1 learns of node 2 from the seed and dials it.
    let mut c = Cluster::new(vec![opts(0, &[]), opts(1, &[0]), opts(2, &[0])]);
    c.advance(Duration::from_millis(10));
    assert_eq!(c.mesh(), [2, 2, 2]);
    assert!(c.nodes[1].routes().iter().all(|r| r.did_solicit));
    // Node 2 dies while cut off from node 1, which keeps its route to it open for now.
    c.down.push(2);
    let links: Vec<_> = c.links.iter().map(|(&a, &b)| (a, b)).collect();
    for ((a, ca), (b, cb)) in links {
        if a == 2 {
            c.links.remove(&(a, ca));
            c.links.remove(&(b, cb));
            if b != 1 {
                c.nodes[b].closed(cb, CloseReason::ReadError);
            }
        }
    }
    c.pump();
    // It comes back with a new id at the same address and hears of node 1 from nobody:
    // node 1 must dial it when the seed tells of it.
    c.down.clear();
    c.nodes[2] = Node::new(opts(2, &[0]), 4224, 999);
    c.nodes[2].start_cluster(c.now, route_port(2), vec![]);
    c.advance(Duration::from_millis(10));
    let new_id = c.nodes[2].info().server_id.clone();
    assert_eq!(c.mesh()[2], 2, "{:?}", c.logs);
    assert!(
        c.nodes[1].cluster().remotes.contains_key(&new_id),
        "{:?}",
        c.logs
    );
}
