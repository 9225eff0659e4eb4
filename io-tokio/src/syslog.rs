//! Logging to syslog (`-s`, `syslog: true`) or a remote syslog server (`-r`,
//! `remote_syslog: "udp://host:514"`), as the reference does: the daemon facility, each
//! level at its severity, the message without the level marker (syslog has its own).

use std::io;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;

use rnats_core::node::Level;

/// Where syslog lines go.
pub enum Syslog {
    /// The local syslog socket.
    Local(UnixDatagram),
    /// A remote server over UDP; remote lines carry the host name.
    Remote { socket: UdpSocket, host: String },
}

/// The daemon facility (3), shifted as syslog priorities encode it.
const DAEMON: u8 = 3 << 3;

/// Local syslog sockets, in the order they are tried.
const LOCAL_SOCKETS: &[&str] = &["/dev/log", "/var/run/syslog", "/var/run/log"];

impl Syslog {
    /// Connects to `remote` (`udp://host:port`, `unix:///path`), or to the local syslog.
    pub fn connect(remote: Option<&str>) -> io::Result<Syslog> {
        match remote {
            None => {
                let socket = UnixDatagram::unbound()?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no local syslog socket");
                for path in LOCAL_SOCKETS {
                    match socket.connect(path) {
                        Ok(()) => return Ok(Syslog::Local(socket)),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
            Some(url) => {
                if let Some(path) = url.strip_prefix("unix://") {
                    let socket = UnixDatagram::unbound()?;
                    socket.connect(path)?;
                    return Ok(Syslog::Local(socket));
                }
                let addr = url.strip_prefix("udp://").ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "unsupported remote syslog address {url:?} (use udp:// or unix://)"
                        ),
                    )
                })?;
                let socket = UdpSocket::bind("0.0.0.0:0")?;
                socket.connect(addr)?;
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_else(|_| "localhost".to_string());
                Ok(Syslog::Remote { socket, host })
            }
        }
    }

    /// Sends one message at the severity of `marker` (`[INF]`, `[ERR]`...).
    pub fn send(&self, marker: &str, msg: &str) {
        let severity: u8 = match marker {
            "[FTL]" => 2,
            "[ERR]" => 3,
            "[WRN]" => 4,
            "[DBG]" => 7,
            _ => 5,
        };
        let pri = DAEMON + severity;
        let pid = std::process::id();
        let now = chrono::Local::now();
        // A line that cannot be sent has nowhere better to go.
        let _ = match self {
            Syslog::Local(socket) => {
                let stamp = now.format("%b %e %H:%M:%S");
                socket.send(format!("<{pri}>{stamp} rnats-server[{pid}]: {msg}").as_bytes())
            }
            Syslog::Remote { socket, host } => {
                let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
                let line = format!("<{pri}>{stamp} {host} rnats-server[{pid}]: {msg}");
                socket.send(line.as_bytes())
            }
        };
    }
}

/// The marker of a core log level.
pub fn marker(level: Level) -> &'static str {
    match level {
        Level::Error => "[ERR]",
        Level::Warn => "[WRN]",
        Level::Info => "[INF]",
        Level::Debug => "[DBG]",
        Level::Trace => "[TRC]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_lines_carry_priority_host_and_tag() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let url = format!("udp://{}", server.local_addr().unwrap());
        let syslog = Syslog::connect(Some(&url)).unwrap();
        syslog.send("[WRN]", "disk is slow");
        let mut buf = [0u8; 512];
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let n = server.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]);
        assert!(line.starts_with("<28>"), "{line}");
        assert!(
            line.ends_with(&format!(
                " rnats-server[{}]: disk is slow",
                std::process::id()
            )),
            "{line}"
        );
        assert!(Syslog::connect(Some("tcp://x:1")).is_err());
    }
}
