//! The side-by-side comparison behind `cargo run --release -p benches --bin
//! compare`: this monitor (`minimal`, `refvmm -S`), QEMU 7.2 and an echo
//! floor, measured from outside over unix sockets, round by round.
//!
//! - [`floor`]: the echo server that sets the floor;
//! - [`qmp`]: the bare client the measurements use;
//! - [`target`]: the servers, how they start;
//! - [`measure`]: round trips, requests in flight, concurrent clients,
//!   event rates, memory with idle clients and under a shared fan-out;
//! - [`idle`]: wake-ups and CPU of a server nobody talks to;
//! - [`attack`]: a probe's latency while another client attacks;
//! - [`procfs`]: what `/proc` says of a process;
//! - [`stats`], [`report`]: medians, the table, the targets, the chart;
//! - [`sys`]: the open-file limit 1,000 clients need, clock ticks;
//!   servers die with this process.

pub mod attack;
pub mod floor;
pub mod idle;
pub mod measure;
pub mod procfs;
pub mod qmp;
pub mod report;
pub mod stats;
pub mod sys;
pub mod target;
