//! The JSON a route carries in `INFO` and `CONNECT`, field for field as the reference
//! writes and reads it (2.9.10's `Info` and route `connectInfo`), so a mixed cluster of
//! rnats and reference nodes understands itself.

use serde::{Deserialize, Serialize};

/// A server's `INFO` on a route: sent when a route opens, forwarded to other routes to
/// announce a new member (gossip), and sent again when something in it changes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: i32,
    pub go: String,
    pub host: String,
    pub port: u16,
    pub headers: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    pub max_payload: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// The route URL to reach this server at (`nats-route://host:port/`), when advertised
    /// or when forwarding a new member's INFO.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(rename = "cluster_dynamic", skip_serializing_if = "std::ops::Not::not")]
    pub dynamic: bool,
    /// The addresses clients may connect to on this server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub connect_urls: Vec<String>,
    /// The server is in lame duck mode: its clients should go elsewhere.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    /// Leaf node origin clusters understood (always true for rnats, as the reference).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lnoc: bool,
}

/// A route's `CONNECT`, sent by the side that dialed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteConnect {
    pub echo: bool,
    pub verbose: bool,
    pub pedantic: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pass: String,
    pub tls_required: bool,
    pub headers: bool,
    /// The dialing server's id.
    pub name: String,
    pub cluster: String,
    #[serde(rename = "cluster_dynamic", skip_serializing_if = "std::ops::Not::not")]
    pub dynamic: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lnoc: bool,
    /// Set by clients (never by servers): a client dialed the route port.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
    /// Set by gateways: a gateway dialed the route port.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
}

/// The protocol line carrying `value`: `VERB {json}\r\n`.
pub fn line(verb: &str, value: &impl Serialize) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(verb.as_bytes());
    out.push(b' ');
    serde_json::to_writer(&mut out, value).expect("route JSON serializes");
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_reference_info() {
        // As nats-server 2.9.10 sends it on a route.
        let json = r#"{"server_id":"NDX","server_name":"b","version":"2.9.10","proto":1,"go":"go1.19","host":"127.0.0.1","port":6223,"headers":true,"max_payload":1048576,"nonce":"abc","cluster":"c1","connect_urls":["127.0.0.1:4223"],"import":{"allow":["foo"]},"lnoc":true}"#;
        let info: RouteInfo = serde_json::from_str(json).unwrap();
        assert_eq!(info.server_id, "NDX");
        assert_eq!(info.port, 6223);
        assert_eq!(info.connect_urls, ["127.0.0.1:4223"]);
        assert!(info.lnoc && !info.dynamic);
    }

    #[test]
    fn connect_in_the_reference_shape() {
        let c = RouteConnect {
            echo: true,
            headers: true,
            name: "NID".into(),
            cluster: "c1".into(),
            lnoc: true,
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(line("CONNECT", &c)).unwrap(),
            "CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\
             \"headers\":true,\"name\":\"NID\",\"cluster\":\"c1\",\"lnoc\":true}\r\n"
        );
    }
}
