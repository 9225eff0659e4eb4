//! Differential test: every script in `tests/scripts/*.nats` is played with raw TCP bytes
//! against the Go reference server and against rnats; what each connection receives is
//! normalised and the two transcripts must be equal. The script format is described in
//! `tests/scripts/README.md`.
//!
//! Environment:
//! - `RNATS_BIN`, `NATS_SERVER_BIN`: the binaries (see `rnats_tests`).
//! - `DIFF_FILTER=substr`: only run scripts whose file name contains `substr`.
//! - `DIFF_SHOW=1`: print the reference transcript of every script, failing or not.
//! - `CI`: when set, a missing reference server is an error instead of a skip.

use rnats_tests::{line_diff, reference_bin, rnats_bin, Server};
use std::collections::{BTreeMap, HashMap};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest wait for an expected text (`a< TEXT`), for the INFO on `open`, and for
/// `wait-close`. Only a server that misbehaves makes a script wait this long.
const WAIT: Duration = Duration::from_secs(10);
/// `a<` returns after this long without new bytes.
const QUIET: Duration = Duration::from_millis(150);
/// ... or after this long in total.
const QUIET_MAX: Duration = Duration::from_secs(3);
/// Scripts run at the same time (each starts two servers).
const WORKERS: usize = 16;

/// INFO keys whose values differ between servers, runs or connections: only their presence
/// is compared.
const VOLATILE_INFO_KEYS: &[&str] = &[
    "server_id",
    "server_name",
    "version",
    "go",
    "git_commit",
    "host",
    "port",
    "client_id",
    "client_ip",
    "nonce",
    "xkey",
    "connect_urls",
    "ws_connect_urls",
    "cluster",
    "cluster_dynamic",
    "jetstream",
    "domain",
    "ip",
];

// ---------------------------------------------------------------------------------------
// Scripts

#[derive(Debug)]
enum Action {
    Open(String),
    Close(String),
    WaitClose(String),
    Sleep(Duration),
    Send(String, Vec<u8>),
    Expect(String, Vec<u8>),
    Quiet(String),
}

#[derive(Debug)]
struct Step {
    line: usize,
    text: String,
    action: Action,
}

#[derive(Debug)]
struct Script {
    name: String,
    args: Vec<String>,
    conf: Option<String>,
    /// `# unordered`: messages within one read step are compared as a multiset.
    unordered: bool,
    /// `# server-pings`: keep the PINGs the server sends on its own timer (dropped by
    /// default, since when they come depends on timing).
    server_pings: bool,
    steps: Vec<Step>,
}

fn parse_script(name: &str, src: &str) -> Result<Script, String> {
    let mut script = Script {
        name: name.to_string(),
        args: Vec::new(),
        conf: None,
        unordered: false,
        server_pings: false,
        steps: Vec::new(),
    };
    let mut opened = Vec::<String>::new();
    for (i, raw) in src.lines().enumerate() {
        let line = i + 1;
        let err = |m: &str| format!("{name}:{line}: {m}: {raw:?}");
        if let Some(rest) = raw.strip_prefix("# args:") {
            script
                .args
                .extend(rest.split_whitespace().map(str::to_string));
            continue;
        }
        if let Some(rest) = raw.strip_prefix("# conf:") {
            let conf = script.conf.get_or_insert_with(String::new);
            conf.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            conf.push('\n');
            continue;
        }
        if raw.trim_end() == "# unordered" {
            script.unordered = true;
            continue;
        }
        if raw.trim_end() == "# server-pings" {
            script.server_pings = true;
            continue;
        }
        if raw.trim().is_empty() || raw.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = raw.split_whitespace().collect();
        let action = match words.as_slice() {
            ["open", c] => {
                if opened.iter().any(|o| o == c) {
                    return Err(err("connection opened twice"));
                }
                opened.push(c.to_string());
                Action::Open(c.to_string())
            }
            ["close", c] => Action::Close(c.to_string()),
            ["wait-close", c] => Action::WaitClose(c.to_string()),
            ["sleep", ms] => Action::Sleep(Duration::from_millis(
                ms.parse().map_err(|_| err("bad ms"))?,
            )),
            _ => {
                let n = raw
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or_else(|| err("unknown command"))?;
                let (conn, rest) = raw.split_at(n);
                if conn.is_empty() {
                    return Err(err("unknown command"));
                }
                let conn = conn.to_string();
                if let Some(text) = rest.strip_prefix("> ") {
                    Action::Send(conn, unescape(text).map_err(|e| err(&e))?)
                } else if rest == "<" {
                    Action::Quiet(conn)
                } else if let Some(text) = rest.strip_prefix("< ") {
                    Action::Expect(conn, unescape(text).map_err(|e| err(&e))?)
                } else {
                    return Err(err("unknown command"));
                }
            }
        };
        let conn = match &action {
            Action::Close(c)
            | Action::WaitClose(c)
            | Action::Send(c, _)
            | Action::Expect(c, _)
            | Action::Quiet(c) => Some(c),
            _ => None,
        };
        if conn.is_some_and(|c| !opened.contains(c)) {
            return Err(err("connection not opened"));
        }
        script.steps.push(Step {
            line,
            text: raw.to_string(),
            action,
        });
    }
    if script.steps.is_empty() {
        return Err(format!("{name}: no steps"));
    }
    Ok(script)
}

