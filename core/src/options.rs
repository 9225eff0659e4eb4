//! Server options: the reference server's defaults, and how a configuration file sets them.
//!
//! The command line is the shell's business; it starts from [`Options::default`], applies a
//! config file with [`Options::apply_conf`], then its flags (which win, as in the reference).

use std::time::Duration;

use crate::auth::{AuthConfig, Credential, User, GLOBAL_ACCOUNT};
use crate::conf::{Map, Pos, Value};
use crate::exports::{parse_exports, parse_imports, AccountConfig};

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
    pub auth: AuthConfig,
    /// Accounts declared in the configuration, besides the global one.
    pub accounts: Vec<AccountConfig>,
    /// The account of the server's own traffic (`system_account`).
    pub system_account: String,
    /// How long a client has to authenticate, when configured; see
    /// [`Options::auth_timeout`].
    pub auth_timeout: Option<Duration>,
    pub debug: bool,
    pub trace: bool,
    pub logtime: bool,
    pub log_file: Option<String>,
    /// Log to the local syslog (`-s`, `syslog`).
    pub syslog: bool,
    /// Log to a remote syslog server (`-r`, `remote_syslog`: `udp://host:port`).
    pub remote_syslog: Option<String>,
    pub pid_file: Option<String>,
    /// Whether to run JetStream (`-js`, `jetstream: enabled`, a `jetstream {}` block).
    pub jetstream: bool,
    /// Where JetStream keeps its files (`-sd`, `jetstream { store_dir }`).
    pub store_dir: Option<String>,
    /// The rest of the `jetstream` block.
    pub js: crate::jetstream::options::JsOptions,
    /// TLS for client connections (`tls { ... }` or the `--tls*` flags).
    pub tls: Option<crate::tls_config::TlsConfig>,
    /// Interface of the HTTP monitoring port; the client `host` when empty.
    pub http_host: String,
    /// HTTP monitoring port (`-m`, `http_port`, `http`); 0 for none, -1 for a random one.
    pub http_port: i32,
    /// HTTPS monitoring port (`-ms`, `https_port`); accepted, not served yet.
    pub https_port: i32,
    /// A prefix for every monitoring endpoint (`http_base_path`).
    pub http_base_path: String,
    /// How many recently closed connections `/connz?state=closed` remembers.
    pub max_closed_clients: usize,
    /// How long lame duck mode takes to close every client (`lame_duck_duration`).
    pub lame_duck_duration: Duration,
    /// How long lame duck mode waits before it starts closing clients.
    pub lame_duck_grace_period: Duration,
    /// Bytes after which the log file is rotated (`logfile_size_limit`); 0 for never.
    pub logfile_size_limit: u64,
    /// Routes to other servers (`cluster { ... }`, `--cluster`, `--routes`).
    pub cluster: crate::route::ClusterOptions,
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
            auth: AuthConfig::default(),
            accounts: Vec::new(),
            system_account: "$SYS".to_string(),
            auth_timeout: None,
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            syslog: false,
            remote_syslog: None,
            pid_file: None,
            jetstream: false,
            store_dir: None,
            js: Default::default(),
            tls: None,
            http_host: String::new(),
            http_port: 0,
            https_port: 0,
            http_base_path: String::new(),
            max_closed_clients: 10_000,
            lame_duck_duration: Duration::from_secs(120),
            lame_duck_grace_period: Duration::from_secs(10),
            logfile_size_limit: 0,
            cluster: Default::default(),
        }
    }
}

/// What a configuration file said that could not be applied (or, as a warning, was not
/// understood).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionError {
    /// The key's path from the top of the file, `authorization.users[0].nkey`.
    pub key: String,
    pub message: String,
    /// Where the key was written, when known.
    pub pos: Option<Pos>,
}

impl OptionError {
    /// An error about `key` of `map`, at `path`, placed where the key was written.
    pub fn in_map(map: &Map, key: &str, path: &str, message: impl Into<String>) -> OptionError {
        OptionError {
            key: path.to_string(),
            message: message.into(),
            pos: map.position(key).cloned(),
        }
    }

