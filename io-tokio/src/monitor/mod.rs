//! HTTP monitoring (`-m`, `http_port`, `http`): the reference's endpoints and JSON.
//!
//! One small hyper server beside the client listener. Each request locks the node just long
//! enough to copy the figures it needs ([`Shared::inspect`]); JSON is built afterwards.
//! Endpoints live one per file; times and durations are written as Go writes them
//! ([`format`]).

mod accounts;
mod cluster;
mod connz;
mod format;
mod index;
mod jsz;
mod metrics;
mod process;
mod query;
mod subsz;
pub mod system;
mod varz;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rnats_core::options::Options;
use rnats_core::time::Instant;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::server::Shared;
use query::Query;

/// What the monitor serves from.
pub struct Monitor {
    shared: Arc<Shared>,
    opts: Options,
    /// The host and the port actually bound, for `/varz`.
    http_host: String,
    http_port: u16,
    /// `http_base_path` without a trailing slash: `""` or `/prefix`.
    base: String,
    /// Requests per endpoint, as `/varz`'s `http_req_stats`.
    req_stats: Mutex<BTreeMap<&'static str, u64>>,
    cpu: process::CpuMeter,
    config_load: SystemTime,
}

/// The core's clock and the wall clock read together, to turn the core's instants into
/// wall times.
#[derive(Clone, Copy)]
pub struct Clock {
    pub core: Instant,
    pub wall: SystemTime,
}

impl Clock {
    /// The wall time of the core instant `at`.
    pub fn wall_of(&self, at: Instant) -> SystemTime {
        self.wall - self.core.saturating_since(at)
    }
}

impl Monitor {
    pub fn new(shared: Arc<Shared>, opts: Options, http_host: String, http_port: u16) -> Monitor {
        let base = normalize_base(&opts.http_base_path);
        Monitor {
            shared,
            opts,
            http_host,
            http_port,
            base,
            req_stats: Mutex::new(BTreeMap::new()),
            cpu: process::CpuMeter::new(),
            config_load: SystemTime::now(),
        }
    }

    /// Reads the node under its lock, with the clocks of that moment.
    fn inspect<R>(&self, f: impl FnOnce(&rnats_core::node::Node, Clock) -> R) -> R {
        self.shared.inspect(|node, core| {
            let clock = Clock {
                core,
                wall: SystemTime::now(),
            };
            f(node, clock)
        })
    }

    fn count(&self, endpoint: &'static str) {
        *self
            .req_stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(endpoint)
            .or_default() += 1;
    }
}

/// `http_base_path` as the reference cleans it: a leading slash, no trailing one.
fn normalize_base(p: &str) -> String {
    let p = p.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("/{p}")
    }
}

/// Serves monitoring on `listener` until the process ends: HTTP, or HTTPS with `tls`
/// (`https_port`).
pub async fn serve(monitor: Arc<Monitor>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let monitor = monitor.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(monitor, stream).await;
                    }
                }
                None => serve_connection(monitor, stream).await,
            }
        });
    }
}

/// Answers the requests of one connection.
async fn serve_connection<S>(monitor: Arc<Monitor>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let monitor = monitor.clone();
        async move { Ok::<_, Infallible>(monitor.handle(&req)) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// An endpoint's answer before JSONP wrapping: a body and its type, or a 400 with a text.
enum Answer {
    Json(Vec<u8>),
    Other(&'static str, Vec<u8>),
    BadRequest(String),
    NotFound,
}

impl Monitor {
    fn handle(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let q = Query::parse(req.uri().query().unwrap_or(""));
        let answer = match self.endpoint(req.uri().path()) {
            Some(endpoint) => {
                self.count(endpoint);
                self.answer(endpoint, &q)
            }
            None => Answer::NotFound,
        };
        let (status, ctype, body) = match answer {
            Answer::Json(body) => match q.get("callback").filter(|c| !c.is_empty()) {
                Some(cb) => {
                    let mut wrapped = format!("{cb}(").into_bytes();
                    wrapped.extend_from_slice(&body);
                    wrapped.push(b')');
                    (StatusCode::OK, "application/javascript", wrapped)
                }
                None => (StatusCode::OK, "application/json", body),
            },
            Answer::Other(ctype, body) => (StatusCode::OK, ctype, body),
            Answer::BadRequest(text) => (
                StatusCode::BAD_REQUEST,
                "text/plain; charset=utf-8",
                format!("{text}\n").into_bytes(),
            ),
            Answer::NotFound => (
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"404 page not found\n".to_vec(),
            ),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        resp
    }

    /// The endpoint a path names, under the base path.
    fn endpoint(&self, path: &str) -> Option<&'static str> {
        let rest = path.strip_prefix(self.base.as_str())?;
        Some(match rest {
            "" | "/" => "/",
            "/varz" => "/varz",
            "/connz" => "/connz",
            "/subsz" | "/subscriptionsz" => "/subsz",
            "/routez" => "/routez",
            "/gatewayz" => "/gatewayz",
            "/leafz" => "/leafz",
            "/accountz" => "/accountz",
            "/accstatz" => "/accstatz",
            "/healthz" => "/healthz",
            "/jsz" => "/jsz",
            "/metrics" => "/metrics",
            _ => return None,
        })
    }

    fn answer(&self, endpoint: &str, q: &Query) -> Answer {
        let result = match endpoint {
            "/" => return Answer::Other("text/html; charset=utf-8", index::page().into_bytes()),
            "/metrics" => {
                return Answer::Other(
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics::render(self).into_bytes(),
                )
            }
            // Not indented, as the reference writes it.
            "/healthz" => return Answer::Json(br#"{"status":"ok"}"#.to_vec()),
            "/varz" => Ok(varz::render(self)),
            "/connz" => connz::render(self, q),
            "/subsz" => subsz::render(self, q),
            "/routez" => Ok(cluster::routez(self, q)),
            "/gatewayz" => Ok(cluster::gatewayz(self)),
            "/leafz" => Ok(cluster::leafz(self)),
            "/accountz" => accounts::accountz(self, q),
            "/accstatz" => Ok(accounts::accstatz(self, q)),
            "/jsz" => jsz::render(self, q),
            _ => return Answer::NotFound,
        };
        match result {
            Ok(body) => Answer::Json(body),
            Err(text) => Answer::BadRequest(text),
        }
    }
}

/// JSON indented by two blanks, as the reference's `json.MarshalIndent(v, "", "  ")`.
fn pretty<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("monitoring JSON serializes")
}
