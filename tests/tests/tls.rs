//! TLS for client connections, end to end: the real `rnats-server` with certificates made
//! on the fly (`rcgen`), driven by `async-nats` and by raw sockets.
//!
//! `RNATS_BIN=/usr/sbin/nats-server cargo test -p rnats-tests --test tls` runs the same
//! tests against the reference (2.9 has no `handshake_first`; that test is skipped there).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::{Client, ConnectOptions};
use futures::StreamExt;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use rnats_tests::{rnats_bin, Server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

mod common;

use common::{connect_with as connect, route_port, start, sync, wait_log, within, STEP};

/// A directory of PEM files for one test: a CA, a server certificate for `localhost` and
/// `127.0.0.1` signed by it, a client certificate signed by it, and a second, untrusted
/// CA. Removed when dropped.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new() -> Certs {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rnats-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let certs = Certs { dir };

        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "rnats test CA");
        let ca = ca.self_signed(&ca_key).unwrap();
        certs.write("ca.pem", &ca.pem());

        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        certs.write("server.pem", &cert.pem());
        certs.write("server-key.pem", &key.serialize_pem());

        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        // Go writes this subject as "CN=app,O=Acme" (verify_and_map matches user names
        // against it, after the e-mail address).
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Acme");
        params.distinguished_name.push(DnType::CommonName, "app");
        params
            .subject_alt_names
            .push(SanType::Rfc822Name("app@acme.test".try_into().unwrap()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.clone().signed_by(&key, &ca, &ca_key).unwrap();
        certs.write("client.pem", &cert.pem());
        certs.write("client-key.pem", &key.serialize_pem());

        // A route's: both ends of a route present it, as server and as client.
        let key = KeyPair::generate().unwrap();
        let mut route = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        route
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        route.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let route = route.signed_by(&key, &ca, &ca_key).unwrap();
        certs.write("route.pem", &route.pem());
        certs.write("route-key.pem", &key.serialize_pem());

        // The same client, with a certificate that expired long ago.
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired = params.signed_by(&key, &ca, &ca_key).unwrap();
        certs.write("expired-client.pem", &expired.pem());

        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        other
            .distinguished_name
            .push(DnType::CommonName, "some other CA");
        certs.write(
            "other-ca.pem",
            &other.self_signed(&other_key).unwrap().pem(),
        );
        certs
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join(name), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_string()
    }

    /// Writes `tls.conf` with a `tls { ... }` block of the server's files plus `extra`.
    fn config(&self, extra: &str) -> String {
        let text = format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n{extra}\n}}\n",
            self.arg("server.pem"),
            self.arg("server-key.pem"),
            self.arg("ca.pem"),
        );
        self.write("tls.conf", &text);
        self.arg("tls.conf")
    }

    /// Client options trusting the test CA.
    fn trusting(&self) -> ConnectOptions {
        ConnectOptions::new()
            .add_root_certificates(self.path("ca.pem"))
            .require_tls(true)
            .connection_timeout(Duration::from_secs(5))
    }

    fn with_client_cert(&self) -> ConnectOptions {
        self.trusting()
            .add_client_certificate(self.path("client.pem"), self.path("client-key.pem"))
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Publishes on one client and receives on another.
async fn round_trip(a: &Client, b: &Client) {
    let mut sub = b.subscribe("tls.test").await.unwrap();
    sync(b).await;
    a.publish("tls.test", "over tls".into()).await.unwrap();
    a.flush().await.unwrap();
    let msg = within("message", sub.next()).await.unwrap();
    assert_eq!(&msg.payload[..], b"over tls");
}

/// Waits until the server's log contains `text`.
async fn log_shows(srv: &Server, text: &str) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !srv.log().contains(text) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never showed {text:?}:\n{}",
            srv.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the plain-text `INFO` line a TLS server sends before the handshake.
async fn plain_info(srv: &Server) -> (BufReader<TcpStream>, serde_json::Value) {
    let tcp = within("tcp connect", TcpStream::connect(srv.addr()))
        .await
        .unwrap();
    let mut rd = BufReader::new(tcp);
    let mut line = String::new();
    within("INFO", rd.read_line(&mut line)).await.unwrap();
    let json = line
        .strip_prefix("INFO ")
        .unwrap_or_else(|| panic!("not INFO: {line:?}"));
    (rd, serde_json::from_str(json.trim()).unwrap())
}

fn is_rnats() -> bool {
    rnats_bin()
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("rnats"))
}

