//! Where the simulated hosts sit on the simulated network (madsim addresses, not real ones):
//! one layout for every scenario, so they stay comparable. Server `i` is `10.0.0.(i+1)`,
//! client `id` is `10.0.1.id`; each server host has its own simulated disk.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::time::Duration;

use madsim::rand::thread_rng;
use madsim::runtime::{Handle, NodeHandle};

use crate::disk::Disk;
use crate::shell::{self, NodeClock, ServerView, ShellConfig};

/// The client port every simulated server listens on.
pub const PORT: u16 = 4222;

/// The address of the first server node.
pub fn server_addr() -> SocketAddr {
    server_addr_of(0)
}

/// The address of server `i` (counting from 0).
pub fn server_addr_of(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i + 1)), PORT)
}

/// A fresh host for client `id`.
pub fn client_host(id: u32) -> NodeHandle {
    Handle::current()
        .create_node()
        .name(format!("client{id}"))
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 1, id as u8)))
        .build()
}

/// A running server host and the handles a scenario keeps on it.
pub struct ServerHost {
    /// For `kill`/`restart` and for partitioning its links ([`crate::faults::partition`]).
    pub node: NodeHandle,
    pub addr: SocketAddr,
    /// The node's stats, logs and buffered-bytes peaks; follows restarts.
    pub view: ServerView,
    /// Moves this node's clock (each node has its own, for skew and jumps).
    pub clock: NodeClock,
    /// This host's disk: it lives outside the node, so it survives `kill`/`restart`
    /// (JetStream keeps its files there, see [`crate::jsdisk`]; each host has its own).
    pub disk: Disk,
}

/// Starts server `i` at [`server_addr_of`]`(i)` with `cfg` (its port and clock are set
/// here). The node runs until killed and restarts with the same configuration.
pub fn start_server(i: u8, mut cfg: ShellConfig) -> ServerHost {
    let addr = server_addr_of(i);
    let view = ServerView::default();
    let clock = NodeClock::default();
    cfg.port = addr.port();
    cfg.host = addr.ip();
    cfg.clock = clock.clone();
    let disk = cfg.disk.clone();
    let v = view.clone();
    let node = Handle::current()
        .create_node()
        .name(format!("server{i}"))
        .ip(addr.ip())
        .init(move || shell::run(cfg.clone(), v.clone()))
        .build();
    ServerHost {
        node,
        addr,
        view,
        clock,
        disk,
    }
}

/// Power loss on a server host: kills it, drops what of its disk's unsynced writes did not
/// reach the platter (a prefix of each file's, the next torn, or a torn last one after a
/// gap: see [`Disk::crash_in_order`]), and restarts it after `down`; the restarted node
/// recovers from the disk.
pub async fn crash_server(host: &ServerHost, down: Duration) {
    Handle::current().kill(host.node.id());
    host.disk.crash_in_order(&mut thread_rng());
    madsim::time::sleep(down).await;
    Handle::current().restart(host.node.id());
}

/// Starts servers `0..n`, server `i` with `cfg(i)` (independent nodes unless their options
/// make them a cluster: see [`crate::cluster::start`]).
pub fn start_servers(n: u8, cfg: impl Fn(u8) -> ShellConfig) -> Vec<ServerHost> {
    (0..n).map(|i| start_server(i, cfg(i))).collect()
}
