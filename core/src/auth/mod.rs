//! Who a client is: users with passwords or nkeys, a shared token, the user taken by a
//! client that brings no credentials, and the account and permissions each user brings.
//!
//! Deciding is pure, with one exception kept out of the node: a password or token stored
//! as a bcrypt hash takes ~100 ms of CPU to check, so [`AuthConfig::check`] hands such a
//! check back as [`Verdict::Bcrypt`] and the shell runs it off the node's thread.

pub(crate) mod conf;
pub mod permissions;

use std::sync::Arc;

pub(crate) use conf::parse_permissions;
pub use permissions::{Permissions, ResponsePermission, SubjectRules};

use crate::node::ConnectOptions;

/// The account users belong to unless configured otherwise (the reference's `$G`).
pub const GLOBAL_ACCOUNT: &str = "$G";

/// How a user proves who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A password, in plain text or as a bcrypt hash (`$2a$...`).
    Password(String),
    /// The user's public nkey (`U...`): the client signs the nonce from `INFO` with it.
    Nkey,
}

/// One configured user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name, or the public nkey for an nkey user.
    pub name: String,
    pub credential: Credential,
    /// `None` takes the configuration's default permissions.
    pub permissions: Option<Permissions>,
    pub account: String,
}

/// Everything about authentication the server is configured with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    pub users: Vec<User>,
    /// A shared token (plain or a bcrypt hash); it cannot be combined with users.
    pub token: Option<String>,
    /// The user a client that sends no credentials becomes (`no_auth_user`).
    pub no_auth_user: Option<String>,
    /// Permissions of users configured without their own.
    pub default_permissions: Option<Permissions>,
}

/// Who a client turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The user's index in [`AuthConfig::users`]; `None` for a token or an open server.
    pub user: Option<usize>,
}

/// The outcome of checking a client's `CONNECT` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept(Identity),
    Reject,
    /// Accept as `then` if `secret` matches the bcrypt `hash`, else reject.
    Bcrypt {
        hash: String,
        secret: String,
        then: Identity,
    },
}

impl AuthConfig {
    /// One user with a password, in the global account (`--user`/`--pass`).
    pub fn single_user(name: &str, password: &str) -> AuthConfig {
        AuthConfig {
            users: vec![User {
                name: name.to_string(),
                credential: Credential::Password(password.to_string()),
                permissions: None,
                account: GLOBAL_ACCOUNT.to_string(),
            }],
            ..AuthConfig::default()
        }
    }

    /// A shared token (`--auth`).
    pub fn token(token: &str) -> AuthConfig {
        AuthConfig {
            token: Some(token.to_string()),
            ..AuthConfig::default()
        }
    }

    /// Whether clients must authenticate at all.
    pub fn required(&self) -> bool {
        !self.users.is_empty() || self.token.is_some()
    }

    /// Whether `INFO` must carry a nonce for clients to sign.
    pub fn needs_nonce(&self) -> bool {
        self.users.iter().any(|u| u.credential == Credential::Nkey)
    }

    /// The user a client without credentials becomes, if one is configured and exists.
    pub fn no_auth_identity(&self) -> Option<Identity> {
        let name = self.no_auth_user.as_deref()?;
        let user = self.users.iter().position(|u| u.name == name)?;
        Some(Identity { user: Some(user) })
    }

    /// Checks the credentials in `connect` against the configuration; `nonce` is what this
    /// client was sent in `INFO`, if anything.
    pub fn check(&self, connect: &ConnectOptions, nonce: Option<&str>) -> Verdict {
        if !self.required() {
            return Verdict::Accept(Identity { user: None });
        }
        if let Some(nkey) = connect.nkey.as_deref() {
            return self.check_nkey(nkey, connect.sig.as_deref(), nonce);
        }
        if let Some(token) = &self.token {
            return match connect.auth_token.as_deref() {
                Some(given) => compare(token, given, Identity { user: None }),
                None => Verdict::Reject,
            };
        }
        let no_credentials =
            connect.user.is_none() && connect.pass.is_none() && connect.auth_token.is_none();
        if no_credentials {
            return self
                .no_auth_identity()
                .map_or(Verdict::Reject, Verdict::Accept);
        }
        let Some(name) = connect.user.as_deref() else {
            return Verdict::Reject;
        };
        let found = self
            .users
            .iter()
            .position(|u| u.name == name && matches!(u.credential, Credential::Password(_)));
        let Some(index) = found else {
            return Verdict::Reject;
        };
        let Credential::Password(password) = &self.users[index].credential else {
            unreachable!("found among password users");
        };
        let given = connect.pass.as_deref().unwrap_or("");
        compare(password, given, Identity { user: Some(index) })
    }

    /// `verify_and_map`: the user named by the client's certificate. `names` are what the
    /// certificate says, in the order the reference tries them: e-mail addresses, DNS
    /// names, URIs, then the subject's distinguished name (RFC 2253, `CN=a,O=b`). With
    /// no users configured a verified certificate is enough.
    pub fn check_certificate(&self, names: &[String]) -> Verdict {
        if self.users.is_empty() {
            return Verdict::Accept(Identity { user: None });
        }
        let found = names
            .iter()
            .find_map(|name| self.users.iter().position(|u| &u.name == name));
        match found {
            Some(index) => Verdict::Accept(Identity { user: Some(index) }),
            None => Verdict::Reject,
        }
    }

    fn check_nkey(&self, nkey: &str, sig: Option<&str>, nonce: Option<&str>) -> Verdict {
        let found = self
            .users
            .iter()
            .position(|u| u.name == nkey && u.credential == Credential::Nkey);
        let (Some(index), Some(sig), Some(nonce)) = (found, sig, nonce) else {
            return Verdict::Reject;
        };
        if verify_nkey_signature(nkey, nonce, sig) {
            Verdict::Accept(Identity { user: Some(index) })
        } else {
            Verdict::Reject
        }
    }