/// `\r \n \t \0 \\ \xHH` and `${N:TEXT}` (TEXT repeated N times).
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let c = *b.get(i + 1).ok_or("dangling backslash")?;
                i += 2;
                match c {
                    b'r' => out.push(b'\r'),
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'0' => out.push(0),
                    b'\\' => out.push(b'\\'),
                    b'x' => {
                        let hex = s.get(i..i + 2).ok_or("short \\x escape")?;
                        out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad \\x escape")?);
                        i += 2;
                    }
                    _ => return Err(format!("unknown escape \\{}", c as char)),
                }
            }
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let end = s[i..].find('}').ok_or("unclosed ${")? + i;
                let (n, text) = s[i + 2..end].split_once(':').ok_or("${N:TEXT} expected")?;
                let n: usize = n.parse().map_err(|_| "bad repeat count")?;
                out.extend(unescape(text)?.repeat(n));
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Running a script

/// How a read step ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    /// The expected text arrived, or the connection went quiet.
    Done,
    /// The server closed the connection.
    Closed,
    /// Still waiting when the time was up.
    Timeout,
    /// Final state: still open at the end of the script.
    Open,
}

struct Entry {
    /// Script line, 0 for the final drain.
    line: usize,
    step: String,
    data: Vec<u8>,
    end: End,
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    closed: bool,
    /// Closed by the script (`close NAME`), not by the server.
    closed_by_client: bool,
}

enum Fill {
    Data,
    Timeout,
    Closed,
}

impl Conn {
    fn fill(&mut self, timeout: Duration) -> Fill {
        if self.closed {
            return Fill::Closed;
        }
        let timeout = timeout.max(Duration::from_millis(1));
        let _ = self.stream.set_read_timeout(Some(timeout));
        let mut tmp = vec![0u8; 256 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => {
                self.closed = true;
                Fill::Closed
            }
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Fill::Data
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Fill::Timeout
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Fill::Data,
            Err(_) => {
                self.closed = true;
                Fill::Closed
            }
        }
    }

