//! Macros for `monitor-core`: one annotated function per QMP command.
//!
//! Use them through `monitor_core` (which re-exports them), so a VMM needs
//! no other dependency:
//!
//! ```
//! use monitor_core::{client::Client, qmp_command, CommandError, Event, Monitor, Schema};
//! use serde::Serialize;
//!
//! /// The VMM's state, registered with the builder; handlers borrow it by type.
//! struct Vm { running: bool }
//!
//! #[derive(Serialize, Schema)]
//! struct StatusInfo { running: bool, status: String }
//!
//! /// Query the run state of the guest.
//! #[qmp_command(name = "query-status")]
//! fn query_status(vm: &Vm) -> Result<StatusInfo, CommandError> {
//!     let status = if vm.running { "running" } else { "paused" };
//!     Ok(StatusInfo { running: vm.running, status: status.into() })
//! }
//!
//! /// Read guest memory (arguments are `val`, `size` and optional `cpu-index`).
//! #[qmp_command(name = "x-peek")]
//! fn x_peek(val: u64, size: u64, cpu_index: Option<i64>) -> Result<Vec<u8>, CommandError> {
//!     let _ = (val, cpu_index);
//!     Ok(vec![0; size as usize])
//! }
//!
//! #[derive(Serialize, Schema, Event)]
//! #[event(name = "RTC_CHANGE")]
//! struct RtcChange { offset: i64 }
//!
//! let path = std::env::temp_dir().join(format!("derive-doc-{}.sock", std::process::id()));
//! let monitor = Monitor::builder().state(Vm { running: true }).listen_unix(&path).spawn()?;
//! let mut client = Client::connect_unix(&path)?;
//! client.negotiate()?;
//! let status = client.execute("query-status", serde_json::json!({}))?;
//! assert_eq!(status["status"], "running");
//! let err = client.execute("x-peek", serde_json::json!({"size": 2})).unwrap_err();
//! assert_eq!(err.to_string(), "GenericError: Parameter 'val' is missing");
//! monitor.events().emit(RtcChange { offset: 3 });
//! assert_eq!(client.next_event()?["data"]["offset"], 3);
//! monitor.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `#[qmp_command]` registers the function (through `inventory`) with its
//!   argument parsing, QEMU's error messages, and schema hooks.
//! - `#[derive(Schema)]` describes a type for `query-qmp-schema`, honouring
//!   serde's attributes.
//! - `#[derive(Event)]` names an event type and declares it.
//!
//! Every mistake is one spanned compile error; the user's item is re-emitted
//! so that nothing cascades.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod attrs;
mod command;
mod event;
mod hmp;
mod schema;

use proc_macro::TokenStream;

/// Turns a function into a QMP command.
///
/// Options: `name = "query-status"` (default: the function name with `_`
/// turned into `-`), `allow_oob`, `deprecated`, `features = ["..."]`.
///
/// Parameters: `&T` is VMM state registered with the builder (or the
/// session's `&SessionInfo`, `&Emitter`, `&Context`); any other parameter is
/// a QMP argument named after it (`cpu_index` is `cpu-index`;
/// `#[arg(name = "...")]` overrides; `Option<T>` is optional), or a single
/// `#[args]` struct holds them all. Returns `Result<T, E>` with
/// `E: Into<CommandError>`, or a bare `T`.
#[proc_macro_attribute]
pub fn qmp_command(attr: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(attr.into(), item.into()).into()
}

/// Registers a human-monitor (HMP) command:
/// `#[hmp_command(name = "info balloon", args_type = "", params = "", help = "...")]`
/// on a `fn(&mut HmpContext<'_>, &Args) -> Result<(), HmpError>`. Use it
/// through `monitor_hmp`.
#[proc_macro_attribute]
pub fn hmp_command(attr: TokenStream, item: TokenStream) -> TokenStream {
    hmp::expand(attr.into(), item.into()).into()
}

/// Describes a struct or enum for schema introspection.
#[proc_macro_derive(Schema, attributes(serde))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    schema::expand(input.into()).into()
}

/// Declares an event type: `#[event(name = "RTC_CHANGE")]` (default: the
/// type name in `SCREAMING_SNAKE_CASE`).
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    event::expand(input.into()).into()
}
