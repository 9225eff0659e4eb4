//! The `cluster { ... }` block and the `--cluster`/`--routes` flags: where this server
//! listens for routes, which peers it dials, and how routes authenticate.

use std::time::Duration;

use crate::auth::conf::parse_rules;
use crate::auth::SubjectRules;
use crate::conf::{Map, Value};
use crate::options::{apply_listen, boolean, duration, int, string, unknown_fields, OptionError};
use crate::tls_config::TlsConfig;

/// The reference's default route port, used when a route URL names none.
pub const DEFAULT_ROUTE_PORT: u16 = 6222;

/// Clustering options; clustering is on when `port` is not 0.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterOptions {
    /// The cluster's name; a random one is made (and may give way to a peer's) when unset.
    pub name: Option<String>,
    /// Interface for route connections; all interfaces when empty.
    pub host: String,
    /// Route port; 0 for no clustering, -1 for a random free port.
    pub port: i32,
    /// Peers to dial and keep dialing (explicit routes).
    pub routes: Vec<RouteUrl>,
    /// Credentials peers must present (and this server presents when a route URL has none).
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long an accepted route has to send its `CONNECT`.
    pub auth_timeout: Option<Duration>,
    /// The `host:port` to tell peers to dial, instead of the listen address.
    pub advertise: Option<String>,
    /// Do not tell clients about the other servers' addresses.
    pub no_advertise: bool,
    /// How often a route learned through gossip is redialed before giving up.
    pub connect_retries: u32,
    /// TLS on every route (`cluster { tls { ... } }`): the handshake comes first, both
    /// sides present the certificate and check the other's against `ca_file`.
    pub tls: Option<TlsConfig>,
    /// `permissions { import }`: the subjects this server takes messages for from the
    /// other servers (it asks them only for these).
    pub import: Option<SubjectRules>,
    /// `permissions { export }`: the subjects the other servers may have messages for
    /// from this one (their interest in others is ignored).
    pub export: Option<SubjectRules>,
}

impl ClusterOptions {
    pub fn enabled(&self) -> bool {
        self.port != 0
    }

    /// The listen interface, as the reference defaults it.
    pub fn listen_host(&self) -> &str {
        if self.host.is_empty() {
            "0.0.0.0"
        } else {
            &self.host
        }
    }

