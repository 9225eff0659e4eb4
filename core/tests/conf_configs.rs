//! Every example file in `configs/` parses, includes and all, so none of them rots.

use std::path::{Path, PathBuf};

use rnats_core::conf::{parse_with, Env, Map, Value};
use rnats_core::options::Options;

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

fn load(path: &Path) -> Map {
    let dir = configs_dir();
    let text = std::fs::read_to_string(path).unwrap();
    let mut include =
        |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
    parse_with(
        &text,
        Env {
            include: &mut include,
            var: &|_| None,
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every example parses and applies to the options without a warning: no example may
/// hold a key the server does not understand.
#[test]
fn every_example_config_parses() {
    let mut parsed = 0;
    for entry in std::fs::read_dir(configs_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("conf") {
            continue;
        }
        let conf = load(&path);
        assert!(!conf.is_empty(), "{} is empty", path.display());
        let warnings = Options::default()
            .apply_conf(&conf)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        parsed += 1;
    }
    assert!(parsed > 0, "no example configs found");
}

#[test]
fn includes_and_variables_of_the_token_example() {
    let conf = load(&configs_dir().join("auth-token.conf"));
    assert_eq!(conf.get("max_payload"), Some(&Value::Integer(512 * 1024)));
    let Some(Value::Map(auth)) = conf.get("authorization") else {
        panic!("no authorization block: {conf:?}");
    };
    assert_eq!(
        auth.get("token"),
        Some(&Value::String("example-token".into()))
    );
}

#[test]
fn jetstream_examples() {
    let mut opts = Options::default();
    opts.apply_conf(&load(&configs_dir().join("jetstream.conf")))
        .unwrap();
    assert!(opts.jetstream);
    assert_eq!(opts.store_dir.as_deref(), Some("./jetstream-data"));
    assert_eq!(opts.js.max_memory, 1 << 30);
    assert_eq!(opts.js.max_store, 10 << 30);
    assert_eq!(
        opts.js.sync_interval, None,
        "every write is synced by default"
    );

    let mut opts = Options::default();
    opts.apply_conf(&load(&configs_dir().join("jetstream-accounts.conf")))
        .unwrap();
    let limits = |name: &str| {
        opts.accounts
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .jetstream
    };
    let orders = limits("ORDERS").unwrap();
    assert_eq!(
        (
            orders.max_memory,
            orders.max_storage,
            orders.max_streams,
            orders.max_consumers
        ),
        (256 << 20, 1 << 30, 10, 100)
    );
    assert_eq!(limits("METRICS").unwrap().max_streams, -1);
    assert_eq!(limits("PLAIN"), None);
}
