//! End-to-end test helpers: spawn a server binary (rnats or the Go reference) and talk to it.
//!
//! ```no_run
//! use rnats_tests::{rnats_bin, Server};
//! let srv = Server::start(&rnats_bin(), ["--user", "a", "--pass", "b"]).unwrap();
//! println!("{} {}", srv.url(), srv.log());
//! ```
//!
//! The server listens on `127.0.0.1` and a random port (`-p -1`); the port is read from the
//! `Listening for client connections on HOST:PORT` log line, exactly like client test
//! harnesses do, so this also checks that rnats prints that line.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long [`Server::start`] waits for `Server is ready` (a debug build recovering a
/// 200 MiB JetStream store on a loaded 2-core machine has taken more than 10 s).
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`Server::stop`] waits after SIGTERM before it kills the process.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

const LISTENING: &str = "Listening for client connections on ";
const READY: &str = "Server is ready";

/// Everything the server wrote to stderr and stdout, plus a signal for new lines.
#[derive(Default)]
struct LogBuf {
    text: Mutex<LogText>,
    grew: Condvar,
}

#[derive(Default)]
struct LogText {
    text: String,
    /// Pipes not yet at EOF.
    open: usize,
}

/// A running server process. Killed when dropped.
pub struct Server {
    child: Child,
    port: u16,
    log: Arc<LogBuf>,
}

impl Server {
    /// Spawns `bin` with `-a 127.0.0.1 -p -1` (each left out if `args` already sets the
    /// address or the port) followed by `args`, and waits up to [`READY_TIMEOUT`] for
    /// `Server is ready`. stdout and stderr are drained into [`Server::log`] for the whole
    /// life of the process, so the pipes never fill.
    pub fn start<I, S>(bin: &Path, args: I) -> Result<Server, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let has = |flags: &[&str]| args.iter().any(|a| flags.iter().any(|f| a == *f));
        let mut cmd = Command::new(bin);
        if !has(&["-a", "--addr", "--net"]) {
            cmd.args(["-a", "127.0.0.1"]);
        }
        if !has(&["-p", "--port"]) {
            cmd.args(["-p", "-1"]);
        }
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot spawn {}: {e}", bin.display()))?;
        let log = Arc::new(LogBuf::default());
        drain(child.stderr.take().unwrap(), log.clone());
        drain(child.stdout.take().unwrap(), log.clone());
        let mut srv = Server {
            child,
            port: 0,
            log,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut text = srv.log.text.lock().unwrap();
        loop {
            if text.text.contains(READY) {
                break;
            }
            let exited = srv.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() >= deadline {
                let why = match exited {
                    Some(st) => format!("exited with {st}"),
                    None => format!("did not log `{READY}` within {READY_TIMEOUT:?}"),
                };
                let log = text.text.clone();
                drop(text);
                return Err(format!("{} {why}; log:\n{log}", bin.display()));
            }
            text = srv
                .log
                .grew
                .wait_timeout(text, Duration::from_millis(50))
                .unwrap()
                .0;
        }
        let port = text
            .text
            .lines()
            .find_map(|l| l.split_once(LISTENING).map(|(_, addr)| addr.trim()))
            .and_then(|addr| addr.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok());
        let log = text.text.clone();
        drop(text);
        srv.port = port.ok_or_else(|| format!("no `{LISTENING}HOST:PORT` line; log:\n{log}"))?;
        Ok(srv)
    }

    /// The client port, from the `Listening for client connections on` line.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, for raw TCP connections.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything logged so far (stderr and stdout interleaved by line).
    pub fn log(&self) -> String {
        self.log.text.lock().unwrap().text.clone()
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to [`STOP_TIMEOUT`]; kills the process if it is still
    /// running then. Returns the exit status (`None` if it had to be killed). Afterwards
    /// [`Server::log`] holds everything the process wrote (waiting at most 1 s for it).
    ///
    /// Note: nats-server 2.9 exits with status 1 on SIGTERM (0 on SIGINT).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let status = self.terminate();
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut text = self.log.text.lock().unwrap();
        while text.open > 0 && Instant::now() < deadline {
            text = self
                .log
                .grew
                .wait_timeout(text, Duration::from_millis(20))
                .unwrap()
                .0;
        }
        status
    }

    /// Waits up to `timeout` for the process to exit by itself (no signal is sent); its
    /// exit status, or `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn terminate(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        // SAFETY: plain kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Copies `src` line by line into `log` on a background thread until EOF.
fn drain(src: impl Read + Send + 'static, log: Arc<LogBuf>) {
    log.text.lock().unwrap().open += 1;
    std::thread::spawn(move || {
        let mut rd = BufReader::new(src);
        let mut line = Vec::new();
        while matches!(rd.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            log.text
                .lock()
                .unwrap()
                .text
                .push_str(&String::from_utf8_lossy(&line));
            log.grew.notify_all();
            line.clear();
        }
        log.text.lock().unwrap().open -= 1;
        log.grew.notify_all();
    });
}

/// The rnats-server binary: `$RNATS_BIN` if set, else `rnats-server` in this test's own
/// target profile directory, built once per process with
/// `cargo build -p rnats-server --bin rnats-server` so tests work on a clean checkout.
pub fn rnats_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("RNATS_BIN") {
            return PathBuf::from(p);
        }
        let dir = profile_dir();
        let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        cmd.args(["build", "-p", "rnats-server", "--bin", "rnats-server"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                cmd.arg("--release");
            }
            Some(other) => {
                cmd.args(["--profile", other]);
            }
        }
        let st = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build rnats-server: {e}"));
        assert!(
            st.success(),
            "building rnats-server failed ({st}); fix the build or set RNATS_BIN"
        );
        let bin = dir.join(format!("rnats-server{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} missing after build", bin.display());
        bin
    })
    .clone()
}

/// The cargo target directory the tests run from (the parent of [`rnats_bin`]'s profile
/// directory), for things built or installed for tests that must stay out of the sources.
pub fn target_dir() -> PathBuf {
    let profile = profile_dir();
    profile.parent().map_or(profile.clone(), Path::to_path_buf)
}

/// `target/<profile>` of the running test executable (`target/<profile>/deps/test-hash`),
/// or `$CARGO_TARGET_DIR`/`<workspace>/target` + `debug` when not run from there.
fn profile_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe() {
        if let Some(deps) = exe.parent() {
            if deps.file_name().is_some_and(|n| n == "deps") {
                if let Some(dir) = deps.parent() {
                    return dir.to_path_buf();
                }
            }
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug")
}

/// The Go reference server: `$NATS_SERVER_BIN` if set, else `nats-server` on `PATH`,
/// else `/usr/sbin/nats-server`; `None` if none of them exists.
pub fn reference_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"));
    on_path
        .chain([PathBuf::from("/usr/sbin/nats-server")])
        .find(|p| p.is_file())
}

/// Line diff (longest common subsequence): ` ` both, `-` reference only, `+` rnats only.
pub fn line_diff(a: &[String], b: &[String]) -> String {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}
