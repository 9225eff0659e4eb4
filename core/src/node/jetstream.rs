//! JetStream inside the node, the way the reference runs it: as internal subscribers in
//! each account (see [`super::internal`]): the API (`$JS.API.>`), acks (`$JS.ACK.>`) and
//! every stream's subjects. What JetStream answers or delivers waits, while writes are
//! outstanding, for the batch that makes it durable.

use std::collections::VecDeque;

use bytes::Bytes;

use super::internal::{Inbound, InternalSub, Target};
use super::system::API_AUDIT_SUBJECT;
use super::Node;
use crate::jetstream::api::{not_enabled_answer, JetStream, NewStore, Report};
use crate::jetstream::config::Storage;
use crate::jetstream::consumer::Delivery;
use crate::jetstream::filestore::{FileStore, Recovery};
use crate::jetstream::memstore::MemStore;
use crate::jetstream::options::AccountLimits;
use crate::jetstream::persist::{ConsumerFiles, DiskOp, Paging};
use crate::time::Instant;

const API_SUBJECT: &[u8] = b"$JS.API.>";
const ACK_SUBJECT: &[u8] = b"$JS.ACK.>";
const FLOW_CONTROL_SUBJECT: &[u8] = b"$JS.FC.>";
const SNAPSHOT_SUBJECT: &[u8] = b"$JS.SNAPSHOT.>";

/// The node's JetStream state.
pub(super) struct JsNode {
    /// Each account's JetStream, by account index; `None` where it is not enabled.
    accounts: Vec<Option<JetStream>>,
    /// Subscriptions changed since push consumers last looked for their listeners.
    interest_changed: bool,
    /// Whether any stream copies through another API prefix (`sourcing.rs`): looked at
    /// again whenever the streams may have changed, so that the messages and acks that
    /// follow do not each scan every stream for it.
    external: bool,
    /// What to write next, gathered while the shell writes the batch before.
    open: Vec<DiskOp>,
    /// The batch the shell is writing, if any.
    writing: Option<u64>,
    next_batch: u64,
    /// What JetStream publishes while writes are outstanding waits for them, with the
    /// batch it waits for and its account: an ack is only ever sent for what is durable.
    held: VecDeque<(u64, usize, Delivery)>,
    /// How file streams page their messages to and from disk, once the shell said.
    paging: Option<Paging>,
}

/// Where new streams of account `account` are kept, as their configuration asks; file
/// streams page as `paging` says (without it they keep everything in memory).
fn new_store(account: &str, paging: Option<Paging>) -> NewStore {
    let account = account.to_string();
    Box::new(move |config| match config.storage {
        Storage::Memory => Ok(Box::new(MemStore::new(config.limits())) as _),
        Storage::File => {
            let store = FileStore::new(config.limits());
            Ok(Box::new(match &paging {
                Some(p) => p.apply(store, &account, &config.name),
                None => store,
            }) as _)
        }
    })
}

impl Node {
    /// Turns JetStream on for every account but the system account.
    pub(super) fn enable_jetstream(&mut self) {
        let mut js = JsNode {
            accounts: Vec::new(),
            interest_changed: false,
            external: false,
            open: Vec::new(),
            writing: None,
            next_batch: 1,
            held: VecDeque::new(),
            paging: None,
        };
        let names: Vec<String> = self.accounts.iter().map(|a| a.name.clone()).collect();
        for name in names {
            let limits = self.account_limits(&name);
            let seed = self.rng.next_u64();
            let new_store = new_store(&name, None);
            let domain = self.opts.js.domain.clone();
            js.accounts.push(limits.map(|l| {
                JetStream::new(new_store, seed)
                    .with_limits(l)
                    .with_domain(domain)
            }));
        }
        self.js = Some(js);
        for account in 0..self.accounts.len() {
            // Accounts without JetStream still answer its API, with an error.
            self.subscribe_internal(account, Bytes::from_static(API_SUBJECT), Target::JsApi);
            // With a domain, the API answers under `$JS.<domain>.API` too, where clients
            // that name the domain send their requests.
            if let Some(domain) = &self.opts.js.domain {
                let subject = Bytes::from(format!("$JS.{domain}.API.>"));
                self.subscribe_internal(account, subject, Target::JsApi);
            }
            if self.jetstream(account).is_some() {
                self.subscribe_internal(account, Bytes::from_static(ACK_SUBJECT), Target::JsAck);
                let fc = Bytes::from_static(FLOW_CONTROL_SUBJECT);
                self.subscribe_internal(account, fc, Target::JsFlowControl);
                let snapshot = Bytes::from_static(SNAPSHOT_SUBJECT);
                self.subscribe_internal(account, snapshot, Target::JsSnapshot);
            }
        }
    }

