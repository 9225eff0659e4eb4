//! Arbitrary text into the configuration grammar and the options built from it: errors are
//! fine, panics and runaway recursion are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats_core::options::Options;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(conf) = rnats_core::conf::parse(text) {
        let _ = Options::default().apply_conf(&conf);
    }
});
