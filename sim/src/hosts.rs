//! Where the simulated hosts sit on the simulated network (madsim addresses, not real ones):
//! one layout for every scenario, so they stay comparable.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use madsim::runtime::{Handle, NodeHandle};

/// The client port every simulated server listens on.
pub const PORT: u16 = 4222;

/// The address of the (first) server node.
pub fn server_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), PORT)
}

/// A fresh host for client `id`.
pub fn client_host(id: u32) -> NodeHandle {
    Handle::current()
        .create_node()
        .name(format!("client{id}"))
        .ip(IpAddr::V4(Ipv4Addr::new(10, 0, 1, id as u8)))
        .build()
}
