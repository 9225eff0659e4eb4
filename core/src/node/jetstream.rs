//! JetStream inside the node, the way the reference runs it: as internal subscribers in
//! each account. The API (`$JS.API.>`), acks (`$JS.ACK.>`) and every stream's subjects are
//! subscriptions of a reserved internal connection, so ordinary routing, permissions and
//! no-responders apply to them unchanged. Messages for them queue in an inbox while a
//! publish is being delivered and are handled right after it; what JetStream answers or
//! delivers is published back into the account like any client's message.

use std::collections::VecDeque;

use bytes::Bytes;

use super::{ConnId, Node, SubRef};
use crate::jetstream::api::{not_enabled_answer, JetStream, NewStore, Report};
use crate::jetstream::config::Storage;
use crate::jetstream::consumer::Delivery;
use crate::jetstream::filestore::{FileStore, Recovery};
use crate::jetstream::memstore::MemStore;
use crate::jetstream::options::AccountLimits;
use crate::jetstream::persist::{ConsumerFiles, DiskOp};
use crate::proto::Body;
use crate::time::Instant;

/// The connection id of JetStream's own subscriptions (clients count from 1).
pub(super) const INTERNAL: ConnId = 0;

const API_SUBJECT: &[u8] = b"$JS.API.>";
const ACK_SUBJECT: &[u8] = b"$JS.ACK.>";

/// What an internal subscription is for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    Api,
    Ack,
    /// Capturing one of a stream's subjects.
    Stream {
        name: String,
    },
}

#[derive(Clone, Debug)]
struct InternalSub {
    account: usize,
    subject: Bytes,
    target: Target,
}

/// A message for an internal subscription, waiting to be handled.
struct Inbound {
    slot: u32,
    subject: Bytes,
    reply: Option<Bytes>,
    headers: Bytes,
    data: Bytes,
}

/// The node's JetStream state.
pub(super) struct JsNode {
    /// Each account's JetStream, by account index; `None` where it is not enabled.
    accounts: Vec<Option<JetStream>>,
    /// Internal subscriptions by slot (freed slots are `None`).
    subs: Vec<Option<InternalSub>>,
    inbox: VecDeque<Inbound>,
    /// Unix time in nanoseconds at the node's `Instant::ZERO`.
    wall_at_zero: u64,
    /// Subscriptions changed since push consumers last looked for their listeners.
    interest_changed: bool,
    /// What to write next, gathered while the shell writes the batch before.
    open: Vec<DiskOp>,
    /// The batch the shell is writing, if any.
    writing: Option<u64>,
    next_batch: u64,
    /// What JetStream publishes while writes are outstanding waits for them, with the
    /// batch it waits for and its account: an ack is only ever sent for what is durable.
    held: VecDeque<(u64, usize, Delivery)>,
}

/// Where new streams are kept, as their configuration asks.
fn new_store() -> NewStore {
    Box::new(|config| match config.storage {
        Storage::Memory => Ok(Box::new(MemStore::new(config.limits())) as _),
        Storage::File => Ok(Box::new(FileStore::new(config.limits())) as _),
    })
}

