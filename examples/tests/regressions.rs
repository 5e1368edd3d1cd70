//! Regression tests for hostile clients: one test (or a few) per defect an
//! adversarial review found, each named `defect_NN_...` after it. Every
//! attack runs against a real `minimal` process while a well-behaved
//! client probes it (`query-version`, see [`harness::Probe`]); the tests
//! check that the probe is always answered and never disconnected, that
//! the process's memory stays under the bound `docs/LIMITS.md` states,
//! and that its descriptors return to their baseline.
//!
//! How quickly the probe is answered during each attack is measured, not
//! asserted: `cargo test --release -p examples --test regressions --
//! --nocapture --test-threads=1` prints the probe's worst latency per
//! attack.
//!
//! `cargo test -p examples --test regressions`

mod util;

#[path = "regressions/fds.rs"]
mod fds;
#[path = "regressions/harness.rs"]
mod harness;
#[path = "regressions/hooks.rs"]
mod hooks;
#[path = "regressions/output.rs"]
mod output;
#[path = "regressions/signals.rs"]
mod signals;

#[path = "regressions/hmp.rs"]
mod hmp;
#[path = "regressions/memory.rs"]
mod memory;
