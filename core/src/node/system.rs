//! The system account, as the reference runs it: events about clients and accounts
//! (`$SYS.ACCOUNT.<acc>.CONNECT`, `.DISCONNECT`, `$SYS.ACCOUNT.<acc>.SERVER.CONNS`), and
//! requests to the server (`$SYS.REQ.SERVER.PING` and `$SYS.REQ.SERVER.PING.<ENDPOINT>`, or
//! `$SYS.REQ.SERVER.<id>.<ENDPOINT>` for this server alone) that tools use to find servers
//! and read their monitoring. What only the shell knows (memory, CPU, the monitoring JSON)
//! it supplies: requests leave as [`Output::SystemRequest`] and come back through
//! [`Node::answer_system`]. Events are built only when someone listens for them.

use bytes::Bytes;
use serde::Serialize;

use super::client::Client;
use super::internal::{Inbound, Target};
use super::{CloseReason, ConnId, Node, Output};
use crate::jetstream::api::ApiAudit;
use crate::jetstream::consumer::Delivery;
use crate::jetstream::time::rfc3339;

const PING: &str = "$SYS.REQ.SERVER.PING";
/// Where JetStream API requests are audited, in the requester's account.
pub(super) const API_AUDIT_SUBJECT: &str = "$JS.EVENT.ADVISORY.API";

/// Who sent an event or answer.
#[derive(Serialize)]
struct ServerBlock<'a> {
    name: &'a str,
    host: &'a str,
    id: &'a str,
    ver: &'a str,
    seq: u64,
    jetstream: bool,
    time: String,
}

type Json = serde_json::Value;

#[derive(Serialize)]
struct ClientBlock<'a> {
    start: String,
    host: &'a str,
    id: ConnId,
    acc: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lang: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ver: Option<&'a str>,
    /// Nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    kind: &'static str,
    client_type: &'static str,
}

#[derive(Serialize)]
struct Counts {
    msgs: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct ClientEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: Json,
    client: ClientBlock<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

#[derive(Serialize)]
struct ConnsEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    timestamp: String,
    server: Json,
    acc: &'a str,
    conns: usize,
    leafnodes: u32,
    total_conns: usize,
    sent: Counts,
    received: Counts,
    slow_consumers: u64,
}

impl Node {
    /// The system account's index.
    fn system_index(&self) -> Option<usize> {
        self.accounts
            .iter()
            .position(|a| a.name == self.opts.system_account)
    }

    /// Subscribes to the requests the server answers in the system account.
    pub(super) fn enable_system(&mut self) {
        let Some(sys) = self.system_index() else {
            return;
        };
        let own = format!("$SYS.REQ.SERVER.{}.*", self.info.server_id);
        for subject in [PING.to_string(), format!("{PING}.*"), own] {
            self.subscribe_internal(sys, Bytes::from(subject), Target::SysRequest);
        }
    }

    /// A request to the server: the shell is asked for the figures it alone has.
    pub(super) fn on_system_request(&mut self, msg: &Inbound) {
        let Some(reply) = msg.reply.clone() else {
            return;
        };
        let subject = String::from_utf8_lossy(&msg.subject);
        let own = format!("$SYS.REQ.SERVER.{}.", self.info.server_id);
        let endpoint = if subject == PING {
            "STATSZ"
        } else if let Some(e) = subject.strip_prefix(PING).and_then(|e| e.strip_prefix('.')) {
            e
        } else if let Some(e) = subject.strip_prefix(&own) {
            e
        } else {
            return;
        };
        self.outputs.push_back(Output::SystemRequest {
            endpoint: endpoint.to_string(),
            reply,
        });
    }

    /// The shell's answer to a [`Output::SystemRequest`]: `data` (JSON) goes to `reply`
    /// under `key` (`statsz` for a PING, else `data`), after who answers.
    pub fn answer_system(
        &mut self,
        now: crate::time::Instant,
        reply: &[u8],
        key: &str,
        data: &str,
    ) {
        self.now = now;
        let Some(sys) = self.system_index() else {
            return;
        };
        let json = self.wrapped(key, data);
        self.publish_internal(sys, Delivery::answer(reply, json));
    }

