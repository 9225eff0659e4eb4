//! Server options: the reference server's defaults, and how a configuration file sets them.
//!
//! The command line is the shell's business; it starts from [`Options::default`], applies a
//! config file with [`Options::apply_conf`], then its flags (which win, as in the reference).

use std::time::Duration;

use crate::conf::{Map, Value};

/// How clients authenticate, for the simple single-user and token modes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may connect.
    #[default]
    None,
    /// One user name and password (plain text or a bcrypt hash starting with `$2`).
    UserPass { user: String, pass: String },
    /// A shared token (plain text or a bcrypt hash).
    Token(String),
}

/// Everything the server is configured with, in the units the core works in.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The name in `INFO`; the server id when unset.
    pub server_name: Option<String>,
    /// Interface to listen on for clients.
    pub host: String,
    /// Client port; `-1` asks for a random free one (0 means the default port).
    pub port: i32,
    pub max_payload: u64,
    /// Bytes a client may have waiting to be written before it is a slow consumer.
    pub max_pending: u64,
    pub max_control_line: usize,
    pub max_connections: usize,
    /// 0 means no limit.
    pub max_subscriptions: usize,
    pub ping_interval: Duration,
    /// Unanswered PINGs allowed before the connection is stale.
    pub ping_max: u32,
    /// How long a write to a client may block before it is a slow consumer.
    pub write_deadline: Duration,
    pub auth: Auth,
    /// How long a client has to authenticate.
    pub auth_timeout: Duration,
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub log_file: Option<String>,
    pub pid_file: Option<String>,
    /// Whether to run JetStream (accepted for compatibility; not built yet).
    pub jetstream: bool,
    pub store_dir: Option<String>,
}

/// The reference server's default client port.
pub const DEFAULT_PORT: i32 = 4222;

impl Default for Options {
    fn default() -> Options {
        Options {
            server_name: None,
            host: "0.0.0.0".to_string(),
            port: DEFAULT_PORT,
            max_payload: 1024 * 1024,
            max_pending: 64 * 1024 * 1024,
            max_control_line: 4096,
            max_connections: 64 * 1024,
            max_subscriptions: 0,
            ping_interval: Duration::from_secs(120),
            ping_max: 2,
            write_deadline: Duration::from_secs(10),
            auth: Auth::None,
            auth_timeout: Duration::from_secs(2),
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            pid_file: None,
            jetstream: false,
            store_dir: None,
        }
    }
}

