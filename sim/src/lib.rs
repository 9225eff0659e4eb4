#[cfg(not(madsim))]
compile_error!("sim needs --cfg madsim (see .cargo/config.toml; a RUSTFLAGS variable replaces it)");

// The deterministic simulator: rnats core nodes on madsim hosts, raw-protocol clients,
// a recorded history of client operations and checkers over it.
//
// See `README.md` beside this crate for how to run it and how to add a scenario.

pub mod check;
pub mod client;
pub mod disk;
pub mod faults;
pub mod history;
pub mod hosts;
pub mod shell;
pub mod sync;
pub mod wire;

/// Panics with the violations, the seed and the one command that reproduces the failure.
/// Call it from inside a madsim runtime.
pub fn fail(test: &str, what: &[String]) -> ! {
    let seed = madsim::runtime::Handle::current().seed();
    fail_with_seed(test, seed, what)
}

/// As [`fail`], for callers that know the seed (outside a runtime).
pub fn fail_with_seed(test: &str, seed: u64, what: &[String]) -> ! {
    let shown: Vec<&String> = what.iter().take(20).collect();
    panic!(
        "{test}: {} violation(s) with seed {seed}:\n  {}\nreproduce with: MADSIM_TEST_SEED={seed} cargo test -p sim {test}",
        what.len(),
        shown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    )
}
