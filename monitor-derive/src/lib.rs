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
//! monitor.emitter().emit(RtcChange { offset: 3 });
//! assert_eq!(client.next_event()?["data"]["offset"], 3);
//! monitor.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - `#[qmp_command]` registers the function (through `inventory`) with its
//!   argument parsing, QEMU's error messages, and schema hooks.
//!
//! Generated code uses only `__monitor_*` names and paths under the
//! `#[doc(hidden)]` `__private` modules of `monitor_core` and
//! `monitor_hmp`, so it compiles in editions 2018, 2021 and 2024.
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
mod names;
mod schema;

use proc_macro::TokenStream;

/// Turns a function into a QMP command.
///
/// The command is registered at compile time (through `inventory`) and
/// served by every [`Monitor`] the program spawns, with QEMU's argument
/// checks and messages and a `query-qmp-schema` entry built from the
/// signature.
///
/// # Options
///
/// `#[qmp_command(name = "query-status", allow_oob, deprecated, features = ["unstable"])]`:
/// - `name`: the QMP name (default: the function's name with `_` turned
///   into `-`, so `fn query_status` is `query-status`);
/// - `allow_oob`: the command may run with `exec-oob`;
/// - `deprecated`, `features = [...]`: feature flags shown by introspection.
///
/// # Parameters
///
/// Each parameter is either a QMP argument or an *extractor*.
///
/// | parameter | what it is |
/// |---|---|
/// | `cpu_index: i64` (any owned `Deserialize + Schema` type) | the argument `cpu-index`; `Option<T>` makes it optional; `#[arg(name = "...")]` renames it |
/// | `#[args] args: MyArgs` | one struct holding every argument (no other argument parameter) |
/// | `vm: &Vm` | VMM state registered with `MonitorBuilder::state` (or `shared_state`) |
/// | `vm: State<Vm>` | the same state as an owned `Arc` handle, to move into a thread or future (any type named `State` with one type argument; a `State` of your own without one is an argument) |
/// | `session: &SessionInfo` | the calling session |
/// | `events: &Emitter` | the event emitter |
/// | `ctx: &Context<'_>` | everything above, plus descriptors passed with `getfd`, `call`, `request_quit` |
/// | `done: Completion<T>` | answer later, from any thread: the command's result type is `T` |
///
/// Every state type a command takes is checked by `MonitorBuilder::spawn`,
/// which fails naming the command and the type when it was never
/// registered.
///
/// # Results
///
/// Return `Result<T, E>` where `T: Serialize + Schema` and
/// `E: Into<CommandError>` (`CommandError` itself, `std::io::Error`,
/// `String`, `&str`, `Box<dyn Error + Send + Sync>`; for anything else use
/// `monitor_core::ResultExt`), a bare `T`, or nothing (`{}` on the wire).
/// The schema's return type is `T`.
///
/// # Deferred and async commands
///
/// A `Completion<T>` parameter defers the answer: the handler returns at
/// once and the command is answered when the handle is completed; later
/// in-band commands of the same client wait, other clients and `exec-oob`
/// do not. An `async fn` is polled on the monitor thread (no runtime
/// needed) and answers with its return value; it may borrow `&T` state,
/// `&SessionInfo` and `&Emitter` (its future holds an `Arc` or a clone),
/// but not `&Context`, which lives only during the call.
///
/// ```
/// use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
/// use monitor_core::{pending::Completion, qmp_command, CommandError, Schema, State};
/// use serde::{Deserialize, Serialize};
///
/// struct Vm { running: AtomicBool, balloon: AtomicU64 }
///
/// #[derive(Serialize, Schema)]
/// struct StatusInfo { running: bool, status: String }
///
/// /// Query the run state of the guest.
/// #[qmp_command(name = "query-status")]
/// fn query_status(vm: &Vm) -> StatusInfo {
///     let running = vm.running.load(Ordering::Relaxed);
///     StatusInfo { running, status: if running { "running" } else { "paused" }.into() }
/// }
///
/// #[derive(Deserialize, Schema)]
/// #[serde(rename_all = "lowercase")]
/// enum Unit { Bytes, Pages }
///
/// /// Typed, optional and enum arguments: `value`, `unit`.
/// #[qmp_command]
/// fn balloon(vm: &Vm, value: u64, unit: Option<Unit>) -> Result<(), CommandError> {
///     if value == 0 {
///         return Err("Parameter 'value' expects a positive size".into());
///     }
///     let bytes = match unit { Some(Unit::Pages) => value * 4096, _ => value };
///     vm.balloon.store(bytes, Ordering::Relaxed);
///     Ok(())
/// }
///
/// /// Answered from a worker thread.
/// #[qmp_command(name = "x-query-balloon-later")]
/// fn x_query_balloon_later(vm: State<Vm>, done: Completion<u64>) {
///     std::thread::spawn(move || done.ok(vm.balloon.load(Ordering::Relaxed)));
/// }
///
/// /// An async command reading state; its schema says it returns a bool.
/// #[qmp_command(name = "x-is-running")]
/// async fn x_is_running(vm: &Vm) -> bool {
///     vm.running.load(Ordering::Relaxed)
/// }
/// ```
///
/// # Commands in a library crate
///
/// A linker drops a library crate the binary never names, and the
/// commands registered in it with it: they are simply absent at run time.
/// Name such a crate in the binary with one line,
///
/// ```ignore
/// use my_vmm_commands as _;
/// ```
///
/// and let start-up check that they are there:
/// `MonitorBuilder::require_commands(&["x-my-command", ...])` makes
/// `spawn()` fail naming any that is missing.
///
/// [`Monitor`]: ../monitor_core/struct.Monitor.html
#[proc_macro_attribute]
pub fn qmp_command(attr: TokenStream, item: TokenStream) -> TokenStream {
    command::expand(attr.into(), item.into()).into()
}

