//! TLS settings for client connections: the `tls { ... }` block of a configuration file and
//! the `--tls*` flags, as plain data.
//!
//! Loading the certificate files and running handshakes is the shell's business; the core
//! only needs to know whether TLS is on (for `INFO`) and keeps the settings for the shell.

use std::time::Duration;

use crate::conf::{Map, Value};
use crate::options::{boolean, duration, OptionError};

/// How long a client has to finish the TLS handshake, the reference's `TLS_TIMEOUT`.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// TLS for client connections.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM. Paths are used as given (relative ones from the
    /// working directory), as the reference opens them.
    pub cert_file: String,
    /// The server's private key, PEM.
    pub key_file: String,
    /// CA certificates (PEM) that client certificates must chain to when `verify` is on.
    pub ca_file: Option<String>,
    /// Require and verify a client certificate (`verify`, or `verify_and_map`).
    pub verify: bool,
    /// `verify_and_map`: verify, and take the user from the certificate. Mapping is not
    /// built yet; for now this only turns `verify` on.
    pub verify_and_map: bool,
    /// How long the handshake may take.
    pub timeout: Duration,
    /// Handshake before the server sends `INFO` (a nats-server 2.10 option; 2.9 sends
    /// `INFO` in plain text first and clients upgrade after reading it).
    pub handshake_first: bool,
}

impl TlsConfig {
    /// The settings the `--tls`, `--tlscert`, `--tlskey`, `--tlscacert` and `--tlsverify`
    /// flags give, with the reference's errors for a missing certificate or key.
    pub fn from_flags(
        cert: Option<&str>,
        key: Option<&str>,
        ca: Option<&str>,
        verify: bool,
    ) -> Result<TlsConfig, String> {
        let cert = cert
            .filter(|c| !c.is_empty())
            .ok_or("TLS Server certificate must be present and valid")?;
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or("TLS Server private key must be present and valid")?;
        Ok(TlsConfig {
            cert_file: cert.to_string(),
            key_file: key.to_string(),
            ca_file: ca.filter(|c| !c.is_empty()).map(str::to_string),
            verify,
            verify_and_map: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            handshake_first: false,
        })
    }

