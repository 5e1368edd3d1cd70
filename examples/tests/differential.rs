//! Differential tests: the same bytes go to QEMU 7.2 and to `minimal`, and the
//! answers must match line for line (events dropped, versions and command
//! lists masked). The cases cover capabilities negotiation, request
//! validation, command dispatch, JSON parse errors and recovery, strings and
//! numbers, `id` echo, framing across writes, out-of-band execution and
//! `quit`. `differential_fuzz.rs` adds generated cases. The rules the
//! cases check are stated in `docs/PROTOCOL.md`.
//!
//! Needs `qemu-system-x86_64` on `PATH`; without it the tests are skipped,
//! except under `CI` where that is a failure.
//!
//! The cases are grouped by subject, one file each under `differential/`.
//!
//! `cargo test -p examples --test differential -- --nocapture`

mod util;

#[path = "differential/connection.rs"]
mod connection;
#[path = "differential/ids.rs"]
mod ids;
#[path = "differential/negotiation.rs"]
mod negotiation;
#[path = "differential/parsing.rs"]
mod parsing;
#[path = "differential/requests.rs"]
mod requests;

/// `depth` nested empty arrays.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}