/// Registers a human-monitor (HMP) command; use it through `monitor_hmp`.
///
/// `#[hmp_command(name = "info balloon", args_type = "", params = "", help = "...")]`
/// on a `fn(&mut HmpContext<'_>, &Args) -> Result<(), HmpError>`:
/// - `name`: the command, with `|aliases` (`"cont|c"`); `info NAME` makes
///   an `info` item. Default: the function's name.
/// - `args_type`: QEMU's argument mini-language (`"name:s,up:b"`,
///   `"fmt:/,addr:l"`): parsed with QEMU's rules and error messages.
/// - `params`, `help`: what `help` prints (`name params -- help`); `help`
///   is required.
///
/// A bad `args_type`, or a name or alias defined twice, makes
/// `MonitorBuilder::spawn` fail (through `Hmp::install`), naming the
/// command and where it is declared.
///
/// ```
/// use monitor_hmp::args::Args;
/// use monitor_hmp::{hmp_command, HmpContext, HmpError};
///
/// /// `set_link net0 off`: calls the VMM's QMP command.
/// #[hmp_command(
///     name = "set_link",
///     args_type = "name:s,up:b",
///     params = "name on|off",
///     help = "change the link status of a network adapter"
/// )]
/// fn set_link(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
///     let up = args.bool("up").unwrap_or(false);
///     ctx.qmp("set_link", serde_json::json!({"name": args.str("name"), "up": up}))?;
///     Ok(())
/// }
///
/// /// `info uptime`: prints text.
/// #[hmp_command(name = "info uptime", help = "show how long the VM has run")]
/// fn info_uptime(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
///     ctx.print("12 s\n");
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn hmp_command(attr: TokenStream, item: TokenStream) -> TokenStream {
    hmp::expand(attr.into(), item.into()).into()
}

/// Describes a struct or enum for `query-qmp-schema`, as QEMU's QAPI
/// would: argument and result types of commands, event data.
///
/// The description follows what serde puts on the wire. Honoured serde
/// attributes:
/// - on containers: `rename`, `rename_all` (every serde rule),
///   `transparent`, `default`, `tag = "..."` (an enum with data is a QAPI
///   *flat union*), `untagged` (an *alternate*);
/// - on fields and variants: `rename`, `skip` (also `skip_serializing`,
///   `skip_deserializing`), `flatten`, `default` and `skip_serializing_if`
///   (both make the member optional).
///
/// Other serde attributes (`alias`, `with`, `bound`, `deny_unknown_fields`,
/// ...) do not change the schema and are ignored. Shapes QAPI cannot
/// express are compile errors: generic types, unions, tuple structs and
/// variants, adjacently tagged (`content`) and externally tagged enums
/// with data. `Option<T>` members are optional; newtype structs are their
/// inner type.
///
/// ```
/// use monitor_core::Schema;
/// use serde::{Deserialize, Serialize};
///
/// /// A QAPI enum: `"running"`, `"paused"`.
/// #[derive(Serialize, Schema)]
/// #[serde(rename_all = "lowercase")]
/// enum RunState { Running, Paused }
///
/// #[derive(Serialize, Schema)]
/// #[serde(rename_all = "kebab-case")]
/// struct CpuInfo {
///     cpu_index: i64,              // "cpu-index"
///     qom_path: String,            // "qom-path"
///     #[serde(skip_serializing_if = "Option::is_none")]
///     thread_id: Option<i64>,      // optional
/// }
///
/// /// A flat union on `type`.
/// #[derive(Deserialize, Schema)]
/// #[serde(tag = "type", rename_all = "lowercase")]
/// enum SocketAddress {
///     Unix { path: String },
///     Inet { host: String, port: String },
/// }
/// ```
#[proc_macro_derive(Schema, attributes(serde))]
pub fn derive_schema(input: TokenStream) -> TokenStream {
    schema::expand(input.into()).into()
}

/// Declares an event type: listed by `query-events` and the schema, and
/// emitted with `Emitter::emit` from any thread.
///
/// `#[event(name = "RTC_CHANGE")]` names it (default: the type's name in
/// `SCREAMING_SNAKE_CASE`); `#[event(deprecated)]` flags it. The type's
/// `Serialize` output is the event's `data` (a unit struct has none), so
/// derive `Serialize` and `Schema` too. Events are throttled by
/// `MonitorBuilder::throttle_policy` (QEMU's table by default); a rule for
/// an event nobody declares makes `spawn()` fail.
///
/// ```
/// use monitor_core::{Event, Monitor, Schema};
/// use serde::Serialize;
///
/// #[derive(Serialize, Schema, Event)]
/// #[event(name = "RTC_CHANGE")]
/// struct RtcChange {
///     offset: i64,
///     #[serde(rename = "qom-path")]
///     qom_path: String,
/// }
///
/// #[derive(Serialize, Schema, Event)]
/// struct Resume; // "RESUME", no data
///
/// let monitor = Monitor::builder().spawn()?;
/// monitor.emitter().emit(RtcChange { offset: 3, qom_path: "/machine/unattached/device[8]".into() });
/// monitor.emitter().emit(Resume);
/// monitor.shutdown();
/// # Ok::<(), monitor_core::Error>(())
/// ```
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    event::expand(input.into()).into()
}
