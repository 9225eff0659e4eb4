//! Routes: the connections between the servers of a cluster, in the reference's route
//! protocol (2.9's, one connection per pair of servers), so rnats and reference nodes mix.
//!
//! This module holds what is pure about them: the parser ([`parser`]), the `INFO` and
//! `CONNECT` JSON ([`info`]) and the options ([`options`]). The node drives route
//! connections (handshake, interest, forwarding, gossip) in `node/route*.rs`.

pub mod info;
pub mod options;
pub mod parser;

pub use info::{RouteConnect, RouteInfo};
pub use options::{ClusterOptions, RouteUrl, DEFAULT_ROUTE_PORT};
pub use parser::{RouteOp, RouteParseError, RouteParser, RoutedMsg};
