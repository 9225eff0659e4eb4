//! The options a client sends in `CONNECT`.

use serde::Deserialize;

/// `CONNECT` options, with the reference server's defaults for whatever a client leaves out
/// (verbose and pedantic included: a bare `CONNECT {}` gets `+OK`s and subject checks).
/// Unknown fields are ignored, as the reference does, so newer clients keep working.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
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

impl ConnectOptions {
    /// Parses the JSON of a `CONNECT` line.
    pub fn parse(json: &[u8]) -> Result<ConnectOptions, serde_json::Error> {
        serde_json::from_slice(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_unknown_fields() {
        let o = ConnectOptions::parse(br#"{"name":"x","surprise":[1,2],"headers":true}"#).unwrap();
        assert!(o.verbose && o.echo && o.headers && o.pedantic);
        assert_eq!(o.name.as_deref(), Some("x"));
        assert!(ConnectOptions::parse(b"{nope").is_err());
    }
}
