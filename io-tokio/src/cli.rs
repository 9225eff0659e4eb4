//! The command line, flag for flag as the reference server takes it.
//!
//! The reference uses Go's `flag` package: a flag may be written with one dash or two
//! (`-port`, `--port`), several flags are multi-letter with a single dash (`-js`, `-sd`,
//! `-DV`), and booleans accept `=false`. clap parses double-dash long flags, so
//! [`normalize`] first rewrites single-dash long flags into that form.

use clap::Parser;
use rnats_core::auth::AuthConfig;
use rnats_core::options::Options;
use rnats_core::tls_config::TlsConfig;

/// Flags of the reference server. Every value is optional so that only flags actually
/// given override the configuration file, as the reference merges them.
#[derive(Parser, Debug, Default)]
#[command(
    name = "rnats-server",
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct Cli {
    #[arg(short = 'a', long = "addr", visible_alias = "net")]
    pub addr: Option<String>,
    #[arg(short = 'p', long = "port", allow_negative_numbers = true)]
    pub port: Option<i32>,
    #[arg(short = 'n', long = "name", visible_alias = "server_name")]
    pub name: Option<String>,
    #[arg(short = 'P', long = "pid")]
    pub pid: Option<String>,
    #[arg(short = 'm', long = "http_port", allow_negative_numbers = true)]
    pub http_port: Option<i32>,
    #[arg(
        long = "ms",
        visible_alias = "https_port",
        allow_negative_numbers = true
    )]
    pub https_port: Option<i32>,
    #[arg(short = 'c', long = "config")]
    pub config: Option<String>,
    /// Check the configuration and exit.
    #[arg(short = 't')]
    pub test_config: bool,
    #[arg(long = "client_advertise")]
    pub client_advertise: Option<String>,
    #[arg(long = "ports_file_dir")]
    pub ports_file_dir: Option<String>,
    #[arg(short = 'l', long = "log")]
    pub log: Option<String>,
    #[arg(short = 'T', long = "logtime", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub logtime: Option<bool>,
    #[arg(short = 's', long = "syslog", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub syslog: Option<bool>,
    #[arg(short = 'r', long = "remote_syslog")]
    pub remote_syslog: Option<String>,
    #[arg(short = 'D', long = "debug", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub debug: Option<bool>,
    #[arg(short = 'V', long = "trace", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub trace: Option<bool>,
    #[arg(long = "VV")]
    pub verbose_trace: bool,
    #[arg(long = "DV")]
    pub debug_trace: bool,
    #[arg(long = "DVV")]
    pub debug_verbose_trace: bool,
    #[arg(long = "log_size_limit")]
    pub log_size_limit: Option<String>,
    #[arg(long = "max_traced_msg_len")]
    pub max_traced_msg_len: Option<i64>,
    #[arg(long = "js", visible_alias = "jetstream", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub jetstream: Option<bool>,
    #[arg(long = "sd", visible_alias = "store_dir")]
    pub store_dir: Option<String>,
    #[arg(long = "user")]
    pub user: Option<String>,
    #[arg(long = "pass")]
    pub pass: Option<String>,
    #[arg(long = "auth")]
    pub auth: Option<String>,
    #[arg(long = "tls", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls: Option<bool>,
    #[arg(long = "tlscert")]
    pub tlscert: Option<String>,
    #[arg(long = "tlskey")]
    pub tlskey: Option<String>,
    #[arg(long = "tlsverify", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tlsverify: Option<bool>,
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<String>,
    #[arg(long = "routes")]
    pub routes: Option<String>,
    #[arg(long = "cluster", visible_alias = "cluster_listen")]
    pub cluster: Option<String>,
    #[arg(long = "cluster_name")]
    pub cluster_name: Option<String>,
    #[arg(long = "no_advertise", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub no_advertise: Option<bool>,
    #[arg(long = "cluster_advertise")]
    pub cluster_advertise: Option<String>,
    #[arg(long = "connect_retries")]
    pub connect_retries: Option<i64>,
    #[arg(long = "profile")]
    pub profile: Option<i32>,
    #[arg(long = "sl", visible_alias = "signal")]
    pub signal: Option<String>,
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    #[arg(long = "help_tls")]
    pub help_tls: bool,
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// The reference's single-dash flags longer than one letter, which clap would otherwise
/// read as bundles of short flags.
fn is_single_dash_long(name: &str) -> bool {
    name.len() > 1 && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// Rewrites `-name[=value]` to `--name[=value]` for multi-letter flag names, leaving short
/// flags (`-p`), values such as `-1`, and everything after `--` alone.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = false;
    for arg in args {
        if rest || arg == "--" {
            rest = true;
            out.push(arg);
            continue;
        }
        match arg.strip_prefix('-') {
            Some(body) if !body.starts_with('-') => {
                let name = body.split('=').next().unwrap_or("");
                if is_single_dash_long(name) {
                    out.push(format!("-{arg}"));
                } else {
                    out.push(arg);
                }
            }
            _ => out.push(arg),
        }
    }
    out
}