#[tokio::test]
async fn pub_sub_over_tls() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("")]);
    assert!(srv.log().contains("TLS required for client connections"));
    let a = connect(&srv, certs.trusting()).await;
    let b = connect(&srv, certs.trusting()).await;
    round_trip(&a, &b).await;
    // Larger payloads than one TLS record.
    let mut sub = b.subscribe("big").await.unwrap();
    sync(&b).await;
    let payload = vec![b'x'; 200 * 1024];
    a.publish("big", payload.clone().into()).await.unwrap();
    let msg = within("big message", sub.next()).await.unwrap();
    assert_eq!(msg.payload.len(), payload.len());
}

#[tokio::test]
async fn info_is_plain_text_and_plain_clients_are_refused() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("")]);
    let (mut rd, info) = plain_info(&srv).await;
    assert_eq!(info["tls_required"], true);
    assert!(info.get("tls_verify").is_none(), "{info}");
    rd.get_mut()
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = within("close", rd.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "got {:?}", String::from_utf8_lossy(&rest));
    log_shows(
        &srv,
        "TLS handshake error: tls: first record does not look like a TLS handshake",
    )
    .await;
}

#[tokio::test]
async fn handshake_timeout_closes() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("timeout: 0.3")]);
    let (mut rd, _) = plain_info(&srv).await;
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = within("close", rd.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
    log_shows(&srv, "TLS handshake timeout").await;
}

#[tokio::test]
async fn verify_with_client_certificate() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("verify: true")]);
    let (_, info) = plain_info(&srv).await;
    assert_eq!(info["tls_required"], true);
    assert_eq!(info["tls_verify"], true);
    let a = connect(&srv, certs.with_client_cert()).await;
    let b = connect(&srv, certs.with_client_cert()).await;
    round_trip(&a, &b).await;
}

/// Writes a config with `verify_and_map` and `users` (an `authorization` users list).
fn mapped_config(certs: &Certs, users: &str) -> String {
    let tls = certs.config("verify_and_map: true");
    let mut text = std::fs::read_to_string(&tls).unwrap();
    text.push_str(&format!("authorization {{ users: [ {users} ] }}\n"));
    certs.write("mapped.conf", &text);
    certs.arg("mapped.conf")
}

#[tokio::test]
async fn verify_and_map_takes_the_user_from_the_certificate() {
    let certs = Certs::new();
    // By subject: the user's permissions apply to the client that shows the certificate.
    let by_subject = mapped_config(
        &certs,
        "{user: \"CN=app,O=Acme\", permissions: {publish: \"ok.>\"}}",
    );
    let srv = start(["-c", &by_subject]);
    let (_, info) = plain_info(&srv).await;
    assert_eq!(info["tls_verify"], true);
    let a = connect(&srv, certs.with_client_cert()).await;
    let mut sub = a.subscribe("ok.1").await.unwrap();
    a.publish("not.allowed", "x".into()).await.unwrap();
    a.publish("ok.1", "mapped".into()).await.unwrap();
    let m = within("message", sub.next()).await.unwrap();
    assert_eq!(&m.payload[..], b"mapped");
    log_shows(
        &srv,
        "Publish Violation - User \"CN=app,O=Acme\", Subject \"not.allowed\"",
    )
    .await;
    drop(srv);
    // By e-mail address.
    let by_email = mapped_config(&certs, "{user: \"app@acme.test\"}");
    let srv = start(["-c", &by_email]);
    connect(&srv, certs.with_client_cert()).await;
    drop(srv);
    // A certificate naming no configured user is refused.
    let nobody = mapped_config(&certs, "{user: \"CN=someone,O=Else\"}");
    let srv = start(["-c", &nobody]);
    let err = within("refused", certs.with_client_cert().connect(srv.url()))
        .await
        .expect_err("a certificate of no configured user was accepted");
    assert_eq!(
        err.kind(),
        async_nats::ConnectErrorKind::AuthorizationViolation
    );
}

