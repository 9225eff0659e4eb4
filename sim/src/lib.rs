#[cfg(not(madsim))]
compile_error!("sim needs --cfg madsim (see .cargo/config.toml; a RUSTFLAGS variable replaces it)");

// The deterministic simulator: rnats core nodes on madsim hosts, raw-protocol clients,
// a recorded history of client operations and checkers over it.
//
// See `README.md` beside this crate for how to run it and how to add a scenario.

pub mod check;
pub mod client;
pub mod cluster;
pub mod cluster_faults;
pub mod disk;
pub mod faults;
pub mod history;
pub mod hosts;
pub mod jsclient;
pub mod jsdisk;
pub mod linearizability;
pub mod raft;
pub mod shell;
pub mod sync;
pub mod wire;

/// Regression seeds: every scenario runs each of these in a plain `#[test]` (see
/// [`run_seeds`]), whatever `MADSIM_TEST_SEED`/`MADSIM_TEST_NUM` pick for its
/// `#[madsim::test]`. Add a seed here when a sweep finds a failure, once it is fixed.
pub const FIXED_SEEDS: [u64; 11] = [
    0,
    1,
    2,
    3,
    42,
    1_000,
    1_033,
    11_151,
    21_800,
    65_535,
    0xdead_beef,
];

/// Runs `scenario` once per seed, each on a fresh thread with a fresh runtime, exactly as
/// `#[madsim::test]` runs one seed (so `MADSIM_TEST_SEED=<seed> cargo test -p sim <test>`
/// reproduces a failure). A panic that did not come through [`fail`] (an `expect` in the
/// scenario) is reported with the seed and command too.
pub fn run_seeds<F>(test: &str, seeds: &[u64], scenario: fn() -> F)
where
    F: std::future::Future<Output = ()> + 'static,
{
    for &seed in seeds {
        let run = std::thread::spawn(move || {
            let rt =
                madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
            rt.block_on(scenario());
        })
        .join();
        if let Err(e) = run {
            let what = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".to_string());
            fail_with_seed(test, seed, &[what]);
        }
    }
}

/// Runs `scenario` (which returns a digest of its history) twice per seed, each run on a
/// fresh thread as madsim's own test runner does (std's `RandomState` keys, which madsim
/// seeds per thread, advance with every map a thread creates), and fails with the seed if
/// the digests differ. The seeds are `MADSIM_TEST_SEED` (default 1) and the next ones,
/// `MADSIM_TEST_NUM` of them (default 1) but at most `max_seeds`.
pub fn same_seed_twice<F>(test: &str, max_seeds: u64, scenario: fn() -> F)
where
    F: std::future::Future<Output = u64> + 'static,
{
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    let first = env("MADSIM_TEST_SEED").unwrap_or(1);
    let num = env("MADSIM_TEST_NUM").unwrap_or(1).min(max_seeds);
    for seed in first..first + num {
        let once = || {
            std::thread::spawn(move || {
                let rt =
                    madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
                rt.block_on(scenario())
            })
            .join()
            .expect("simulation thread")
        };
        let (a, b) = (once(), once());
        if a != b {
            let what = format!("history digests differ: {a:#x} vs {b:#x}");
            fail_with_seed(test, seed, &[what]);
        }
    }
}

/// Declares a scenario `async fn $run()` as a module `$name` of two tests:
/// `$name::env_seeds`, a `#[madsim::test]` (seeds from `MADSIM_TEST_SEED`/`MADSIM_TEST_NUM`),
/// and `$name::fixed_seeds`, the [`FIXED_SEEDS`]. `cargo test -p sim $name` runs both.
#[macro_export]
macro_rules! scenario {
    ($name:ident, $run:ident) => {
        mod $name {
            #[madsim::test]
            async fn env_seeds() {
                super::$run().await
            }

            #[test]
            fn fixed_seeds() {
                $crate::run_seeds(stringify!($name), &$crate::FIXED_SEEDS, super::$run)
            }
        }
    };
}

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