    /// Publishes this server's statistics (`data`, JSON) on `$SYS.SERVER.<id>.STATSZ`, if
    /// anyone listens.
    pub fn publish_statsz(&mut self, now: crate::time::Instant, data: &str) {
        self.now = now;
        let subject = format!("$SYS.SERVER.{}.STATSZ", self.info.server_id);
        let Some(sys) = self.listened(&subject) else {
            return;
        };
        let json = self.wrapped("statsz", data);
        self.publish_internal(sys, Delivery::answer(subject.as_bytes(), json));
    }

    /// Whether anyone in the system account listens on `subject`; its index if so.
    fn listened(&mut self, subject: &str) -> Option<usize> {
        let sys = self.system_index()?;
        self.accounts[sys]
            .sublist
            .has_interest(subject.as_bytes())
            .then_some(sys)
    }

    /// `{"server":{...},"<key>":<data>}`.
    fn wrapped(&mut self, key: &str, data: &str) -> String {
        let server = self.server_json().to_string();
        let key = serde_json::to_string(key).expect("serializes");
        format!("{{\"server\":{server},{key}:{data}}}")
    }

    /// Who sends: this server, with the next event sequence number.
    fn server_json(&mut self) -> Json {
        self.event_seq += 1;
        let block = ServerBlock {
            name: &self.info.server_name,
            host: &self.info.host,
            id: &self.info.server_id,
            ver: &self.info.version,
            seq: self.event_seq,
            jetstream: self.js.is_some(),
            time: rfc3339(self.wall()),
        };
        serde_json::to_value(block).expect("serializes")
    }

    fn event_id(&mut self) -> String {
        self.rng.alphanumeric(22)
    }

    /// A client finished connecting.
    pub(super) fn event_connect(&mut self, conn: ConnId) {
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let account = client.account;
        let subject = format!("$SYS.ACCOUNT.{}.CONNECT", self.accounts[account].name);
        if let Some(sys) = self.listened(&subject) {
            let (server, id) = (self.server_json(), self.event_id());
            let client = self.clients.get(&conn).expect("checked above");
            let json = self.client_event(client, None, server, id);
            self.publish_internal(sys, Delivery::answer(subject.as_bytes(), json));
        }
        self.event_conns(account);
    }

    /// A connected client went away, for `reason`.
    pub(super) fn event_disconnect(&mut self, client: &Client, reason: CloseReason) {
        let subject = format!(
            "$SYS.ACCOUNT.{}.DISCONNECT",
            self.accounts[client.account].name
        );
        if let Some(sys) = self.listened(&subject) {
            let (server, id) = (self.server_json(), self.event_id());
            let json = self.client_event(client, Some(reason), server, id);
            self.publish_internal(sys, Delivery::answer(subject.as_bytes(), json));
        }
        self.event_conns(client.account);
    }

    /// `client_connect`, or `client_disconnect` when there is a `reason`, sent by
    /// `server` with event `id`.
    fn client_event(
        &self,
        c: &Client,
        reason: Option<CloseReason>,
        server: Json,
        id: String,
    ) -> String {
        let wall = self.wall();
        let client = self.client_block(c, reason);
        let (kind, sent, received) = match reason {
            None => ("io.nats.server.advisory.v1.client_connect", None, None),
            Some(_) => (
                "io.nats.server.advisory.v1.client_disconnect",
                Some(Counts {
                    msgs: c.in_msgs,
                    bytes: c.in_bytes,
                }),
                Some(Counts {
                    msgs: c.out_msgs,
                    bytes: c.out_bytes,
                }),
            ),
        };
        let event = ClientEvent {
            kind,
            id,
            timestamp: rfc3339(wall),
            server,
            client,
            sent,
            received,
            reason: reason.map(|r| r.to_string()),
        };
        serde_json::to_string(&event).expect("event serializes")
    }

