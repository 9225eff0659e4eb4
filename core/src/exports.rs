//! Accounts sharing subjects: an account exports streams (messages flow out to importers)
//! and services (requests flow in from importers, responses flow back), and another
//! account imports them, optionally under other subjects. Configuration and the subject
//! mapping live here; the node carries messages across ([`crate::node`]).

use crate::conf::{Map, Value};
use crate::options::{string, unknown_fields, OptionError};
use crate::subject::{is_valid_subject, is_within, split_token};

/// How many responses a service request may get back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    /// One response (the default).
    Singleton,
    /// Any number, until the response route expires.
    Stream,
    /// Any number, like `Stream` (the reference's name for large responses in parts).
    Chunked,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Stream,
    Service(ResponseType),
}

/// Subjects an account offers to others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub subject: String,
    pub kind: ExportKind,
    /// The accounts allowed to import it; `None` for every account (a public export).
    pub accounts: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Stream,
    Service,
}

/// Subjects an account takes from another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub kind: ImportKind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// The subject in the importing account: where imported stream messages arrive, or
    /// where clients send requests for the service. Defaults to `subject`.
    pub local: String,
}

/// One configured account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountConfig {
    pub name: String,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
    /// JetStream limits, when the account has JetStream.
    pub jetstream: Option<crate::jetstream::options::AccountLimits>,
}

fn error(at: &str, message: impl Into<String>) -> OptionError {
    OptionError {
        key: at.to_string(),
        message: message.into(),
        pos: None,
    }
}

fn subject_of(v: &Value, at: &str) -> Result<String, OptionError> {
    let s = string(v).ok_or_else(|| error(at, "expected a subject"))?;
    if !is_valid_subject(s.as_bytes()) {
        return Err(error(at, format!("invalid subject \"{s}\"")));
    }
    Ok(s)
}

/// `exports: [ {stream: "a.>"}, {service: "help", accounts: [B], response_type: stream} ]`.
pub(crate) fn parse_exports(
    v: &Value,
    at: &str,
    warnings: &mut Vec<OptionError>,
) -> Result<Vec<Export>, OptionError> {
    let Value::Array(items) = v else {
        return Err(error(at, "expected an array of exports"));
    };
    let mut exports = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Map(map) = item else {
            return Err(error(&at, "expected a map"));
        };
        let known = ["stream", "service", "accounts", "response_type", "response"];
        unknown_fields(map, &known, &at, warnings);
        let response = match map.get("response_type").or_else(|| map.get("response")) {
            None => ResponseType::Singleton,
            Some(v) => match string(v).map(|s| s.to_ascii_lowercase()).as_deref() {
                Some("singleton") | Some("single") => ResponseType::Singleton,
                Some("stream") => ResponseType::Stream,
                Some("chunked") => ResponseType::Chunked,
                _ => {
                    let message = "response_type is one of singleton, stream, chunked";
                    return Err(error(&format!("{at}.response_type"), message));
                }
            },
        };
        let (subject, kind) = match (map.get("stream"), map.get("service")) {
            (Some(s), None) => (subject_of(s, &at)?, ExportKind::Stream),
            (None, Some(s)) => (subject_of(s, &at)?, ExportKind::Service(response)),
            _ => return Err(error(&at, "an export has one of \"stream\" or \"service\"")),
        };
        let accounts = map
            .get("accounts")
            .map(|v| match v {
                Value::Array(names) => names
                    .iter()
                    .map(|n| string(n).ok_or_else(|| error(&at, "expected account names")))
                    .collect(),
                _ => Err(error(&format!("{at}.accounts"), "expected an array")),
            })
            .transpose()?;
        exports.push(Export {
            subject,
            kind,
            accounts,
        });
    }
    Ok(exports)
}

/// `imports: [ {stream: {account: A, subject: "a.>"}, prefix: p}, {service: {account: A,
/// subject: help}, to: ahelp} ]`.
pub(crate) fn parse_imports(
    v: &Value,
    at: &str,
    warnings: &mut Vec<OptionError>,
) -> Result<Vec<Import>, OptionError> {
    let Value::Array(items) = v else {
        return Err(error(at, "expected an array of imports"));
    };
    let mut imports = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Value::Map(map) = item else {
            return Err(error(&at, "expected a map"));
        };
        unknown_fields(map, &["stream", "service", "prefix", "to"], &at, warnings);
        let (source, kind) = match (map.get("stream"), map.get("service")) {
            (Some(Value::Map(s)), None) => (s, ImportKind::Stream),
            (None, Some(Value::Map(s))) => (s, ImportKind::Service),
            _ => {
                let message = "an import has one of \"stream\" or \"service\", a map";
                return Err(error(&at, message));
            }
        };
        let (account, subject) = source_of(source, &at, warnings)?;
        let prefix = map.get("prefix").map(|v| subject_of(v, &at)).transpose()?;
        let to = map.get("to").map(|v| subject_of(v, &at)).transpose()?;
        let local = match (prefix, to, &kind) {
            (Some(_), Some(_), _) => {
                return Err(error(&at, "an import has \"prefix\" or \"to\", not both"))
            }
            (Some(prefix), None, ImportKind::Stream) => format!("{prefix}.{subject}"),
            (Some(_), None, ImportKind::Service) => {
                return Err(error(&at, "a service import has \"to\", not \"prefix\""))
            }
            (None, Some(to), _) => to,
            (None, None, _) => subject.clone(),
        };
        if !same_wildcards(&subject, &local) && !is_literal(&local) {
            let message = format!("\"{local}\" must hold the wildcards of \"{subject}\"");
            return Err(error(&at, message));
        }
        imports.push(Import {
            kind,
            account,
            subject,
            local,
        });
    }
    Ok(imports)
}

