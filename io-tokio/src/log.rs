//! Log lines in the reference server's format:
//! `[PID] 2006/01/02 15:04:05.000000 [INF] message`, to stderr or a file.
//!
//! Client test harnesses wait for `Listening for client connections on HOST:PORT` and
//! `Server is ready` in exactly this shape, so the format is part of the interface.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Mutex;

use rnats_core::node::Level;

/// Where log lines go and which of them are kept.
pub struct Logger {
    pid: u32,
    logtime: bool,
    debug: bool,
    trace: bool,
    file: Option<Mutex<File>>,
}

impl Logger {
    /// A logger writing to `path` (appending) or, without one, to stderr.
    pub fn new(path: Option<&str>, logtime: bool, debug: bool, trace: bool) -> io::Result<Logger> {
        let file = match path {
            Some(p) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(p)?,
            )),
            None => None,
        };
        Ok(Logger {
            pid: std::process::id(),
            logtime,
            debug,
            trace,
            file,
        })
    }

    /// Whether lines of `level` are written.
    pub fn enabled(&self, level: Level) -> bool {
        match level {
            Level::Debug => self.debug,
            Level::Trace => self.trace,
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
        let marker = match level {
            Level::Error => "[ERR]",
            Level::Warn => "[WRN]",
            Level::Info => "[INF]",
            Level::Debug => "[DBG]",
            Level::Trace => "[TRC]",
        };
        self.log_marker(marker, msg);
    }

    fn log_marker(&self, marker: &str, msg: &str) {
        let line = if self.logtime {
            let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f");
            format!("[{}] {now} {marker} {msg}\n", self.pid)
        } else {
            format!("[{}] {marker} {msg}\n", self.pid)
        };
        // A log line that cannot be written has nowhere better to go.
        let _ = match &self.file {
            Some(f) => f
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_all(line.as_bytes()),
            None => io::stderr().lock().write_all(line.as_bytes()),
        };
    }
}
