//! Reading users, permissions and accounts' users from a configuration file, with the
//! reference's keys and the shapes it accepts.

use crate::conf::{Map, Value};
use crate::options::{duration, size, string, unknown_fields, OptionError};

use super::{AuthConfig, Credential, Permissions, ResponsePermission, SubjectRules, User};

fn error(key: &str, message: impl Into<String>) -> OptionError {
    OptionError {
        key: key.to_string(),
        message: message.into(),
        pos: None,
    }
}

impl AuthConfig {
    /// The users of an `authorization { users: [...] }` or `accounts { A: { users: [...] } }`
    /// block, joining `account`. `at` names the block in errors.
    pub(crate) fn add_users(
        &mut self,
        list: &Value,
        account: &str,
        at: &str,
        warnings: &mut Vec<OptionError>,
    ) -> Result<(), OptionError> {
        let Value::Array(items) = list else {
            return Err(error(at, "expected an array of users"));
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{at}[{i}]");
            let Value::Map(map) = item else {
                return Err(error(&at, "expected a map"));
            };
            let known = [
                "user",
                "username",
                "password",
                "pass",
                "nkey",
                "permissions",
                "permission",
                "account",
            ];
            unknown_fields(map, &known, &at, warnings);
            let user = parse_user(map, account, &at)?;
            if self.users.iter().any(|u| u.name == user.name) {
                return Err(error(&at, format!("duplicate user \"{}\"", user.name)));
            }
            self.users.push(user);
        }
        Ok(())
    }
}

fn parse_user(map: &Map, account: &str, at: &str) -> Result<User, OptionError> {
    let text = |keys: &[&str]| -> Result<Option<String>, OptionError> {
        keys.iter()
            .find_map(|k| map.get(k).map(|v| (k, v)))
            .map(|(k, v)| string(v).ok_or_else(|| error(&format!("{at}.{k}"), "expected a string")))
            .transpose()
    };
    let name = text(&["user", "username"])?;
    let password = text(&["password", "pass"])?;
    let nkey = text(&["nkey"])?;
    let (name, credential) = match (name, password, nkey) {
        (Some(name), password, None) => (name, Credential::Password(password.unwrap_or_default())),
        (None, None, Some(nkey)) => {
            if !nkey.starts_with('U') || nkeys::KeyPair::from_public_key(&nkey).is_err() {
                return Err(error(&format!("{at}.nkey"), "not a valid public user nkey"));
            }
            (nkey, Credential::Nkey)
        }
        (None, _, None) => return Err(error(at, "a user needs \"user\" or \"nkey\"")),
        _ => {
            return Err(error(
                at,
                "a user has either \"user\" or \"nkey\", not both",
            ))
        }
    };
    let permissions = map
        .get("permissions")
        .or_else(|| map.get("permission"))
        .map(|v| parse_permissions(v, &format!("{at}.permissions")))
        .transpose()?;
    let account = match map.get("account") {
        Some(v) => string(v).ok_or_else(|| error(&format!("{at}.account"), "expected a string"))?,
        None => account.to_string(),
    };
    Ok(User {
        name,
        credential,
        permissions,
        account,
    })
}

/// `{ publish: ..., subscribe: ..., allow_responses: ... }`.
pub(crate) fn parse_permissions(v: &Value, at: &str) -> Result<Permissions, OptionError> {
    let Value::Map(map) = v else {
        return Err(error(at, "expected a map"));
    };
    let mut p = Permissions::default();
    for (key, value) in map.iter() {
        let here = format!("{at}.{key}");
        match key.to_ascii_lowercase().as_str() {
            "publish" | "pub" => p.publish = Some(parse_rules(value, &here)?),
            "subscribe" | "sub" => p.subscribe = Some(parse_rules(value, &here)?),
            "allow_responses" | "allow_response" => p.responses = parse_responses(value, &here)?,
            _ => return Err(error(&here, "unknown field")),
        }
    }
    Ok(p)
}