#[tokio::test]
async fn expired_client_certificate_is_refused() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("verify: true")]);
    let expired = certs.trusting().add_client_certificate(
        certs.path("expired-client.pem"),
        certs.path("client-key.pem"),
    );
    let refused = within("refused connect", expired.connect(srv.url())).await;
    assert!(
        refused.is_err(),
        "an expired client certificate was accepted"
    );
    log_shows(&srv, "TLS handshake error").await;
}

#[tokio::test]
async fn verify_without_client_certificate_is_refused() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("verify: true")]);
    let res = within("connect", certs.trusting().connect(srv.url())).await;
    assert!(res.is_err(), "connected without a client certificate");
    log_shows(&srv, "TLS handshake error").await;
}

#[tokio::test]
async fn untrusted_server_certificate_is_refused_by_the_client() {
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("")]);
    let opts = ConnectOptions::new()
        .add_root_certificates(certs.path("other-ca.pem"))
        .require_tls(true)
        .connection_timeout(Duration::from_secs(5));
    let res = within("connect", opts.connect(srv.url())).await;
    assert!(res.is_err(), "trusted a certificate from an unknown CA");
    log_shows(&srv, "TLS handshake error").await;
}

#[tokio::test]
async fn tls_from_flags() {
    let certs = Certs::new();
    let (cert, key, ca) = (
        certs.arg("server.pem"),
        certs.arg("server-key.pem"),
        certs.arg("ca.pem"),
    );
    let srv = start(["--tlscert", &cert, "--tlskey", &key]);
    let (_, info) = plain_info(&srv).await;
    assert_eq!(info["tls_required"], true);
    let a = connect(&srv, certs.trusting()).await;
    a.flush().await.unwrap();

    let srv = start([
        "--tlsverify",
        "--tlscert",
        &cert,
        "--tlskey",
        &key,
        "--tlscacert",
        &ca,
    ]);
    let (_, info) = plain_info(&srv).await;
    assert_eq!(info["tls_verify"], true);
    let a = connect(&srv, certs.with_client_cert()).await;
    a.flush().await.unwrap();
    let res = within("connect", certs.trusting().connect(srv.url())).await;
    assert!(res.is_err(), "connected without a client certificate");
}

