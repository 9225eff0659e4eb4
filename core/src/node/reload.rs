//! Configuration reload (SIGHUP): the options that may change live are applied, as the
//! reference's `reloadOptions` does, and connected clients are checked against the new
//! authorization.
//!
//! A reload is all or nothing: if any option that cannot change live has changed, nothing
//! is applied and the error names it (`config reload not supported for Port: old=4222,
//! new=4333`). Otherwise the node logs a `Reloaded: ...` line per change, in the reference's
//! order, swaps in the new options, rebuilds users and accounts (keeping each surviving
//! account's subscriptions), closes clients whose user is gone or moved account, refuses
//! clients whose credentials no longer work (`Authorization Violation`), and gives the rest
//! their new permissions, removing subscriptions these no longer allow. The shell then
//! applies logging changes and logs `Reloaded server configuration`.

use super::auth::go_quote;
use super::{account, auth, CloseReason, ConnId, Level, Node, Output};
use crate::auth::{Credential, Identity, Verdict};
use crate::options::{go_duration, Options};
use crate::proto::Parser;
use crate::time::Instant;

/// What becomes of a connected client under the new authorization.
enum Recheck {
    /// Its user is gone or belongs to another account now: closed, to reconnect.
    Moved,
    /// Its credentials no longer work.
    Refused,
    /// Still welcome, as this user.
    Keep(Identity),
    /// Welcome if its password still matches the (changed) bcrypt hash.
    Verify {
        identity: Identity,
        hash: String,
        secret: String,
    },
}

impl Node {
    /// Applies `new` options at `now`, or explains why nothing was applied.
    pub fn reload(&mut self, now: Instant, new: Options) -> Result<(), String> {
        self.now = now;
        refuse_unsupported(&self.opts, &new)?;
        let old = &self.opts;
        let mut lines = Vec::new();
        if old.trace != new.trace {
            lines.push(format!("Reloaded: trace = {}", new.trace));
        }
        if old.debug != new.debug {
            lines.push(format!("Reloaded: debug = {}", new.debug));
        }
        if old.logtime != new.logtime {
            lines.push(format!("Reloaded: logtime = {}", new.logtime));
        }
        let max_conn_changed = old.max_connections != new.max_connections;
        self.log_lines(std::mem::take(&mut lines));
        if max_conn_changed {
            self.fall_within_max_connections(new.max_connections);
            self.log_lines(vec![format!(
                "Reloaded: max_connections = {}",
                new.max_connections
            )]);
        }
        let old = &self.opts;
        // Users and accounts are rebuilt on every reload, and the reference says so.
        lines.push("Reloaded: authorization users".to_string());
        lines.push("Reloaded: accounts".to_string());
        if old.auth.token != new.auth.token {
            lines.push("Reloaded: authorization token".to_string());
        }
        if old.tls != new.tls {
            lines.push("Reloaded: tls = enabled".to_string());
        }
        if old.ping_interval != new.ping_interval {
            let d = go_duration(new.ping_interval);
            lines.push(format!("Reloaded: ping_interval = {d}"));
        }
        if old.ping_max != new.ping_max {
            lines.push(format!("Reloaded: ping_max = {}", new.ping_max));
        }
        if old.auth_timeout() != new.auth_timeout() {
            let secs = new.auth_timeout().as_secs_f64();
            lines.push(format!("Reloaded: authorization timeout = {secs}"));
        }
        if old.max_control_line != new.max_control_line {
            let n = new.max_control_line;
            lines.push(format!("Reloaded: max_control_line = {n}"));
        }
        if old.max_payload != new.max_payload {
            lines.push(format!("Reloaded: max_payload = {}", new.max_payload));
        }
        if old.pid_file != new.pid_file {
            if let Some(pid_file) = &new.pid_file {
                lines.push(format!("Reloaded: pid_file = {pid_file}"));
            }
        }
        if old.log_file != new.log_file {
            let file = new.log_file.as_deref().unwrap_or("");
            lines.push(format!("Reloaded: log_file = {file}"));
        }
        if old.write_deadline != new.write_deadline {
            let d = go_duration(new.write_deadline);
            lines.push(format!("Reloaded: write_deadline = {d}"));
        }
        let limits_changed =
            old.max_payload != new.max_payload || old.max_control_line != new.max_control_line;
        self.log_lines(lines);
        self.reload_authorization(new);
        if limits_changed {
            self.apply_parser_limits();
        }
        Ok(())
    }

    fn log_lines(&mut self, lines: Vec<String>) {
        for text in lines {
            self.outputs.push_back(Output::Log {
                level: Level::Info,
                text,
            });
        }
    }