    /// Parses a `tls { ... }` block. `at` names the block in errors (`tls`).
    pub fn from_conf(map: &Map, at: &str) -> Result<TlsConfig, OptionError> {
        let err = |key: &str, message: &str| OptionError {
            key: if key.is_empty() {
                at.to_string()
            } else {
                format!("{at}.{key}")
            },
            message: message.to_string(),
            pos: map.position(key).cloned(),
        };
        let mut cert_file = None;
        let mut key_file = None;
        let mut ca_file = None;
        let mut verify = false;
        let mut verify_and_map = false;
        let mut timeout = DEFAULT_TLS_TIMEOUT;
        let mut handshake_first = false;
        for (key, value) in map.iter() {
            let path = |v: &Value| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(err(key, "expected a file path")),
            };
            let flag = |v: &Value| boolean(v).ok_or_else(|| err(key, "expected a boolean"));
            match key.to_ascii_lowercase().as_str() {
                "cert_file" => cert_file = Some(path(value)?),
                "key_file" => key_file = Some(path(value)?),
                "ca_file" => ca_file = Some(path(value)?),
                "verify" => verify = flag(value)?,
                "verify_and_map" => verify_and_map = flag(value)?,
                "timeout" => {
                    timeout =
                        duration(value).ok_or_else(|| err(key, "expected seconds or a duration"))?
                }
                "handshake_first" | "first" | "immediate" => handshake_first = flag(value)?,
                // Accepted for compatibility; rustls chooses its own safe suites and curves.
                "cipher_suites" | "curve_preferences" => {}
                other => {
                    let message = format!("error parsing tls config, unknown field [\"{other}\"]");
                    return Err(OptionError {
                        pos: map.position(key).cloned(),
                        ..err("", &message)
                    });
                }
            }
        }
        let (cert_file, key_file) = match (cert_file, key_file) {
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => return Err(err("", "missing 'key_file' in TLS configuration")),
            (None, _) => return Err(err("", "missing 'cert_file' in TLS configuration")),
        };
        Ok(TlsConfig {
            cert_file,
            key_file,
            ca_file,
            verify: verify || verify_and_map,
            verify_and_map,
            timeout,
            handshake_first,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<TlsConfig, OptionError> {
        let conf = crate::conf::parse(text).unwrap();
        let Some(Value::Map(m)) = conf.get("tls") else {
            panic!("no tls block")
        };
        TlsConfig::from_conf(m, "tls")
    }

    #[test]
    fn full_block() {
        let t = parse(
            "tls { cert_file: \"s.pem\", key_file: \"k.pem\", ca_file: \"ca.pem\", \
             verify: true, timeout: 0.5, handshake_first: true }",
        )
        .unwrap();
        assert_eq!(t.cert_file, "s.pem");
        assert_eq!(t.key_file, "k.pem");
        assert_eq!(t.ca_file.as_deref(), Some("ca.pem"));
        assert!(t.verify && !t.verify_and_map && t.handshake_first);
        assert_eq!(t.timeout, Duration::from_millis(500));
    }

    #[test]
    fn defaults_and_verify_and_map() {
        let t = parse("tls { cert_file: a, key_file: b, verify_and_map: true }").unwrap();
        assert!(t.verify && t.verify_and_map && !t.handshake_first);
        assert_eq!(t.timeout, DEFAULT_TLS_TIMEOUT);
        assert_eq!(t.ca_file, None);
        let t = parse("tls { cert_file: a, key_file: b, timeout: \"3s\" }").unwrap();
        assert_eq!(t.timeout, Duration::from_secs(3));
    }

    #[test]
    fn errors() {
        let e = parse("tls { cert_file: a }").unwrap_err();
        assert_eq!(e.message, "missing 'key_file' in TLS configuration");
        let e = parse("tls { key_file: a }").unwrap_err();
        assert_eq!(e.message, "missing 'cert_file' in TLS configuration");
        let e = parse("tls { cert_file: a, key_file: b, bogus: 1 }").unwrap_err();
        assert_eq!(
            e.message,
            "error parsing tls config, unknown field [\"bogus\"]"
        );
        let e = parse("tls { cert_file: a, key_file: b, verify: 3 }").unwrap_err();
        assert_eq!(e.key, "tls.verify");
        assert_eq!(e.located("f"), "f:1:34: tls.verify: expected a boolean");
        let e = parse("tls {\n cert_file: a, key_file: b\n bogus: 1 }").unwrap_err();
        assert_eq!(
            e.located("f"),
            "f:3:2: tls: error parsing tls config, unknown field [\"bogus\"]"
        );
    }

    #[test]
    fn node_info_tells_clients() {
        let mut opts = crate::options::Options::default();
        let node = crate::node::Node::new(opts.clone(), 4222, 1);
        assert!(!node.info().tls_required && !node.info().tls_verify);
        opts.tls = Some(TlsConfig::from_flags(Some("c"), Some("k"), None, false).unwrap());
        let node = crate::node::Node::new(opts.clone(), 4222, 1);
        assert!(node.info().tls_required && !node.info().tls_verify);
        opts.tls = Some(TlsConfig::from_flags(Some("c"), Some("k"), None, true).unwrap());
        let node = crate::node::Node::new(opts, 4222, 1);
        assert!(node.info().tls_required && node.info().tls_verify);
    }

    #[test]
    fn flags() {
        let t = TlsConfig::from_flags(Some("c"), Some("k"), None, true).unwrap();
        assert!(t.verify);
        assert_eq!(t.timeout, DEFAULT_TLS_TIMEOUT);
        assert_eq!(
            TlsConfig::from_flags(None, Some("k"), None, false).unwrap_err(),
            "TLS Server certificate must be present and valid"
        );
        assert_eq!(
            TlsConfig::from_flags(Some("c"), None, None, false).unwrap_err(),
            "TLS Server private key must be present and valid"
        );
    }
}
