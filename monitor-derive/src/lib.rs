//! Macros for `monitor-core`.
//!
//! This crate will host `#[qmp_command]`, `#[derive(Schema)]` and
//! `#[derive(Event)]` (see the project's issues). Until then, commands are
//! registered with `monitor_core::Command::typed` or `monitor_core::submit!`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
