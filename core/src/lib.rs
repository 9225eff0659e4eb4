//! rnats-core: the pure, deterministic heart of rnats.
//!
//! Nothing in this crate touches a socket, a file, a thread, a clock or the OS random
//! generator. Time comes in with every call ([`time::Instant`]), randomness from a seed handed
//! in at construction ([`rng::Rng`]), and every effect leaves as an output the caller carries
//! out. That is what lets the same code run under tokio in production and under madsim in the
//! simulator, seed by seed.

pub mod auth;
pub mod conf;
pub mod exports;
pub mod hash;
pub mod jetstream;
pub mod node;
pub mod options;
pub mod proto;
pub mod raft;
pub mod rng;
pub mod route;
pub mod subject;
pub mod sublist;
pub mod time;
pub mod tls_config;
