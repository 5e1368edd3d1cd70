//! The human monitor (HMP) for `monitor-core`.
//!
//! Planned: QEMU's `args_type` language, the HMP command table, `help`,
//! `info ...`, `human-monitor-command` and an interactive console. Nothing
//! is implemented yet; the crate exists so the workspace layout is final.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The crate this one builds on.
pub use monitor_core as core;
