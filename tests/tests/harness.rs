//! Self-test of the `Server` harness, run against the reference server when installed.

use rnats_tests::{reference_bin, Server};
use std::io::Read;
use std::net::TcpStream;

#[test]
fn starts_reports_port_and_stops() {
    let Some(bin) = reference_bin() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "reference nats-server missing"
        );
        return;
    };
    let mut srv = Server::start(&bin, ["--user", "u", "--pass", "p"]).unwrap();
    assert_ne!(srv.port(), 0);
    assert_eq!(srv.url(), format!("nats://127.0.0.1:{}", srv.port()));
    let mut conn = TcpStream::connect(srv.addr()).unwrap();
    let mut buf = [0u8; 5];
    conn.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"INFO ");
    assert!(srv.log().contains("Server is ready"), "{}", srv.log());
    // The exit code is not checked: nats-server 2.9 exits with 1 on SIGTERM.
    srv.stop().expect("server did not stop on SIGTERM");
    assert!(srv.log().contains("Server Exiting"), "{}", srv.log());
}

#[test]
fn reports_startup_failure_with_log() {
    let Some(bin) = reference_bin() else { return };
    let err = Server::start(&bin, ["--no-such-flag"]).err().unwrap();
    assert!(err.contains("exited"), "{err}");
}