    /// Reads until `pat` and the rest of its line arrived; returns the bytes up to there.
    fn expect(&mut self, pat: &[u8]) -> (Vec<u8>, End) {
        let deadline = Instant::now() + WAIT;
        // Only bytes from `from` on are searched again, so a large payload is scanned once.
        let mut from = 0;
        loop {
            match match_end(&self.buf, from, pat) {
                Ok(end) => return (self.buf.drain(..end).collect(), End::Done),
                Err(next) => from = next,
            }
            if self.closed {
                return (std::mem::take(&mut self.buf), End::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return (std::mem::take(&mut self.buf), End::Timeout);
            }
            self.fill(deadline - now);
        }
    }

    /// Reads until nothing arrives for [`QUIET`], the connection closes, or [`QUIET_MAX`].
    fn quiet(&mut self) -> (Vec<u8>, End) {
        let deadline = Instant::now() + QUIET_MAX;
        let end = loop {
            match self.fill(QUIET) {
                Fill::Closed => break End::Closed,
                Fill::Timeout => break End::Done,
                Fill::Data if Instant::now() >= deadline => break End::Done,
                Fill::Data => {}
            }
        };
        (std::mem::take(&mut self.buf), end)
    }

    fn wait_close(&mut self) -> (Vec<u8>, End) {
        let deadline = Instant::now() + WAIT;
        let end = loop {
            let now = Instant::now();
            if now >= deadline {
                break End::Timeout;
            }
            if let Fill::Closed = self.fill(deadline - now) {
                break End::Closed;
            }
        };
        (std::mem::take(&mut self.buf), end)
    }
}

/// End of the line that contains the end of the first match of `pat` in `buf`, searching
/// from `from`. `Err(from)`: not (completely) there yet; search again from `from`.
fn match_end(buf: &[u8], from: usize, pat: &[u8]) -> Result<usize, usize> {
    let start = if pat.is_empty() {
        Some(0)
    } else {
        buf[from..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map(|p| from + p + pat.len())
    };
    let Some(e) = start else {
        return Err(buf.len().saturating_sub(pat.len()).max(from));
    };
    if pat.last() == Some(&b'\n') {
        return Ok(e);
    }
    match buf[e..].iter().position(|&c| c == b'\n') {
        Some(p) => Ok(e + p + 1),
        // Matched but the line is incomplete: search from the match again.
        None => Err(e - pat.len()),
    }
}

/// Where per-run config files go.
fn conf_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rnats-differential-{}", std::process::id()))
}

/// Plays `script` against a fresh `bin`. `Err` is a harness problem (server did not start,
/// cannot connect); the transcript holds everything else.
fn run_script(script: &Script, bin: &Path, tag: &str) -> Result<Vec<Entry>, String> {
    let mut args = script.args.clone();
    if let Some(conf) = &script.conf {
        let dir = conf_dir();
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let path = dir.join(format!("{}-{tag}.conf", script.name));
        std::fs::write(&path, conf).map_err(|e| e.to_string())?;
        args.push("-c".into());
        args.push(path.display().to_string());
    }
    let mut srv = Server::start(bin, &args)?;
    let mut conns: Vec<(String, Conn)> = Vec::new();
    let mut out = Vec::new();
    let result = (|| -> Result<(), String> {
        for step in &script.steps {
            let conn = |conns: &mut Vec<(String, Conn)>, name: &str| -> usize {
                conns.iter().position(|(n, _)| n == name).unwrap()
            };
            let mut record = |data: Vec<u8>, end: End| {
                out.push(Entry {
                    line: step.line,
                    step: step.text.clone(),
                    data,
                    end,
                })
            };
            match &step.action {
                Action::Open(name) => {
                    let stream = TcpStream::connect(srv.addr())
                        .map_err(|e| format!("line {}: connect: {e}", step.line))?;
                    let _ = stream.set_nodelay(true);
                    let _ = stream.set_write_timeout(Some(WAIT));
                    let mut c = Conn {
                        stream,
                        buf: Vec::new(),
                        closed: false,
                        closed_by_client: false,
                    };
                    let (data, end) = c.expect(b"\n");
                    record(data, end);
                    conns.push((name.clone(), c));
                }
                Action::Close(name) => {
                    let i = conn(&mut conns, name);
                    let _ = conns[i].1.stream.shutdown(std::net::Shutdown::Both);
                    conns[i].1.closed = true;
                    conns[i].1.closed_by_client = true;
                }
                Action::Sleep(d) => std::thread::sleep(*d),
                Action::Send(name, bytes) => {
                    let i = conn(&mut conns, name);
                    // A server that already closed makes this fail; what it sent before is
                    // still read and compared, so the error itself is not recorded.
                    let _ = conns[i].1.stream.write_all(bytes);
                }
                Action::Expect(name, pat) => {
                    let i = conn(&mut conns, name);
                    let (data, end) = conns[i].1.expect(pat);
                    record(data, end);
                }
                Action::Quiet(name) => {
                    let i = conn(&mut conns, name);
                    let (data, end) = conns[i].1.quiet();
                    record(data, end);
                }
                Action::WaitClose(name) => {
                    let i = conn(&mut conns, name);
                    let (data, end) = conns[i].1.wait_close();
                    record(data, end);
                }
            }
        }
        for (name, c) in conns.iter_mut().filter(|(_, c)| !c.closed_by_client) {
            let (data, end) = c.quiet();
            out.push(Entry {
                line: 0,
                step: format!("end {name}"),
                data,
                end: if end == End::Closed {
                    End::Closed
                } else {
                    End::Open
                },
            });
        }
        Ok(())
    })();
    drop(conns);
    srv.stop();
    result
        .map(|()| out)
        .map_err(|e: String| format!("{e}\nserver log:\n{}", srv.log()))
}

/// Reference-side checks that catch script mistakes (waiting for something that never
/// comes makes the test slow and proves nothing).
fn check_reference(script: &Script, entries: &[Entry]) -> Result<(), String> {
    for e in entries {
        let step = script.steps.iter().find(|s| s.line == e.line);
        let expects = matches!(
            step.map(|s| &s.action),
            Some(Action::Expect(..) | Action::Open(_))
        );
        if e.end == End::Timeout || (expects && e.end == End::Closed) {
            return Err(format!(
                "script bug: the reference server did not satisfy line {} `{}` ({:?}); got {:?}",
                e.line,
                e.step,
                e.end,
                String::from_utf8_lossy(&e.data)
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Normalising and rendering

fn render(entries: &[Entry], script: &Script) -> Vec<String> {
    let mut lines = Vec::new();
    for e in entries {
        if e.line == 0 {
            lines.push(format!("@ {}", e.step));
        } else {
            lines.push(format!("@{} {}", e.line, e.step));
        }
        let mut groups = render_bytes(&e.data);
        if !script.server_pings {
            groups.retain(|g| g[0] != "PING\\r\\n");
        }
        if script.unordered {
            groups.sort();
        }
        for l in groups.concat() {
            lines.push(format!("    {l}"));
        }
        match e.end {
            End::Done => {}
            End::Closed => lines.push("    (closed by server)".into()),
            End::Timeout => lines.push("    (timed out)".into()),
            End::Open => lines.push("    (still open)".into()),
        }
    }
    lines
}

/// One group per protocol message: its line, then for MSG/HMSG its payload line. INFO is
/// normalised.
fn render_bytes(data: &[u8]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let Some(nl) = data[i..].iter().position(|&c| c == b'\n') else {
            out.push(vec![format!("{} (partial)", escape(&data[i..]))]);
            break;
        };
        let line = &data[i..i + nl + 1];
        i += nl + 1;
        if line.starts_with(b"INFO ") {
            out.push(vec![normalise_info(line)]);
            continue;
        }
        let mut group = vec![escape_long(line)];
        if line.starts_with(b"MSG ") || line.starts_with(b"HMSG ") {
            let size = std::str::from_utf8(line)
                .ok()
                .and_then(|l| l.split_whitespace().last())
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(size) = size {
                let end = (i + size).min(data.len());
                let trailer = (end + 2).min(data.len());
                group.push(format!(
                    "  payload: {}{}",
                    escape_long(&data[i..end]),
                    escape(&data[end..trailer])
                ));
                i = trailer;
            }
        }
        out.push(group);
    }
    out
}

fn normalise_info(line: &[u8]) -> String {
    let body = &line[5..];
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>();
    let (value, used) = match stream.next() {
        Some(Ok(v)) => (v, stream.byte_offset()),
        _ => return format!("{} (INFO with bad JSON)", escape(line)),
    };
    let serde_json::Value::Object(map) = value else {
        return format!("{} (INFO not an object)", escape(line));
    };
    let sorted: BTreeMap<_, _> = map
        .into_iter()
        .map(|(k, v)| {
            let v = if VOLATILE_INFO_KEYS.contains(&k.as_str()) {
                serde_json::Value::String("*".into())
            } else {
                v
            };
            (k, v)
        })
        .collect();
    format!(
        "INFO {}{}",
        serde_json::to_string(&sorted).unwrap(),
        escape(&body[used..])
    )
}

fn escape(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// [`escape`], but long inputs are shortened to a prefix, their length and a hash.
fn escape_long(b: &[u8]) -> String {
    if b.len() <= 200 {
        return escape(b);
    }
    let hash = b.iter().fold(0xcbf29ce484222325u64, |h, &c| {
        (h ^ c as u64).wrapping_mul(0x100000001b3)
    });
    format!(
        "{}... ({} bytes, fnv {hash:016x})",
        escape(&b[..40]),
        b.len()
    )
}

// ---------------------------------------------------------------------------------------
// The test

enum Outcome {
    Pass(Vec<String>),
    Fail(String),
}

fn check(script: &Script, reference: &Path, rnats: &Path) -> Outcome {
    let (want, got) = std::thread::scope(|s| {
        let r = s.spawn(|| run_script(script, reference, "ref"));
        let got = run_script(script, rnats, "rnats");
        (r.join().unwrap(), got)
    });
    let want = match want {
        Ok(w) => w,
        Err(e) => return Outcome::Fail(format!("reference server: {e}")),
    };
    let bug = check_reference(script, &want);
    let want = render(&want, script);
    if let Err(e) = bug {
        return Outcome::Fail(format!("{e}\nreference transcript:\n{}", want.join("\n")));
    }
    let got = match got {
        Ok(g) => render(&g, script),
        Err(e) => return Outcome::Fail(format!("rnats: {e}")),
    };
    if want == got {
        Outcome::Pass(want)
    } else {
        Outcome::Fail(format!(
            "transcripts differ (- reference, + rnats):\n{}",
            line_diff(&want, &got)
        ))
    }
}

fn load_scripts() -> Vec<Result<Script, String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let filter = std::env::var("DIFF_FILTER").unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nats"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let src = std::fs::read_to_string(p).map_err(|e| format!("{name}: {e}"))?;
            parse_script(&name, &src)
        })
        .collect()
}

/// Writes straight to stderr so the report shows even when libtest captures output.
fn report(s: &str) {
    let _ = std::io::stderr().lock().write_all(s.as_bytes());
}

#[test]
fn differential() {
    let Some(reference) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "differential: the reference nats-server is not installed (CI is set): \
             install it (apt-get install nats-server) or set NATS_SERVER_BIN"
        );
        report("differential: skipped, no reference nats-server found\n");
        return;
    };
    let rnats = rnats_bin();
    assert!(
        rnats.is_file(),
        "rnats binary {} not found",
        rnats.display()
    );
    let scripts = load_scripts();
    assert!(!scripts.is_empty(), "no scripts matched");
    let show = std::env::var_os("DIFF_SHOW").is_some();

    let next = AtomicUsize::new(0);
    let results: Mutex<HashMap<usize, (String, Outcome)>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..WORKERS.min(scripts.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(script) = scripts.get(i) else { break };
                let res = match script {
                    Ok(sc) => (sc.name.clone(), check(sc, &reference, &rnats)),
                    Err(e) => ("(parse)".to_string(), Outcome::Fail(e.clone())),
                };
                results.lock().unwrap().insert(i, res);
            });
        }
    });
    let _ = std::fs::remove_dir_all(conf_dir());
    let mut results = results.into_inner().unwrap();
    let (mut passed, mut failed) = (0, 0);
    for i in 0..scripts.len() {
        let (name, outcome) = results.remove(&i).unwrap();
        match outcome {
            Outcome::Pass(lines) => {
                passed += 1;
                if show {
                    report(&format!("--- {name}: ok\n{}\n", lines.join("\n")));
                }
            }
            Outcome::Fail(why) => {
                failed += 1;
                report(&format!("--- {name}: FAILED\n{why}\n"));
            }
        }
    }
    report(&format!("differential: {passed} passed, {failed} failed\n"));
    assert_eq!(failed, 0, "differential: {failed} script(s) failed");
}