    /// Closes the newest clients until at most `max` are left.
    fn fall_within_max_connections(&mut self, max: usize) {
        if max == 0 || self.clients.len() <= max {
            return;
        }
        let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let excess = ids.len() - max;
        for &id in &ids[..excess] {
            self.close_with_err(
                id,
                "maximum connections exceeded",
                CloseReason::MaxConnectionsExceeded,
            );
        }
        self.log_lines(vec![format!(
            "Closed {excess} connections to fall within max_connections"
        )]);
    }

    /// Swaps in `new` with its users and accounts, and checks every client against them.
    fn reload_authorization(&mut self, new: Options) {
        let mut ids: Vec<ConnId> = self.clients.keys().copied().collect();
        ids.sort_unstable();
        let verdicts: Vec<(ConnId, Recheck)> = ids
            .into_iter()
            .filter_map(|id| self.recheck(id, &new).map(|r| (id, r)))
            .collect();
        // Closed under the old accounts, which their subscriptions are in.
        for (id, recheck) in &verdicts {
            if let Recheck::Moved = recheck {
                self.close(*id, CloseReason::ClientClosed);
            }
        }
        for (id, recheck) in &verdicts {
            if let Recheck::Refused = recheck {
                self.auth_failed(*id);
            }
        }
        let old_names: Vec<String> = self.accounts.iter().map(|a| a.name.clone()).collect();
        let mut old_accounts = std::mem::take(&mut self.accounts);
        let mut accounts = account::accounts_for(&new);
        for acc in &mut accounts {
            if let Some(old) = old_accounts.iter_mut().find(|a| a.name == acc.name) {
                std::mem::swap(&mut acc.sublist, &mut old.sublist);
                std::mem::swap(&mut acc.responses, &mut old.responses);
                acc.departed = old.departed;
                acc.slow_consumers = old.slow_consumers;
            }
        }
        self.accounts = accounts;
        for client in self.clients.values_mut() {
            let name = &old_names[client.account];
            client.account = self
                .accounts
                .iter()
                .position(|a| &a.name == name)
                .unwrap_or(0);
        }
        self.info.auth_required = new.auth.required() && new.auth.no_auth_identity().is_none();
        self.info.max_payload = new.max_payload;
        self.info.tls_verify = new.tls.as_ref().is_some_and(|t| t.verify);
        self.user_perms = auth::user_permissions(&new.auth);
        self.opts = new;
        for (id, recheck) in verdicts {
            match recheck {
                Recheck::Moved | Recheck::Refused => {}
                Recheck::Keep(identity) => {
                    self.become_user(id, &identity);
                    self.recheck_subscriptions(id);
                }
                Recheck::Verify {
                    identity,
                    hash,
                    secret,
                } => {
                    self.become_user(id, &identity);
                    self.recheck_subscriptions(id);
                    self.client_mut(id).recheck = true;
                    self.outputs.push_back(Output::VerifyBcrypt {
                        conn: id,
                        hash,
                        secret,
                    });
                }
            }
        }
    }

    /// What the new options make of client `id`; `None` for a client not authenticated
    /// yet (its `CONNECT` will be checked against the new options when it comes).
    fn recheck(&self, id: ConnId, new: &Options) -> Option<Recheck> {
        let client = self.client(id);
        if (!client.connected && !client.implicit_auth) || client.pending_auth.is_some() {
            return None;
        }
        let current = &self.accounts[client.account].name;
        let named = client.opts.nkey.as_deref().or(client.opts.user.as_deref());
        let had_users = !self.opts.auth.users.is_empty() || !new.auth.users.is_empty();
        if let Some(name) = named.filter(|n| had_users && !n.is_empty()) {
            match new.auth.users.iter().find(|u| u.name == name) {
                Some(user) if &user.account == current => {}
                _ => return Some(Recheck::Moved),
            }
        }
        let maps_certificates = new.tls.as_ref().is_some_and(|t| t.verify_and_map);
        let verdict = match &client.cert_names {
            Some(names) if maps_certificates => new.auth.check_certificate(names),
            _ if client.implicit_auth => new
                .auth
                .no_auth_identity()
                .map_or(Verdict::Reject, Verdict::Accept),
            _ => new.auth.check(&client.opts, client.nonce.as_deref()),
        };
        let moved = |identity: &Identity| new.auth.account_of(identity) != current;
        Some(match verdict {
            Verdict::Reject => Recheck::Refused,
            Verdict::Accept(identity) if moved(&identity) => Recheck::Moved,
            Verdict::Accept(identity) => Recheck::Keep(identity),
            Verdict::Bcrypt { then, .. } if moved(&then) => Recheck::Moved,
            Verdict::Bcrypt { hash, secret, then } => {
                // The password was verified against this very hash when the client came.
                let unchanged = client
                    .user
                    .and_then(|u| self.opts.auth.users.get(u))
                    .is_some_and(|u| u.credential == Credential::Password(hash.clone()))
                    || (client.user.is_none() && self.opts.auth.token.as_ref() == Some(&hash));
                if unchanged {
                    Recheck::Keep(then)
                } else {
                    Recheck::Verify {
                        identity: then,
                        hash,
                        secret,
                    }
                }
            }
        })
    }

