//! Criterion benchmarks, one module per area:
//! - `parse`: stream framing;
//! - `dispatch`: a negotiated session, request bytes in, response bytes out;
//! - `events`: emission cost, and fan-out to clients over unix sockets;
//! - `throttle`: the event rate limiter with a synthetic clock.
//!
//! `cargo bench -p benches` measures; `cargo test --benches -p benches` runs
//! each benchmark once, as a smoke test.

use criterion::{criterion_group, criterion_main};

mod dispatch;
mod events;
mod parse;
mod throttle;

criterion_group!(
    benches,
    parse::bench,
    dispatch::bench,
    events::bench,
    throttle::bench
);
criterion_main!(benches);
