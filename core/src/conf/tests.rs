//! Behaviour of the grammar, case by case after the reference's `lex_test.go` and
//! `parse_test.go`, then properties over arbitrary input.

use proptest::prelude::*;

use super::*;

fn ok(text: &str) -> Map {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn err(text: &str) -> ConfError {
    match parse(text) {
        Ok(map) => panic!("{text:?} parsed as {map:?}"),
        Err(e) => e,
    }
}

/// Asserts `text` fails with a message containing `needle`.
fn fails(text: &str, needle: &str) {
    let e = err(text);
    assert!(e.message.contains(needle), "{text:?}: {e}");
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn int(v: i64) -> Value {
    Value::Integer(v)
}

fn map(entries: Vec<(&str, Value)>) -> Map {
    let mut m = Map::default();
    for (k, v) in entries {
        m.insert(k.to_string(), v);
    }
    m
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(map(entries))
}

fn arr(items: Vec<Value>) -> Value {
    Value::Array(items)
}

/// The single value of a one-key file.
fn value(text: &str) -> Value {
    let m = ok(text);
    assert_eq!(m.len(), 1, "{text:?}: {m:?}");
    m.into_iter().next().unwrap().1
}

/// Parses with in-memory include files and environment variables.
fn parse_env(text: &str, files: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<Map, ConfError> {
    let mut include = |path: &str| {
        files
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| format!("open {path}: no such file or directory"))
    };
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    };
    parse_with(
        text,
        Env {
            include: &mut include,
            var: &var,
        },
    )
}

#[test]
fn simple_top_level() {
    assert_eq!(
        ok("foo='1'; bar=2.2; baz=true; boo=22"),
        map(vec![
            ("foo", s("1")),
            ("bar", Value::Float(2.2)),
            ("baz", Value::Bool(true)),
            ("boo", int(22)),
        ])
    );
}

#[test]
fn booleans_in_any_case() {
    for t in ["true", "TRUE", "yes", "Yes", "on", "ON"] {
        assert_eq!(value(&format!("foo={t}")), Value::Bool(true), "{t}");
    }
    for f in ["false", "False", "no", "NO", "off", "Off"] {
        assert_eq!(value(&format!("foo={f}")), Value::Bool(false), "{f}");
    }
    // Quoted, or escaped, they are strings.
    assert_eq!(value("tstr \"true\""), s("true"));
    assert_eq!(value(r"foo = \\true"), s("\\true"));
}

#[test]
fn key_separators() {
    for text in [
        "foo = 123",
        "foo=123",
        "foo : 123",
        "foo:123",
        "foo:  123\r\n",
        "foo 123",
        "foo\t123",
        "foo\t\t123\r\n",
        "foo=\t123\t",
    ] {
        assert_eq!(ok(text), map(vec![("foo", int(123))]), "{text:?}");
    }
}

#[test]
fn quoted_keys_keep_spaces_and_specials() {
    assert_eq!(ok("'foo' : 123"), map(vec![("foo", int(123))]));
    assert_eq!(ok("\" foo\" : 123"), map(vec![(" foo", int(123))]));
    assert_eq!(
        ok("foo = {'bar-1.2.3' = { port:4242 }}"),
        map(vec![(
            "foo",
            obj(vec![("bar-1.2.3", obj(vec![("port", int(4242))]))])
        )])
    );
    assert_eq!(
        ok("foo = {\"bar\" = 4242}"),
        map(vec![("foo", obj(vec![("bar", int(4242))]))])
    );
}

#[test]
fn comments_of_both_kinds() {
    let text = "# top level comment\nfoo = 123 // trailing\nbar=2    # This is a comment\n\
                map {\n  ip = '127.0.0.1' # the IP\n  port= 4242 // the port\n}\n// last";
    assert_eq!(
        ok(text),
        map(vec![
            ("foo", int(123)),
            ("bar", int(2)),
            (
                "map",
                obj(vec![("ip", s("127.0.0.1")), ("port", int(4242))])
            ),
        ])
    );
    // Only comments and white space: an empty, valid file.
    for text in [
        "",
        "\n\n\n   \n",
        "# just comments\n// and more\n",
        "{}",
        "{\n# in braces\n}\n",
    ] {
        assert!(ok(text).is_empty(), "{text:?}");
    }
}

#[test]
fn optional_semicolons_and_commas() {
    let text = "foo = 123;\nbar = 'baz';\nbaz = 'boo'\nmap {\n id = 1;\n}\na = 1, b = 2";
    let m = ok(text);
    assert_eq!(m.get("foo"), Some(&int(123)));
    assert_eq!(m.get("bar"), Some(&s("baz")));
    assert_eq!(m.get("map"), Some(&obj(vec![("id", int(1))])));
    assert_eq!(m.get("b"), Some(&int(2)));
}

#[test]
fn nested_maps_and_arrays() {
    let text = "foo  {\n  host {\n    ip   = '127.0.0.1'\n    port = 4242\n  }\n  \
                servers = [ \"a.com\", \"b.com\", \"c.com\"]\n}\n";
    assert_eq!(
        ok(text),
        map(vec![(
            "foo",
            obj(vec![
                (
                    "host",
                    obj(vec![("ip", s("127.0.0.1")), ("port", int(4242))])
                ),
                ("servers", arr(vec![s("a.com"), s("b.com"), s("c.com")])),
            ])
        )])
    );
}

#[test]
fn cluster_sample_with_urls_and_comments() {
    let text = r#"
cluster {
  port: 4244

  authorization {
    user: route_user
    password: top_secret
    timeout: 1
  }

  # Routes are actively solicited and connected to from this server.
  // Test both styles of comments

  routes = [
    nats-route://foo:bar@apcera.me:4245
    nats-route://foo:bar@apcera.me:4246
  ]
}
"#;
    assert_eq!(
        ok(text),
        map(vec![(
            "cluster",
            obj(vec![
                ("port", int(4244)),
                (
                    "authorization",
                    obj(vec![
                        ("user", s("route_user")),
                        ("password", s("top_secret")),
                        ("timeout", int(1)),
                    ])
                ),
                (
                    "routes",
                    arr(vec![
                        s("nats-route://foo:bar@apcera.me:4245"),
                        s("nats-route://foo:bar@apcera.me:4246"),
                    ])
                ),
            ])
        )])
    );
}

#[test]
fn single_quoted_strings_are_literal_and_may_span_lines() {
    let text = "foo  {\n  expr = '(true == \"false\")'\n  text = 'This is a multi-line\ntext block.'\n  raw = 'bar\\r\\n  \\t'\n}";
    assert_eq!(
        ok(text),
        map(vec![(
            "foo",
            obj(vec![
                ("expr", s("(true == \"false\")")),
                ("text", s("This is a multi-line\ntext block.")),
                ("raw", s("bar\\r\\n  \\t")),
            ])
        )])
    );
    assert_eq!(value("foo = ''"), s(""));
    assert_eq!(value("foo = \"\""), s(""));
}

#[test]
fn arrays_with_and_without_separators() {
    let expected = arr(vec![int(1), int(2), int(3), s("bar"), s("bar")]);
    let with = "# top\nfoo = [\n 1, # One\n 2, // Two\n 3 # Three\n 'bar'     ,\n \"bar\"\n]\n";
    let without = "foo = [\n 1 // foo\n 2\n 3\n 'bar'\n \"bar\"\n]\n";
    assert_eq!(value(with), expected);
    assert_eq!(value(without), expected);
    assert_eq!(value("foo = [1, 2,3,'bar', bar]"), expected);
    assert_eq!(value("foo = [1, 2, ]"), arr(vec![int(1), int(2)]));
    assert_eq!(value("foo = []"), arr(vec![]));
    assert_eq!(
        value("array [\n  { abc: 123 }\n  { xyz: \"word\" }\n]"),
        arr(vec![
            obj(vec![("abc", int(123))]),
            obj(vec![("xyz", s("word"))])
        ])
    );
}

#[test]
fn numbers_directly_before_a_closing_bracket() {
    assert_eq!(value("a = [1]"), arr(vec![int(1)]));
    assert_eq!(value("a = [1,2]"), arr(vec![int(1), int(2)]));
    // A size suffix before `]` makes a string in the reference, and stays one.
    assert_eq!(value("a = [1k]"), arr(vec![s("1k")]));
    assert_eq!(value("a = [1k, 2k]"), arr(vec![int(1000), s("2k")]));
    assert_eq!(value("a = [-1]"), arr(vec![int(-1)]));
    assert_eq!(value("a = [1.5]"), arr(vec![Value::Float(1.5)]));
    // Outside an array `]` does not end a number, as in the reference.
    assert_eq!(value("a = 1]"), s("1]"));
}

#[test]
fn size_suffixes() {
    let text = "k = 8k\nkb = 4kb\nki = 3ki\nkib = 4KiB\nm = 1m\nmb = 2MB\nmi = 2Mi\n\
                mib = 64MiB\ng = 2g\ngb = 22GB\ngi = 22Gi\ngib = 22GiB\nt = 1t\ntb = 22TB\n\
                ti = 22Ti\ntib = 22TiB\np = 1P\npb = 22PB\npi = 22Pi\npib = 22PiB\ne = 2e\n\
                eb = 3EB\nneg = -1m\nneggb = -1GB ";
    let k = 1024i64;
    assert_eq!(
        ok(text),
        map(vec![
            ("k", int(8_000)),
            ("kb", int(4 * k)),
            ("ki", int(3 * k)),
            ("kib", int(4 * k)),
            ("m", int(1_000_000)),
            ("mb", int(2 * k * k)),
            ("mi", int(2 * k * k)),
            ("mib", int(64 * k * k)),
            ("g", int(2_000_000_000)),
            ("gb", int(22 * k.pow(3))),
            ("gi", int(22 * k.pow(3))),
            ("gib", int(22 * k.pow(3))),
            ("t", int(1_000_000_000_000)),
            ("tb", int(22 * k.pow(4))),
            ("ti", int(22 * k.pow(4))),
            ("tib", int(22 * k.pow(4))),
            ("p", int(1_000_000_000_000_000)),
            ("pb", int(22 * k.pow(5))),
            ("pi", int(22 * k.pow(5))),
            ("pib", int(22 * k.pow(5))),
            ("e", int(2_000_000_000_000_000_000)),
            ("eb", int(3 * k.pow(6))),
            ("neg", int(-1_000_000)),
            ("neggb", int(-k.pow(3))),
        ])
    );
}

#[test]
fn words_starting_with_digits_are_strings() {
    for word in ["3xyz", "1Ghz", "2Pie", "3Mbs", "5Gø", "2Tybceg8yj", "4wqs"] {
        assert_eq!(value(&format!("foo = {word}")), s(word), "{word}");
        assert_eq!(value(&format!("foo = {word},")), s(word), "{word}");
        assert_eq!(value(&format!("foo = {word};")), s(word), "{word}");
    }
    assert_eq!(
        ok("foo = 4Gb, bar = 5Gø"),
        map(vec![("foo", int(4 << 30)), ("bar", s("5Gø"))])
    );
    assert_eq!(
        value("map {\n  foo = 3xyz,\n  bar = 4wqs\n}\n"),
        obj(vec![("foo", s("3xyz")), ("bar", s("4wqs"))])
    );
    assert_eq!(value("map {\n  foo = 3xyz}"), obj(vec![("foo", s("3xyz"))]));
}

#[test]
fn negative_numbers_and_floats() {
    assert_eq!(value("foo = -123"), int(-123));
    assert_eq!(value("foo=-123\r\n"), int(-123));
    assert_eq!(value("foo = 22.2"), Value::Float(22.2));
    assert_eq!(value("foo = -0.5"), Value::Float(-0.5));
    assert_eq!(value("timeout: 0.5"), Value::Float(0.5));
    fails("foo = .2", "Floats must start with a digit");
    fails("foo = -.2", "Floats must start with a digit, not '.'.");
    fails(
        "foo = 1.x",
        "Floats must have a digit after the '.', but got 'x' instead.",
    );
    fails("foo = -bar", "Expected a digit but got 'b'.");
    // A suffix followed by more letters makes a string, even after a minus.
    assert_eq!(value("foo = -1kx"), s("-1kx"));
}

#[test]
fn addresses_stay_strings() {
    for (text, want) in [
        ("listen: 127.0.0.1:4222", "127.0.0.1:4222"),
        ("listen: 127.0.0.1", "127.0.0.1"),
        ("listen: apcera.me:80", "apcera.me:80"),
        ("listen: nats.io:-1", "nats.io:-1"),
        ("listen: :-1", ":-1"),
        ("listen = :80", ":80"),
        ("listen: 0.0.0.0:4222 // comment", "0.0.0.0:4222"),
    ] {
        assert_eq!(value(text), s(want), "{text}");
    }
    assert_eq!(value("listen: -1"), int(-1));
    assert_eq!(
        value("listen = [localhost:4222, localhost:4333]"),
        arr(vec![s("localhost:4222"), s("localhost:4333")])
    );
}

#[test]
fn escapes() {
    let text = "foo  = \\t\nbar  = \\r\nbaz  = \\n\nq    = \\\"\nbs   = \\\\\n";
    assert_eq!(
        ok(text),
        map(vec![
            ("foo", s("\t")),
            ("bar", s("\r")),
            ("baz", s("\n")),
            ("q", s("\"")),
            ("bs", s("\\")),
        ])
    );
    for (text, want) in [
        (r#"foo = "\\end""#, "\\end"),
        (r#"foo = "start\\""#, "start\\"),
        (r"foo = \x65", "e"),
        (r"foo = \x45\x71", "Eq"),
        (r"foo = start\x45\x71", "startEq"),
        (r"foo = start\x7Cend", "start|end"),
        (r"foo = \x3c\x3eend", "<>end"),
        (r"foo = \x3cmiddle\x3E", "<middle>"),
        (r#"foo = "caf\xc3\xa9""#, "café"),
        (r#"foo = "a\tb\"c""#, "a\tb\"c"),
        (r"foo = \\$var", "\\$var"),
    ] {
        assert_eq!(value(text), s(want), "{text}");
    }
}

#[test]
fn bad_escapes() {
    fails(
        r"foo = \y",
        "Invalid escape character 'y'. Only the following escape characters are allowed: \
         \\xXX, \\t, \\n, \\r, \\\", \\\\.",
    );
    fails(
        "foo = xyz\\x\n",
        "Expected two hexadecimal digits after '\\x', but hit end of line",
    );
    fails(
        "foo = xyz\\xF\n",
        "Expected two hexadecimal digits after '\\x', but hit end of line",
    );
    fails(
        r#"foo = "[\x]""#,
        "Expected two hexadecimal digits after '\\x', but got ']\"'",
    );
    fails(
        r#"foo = "[\xe]""#,
        "Expected two hexadecimal digits after '\\x', but got 'e]'",
    );
    // The reference keeps a lone Latin-1 byte; a Rust string cannot hold it.
    fails(r"foo = \xe9", "valid UTF-8");
}

#[test]
fn unquoted_string_ends() {
    assert_eq!(value("foo = bar"), s("bar"));
    assert_eq!(value("foo = bar' "), s("bar"));
    assert_eq!(value("foo ="), s(""));
    assert_eq!(
        ok("foo = 123\nbar = baz\nbaz=boo\nmap {\n id:one\n id2 : onetwo\n}\nfkey = five # string"),
        map(vec![
            ("foo", int(123)),
            ("bar", s("baz")),
            ("baz", s("boo")),
            ("map", obj(vec![("id", s("one")), ("id2", s("onetwo"))])),
            ("fkey", s("five")),
        ])
    );
}

#[test]
fn block_strings() {
    assert_eq!(value("numbers (\n1234567890\n)\n"), s("\n1234567890\n"));
    assert_eq!(
        value("numbers (\n  12(34)56\n  (\n    7890\n  )\n)\n"),
        s("\n  12(34)56\n  (\n    7890\n  )\n")
    );
    // A NUL after the `)` ends it like a new line, as in the reference.
    assert_eq!(value("numbers (\n1234567890\n)\0"), s("\n1234567890\n"));
    // At the very end of the file the `)` is not part of the text.
    assert_eq!(value("numbers (\n1234567890\n)"), s("\n1234567890\n"));
    fails(
        "\nlisten = 4222\n\nquote = (\n\n  foo = bar\n\n",
        "Unexpected EOF processing block.",
    );
}

#[test]
fn datetimes() {
    assert_eq!(
        ok("now = 2016-05-04T18:53:41Z\ngmt = false\n"),
        map(vec![
            (
                "now",
                Value::Datetime(Datetime {
                    year: 2016,
                    month: 5,
                    day: 4,
                    hour: 18,
                    minute: 53,
                    second: 41
                })
            ),
            ("gmt", Value::Bool(false)),
        ])
    );
    let Value::Datetime(leap) = value("d = 2024-02-29T00:00:00Z") else {
        panic!("not a datetime");
    };
    assert_eq!(leap.to_string(), "2024-02-29T00:00:00Z");
    fails(
        "d = 2023-02-29T00:00:00Z",
        "expected Zulu formatted DateTime, but got '2023-02-29T00:00:00Z'",
    );
    fails(
        "d = 2016-13-04T18:53:41Z",
        "expected Zulu formatted DateTime",
    );
    fails(
        "d = 2016-05-04T24:00:00Z",
        "expected Zulu formatted DateTime",
    );
    fails(
        "d = 2016-05-04X18:53:41Z",
        "Expected 'T' in ISO8601 datetime, but found 'X' instead.",
    );
    fails(
        "d = 2016-05-0",
        "Expected digit in ISO8601 datetime, but found 'EOF' instead.",
    );
    fails("d = 12-3", "All ISO8601 dates must be in full Zulu form.");
}

#[test]
fn variables_resolve_in_enclosing_maps() {
    assert_eq!(
        ok("index = 22\nfoo = $index"),
        map(vec![("index", int(22)), ("foo", int(22))])
    );
    let nested = "index = 22\nnest {\n  index = 11\n  foo = $index\n}\nbar = $index\n";
    assert_eq!(
        ok(nested),
        map(vec![
            ("index", int(22)),
            ("nest", obj(vec![("index", int(11)), ("foo", int(11))])),
            ("bar", int(22)),
        ])
    );
    // Maps inside arrays are scopes; whole values are copied.
    assert_eq!(
        value("a { x = [1, 2]\n users = [ { p = 1, q = $p, r = $x } ] }"),
        obj(vec![
            ("x", arr(vec![int(1), int(2)])),
            (
                "users",
                arr(vec![obj(vec![
                    ("p", int(1)),
                    ("q", int(1)),
                    ("r", arr(vec![int(1), int(2)])),
                ])])
            ),
        ])
    );
    // Only keys set before the reference count, and they match exactly.
    fails(
        "foo = $bar\nbar = 1",
        "variable reference for 'bar' can not be found",
    );
    fails(
        "Index = 1\nfoo = $index",
        "variable reference for 'index' can not be found",
    );
    let e = err("a = 1\nfoo = $index");
    assert_eq!((e.line, e.col), (2, 7));
}

#[test]
fn bcrypt_hashes_are_not_variables() {
    assert_eq!(value("password: $2a$11$ooo"), s("$2a$11$ooo"));
}

#[test]
fn environment_variables_parse_as_values() {
    let env = |text: &str, vars: &[(&str, &str)]| parse_env(text, &[], vars);
    let one = |v: &str| env("foo = $X", &[("X", v)]).map(|m| m.get("foo").cloned());
    assert_eq!(one("22").unwrap(), Some(int(22)));
    assert_eq!(one("xyz").unwrap(), Some(s("xyz")));
    assert_eq!(one("3xyz").unwrap(), Some(s("3xyz")));
    assert_eq!(one("3Gyz").unwrap(), Some(s("3Gyz")));
    assert_eq!(one("'3xyz'").unwrap(), Some(s("3xyz")));
    assert_eq!(one("1MB").unwrap(), Some(int(1 << 20)));
    assert_eq!(one("").unwrap(), Some(s("")));
    // Only the first line's value counts, as the reference reads it as a file.
    assert_eq!(one("1\nfoo=2").unwrap(), Some(int(1)));
    assert_eq!(
        one("{ a = 1, b = [x, y] }").unwrap(),
        Some(obj(vec![("a", int(1)), ("b", arr(vec![s("x"), s("y")]))]))
    );
    // Keys of the file win over the environment.
    assert_eq!(
        env("X = 1\nfoo = $X", &[("X", "2")]).unwrap().get("foo"),
        Some(&int(1))
    );
    // A variable may refer to another one.
    assert_eq!(
        env("foo = $A", &[("A", "$B"), ("B", "7")])
            .unwrap()
            .get("foo"),
        Some(&int(7))
    );
    let cycle = env("foo = $A", &[("A", "$B"), ("B", "$A")]).unwrap_err();
    assert!(
        cycle.message.contains("variable reference cycle for 'A'"),
        "{cycle}"
    );
    let bad = one("'open").unwrap_err();
    assert!(
        bad.message
            .starts_with("variable reference for 'X' could not be parsed:"),
        "{bad}"
    );
    assert!(env("foo = $Y", &[("X", "1")])
        .unwrap_err()
        .message
        .contains("can not be found"));
}

/// `conf/simple.conf` of the reference and the two files it includes.
const SIMPLE: &str = "listen: 127.0.0.1:4222\n\nauthorization {\n  include 'includes/users.conf' # Pull in from file\n  timeout: 0.5\n}\n";
const USERS: &str = "# Users configuration\n\ninclude ./passwords.conf;\n\nusers = [\n  {user: alice, password: $ALICE_PASS}\n  {user: bob,   password: $BOB_PASS}\n]\n";
const PASSWORDS: &str = "# Just foo & bar for testing\nALICE_PASS: $2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q\nBOB_PASS: $2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly\n";

#[test]
fn includes_nest_relative_to_the_including_file() {
    let files = [
        ("includes/users.conf", USERS),
        ("includes/passwords.conf", PASSWORDS),
    ];
    let alice = "$2a$10$UHR6GhotWhpLsKtVP0/i6.Nh9.fuY73cWjLoJjb2sKT8KISBcUW5q";
    let bob = "$2a$11$dZM98SpGeI7dCFFGSpt.JObQcix8YHml4TBUZoge9R1uxnMIln5ly";
    assert_eq!(
        parse_env(SIMPLE, &files, &[]).unwrap(),
        map(vec![
            ("listen", s("127.0.0.1:4222")),
            (
                "authorization",
                obj(vec![
                    ("ALICE_PASS", s(alice)),
                    ("BOB_PASS", s(bob)),
                    (
                        "users",
                        arr(vec![
                            obj(vec![("user", s("alice")), ("password", s(alice))]),
                            obj(vec![("user", s("bob")), ("password", s(bob))]),
                        ])
                    ),
                    ("timeout", Value::Float(0.5)),
                ])
            ),
        ])
    );
}

#[test]
fn included_keys_are_variables_for_the_rest_of_the_file() {
    let text = "authorization {\n  include \"./includes/passwords.conf\"\n  CAROL_PASS: foo\n  \
                users = [\n   {user: alice, password: $ALICE_PASS}\n   {user: carol, password: $CAROL_PASS}\n  ]\n}\n";
    let m = parse_env(text, &[("includes/passwords.conf", PASSWORDS)], &[]).unwrap();
    let Some(Value::Map(auth)) = m.get("authorization") else {
        panic!("{m:?}");
    };
    let Some(Value::Array(users)) = auth.get("users") else {
        panic!("{auth:?}");
    };
    assert_eq!(
        users[1],
        obj(vec![("user", s("carol")), ("password", s("foo"))])
    );
    // But an included file is parsed on its own: it cannot see the includer's keys.
    let e = parse_env("X = 1\ninclude a.conf", &[("a.conf", "y = $X")], &[]).unwrap_err();
    assert!(
        e.message
            .contains("variable reference for 'X' can not be found"),
        "{e}"
    );
}

#[test]
fn include_forms() {
    let files = [
        ("users.conf", "u = 1"),
        ("dir/x.conf", "include '../users.conf'"),
    ];
    for text in [
        "include \"users.conf\"",
        "include 'users.conf'",
        "include users.conf",
        "INCLUDE users.conf;",
        "include   users.conf # comment",
        "include dir/x.conf",
        "include /users.conf",
        "{ include users.conf }",
    ] {
        assert_eq!(
            parse_env(text, &files, &[]).unwrap(),
            map(vec![("u", int(1))]),
            "{text}"
        );
    }
    for text in [
        "foo { include users.conf }",
        "foo {include users.conf}",
        "foo { include 'users.conf' }",
        "foo { include \"users.conf\"}",
    ] {
        assert_eq!(
            parse_env(text, &files, &[]).unwrap(),
            map(vec![("foo", obj(vec![("u", int(1))]))]),
            "{text}"
        );
    }
    // With a separator right after it, it is an ordinary key; after a space it is the
    // directive, even before `=`, as in the reference.
    assert_eq!(ok("include=5"), map(vec![("include", int(5))]));
    assert_eq!(ok("include: 5"), map(vec![("include", int(5))]));
    fails("include = 5", "error parsing include file '='");
}

#[test]
fn include_errors() {
    for (text, want) in [
        (
            "include [a]",
            "Expected include value but found start of an array",
        ),
        (
            "include {a}",
            "Expected include value but found start of a map",
        ),
        (
            "include (a)",
            "Expected include value but found start of a block",
        ),
        (
            "include 5",
            "Expected include value but found start of a number",
        ),
        (
            "include \\a",
            "Expected include value but found escape sequence",
        ),
        ("include \nfoo", "Expected include value but found new line"),
        ("include 'a.conf", "Unexpected EOF in quoted include"),
        (
            "include \"9/\u{fffd}",
            "Unexpected EOF in double quoted include",
        ),
        ("include a.conf", "includes are not supported here"),
    ] {
        fails(text, want);
    }
    let missing = parse_env("\n  include nope.conf", &[], &[]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Parse error on line 2, column 11: error parsing include file 'nope.conf', \
         open nope.conf: no such file or directory"
    );
    let invalid = parse_env(
        "accounts {\n  bar { include 'bar.conf'}\n}",
        &[("bar.conf", "AAAA")],
        &[],
    )
    .unwrap_err();
    assert_eq!(
        invalid.message,
        "error parsing include file 'bar.conf', Parse error on line 1, column 1: \
         config is invalid: key 'AAAA' has no value"
    );
    let cycle = parse_env(
        "include a.conf",
        &[("a.conf", "include b.conf"), ("b.conf", "include ./a.conf")],
        &[],
    )
    .unwrap_err();
    assert!(
        cycle.message.contains("'a.conf' includes itself"),
        "{cycle}"
    );
}

#[test]
fn include_chains_are_bounded() {
    let names: Vec<String> = (0..40).map(|i| format!("f{i}.conf")).collect();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("include f{}.conf", i + 1))
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .zip(&texts)
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let e = parse_env("include f0.conf", &files, &[]).unwrap_err();
    assert!(e.to_string().contains("more than 32 nested"), "{e}");
}

#[test]
fn later_keys_win() {
    let m = ok("a = 1\nb = 2\nA = 3\na = 4\n");
    assert_eq!(m.len(), 3);
    assert_eq!(
        m.iter().collect::<Vec<_>>(),
        vec![("b", &int(2)), ("A", &int(3)), ("a", &int(4))]
    );
    assert_eq!(m.get("a"), Some(&int(4)));
    assert_eq!(m.get("A"), Some(&int(4)));
    assert_eq!(m.get("B"), Some(&int(2)));
    assert_eq!(m.get("c"), None);
    assert!(!m.is_empty());
    // Keys keep their case for variables even though `get` ignores it.
    assert_eq!(ok("A = 3\na = 4\nx = $A").get("x"), Some(&int(3)));
}

#[test]
fn json_style_files() {
    let pretty = r#"
        {
          "http_port": 8227,
          "port": 4227,
          "write_deadline": "1h",
          "cluster": {
            "port": 6222,
            "routes": [
              "nats://127.0.0.1:4222",
              "nats://127.0.0.1:4223"
            ]
          }
        }
        "#;
    let expected = map(vec![
        ("http_port", int(8227)),
        ("port", int(4227)),
        ("write_deadline", s("1h")),
        (
            "cluster",
            obj(vec![
                ("port", int(6222)),
                (
                    "routes",
                    arr(vec![s("nats://127.0.0.1:4222"), s("nats://127.0.0.1:4223")]),
                ),
            ]),
        ),
    ]);
    assert_eq!(ok(pretty), expected);
    let ugly = r#"{"http_port": 8227,"port": 4227,"write_deadline": "1h","cluster": {"port": 6222,"routes": ["nats://127.0.0.1:4222","nats://127.0.0.1:4223"]}}"#;
    assert_eq!(ok(ugly), expected);
    let trailing_commas = "{\n  \"jetstream\": {\n    \"store_dir\": \"/tmp/nats\"\n    \
                           \"max_mem\": 1000000,\n  },\n  \"port\": 4222,\n  \"server_name\": \"nats1\"\n}\n";
    assert_eq!(
        ok(trailing_commas),
        map(vec![
            (
                "jetstream",
                obj(vec![
                    ("store_dir", s("/tmp/nats")),
                    ("max_mem", int(1_000_000))
                ])
            ),
            ("port", int(4222)),
            ("server_name", s("nats1")),
        ])
    );
    // A closing brace the lexer reads as a key is tolerated at the end of the file.
    assert_eq!(
        ok("accounts { users = [{}]}\n}\n"),
        map(vec![(
            "accounts",
            obj(vec![("users", arr(vec![obj(vec![])]))])
        )])
    );
}

#[test]
fn top_level_braces() {
    let expected = map(vec![("listen", s("0.0.0.0:4222"))]);
    for text in [
        "{ listen: 0.0.0.0:4222 }",
        "{\n\t\t\t\tlisten: 0.0.0.0:4222\n\t\t\t }",
        "\n{\n  listen: 0.0.0.0:4222\n}\n# wibble\n",
        "\n{\n  {\n    listen: 0.0.0.0:4222 // random comment\n  }\n  # wibble1\n}\n# wibble2\n",
    ] {
        assert_eq!(ok(text), expected, "{text:?}");
    }
    let text = "\n{\n  \"debug\":  False\n  \"server_name\": \"gcp-1\"\n\n  # Profile port.\n  \"prof_port\": 8221\n}\n";
    assert_eq!(
        ok(text),
        map(vec![
            ("debug", Value::Bool(false)),
            ("server_name", s("gcp-1")),
            ("prof_port", int(8221)),
        ])
    );
}

#[test]
fn keys_without_values_are_invalid() {
    for (text, line) in [
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1),
        ("              aaaaaaaaaaaaaaaaaaaaaaaaaaa", 1),
        ("     aaaaaaaaaaaaaaaaaaaaaaaaaaa         ", 1),
        (
            "\n  # with comments and no spaces\n  # is also invalid.\n  aaaaaaaa\n   ",
            4,
        ),
        ("\n   a,a,a,a,a,a,a,a,a,a,a\n   ", 2),
    ] {
        let e = err(text);
        assert!(e.message.starts_with("config is invalid"), "{text:?}: {e}");
        assert_eq!(e.line, line, "{text:?}");
    }
    // In a map the reference hands the dangling key to the enclosing map; here it is
    // an error too.
    fails("x { a }", "config is invalid: key 'a' has no value");
    fails("x { a = }", "config is invalid: key 'a' has no value");
}

#[test]
fn lexer_errors_name_what_and_where() {
    let e = err(" :foo = 22");
    assert_eq!(e.message, "Unexpected key separator ':'");
    assert_eq!((e.line, e.col), (1, 2));
    assert_eq!(
        e.to_string(),
        "Parse error on line 1, column 2: Unexpected key separator ':'"
    );
    for (text, want) in [
        ("\nlisten: \"localhost:4242\n\nhttp: localhost:8222\n", "Unexpected EOF."),
        ("\nlisten: 'localhost:4242\n\nhttp: localhost:8222\n", "Unexpected EOF."),
        (
            "\nfoo = \"\nlisten: \"\n\nhttp: localhost:8222\n\n\"\n",
            "Unexpected EOF.",
        ),
        (
            "\nlisten = 4222\n\ncluster = {\n\n  foo = bar\n\n",
            "Unexpected EOF processing map.",
        ),
        ("a = { 'b", "Unexpected EOF processing quoted map key."),
        ("a = { \"b", "Unexpected EOF processing double quoted map key."),
        ("a = { b", "Unexpected EOF processing map key."),
        ("a = { :b = 1 }", "Unexpected key separator ':'."),
        ("a = { ] }", "Unexpected array end ']' processing map."),
        ("a = { b = 1 , , c = 2 }", "but got '=' instead."),
        ("a = { b = , }", "Unexpected map value terminator \",\"."),
        ("a = [ , ]", "Unexpected array value terminator ','."),
        (
            "a = 1 b = 2",
            "Expected a top-level value to end with a new line, comment or EOF, but got 'b' instead.",
        ),
        (
            "a = {b = 1 c = 2}",
            "Expected a map value terminator \",\" or a map terminator \"}\", but got 'c' instead.",
        ),
        (
            "a = [1 2]",
            "Expected an array value terminator \",\" or an array terminator \"]\", but got '2' instead.",
        ),
        ("a = [1, 2", "but got 'EOF' instead."),
        (
            "{ a = 1 ] }",
            "Expected a block-level value to end with a new line, comment or EOF, but got ']' instead.",
        ),
        ("a =\n1", "Expected value but found new line"),
        ("a = 1 / b", "but got 'b' instead."),
        ("/ a", "Unexpected EOF."),
        ("a = 1kbb", "expected integer, but got '1kbb'"),
        (
            "a = 99999999999999999999",
            "integer '99999999999999999999' is out of the range",
        ),
        ("a = 8EiB", "integer '8EiB' is out of the range"),
    ] {
        fails(text, want);
    }
    let e = err("foo = 1\nbar = .2");
    assert_eq!((e.line, e.col), (2, 7));
    // Columns count characters, not bytes.
    let e = err("ø = { 'é");
    assert_eq!((e.line, e.col), (1, 9));
}

#[test]
fn reference_fuzz_inputs_fail_cleanly() {
    for text in ["A@@Føøøø?˛ø:{øøøø˙˙", "include \"9/\u{fffd}"] {
        fails(text, "Unexpected EOF");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| format!("a = {}{}", "[".repeat(n), "]".repeat(n));
    assert!(parse(&deep(parser::MAX_DEPTH - 1)).is_ok());
    fails(&deep(parser::MAX_DEPTH), "nest more than 128 deep");
    fails(&deep(100_000), "nest more than 128 deep");
    let maps = format!("a = {}", "{b = ".repeat(100_000));
    fails(&maps, "nest more than 128 deep");
    // Variables cannot stack copies deeper than literal nesting may go.
    let mut chain = String::from("v0 = {}\n");
    for i in 1..300 {
        chain.push_str(&format!("v{i} = {{ x = $v{} }}\n", i - 1));
    }
    fails(&chain, "nest more than 128 deep");
}

#[test]
fn variable_copies_are_bounded() {
    let mut text = format!("l0 = \"{}\"\n", "x".repeat(1000));
    for i in 1..12 {
        let refs = vec![format!("$l{}", i - 1); 10].join(", ");
        text.push_str(&format!("l{i} = [{refs}]\n"));
    }
    fails(&text, "expand to more than");
}

#[test]
fn nul_bytes_end_the_input_like_the_reference() {
    assert_eq!(ok("a = 1\0"), map(vec![("a", int(1))]));
    fails("a = 'x\0'", "Unexpected EOF.");
    fails("a\0 = 1", "config is invalid");
}

/// Writes a value back as configuration text, for the round trip below.
fn write(v: &Value, out: &mut String) {
    match v {
        Value::Map(m) => {
            out.push_str("{\n");
            for (k, v) in m.iter() {
                out.push_str(&format!("\"{k}\": "));
                write(v, out);
                out.push('\n');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for v in items {
                write(v, out);
                out.push_str(", ");
            }
            out.push(']');
        }
        Value::String(text) => {
            out.push('"');
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format!("{f:?}")),
        Value::Bool(b) => out.push_str(if *b { "on" } else { "Off" }),
        Value::Datetime(d) => out.push_str(&d.to_string()),
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(Value::Integer),
        (-4000i32..4000).prop_map(|q| Value::Float(f64::from(q) / 4.0)),
        any::<bool>().prop_map(Value::Bool),
        (0u16..10000, 1u8..13, 1u8..29, 0u8..24, 0u8..60, 0u8..60).prop_map(
            |(year, month, day, hour, minute, second)| Value::Datetime(Datetime {
                year,
                month,
                day,
                hour,
                minute,
                second
            })
        ),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            arb_map(inner).prop_map(Value::Map),
        ]
    })
}

fn arb_map(inner: impl Strategy<Value = Value>) -> impl Strategy<Value = Map> {
    prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_ .-]{0,6}", inner), 0..6).prop_map(|entries| {
        let mut m = Map::default();
        for (k, v) in entries {
            m.insert(k, v);
        }
        m
    })
}

