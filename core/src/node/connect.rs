//! The options a client sends in `CONNECT`.

use serde::{Deserialize, Serialize};

/// `CONNECT` options, with the reference server's defaults for whatever a client leaves out
/// (verbose and pedantic included: a bare `CONNECT {}` gets `+OK`s and subject checks).
/// Unknown fields are ignored, as the reference does, so newer clients keep working.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct ConnectOptions {
    /// Acknowledge every op with `+OK`.
    pub verbose: bool,
    /// Check subjects strictly and report errors.
    pub pedantic: bool,
    pub tls_required: bool,
    pub auth_token: Option<String>,
    pub user: Option<String>,
    pub pass: Option<String>,
    pub name: Option<String>,
    pub lang: Option<String>,
    pub version: Option<String>,
    /// 1 means the client understands asynchronous `INFO` updates.
    pub protocol: i64,
    /// Whether the client wants its own publishes delivered to its own subscriptions.
    pub echo: bool,
    /// Whether the client understands `HMSG`.
    pub headers: bool,
    /// Whether a request with no subscriber gets a `503` status message back.
    pub no_responders: bool,
    pub jwt: Option<String>,
    pub nkey: Option<String>,
    pub sig: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            tls_required: false,
            auth_token: None,
            user: None,
            pass: None,
            name: None,
            lang: None,
            version: None,
            protocol: 0,
            echo: true,
            headers: false,
            no_responders: false,
            jwt: None,
            nkey: None,
            sig: None,
        }
    }
}

/// Why a `CONNECT` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// Not a JSON object of the right shape: the reference closes without a word.
    Json(String),
    /// A `protocol` the server does not speak: answered with `-ERR`.
    Protocol,
}

impl ConnectOptions {
    /// Parses the JSON of a `CONNECT` line on top of these options: like the reference, a
    /// field left out keeps its current value (a second CONNECT changes only what it names).
    /// Anything but a JSON object, a field of the wrong type, or a `protocol` other than 0
    /// or 1 is an error.
    pub fn merge(&self, json: &[u8]) -> Result<ConnectOptions, ConnectError> {
        let bad = |e: serde_json::Error| ConnectError::Json(e.to_string());
        let given: serde_json::Value = serde_json::from_slice(json).map_err(bad)?;
        let serde_json::Value::Object(given) = given else {
            return Err(ConnectError::Json(
                "CONNECT options must be a JSON object".into(),
            ));
        };
        let mut merged = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(current)) => current,
            _ => unreachable!("options serialize to an object"),
        };
        merged.extend(given);
        let opts: ConnectOptions =
            serde_json::from_value(serde_json::Value::Object(merged)).map_err(bad)?;
        if !(0..=1).contains(&opts.protocol) {
            return Err(ConnectError::Protocol);
        }
        Ok(opts)
    }

    /// Parses the JSON of a first `CONNECT` (on top of the defaults).
    pub fn parse(json: &[u8]) -> Result<ConnectOptions, ConnectError> {
        ConnectOptions::default().merge(json)
    }
}

/// A `CONNECT` JSON with the values of `pass` and `auth_token` replaced by `[REDACTED]`,
/// for trace logs (as the reference writes them). Text-level, so the rest of the line is
/// traced exactly as sent.
pub fn redacted(json: &str) -> String {
    let mut out = json.to_string();
    for key in ["\"pass\"", "\"auth_token\""] {
        let mut from = 0;
        while let Some(at) = out[from..].find(key).map(|i| i + from) {
            let after = at + key.len();
            let rest = &out[after..];
            let colon = rest.len() - rest.trim_start().len();
            if !rest[colon..].starts_with(':') {
                from = after;
                continue;
            }
            let value = after + colon + 1;
            let lead = out[value..].len() - out[value..].trim_start().len();
            let start = value + lead;
            if !out[start..].starts_with('"') {
                from = start;
                continue;
            }
            let mut end = start + 1;
            let bytes = out.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = end.min(out.len());
            out.replace_range(start + 1..end, "[REDACTED]");
            from = start + 1 + "[REDACTED]".len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redacted(r#"{"user":"u","pass":"s\"x","auth_token" : "t","name":"pass"}"#),
            r#"{"user":"u","pass":"[REDACTED]","auth_token" : "[REDACTED]","name":"pass"}"#
        );
        assert_eq!(
            redacted(r#"{"pass":"unterminated"#),
            r#"{"pass":"[REDACTED]"#
        );
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let o = ConnectOptions::parse(br#"{"name":"x","surprise":[1,2],"headers":true}"#).unwrap();
        assert!(o.verbose && o.echo && o.headers && o.pedantic);
        assert_eq!(o.name.as_deref(), Some("x"));
        assert!(ConnectOptions::parse(b"{nope").is_err());
        assert!(ConnectOptions::parse(b"[]").is_err());
        assert!(ConnectOptions::parse(br#"{"verbose":"yes"}"#).is_err());
        assert!(ConnectOptions::parse(br#"{"protocol":2}"#).is_err());
        let second = o.merge(br#"{"verbose":false}"#).unwrap();
        assert!(!second.verbose && second.headers);
    }
}