/// What a configuration file said that could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl Options {
    /// Applies the keys of a parsed configuration file. Keys this version does not know are
    /// returned as warnings (the reference ignores unknown keys unless asked to be strict);
    /// a known key with a value of the wrong kind is an error.
    pub fn apply_conf(&mut self, conf: &Map) -> Result<Vec<String>, OptionError> {
        let mut warnings = Vec::new();
        for (key, value) in conf.iter() {
            let err = |message: &str| OptionError {
                key: key.to_string(),
                message: message.to_string(),
            };
            match key.to_ascii_lowercase().as_str() {
                "listen" => {
                    let (host, port) =
                        parse_listen(value).ok_or_else(|| err("expected host:port"))?;
                    if !host.is_empty() {
                        self.host = host;
                    }
                    if let Some(port) = port {
                        self.port = port;
                    }
                }
                "host" | "net" => {
                    self.host = string(value).ok_or_else(|| err("expected a string"))?
                }
                "port" => self.port = int(value).ok_or_else(|| err("expected an integer"))? as i32,
                "server_name" => {
                    self.server_name = Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "max_payload" => {
                    self.max_payload = size(value).ok_or_else(|| err("expected a size"))?
                }
                "max_pending" => {
                    self.max_pending = size(value).ok_or_else(|| err("expected a size"))?
                }
                "max_control_line" => {
                    self.max_control_line =
                        size(value).ok_or_else(|| err("expected a size"))? as usize
                }
                "max_connections" | "max_conn" => {
                    self.max_connections =
                        size(value).ok_or_else(|| err("expected an integer"))? as usize
                }
                "max_subscriptions" | "max_subs" => {
                    self.max_subscriptions =
                        size(value).ok_or_else(|| err("expected an integer"))? as usize
                }
                "ping_interval" => {
                    self.ping_interval =
                        duration(value).ok_or_else(|| err("expected a duration"))?
                }
                "ping_max" => {
                    self.ping_max = size(value).ok_or_else(|| err("expected an integer"))? as u32
                }
                "write_deadline" => {
                    self.write_deadline =
                        duration(value).ok_or_else(|| err("expected a duration"))?
                }
                "debug" => self.debug = boolean(value).ok_or_else(|| err("expected a boolean"))?,
                "trace" => self.trace = boolean(value).ok_or_else(|| err("expected a boolean"))?,
                "logtime" => {
                    self.logtime = boolean(value).ok_or_else(|| err("expected a boolean"))?
                }
                "log_file" | "logfile" => {
                    self.log_file = Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "pid_file" | "pidfile" => {
                    self.pid_file = Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "authorization" => {
                    let Value::Map(auth) = value else {
                        return Err(err("expected a map"));
                    };
                    self.apply_authorization(auth)?;
                }
                "jetstream" => self.jetstream = !matches!(value, Value::Bool(false)),
                other => warnings.push(format!("unknown field \"{other}\"")),
            }
        }
        Ok(warnings)
    }

    fn apply_authorization(&mut self, auth: &Map) -> Result<(), OptionError> {
        let err = |key: &str, message: &str| OptionError {
            key: format!("authorization.{key}"),
            message: message.to_string(),
        };
        let text = |key: &str| -> Result<Option<String>, OptionError> {
            auth.get(key)
                .map(|v| string(v).ok_or_else(|| err(key, "expected a string")))
                .transpose()
        };
        let (user, pass, token) = (text("user")?, text("password")?, text("token")?);
        self.auth = match (user, pass, token) {
            (Some(user), Some(pass), None) => Auth::UserPass { user, pass },
            (None, None, Some(token)) => Auth::Token(token),
            (None, None, None) => Auth::None,
            (_, _, Some(_)) => {
                return Err(err(
                    "token",
                    "can not have a token and a user/password at the same time",
                ))
            }
            _ => return Err(err("user", "user and password must both be set")),
        };
        if let Some(timeout) = auth.get("timeout") {
            self.auth_timeout =
                duration(timeout).ok_or_else(|| err("timeout", "expected seconds"))?;
        }
        Ok(())
    }
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn size(v: &Value) -> Option<u64> {
    int(v).and_then(|i| u64::try_from(i).ok())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A duration as the reference reads it: a number of seconds, or a string such as `"2m"`,
/// `"1h30m"`, `"500ms"`.
fn duration(v: &Value) -> Option<Duration> {
    match v {
        Value::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
        Value::Float(f) if *f >= 0.0 && f.is_finite() => Some(Duration::from_secs_f64(*f)),
        Value::String(s) => parse_duration(s),
        _ => None,
    }
}

/// Parses Go-style durations: a sequence of number+unit pairs (`ns`, `us`, `ms`, `s`, `m`,
/// `h`), numbers possibly fractional.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    Some(Duration::from_secs_f64(total))
}

fn parse_listen(v: &Value) -> Option<(String, Option<i32>)> {
    match v {
        Value::Integer(port) => Some((String::new(), Some(*port as i32))),
        Value::String(s) => {
            let (host, port) = s.rsplit_once(':')?;
            let port = port.parse().ok()?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            Some((host.to_string(), Some(port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("abc"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn config_keys_apply() {
        let conf = crate::conf::parse(
            "listen: 127.0.0.1:4333\nmax_payload: 2MB\nping_interval: \"30s\"\nping_max: 3\n\
             authorization { user: a, password: b, timeout: 1 }\nmystery: 1\n",
        )
        .unwrap();
        let mut o = Options::default();
        let warnings = o.apply_conf(&conf).unwrap();
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!(o.port, 4333);
        assert_eq!(o.max_payload, 2 * 1024 * 1024);
        assert_eq!(o.ping_interval, Duration::from_secs(30));
        assert_eq!(o.ping_max, 3);
        assert_eq!(
            o.auth,
            Auth::UserPass {
                user: "a".into(),
                pass: "b".into()
            }
        );
        assert_eq!(o.auth_timeout, Duration::from_secs(1));
        assert_eq!(warnings.len(), 1);
    }
}
