//! `--signal <command>[=<pid>]` (`-sl`): signals a running server, as the reference does.
//!
//! The pid is a number or the path of a pid file (`-P`); without one, the server is found
//! by its process name with `pgrep`, and there must be exactly one. Commands map to signals
//! as in the reference: `stop` SIGKILL, `quit` SIGINT, `term` SIGTERM, `reopen` SIGUSR1,
//! `reload` SIGHUP, `ldm` SIGUSR2.

/// The name `pgrep` looks for.
const PROCESS_NAME: &str = "rnats-server";

/// Sends the signal `arg` asks for; the error is what the reference prints after
/// `nats-server: ` before exiting with status 1.
pub fn send(arg: &str) -> Result<(), String> {
    let parts: Vec<&str> = arg.split('=').collect();
    if parts.len() > 2 {
        // Go prints the rest as a slice: `[a b]`.
        return Err(format!(
            "invalid signal parameters: [{}]",
            parts[2..].join(" ")
        ));
    }
    let pid = match parts.get(1) {
        Some(p) => parse_pid(&maybe_read_pid_file(p))?,
        None => find_pid()?,
    };
    let sig = match parts[0] {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "term" => libc::SIGTERM,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        other => return Err(format!("unknown signal {other:?}")),
    };
    // SAFETY: kill(2) takes plain integers; a bad pid is reported through errno.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ESRCH) => "no such process".to_string(),
            Some(libc::EPERM) => "operation not permitted".to_string(),
            _ => err.to_string(),
        });
    }
    Ok(())
}

/// The contents of `s` if it names a readable file, else `s` itself.
fn maybe_read_pid_file(s: &str) -> String {
    std::fs::read_to_string(s).unwrap_or_else(|_| s.to_string())
}

fn parse_pid(s: &str) -> Result<libc::pid_t, String> {
    s.parse().map_err(|_| format!("invalid pid: {s}"))
}

/// The one other running server, found by name.
fn find_pid() -> Result<libc::pid_t, String> {
    let out = std::process::Command::new("pgrep")
        .arg(PROCESS_NAME)
        .output()
        .map_err(|_| "unable to resolve pid, try providing one".to_string())?;
    let me = std::process::id() as libc::pid_t;
    let mut pids = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.is_empty() {
            continue;
        }
        let pid: libc::pid_t = line
            .trim()
            .parse()
            .map_err(|_| "unable to resolve pid, try providing one".to_string())?;
        if pid != me {
            pids.push(pid);
        }
    }
    match pids.as_slice() {
        [] => Err(format!("no {PROCESS_NAME} processes running")),
        [pid] => Ok(*pid),
        _ => {
            let list: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
            Err(format!(
                "multiple {PROCESS_NAME} processes running:\n{}",
                list.join("\n")
            ))
        }
    }
}