    /// The JetStream limits of account `name`, if it has JetStream: with no accounts
    /// configured the global account has it; with accounts, those that enable it in their
    /// configuration, as in the reference. The system account never has it.
    fn account_limits(&self, name: &str) -> Option<AccountLimits> {
        if name == self.opts.system_account {
            return None;
        }
        if self.opts.accounts.is_empty() {
            return Some(AccountLimits::default());
        }
        self.opts
            .accounts
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.jetstream)
    }

    /// Lets file streams read their blocks back from disk as `paging` says, so they keep
    /// only a few blocks in memory; needed before streams are recovered.
    pub fn set_paging(&mut self, paging: Paging) {
        let Some(js) = self.js.as_mut() else { return };
        for (j, account) in js.accounts.iter_mut().zip(&self.accounts) {
            if let Some(j) = j {
                j.set_new_store(new_store(&account.name, Some(paging.clone())));
            }
        }
        js.paging = Some(paging);
    }

    pub(super) fn jetstream(&mut self, account: usize) -> Option<&mut JetStream> {
        self.js.as_mut()?.accounts.get_mut(account)?.as_mut()
    }

    /// A message for one of JetStream's internal subscriptions.
    pub(super) fn on_jetstream_message(&mut self, sub: &InternalSub, msg: &Inbound) {
        let wall = self.wall();
        let account = sub.account;
        // Borrowed, not copied, for the valid UTF-8 that subjects are.
        let mut subject = String::from_utf8_lossy(&msg.subject);
        if let Some(domain) = &self.opts.js.domain {
            let prefix = format!("$JS.{domain}.API.");
            if let Some(rest) = subject.strip_prefix(prefix.as_str()) {
                subject = format!("$JS.API.{rest}").into();
            }
        }
        match &sub.target {
            Target::JsApi => {
                let audited = API_AUDIT_SUBJECT.as_bytes();
                let acc = &mut self.accounts[account];
                let audit = acc.sublist.has_interest(audited) || acc.routed.has_interest(audited);
                let Some(js) = self.jetstream(account) else {
                    let answer = not_enabled_answer(&subject);
                    if let (Some(reply), Some(answer)) = (&msg.reply, answer) {
                        self.publish_internal(account, Delivery::answer(reply, answer));
                    }
                    return;
                };
                js.audit = audit;
                let changed = js.on_api(&subject, msg.reply.as_deref(), &msg.data, wall);
                let audits = std::mem::take(&mut js.audits);
                if changed {
                    self.sync_stream_subscriptions(account);
                    self.deliver_consumers(account, wall);
                }
                self.publish_api_audits(account, msg.from, audits);
            }
            Target::JsAck => {
                if let Some(js) = self.jetstream(account) {
                    js.on_ack(&subject, msg.reply.as_deref(), &msg.data, wall);
                }
            }
            Target::JsFlowControl => {
                if let Some(js) = self.jetstream(account) {
                    js.on_flow_control(&subject);
                }
            }
            Target::JsSnapshot => {
                let Some(js) = self.jetstream(account) else {
                    return;
                };
                let reply = msg.reply.as_deref();
                if js.on_snapshot_message(&subject, reply, &msg.data, wall) {
                    self.sync_stream_subscriptions(account);
                    self.deliver_consumers(account, wall);
                }
            }
            Target::Stream { name } => {
                if let Some(js) = self.jetstream(account) {
                    let reply = msg.reply.as_deref();
                    js.on_publish(name, &msg.subject, reply, &msg.headers, &msg.data, wall);
                }
            }
            Target::SysRequest => return,
        }
        self.copy_external_sources(wall);
        // Consumers of the streams that changed send what they can, to listeners there are.
        self.with_listeners(account, |js, interest| js.deliver_touched(wall, interest));
        self.publish_outboxes();
    }

    /// Lets every consumer of `account` send what it can.
    fn deliver_consumers(&mut self, account: usize, wall: u64) {
        self.with_listeners(account, |js, interest| js.deliver_all(wall, interest));
    }

    /// Runs `f` on `account`'s JetStream with a check of whether a subject has listeners in
    /// the account (push consumers deliver only to listeners there are).
    pub(super) fn with_listeners(
        &mut self,
        account: usize,
        f: impl FnOnce(&mut JetStream, &mut dyn FnMut(&[u8]) -> bool),
    ) {
        let acc = &mut self.accounts[account];
        let (sublist, routed) = (&mut acc.sublist, &mut acc.routed);
        let mut interest = |s: &[u8]| sublist.has_interest(s) || routed.has_interest(s);
        if let Some(js) = self.js.as_mut().and_then(|j| j.accounts[account].as_mut()) {
            f(js, &mut interest);
        }
    }

    /// Publishes what every account's JetStream has queued, holding it back while writes
    /// are outstanding, and starts writing what JetStream has to write.
    fn publish_outboxes(&mut self) {
        let mut out = Vec::new();
        for account in 0..self.accounts.len() {
            // What is taken now goes out in the next batch.
            let batch = self.js.as_ref().map_or(0, |js| js.next_batch);
            let Some(js) = self.jetstream(account) else {
                continue;
            };
            js.drain_outbox(&mut out);
            let ops = js.take_disk_ops(batch);
            let faults = js.take_faults();
            let name = &self.accounts[account].name;
            for (stream, c) in faults {
                self.outputs.push_back(super::Output::Log {
                    level: super::Level::Error,
                    text: format!(
                        "Stream '{name} > {stream}': damage in {} at offset {}, not served: {:?}",
                        c.file, c.offset, c.damage
                    ),
                });
            }
            let node = self.js.as_mut().expect("checked above");
            node.open.extend(ops.into_iter().map(|op| op.under(name)));
            let waits_for = if !node.open.is_empty() {
                Some(node.next_batch)
            } else {
                node.writing
            };
            match waits_for {
                Some(batch) => node.held.extend(out.drain(..).map(|d| (batch, account, d))),
                None => {
                    for d in out.drain(..) {
                        self.publish_internal(account, d);
                    }
                }
            }
        }
        self.start_write();
    }

    /// Hands the shell the next batch of writes, if there is one and none is outstanding:
    /// everything gathered meanwhile goes in one batch, one fsync (group commit).
    fn start_write(&mut self) {
        let Some(js) = self.js.as_mut() else { return };
        if js.writing.is_some() || js.open.is_empty() {
            return;
        }
        let batch = js.next_batch;
        js.next_batch += 1;
        js.writing = Some(batch);
        let ops = std::mem::take(&mut js.open);
        self.outputs
            .push_back(super::Output::Persist { batch, ops });
    }

    /// The shell finished writing `batch`: on success what waited for it goes out; on
    /// failure it is dropped (the clients see no ack, never a false one) and logged.
    pub fn persisted(&mut self, now: Instant, batch: u64, result: Result<(), String>) {
        self.now = now;
        let Some(js) = self.js.as_mut() else { return };
        if js.writing != Some(batch) {
            return;
        }
        js.writing = None;
        let mut released = Vec::new();
        while js.held.front().is_some_and(|(b, _, _)| *b <= batch) {
            released.push(js.held.pop_front().expect("front exists"));
        }
        match result {
            Ok(()) => {
                for account in js.accounts.iter_mut().flatten() {
                    account.written(batch);
                }
                for (_, account, d) in released {
                    self.publish_internal(account, d);
                }
            }
            Err(e) => self.outputs.push_back(super::Output::Log {
                level: super::Level::Error,
                text: format!(
                    "JetStream write failed, {} answers withheld: {e}",
                    released.len()
                ),
            }),
        }
        self.start_write();
        self.run_internal();
    }

    /// Brings back a file-backed stream of account `account` from its directory (see
    /// [`crate::jetstream::persist`]): `files` are the names of the files in it, read
    /// as set by [`Node::set_paging`]; logs what it restored as the reference does.
    pub fn recover_stream(
        &mut self,
        now: Instant,
        account: &str,
        meta: &[u8],
        files: Vec<String>,
        consumers: Vec<ConsumerFiles>,
    ) -> Result<Recovery, String> {
        self.now = now;
        let wall = self.wall();
        let paging = self
            .js
            .as_ref()
            .and_then(|js| js.paging.clone())
            .ok_or("no way to read the store directory was set")?;
        let index = self
            .accounts
            .iter()
            .position(|a| a.name == account)
            .ok_or_else(|| format!("no account {account:?}"))?;
        let js = self
            .jetstream(index)
            .ok_or_else(|| format!("JetStream is not enabled for account {account:?}"))?;
        let recovery = js.recover_stream(account, meta, files, &paging, consumers, wall)?;
        self.sync_stream_subscriptions(index);
        self.copy_external_sources(wall);
        self.publish_outboxes();
        Ok(recovery)
    }

    /// Makes the account's stream-capturing subscriptions match its streams' subjects.
    fn sync_stream_subscriptions(&mut self, account: usize) {
        let Some(wanted) = self.jetstream(account).map(|js| js.subjects()) else {
            return;
        };
        let mut stale = Vec::new();
        let mut have = Vec::new();
        for (slot, sub) in self.internal_subs() {
            if sub.account != account {
                continue;
            }
            if let Target::Stream { name } = &sub.target {
                let key = (
                    name.to_string(),
                    String::from_utf8_lossy(&sub.subject).into_owned(),
                );
                if wanted.contains(&key) {
                    have.push(key);
                } else {
                    stale.push(slot);
                }
            }
        }
        for slot in stale {
            self.unsubscribe_internal(slot);
        }
        for (name, subject) in wanted {
            if !have.contains(&(name.clone(), subject.clone())) {
                let name = name.into();
                self.subscribe_internal(account, Bytes::from(subject), Target::Stream { name });
            }
        }
        let external = (0..self.accounts.len()).any(|a| {
            self.jetstream(a)
                .is_some_and(|js| !js.external_origins().is_empty())
        });
        if let Some(js) = self.js.as_mut() {
            js.external = external;
        }
    }

    /// Whether any stream copies through another API prefix (see [`JsNode`]).
    pub(super) fn has_external_sources(&self) -> bool {
        self.js.as_ref().is_some_and(|js| js.external)
    }

    /// Time reached `now`: JetStream's timers, then whatever they let consumers send.
    pub(super) fn jetstream_tick(&mut self) {
        if self.js.is_none() {
            return;
        }
        let wall = self.wall();
        if let Some(js) = self.js.as_mut() {
            js.interest_changed = false;
        }
        for account in 0..self.accounts.len() {
            if let Some(js) = self.jetstream(account) {
                js.tick(wall);
                self.deliver_consumers(account, wall);
            }
        }
        self.copy_external_sources(wall);
        self.publish_outboxes();
        self.run_internal();
    }

    /// Subscriptions changed: push consumers may have gained or lost their listeners.
    /// They look on the next tick, which comes at once; a subscription can change in the
    /// middle of a delivery, where JetStream must not run.
    pub(super) fn jetstream_interest_changed(&mut self) {
        if let Some(js) = self.js.as_mut() {
            js.interest_changed = true;
        }
    }

    /// When JetStream next needs a tick.
    pub(super) fn jetstream_timeout(&self) -> Option<Instant> {
        let js = self.js.as_ref()?;
        if js.interest_changed {
            return Some(self.now);
        }
        let at = js
            .accounts
            .iter()
            .flatten()
            .filter_map(JetStream::next_deadline)
            .min()?;
        Some(Instant::from_nanos(at.saturating_sub(self.wall_at_zero)))
    }
}

impl Node {
    /// Each account with JetStream and its report (see [`Report`]), for `/jsz` and
    /// `/varz`; `None` when JetStream is off.
    pub fn jetstream_report(&self, details: bool) -> Option<Vec<(String, Report)>> {
        let js = self.js.as_ref()?;
        let wall = self.wall();
        Some(
            js.accounts
                .iter()
                .zip(&self.accounts)
                .filter_map(|(j, a)| Some((a.name.clone(), j.as_ref()?.report(details, wall))))
                .collect(),
        )
    }
}
