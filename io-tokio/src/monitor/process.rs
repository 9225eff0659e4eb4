//! Process figures `/varz` reports: resident memory, CPU use and cores, from `/proc`.

use std::sync::Mutex;
use std::time::Instant;

/// Resident set size in bytes (`/proc/self/statm`), 0 where it cannot be read.
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if n > 0 {
        n as f64
    } else {
        100.0
    }
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold blanks; the fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU use in percent of one core between successive readings (since the process began,
/// on the first one), as the reference's `cpu`.
pub struct CpuMeter {
    last: Mutex<Option<(Instant, f64)>>,
    started: Instant,
}

impl CpuMeter {
    pub fn new() -> CpuMeter {
        CpuMeter {
            last: Mutex::new(None),
            started: Instant::now(),
        }
    }

    pub fn percent(&self) -> f64 {
        let Some(cpu) = cpu_seconds() else {
            return 0.0;
        };
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let (since, before) = last.unwrap_or((self.started, 0.0));
        *last = Some((now, cpu));
        let wall = now.duration_since(since).as_secs_f64();
        if wall <= 0.0 {
            return 0.0;
        }
        // One decimal, as the reference rounds it.
        ((cpu - before) / wall * 1000.0).round() / 10.0
    }
}

/// Cores available to the process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
