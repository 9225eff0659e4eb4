//! JetStream: persistent streams of messages and the consumers that read them.
//!
//! Built in layers, each pure and tested on its own before the node uses it:
//! [`store`] says what a message store must do (sequence numbers, limits, purge, lookups),
//! [`memstore`] keeps a stream in memory, [`filestore`] keeps the same in memory and says
//! which file operations make it durable (and rebuilds it from the files after a crash),
//! [`config`] reads and checks a stream's configuration as the API takes it, with the
//! errors of [`api_error`], and [`stream`] publishes to a stream as the reference does
//! (header checks, de-duplication, rollups, acknowledgements); [`api`] answers the stream
//! requests of `$JS.API`. The shell's side of the file store, the consumer state machines
//! and the rest of `$JS.API` come on top.

pub mod api;
pub mod api_error;
pub mod config;
pub mod headers;
pub mod filestore;
pub mod memstore;
pub mod store;
pub mod stream;
pub mod time;
