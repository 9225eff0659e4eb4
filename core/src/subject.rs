//! Subjects: what makes one valid, and whether a subscription pattern matches one.
//!
//! A subject is a byte string of tokens separated by `.`. In a subscription a token that is
//! exactly `*` stands for any one token and a final token that is exactly `>` for one or more
//! tokens; `*` or `>` inside a longer token (`foo*`, `>bar`) is plain text, as in the
//! reference server. A published subject is matched as plain text throughout, so publishing
//! to `foo.*` reaches `foo.*`, `foo.>` and `>` subscribers but not `foo.bar` ones.

/// The bytes the reference's `IsValidSubject` rejects anywhere in a subject.
fn is_subject_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// One pass over `s`: `None` if a token is empty or `>` is not the last token (or, unless
/// `allow_whitespace`, if white space appears), else whether a wildcard token appears.
///
/// One scanner serves every validity question so the rules cannot drift apart.
fn scan(s: &[u8], allow_whitespace: bool) -> Option<bool> {
    if s.is_empty() {
        return None;
    }
    let mut wildcard = false;
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if b == b'.' {
            let token = &s[start..i];
            if token.is_empty() || token == b">" {
                return None;
            }
            wildcard |= token == b"*";
            start = i + 1;
        } else if !allow_whitespace && is_subject_whitespace(b) {
            return None;
        }
    }
    let last = &s[start..];
    if last.is_empty() {
        return None;
    }
    Some(wildcard || last == b"*" || last == b">")
}

/// Whether `s` may be subscribed to: non-empty tokens, no white space, `>` only last.
pub fn is_valid_subject(s: &[u8]) -> bool {
    scan(s, false).is_some()
}

/// Whether `s` may be published to: a valid subject without wildcard tokens.
pub fn is_valid_literal_subject(s: &[u8]) -> bool {
    scan(s, false) == Some(false)
}

/// Whether `q` may name a queue group.
///
/// The reference server takes any argument its protocol parser splits out (it splits on
/// space, tab, CR and LF), and its clients refuse a queue name holding one of those; this is
/// that same rule, for queue names that arrive by another road than the parser.
pub fn is_valid_queue_name(q: &[u8]) -> bool {
    !q.is_empty() && !q.iter().any(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Whether the subscription index accepts `s` as a pattern.
///
/// This is the reference's `Sublist.Insert` rule: unlike [`is_valid_subject`] it lets white
/// space through, because what a client may subscribe to is decided before the index.
pub(crate) fn is_valid_pattern(s: &[u8]) -> bool {
    scan(s, true).is_some()
}

/// Whether `s` has no wildcard token, without judging its validity.
pub(crate) fn is_literal(s: &[u8]) -> bool {
    !tokens(s).any(|t| t == b"*" || t == b">")
}

/// Whether some token of `s` is empty (so is `s` itself when empty): such a subject is
/// matched by nothing, not even `>`.
pub(crate) fn has_empty_token(s: &[u8]) -> bool {
    match (s.first(), s.last()) {
        (Some(b'.'), _) | (_, Some(b'.')) | (None, _) => true,
        _ => memchr::memchr_iter(b'.', s).any(|i| s.get(i + 1) == Some(&b'.')),
    }
}

/// Splits off the first token of `s` and what follows its `.`, if there is a `.`.
///
/// Walking a subject this way takes no allocation and stops where the caller stops.
pub(crate) fn split_token(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'.', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Whether subscription `pattern` matches `subject`, whose tokens are all plain text.
///
/// `*` in `pattern` matches any one token, a final `>` one or more; a subject with an empty
/// token matches nothing. The subscription index gives the same answers faster when many
/// patterns are checked against one subject; this is for a single check, and the model the
/// index is tested against.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    if has_empty_token(subject) {
        return false;
    }
    let (mut p, mut s) = (pattern, subject);
    loop {
        let (pt, p_rest) = split_token(p);
        let (st, s_rest) = split_token(s);
        if pt == b">" && p_rest.is_none() {
            return true;
        }
        if pt != b"*" && pt != st {
            return false;
        }
        match (p_rest, s_rest) {
            (None, None) => return true,
            (Some(pn), Some(sn)) => (p, s) = (pn, sn),
            _ => return false,
        }
    }
}

/// Whether every subject `sub` can match is also matched by `pattern` (both may hold
/// wildcards): `foo.*` is within `foo.>` and `>`, but `foo.>` is not within `foo.*`.
pub fn is_within(sub: &[u8], pattern: &[u8]) -> bool {
    let (mut s, mut p) = (sub, pattern);
    loop {
        let (st, s_rest) = split_token(s);
        let (pt, p_rest) = split_token(p);
        if pt == b">" && p_rest.is_none() {
            return true;
        }
        if st == b">" || (pt != b"*" && pt != st) {
            return false;
        }
        match (s_rest, p_rest) {
            (None, None) => return true,
            (Some(sn), Some(pn)) => (s, p) = (sn, pn),
            _ => return false,
        }
    }
}

/// Whether some subject is matched by both patterns.
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let (mut a, mut b) = (a, b);
    loop {
        let (at, a_rest) = split_token(a);
        let (bt, b_rest) = split_token(b);
        if (at == b">" && a_rest.is_none()) || (bt == b">" && b_rest.is_none()) {
            return true;
        }
        if at != b"*" && bt != b"*" && at != bt {
            return false;
        }
        match (a_rest, b_rest) {
            (None, None) => return true,
            (Some(an), Some(bn)) => (a, b) = (an, bn),
            _ => return false,
        }
    }
}

