//! Accounts: separate subject namespaces. A client's messages reach only subscriptions in
//! its own account, except along the routes exports and imports open between accounts
//! ([`crate::exports`]): streams flow from exporter to importer, service requests from
//! importer to exporter, and each request's responses back along a one-off reply subject.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

use super::{ConnId, Node, SubRef};
use crate::auth::GLOBAL_ACCOUNT;
use crate::exports::{map_subject, ImportKind, ResponseType};
use crate::hash::FixedMap;
use crate::options::Options;
use crate::proto::Body;
use crate::sublist::Sublist;
use crate::time::Instant;

/// How long a service's responder may take to answer (the reference's default
/// `response_threshold`).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);

/// Outstanding requests per exporting account before expired ones are swept.
const RESPONSES_SWEEP_AT: usize = 4096;

/// Messages published in this account on `subject` also go to `importer`, on `local`.
#[derive(Clone, Debug)]
pub struct StreamRoute {
    pub importer: usize,
    pub subject: String,
    pub local: String,
}

/// Requests published in this account on `local` go to `exporter`, on `subject`.
#[derive(Clone, Debug)]
pub struct ServiceRoute {
    pub exporter: usize,
    pub local: String,
    pub subject: String,
    pub response: ResponseType,
}

/// Where a response published on a one-off reply subject goes.
#[derive(Clone, Debug)]
pub struct ResponseRoute {
    pub account: usize,
    pub reply: Bytes,
    pub singleton: bool,
    pub expires: Instant,
}

/// One account and the subscriptions of its clients.
pub struct Account {
    pub name: String,
    pub sublist: Sublist<SubRef>,
    /// Other servers' interest, as their routes announced it: `SubRef`s of route
    /// connections, whose slots index each route's table of announced subscriptions.
    pub routed: Sublist<SubRef>,
    /// This server's interest as announced to routes: subscriptions per subject and queue
    /// group (a plain subject is announced once, a group with its member count).
    pub announced: BTreeMap<(Bytes, Option<Bytes>), u32>,
    pub streams: Vec<StreamRoute>,
    pub services: Vec<ServiceRoute>,
    /// Reply subjects handed to this account's services with requests from other accounts.
    pub responses: FixedMap<Bytes, ResponseRoute>,
    /// Traffic of the account's connections that have closed.
    pub departed: super::monitor::Traffic,
    /// Its clients cut off as slow consumers.
    pub slow_consumers: u64,
}

impl Account {
    fn new(name: &str) -> Account {
        Account {
            name: name.to_string(),
            sublist: Sublist::new(),
            routed: Sublist::new(),
            announced: BTreeMap::new(),
            streams: Vec::new(),
            services: Vec::new(),
            responses: FixedMap::default(),
            departed: super::monitor::Traffic::default(),
            slow_consumers: 0,
        }
    }

    /// Whether a message published here may have to cross into another account.
    pub fn crosses(&self) -> bool {
        !self.streams.is_empty() || !self.services.is_empty() || !self.responses.is_empty()
    }
}

/// The accounts a node starts with: the global one (index 0, where clients without an
/// account go), the system account, then the configured ones, each once, with the routes
/// their imports open. (Imports were checked against exports with the options.)
pub fn accounts_for(opts: &Options) -> Vec<Account> {
    let mut accounts = vec![Account::new(GLOBAL_ACCOUNT)];
    let names = std::iter::once(&opts.system_account).chain(opts.accounts.iter().map(|a| &a.name));
    for name in names {
        if !accounts.iter().any(|a| &a.name == name) {
            accounts.push(Account::new(name));
        }
    }
    let index = |name: &str| accounts.iter().position(|a| a.name == name);
    let mut routes = Vec::new();
    for config in &opts.accounts {
        let importer = index(&config.name).expect("every configured account exists");
        for import in &config.imports {
            let Some(exporter) = index(&import.account) else {
                continue;
            };
            let response = opts
                .accounts
                .iter()
                .find(|a| a.name == import.account)
                .and_then(|a| {
                    a.exports.iter().find_map(|e| match e.kind {
                        crate::exports::ExportKind::Service(r)
                            if e.admits(&config.name, &import.kind, &import.subject) =>
                        {
                            Some(r)
                        }
                        _ => None,
                    })
                })
                .unwrap_or(ResponseType::Singleton);
            routes.push((importer, exporter, import.clone(), response));
        }
    }
    for (importer, exporter, import, response) in routes {
        match import.kind {
            ImportKind::Stream => accounts[exporter].streams.push(StreamRoute {
                importer,
                subject: import.subject,
                local: import.local,
            }),
            ImportKind::Service => accounts[importer].services.push(ServiceRoute {
                exporter,
                local: import.local,
                subject: import.subject,
                response,
            }),
        }
    }
    accounts
}