    /// Drops the subscriptions of `id` that its (new) permissions no longer allow, telling
    /// the client, as the reference does; the others learn whether deliveries need
    /// filtering now.
    fn recheck_subscriptions(&mut self, id: ConnId) {
        let slots = self.client(id).slots();
        for slot in slots {
            let client = self.client_mut(id);
            let Some(sub) = client.sub_mut(slot) else {
                continue;
            };
            let (subject, sid) = (sub.subject.clone(), sub.sid.clone());
            let verdict = client
                .perms
                .as_ref()
                .map(|p| (p.may_subscribe(&subject), p.needs_delivery_filter(&subject)));
            let (allowed, filter) = verdict.unwrap_or((true, false));
            if allowed {
                if let Some(sub) = client.sub_mut(slot) {
                    sub.filter_denied = filter;
                }
                continue;
            }
            self.remove_sub(id, slot);
            let subject = go_quote(&String::from_utf8_lossy(&subject));
            let sid = go_quote(&String::from_utf8_lossy(&sid));
            self.send_err(
                id,
                &format!("Permissions Violation for Subscription to {subject} (sid {sid})"),
            );
            let user = self.user_label(id);
            self.log_lines(vec![format!(
                "Removed sub {subject} (sid {sid}) for {user} - not authorized"
            )]);
        }
    }

    /// New payload and control line limits for the clients already connected (a parser
    /// in the middle of an operation keeps its control line limit until it is done).
    fn apply_parser_limits(&mut self) {
        let (mcl, mpay) = (self.opts.max_control_line, self.opts.max_payload);
        for client in self.clients.values_mut() {
            if client.parser.at_op_start() {
                client.parser = Parser::new(mcl, mpay);
            } else {
                client.parser.set_max_payload(mpay);
            }
        }
    }
}

/// The reference's error for the first option that changed but cannot change live.
fn refuse_unsupported(old: &Options, new: &Options) -> Result<(), String> {
    let s = |o: &Option<String>| o.clone().unwrap_or_default();
    // In the order of the reference's Options struct, which it checks in.
    let fields: [(&str, String, String); 16] = [
        ("ServerName", s(&old.server_name), s(&new.server_name)),
        ("Host", old.host.clone(), new.host.clone()),
        ("Port", old.port.to_string(), new.port.to_string()),
        (
            "MaxSubs",
            old.max_subscriptions.to_string(),
            new.max_subscriptions.to_string(),
        ),
        (
            "NoAuthUser",
            s(&old.auth.no_auth_user),
            s(&new.auth.no_auth_user),
        ),
        (
            "SystemAccount",
            old.system_account.clone(),
            new.system_account.clone(),
        ),
        ("HTTPHost", old.http_host.clone(), new.http_host.clone()),
        (
            "HTTPPort",
            old.http_port.to_string(),
            new.http_port.to_string(),
        ),
        (
            "HTTPBasePath",
            old.http_base_path.clone(),
            new.http_base_path.clone(),
        ),
        (
            "HTTPSPort",
            old.https_port.to_string(),
            new.https_port.to_string(),
        ),
        (
            "MaxPending",
            old.max_pending.to_string(),
            new.max_pending.to_string(),
        ),
        (
            "JetStream",
            old.jetstream.to_string(),
            new.jetstream.to_string(),
        ),
        ("StoreDir", s(&old.store_dir), s(&new.store_dir)),
        (
            "LogSizeLimit",
            old.logfile_size_limit.to_string(),
            new.logfile_size_limit.to_string(),
        ),
        (
            "LameDuckDuration",
            go_duration(old.lame_duck_duration),
            go_duration(new.lame_duck_duration),
        ),
        (
            "LameDuckGracePeriod",
            go_duration(old.lame_duck_grace_period),
            go_duration(new.lame_duck_grace_period),
        ),
    ];
    for (name, old, new) in fields {
        if old != new {
            return Err(format!(
                "config reload not supported for {name}: old={old}, new={new}"
            ));
        }
    }
    if old.tls.is_some() != new.tls.is_some() {
        // New certificates and settings apply live (the shell swaps them); turning TLS
        // on or off would strand the connected clients.
        return Err("config reload not supported for TLSConfig".to_string());
    }
    if old.max_closed_clients != new.max_closed_clients {
        return Err(format!(
            "config reload not supported for MaxClosedClients: old={}, new={}",
            old.max_closed_clients, new.max_closed_clients
        ));
    }
    Ok(())
}
