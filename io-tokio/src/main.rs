//! `rnats-server`: a drop-in replacement for `nats-server`.
//!
//! Reads flags and the configuration file the way the reference does, binds the client
//! port, and runs the core node under tokio until SIGINT or SIGTERM (or until lame duck
//! mode has drained it). SIGHUP reloads the configuration, SIGUSR1 reopens the log file,
//! SIGUSR2 enters lame duck mode; `--signal` sends these to a running server.

mod allocator;
mod cli;
mod disk;
mod log;
mod monitor;
mod server;
mod signal;
mod syslog;
mod tls;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;
use rnats_core::node::{Level, Node, REFERENCE_VERSION, RNATS_VERSION};
use rnats_core::options::{Options, DEFAULT_PORT};

use crate::cli::Cli;
use crate::log::Logger;

fn main() -> ExitCode {
    allocator::tune();
    let args = cli::normalize(std::env::args());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // As the reference (Go's flag package): the complaint on stderr, the usage on
            // stdout, and exit status 0.
            eprintln!("{}", e.to_string().lines().next().unwrap_or("bad flag"));
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
    };
    if cli.help {
        print!("{}", cli::USAGE);
        return ExitCode::SUCCESS;
    }
    if cli.help_tls {
        print!("{}", cli::TLS_USAGE);
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!("rnats-server: v{RNATS_VERSION} (nats-server v{REFERENCE_VERSION} compatible)");
        return ExitCode::SUCCESS;
    }
    if let Some(command) = &cli.signal {
        return match signal::send(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("rnats-server: {e}");
                ExitCode::from(1)
            }
        };
    }
    let (opts, warnings) = match configure(&cli) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rnats-server: {e}");
            return ExitCode::from(1);
        }
    };
    // Certificates are read up front, so that `-t` checks them too, as the reference does.
    let tls = match opts.tls.as_ref().map(tls::load).transpose() {
        Ok(tls) => tls.map(Arc::new),
        Err(e) => {
            eprintln!("rnats-server: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.test_config {
        // Checking a file is strict: what would only be warned about at start fails here.
        if let Some(first) = warnings.first() {
            eprintln!("rnats-server: {first}");
            return ExitCode::from(1);
        }
        eprintln!(
            "rnats-server: configuration file {} is valid",
            cli.config.as_deref().unwrap_or("<none>")
        );
        return ExitCode::SUCCESS;
    }
    let logger = match Logger::new(
        opts.log_file.as_deref(),
        opts.logfile_size_limit,
        opts.logtime,
        opts.debug,
        opts.trace,
    ) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            eprintln!("rnats-server: cannot open log file: {e}");
            return ExitCode::from(1);
        }
    };
    if opts.syslog || opts.remote_syslog.is_some() {
        match syslog::Syslog::connect(opts.remote_syslog.as_deref()) {
            Ok(s) => logger.use_syslog(s),
            Err(e) => {
                eprintln!("rnats-server: cannot log to syslog: {e}");
                return ExitCode::from(1);
            }
        }
    }
    for w in warnings {
        logger.warn(&w);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            logger.fatal(&format!("cannot start runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&cli, opts, tls, logger.clone())) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            logger.fatal(&e);
            ExitCode::from(1)
        }
    }
}

/// Defaults, then the configuration file, then the flags that were given.
fn configure(cli: &Cli) -> Result<(Options, Vec<String>), String> {
    let mut opts = Options::default();
    let mut warnings = Vec::new();
    if let Some(path) = &cli.config {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("error opening config file: {e}"))?;
        let dir = Path::new(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut include = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("error opening include file {name}: {e}"))
        };
        let env = rnats_core::conf::Env {
            include: &mut include,
            var: &|name: &str| std::env::var(name).ok(),
        };
        let conf = rnats_core::conf::parse_with(&text, env).map_err(|e| format!("{path}: {e}"))?;
        warnings = opts
            .apply_conf(&conf)
            .map_err(|e| e.located(path))?
            .iter()
            .map(|w| w.located(path))
            .collect();
    }
    cli.apply(&mut opts)?;
    opts.validate()?;
    Ok((opts, warnings))
}