#[test]
fn tls_flag_without_key_is_an_error() {
    let certs = Certs::new();
    let out = std::process::Command::new(rnats_bin())
        .args(["--tls", "--tlscert", &certs.arg("server.pem")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TLS Server private key must be present and valid"),
        "{err}"
    );
}

#[tokio::test]
async fn handshake_first() {
    if !is_rnats() {
        return; // nats-server 2.9 has no handshake_first
    }
    let certs = Certs::new();
    let srv = start(["-c", &certs.config("handshake_first: true")]);
    // Nothing comes in plain text: the server waits for a ClientHello.
    let mut tcp = TcpStream::connect(srv.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let early = timeout(Duration::from_millis(300), tcp.read(&mut buf)).await;
    assert!(early.is_err(), "server spoke before the handshake");
    drop(tcp);
    let a = connect(&srv, certs.trusting().tls_first()).await;
    let b = connect(&srv, certs.trusting().tls_first()).await;
    round_trip(&a, &b).await;
}

#[test]
fn missing_certificate_file_is_reported() {
    let certs = Certs::new();
    let conf = certs.config("");
    std::fs::remove_file(certs.path("server.pem")).unwrap();
    let out = std::process::Command::new(rnats_bin())
        .args(["-c", &conf, "-t"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error parsing X509 certificate/key pair"),
        "{err}"
    );
}

#[test]
fn example_config_is_valid_with_certificates_supplied() {
    let certs = Certs::new();
    let dir = certs.path("certs");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["server.pem", "server-key.pem", "ca.pem"] {
        std::fs::copy(certs.path(f), dir.join(f)).unwrap();
    }
    let conf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../configs/tls.conf");
    let out = std::process::Command::new(rnats_bin())
        .current_dir(&certs.dir)
        .arg("-c")
        .arg(&conf)
        .arg("-t")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `https_port` (`-ms`): the monitoring endpoints over TLS with the server's certificate;
/// HTTP and HTTPS together, or HTTPS without TLS, refuse to start, as the reference.
#[tokio::test]
async fn https_monitoring() {
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let certs = Certs::new();
    let conf = certs.config("");
    let srv = start(["-c", &conf, "-ms", "-1"]);
    let port: u16 = srv
        .log()
        .lines()
        .find_map(|l| l.split_once("Starting https monitor on "))
        .and_then(|(_, addr)| addr.trim().rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no https monitor line; log:\n{}", srv.log()));
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(certs.path("ca.pem")).unwrap())
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let body = within("https GET /varz", async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(b"GET /varz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut raw = Vec::new();
        let _ = tls.read_to_end(&mut raw).await;
        String::from_utf8(raw).unwrap()
    })
    .await;
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    assert!(body.contains("\"server_id\""), "{body}");
    // A plain HTTP request to the HTTPS port gets no monitoring answer.
    let plain = within("plain GET", async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        tcp.write_all(b"GET /varz HTTP/1.0\r\n\r\n").await.unwrap();
        let mut raw = Vec::new();
        let _ = tcp.read_to_end(&mut raw).await;
        raw
    })
    .await;
    assert!(!String::from_utf8_lossy(&plain).contains("server_id"));

    for args in [
        vec!["-ms", "-1"],
        vec!["-c", &conf, "-m", "-1", "-ms", "-1"],
    ] {
        let res = Server::start(&rnats_bin(), args.clone());
        assert!(res.is_err(), "started with {args:?}");
    }
}

/// A reload applies new TLS settings to new connections (here: client certificates
/// become required) and leaves connected clients alone.
#[tokio::test]
async fn reload_applies_tls_settings() {
    let certs = Certs::new();
    let conf = certs.config("");
    let srv = start(["-c", &conf]);
    let before = connect(&srv, certs.trusting()).await;
    certs.config("  verify: true");
    // SAFETY: kill(2) on our own child process.
    assert_eq!(
        unsafe { libc::kill(srv.pid() as libc::pid_t, libc::SIGHUP) },
        0
    );
    log_shows(&srv, "Reloaded: tls = enabled").await;
    let res = within("connect", certs.trusting().connect(srv.url())).await;
    assert!(
        res.is_err(),
        "connected without a client certificate after the reload"
    );
    let with_cert = connect(&srv, certs.with_client_cert()).await;
    round_trip(&before, &with_cert).await;
}

/// A cluster node whose routes run over TLS with the route certificate, dialing `seed`.
fn tls_node(certs: &Certs, name: &str, seed: Option<u16>) -> Server {
    let routes = seed.map_or(String::new(), |p| {
        format!("routes: [nats-route://127.0.0.1:{p}]")
    });
    let text = format!(
        "server_name: {name}\ncluster {{\n  name: c1\n  listen: 127.0.0.1:-1\n  {routes}\n  \
         tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }}\n}}\n",
        certs.arg("route.pem"),
        certs.arg("route-key.pem"),
        certs.arg("ca.pem"),
    );
    certs.write(&format!("{name}.conf"), &text);
    start(["-c", &certs.arg(&format!("{name}.conf"))])
}

#[tokio::test]
async fn routes_over_tls() {
    let certs = Certs::new();
    let a = tls_node(&certs, "a", None);
    let seed = route_port(&a);
    let b = tls_node(&certs, "b", Some(seed));
    let ca = connect(&a, ConnectOptions::new()).await;
    let cb = connect(&b, ConnectOptions::new()).await;
    let mut sub = cb.subscribe("secure").await.unwrap();
    sync(&cb).await;
    // Interest crosses once the route is up; publish until it has.
    let deadline = std::time::Instant::now() + STEP;
    loop {
        ca.publish("secure", "hi".into()).await.unwrap();
        sync(&ca).await;
        if let Ok(Some(m)) = timeout(Duration::from_millis(100), sub.next()).await {
            assert_eq!(m.payload, "hi");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no route; log:\n{}",
            b.log()
        );
    }
    // A node without TLS cannot join: the seed refuses its plain-text route.
    let plain = start([
        "--cluster",
        "nats://127.0.0.1:-1",
        "--cluster_name",
        "c1",
        "--routes",
        &format!("nats-route://127.0.0.1:{seed}"),
    ]);
    wait_log(&a, "TLS route handshake error", 1);
    drop(plain);
}
