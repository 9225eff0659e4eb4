//! Log lines in the reference server's format:
//! `[PID] 2006/01/02 15:04:05.000000 [INF] message`, to stderr or a file.
//!
//! Client test harnesses wait for `Listening for client connections on HOST:PORT` and
//! `Server is ready` in exactly this shape, so the format is part of the interface.
//!
//! A log file can be reopened (SIGUSR1, after an outside tool rotated it) and rotates
//! itself past `logfile_size_limit` as the reference's does: the line that crosses the
//! limit still goes into the old file, which is then renamed `FILE.YYYY.MM.DD.HH.MM.SS.NNNNNNNNN`
//! (local time, nanoseconds) and a new file is started with `Rotated log, backup saved as
//! "..."`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

use rnats_core::node::Level;

use crate::syslog::{marker, Syslog};

/// Where log lines go and which of them are kept.
pub struct Logger {
    pid: u32,
    state: Mutex<State>,
}

struct State {
    logtime: bool,
    debug: bool,
    trace: bool,
    file: Option<LogFile>,
    /// When set, lines go to syslog instead of the file or stderr.
    syslog: Option<Syslog>,
}

/// A log file and how much has been written to it.
struct LogFile {
    path: String,
    file: File,
    size: u64,
    /// Rotate once the file is larger than this; 0 for never.
    limit: u64,
}

impl LogFile {
    fn open(path: &str, limit: u64) -> io::Result<LogFile> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(LogFile {
            path: path.to_string(),
            file,
            size,
            limit,
        })
    }
}

impl Logger {
    /// A logger writing to `path` (appending) or, without one, to stderr; a file is rotated
    /// past `size_limit` bytes (0 for never).
    pub fn new(
        path: Option<&str>,
        size_limit: u64,
        logtime: bool,
        debug: bool,
        trace: bool,
    ) -> io::Result<Logger> {
        let file = path.map(|p| LogFile::open(p, size_limit)).transpose()?;
        Ok(Logger {
            pid: std::process::id(),
            state: Mutex::new(State {
                logtime,
                debug,
                trace,
                file,
                syslog: None,
            }),
        })
    }

    /// Sends every line to syslog from now on.
    pub fn use_syslog(&self, syslog: Syslog) {
        self.lock().syslog = Some(syslog);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes new settings after a configuration reload; a different file is opened (the
    /// old one stays if that fails, and the error is returned).
    pub fn reconfigure(
        &self,
        path: Option<&str>,
        size_limit: u64,
        logtime: bool,
        debug: bool,
        trace: bool,
    ) -> io::Result<()> {
        let mut st = self.lock();
        st.logtime = logtime;
        st.debug = debug;
        st.trace = trace;
        let current = st.file.as_ref().map(|f| f.path.as_str());
        if current != path {
            st.file = path.map(|p| LogFile::open(p, size_limit)).transpose()?;
        } else if let Some(f) = st.file.as_mut() {
            f.limit = size_limit;
        }
        Ok(())
    }

    /// Reopens the log file (SIGUSR1), logging what happened as the reference does.
    pub fn reopen(&self) {
        let reopened = {
            let mut st = self.lock();
            let current = st.file.as_ref().map(|f| (f.path.clone(), f.limit));
            current.map(|(path, limit)| LogFile::open(&path, limit).map(|f| st.file = Some(f)))
        };
        match reopened {
            None => self.info("File log re-open ignored, not a file logger"),
            Some(Ok(())) => self.info("File log re-opened"),
            Some(Err(e)) => self.error(&format!("File log re-open failed: {e}")),
        }
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        let st = self.lock();
        match level {
            Level::Debug => st.debug,
            Level::Trace => st.trace,
            _ => true,
        }
    }

    pub fn info(&self, msg: &str) {
        self.log_marker("[INF]", msg);
    }

    pub fn warn(&self, msg: &str) {
        self.log_marker("[WRN]", msg);
    }

    pub fn error(&self, msg: &str) {
        self.log_marker("[ERR]", msg);
    }

    pub fn fatal(&self, msg: &str) {
        self.log_marker("[FTL]", msg);
    }

    /// Writes a line the core produced, if its level is enabled.
    pub fn log(&self, level: Level, msg: &str) {
        if !self.enabled(level) {
            return;
        }
        self.log_marker(marker(level), msg);
    }

    fn line(&self, logtime: bool, marker: &str, msg: &str) -> String {
        if logtime {
            let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f");
            format!("[{}] {now} {marker} {msg}\n", self.pid)
        } else {
            format!("[{}] {marker} {msg}\n", self.pid)
        }
    }

    fn log_marker(&self, marker: &str, msg: &str) {
        let mut st = self.lock();
        if let Some(syslog) = &st.syslog {
            return syslog.send(marker, msg);
        }
        let line = self.line(st.logtime, marker, msg);
        let logtime = st.logtime;
        // A log line that cannot be written has nowhere better to go.
        match st.file.as_mut() {
            Some(f) => {
                if f.file.write_all(line.as_bytes()).is_ok() {
                    f.size += line.len() as u64;
                    if f.limit > 0 && f.size > f.limit {
                        self.rotate(f, logtime);
                    }
                }
            }
            None => {
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
        }
    }

    /// Renames the full file with a timestamp suffix and starts a new one.
    fn rotate(&self, f: &mut LogFile, logtime: bool) {
        let now = chrono::Local::now();
        let backup = format!("{}.{}", f.path, now.format("%Y.%m.%d.%H.%M.%S.%9f"));
        if std::fs::rename(&f.path, &backup).is_err() {
            return;
        }
        let Ok(mut new) = LogFile::open(&f.path, f.limit) else {
            return;
        };
        let msg = format!("Rotated log, backup saved as {backup:?}");
        let line = self.line(logtime, "[INF]", &msg);
        if new.file.write_all(line.as_bytes()).is_ok() {
            new.size = line.len() as u64;
        }
        *f = new;
    }
}