impl Node {
    /// Turns JetStream on for every account but the system account.
    pub(super) fn enable_jetstream(&mut self) {
        let mut js = JsNode {
            accounts: Vec::new(),
            subs: Vec::new(),
            inbox: VecDeque::new(),
            wall_at_zero: 0,
            interest_changed: false,
            open: Vec::new(),
            writing: None,
            next_batch: 1,
            held: VecDeque::new(),
        };
        let names: Vec<String> = self.accounts.iter().map(|a| a.name.clone()).collect();
        for name in names {
            let limits = self.account_limits(&name);
            let seed = self.rng.next_u64();
            js.accounts
                .push(limits.map(|l| JetStream::new(new_store(), seed).with_limits(l)));
        }
        self.js = Some(js);
        for account in 0..self.accounts.len() {
            // Accounts without JetStream still answer its API, with an error.
            self.subscribe_internal(account, Bytes::from_static(API_SUBJECT), Target::Api);
            if self.jetstream(account).is_some() {
                self.subscribe_internal(account, Bytes::from_static(ACK_SUBJECT), Target::Ack);
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

    /// Tells the node the Unix time (nanoseconds) at its clock's zero, so JetStream can
    /// timestamp messages; the caller reads the wall clock, the core never does.
    pub fn set_wall_clock(&mut self, unix_nanos_at_zero: u64) {
        if let Some(js) = self.js.as_mut() {
            js.wall_at_zero = unix_nanos_at_zero;
        }
    }

    fn jetstream(&mut self, account: usize) -> Option<&mut JetStream> {
        self.js.as_mut()?.accounts.get_mut(account)?.as_mut()
    }

    fn subscribe_internal(&mut self, account: usize, subject: Bytes, target: Target) {
        let Some(js) = self.js.as_mut() else { return };
        let sub = InternalSub {
            account,
            subject: subject.clone(),
            target,
        };
        let slot = match js.subs.iter().position(Option::is_none) {
            Some(free) => {
                js.subs[free] = Some(sub);
                free
            }
            None => {
                js.subs.push(Some(sub));
                js.subs.len() - 1
            }
        } as u32;
        let sub = SubRef {
            conn: INTERNAL,
            slot,
        };
        if self.accounts[account]
            .sublist
            .insert(&subject, None, sub)
            .is_err()
        {
            if let Some(js) = self.js.as_mut() {
                js.subs[slot as usize] = None;
            }
        }
    }

    /// Queues a message for an internal subscription; it is handled once the publish that
    /// carried it is done.
    pub(super) fn deliver_internal(
        &mut self,
        slot: u32,
        subject: &[u8],
        reply: Option<&[u8]>,
        header_len: Option<usize>,
        message: Body<'_>,
    ) -> bool {
        let Some(js) = self.js.as_mut() else {
            return false;
        };
        let bytes = message.as_slice();
        let h = header_len.unwrap_or(0).min(bytes.len());
        js.inbox.push_back(Inbound {
            slot,
            subject: Bytes::copy_from_slice(subject),
            reply: reply.map(Bytes::copy_from_slice),
            headers: Bytes::copy_from_slice(&bytes[..h]),
            data: Bytes::copy_from_slice(&bytes[h..]),
        });
        true
    }

    /// Whether internal messages wait to be handled.
    pub(super) fn jetstream_pending(&self) -> bool {
        self.js.as_ref().is_some_and(|js| !js.inbox.is_empty())
    }

    fn wall(&self) -> u64 {
        self.js.as_ref().map_or(0, |js| js.wall_at_zero) + self.now.as_nanos()
    }

    /// Handles queued internal messages and publishes what they produce, until nothing is
    /// left (what JetStream publishes may itself be for JetStream).
    pub(super) fn run_jetstream(&mut self) {
        let wall = self.wall();
        while let Some(msg) = self.js.as_mut().and_then(|js| js.inbox.pop_front()) {
            let Some(sub) = self
                .js
                .as_ref()
                .and_then(|js| js.subs.get(msg.slot as usize).cloned().flatten())
            else {
                continue;
            };
            let account = sub.account;
            let subject = String::from_utf8_lossy(&msg.subject).into_owned();
            match &sub.target {
                Target::Api => {
                    let Some(js) = self.jetstream(account) else {
                        let answer = not_enabled_answer(&subject);
                        if let (Some(reply), Some(answer)) = (&msg.reply, answer) {
                            self.publish_internal(account, Delivery::answer(reply, answer));
                        }
                        continue;
                    };
                    let known = js.on_api(&subject, msg.reply.as_deref(), &msg.data, wall);
                    if known {
                        self.sync_stream_subscriptions(account);
                        self.deliver_consumers(account, wall);
                    }
                }
                Target::Ack => {
                    let Some(js) = self.jetstream(account) else {
                        continue;
                    };
                    js.on_ack(&subject, msg.reply.as_deref(), &msg.data, wall);
                }
                Target::Stream { name } => {
                    let name = name.clone();
                    let Some(js) = self.jetstream(account) else {
                        continue;
                    };
                    js.on_publish(
                        &name,
                        &msg.subject,
                        msg.reply.as_deref(),
                        &msg.headers,
                        &msg.data,
                        wall,
                    );
                    let sublist = &mut self.accounts[account].sublist;
                    let mut interest = |s: &[u8]| sublist.interest(s).is_some();
                    if let Some(js) = self.js.as_mut().and_then(|j| j.accounts[account].as_mut()) {
                        js.deliver_stream(&name, wall, &mut interest);
                    }
                }
            }
            self.publish_outboxes();
        }
    }

    /// Lets every consumer of `account` send what it can.
    fn deliver_consumers(&mut self, account: usize, wall: u64) {
        let sublist = &mut self.accounts[account].sublist;
        let mut interest = |s: &[u8]| sublist.interest(s).is_some();
        if let Some(js) = self.js.as_mut().and_then(|j| j.accounts[account].as_mut()) {
            js.deliver_all(wall, &mut interest);
        }
    }

    /// Publishes what every account's JetStream has queued, holding it back while writes
    /// are outstanding, and starts writing what JetStream has to write.
    fn publish_outboxes(&mut self) {
        let mut out = Vec::new();
        for account in 0..self.accounts.len() {
            let Some(js) = self.jetstream(account) else {
                continue;
            };
            js.drain_outbox(&mut out);
            let ops = js.take_disk_ops();
            let name = &self.accounts[account].name;
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
        self.run_jetstream();
    }

    /// Brings back a file-backed stream of account `account` from its directory (see
    /// [`crate::jetstream::persist`]); logs what it restored as the reference does.
    pub fn recover_stream(
        &mut self,
        now: Instant,
        account: &str,
        meta: &[u8],
        files: Vec<(String, Bytes)>,
        consumers: Vec<ConsumerFiles>,
    ) -> Result<Recovery, String> {
        self.now = now;
        let wall = self.wall();
        let index = self
            .accounts
            .iter()
            .position(|a| a.name == account)
            .ok_or_else(|| format!("no account {account:?}"))?;
        let js = self
            .jetstream(index)
            .ok_or_else(|| format!("JetStream is not enabled for account {account:?}"))?;
        let recovery = js.recover_stream(meta, files, consumers, wall)?;
        self.sync_stream_subscriptions(index);
        self.publish_outboxes();
        Ok(recovery)
    }

    /// Publishes one message from JetStream into `account`: routed by `to`, shown with
    /// its own subject.
    fn publish_internal(&mut self, account: usize, d: Delivery) {
        let header_len = (!d.headers.is_empty()).then_some(d.headers.len());
        let message = if d.headers.is_empty() {
            d.data.clone()
        } else {
            let mut m = Vec::with_capacity(d.headers.len() + d.data.len());
            m.extend_from_slice(&d.headers);
            m.extend_from_slice(&d.data);
            Bytes::from(m)
        };
        let body = Body::new(&message, Some(&message));
        if let Some(result) = self.accounts[account].sublist.interest(&d.to) {
            let reply = d.reply.as_deref();
            self.deliver_all(INTERNAL, true, &result, &d.subject, reply, header_len, body);
        }
        if self.accounts[account].has_routes() {
            let reply = d.reply.as_deref();
            self.deliver_across(INTERNAL, account, &d.to, reply, header_len, body);
        }
    }

    /// Makes the account's stream-capturing subscriptions match its streams' subjects.
    fn sync_stream_subscriptions(&mut self, account: usize) {
        let Some(wanted) = self.jetstream(account).map(|js| js.subjects()) else {
            return;
        };
        let Some(js) = self.js.as_mut() else { return };
        let mut stale = Vec::new();
        let mut have = Vec::new();
        for (slot, sub) in js.subs.iter().enumerate() {
            let Some(sub) = sub.as_ref().filter(|s| s.account == account) else {
                continue;
            };
            if let Target::Stream { name } = &sub.target {
                let key = (
                    name.clone(),
                    String::from_utf8_lossy(&sub.subject).into_owned(),
                );
                if wanted.contains(&key) {
                    have.push(key);
                } else {
                    stale.push(slot as u32);
                }
            }
        }
        for slot in stale {
            if let Some(sub) = js.subs[slot as usize].take() {
                let r = SubRef {
                    conn: INTERNAL,
                    slot,
                };
                self.accounts[account].sublist.remove(&sub.subject, None, r);
            }
        }
        for (name, subject) in wanted {
            if !have.contains(&(name.clone(), subject.clone())) {
                self.subscribe_internal(account, Bytes::from(subject), Target::Stream { name });
            }
        }
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
        self.publish_outboxes();
        self.run_jetstream();
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
        Some(Instant::from_nanos(at.saturating_sub(js.wall_at_zero)))
    }
}

impl Node {
    /// Each account with JetStream and its report (see [`Report`]), for `/jsz` and
    /// `/varz`; `None` when JetStream is off.
    pub fn jetstream_report(&self, details: bool) -> Option<Vec<(String, Report)>> {
        let js = self.js.as_ref()?;
        Some(
            js.accounts
                .iter()
                .zip(&self.accounts)
                .filter_map(|(j, a)| Some((a.name.clone(), j.as_ref()?.report(details))))
                .collect(),
        )
    }
}
