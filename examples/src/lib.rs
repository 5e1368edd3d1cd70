//! Shared pieces of the example VMMs: QEMU-style option parsing, a stderr
//! logger, QEMU's handling of host signals, the benchmarks' event source
//! and (on x86-64 Linux) the KVM machine of the reference VMM. The terminal
//! console (`-monitor stdio`) is `monitor_hmp::stdio`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
pub mod calendar;
pub mod cli;
pub mod daemon;
pub mod logger;
pub mod monitors;
pub mod opts;
pub mod pty;
pub mod qemu_cmdline;
pub mod signals;
pub mod timers;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod vmm;
