//! JetStream: persistent streams of messages and the consumers that read them.
//!
//! Built in layers, each pure and tested on its own: [`store`] says what a message store
//! must do (sequence numbers, limits, purge, lookups); [`memstore`] keeps a stream in
//! memory and [`filestore`] in files, as operations for the shell to carry out; [`config`]
//! reads and checks a stream's configuration with the errors of [`api_error`]; [`stream`]
//! publishes to a stream as the reference does (header checks, de-duplication, rollups,
//! acknowledgements); [`consumer`] delivers a stream's messages and tracks their acks;
//! [`api`] (with the consumer half in `consumer_api`) answers `$JS.API`, `snapshot` and
//! `restore` send a stream out as an [`archive`] and bring it back; `flow` moves
//! messages, acks and time through one account's JetStream; [`sourcing`] copies into
//! mirrors and sourcing streams and tracks how their origins are doing; [`persist`] says
//! what to keep on disk and brings it back.

pub mod advisory;
pub mod api;
pub mod api_error;
pub mod archive;
pub mod config;
pub mod consumer;
mod consumer_api;
pub mod filestore;
mod flow;
pub mod headers;
pub mod memstore;
pub mod options;
pub mod persist;
mod restore;
mod snapshot;
pub mod sourcing;
pub mod store;
pub mod stream;
pub mod time;
pub mod transform;