/// The tokens of `s`, empty ones included (`""` has one empty token).
pub fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_and_overlap() {
        for (sub, pattern, within) in [
            ("foo.bar", "foo.bar", true),
            ("foo.bar", "foo.*", true),
            ("foo.*", "foo.>", true),
            ("foo.>", "foo.*", false),
            ("foo.>", "foo.>", true),
            ("foo.>", ">", true),
            ("foo.*", "foo.bar", false),
            ("foo", "foo.>", false),
            ("foo.bar.baz", "foo.*", false),
            ("*", "*", true),
            (">", "*", false),
        ] {
            assert_eq!(
                is_within(sub.as_bytes(), pattern.as_bytes()),
                within,
                "{sub} in {pattern}"
            );
        }
        for (a, b, overlap) in [
            ("foo.*", "foo.bar", true),
            ("foo.*", "bar.*", false),
            (">", "secret.>", true),
            ("foo.*", "foo.bar.baz", false),
            ("foo.>", "foo.bar.baz", true),
            ("*.bar", "foo.*", true),
            ("foo", "foo.>", false),
        ] {
            assert_eq!(overlaps(a.as_bytes(), b.as_bytes()), overlap, "{a} ~ {b}");
            assert_eq!(overlaps(b.as_bytes(), a.as_bytes()), overlap, "{b} ~ {a}");
        }
    }

    #[test]
    fn valid_literal_subjects() {
        // After the reference's TestSublistValidLiteralSubjects.
        for (s, want) in [
            ("foo", true),
            (".foo", false),
            ("foo.", false),
            ("foo..bar", false),
            ("foo.bar.*", false),
            ("foo.bar.>", false),
            ("*", false),
            (">", false),
            // Wildcard characters inside a longer token are plain text.
            ("foo*", true),
            ("foo**", true),
            ("foo.**", true),
            ("foo*bar", true),
            ("foo.*bar", true),
            ("foo*.bar", true),
            ("*bar", true),
            ("foo>", true),
            ("foo>>", true),
            ("foo.>>", true),
            ("foo>bar", true),
            ("foo.>bar", true),
            ("foo>.bar", true),
            (">bar", true),
        ] {
            assert_eq!(is_valid_literal_subject(s.as_bytes()), want, "{s:?}");
        }
    }

    #[test]
    fn valid_subjects() {
        // After the reference's TestSublistValidSubjects.
        for (s, want) in [
            ("", false),
            (".", false),
            (".foo", false),
            ("foo.", false),
            ("foo..bar", false),
            (">.bar", false),
            ("foo.>.bar", false),
            ("foo", true),
            ("foo.bar.*", true),
            ("foo.bar.>", true),
            ("*", true),
            (">", true),
            ("*.*.>", true),
            ("foo*", true),
            ("foo**", true),
            ("foo.**", true),
            ("foo*bar", true),
            ("foo.*bar", true),
            ("foo*.bar", true),
            ("*bar", true),
            ("foo>", true),
            ("foo.>>", true),
            ("foo>bar", true),
            ("foo.>bar", true),
            ("foo>.bar", true),
            (">bar", true),
            ("foo bar", false),
            ("foo.\tbar", false),
            ("foo\r", false),
            ("\n", false),
            ("foo.\x0c", false),
        ] {
            assert_eq!(is_valid_subject(s.as_bytes()), want, "{s:?}");
        }
    }

    #[test]
    fn the_index_accepts_white_space_but_not_bad_tokens() {
        assert!(is_valid_pattern(b"foo bar.>"));
        assert!(!is_valid_pattern(b"foo..bar"));
        assert!(!is_valid_pattern(b"foo.>.bar"));
        assert!(!is_valid_pattern(b""));
    }

    #[test]
    fn queue_names() {
        assert!(is_valid_queue_name(b"workers"));
        assert!(is_valid_queue_name(b"a.b*>"));
        assert!(!is_valid_queue_name(b""));
        for bad in [&b"a b"[..], b"a\tb", b"a\r", b"\nb"] {
            assert!(!is_valid_queue_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        // After the reference's TestSublistMatchLiterals (its arguments are swapped).
        for (subject, pattern, want) in [
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo", "*", true),
            ("foo", ">", true),
            ("foo.bar", ">", true),
            ("foo.bar", "foo.>", true),
            ("foo.bar", "bar.>", false),
            ("stats.test.22", "stats.>", true),
            ("stats.test.22", "stats.*.*", true),
            ("foo.bar", "foo", false),
            ("stats.test.foos", "stats.test.foos", true),
            ("stats.test.foos", "stats.test.foo", false),
            ("stats.test", "stats.test.*", false),
            ("stats.test.foos", "stats.*", false),
            ("stats.test.foos", "stats.*.*.foos", false),
            ("*bar", "*bar", true),
            ("foo*", "foo*", true),
            ("foo*bar", "foo*bar", true),
            ("foo.***.bar", "foo.***.bar", true),
            (">bar", ">bar", true),
            ("foo>", "foo>", true),
            ("foo>bar", "foo>bar", true),
            ("foo.>>>.bar", "foo.>>>.bar", true),
            // `>` needs at least one token.
            ("foo", "foo.>", false),
            // A published `*` or `>` is plain text.
            ("foo.*", "foo.bar", false),
            ("foo.*", "foo.*", true),
            ("foo.>", "foo.*", true),
            ("foo.>", "foo.bar", false),
            // Empty tokens match nothing.
            ("foo..bar", ">", false),
            ("foo.", "foo.>", false),
            ("", ">", false),
        ] {
            assert_eq!(
                matches(pattern.as_bytes(), subject.as_bytes()),
                want,
                "{pattern:?} ~ {subject:?}"
            );
        }
    }

    #[test]
    fn literal_and_empty_tokens() {
        assert!(is_literal(b"foo.bar*.>>"));
        assert!(!is_literal(b"foo.*.bar"));
        assert!(!is_literal(b"foo.>"));
        for s in ["", ".", ".a", "a.", "a..b"] {
            assert!(has_empty_token(s.as_bytes()), "{s:?}");
        }
        assert!(!has_empty_token(b"a.b.c"));
    }

    #[test]
    fn token_splitting() {
        assert_eq!(
            tokens(b"a.bb.c").collect::<Vec<_>>(),
            [&b"a"[..], b"bb", b"c"]
        );
        assert_eq!(tokens(b"").count(), 1);
        assert_eq!(split_token(b"a.b.c"), (&b"a"[..], Some(&b"b.c"[..])));
        assert_eq!(split_token(b"abc"), (&b"abc"[..], None));
    }
}
