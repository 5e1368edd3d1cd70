//! Shared pieces of the example VMMs: QEMU-style option parsing and a
//! stderr logger.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod logger;
pub mod stdio;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod vmm;
