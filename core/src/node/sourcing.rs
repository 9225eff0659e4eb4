//! Mirrors and sources whose origin is reached through another JetStream API prefix
//! (`external`): a stream of another account on this server, through the sourcing
//! account's imports, or one of the same account through this server's domain prefix
//! (`$JS.<domain>.API`).
//!
//! The reference creates a push consumer on the origin by sending a request to
//! `<api>.CONSUMER.CREATE.<origin>` (which a service import carries to the exporting
//! account's `$JS.API`) and takes the messages it delivers on `<deliver>.S.<random>` (which
//! a stream import carries back). rnats follows the same two roads without travelling
//! them: it resolves the request subject through the sourcing account's service imports to
//! the account whose JetStream would answer, checks that a stream import would bring the
//! deliveries back unchanged, and then copies directly from that JetStream, as local
//! sources do. This keeps the core free of made-up consumers, random subjects and
//! heartbeats, while the same imports and exports still decide what may be read: without
//! both imports nothing is copied and the source shows as not active.

use super::Node;
use crate::exports::map_subject;
use crate::jetstream::api_error::ApiError;
use crate::jetstream::sourcing::ExternalOrigin;

/// How many messages of one origin are read at a time.
const BATCH: usize = 1024;
/// How many rounds of copying one call makes at most: copies feed other copies, and
/// streams sourcing each other across accounts would feed each other for ever (as in the
/// reference, which cannot see such cycles either).
const MAX_ROUNDS: usize = 64;
/// The JetStream API prefix as its own account's JetStream answers it.
const JS_API: &str = "$JS.API.";

/// `subject` with the reference's clean-up of a prefix that ended in a dot.
fn collapse_dots(subject: String) -> String {
    subject.replace("..", ".")
}

impl Node {
    /// Copies what external origins hold beyond what their mirrors and sources have, in
    /// every account, then lets the consumers of the streams that changed send. Runs after
    /// everything JetStream handles; nothing at all where no stream is external.
    pub(super) fn copy_external_sources(&mut self, wall: u64) {
        if !self.has_external_sources() {
            return;
        }
        let mut any = false;
        for _ in 0..MAX_ROUNDS {
            let mut read = 0;
            for account in 0..self.accounts.len() {
                let Some(origins) = self.jetstream(account).map(|js| js.external_origins()) else {
                    continue;
                };
                for origin in origins {
                    read += self.copy_external(account, &origin, wall);
                }
            }
            if read == 0 {
                break;
            }
            any = true;
        }
        if any {
            for account in 0..self.accounts.len() {
                self.with_listeners(account, |js, interest| js.deliver_touched(wall, interest));
            }
        }
    }

    /// Copies what one external origin of `account` holds; how many messages were read.
    fn copy_external(&mut self, account: usize, origin: &ExternalOrigin, wall: u64) -> usize {
        let read = self.origin_account(account, origin).map(|from| {
            let filter = match origin.source.filter_subject.as_str() {
                "" => ">",
                f => f,
            };
            match self.jetstream(from) {
                None => Err(ApiError::not_enabled_for_account()),
                Some(js) => js.messages_from(&origin.source.name, filter, origin.next, BATCH),
            }
        });
        let Some(js) = self.jetstream(account) else {
            return 0;
        };
        match read {
            None => js.external_link(origin, None),
            Some(Err(e)) => js.external_link(origin, Some(e)),
            Some(Ok(msgs)) => {
                js.copy_external(origin, &msgs, wall);
                return msgs.len();
            }
        }
        0
    }

    /// The account whose JetStream answers `origin`'s API prefix for `account`, as the
    /// reference's consumer request would find it, and whose deliveries would come back to
    /// `account`: `account` itself for its own domain's prefix, else the exporter of a
    /// service import that maps the request to its `$JS.API`, if a stream import brings
    /// that exporter's deliveries back on the same subjects.
    fn origin_account(&self, account: usize, origin: &ExternalOrigin) -> Option<usize> {
        let ext = origin.source.external.as_ref()?;
        let create = match origin.source.filter_subject.as_str() {
            "" => format!("{}.CONSUMER.CREATE.{}", ext.api, origin.source.name),
            filter => format!(
                "{}.CONSUMER.CREATE.{}.sync.{filter}",
                ext.api, origin.source.name
            ),
        };
        let create = collapse_dots(create);
        let domain_api = |subject: &str| {
            let domain = self.opts.js.domain.as_ref();
            domain.is_some_and(|d| subject.starts_with(&format!("$JS.{d}.API.")))
        };
        // The account's own JetStream listens under its domain's prefix too.
        if domain_api(&create) {
            return Some(account);
        }
        let answered = |subject: &str| subject.starts_with(JS_API) || domain_api(subject);
        let exporter = self.accounts[account].services.iter().find_map(|route| {
            let remote = map_subject(
                route.local.as_bytes(),
                route.subject.as_bytes(),
                create.as_bytes(),
            )?;
            answered(std::str::from_utf8(&remote).ok()?).then_some(route.exporter)
        })?;
        let kind = if origin.mirror { "M" } else { "S" };
        let deliver = match ext.deliver.as_str() {
            "" => format!("$JS.{kind}.sync"),
            prefix => collapse_dots(format!("{prefix}.{kind}.sync")),
        };
        let comes_back = self.accounts[exporter].streams.iter().any(|route| {
            route.importer == account
                && map_subject(
                    route.subject.as_bytes(),
                    route.local.as_bytes(),
                    deliver.as_bytes(),
                )
                .is_some_and(|local| local == deliver.as_bytes())
        });
        comes_back.then_some(exporter)
    }
}