/// The usage text `-h` prints, listing the flags in the reference's groups.
pub const USAGE: &str = "
Usage: rnats-server [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for a random port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -ms,--https_port <port>          Use port for https monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to rnats-server process (ldm, stop, quit, term, reopen, reload)
        --client_advertise <string>  Client URL to advertise to other servers
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
    -s, --syslog                     Log to syslog or windows event log
    -r, --remote_syslog <addr>       Syslog server addr (udp://localhost:514)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (traces system account as well)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace (traces system account as well)
        --log_size_limit <limit>     Logfile size limit (default: auto)
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Cluster Options:
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes

Profiling Options:
        --profile <port>             Profiling HTTP port

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
        --help_tls                   TLS help
";

impl Cli {
    /// Applies the flags that were given on top of `opts` (which holds defaults and the
    /// configuration file), as the reference's flag/file merge does.
    pub fn apply(&self, opts: &mut Options) -> Result<(), String> {
        if let Some(addr) = &self.addr {
            opts.host = addr.clone();
        }
        if let Some(port) = self.port {
            opts.port = port;
        }
        if let Some(name) = &self.name {
            opts.server_name = Some(name.clone());
        }
        if let Some(pid) = &self.pid {
            opts.pid_file = Some(pid.clone());
        }
        if let Some(log) = &self.log {
            opts.log_file = Some(log.clone());
        }
        if let Some(s) = self.syslog {
            opts.syslog = s;
        }
        if let Some(r) = &self.remote_syslog {
            opts.remote_syslog = Some(r.clone());
        }
        if let Some(t) = self.logtime {
            opts.logtime = t;
        }
        if let Some(d) = self.debug {
            opts.debug = d;
        }
        if let Some(v) = self.trace {
            opts.trace = v;
        }
        if self.verbose_trace {
            opts.trace = true;
        }
        if self.debug_trace || self.debug_verbose_trace {
            opts.debug = true;
            opts.trace = true;
        }
        if let Some(js) = self.jetstream {
            opts.jetstream = js;
        }
        if let Some(sd) = &self.store_dir {
            opts.store_dir = Some(sd.clone());
        }
        if let Some(port) = self.http_port {
            opts.http_port = port;
        }
        if let Some(limit) = &self.log_size_limit {
            opts.logfile_size_limit =
                parse_size(limit).ok_or_else(|| format!("invalid log_size_limit {limit:?}"))?;
        }
        if let Some(port) = self.https_port {
            opts.https_port = port;
        }
        self.apply_tls(opts)?;
        self.apply_cluster(opts)?;
        match (&self.user, &self.pass, &self.auth) {
            (Some(user), Some(pass), None) => opts.auth = AuthConfig::single_user(user, pass),
            (None, None, Some(token)) => opts.auth = AuthConfig::token(token),
            (None, None, None) => {}
            (_, _, Some(_)) => {
                return Err("--auth can not be used together with --user/--pass".into())
            }
            _ => return Err("--user and --pass must be given together".into()),
        }
        Ok(())
    }

    /// As the reference: any `--tls*` flag (unless `--tls=false`) replaces the TLS settings
    /// of the configuration file with those of the flags, and needs a certificate and a key.
    fn apply_tls(&self, opts: &mut Options) -> Result<(), String> {
        let given = self.tls.is_some()
            || self.tlscert.is_some()
            || self.tlskey.is_some()
            || self.tlscacert.is_some()
            || self.tlsverify.is_some();
        if !given || self.tls == Some(false) {
            return Ok(());
        }
        opts.tls = Some(TlsConfig::from_flags(
            self.tlscert.as_deref(),
            self.tlskey.as_deref(),
            self.tlscacert.as_deref(),
            self.tlsverify == Some(true),
        )?);
        Ok(())
    }

    /// `--cluster`, `--routes` and friends, over the `cluster` block.
    fn apply_cluster(&self, opts: &mut Options) -> Result<(), String> {
        let cluster = &mut opts.cluster;
        if let Some(url) = &self.cluster {
            cluster.apply_listen_url(url)?;
        }
        if let Some(routes) = &self.routes {
            cluster.apply_routes_flag(routes)?;
        }
        if let Some(name) = &self.cluster_name {
            cluster.name = Some(name.clone());
        }
        if let Some(adv) = &self.cluster_advertise {
            cluster.advertise = Some(adv.clone());
        }
        if let Some(no) = self.no_advertise {
            cluster.no_advertise = no;
        }
        if let Some(n) = self.connect_retries {
            cluster.connect_retries = n.max(0) as u32;
        }
        Ok(())
    }
}

/// A byte count as flags give it: `1024`, `10KB`, `1MB`, `1GB` (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let upper = s.to_ascii_uppercase();
    let digits = upper.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let scale = match &upper[digits.len()..] {
        "" | "B" => 1,
        "K" | "KB" => 1 << 10,
        "M" | "MB" => 1 << 20,
        "G" | "GB" => 1 << 30,
        _ => return None,
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(scale)
}

/// What `--help_tls` prints.
pub const TLS_USAGE: &str = "
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      \"./certs/server-cert.pem\"
        key_file:       \"./certs/server-key.pem\"
        ca_file:        \"./certs/ca.pem\"
        verify:         true
        timeout:        2
    }

cipher_suites and curve_preferences are accepted and ignored: rnats-server uses rustls's
safe defaults (TLS 1.2 and 1.3, AES-GCM and ChaCha20-Poly1305, X25519 and the NIST curves).
handshake_first: true makes clients handshake before the server sends INFO.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let args =
            std::iter::once("rnats-server".to_string()).chain(args.iter().map(|s| s.to_string()));
        Cli::try_parse_from(normalize(args)).unwrap()
    }

    #[test]
    fn reference_style_flags() {
        let cli = parse(&[
            "-p",
            "-1",
            "-a",
            "127.0.0.1",
            "-js",
            "-sd",
            "/tmp/x",
            "-DV",
            "-T=false",
        ]);
        assert_eq!(cli.port, Some(-1));
        assert_eq!(cli.addr.as_deref(), Some("127.0.0.1"));
        assert_eq!(cli.jetstream, Some(true));
        assert_eq!(cli.store_dir.as_deref(), Some("/tmp/x"));
        assert!(cli.debug_trace);
        assert_eq!(cli.logtime, Some(false));
    }

    #[test]
    fn single_and_double_dash_long_names() {
        let cli = parse(&["-port", "4333", "--user", "a", "-pass=b", "--net", "::1"]);
        assert_eq!(cli.port, Some(4333));
        let mut o = Options::default();
        cli.apply(&mut o).unwrap();
        assert_eq!(o.host, "::1");
        assert_eq!(o.auth, AuthConfig::single_user("a", "b"));
    }

    #[test]
    fn flags_override_only_when_given() {
        let cli = parse(&["-D"]);
        let mut o = Options {
            port: 5000,
            ..Options::default()
        };
        cli.apply(&mut o).unwrap();
        assert_eq!(o.port, 5000);
        assert!(o.debug && !o.trace);
    }

    #[test]
    fn tls_flags() {
        let mut o = Options::default();
        parse(&["--tlscert", "c.pem", "--tlskey", "k.pem"])
            .apply(&mut o)
            .unwrap();
        let tls = o.tls.clone().unwrap();
        assert_eq!((tls.cert_file.as_str(), tls.verify), ("c.pem", false));
        parse(&["-tlsverify", "-tlscert=c", "-tlskey=k", "-tlscacert=ca"])
            .apply(&mut o)
            .unwrap();
        assert!(o.tls.as_ref().unwrap().verify);
        let err = parse(&["--tls", "--tlscert", "c"])
            .apply(&mut o)
            .unwrap_err();
        assert_eq!(err, "TLS Server private key must be present and valid");
        let mut o = Options::default();
        parse(&["--tls=false", "--tlscert", "c"])
            .apply(&mut o)
            .unwrap();
        assert!(o.tls.is_none());
    }

    #[test]
    fn user_without_pass_is_an_error() {
        let cli = parse(&["--user", "a"]);
        assert!(cli.apply(&mut Options::default()).is_err());
    }
}