impl Node {
    /// The index of the account called `name` (the global one if there is none such).
    pub(super) fn account_index(&self, name: &str) -> usize {
        self.accounts
            .iter()
            .position(|a| a.name == name)
            .unwrap_or(0)
    }

    /// Carries a message published in `account` along the routes that leave it; how many
    /// deliveries that made.
    pub(super) fn deliver_across(
        &mut self,
        from: ConnId,
        account: usize,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
    ) -> usize {
        let mut delivered = 0;
        if let Some(route) = self.take_response_route(account, subject) {
            delivered +=
                self.deliver_in(from, route.account, &route.reply, None, header_len, message);
        }
        let streams: Vec<(usize, Vec<u8>)> = self.accounts[account]
            .streams
            .iter()
            .filter_map(|r| {
                let local = map_subject(r.subject.as_bytes(), r.local.as_bytes(), subject)?;
                Some((r.importer, local))
            })
            .collect();
        for (importer, local) in streams {
            delivered += self.deliver_in(from, importer, &local, reply, header_len, message);
        }
        let services: Vec<(usize, Vec<u8>, ResponseType)> = self.accounts[account]
            .services
            .iter()
            .filter_map(|r| {
                let remote = map_subject(r.local.as_bytes(), r.subject.as_bytes(), subject)?;
                Some((r.exporter, remote, r.response))
            })
            .collect();
        for (exporter, remote, response) in services {
            let routed_reply = reply.map(|reply| {
                let route = ResponseRoute {
                    account,
                    reply: Bytes::copy_from_slice(reply),
                    singleton: response == ResponseType::Singleton,
                    expires: self.now + RESPONSE_TIMEOUT,
                };
                self.open_response_route(exporter, route)
            });
            let reply = routed_reply.as_deref();
            delivered += self.deliver_in(from, exporter, &remote, reply, header_len, message);
        }
        delivered
    }

    /// Delivers to the subscriptions of another account, here and on the other servers
    /// of the cluster (which deliver what they get as it comes: the crossing is made once,
    /// where the message was published).
    pub(super) fn deliver_in(
        &mut self,
        from: ConnId,
        account: usize,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
    ) -> usize {
        let result = self.accounts[account].sublist.interest(subject);
        let mut delivered = match &result {
            Some(r) => self.deliver_all(from, true, r, subject, reply, header_len, message),
            None => 0,
        };
        if self.clustered() {
            let local = result.as_deref();
            delivered +=
                self.forward_to_routes(account, subject, reply, header_len, message, local);
        }
        delivered
    }

    /// The prefix of the reply subjects this server hands out for service imports,
    /// `_R_.<tag>.`: the tag is this server's, so that responses published on another
    /// server of the cluster find their way back here.
    pub(super) fn response_prefix(&self) -> String {
        let id = &self.info.server_id;
        format!("_R_.{}.", &id[1..9.min(id.len())])
    }

    /// In a cluster, the accounts that export services announce interest in this
    /// server's reply subjects, so responses given on other servers are routed back.
    pub(super) fn announce_response_subjects(&mut self) {
        let wildcard = Bytes::from(format!("{}>", self.response_prefix()));
        let mut exporters: Vec<usize> = self
            .accounts
            .iter()
            .flat_map(|a| a.services.iter().map(|s| s.exporter))
            .collect();
        exporters.sort_unstable();
        exporters.dedup();
        for exporter in exporters {
            self.local_interest(exporter, &wildcard, None, 1);
        }
    }

    /// A fresh reply subject in `exporter` whose responses go along `route`.
    fn open_response_route(&mut self, exporter: usize, route: ResponseRoute) -> Bytes {
        use base64::Engine;
        let mut raw = [0u8; 12];
        self.rng.fill(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let reply = Bytes::from(format!("{}{token}", self.response_prefix()));
        let now = self.now;
        let responses = &mut self.accounts[exporter].responses;
        if responses.len() >= RESPONSES_SWEEP_AT {
            responses.retain(|_, r| r.expires > now);
        }
        responses.insert(reply.clone(), route);
        reply
    }

    /// The route for a response published on `subject`, if it is a live reply subject;
    /// a singleton's route is used up.
    pub(super) fn take_response_route(
        &mut self,
        account: usize,
        subject: &[u8],
    ) -> Option<ResponseRoute> {
        let now = self.now;
        let responses = &mut self.accounts[account].responses;
        let route = responses.get(subject)?;
        if route.expires <= now || route.singleton {
            let route = responses.remove(subject)?;
            return (route.expires > now).then_some(route);
        }
        Some(route.clone())
    }
}