/// Runs the server; the exit status once it stops.
async fn run(
    cli: &Cli,
    opts: Options,
    tls: Option<Arc<tls::Tls>>,
    logger: Arc<Logger>,
) -> Result<u8, String> {
    let port = match opts.port {
        -1 => 0,
        0 => DEFAULT_PORT as u16,
        p => u16::try_from(p).map_err(|_| format!("invalid port {p}"))?,
    };
    let listener = listen(&opts.host, port).await.map_err(|e| {
        format!(
            "Error listening on port: {}, \"{e}\"",
            host_port(&opts.host, port)
        )
    })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?.port();
    let seed = rand_seed();
    let node = Node::new(opts.clone(), bound, seed);
    logger.info("Starting rnats-server");
    logger.info(&format!(
        "  Version:  {RNATS_VERSION} (nats-server {REFERENCE_VERSION} compatible)"
    ));
    logger.info("  Git:      [not set]");
    if let Some(cluster) = node.cluster_name() {
        logger.info(&format!("  Cluster:  {cluster}"));
    }
    logger.info(&format!("  Name:     {}", node.info().server_name));
    logger.info(&format!("  ID:       {}", node.info().server_id));
    if opts.jetstream {
        logger.info("Starting JetStream");
        logger.info("---------------- JETSTREAM ----------------");
        logger.info(&format!(
            "  Store Directory: \"{}\"",
            disk::jetstream_dir(&opts).display()
        ));
        logger.info("-------------------------------------------");
    }
    if let Some(pid_file) = &opts.pid_file {
        std::fs::write(pid_file, std::process::id().to_string())
            .map_err(|e| format!("Could not write pidfile: {e}"))?;
    }
    let http = match (opts.http_port, opts.https_port) {
        (0, 0) => None,
        (h, s) if h != 0 && s != 0 => {
            let why = format!("can't specify both HTTP ({h}) and HTTPs ({s}) ports");
            return Err(format!("Can't start monitoring: {why}"));
        }
        (0, _) if tls.is_none() => {
            return Err("Can't start monitoring: TLS cert and key required for HTTPS".into());
        }
        (h, s) => {
            let (port, secure) = if h != 0 { (h, false) } else { (s, true) };
            let host = if opts.http_host.is_empty() {
                opts.host.clone()
            } else {
                opts.http_host.clone()
            };
            let port = u16::try_from(port.max(0)).map_err(|_| format!("invalid port {port}"))?;
            let listener = listen(&host, port).await.map_err(|e| {
                format!(
                    "can't listen to the monitor port: listen tcp {}: {e}",
                    host_port(&host, port)
                )
            })?;
            let port = listener.local_addr().map_err(|e| e.to_string())?.port();
            let scheme = if secure { "https" } else { "http" };
            logger.info(&format!(
                "Starting {scheme} monitor on {}",
                host_port(&host, port)
            ));
            let acceptor = secure
                .then(|| tls.as_ref().map(|t| t.acceptor.clone()))
                .flatten();
            Some((listener, host, port, acceptor))
        }
    };
    logger.info(&format!(
        "Listening for client connections on {}",
        host_port(&opts.host, bound)
    ));
    if tls.is_some() {
        logger.info("TLS required for client connections");
    }
    // Handlers go in before the server says it is ready, so that a signal sent as soon as
    // it is (by a test, or a supervisor) is not taken by the default action.
    let signals = Signals::install();
    let shared = server::Shared::new(node, logger.clone());
    if opts.jetstream {
        shared.start_jetstream(disk::jetstream_dir(&opts), opts.js.sync_interval)?;
    }
    // The monitor also answers the system account's requests, HTTP port or not.
    let (http_host, http_port) = http
        .as_ref()
        .map_or((String::new(), 0), |(_, host, port, _)| {
            (host.clone(), *port)
        });
    let monitor = Arc::new(monitor::Monitor::new(
        shared.clone(),
        opts.clone(),
        http_host,
        http_port,
    ));
    shared.set_monitor(monitor.clone());
    tokio::spawn(server::statsz_loop(shared.clone()));
    logger.info("Server is ready");
    shared.set_tls(tls);
    tokio::spawn(server::accept_loop(shared.clone(), listener));
    if opts.cluster.enabled() {
        start_routing(&opts, bound, &shared, &logger).await?;
    }
    tokio::spawn(server::timer_loop(shared.clone()));
    tokio::spawn(server::busy_poll_loop(shared.clone()));
    if let Some((listener, _, _, acceptor)) = http {
        tokio::spawn(monitor::serve(monitor, listener, acceptor));
    }
    let code = serve_signals(signals, cli, &shared, &logger).await;
    logger.info("Initiating Shutdown...");
    shared.shutdown().await;
    if let Some(pid_file) = &opts.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    logger.info("Server Exiting..");
    Ok(code)
}

/// Binds the route listener and starts dialing the configured routes.
async fn start_routing(
    opts: &Options,
    client_port: u16,
    shared: &Arc<server::Shared>,
    logger: &Logger,
) -> Result<(), String> {
    let host = opts.cluster.listen_host();
    let port = u16::try_from(opts.cluster.port.max(0))
        .map_err(|_| format!("invalid cluster port {}", opts.cluster.port))?;
    let listener = listen(host, port).await.map_err(|e| {
        format!(
            "Error listening on router port: {} - {e}",
            opts.cluster.port
        )
    })?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?.port();
    let tls = match &opts.cluster.tls {
        Some(cfg) => Some(Arc::new(tls::load_route(cfg)?)),
        None => None,
    };
    shared.start_cluster(bound, client_urls(&opts.host, client_port), tls.clone());
    logger.info(&format!(
        "Listening for route connections on {}",
        host_port(host, bound)
    ));
    tokio::spawn(server::route_accept_loop(shared.clone(), listener, tls));
    Ok(())
}

