//! Operations: configuration reload (SIGHUP and `--signal reload`), lame duck mode
//! (SIGUSR2), and the log file's reopening (SIGUSR1) and rotation by size, with the log
//! lines and exit statuses of nats-server 2.9.10.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::ConnectOptions;
use common::*;
use rnats_tests::rnats_bin;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnats-ops-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) on the server process this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, sig) }, 0);
}

const USERS: &str =
    "authorization { users: [ {user: a, password: pa}, {user: b, password: pb} ] }\n";

fn user(name: &str, pass: &str) -> ConnectOptions {
    ConnectOptions::with_user_and_password(name.into(), pass.into())
}

#[tokio::test]
async fn reload_changes_a_password_live() {
    let dir = scratch("password");
    let conf = dir.join("s.conf");
    std::fs::write(&conf, USERS).unwrap();
    let srv = start(["-c", conf.to_str().unwrap()]);
    let _a = connect_with(&srv, user("a", "pa")).await;
    let b = connect_with(&srv, user("b", "pb")).await;
    let mut news = within("subscribe", b.subscribe("news")).await.unwrap();
    sync(&b).await;

    std::fs::write(&conf, USERS.replace("pa}", "pa2}")).unwrap();
    kill(srv.pid(), libc::SIGHUP);
    wait_log(&srv, "Reloaded server configuration", 1);
    let log = srv.log();
    assert!(log.contains("[INF] Reloaded: authorization users"), "{log}");
    assert!(log.contains("authentication error - User \"a\""), "{log}");

    // The new password works, the old one is refused, and b never noticed.
    let a2 = connect_with(&srv, user("a", "pa2")).await;
    let refused = within("connect", user("a", "pa").connect(srv.url())).await;
    assert!(refused.is_err(), "the old password still works");
    within("publish", a2.publish("news", "fresh".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut news).await.payload, "fresh");
    assert_eq!(
        b.connection_state(),
        async_nats::connection::State::Connected
    );
}

#[tokio::test]
async fn reload_of_an_option_that_cannot_change_is_refused_and_the_server_runs_on() {
    let dir = scratch("refused");
    let conf = dir.join("s.conf");
    std::fs::write(&conf, "max_payload: 1000\n").unwrap();
    let srv = start(["-c", conf.to_str().unwrap()]);
    std::fs::write(&conf, "max_payload: 2000\nmax_pending: 1000000\n").unwrap();
    kill(srv.pid(), libc::SIGHUP);
    wait_log(&srv, "Failed to reload server configuration", 1);
    assert!(srv.log().contains(
        "[ERR] Failed to reload server configuration: config reload not supported for \
         MaxPending: old=67108864, new=1000000"
    ));
    // Nothing of it was applied.
    assert!(!srv.log().contains("max_payload = 2000"));
    assert_healthy(&srv).await;
}

#[tokio::test]
async fn signal_reload_finds_the_server_by_pid_and_by_pid_file() {
    let dir = scratch("signal");
    let conf = dir.join("s.conf");
    let pid_file = dir.join("s.pid");
    std::fs::write(&conf, "debug: false\n").unwrap();
    let srv = start([
        "-c",
        conf.to_str().unwrap(),
        "-P",
        pid_file.to_str().unwrap(),
    ]);
    let send = |arg: String| {
        Command::new(rnats_bin())
            .args(["--signal", &arg])
            .output()
            .unwrap()
    };
    let out = send(format!("reload={}", srv.pid()));
    assert!(out.status.success(), "{out:?}");
    wait_log(&srv, "Reloaded server configuration", 1);
    std::fs::write(&conf, "debug: true\n").unwrap();
    let out = send(format!("reload={}", pid_file.display()));
    assert!(out.status.success(), "{out:?}");
    wait_log(&srv, "Reloaded server configuration", 2);
    assert!(srv.log().contains("[INF] Reloaded: debug = true"));

    // As the reference: unknown commands and bad pids fail with status 1.
    let out = send("bogus=1".into());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "rnats-server: unknown signal \"bogus\"\n"
    );
    let missing = dir.join("missing.pid");
    let out = send(format!("reload={}", missing.display()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("rnats-server: invalid pid: {}\n", missing.display())
    );
}