fn source_of(
    map: &Map,
    at: &str,
    warnings: &mut Vec<OptionError>,
) -> Result<(String, String), OptionError> {
    unknown_fields(map, &["account", "subject"], at, warnings);
    let account = map
        .get("account")
        .and_then(string)
        .ok_or_else(|| error(at, "an import names its \"account\""))?;
    let subject = map
        .get("subject")
        .ok_or_else(|| error(at, "an import names its \"subject\""))
        .and_then(|v| subject_of(v, at))?;
    Ok((account, subject))
}

/// The wildcard tokens of a pattern, in order.
fn wildcards(pattern: &str) -> Vec<&str> {
    pattern
        .split('.')
        .filter(|t| *t == "*" || *t == ">")
        .collect()
}

fn is_literal(pattern: &str) -> bool {
    wildcards(pattern).is_empty()
}

fn same_wildcards(a: &str, b: &str) -> bool {
    wildcards(a) == wildcards(b)
}

impl Export {
    /// Whether `account` may import `subject` under this export.
    pub fn admits(&self, account: &str, kind: &ImportKind, subject: &str) -> bool {
        let kind_matches = matches!(
            (&self.kind, kind),
            (ExportKind::Stream, ImportKind::Stream)
                | (ExportKind::Service(_), ImportKind::Service)
        );
        kind_matches
            && is_within(subject.as_bytes(), self.subject.as_bytes())
            && self
                .accounts
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == account))
    }
}

/// Maps a literal `subject` matched by pattern `from` to pattern `to`, whose wildcards
/// (in order) take the tokens `from`'s wildcards matched; a literal `to` is taken as is.
/// `None` if `from` does not match `subject`.
pub fn map_subject(from: &[u8], to: &[u8], subject: &[u8]) -> Option<Vec<u8>> {
    let mut captured: Vec<&[u8]> = Vec::new();
    let (mut p, mut s) = (from, subject);
    loop {
        let (pt, p_rest) = split_token(p);
        let (st, s_rest) = split_token(s);
        if pt == b">" && p_rest.is_none() {
            captured.push(s);
            break;
        }
        if pt == b"*" {
            captured.push(st);
        } else if pt != st {
            return None;
        }
        match (p_rest, s_rest) {
            (None, None) => break,
            (Some(pn), Some(sn)) => (p, s) = (pn, sn),
            _ => return None,
        }
    }
    let mut out = Vec::with_capacity(to.len() + subject.len());
    let mut next = captured.into_iter();
    for (i, token) in to.split(|&b| b == b'.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        match token {
            b"*" | b">" => out.extend_from_slice(next.next().unwrap_or(token)),
            literal => out.extend_from_slice(literal),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_through_wildcards() {
        let m = |from: &str, to: &str, s: &str| {
            map_subject(from.as_bytes(), to.as_bytes(), s.as_bytes())
                .map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(
            m("news.>", "a.news.>", "news.x.y").as_deref(),
            Some("a.news.x.y")
        );
        assert_eq!(
            m("help.*", "ahelp.*", "help.me").as_deref(),
            Some("ahelp.me")
        );
        assert_eq!(
            m("a.*.c.>", "z.*.>", "a.b.c.d.e").as_deref(),
            Some("z.b.d.e")
        );
        assert_eq!(m("lit", "other", "lit").as_deref(), Some("other"));
        assert_eq!(m("help.*", "ahelp.*", "help.me.too"), None);
        assert_eq!(m("news.>", "x.>", "news"), None);
    }

    #[test]
    fn exports_and_imports_parse() {
        let conf = crate::conf::parse(
            "exports: [{stream: \"news.>\"}, {service: \"help.*\", accounts: [B], response_type: stream}]\n\
             imports: [{stream: {account: A, subject: \"news.>\"}, prefix: a}, {service: {account: A, subject: \"help.*\"}, to: \"ahelp.*\"}]",
        )
        .unwrap();
        let exports = parse_exports(conf.get("exports").unwrap(), "e", &mut Vec::new()).unwrap();
        assert_eq!(exports[1].kind, ExportKind::Service(ResponseType::Stream));
        assert!(exports[1].admits("B", &ImportKind::Service, "help.*"));
        assert!(!exports[1].admits("C", &ImportKind::Service, "help.*"));
        assert!(exports[0].admits("C", &ImportKind::Stream, "news.a"));
        assert!(!exports[0].admits("C", &ImportKind::Service, "news.a"));
        let imports = parse_imports(conf.get("imports").unwrap(), "i", &mut Vec::new()).unwrap();
        assert_eq!(imports[0].local, "a.news.>");
        assert_eq!(imports[1].local, "ahelp.*");
        let bad =
            crate::conf::parse("imports: [{service: {account: A, subject: \"h.*\"}, to: \"x.>\"}]")
                .unwrap();
        assert!(parse_imports(bad.get("imports").unwrap(), "i", &mut Vec::new()).is_err());
    }
}