/// The addresses clients can reach this server at, for the other servers to pass on: the
/// listen address, or every non-loopback interface address when listening on all of
/// them (loopback when there is none), as the reference does.
fn client_urls(host: &str, port: u16) -> Vec<String> {
    let any = host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_unspecified());
    if !any {
        return vec![host_port(host, port)];
    }
    let mut urls: Vec<String> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| host_port(&i.ip().to_string(), port))
        .collect();
    urls.dedup();
    if urls.is_empty() {
        urls.push(host_port("127.0.0.1", port));
    }
    urls
}

/// How many connections may wait to be accepted. tokio's default (128) drops some of a
/// burst of a thousand connects, which then hang without ever seeing `INFO`; the reference
/// asks for more and the kernel caps it at `net.core.somaxconn`.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the client listener, with address reuse (a restarted server can take its port
/// straight back) and a deep accept backlog.
async fn listen(host: &str, port: u16) -> std::io::Result<tokio::net::TcpListener> {
    let mut last_err = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = match addr {
            std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into()))
}

/// `host:port`, with brackets around an IPv6 host, as Go's `net.JoinHostPort` writes it.
fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A seed for the node's generator, from the OS (the core itself never asks the OS).
fn rand_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    h.finish()
}

/// Acts on signals until one stops the server (or lame duck mode is over); the exit
/// status, as the reference's: 0 after SIGINT or lame duck mode, 1 after SIGTERM.
async fn serve_signals(
    signals: Signals,
    cli: &Cli,
    shared: &Arc<server::Shared>,
    logger: &Logger,
) -> u8 {
    let Signals {
        mut int,
        mut term,
        mut hup,
        mut usr1,
        mut usr2,
    } = signals;
    let trapped = |name: &str| logger.log(Level::Debug, &format!("Trapped {name:?} signal"));
    loop {
        tokio::select! {
            _ = recv(&mut int) => {
                trapped("interrupt");
                return 0;
            }
            _ = recv(&mut term) => {
                trapped("terminated");
                // A server draining in lame duck mode finishes that first.
                if !shared.in_lame_duck() {
                    return 1;
                }
            }
            _ = recv(&mut hup) => {
                trapped("hangup");
                reload(cli, shared, logger);
            }
            _ = recv(&mut usr1) => {
                trapped("user defined signal 1");
                logger.reopen();
            }
            _ = recv(&mut usr2) => {
                trapped("user defined signal 2");
                shared.enter_lame_duck().await;
            }
            _ = shared.lame_duck_finished() => return 0,
        }
    }
}

/// The signals the server acts on; `None` where a handler could not be installed.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
    usr1: Option<tokio::signal::unix::Signal>,
    usr2: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
            usr1: signal(SignalKind::user_defined1()).ok(),
            usr2: signal(SignalKind::user_defined2()).ok(),
        }
    }
}

/// The next delivery of a signal; never, for one whose handler could not be installed.
async fn recv(sig: &mut Option<tokio::signal::unix::Signal>) {
    match sig {
        Some(sig) => {
            sig.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Re-reads the configuration file (the command line still wins) and applies it.
fn reload(cli: &Cli, shared: &Arc<server::Shared>, logger: &Logger) {
    let result = configure(cli).and_then(|(opts, warnings)| {
        // What only draws a warning at start stops a reload, as in the reference.
        if let Some(first) = warnings.into_iter().next() {
            return Err(first);
        }
        // Certificates are read before anything changes: bad files refuse the reload.
        let tls = opts.tls.as_ref().map(tls::load).transpose()?.map(Arc::new);
        shared.reload(opts.clone())?;
        shared.set_tls(tls);
        Ok(opts)
    });
    let opts = match result {
        Ok(opts) => opts,
        Err(e) => {
            logger.error(&format!("Failed to reload server configuration: {e}"));
            return;
        }
    };
    if let Err(e) = logger.reconfigure(
        opts.log_file.as_deref(),
        opts.logfile_size_limit,
        opts.logtime,
        opts.debug,
        opts.trace,
    ) {
        logger.error(&format!("Failed to open log file: {e}"));
    }
    if let Some(pid_file) = &opts.pid_file {
        if let Err(e) = std::fs::write(pid_file, std::process::id().to_string()) {
            logger.error(&format!("Failed to write pidfile: {e}"));
        }
    }
    logger.info("Reloaded server configuration");
}
