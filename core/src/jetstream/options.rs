//! JetStream's settings in the configuration file: the server-wide `jetstream` block (or
//! `jetstream: enabled`), and an account's `jetstream` limits, read as the reference reads
//! them.

use std::time::Duration;

use crate::conf::Value;
use crate::options::{boolean, duration, int, string, unknown_fields, OptionError};

/// Server-wide JetStream settings. Limits are bytes, `-1` for none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsOptions {
    pub max_memory: i64,
    pub max_store: i64,
    pub domain: Option<String>,
    /// How often written data is flushed to disk when not at every write. `None`, the
    /// default, flushes every batch before acknowledging it: no acknowledged write is
    /// lost to a crash. A period trades that for speed, explicitly.
    pub sync_interval: Option<Duration>,
}

impl Default for JsOptions {
    fn default() -> JsOptions {
        JsOptions {
            max_memory: -1,
            max_store: -1,
            domain: None,
            sync_interval: None,
        }
    }
}

/// An account's JetStream limits; `-1` for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountLimits {
    pub max_memory: i64,
    pub max_storage: i64,
    pub max_streams: i64,
    pub max_consumers: i64,
}

impl Default for AccountLimits {
    fn default() -> AccountLimits {
        AccountLimits {
            max_memory: -1,
            max_storage: -1,
            max_streams: -1,
            max_consumers: -1,
        }
    }
}

/// Keys of the reference's `jetstream` block that rnats accepts without acting on them.
const ACCEPTED: &[&str] = &[
    "unique_tag",
    "max_outstanding_catchup",
    "max_buffered_msgs",
    "max_buffered_size",
    "request_queue_limit",
    "strict",
    "compress_ok",
    "extension_hint",
    "limits",
];

/// Whether `value` (of a `jetstream` key) turns JetStream on: `true`, `enabled`, or a
/// block (unless it says `enabled: false`).
pub fn enables(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(
            s.to_ascii_lowercase().as_str(),
            "enabled" | "enable" | "true"
        ),
        Value::Map(m) => m.get("enabled").and_then(boolean).unwrap_or(true),
        _ => false,
    }
}

/// Reads the server-wide `jetstream` value; the store directory, if it names one.
pub fn parse_server(
    value: &Value,
    js: &mut JsOptions,
    warnings: &mut Vec<OptionError>,
) -> Result<Option<String>, OptionError> {
    let Value::Map(map) = value else {
        return Ok(None);
    };
    let mut store_dir = None;
    let mut known = vec![
        "store_dir",
        "storedir",
        "store",
        "max_memory_store",
        "max_mem_store",
        "max_mem",
        "max_memory",
        "max_file_store",
        "max_file",
        "domain",
        "enabled",
        "sync_interval",
        "sync_always",
    ];
    known.extend_from_slice(ACCEPTED);
    unknown_fields(map, &known, "jetstream", warnings);
    for (key, v) in map.iter() {
        let err =
            |message: &str| OptionError::in_map(map, key, &format!("jetstream.{key}"), message);
        match key.to_ascii_lowercase().as_str() {
            "store_dir" | "storedir" | "store" => {
                store_dir = Some(string(v).ok_or_else(|| err("expected a string"))?)
            }
            "max_memory_store" | "max_mem_store" | "max_mem" | "max_memory" => {
                js.max_memory = int(v).ok_or_else(|| err("expected a size"))?
            }
            "max_file_store" | "max_file" => {
                js.max_store = int(v).ok_or_else(|| err("expected a size"))?
            }
            "domain" => js.domain = Some(string(v).ok_or_else(|| err("expected a string"))?),
            "sync_interval" => {
                js.sync_interval = match v {
                    Value::String(s) if s.eq_ignore_ascii_case("always") => None,
                    _ => Some(duration(v).ok_or_else(|| err("expected a duration or \"always\""))?),
                }
            }
            "sync_always" => {
                let always = boolean(v).ok_or_else(|| err("expected a boolean"))?;
                js.sync_interval = js.sync_interval.filter(|_| !always);
            }
            _ => {}
        }
    }
    Ok(store_dir)
}

/// Reads an account's `jetstream` value: `None` when it leaves JetStream off.
pub fn parse_account(
    value: &Value,
    at: &str,
    warnings: &mut Vec<OptionError>,
) -> Result<Option<AccountLimits>, OptionError> {
    if !enables(value) {
        return Ok(None);
    }
    let mut limits = AccountLimits::default();
    let Value::Map(map) = value else {
        return Ok(Some(limits));
    };
    let known = [
        "enabled",
        "max_memory",
        "max_mem",
        "mem",
        "max_file",
        "max_store",
        "store",
        "max_streams",
        "streams",
        "max_consumers",
        "consumers",
        "max_bytes_required",
        "max_ack_pending",
        "memory_max_stream_bytes",
        "store_max_stream_bytes",
    ];
    unknown_fields(map, &known, at, warnings);
    for (key, v) in map.iter() {
        let field = match key.to_ascii_lowercase().as_str() {
            "max_memory" | "max_mem" | "mem" => &mut limits.max_memory,
            "max_file" | "max_store" | "store" => &mut limits.max_storage,
            "max_streams" | "streams" => &mut limits.max_streams,
            "max_consumers" | "consumers" => &mut limits.max_consumers,
            _ => continue,
        };
        *field = int(v).ok_or_else(|| {
            OptionError::in_map(map, key, &format!("{at}.{key}"), "expected a number")
        })?;
    }
    Ok(Some(limits))
}
