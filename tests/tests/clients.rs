//! Client libraries other than async-nats, side by side: the probe programs in
//! `tests/clients/` (nats.go, the Go client; nats-py, the Python client) do what users of
//! those libraries do and print deterministic lines; each runs against rnats and, where
//! installed, the reference nats-server, and both outputs must be the same.
//!
//! - Go: `go` on `PATH` and the nats.go sources in a GOPATH (Debian:
//!   `apt-get install golang-go golang-github-nats-io-go-nats-dev`; `$NATS_GO_GOPATH` to
//!   use another). The probe is built in GOPATH mode in a temporary directory.
//! - Python: `python3` with `venv`; nats-py is installed into a virtual environment in the
//!   target directory on first use (`$NATS_PY_VENV` to use another).
//!
//! A missing toolchain skips its probe with the reason printed, unless `CI` is set: then it
//! is a failure. Without a reference server the probes still have to run clean on rnats.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rnats_tests::{line_diff, reference_bin, rnats_bin, target_dir, Server};

/// Bound for one probe run; both take a few seconds.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Writes straight to stderr so the reason shows even when libtest captures output.
fn report(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

/// Skips with `why`, or fails when `CI` is set.
fn skip(probe: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{probe}: {why} (CI is set, so this is a failure)"
    );
    report(&format!("{probe}: skipped, {why}\n"));
}

/// Runs `cmd` with `urls` appended; its stdout, or why it failed.
fn run_probe(cmd: &[PathBuf], urls: &[String]) -> Result<String, String> {
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .args(urls)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cmd[0].display()))?;
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(st);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    match status {
        Some(st) if st.success() => Ok(out),
        Some(st) => Err(format!(
            "probe exited with {st}; stderr:\n{err}\nstdout:\n{out}"
        )),
        None => Err(format!(
            "probe still running after {PROBE_TIMEOUT:?}; stderr:\n{err}\nstdout:\n{out}"
        )),
    }
}

/// Starts the servers a probe wants from `bin` (one per entry of `servers`, each its
/// arguments; `{dir}` stands for a fresh store directory), runs the probe with their URLs.
fn probe_against(bin: &Path, servers: &[&[&str]], cmd: &[PathBuf]) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let store = dir.path().to_str().unwrap();
    let running = servers
        .iter()
        .map(|args| {
            let args = args.iter().map(|a| a.replace("{dir}", store));
            Server::start(bin, args)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let urls: Vec<String> = running.iter().map(Server::url).collect();
    run_probe(cmd, &urls).map_err(|e| {
        let logs: Vec<String> = running.iter().map(Server::log).collect();
        format!("{e}\nserver logs:\n{}", logs.join("\n---\n"))
    })
}

/// Runs the probe against rnats and, when installed, the reference; fails on any difference.
fn compare(probe: &str, servers: &[&[&str]], cmd: &[PathBuf]) {
    let got = probe_against(&rnats_bin(), servers, cmd)
        .unwrap_or_else(|e| panic!("{probe} against rnats: {e}"));
    let Some(reference) = reference_bin() else {
        skip(
            probe,
            "no reference nats-server to compare with (ran on rnats only)",
        );
        return;
    };
    let want = probe_against(&reference, servers, cmd)
        .unwrap_or_else(|e| panic!("{probe} against the reference: {e}"));
    let lines = |s: &str| s.lines().map(str::to_owned).collect::<Vec<_>>();
    let (want, got) = (lines(&want), lines(&got));
    assert!(
        want == got,
        "{probe}: outputs differ (- reference, + rnats):\n{}",
        line_diff(&want, &got)
    );
    report(&format!("{probe}: {} lines, the same on both\n", got.len()));
}

/// Whether `program` runs with `args`.
fn runs(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success())
}

#[test]
fn nats_go() {
    const PROBE: &str = "nats.go probe";
    if !runs("go", &["version"]) {
        return skip(PROBE, "no `go` on PATH (apt-get install golang-go)");
    }
    let gopath = std::env::var("NATS_GO_GOPATH").unwrap_or_else(|_| "/usr/share/gocode".into());
    if !Path::new(&gopath)
        .join("src/github.com/nats-io/nats.go")
        .is_dir()
    {
        return skip(
            PROBE,
            &format!(
                "no nats.go sources in GOPATH {gopath} \
                 (apt-get install golang-github-nats-io-go-nats-dev)"
            ),
        );
    }
    let build = tempfile::tempdir().unwrap();
    let bin = build.path().join("probe");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(clients_dir().join("go/probe.go"))
        .env("GO111MODULE", "off")
        .env("GOPATH", &gopath)
        // Its build cache too goes with the temporary directory: nothing is left behind.
        .env("GOCACHE", build.path().join("cache"))
        .output()
        .expect("cannot run go build");
    assert!(
        out.status.success(),
        "building the Go probe failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    compare(
        PROBE,
        &[
            &["-js", "-sd", "{dir}"],
            &["--user", "probe", "--pass", "secret"],
            &["--auth", "s3cr3t"],
        ],
        &[bin],
    );
}

#[test]
fn nats_py() {
    const PROBE: &str = "nats-py probe";
    let venv = std::env::var_os("NATS_PY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("nats-py-venv"));
    let python = venv.join("bin/python");
    if !runs(&python, &["-c", "import nats"]) {
        if !runs("python3", &["-m", "venv", &venv.to_string_lossy()]) {
            return skip(
                PROBE,
                "cannot make a Python venv (python3 with venv needed)",
            );
        }
        if !runs(venv.join("bin/pip"), &["install", "-q", "nats-py"]) {
            return skip(PROBE, "cannot pip install nats-py into the venv");
        }
    }
    compare(
        PROBE,
        &[&["-js", "-sd", "{dir}"]],
        &[python, clients_dir().join("python/probe.py")],
    );
}
