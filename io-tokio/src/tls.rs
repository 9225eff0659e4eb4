//! TLS for client connections: loads the certificates a [`TlsConfig`] names into a rustls
//! server configuration (ring provider), and words handshake failures as the reference
//! server logs them.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use rnats_core::tls_config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// What the shell needs to run TLS on a client connection.
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// How long the handshake may take.
    pub timeout: Duration,
    /// Handshake before `INFO` (otherwise `INFO` goes out in plain text first).
    pub handshake_first: bool,
}

/// Reads the certificate, key and CA files and builds the server configuration.
pub fn load(cfg: &TlsConfig) -> Result<Tls, String> {
    let config = server_config(cfg)?;
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        timeout: cfg.timeout,
        handshake_first: cfg.handshake_first,
    })
}

/// TLS on routes: every route starts with the handshake; the side that was dialed checks
/// the dialer's certificate, the dialer checks the server's, both against `ca_file`.
pub struct RouteTls {
    pub acceptor: TlsAcceptor,
    pub connector: TlsConnector,
    pub timeout: Duration,
}

/// The acceptor and connector for routes, from the `cluster { tls { ... } }` block (which
/// always has a `ca_file`, and where `verify` is implied, as routes always check).
pub fn load_route(cfg: &TlsConfig) -> Result<RouteTls, String> {
    let verified = TlsConfig {
        verify: true,
        ..cfg.clone()
    };
    let server = server_config(&verified)?;
    let (certs, key) = cert_and_key(cfg)?;
    let roots = roots(cfg.ca_file.as_deref().unwrap_or_default())?;
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))?;
    Ok(RouteTls {
        acceptor: TlsAcceptor::from(Arc::new(server)),
        connector: TlsConnector::from(Arc::new(client)),
        timeout: cfg.timeout,
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(cfg: &TlsConfig) -> Result<ServerConfig, String> {
    let (certs, key) = cert_and_key(cfg)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if cfg.verify {
        let ca_file = cfg.ca_file.as_deref().ok_or(
            "TLS verify needs a ca_file: rnats does not check client certificates against \
             the system roots",
        )?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_file)?), provider())
                .build()
                .map_err(|e| format!("TLS client verification setup: {e}"))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("error parsing X509 certificate/key pair: {e}"))
}

type CertAndKey = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn cert_and_key(cfg: &TlsConfig) -> Result<CertAndKey, String> {
    let pair_err = |e: String| format!("error parsing X509 certificate/key pair: {e}");
    let certs = CertificateDer::pem_file_iter(&cfg.cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pair_err(pem_error(&cfg.cert_file, e)))?;
    if certs.is_empty() {
        return Err(pair_err(format!(
            "{}: no certificate found in the file",
            cfg.cert_file
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&cfg.key_file)
        .map_err(|e| pair_err(pem_error(&cfg.key_file, e)))?;
    Ok((certs, key))
}

fn roots(ca_file: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(ca_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            format!(
                "failed to parse root ca certificate: {}",
                pem_error(ca_file, e)
            )
        })?;
    let (added, _) = roots.add_parsable_certificates(cas);
    if added == 0 {
        return Err(format!(
            "failed to parse root ca certificate {ca_file}: no certificate found"
        ));
    }
    Ok(roots)
}

/// `open FILE: No such file or directory (os error 2)`, or what is wrong with the PEM.
fn pem_error(path: &str, e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => format!("open {path}: {io}"),
        other => format!("{path}: {other:?}"),
    }
}

/// A failed handshake's error in the words of Go's `crypto/tls`, where there is an obvious
/// counterpart (so logs read like the reference's), else rustls's own.
pub fn describe(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return "EOF".to_string();
    }
    let Some(tls) = e.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    match tls {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            "tls: first record does not look like a TLS handshake".to_string()
        }
        rustls::Error::NoCertificatesPresented => {
            "tls: client didn't provide a certificate".to_string()
        }
        other => other.to_string(),
    }
}

/// `TLS version 1.3, cipher suite TLS_AES_128_GCM_SHA256`, as the reference logs a
/// finished handshake (Go's suite names: no `TLS13_` prefix).
pub fn describe_session(conn: &rustls::ServerConnection) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".to_string(),
        Some(other) => format!("{other:?}"),
        None => "unknown".to_string(),
    };
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let suite = suite
        .strip_prefix("TLS13_")
        .map_or(suite.clone(), |rest| format!("TLS_{rest}"));
    format!("TLS version {version}, cipher suite {suite}")
}

/// What a verified client certificate names, for `verify_and_map`, in the order the
/// reference tries them: e-mail addresses, DNS names and URIs of its subject alternative
/// names, then its subject as Go's `pkix.Name.String()` writes it (`CN=app,O=Acme`: RFC 2253,
/// last part first) and in the certificate's order. `None` without a client certificate.
pub fn certificate_names(conn: &rustls::ServerConnection) -> Option<Vec<String>> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let der = conn.peer_certificates()?.first()?;
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    let mut emails = Vec::new();
    let mut dns = Vec::new();
    let mut uris = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::RFC822Name(e) => emails.push(e.to_string()),
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::URI(u) => uris.push(u.to_string()),
                _ => {}
            }
        }
    }
    let mut names = emails;
    names.extend(dns);
    names.extend(uris);
    // The reference matches a user named by a distinguished name whatever the order of
    // its parts: try Go's order (last part first) and the certificate's own.
    let parts = subject_parts(cert.subject());
    names.push(parts.iter().rev().cloned().collect::<Vec<_>>().join(","));
    if parts.len() > 1 {
        names.push(parts.join(","));
    }
    Some(names)
}

/// The relative names of a distinguished name in the certificate's order, each the way Go
/// prints it (`CN=app`, with Go's short attribute names and RFC 2253 escaping).
fn subject_parts(name: &x509_parser::x509::X509Name<'_>) -> Vec<String> {
    use x509_parser::oid_registry as oids;
    let short = |oid: &x509_parser::der_parser::oid::Oid<'_>| -> String {
        let known = [
            (oids::OID_X509_COUNTRY_NAME, "C"),
            (oids::OID_X509_ORGANIZATION_NAME, "O"),
            (oids::OID_X509_ORGANIZATIONAL_UNIT, "OU"),
            (oids::OID_X509_COMMON_NAME, "CN"),
            (oids::OID_X509_SERIALNUMBER, "SERIALNUMBER"),
            (oids::OID_X509_LOCALITY_NAME, "L"),
            (oids::OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
            (oids::OID_X509_STREET_ADDRESS, "STREET"),
            (oids::OID_X509_POSTAL_CODE, "POSTALCODE"),
        ];
        known
            .iter()
            .find(|(k, _)| k == oid)
            .map_or_else(|| oid.to_id_string(), |(_, s)| s.to_string())
    };
    name.iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attr| {
                    let value = attr.as_str().unwrap_or_default();
                    format!("{}={}", short(attr.attr_type()), escape_dn(value))
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect()
}

/// RFC 2253 escaping of an attribute value, as Go's `pkix` does it.
fn escape_dn(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == last);
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || edge_space
            || (i == 0 && c == '#')
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
