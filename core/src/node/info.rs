//! The `INFO` line a client gets on connect.

use serde::Serialize;

/// The release of the reference server whose client-facing behaviour rnats implements.
/// Clients gate features on `version`, so it names that release, not rnats's own version.
pub const REFERENCE_VERSION: &str = "2.9.10";

/// rnats's own version, for `--version`, the log and the `go` field's place in `INFO`.
pub const RNATS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The server-wide part of `INFO`, in the reference server's field order.
#[derive(Clone, Debug, Serialize)]
pub struct ServerInfo {
    pub server_id: String,
    pub server_name: String,
    pub version: String,
    pub proto: u32,
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
    pub max_payload: u64,
    /// JetStream is enabled (after `max_payload`, as the reference orders it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// The cluster's name, when clustered (after the client's fields, as the reference
    /// orders them).
    #[serde(skip)]
    pub cluster: Option<String>,
    /// Where clients can connect to the cluster, this server first.
    #[serde(skip)]
    pub connect_urls: Vec<String>,
}

/// One client's `INFO`: the server part plus what is particular to the connection.
#[derive(Serialize)]
struct ClientInfo<'a> {
    #[serde(flatten)]
    server: &'a ServerInfo,
    client_id: u64,
    client_ip: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    connect_urls: &'a [String],
}

impl ServerInfo {
    /// The full `INFO {...} \r\n` line for one client (the reference ends it with a blank
    /// before the line end, and some client parsers expect the exact shape).
    /// `nonce` is for clients that authenticate by signing it with an nkey.
    pub fn line_for(&self, client_id: u64, client_ip: &str, nonce: Option<&str>) -> Vec<u8> {
        let info = ClientInfo {
            server: self,
            client_id,
            client_ip,
            nonce,
            cluster: self.cluster.as_deref(),
            connect_urls: &self.connect_urls,
        };
        let mut line = b"INFO ".to_vec();
        serde_json::to_writer(&mut line, &info).expect("INFO serializes");
        line.extend_from_slice(b" \r\n");
        line
    }
}

/// A server id in the reference's form: the public key of a server nkey, made from 32
/// bytes of the node's seeded randomness.
pub fn server_id(random: [u8; 32]) -> String {
    nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::Server, random)
        .expect("32 random bytes make a key")
        .public_key()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_id_looks_like_the_reference() {
        let id = server_id([1; 32]);
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert_eq!(id, server_id([1; 32]));
    }

    #[test]
    fn info_line_shape() {
        let info = ServerInfo {
            server_id: "NABC".into(),
            server_name: "n".into(),
            version: REFERENCE_VERSION.into(),
            proto: 1,
            go: "x".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            auth_required: false,
            tls_required: false,
            tls_verify: false,
            max_payload: 1048576,
            jetstream: false,
            cluster: None,
            connect_urls: Vec::new(),
        };
        let line = String::from_utf8(info.line_for(7, "127.0.0.1", None)).unwrap();
        assert!(line.starts_with("INFO {\"server_id\":\"NABC\",\"server_name\":\"n\""));
        assert!(line.ends_with("\"client_id\":7,\"client_ip\":\"127.0.0.1\"} \r\n"));
        assert!(!line.contains("auth_required"));
        assert!(!line.contains("tls_"));
    }

    #[test]
    fn tls_fields_in_reference_order() {
        // As nats-server 2.9.10 with `tls { verify: true }`:
        // ..."headers":true,"tls_required":true,"tls_verify":true,"max_payload":1048576,...
        let info = ServerInfo {
            server_id: "NABC".into(),
            server_name: "n".into(),
            version: REFERENCE_VERSION.into(),
            proto: 1,
            go: "x".into(),
            host: "0.0.0.0".into(),
            port: 4222,
            headers: true,
            auth_required: true,
            tls_required: true,
            tls_verify: true,
            max_payload: 1048576,
            jetstream: false,
            cluster: None,
            connect_urls: Vec::new(),
        };
        let line = String::from_utf8(info.line_for(7, "127.0.0.1", None)).unwrap();
        assert!(line.contains(
            "\"headers\":true,\"auth_required\":true,\"tls_required\":true,\
             \"tls_verify\":true,\"max_payload\":1048576,"
        ));
        let info = ServerInfo {
            auth_required: false,
            tls_verify: false,
            ..info
        };
        let line = String::from_utf8(info.line_for(7, "127.0.0.1", None)).unwrap();
        assert!(line.contains("\"headers\":true,\"tls_required\":true,\"max_payload\":"));
    }
}
