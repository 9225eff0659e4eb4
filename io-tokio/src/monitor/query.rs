//! Query strings: `a=1&b=x%20y`, first value wins, as Go's `url.Values.Get`.

pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Query {
        Query(
            raw.split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A number, or `default` when absent; an error naming the key when malformed.
    pub fn int(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("invalid {key} value: {v}")),
        }
    }

    /// A flag as Go's `strconv.ParseBool` reads it (`1`, `true`...); false when absent.
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }
}

/// Percent-decoding, `+` as a blank.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        let q = Query::parse("subs=detail&test=a%2Eb&x=&cb=f+g&bad=%zz");
        assert_eq!(q.get("subs"), Some("detail"));
        assert_eq!(q.get("test"), Some("a.b"));
        assert_eq!(q.get("cb"), Some("f g"));
        assert_eq!(q.get("bad"), Some("%zz"));
        assert_eq!(q.int("x", 7), Ok(7));
        assert!(q.int("subs", 0).is_err());
    }
}