/// A subject list (allow only) or `{ allow: [...], deny: [...] }`.
pub(crate) fn parse_rules(v: &Value, at: &str) -> Result<SubjectRules, OptionError> {
    match v {
        Value::Map(map) => {
            let mut rules = SubjectRules::default();
            for (key, value) in map.iter() {
                let here = format!("{at}.{key}");
                match key.to_ascii_lowercase().as_str() {
                    "allow" => rules.allow = Some(subjects(value, &here)?),
                    "deny" => rules.deny = subjects(value, &here)?,
                    _ => return Err(error(&here, "expected \"allow\" or \"deny\"")),
                }
            }
            Ok(rules)
        }
        _ => Ok(SubjectRules {
            allow: Some(subjects(v, at)?),
            deny: Vec::new(),
        }),
    }
}

fn subjects(v: &Value, at: &str) -> Result<Vec<String>, OptionError> {
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            let s = string(item).ok_or_else(|| error(at, "expected subjects"))?;
            if !crate::subject::is_valid_subject(s.as_bytes()) {
                return Err(error(at, format!("invalid subject \"{s}\"")));
            }
            Ok(s)
        })
        .collect()
}

/// `allow_responses: true` (the defaults) or `{ max: N, expires: "1m" }`.
fn parse_responses(v: &Value, at: &str) -> Result<Option<ResponsePermission>, OptionError> {
    match v {
        Value::Bool(on) => Ok(on.then(ResponsePermission::default)),
        Value::Map(map) => {
            let mut r = ResponsePermission::default();
            for (key, value) in map.iter() {
                let here = format!("{at}.{key}");
                match key.to_ascii_lowercase().as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        r.max = size(value).ok_or_else(|| error(&here, "expected an integer"))?
                    }
                    "expires" | "expiration" | "ttl" => {
                        r.expires =
                            duration(value).ok_or_else(|| error(&here, "expected a duration"))?
                    }
                    _ => return Err(error(&here, "unknown field")),
                }
            }
            Ok(Some(r))
        }
        _ => Err(error(at, "expected true/false or a map")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GLOBAL_ACCOUNT;

    #[test]
    fn users_with_permissions() {
        let conf = crate::conf::parse(
            "users: [\n\
             {user: a, password: pa, permissions: {publish: \"ok.>\", subscribe: {allow: [\"x\", \"y.*\"], deny: \"y.z\"}}}\n\
             {user: b, pass: pb, permissions: {allow_responses: {max: 3, expires: \"1s\"}}}\n\
             ]",
        )
        .unwrap();
        let mut auth = AuthConfig::default();
        auth.add_users(
            conf.get("users").unwrap(),
            GLOBAL_ACCOUNT,
            "users",
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(auth.users.len(), 2);
        let a = auth.users[0].permissions.as_ref().unwrap();
        assert_eq!(a.publish.as_ref().unwrap().allow, Some(vec!["ok.>".into()]));
        let sub = a.subscribe.as_ref().unwrap();
        assert_eq!(sub.allow, Some(vec!["x".into(), "y.*".into()]));
        assert_eq!(sub.deny, vec!["y.z".to_string()]);
        let b = auth.users[1].permissions.as_ref().unwrap();
        assert_eq!(b.responses.unwrap().max, 3);
        assert_eq!(auth.users[1].credential, Credential::Password("pb".into()));
    }

    #[test]
    fn bad_users_are_named() {
        for (text, want) in [
            ("users: [{password: x}]", "users[0]"),
            (
                "users: [{user: a, permissions: {publish: [\"a..b\"]}}]",
                "users[0].permissions.publish",
            ),
            ("users: [{user: a}, {user: a}]", "users[1]"),
            ("users: [{nkey: nope}]", "users[0].nkey"),
            ("users: {user: a}", "users"),
        ] {
            let conf = crate::conf::parse(text).unwrap();
            let err = AuthConfig::default()
                .add_users(
                    conf.get("users").unwrap(),
                    GLOBAL_ACCOUNT,
                    "users",
                    &mut Vec::new(),
                )
                .unwrap_err();
            assert_eq!(err.key, want, "{text}");
        }
    }
}
