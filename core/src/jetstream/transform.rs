//! Subject transforms as streams use them (`subject_transform`, `republish`): a source
//! pattern and a destination whose wildcards take what the source's matched — `*` and `>`
//! in order, or by number with `$N` or `{{wildcard(N)}}`.

/// Where `subject` goes under the transform `src` → `dest`; `None` if `src` does not
/// match it (or `dest` names a wildcard `src` does not have).
pub fn transform(src: &str, dest: &str, subject: &[u8]) -> Option<Vec<u8>> {
    let captured = capture(src.as_bytes(), subject)?;
    let mut next = 0;
    let mut out = Vec::with_capacity(subject.len() + dest.len());
    for (i, token) in dest.split('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        let index = match token {
            "*" | ">" => {
                next += 1;
                Some(next - 1)
            }
            _ => wildcard_number(token).map(|n| n - 1),
        };
        match index {
            Some(i) => out.extend_from_slice(captured.get(i)?),
            None => out.extend_from_slice(token.as_bytes()),
        }
    }
    Some(out)
}

/// The tokens `pattern`'s wildcards match in `subject` (a `>` takes the rest), or
/// `None` if it does not match.
fn capture<'s>(pattern: &[u8], subject: &'s [u8]) -> Option<Vec<&'s [u8]>> {
    let mut captured = Vec::new();
    let mut tokens = subject.split(|&b| b == b'.');
    let mut rest = subject;
    for p in pattern.split(|&b| b == b'.') {
        if p == b">" {
            if rest.is_empty() {
                return None;
            }
            captured.push(rest);
            return Some(captured);
        }
        let t = tokens.next()?;
        rest = rest.get(t.len() + 1..).unwrap_or_default();
        match p {
            b"*" => captured.push(t),
            _ if p == t => {}
            _ => return None,
        }
    }
    tokens.next().is_none().then_some(captured)
}

/// `N` of a `$N` or `{{wildcard(N)}}` token (from 1).
fn wildcard_number(token: &str) -> Option<usize> {
    let compact: String = token.chars().filter(|c| !c.is_whitespace()).collect();
    let n = match compact.strip_prefix('$') {
        Some(n) => n,
        None => compact.strip_prefix("{{wildcard(")?.strip_suffix(")}}")?,
    };
    n.parse().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(src: &str, dest: &str, subject: &str) -> Option<String> {
        transform(src, dest, subject.as_bytes()).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn wildcards_in_order_and_by_number() {
        assert_eq!(
            t("orders.*", "archive.*", "orders.1").as_deref(),
            Some("archive.1")
        );
        assert_eq!(t(">", "copy.>", "a.b.c").as_deref(), Some("copy.a.b.c"));
        assert_eq!(t("a.*.*", "b.$2.$1", "a.x.y").as_deref(), Some("b.y.x"));
        assert_eq!(
            t("a.*.*", "b.{{wildcard(2)}}.{{ wildcard(1) }}", "a.x.y").as_deref(),
            Some("b.y.x")
        );
        assert_eq!(t("a.*", "fixed", "a.x").as_deref(), Some("fixed"));
        assert_eq!(t("a.*", "b.*", "c.x"), None);
        assert_eq!(t("a.*", "b.*", "a.x.y"), None);
        assert_eq!(t("a.*", "b.$2", "a.x"), None);
    }
}