    /// The `cluster` block of a configuration file.
    pub fn apply_conf(
        &mut self,
        map: &Map,
        warnings: &mut Vec<OptionError>,
    ) -> Result<(), OptionError> {
        let known = [
            "name",
            "listen",
            "host",
            "net",
            "port",
            "routes",
            "authorization",
            "advertise",
            "cluster_advertise",
            "no_advertise",
            "connect_retries",
            "tls",
            "permissions",
        ];
        unknown_fields(map, &known, "cluster", warnings);
        for (key, value) in map.iter() {
            let path = format!("cluster.{key}");
            let err = |message: &str| OptionError::in_map(map, key, &path, message);
            match key.to_ascii_lowercase().as_str() {
                "name" => self.name = Some(string(value).ok_or_else(|| err("expected a string"))?),
                "listen" => apply_listen(value, &mut self.host, &mut self.port)
                    .ok_or_else(|| err("expected host:port"))?,
                "host" | "net" => {
                    self.host = string(value).ok_or_else(|| err("expected a string"))?
                }
                "port" => self.port = int(value).ok_or_else(|| err("expected an integer"))? as i32,
                "routes" => {
                    let Value::Array(items) = value else {
                        return Err(err("expected an array of route URLs"));
                    };
                    for item in items {
                        let text = string(item).ok_or_else(|| err("expected a route URL"))?;
                        self.routes
                            .push(RouteUrl::parse(&text).map_err(|e| err(&e))?);
                    }
                }
                "authorization" => {
                    let Value::Map(auth) = value else {
                        return Err(err("expected a map"));
                    };
                    self.apply_authorization(auth, warnings)?;
                }
                "advertise" | "cluster_advertise" => {
                    self.advertise = Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "no_advertise" => {
                    self.no_advertise = boolean(value).ok_or_else(|| err("expected a boolean"))?
                }
                "connect_retries" => {
                    let n = int(value).ok_or_else(|| err("expected an integer"))?;
                    self.connect_retries = n.max(0) as u32;
                }
                "permissions" => {
                    let Value::Map(perms) = value else {
                        return Err(err("expected a map"));
                    };
                    for (k, v) in perms.iter() {
                        let at = format!("{path}.{k}");
                        match k.to_ascii_lowercase().as_str() {
                            "import" => self.import = Some(parse_rules(v, &at)?),
                            "export" => self.export = Some(parse_rules(v, &at)?),
                            _ => {
                                let e = "expected \"import\" or \"export\"";
                                return Err(OptionError::in_map(perms, k, &at, e));
                            }
                        }
                    }
                }
                "tls" => {
                    let Value::Map(tls) = value else {
                        return Err(err("expected a map"));
                    };
                    let tls = TlsConfig::from_conf(tls, &path)?;
                    if tls.ca_file.is_none() {
                        // Without a CA there is nothing to check a peer's certificate
                        // against, and routes must not trust any server that answers.
                        return Err(err("route TLS needs a ca_file to verify the other servers"));
                    }
                    self.tls = Some(tls);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn apply_authorization(
        &mut self,
        auth: &Map,
        warnings: &mut Vec<OptionError>,
    ) -> Result<(), OptionError> {
        let known = [
            "user", "username", "password", "pass", "timeout", "token", "users",
        ];
        unknown_fields(auth, &known, "cluster.authorization", warnings);
        let err = |key: &str, message: &str| {
            OptionError::in_map(auth, key, &format!("cluster.authorization.{key}"), message)
        };
        if auth.get("users").is_some() {
            return Err(err(
                "users",
                "Cluster authorization does not allow multiple users",
            ));
        }
        if auth.get("token").is_some() {
            return Err(err(
                "token",
                "Cluster authorization does not support tokens",
            ));
        }
        for (key, value) in auth.iter() {
            match key.to_ascii_lowercase().as_str() {
                "user" | "username" => {
                    self.user = Some(string(value).ok_or_else(|| err(key, "expected a string"))?)
                }
                "password" | "pass" => {
                    self.password =
                        Some(string(value).ok_or_else(|| err(key, "expected a string"))?)
                }
                "timeout" => {
                    self.auth_timeout =
                        Some(duration(value).ok_or_else(|| err(key, "expected seconds"))?)
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// `--cluster nats://host:port` (the route listener).
    /// A port of `-1` asks for a random one, as in the reference.
    pub fn apply_listen_url(&mut self, url: &str) -> Result<(), String> {
        let trimmed = url.trim_end_matches('/');
        let (url, random) = match trimmed.strip_suffix(":-1") {
            Some(rest) => (format!("{rest}:0"), true),
            None => (trimmed.to_string(), false),
        };
        let u = RouteUrl::parse(&url)?;
        self.host = u.host;
        self.port = if random { -1 } else { i32::from(u.port) };
        if u.user.is_some() {
            self.user = u.user;
            self.password = u.password;
        }
        Ok(())
    }

    /// `--routes url1,url2`.
    pub fn apply_routes_flag(&mut self, list: &str) -> Result<(), String> {
        self.routes = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(RouteUrl::parse)
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

/// A peer to dial: `nats-route://[user:pass@]host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteUrl {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl RouteUrl {
    /// Reads a route URL (any scheme, `nats-route://` by custom; the path is ignored).
    pub fn parse(text: &str) -> Result<RouteUrl, String> {
        let rest = text.split_once("://").map_or(text, |(_, r)| r);
        let rest = rest.split('/').next().unwrap_or_default();
        let (creds, hostport) = match rest.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, rest),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("invalid port in route URL {text:?}"))?;
                (h, port)
            }
            _ => (hostport, DEFAULT_ROUTE_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("no host in route URL {text:?}"));
        }
        let (user, password) = match creds {
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(c.to_string()), None),
            },
            None => (None, None),
        };
        Ok(RouteUrl {
            host: host.to_string(),
            port,
            user,
            password,
        })
    }

    /// `host:port`, what the shell dials.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without credentials, for logs.
    pub fn redacted(&self) -> String {
        format!("nats-route://{}", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_urls() {
        let u = RouteUrl::parse("nats-route://ruser:T0pS3cr3t@127.0.0.1:6222/").unwrap();
        assert_eq!(u.address(), "127.0.0.1:6222");
        assert_eq!(u.user.as_deref(), Some("ruser"));
        assert_eq!(u.password.as_deref(), Some("T0pS3cr3t"));
        assert_eq!(u.redacted(), "nats-route://127.0.0.1:6222");
        assert_eq!(RouteUrl::parse("nats://seed").unwrap().port, 6222);
        assert_eq!(
            RouteUrl::parse("[::1]:7000").unwrap().address(),
            "[::1]:7000"
        );
        assert!(RouteUrl::parse("nats://h:notaport").is_err());
        assert!(RouteUrl::parse("nats://:6222").is_err());
        let mut c = ClusterOptions::default();
        c.apply_listen_url("nats://127.0.0.1:-1").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", -1));
        c.apply_listen_url("nats://u:p@0.0.0.0:6250/").unwrap();
        assert_eq!((c.port, c.user.as_deref()), (6250, Some("u")));
    }

    #[test]
    fn cluster_block() {
        let text = r#"
            cluster {
              name: c1
              listen: 127.0.0.1:6250
              routes: [nats-route://127.0.0.1:6251, "nats-route://u:p@127.0.0.1:6252"]
              authorization { user: ruser, password: pwd, timeout: 0.5 }
              no_advertise: true
              connect_retries: 3
              pool_size: 3
              permissions { import: ["public.>"], export: { deny: ["secret.>"] } }
            }"#;
        let conf = crate::conf::parse(text).unwrap();
        let mut o = crate::options::Options::default();
        let warnings = o.apply_conf(&conf).unwrap();
        let c = &o.cluster;
        assert_eq!(c.name.as_deref(), Some("c1"));
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 6250));
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[1].user.as_deref(), Some("u"));
        assert_eq!(c.user.as_deref(), Some("ruser"));
        assert_eq!(c.auth_timeout, Some(Duration::from_millis(500)));
        assert!(c.no_advertise && c.enabled());
        assert_eq!(c.connect_retries, 3);
        assert!(c.import.as_ref().unwrap().allows_publish(b"public.x"));
        assert!(!c.export.as_ref().unwrap().allows_subscription(b"secret.x"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].key, "cluster.pool_size");
        let bad = crate::conf::parse("cluster { authorization { token: x } }").unwrap();
        let e = crate::options::Options::default()
            .apply_conf(&bad)
            .unwrap_err();
        assert!(e.message.contains("does not support tokens"));
        let tls = |block: &str| {
            let conf = crate::conf::parse(&format!("cluster {{ port: 1, tls {{ {block} }} }}"));
            crate::options::Options::default().apply_conf(&conf.unwrap())
        };
        assert!(tls("cert_file: x").is_err());
        let e = tls("cert_file: c, key_file: k").unwrap_err();
        assert!(e.message.contains("needs a ca_file"), "{e:?}");
        assert!(tls("cert_file: c, key_file: k, ca_file: ca").is_ok());
    }
}