    /// The error as the reference prints it: `FILE:LINE:COL: message`, where `file` is
    /// the top-level file (included files are named relative to its directory).
    pub fn located(&self, file: &str) -> String {
        match &self.pos {
            Some(pos) => {
                let file = match &pos.file {
                    Some(included) => {
                        let dir = file.rsplit_once('/').map_or("", |(dir, _)| dir);
                        if dir.is_empty() {
                            included.to_string()
                        } else {
                            format!("{dir}/{included}")
                        }
                    }
                    None => file.to_string(),
                };
                format!("{file}:{}:{}: {self}", pos.line, pos.col)
            }
            None => format!("{file}: {self}"),
        }
    }
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Some of the reference's messages name their key themselves.
        let whole = ["unknown field", "invalid lame_duck", "interface conversion"];
        if whole.iter().any(|w| self.message.starts_with(w)) {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Warns of every key of `map` (at `path`) not in `known` (keys used as `$variables` are
/// not options, and [`Map::iter`] leaves them out).
pub(crate) fn unknown_fields(
    map: &Map,
    known: &[&str],
    path: &str,
    warnings: &mut Vec<OptionError>,
) {
    for (key, _) in map.iter() {
        let lower = key.to_ascii_lowercase();
        if !known.contains(&lower.as_str()) {
            let at = if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            };
            let message = format!("unknown field \"{key}\"");
            warnings.push(OptionError::in_map(map, key, &at, message));
        }
    }
}

impl Options {
    /// How long a client has to authenticate: as configured, else 2 s, or the TLS handshake
    /// timeout plus 1 s when clients use TLS (the reference's defaults).
    pub fn auth_timeout(&self) -> Duration {
        self.auth_timeout.unwrap_or_else(|| match &self.tls {
            Some(tls) => tls.timeout + Duration::from_secs(1),
            None => Duration::from_secs(2),
        })
    }

    /// Checks what no single key can: the reference's `validateOptions`.
    pub fn validate(&self) -> Result<(), String> {
        if self.lame_duck_grace_period >= self.lame_duck_duration {
            return Err(format!(
                "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
                go_duration(self.lame_duck_grace_period),
                go_duration(self.lame_duck_duration)
            ));
        }
        Ok(())
    }

    /// Applies the keys of a parsed configuration file. Keys this version does not know are
    /// returned as warnings (the reference ignores unknown keys unless asked to be strict);
    /// a known key with a value of the wrong kind is an error.
    pub fn apply_conf(&mut self, conf: &Map) -> Result<Vec<OptionError>, OptionError> {
        let conf = &conf.without_variables();
        let mut warnings = Vec::new();
        for (key, value) in conf.iter() {
            let err = |message: &str| OptionError::in_map(conf, key, key, message);
            match key.to_ascii_lowercase().as_str() {
                "listen" => apply_listen(value, &mut self.host, &mut self.port)
                    .ok_or_else(|| err("expected host:port"))?,
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
                "syslog" => {
                    self.syslog = boolean(value).ok_or_else(|| err("expected a boolean"))?
                }
                "remote_syslog" => {
                    self.remote_syslog =
                        Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "pid_file" | "pidfile" => {
                    self.pid_file = Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "authorization" => {
                    let Value::Map(auth) = value else {
                        return Err(err("expected a map"));
                    };
                    self.apply_authorization(auth, &mut warnings)?;
                }
                "accounts" => {
                    let Value::Map(accounts) = value else {
                        return Err(err("expected a map"));
                    };
                    self.apply_accounts(accounts, &mut warnings)?;
                }
                "no_auth_user" => {
                    self.auth.no_auth_user =
                        Some(string(value).ok_or_else(|| err("expected a string"))?)
                }
                "system_account" | "system" => {
                    self.system_account = string(value).ok_or_else(|| err("expected a string"))?
                }
                "jetstream" => {
                    self.jetstream = crate::jetstream::options::enables(value);
                    let dir = crate::jetstream::options::parse_server(
                        value,
                        &mut self.js,
                        &mut warnings,
                    )?;
                    if dir.is_some() {
                        self.store_dir = dir;
                    }
                }
                "http" | "https" => {
                    let (host, port) =
                        parse_listen(value).ok_or_else(|| err("expected host:port"))?;
                    if !host.is_empty() {
                        self.http_host = host;
                    }
                    let port = port.unwrap_or(0);
                    if key.eq_ignore_ascii_case("http") {
                        self.http_port = port;
                    } else {
                        self.https_port = port;
                    }
                }
                "http_port" | "monitor_port" => {
                    self.http_port = int(value).ok_or_else(|| err("expected an integer"))? as i32
                }
                "https_port" => {
                    self.https_port = int(value).ok_or_else(|| err("expected an integer"))? as i32
                }
                "http_base_path" => {
                    self.http_base_path = string(value).ok_or_else(|| err("expected a string"))?
                }
                "max_closed_clients" => {
                    self.max_closed_clients =
                        size(value).ok_or_else(|| err("expected an integer"))? as usize
                }
                "lame_duck_duration" => {
                    let d = go_duration_value(value).map_err(|m| err(&m))?;
                    if d < Duration::from_secs(30) {
                        let d = go_duration(d);
                        return Err(err(&format!(
                            "invalid lame_duck_duration of {d}, minimum is 30 seconds"
                        )));
                    }
                    self.lame_duck_duration = d;
                }
                "lame_duck_grace_period" => {
                    self.lame_duck_grace_period = go_duration_value(value).map_err(|m| err(&m))?
                }
                "logfile_size_limit" | "log_size_limit" => {
                    self.logfile_size_limit = size(value).ok_or_else(|| err("expected a size"))?
                }
                "cluster" => {
                    let Value::Map(cluster) = value else {
                        return Err(err("expected a map"));
                    };
                    self.cluster.apply_conf(cluster, &mut warnings)?;
                }
                "tls" => {
                    let Value::Map(tls) = value else {
                        return Err(err("expected a map"));
                    };
                    let tls = crate::tls_config::TlsConfig::from_conf(tls, "tls").map_err(|e| {
                        // Errors about the block as a whole point at the block.
                        OptionError {
                            pos: e.pos.clone().or_else(|| conf.position(key).cloned()),
                            ..e
                        }
                    })?;
                    self.tls = Some(tls);
                }
                _ => warnings.push(OptionError::in_map(
                    conf,
                    key,
                    key,
                    format!("unknown field \"{key}\""),
                )),
            }
        }
        Ok(warnings)
    }

    fn apply_authorization(
        &mut self,
        auth: &Map,
        warnings: &mut Vec<OptionError>,
    ) -> Result<(), OptionError> {
        let err = |key: &str, message: &str| {
            OptionError::in_map(auth, key, &format!("authorization.{key}"), message)
        };
        let known = [
            "user",
            "username",
            "password",
            "pass",
            "token",
            "timeout",
            "users",
            "default_permissions",
            "permissions",
        ];
        unknown_fields(auth, &known, "authorization", warnings);
        let text = |keys: &[&str]| -> Result<Option<String>, OptionError> {
            keys.iter()
                .find_map(|k| auth.get(k).map(|v| (k, v)))
                .map(|(k, v)| string(v).ok_or_else(|| err(k, "expected a string")))
                .transpose()
        };
        let user = text(&["user", "username"])?;
        let pass = text(&["password", "pass"])?;
        let token = text(&["token"])?;
        let users = auth.get("users");
        if token.is_some() && (user.is_some() || users.is_some()) {
            return Err(err(
                "token",
                "can not have a token and a user/password at the same time",
            ));
        }
        if user.is_some() && users.is_some() {
            return Err(err(
                "users",
                "can not have a single user/pass and a users array",
            ));
        }
        if user.is_some() != pass.is_some() {
            return Err(err("user", "user and password must both be set"));
        }
        if let Some(p) = auth
            .get("default_permissions")
            .or_else(|| auth.get("permissions"))
        {
            let at = "authorization.default_permissions";
            self.auth.default_permissions = Some(crate::auth::parse_permissions(p, at)?);
        }
        self.auth.token = token;
        if let (Some(user), Some(pass)) = (user, pass) {
            self.auth.users.push(User {
                name: user,
                credential: Credential::Password(pass),
                permissions: None,
                account: GLOBAL_ACCOUNT.to_string(),
            });
        }
        if let Some(users) = users {
            self.auth
                .add_users(users, GLOBAL_ACCOUNT, "authorization.users", warnings)?;
        }
        if let Some(timeout) = auth.get("timeout") {
            self.auth_timeout =
                Some(duration(timeout).ok_or_else(|| err("timeout", "expected seconds"))?);
        }
        Ok(())
    }

    /// `accounts { A: { users: [...] } }`: each account's users join it.
    fn apply_accounts(
        &mut self,
        accounts: &Map,
        warnings: &mut Vec<OptionError>,
    ) -> Result<(), OptionError> {
        for (name, value) in accounts.iter() {
            let at = format!("accounts.{name}");
            if name == GLOBAL_ACCOUNT {
                let message = format!("{GLOBAL_ACCOUNT} is a reserved account name");
                return Err(OptionError::in_map(accounts, name, &at, message));
            }
            let Value::Map(account) = value else {
                return Err(OptionError::in_map(accounts, name, &at, "expected a map"));
            };
            unknown_fields(
                account,
                &["users", "exports", "imports", "jetstream"],
                &at,
                warnings,
            );
            if let Some(users) = account.get("users") {
                self.auth
                    .add_users(users, name, &format!("{at}.users"), warnings)?;
            }
            let exports = account
                .get("exports")
                .map(|v| parse_exports(v, &format!("{at}.exports"), warnings))
                .transpose()?
                .unwrap_or_default();
            let imports = account
                .get("imports")
                .map(|v| parse_imports(v, &format!("{at}.imports"), warnings))
                .transpose()?
                .unwrap_or_default();
            let jetstream = account
                .get("jetstream")
                .map(|v| {
                    crate::jetstream::options::parse_account(
                        v,
                        &format!("{at}.jetstream"),
                        warnings,
                    )
                })
                .transpose()?
                .flatten();
            self.accounts.push(AccountConfig {
                name: name.to_string(),
                exports,
                imports,
                jetstream,
            });
        }
        self.check_imports(accounts)
    }

    /// Every import must name an account that exports what it imports to it.
    fn check_imports(&self, accounts: &Map) -> Result<(), OptionError> {
        for importer in &self.accounts {
            for import in &importer.imports {
                let exporter = self.accounts.iter().find(|a| a.name == import.account);
                let allowed = exporter.is_some_and(|exporter| {
                    exporter
                        .exports
                        .iter()
                        .any(|e| e.admits(&importer.name, &import.kind, &import.subject))
                });
                if !allowed {
                    let message = format!(
                        "import of \"{}\" from account \"{}\" is not exported to it",
                        import.subject, import.account
                    );
                    let at = format!("accounts.{}.imports", importer.name);
                    return Err(OptionError::in_map(accounts, &importer.name, &at, message));
                }
            }
        }
        Ok(())
    }
}

/// A duration the reference reads with Go's `time.ParseDuration` alone: a string such as
/// `"30s"`, its errors worded as the reference's.
fn go_duration_value(v: &Value) -> Result<Duration, String> {
    match v {
        Value::String(s) => {
            if s.trim_start().starts_with('-') {
                return Err("invalid lame_duck_grace_period, needs to be positive".to_string());
            }
            parse_duration(s).ok_or_else(|| format!("time: invalid duration \"{s}\""))
        }
        Value::Integer(_) => Err("interface conversion: interface {} is int64, not string".into()),
        _ => Err("expected a duration".into()),
    }
}

/// Go's `time.Duration.String()`: `2m0s`, `1.5s`, `250ms`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_string();
    }
    let frac = |v: u128, unit: u128| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = unit.to_string().len() - 1;
            let s = format!("{whole}.{rest:0digits$}");
            s.trim_end_matches('0').to_string()
        }
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", frac(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", frac(ns, 1_000_000));
    }
    let secs = ns / 1_000_000_000;
    let s = frac(
        (secs % 60) * 1_000_000_000 + ns % 1_000_000_000,
        1_000_000_000,
    );
    let (h, m) = (secs / 3600, secs / 60 % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

pub(crate) fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn size(v: &Value) -> Option<u64> {
    int(v).and_then(|i| u64::try_from(i).ok())
}

pub(crate) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// A duration as the reference reads it: a number of seconds, or a string such as `"2m"`,
/// `"1h30m"`, `"500ms"`.
pub(crate) fn duration(v: &Value) -> Option<Duration> {
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

/// Applies `listen: "host:port"` (or a bare port) to `host` and `port`; `None` if the
/// value is neither.
pub(crate) fn apply_listen(v: &Value, host: &mut String, port: &mut i32) -> Option<()> {
    let (h, p) = parse_listen(v)?;
    if !h.is_empty() {
        *host = h;
    }
    if let Some(p) = p {
        *port = p;
    }
    Some(())
}

pub(crate) fn parse_listen(v: &Value) -> Option<(String, Option<i32>)> {
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
        assert_eq!(o.auth.users[0].name, "a");
        assert_eq!(o.auth.users[0].credential, Credential::Password("b".into()));
        assert_eq!(o.auth_timeout(), Duration::from_secs(1));
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].located("/etc/x.conf"),
            "/etc/x.conf:6:1: unknown field \"mystery\""
        );
    }

    #[test]
    fn unknown_fields_are_found_where_they_are_but_variables_are_not_unknown() {
        let conf = crate::conf::parse(
            "LIMIT: 5\nmax_payload: $LIMIT\nauthorization {\n  users: [{user: a, password: b, colour: red}]\n  bogus: 1\n}\naccounts { A { users: [], nonsense: [] } }\n",
        )
        .unwrap();
        let mut o = Options::default();
        let warnings: Vec<String> = o
            .apply_conf(&conf)
            .unwrap()
            .iter()
            .map(|w| w.located("f"))
            .collect();
        assert_eq!(
            warnings,
            [
                "f:5:3: unknown field \"bogus\"",
                "f:4:34: unknown field \"colour\"",
                "f:7:27: unknown field \"nonsense\"",
            ]
        );
        assert_eq!(o.max_payload, 5);
    }

    #[test]
    fn monitoring_keys() {
        let conf = crate::conf::parse(
            "http: \"127.0.0.1:8333\"\nhttp_base_path: /mon\nmax_closed_clients: 5\n",
        )
        .unwrap();
        let mut o = Options::default();
        assert!(o.apply_conf(&conf).unwrap().is_empty());
        assert_eq!((o.http_host.as_str(), o.http_port), ("127.0.0.1", 8333));
        assert_eq!(o.http_base_path, "/mon");
        assert_eq!(o.max_closed_clients, 5);
        let conf = crate::conf::parse("http_port: 8444\nhttps_port: 8445\n").unwrap();
        let mut o = Options::default();
        o.apply_conf(&conf).unwrap();
        assert_eq!(
            (o.http_host.as_str(), o.http_port, o.https_port),
            ("", 8444, 8445)
        );
    }

    #[test]
    fn auth_timeout_defaults_follow_tls() {
        let conf =
            crate::conf::parse("tls { cert_file: c.pem, key_file: k.pem, timeout: 4 }").unwrap();
        let mut o = Options::default();
        assert_eq!(o.auth_timeout(), Duration::from_secs(2));
        o.apply_conf(&conf).unwrap();
        assert_eq!(o.auth_timeout(), Duration::from_secs(5));
        o.auth_timeout = Some(Duration::from_secs(1));
        assert_eq!(o.auth_timeout(), Duration::from_secs(1));
    }

    #[test]
    fn bad_values_name_their_place() {
        let conf = crate::conf::parse("port: 1\nauthorization { token: t, user: u, password: p }")
            .unwrap();
        let err = Options::default().apply_conf(&conf).unwrap_err();
        assert_eq!(
            err.located("f"),
            "f:2:17: authorization.token: can not have a token and a user/password at the same time"
        );
    }
    #[test]
    fn lame_duck_keys_as_the_reference_checks_them() {
        let apply = |text: &str| {
            let mut o = Options::default();
            o.apply_conf(&crate::conf::parse(text).unwrap())
                .map(|_| o)
                .map_err(|e| e.located("f"))
        };
        let o = apply(
            "lame_duck_duration: \"45s\"\nlame_duck_grace_period: \"1s\"\nlogfile_size_limit: 1KB",
        )
        .unwrap();
        assert_eq!(o.lame_duck_duration, Duration::from_secs(45));
        assert_eq!(o.lame_duck_grace_period, Duration::from_secs(1));
        assert_eq!(o.logfile_size_limit, 1024);
        assert_eq!(
            apply("lame_duck_duration: \"2s\"").unwrap_err(),
            "f:1:1: invalid lame_duck_duration of 2s, minimum is 30 seconds"
        );
        assert_eq!(
            apply("lame_duck_grace_period: \"-1s\"").unwrap_err(),
            "f:1:1: invalid lame_duck_grace_period, needs to be positive"
        );
        let o = apply("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\"").unwrap();
        assert_eq!(
            o.validate().unwrap_err(),
            "lame duck grace period (40s) should be strictly lower than lame duck duration (30s)"
        );
        assert!(Options::default().validate().is_ok());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_duration(Duration::from_secs(10)), "10s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(go_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
