//! What an authenticated user may publish and subscribe to.
//!
//! Subjects in allow and deny lists may hold wildcards. A publish is checked as the
//! reference does it: some allow pattern matches the subject (or there is no allow list) and
//! no deny pattern does. Subscriptions are checked more strictly than the reference: a
//! subscription must lie wholly within one allow pattern, so a user allowed `foo.*` cannot
//! subscribe to `foo.>` and then receive `foo.a.b` (the reference lets it). A subscription
//! wholly within a deny pattern is refused; one that only overlaps a deny pattern is taken,
//! and the denied subjects are filtered out when messages are delivered, as the reference
//! does.

use std::time::Duration;

use crate::subject::{is_within, matches, overlaps};

/// An allow and a deny list of subject patterns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectRules {
    /// `None` allows everything not denied; an empty list allows nothing.
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: a client that received a request may publish to its reply subject
/// this many times, for this long, even if its publish permissions would not allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponsePermission {
    pub max: u64,
    /// Zero means the permission never expires.
    pub expires: Duration,
}

impl Default for ResponsePermission {
    /// The reference's defaults: one response within two minutes.
    fn default() -> ResponsePermission {
        ResponsePermission {
            max: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// A user's permissions, as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Option<SubjectRules>,
    pub subscribe: Option<SubjectRules>,
    pub responses: Option<ResponsePermission>,
}

impl SubjectRules {
    /// Whether a message may be published to the literal `subject`.
    pub fn allows_publish(&self, subject: &[u8]) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|allow| allow.iter().any(|p| matches(p.as_bytes(), subject)));
        allowed && !self.deny.iter().any(|p| matches(p.as_bytes(), subject))
    }

    /// Whether a subscription to `subject` (which may hold wildcards) may be made.
    pub fn allows_subscription(&self, subject: &[u8]) -> bool {
        let allowed = self
            .allow
            .as_ref()
            .is_none_or(|allow| allow.iter().any(|p| is_within(subject, p.as_bytes())));
        allowed && !self.deny.iter().any(|p| is_within(subject, p.as_bytes()))
    }

    /// Whether a subscription to `subject` could see a denied subject, so that deliveries
    /// to it must be filtered.
    pub fn deny_overlaps(&self, subject: &[u8]) -> bool {
        self.deny.iter().any(|p| overlaps(subject, p.as_bytes()))
    }

    /// Whether the literal `subject` is denied.
    pub fn denies(&self, subject: &[u8]) -> bool {
        self.deny.iter().any(|p| matches(p.as_bytes(), subject))
    }
}

impl Permissions {
    /// The permissions as they are enforced: with `allow_responses` and no publish rules,
    /// a user may publish nothing but responses (as in the reference).
    pub fn normalized(mut self) -> Permissions {
        if self.responses.is_some() {
            let publish = self.publish.get_or_insert_with(SubjectRules::default);
            publish.allow.get_or_insert_with(Vec::new);
        }
        self
    }

    pub fn allows_publish(&self, subject: &[u8]) -> bool {
        self.publish
            .as_ref()
            .is_none_or(|rules| rules.allows_publish(subject))
    }

    pub fn allows_subscription(&self, subject: &[u8]) -> bool {
        self.subscribe
            .as_ref()
            .is_none_or(|rules| rules.allows_subscription(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: Option<&[&str]>, deny: &[&str]) -> SubjectRules {
        SubjectRules {
            allow: allow.map(|a| a.iter().map(|s| s.to_string()).collect()),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn publish_rules() {
        let r = rules(Some(&["ok.>", "single"]), &["ok.secret"]);
        assert!(r.allows_publish(b"ok.1"));
        assert!(r.allows_publish(b"single"));
        assert!(!r.allows_publish(b"ok"));
        assert!(!r.allows_publish(b"ok.secret"));
        assert!(!r.allows_publish(b"other"));
        let nothing = rules(Some(&[]), &[]);
        assert!(!nothing.allows_publish(b"x"));
        let deny_only = rules(None, &["x.*"]);
        assert!(deny_only.allows_publish(b"y") && !deny_only.allows_publish(b"x.1"));
    }

    #[test]
    fn subscriptions_must_lie_within_an_allow_pattern() {
        let r = rules(Some(&["foo.*"]), &[]);
        assert!(r.allows_subscription(b"foo.bar"));
        assert!(r.allows_subscription(b"foo.*"));
        assert!(!r.allows_subscription(b"foo.>"));
        assert!(!r.allows_subscription(b">"));
        let d = rules(None, &["secret.>"]);
        assert!(!d.allows_subscription(b"secret.x"));
        assert!(d.allows_subscription(b">"));
        assert!(d.deny_overlaps(b">") && !d.deny_overlaps(b"public"));
        assert!(d.denies(b"secret.a.b") && !d.denies(b"secret"));
    }

    #[test]
    fn responses_alone_allow_no_publish() {
        let p = Permissions {
            responses: Some(ResponsePermission::default()),
            ..Permissions::default()
        }
        .normalized();
        assert!(!p.allows_publish(b"anything"));
        assert!(Permissions::default().allows_publish(b"anything"));
    }
}