    /// What events say of a client (`client` in their JSON); with the round trip and the
    /// end when it has gone, for `reason`.
    fn client_block<'a>(&'a self, c: &'a Client, reason: Option<CloseReason>) -> ClientBlock<'a> {
        let wall = self.wall();
        let now = self.now;
        let at = |i: crate::time::Instant| {
            rfc3339(wall.saturating_sub(now.saturating_since(i).as_nanos() as u64))
        };
        ClientBlock {
            start: at(c.start),
            host: &c.ip,
            id: c.id,
            acc: &self.accounts[c.account].name,
            user: c.user.map(|u| self.opts.auth.users[u].name.as_str()),
            name: c.opts.name.as_deref().filter(|s| !s.is_empty()),
            lang: c.opts.lang.as_deref().filter(|s| !s.is_empty()),
            ver: c.opts.version.as_deref().filter(|s| !s.is_empty()),
            rtt: reason
                .and(c.rtt.or(c.connect_rtt))
                .map(|d| d.as_nanos() as u64),
            stop: reason.map(|_| rfc3339(wall)),
            kind: "Client",
            client_type: "nats",
        }
    }

    /// Publishes `$JS.EVENT.ADVISORY.API` for JetStream API requests answered in
    /// `account` (the reference's `api_audit`), naming the requester when it is a client
    /// of this server.
    pub(super) fn publish_api_audits(
        &mut self,
        account: usize,
        from: ConnId,
        audits: Vec<ApiAudit>,
    ) {
        #[derive(Serialize)]
        struct Audit<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            id: String,
            timestamp: String,
            server: &'a str,
            client: Option<ClientBlock<'a>>,
            subject: &'a str,
            #[serde(skip_serializing_if = "str::is_empty")]
            request: &'a str,
            response: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            domain: Option<&'a str>,
        }
        for audit in audits {
            let id = self.event_id();
            let json = serde_json::to_string(&Audit {
                kind: "io.nats.jetstream.advisory.v1.api_audit",
                id,
                timestamp: rfc3339(self.wall()),
                server: &self.info.server_name,
                client: self.clients.get(&from).map(|c| self.client_block(c, None)),
                subject: &audit.subject,
                request: &audit.request,
                response: &audit.response,
                domain: self.opts.js.domain.as_deref(),
            })
            .expect("audit serializes");
            self.publish_internal(
                account,
                Delivery::answer(API_AUDIT_SUBJECT.as_bytes(), json),
            );
        }
    }

    /// How many connections `account` has now, on both subjects the reference uses.
    fn event_conns(&mut self, account: usize) {
        let name = self.accounts[account].name.clone();
        for subject in [
            format!("$SYS.ACCOUNT.{name}.SERVER.CONNS"),
            format!("$SYS.SERVER.ACCOUNT.{name}.CONNS"),
        ] {
            let Some(sys) = self.listened(&subject) else {
                continue;
            };
            let conns = self
                .clients
                .values()
                .filter(|c| c.account == account)
                .count();
            let id = self.event_id();
            let server = self.server_json();
            let a = &self.accounts[account];
            let event = ConnsEvent {
                kind: "io.nats.server.advisory.v1.account_connections",
                id,
                timestamp: rfc3339(self.wall()),
                server,
                acc: &name,
                conns,
                leafnodes: 0,
                total_conns: conns,
                sent: Counts {
                    msgs: a.departed.out_msgs,
                    bytes: a.departed.out_bytes,
                },
                received: Counts {
                    msgs: a.departed.in_msgs,
                    bytes: a.departed.in_bytes,
                },
                slow_consumers: a.slow_consumers,
            };
            let json = serde_json::to_string(&event).expect("event serializes");
            self.publish_internal(sys, Delivery::answer(subject.as_bytes(), json));
        }
    }
}
