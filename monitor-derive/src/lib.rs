//! Macros for `monitor-core`: one annotated function per QMP command.
//!
//! Use them through `monitor_core` (which re-exports them), so a VMM needs
//! no other dependency:
//!
//! ```ignore
//! use monitor_core::{qmp_command, CommandError, Event, Schema};
//! use serde::Serialize;
//!
//! #[derive(Serialize, Schema)]
//! struct StatusInfo { running: bool, status: String }
//!
//! /// Query the run state of the guest.
//! #[qmp_command(name = "query-status")]
//! fn query_status(vm: &Vm) -> Result<StatusInfo, CommandError> {
//!     Ok(StatusInfo { running: vm.running(), status: vm.status() })
//! }
//!
//! #[derive(Serialize, Schema, Event)]
//! #[event(name = "RTC_CHANGE")]
//! struct RtcChange { offset: i64 }
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
