//! Shared pieces of the example VMMs: QEMU-style option parsing and a
//! stderr logger.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod logger;
pub mod stdio;
