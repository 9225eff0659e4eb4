//! Authenticating clients and enforcing their permissions.
//!
//! A `CONNECT` is checked against the configuration ([`crate::auth`]); a bcrypt hash is left
//! to the shell ([`Output::VerifyBcrypt`]), and until its answer comes back
//! ([`Node::bcrypt_verified`]) whatever else the client sends is held, unprocessed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::close::CloseReason;
use super::connect::{ConnectError, ConnectOptions};
use super::{ConnId, Level, Node, Output};
use crate::auth::{Identity, Permissions, Verdict};
use crate::hash::FixedMap;
use crate::time::Instant;

/// Publish decisions a client remembers, so a busy publisher is checked once per subject.
const PUB_CACHE_MAX: usize = 128;

/// Reply subjects a client may still answer (`allow_responses`) before old grants are
/// pruned; past this, grants for new requests are not made.
const REPLY_GRANTS_MAX: usize = 4096;

/// How many bytes a client may send while its `CONNECT` is being verified.
const HELD_MAX: usize = 1024 * 1024;

/// A client's permissions and what it remembers about them.
#[derive(Debug)]
pub struct ClientPerms {
    rules: Arc<Permissions>,
    pub_cache: FixedMap<Bytes, bool>,
    /// Reply subjects of requests it received: how many responses are left, and until when.
    replies: FixedMap<Bytes, (u64, Option<Instant>)>,
}

/// A `CONNECT` whose bcrypt check is under way.
#[derive(Debug)]
pub struct PendingAuth {
    opts: ConnectOptions,
    identity: Identity,
    held: Vec<Bytes>,
    held_len: usize,
}

impl PendingAuth {
    /// Holds bytes that arrived meanwhile; false if that would be too many.
    pub fn hold(&mut self, data: Bytes) -> bool {
        self.held_len += data.len();
        self.held.push(data);
        self.held_len <= HELD_MAX
    }
}

impl ClientPerms {
    fn new(rules: Arc<Permissions>) -> ClientPerms {
        ClientPerms {
            rules,
            pub_cache: FixedMap::default(),
            replies: FixedMap::default(),
        }
    }

    /// Whether the client may publish to `subject`, using up a response grant if that is
    /// what allows it.
    fn may_publish(&mut self, now: Instant, subject: &[u8]) -> bool {
        let allowed = match self.pub_cache.get(subject) {
            Some(&allowed) => allowed,
            None => {
                let allowed = self.rules.allows_publish(subject);
                if self.pub_cache.len() >= PUB_CACHE_MAX {
                    self.pub_cache.clear();
                }
                // A copy: the subject is a slice of a whole read buffer.
                self.pub_cache
                    .insert(Bytes::copy_from_slice(subject), allowed);
                allowed
            }
        };
        allowed || self.use_reply_grant(now, subject)
    }

    fn use_reply_grant(&mut self, now: Instant, subject: &[u8]) -> bool {
        let Some((left, until)) = self.replies.get_mut(subject) else {
            return false;
        };
        let live = until.is_none_or(|until| now < until);
        *left -= 1;
        if *left == 0 || !live {
            self.replies.remove(subject);
        }
        live
    }

    /// A request with reply subject `reply` is being delivered to this client.
    pub fn grant_reply(&mut self, now: Instant, reply: &[u8]) {
        let Some(grant) = self.rules.responses else {
            return;
        };
        if self.replies.len() >= REPLY_GRANTS_MAX {
            self.replies
                .retain(|_, (_, until)| until.is_none_or(|until| now < until));
            if self.replies.len() >= REPLY_GRANTS_MAX {
                return;
            }
        }
        let until = (grant.expires > Duration::ZERO).then(|| now + grant.expires);
        self.replies
            .insert(Bytes::copy_from_slice(reply), (grant.max, until));
    }

    pub fn may_subscribe(&self, subject: &[u8]) -> bool {
        self.rules.allows_subscription(subject)
    }

    /// Whether deliveries to a subscription on `subject` must be checked against the deny
    /// list.
    pub fn needs_delivery_filter(&self, subject: &[u8]) -> bool {
        self.rules
            .subscribe
            .as_ref()
            .is_some_and(|rules| rules.deny_overlaps(subject))
    }

    pub fn denies_delivery(&self, subject: &[u8]) -> bool {
        self.rules
            .subscribe
            .as_ref()
            .is_some_and(|rules| rules.denies(subject))
    }
}