/// Pieces of the grammar, so random text reaches deep states rather than failing at
/// the first character.
const PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\n)\n",
    "=",
    ":",
    " ",
    "\t",
    "\n",
    "\r\n",
    ",",
    ";",
    "\"",
    "'",
    "\\",
    "\\x4",
    "\\x41",
    "$a",
    "$X",
    "$2a$1",
    "#",
    "//",
    "/",
    "include ",
    "include x",
    "a",
    "key",
    "true",
    "No",
    "1",
    "-",
    ".",
    "1.5",
    "127.0.0.1:4222",
    "2016-05-04T18:53:41Z",
    "2016-",
    "1k",
    "2MiB",
    "3xyz",
    "1e",
    "\0",
    "é",
    "}\n",
];

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn grammar_soup_never_panics(
        pieces in prop::collection::vec(prop::sample::select(PIECES), 0..80),
        included in prop::collection::vec(prop::sample::select(PIECES), 0..20),
        env in prop::collection::vec(prop::sample::select(PIECES), 0..20),
    ) {
        let text = pieces.concat();
        let included = included.concat();
        let env = env.concat();
        let mut include = |_: &str| Ok(included.clone());
        let var = |name: &str| (name != "a").then(|| env.clone());
        let _ = parse_with(&text, Env { include: &mut include, var: &var });
    }

    #[test]
    fn written_values_parse_back(top in arb_map(arb_value())) {
        let mut text = String::new();
        for (k, v) in top.iter() {
            text.push_str(&format!("'{k}' = "));
            write(v, &mut text);
            text.push('\n');
        }
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
        prop_assert_eq!(parsed, top);
    }
}