#[tokio::test]
async fn lame_duck_mode_drains_clients_and_exits() {
    let dir = scratch("ldm");
    let conf = dir.join("s.conf");
    std::fs::write(
        &conf,
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n",
    )
    .unwrap();
    let mut srv = start(["-c", conf.to_str().unwrap()]);
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let opts = ConnectOptions::new().event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    });
    let client = connect_with(&srv, opts).await;
    sync(&client).await;
    // A raw client speaking protocol 1 is told with an async INFO.
    let mut raw = TcpStream::connect(srv.addr()).unwrap();
    raw.set_read_timeout(Some(STEP)).unwrap();
    raw.write_all(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .unwrap();
    let mut seen = String::new();
    read_until(&mut raw, &mut seen, "PONG\r\n");

    kill(srv.pid(), libc::SIGUSR2);
    read_until(&mut raw, &mut seen, "\"ldm\":true} \r\n");
    wait_log(
        &srv,
        "Entering lame duck mode, stop accepting new clients",
        1,
    );
    assert!(
        TcpStream::connect(srv.addr()).is_err(),
        "still accepting clients"
    );
    let gone = within("disconnect", async {
        while let Some(event) = events.recv().await {
            if matches!(event, async_nats::Event::Disconnected) {
                return;
            }
        }
    });
    gone.await;
    let status = srv
        .wait_exit(STEP)
        .expect("the server did not exit by itself");
    assert_eq!(status.code(), Some(0));
    srv.stop();
    let log = srv.log();
    for line in [
        "[INF] Closing existing clients",
        "[INF] Initiating Shutdown...",
        "[INF] Server Exiting..",
    ] {
        assert!(log.contains(line), "no `{line}` in:\n{log}");
    }
}

fn read_until(s: &mut TcpStream, seen: &mut String, end: &str) {
    let mut buf = [0u8; 4096];
    while !seen.ends_with(end) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// A server logging to a file: started by hand, since its stderr stays silent.
struct FileLogged {
    child: std::process::Child,
    log: PathBuf,
    port: u16,
}

impl FileLogged {
    fn start(dir: &Path, conf: &str) -> FileLogged {
        let log = dir.join("s.log");
        let conf_path = dir.join("s.conf");
        let text = format!("log_file: {:?}\n{conf}", log.to_str().unwrap());
        std::fs::write(&conf_path, text).unwrap();
        let child = Command::new(rnats_bin())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                "-1",
                "-c",
                conf_path.to_str().unwrap(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + STEP;
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text
                .lines()
                .find_map(|l| l.split_once("Listening for client connections on "))
                .and_then(|(_, addr)| addr.trim().rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok());
            if let (Some(port), true) = (port, text.contains("Server is ready")) {
                break port;
            }
            assert!(Instant::now() < deadline, "not ready; log:\n{text}");
            std::thread::sleep(Duration::from_millis(10));
        };
        FileLogged { child, log, port }
    }

    fn touch(&self) {
        let mut c = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut buf = [0u8; 1024];
        let _ = c.read(&mut buf);
    }

    fn wait_for(&self, path: &Path, needle: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in {path:?}:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for FileLogged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_log_file_rotates_by_size_with_a_timestamped_backup() {
    let dir = scratch("rotate");
    let srv = FileLogged::start(&dir, "logfile_size_limit: 1000\ndebug: true\n");
    for _ in 0..6 {
        srv.touch();
    }
    let text = srv.wait_for(&srv.log, "Rotated log, backup saved as ");
    let first = text.lines().next().unwrap();
    let backup = first
        .split_once("Rotated log, backup saved as \"")
        .and_then(|(_, rest)| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("first line: {first}"));
    // FILE.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN, as the reference names it.
    let suffix = backup
        .strip_prefix(&format!("{}.", srv.log.display()))
        .unwrap();
    let parts: Vec<&str> = suffix.split('.').collect();
    let widths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    assert_eq!(widths, [4, 2, 2, 2, 2, 2, 9], "{backup}");
    assert!(parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())));
    let old = std::fs::read_to_string(backup).unwrap();
    assert!(old.contains("Starting rnats-server"));
    assert!(old.len() > 1000);
}

#[test]
fn sigusr1_reopens_the_log_file() {
    let dir = scratch("reopen");
    let srv = FileLogged::start(&dir, "");
    let moved = dir.join("s.log.1");
    std::fs::rename(&srv.log, &moved).unwrap();
    kill(srv.child.id(), libc::SIGUSR1);
    let text = srv.wait_for(&srv.log, "File log re-opened");
    assert!(!text.contains("Starting rnats-server"));
    assert!(std::fs::read_to_string(&moved)
        .unwrap()
        .contains("Server is ready"));
}

#[test]
fn sigterm_exits_with_status_1_and_sigint_with_0() {
    for (sig, code) in [(libc::SIGTERM, 1), (libc::SIGINT, 0)] {
        let mut srv = start([]);
        kill(srv.pid(), sig);
        let status = srv.wait_exit(STEP).expect("still running");
        assert_eq!(status.code(), Some(code), "signal {sig}");
        srv.stop();
        assert!(srv.log().contains("[INF] Server Exiting.."));
    }
}