impl Node {
    /// A nonce for `INFO`, as the reference makes it: 11 random bytes, base64 URL-encoded.
    pub(super) fn new_nonce(&mut self) -> String {
        use base64::Engine;
        let mut raw = [0u8; 11];
        self.rng.fill(&mut raw);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    pub(super) fn process_connect(&mut self, now: Instant, conn: ConnId, json: &[u8]) {
        let client = self.client(conn);
        if client.implicit_auth {
            // The reference refuses a CONNECT from a client that already became the
            // no_auth_user by speaking first.
            return self.auth_failed(conn);
        }
        let opts = match client.opts.merge(json) {
            Ok(opts) => opts,
            Err(ConnectError::Protocol) => {
                let text = "invalid client protocol";
                return self.close_with_err(conn, text, CloseReason::ProtocolViolation);
            }
            Err(ConnectError::Json(e)) => {
                self.log(Level::Error, conn, &e);
                return self.close(conn, CloseReason::ProtocolViolation);
            }
        };
        if opts.no_responders && !opts.headers {
            return self.close_with_err(
                conn,
                "no responders requires headers support",
                CloseReason::ProtocolViolation,
            );
        }
        if client.connected {
            // A second CONNECT changes options, not who the client is.
            return self.finish_connect(now, conn, opts, None);
        }
        let maps_certificates = self.opts.tls.as_ref().is_some_and(|t| t.verify_and_map);
        let verdict = match &client.cert_names {
            Some(names) if maps_certificates => self.opts.auth.check_certificate(names),
            _ => self.opts.auth.check(&opts, client.nonce.as_deref()),
        };
        match verdict {
            Verdict::Accept(identity) => self.finish_connect(now, conn, opts, Some(identity)),
            Verdict::Reject => {
                self.client_mut(conn).opts = opts;
                self.auth_failed(conn)
            }
            Verdict::Bcrypt { hash, secret, then } => {
                self.client_mut(conn).pending_auth = Some(PendingAuth {
                    opts,
                    identity: then,
                    held: Vec::new(),
                    held_len: 0,
                });
                self.outputs
                    .push_back(Output::VerifyBcrypt { conn, hash, secret });
            }
        }
    }

    /// The shell verified `conn`'s TLS client certificate, which names `names` (e-mail
    /// addresses, DNS names, URIs, then the subject DN): with `verify_and_map` the client
    /// is the user one of them names.
    pub fn certificate_verified(&mut self, conn: ConnId, names: Vec<String>) {
        if let Some(client) = self.clients.get_mut(&conn) {
            client.cert_names = Some(names);
        }
    }

    /// The shell's answer to [`Output::VerifyBcrypt`] for `conn`.
    pub fn bcrypt_verified(&mut self, now: Instant, conn: ConnId, ok: bool) {
        let Some(client) = self.clients.get_mut(&conn) else {
            return;
        };
        if client.pending_auth.is_none() && std::mem::take(&mut client.recheck) {
            // A connected client's password, checked again after a reload.
            if !ok {
                self.auth_failed(conn);
            }
            return;
        }
        let Some(pending) = client.pending_auth.take() else {
            return;
        };
        if !ok {
            self.client_mut(conn).opts = pending.opts;
            return self.auth_failed(conn);
        }
        self.finish_connect(now, conn, pending.opts, Some(pending.identity));
        for data in pending.held {
            self.receive(now, conn, data);
        }
    }

    /// A client that sent something other than `CONNECT` first: it becomes the
    /// `no_auth_user` if one is configured (as in the reference), else it is refused.
    /// Whether it may go on.
    pub(super) fn speak_before_connect(&mut self, conn: ConnId) -> bool {
        match self.opts.auth.no_auth_identity() {
            Some(identity) => {
                self.become_user(conn, &identity);
                let client = self.client_mut(conn);
                client.implicit_auth = true;
                client.auth_deadline = None;
                self.reschedule(conn);
                true
            }
            None => {
                self.close_with_err(
                    conn,
                    "Authorization Violation",
                    CloseReason::AuthenticationViolation,
                );
                false
            }
        }
    }

    fn finish_connect(
        &mut self,
        _now: Instant,
        conn: ConnId,
        opts: ConnectOptions,
        identity: Option<Identity>,
    ) {
        if let Some(identity) = identity {
            self.become_user(conn, &identity);
        }
        let client = self.client_mut(conn);
        if opts.version.is_some() || opts.lang.is_some() || opts.name.is_some() {
            client.label = Some(format!(
                "v{}:{}:{}",
                opts.version.as_deref().unwrap_or(""),
                opts.lang.as_deref().unwrap_or(""),
                opts.name.as_deref().unwrap_or("")
            ));
        }
        client.opts = opts;
        client.connected = true;
        client.auth_deadline = None;
        self.reschedule(conn);
        self.send_ok(conn);
        self.event_connect(conn);
    }

    /// Moves a client into its user's account, under its user's permissions.
    pub(super) fn become_user(&mut self, conn: ConnId, identity: &Identity) {
        let account = self.account_index(self.opts.auth.account_of(identity));
        let perms = identity
            .user
            .and_then(|u| self.user_perms[u].clone())
            .map(|rules| Box::new(ClientPerms::new(rules)));
        let client = self.client_mut(conn);
        client.account = account;
        client.user = identity.user;
        client.perms = perms;
    }

    pub(super) fn auth_failed(&mut self, conn: ConnId) {
        let text = match &self.client(conn).opts {
            ConnectOptions { nkey: Some(k), .. } => format!("authentication error - Nkey \"{k}\""),
            ConnectOptions { user: Some(u), .. } => format!("authentication error - User \"{u}\""),
            _ => "authentication error".to_string(),
        };
        self.log(Level::Error, conn, &text);
        self.close_with_err(
            conn,
            "Authorization Violation",
            CloseReason::AuthenticationViolation,
        );
    }

    /// Checks a publish against the client's permissions; on a violation, tells the client.
    pub(super) fn may_publish(&mut self, conn: ConnId, subject: &[u8]) -> bool {
        let now = self.now;
        let client = self.client_mut(conn);
        let Some(perms) = client.perms.as_mut() else {
            return true;
        };
        if perms.may_publish(now, subject) {
            return true;
        }
        let subject = String::from_utf8_lossy(subject);
        let user = self.user_label(conn);
        self.log(
            Level::Error,
            conn,
            &format!("Publish Violation - {user}, Subject {}", go_quote(&subject)),
        );
        self.send_err(
            conn,
            &format!(
                "Permissions Violation for Publish to {}",
                go_quote(&subject)
            ),
        );
        false
    }

    /// Checks a subscription against the client's permissions; on a violation, tells the
    /// client. `Some(filter)` if allowed, where `filter` says deliveries must be checked.
    pub(super) fn may_subscribe(
        &mut self,
        conn: ConnId,
        subject: &[u8],
        queue: Option<&[u8]>,
        sid: &[u8],
    ) -> Option<bool> {
        let client = self.client(conn);
        let Some(perms) = client.perms.as_ref() else {
            return Some(false);
        };
        if perms.may_subscribe(subject) {
            return Some(perms.needs_delivery_filter(subject));
        }
        let subject = go_quote(&String::from_utf8_lossy(subject));
        let text = match queue {
            Some(q) => format!(
                "Permissions Violation for Subscription to {subject} using queue {}",
                go_quote(&String::from_utf8_lossy(q))
            ),
            None => format!("Permissions Violation for Subscription to {subject}"),
        };
        let user = self.user_label(conn);
        let sid = String::from_utf8_lossy(sid);
        let log = format!("Subscription Violation - {user}, Subject {subject}, SID {sid}");
        self.log(Level::Error, conn, &log);
        self.send_err(conn, &text);
        None
    }

    /// A client used a reply subject reserved for routing service responses.
    pub(super) fn reserved_reply_violation(&mut self, conn: ConnId, reply: &[u8]) {
        let reply = go_quote(&String::from_utf8_lossy(reply));
        let user = self.user_label(conn);
        let log = format!("Publish Violation - {user}, Reply {reply}");
        self.log(Level::Error, conn, &log);
        let text = format!("Permissions Violation for Publish with Reply of {reply}");
        self.send_err(conn, &text);
    }

    /// How the reference names a client's user in violation logs.
    pub(super) fn user_label(&self, conn: ConnId) -> String {
        let client = self.client(conn);
        match client.user.map(|u| &self.opts.auth.users[u]) {
            Some(user) if user.credential == crate::auth::Credential::Nkey => {
                format!("Nkey \"{}\"", user.name)
            }
            Some(user) => format!("User \"{}\"", user.name),
            None => "User \"\"".to_string(),
        }
    }
}

/// Reply subjects under `_R_.` route responses of service imports back across accounts;
/// clients may not use them, or they could steer others' responses.
pub(super) fn is_reserved_reply(reply: &[u8]) -> bool {
    reply.starts_with(b"_R_.")
}

/// A string quoted the way Go's `%q` does for the printable text subjects are made of.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The permissions of every configured user, resolved once when the node starts.
pub(super) fn user_permissions(auth: &crate::auth::AuthConfig) -> Vec<Option<Arc<Permissions>>> {
    (0..auth.users.len())
        .map(|u| auth.permissions_of(&Identity { user: Some(u) }))
        .collect()
}