    /// The permissions a user works under: its own, else the defaults.
    pub fn permissions_of(&self, identity: &Identity) -> Option<Arc<Permissions>> {
        let user = &self.users[identity.user?];
        user.permissions
            .as_ref()
            .or(self.default_permissions.as_ref())
            .map(|p| Arc::new(p.clone().normalized()))
    }

    /// The account a client joins.
    pub fn account_of(&self, identity: &Identity) -> &str {
        identity
            .user
            .map_or(GLOBAL_ACCOUNT, |i| self.users[i].account.as_str())
    }
}

/// Whether `stored` looks like a bcrypt hash, as the reference decides it (`$2a$10$...`).
pub fn is_bcrypt(stored: &str) -> bool {
    let b = stored.as_bytes();
    b.len() > 7
        && b.starts_with(b"$2")
        && matches!(b[2], b'a' | b'b' | b'x' | b'y')
        && b[3] == b'$'
        && b[4].is_ascii_digit()
        && b[5].is_ascii_digit()
        && b[6] == b'$'
}

fn compare(stored: &str, given: &str, then: Identity) -> Verdict {
    if is_bcrypt(stored) {
        Verdict::Bcrypt {
            hash: stored.to_string(),
            secret: given.to_string(),
            then,
        }
    } else if constant_eq(stored.as_bytes(), given.as_bytes()) {
        Verdict::Accept(then)
    } else {
        Verdict::Reject
    }
}

/// Compares without stopping at the first difference, so the time taken does not tell an
/// attacker how much of a guess was right.
pub fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks an nkey signature of `nonce`. Clients send it base64 URL-encoded without
/// padding; like the reference, standard base64 is accepted too.
fn verify_nkey_signature(nkey: &str, nonce: &str, sig: &str) -> bool {
    use base64::Engine;
    let engines = [
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
    ];
    let Some(sig) = engines.iter().find_map(|e| e.decode(sig).ok()) else {
        return false;
    };
    nkeys::KeyPair::from_public_key(nkey)
        .is_ok_and(|key| key.verify(nonce.as_bytes(), &sig).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, pass: &str, account: &str) -> User {
        User {
            name: name.into(),
            credential: Credential::Password(pass.into()),
            permissions: None,
            account: account.into(),
        }
    }

    fn connect(json: &str) -> ConnectOptions {
        ConnectOptions::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn users_and_no_auth_user() {
        let mut conf = AuthConfig {
            users: vec![user("a", "pa", "A"), user("b", "pb", GLOBAL_ACCOUNT)],
            ..AuthConfig::default()
        };
        let a = Identity { user: Some(0) };
        assert_eq!(
            conf.check(&connect(r#"{"user":"a","pass":"pa"}"#), None),
            Verdict::Accept(a.clone())
        );
        assert_eq!(conf.account_of(&a), "A");
        assert_eq!(
            conf.check(&connect(r#"{"user":"a","pass":"pb"}"#), None),
            Verdict::Reject
        );
        assert_eq!(conf.check(&connect("{}"), None), Verdict::Reject);
        conf.no_auth_user = Some("b".into());
        assert_eq!(
            conf.check(&connect("{}"), None),
            Verdict::Accept(Identity { user: Some(1) })
        );
    }

    #[test]
    fn certificates_name_users() {
        let conf = AuthConfig {
            users: vec![
                user("CN=svc,O=Acme", "", GLOBAL_ACCOUNT),
                user("ops@example.com", "", "A"),
            ],
            ..AuthConfig::default()
        };
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            conf.check_certificate(&names(&["ops@example.com", "CN=svc,O=Acme"])),
            Verdict::Accept(Identity { user: Some(1) })
        );
        assert_eq!(
            conf.check_certificate(&names(&["CN=svc,O=Acme"])),
            Verdict::Accept(Identity { user: Some(0) })
        );
        assert_eq!(conf.check_certificate(&names(&["CN=x"])), Verdict::Reject);
        assert_eq!(
            AuthConfig::default().check_certificate(&[]),
            Verdict::Accept(Identity { user: None })
        );
    }

    #[test]
    fn bcrypt_is_left_to_the_caller() {
        let hash = "$2a$11$abcdefghijklmnopqrstuv";
        let conf = AuthConfig {
            token: Some(hash.into()),
            ..AuthConfig::default()
        };
        assert!(is_bcrypt(hash) && !is_bcrypt("$2plain") && !is_bcrypt("pa"));
        assert_eq!(
            conf.check(&connect(r#"{"auth_token":"t"}"#), None),
            Verdict::Bcrypt {
                hash: hash.into(),
                secret: "t".into(),
                then: Identity { user: None }
            }
        );
    }

    #[test]
    fn nkey_signature_of_the_nonce() {
        let key = nkeys::KeyPair::new_from_raw(nkeys::KeyPairType::User, [7; 32]).unwrap();
        let conf = AuthConfig {
            users: vec![User {
                name: key.public_key(),
                credential: Credential::Nkey,
                permissions: None,
                account: GLOBAL_ACCOUNT.into(),
            }],
            ..AuthConfig::default()
        };
        assert!(conf.needs_nonce());
        use base64::Engine;
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.sign(b"nonce123").unwrap());
        let json = format!(r#"{{"nkey":"{}","sig":"{sig}"}}"#, key.public_key());
        assert_eq!(
            conf.check(&connect(&json), Some("nonce123")),
            Verdict::Accept(Identity { user: Some(0) })
        );
        assert_eq!(conf.check(&connect(&json), Some("other")), Verdict::Reject);
        assert_eq!(conf.check(&connect(&json), None), Verdict::Reject);
    }
}
