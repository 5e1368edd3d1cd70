//! # monitor-core
//!
//! The protocol engine of an embeddable QMP monitor for Rust VMMs: link it
//! into a rust-vmm based hypervisor and management software that speaks QMP
//! to QEMU (libvirt, `qemu.qmp`, `qmp-shell`) speaks to your VMM too.
//!
//! What it does, byte for byte as QEMU 7.2 does it (`docs/PROTOCOL.md` in
//! the repository states each rule with QEMU's text and source, and every
//! difference from QEMU):
//! - frames a JSON *stream* (not lines) with QEMU's dialect, limits and error
//!   recovery ([`stream`]);
//! - validates requests in QEMU's order and words ([`args`]);
//! - runs capability negotiation and command mode per connection ([`session`]);
//! - answers one compact ASCII line per message, `\r\n` terminated ([`wire`]);
//! - serves any number of clients on unix and TCP sockets from one mio
//!   thread ([`Monitor`]), with events any thread can emit ([`Emitter`]);
//!   sockets it binds, or listening sockets handed over as descriptors as
//!   libvirt does ([`MonitorBuilder::listen_fd`]), compact or in QEMU's
//!   `pretty=on` layout ([`ListenOptions`]).
//! - takes file descriptors passed over unix sockets (`getfd`, fd sets) as
//!   QEMU does ([`fds`]), and bounds who may connect and for how long
//!   ([`ServerConfig`]; every limit is in `docs/LIMITS.md`).
//! - parses QEMU's monitor and chardev options (`-chardev`, `-mon`, `-qmp`,
//!   `-monitor`, `-serial`) as libvirt passes them ([`qemu_opts`]).
//! - answers libvirt's questions about the machine (`qom-list-types`,
//!   `query-machines`, `qom-list`, `query-chardev`, ...) from a model the
//!   VMM declares ([`machine`]), and reports the QEMU protocol level it
//!   speaks ([`MonitorBuilder::qemu_compat`], [`QEMU_7_2`]).
//!
//! # Example
//!
//! Declare a command, start a monitor, connect, negotiate and call it:
//!
//! ```
//! use monitor_core::{client::Client, qmp_command, CommandError, Monitor, Schema};
//! use serde::Serialize;
//!
//! #[derive(Serialize, Schema)]
//! struct Sum { sum: i64 }
//!
//! /// Add two numbers.
//! #[qmp_command(name = "x-add")]
//! fn x_add(a: i64, b: i64) -> Result<Sum, CommandError> {
//!     Ok(Sum { sum: a + b })
//! }
//!
//! let path = std::env::temp_dir().join(format!("crate-doc-{}.sock", std::process::id()));
//! let monitor = Monitor::builder()
//!     .version(1, 2, 0, "my-vmm")
//!     .listen_unix(&path)
//!     .spawn()?;
//!
//! let mut client = Client::connect_unix(&path)?;
//! client.negotiate()?;
//! let sum = client.execute("x-add", serde_json::json!({"a": 2, "b": 3}))?;
//! assert_eq!(sum["sum"], 5);
//! let err = client.execute("x-add", serde_json::json!({"a": 2})).unwrap_err();
//! assert_eq!(err.to_string(), "GenericError: Parameter 'b' is missing");
//! monitor.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Embedding, in order
//!
//! 1. Declare commands with [`qmp_command`] (typed arguments, results and
//!    QEMU's messages), their types with [`Schema`](derive@Schema), events with [`Event`](derive@Event).
//!    Handlers take VMM state by type (`vm: &Vm`, or [`State<Vm>`] to keep
//!    it beyond the call), answer later with a
//!    [`Completion`](pending::Completion) or as an `async fn`, and return
//!    errors with `?` ([`CommandError`] converts from `std::io::Error`,
//!    strings and boxed errors; [`ResultExt`] does the rest).
//! 2. Build the monitor: [`Monitor::builder`], then
//!    [`state`](MonitorBuilder::state) for each state type, listeners,
//!    limits, hooks ([`on_connect`](MonitorBuilder::on_connect),
//!    [`on_disconnect`](MonitorBuilder::on_disconnect),
//!    [`on_quit`](MonitorBuilder::on_quit)).
//! 3. [`spawn`](MonitorBuilder::spawn) checks the configuration before it
//!    binds anything, so mistakes fail at start-up rather than at a
//!    client's first call: a command taking state nobody registered, two
//!    commands or events with one name, a throttle rule for an undeclared
//!    event, a command listed with
//!    [`require_commands`](MonitorBuilder::require_commands) that is not
//!    linked in, and the checks extensions add (the human monitor's
//!    command table, see `monitor_hmp`).
//! 4. Emit events from any thread with [`Monitor::emitter`].
//!
//! # The public API
//!
//! Each item has one path. What is public is kept stable: CI compares it
//! with the baseline in the repository's `api/` directory, so a change to
//! it is deliberate.
//!
//! - **The crate root** is what an embedder uses every day: the monitor
//!   ([`Monitor`], [`MonitorBuilder`], [`Error`], [`ServerConfig`],
//!   [`ListenAddr`], [`ListenOptions`], [`ListenSource`], [`Exit`],
//!   [`Stats`]), commands ([`qmp_command`], [`Command`], [`Handler`],
//!   [`Context`], [`SessionInfo`], [`Reply`], [`CommandError`],
//!   [`ResultExt`], [`State`], [`Registry`]), values ([`Value`], [`Map`]),
//!   the [`Schema`](trait@Schema) trait and its derive, events ([`Event`](struct@Event)
//!   and its derive, [`TypedEvent`], [`Emitter`], [`EventDescriptor`],
//!   [`Shutdown`]) and versions ([`VersionInfo`], [`QEMU_7_2`]).
//! - **Modules, one noun each**, for what fewer VMMs need: [`args`]
//!   (arguments of a hand-written handler), [`pending`] (answering
//!   later), [`job`], [`fds`], [`machine`] (what libvirt asks about the
//!   machine), [`qemu_opts`], [`console`] (a human monitor, as
//!   `monitor-hmp` provides), [`schema`] (describing types by hand), and
//!   `client` (a blocking client; the default feature `client`).
//! - **A transport of your own** drives the sans-I/O engine the server
//!   uses: [`session`] (a client's state machine over a shared
//!   [`Dispatcher`](session::Dispatcher)), [`stream`] (QEMU's JSON
//!   framing), [`wire`] (QEMU's output encoding), [`throttle`], and the
//!   events of an [`Emitter`] from its one [`EventReceiver`] (a running
//!   monitor holds its own, so nobody takes events from its clients).
//! - `__private` is what the macros generate code against: hidden, and
//!   not part of the API.
//!
//! # Commands in library crates
//!
//! Commands declared with [`qmp_command`] are collected with `inventory`
//! from every crate linked into the program. A linker drops a library
//! crate that the binary never names, and its commands with it, silently.
//! One line in the binary keeps such a crate:
//!
//! ```ignore
//! use my_vmm_commands as _;
//! ```
//!
//! and [`MonitorBuilder::require_commands`] turns a missing command into a
//! start-up error instead of a client's `CommandNotFound`.
//!
//! # Logging
//!
//! The crate logs through the [`log`](https://docs.rs/log) facade and
//! prints nothing itself: install a logger (`env_logger`, `simple_logger`,
//! your VMM's own) to see these messages. Targets are the module paths
//! under `monitor_core` (`monitor_core::server`, `monitor_core::event`,
//! ...), so `monitor_core` selects them all.
//!
//! | level | message | what it means |
//! |---|---|---|
//! | warn | `session N: closing the connection: REASON` | the monitor closed a client: a limit in `docs/LIMITS.md` (`output limit exceeded (N bytes of events unread, none taken for T)`, `cannot keep up: N bytes of events unread (limit L)`, negotiation timeout), or a failed read or write other than the client leaving; at most 10 a 10 s |
//! | warn | `refused a client of ADDR: REASON` | a client was closed before its greeting: the client limit, a peer uid outside the allow-list, or the descriptor budget (`the monitor holds N descriptors for its clients, its limit`); at most 10 a 10 s |
//! | warn | `KIND: N more messages like this suppressed in the last 10 s` | the rate limit above held back N lines of that kind (`closing a connection`, `refused a client`); logged when the 10 s are over |
//! | warn | `session N: closed the descriptors it passed: REASON` | the descriptors of a client's message were closed as they arrived: over the descriptor budget, or one was a connection to this monitor (`getfd`/`add-fd` then fail with REASON) |
//! | warn | `QMP listener on ADDR is reachable from other hosts and has no authentication` | a TCP listener on a non-loopback address |
//! | warn | `the peer uid allow-list does not apply to ADDR: TCP peers have no uid` | `allow_uids` with a TCP listener |
//! | warn | `session N: more than 16 descriptors in one message; the rest were closed` | a client passed too many descriptors at once |
//! | warn | `event queue full (128 MiB): dropped N events` | more than [`EVENT_QUEUE_BYTES`] of events were emitted while the monitor thread was busy; logged when it next takes the queue |
//! | warn | `event NAME: no throttle key: ...` | a keyed throttle rule's member is missing from the event's data; the event is throttled as one key |
//! | warn | `accept on ADDR failed: ...; trying again when a descriptor is freed` | `accept` failed (often: the process is out of descriptors); it is tried again every 100 ms and whenever a client leaves, and logged again only after it has worked |
//! | warn | `cannot register a client`, `cannot attach a console` | the operating system refused a socket operation (often: out of descriptors) |
//! | warn | `job N ended without finishing` | a [`job`] handle was dropped without an outcome |
//! | error | `command NAME panicked; answering with an error` | a handler panicked; the client got a `GenericError`, everyone else is served on |
//! | error | `cannot wake the monitor thread: ...` | the monitor's waker failed (the operating system refused an `eventfd` write); events or answers may wait for the next client activity |
//! | error | `session N: a session hook panicked` | an `on_connect`/`on_disconnect` hook panicked; the monitor goes on |
//! | error | `event NAME: cannot serialise its data` | an event's `Serialize` failed; the event is dropped |
//! | info | `replacing stale socket PATH` | a socket file nobody listens on was removed before binding |
//! | debug | `serving fd N, listening on ADDR` | an inherited listening socket ([`MonitorBuilder::listen_fd`]) was taken over |
//! | debug | `session N: connected on ADDR`, `disconnected`, `cancelled N pending commands` | client life cycle |
//! | debug | `session N: closing the connection: read failed: ...`, `write failed: ...` | the client left abruptly (connection reset, broken pipe): nothing to warn about, as in QEMU |
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::unwrap_used)]

// The derives generate `::monitor_core::...` paths; this makes them
// resolve inside the crate too (the machine model derives its wire types).
extern crate self as monitor_core;

pub mod args;
mod builtins;
#[cfg(feature = "client")]
pub mod client;
mod command;
pub mod console;
mod dispatch;
mod error;
mod event;
mod fd_commands;
pub mod fds;
mod introspect;
pub mod job;
mod log_limit;
pub mod machine;
mod monitor;
mod order;
mod parse;
pub mod pending;
pub mod qemu_opts;
mod registry;
mod reply;
mod request;
mod response;
mod server;
pub mod session;
mod state;
pub mod stream;
pub mod throttle;
mod value;
mod version;
pub mod wire;

/// Describing types by hand for `query-qmp-schema`, in QEMU's
/// `SchemaInfo` format: what [`Schema`](trait@Schema) implementations
/// call (`#[derive(Schema)]` writes these calls for you). A [`SchemaGen`](schema::SchemaGen)
/// collects the descriptions into the list `query-qmp-schema` returns:
/// builtins, enums, arrays, objects, alternates, commands, events. As in
/// QEMU, type names other than builtins are opaque numbers ("0" is the
/// empty object); array types are named `[element]`.
///
/// # Examples
///
/// ```
/// use monitor_core::schema::{Member, ObjectInfo, SchemaGen};
/// use monitor_core::Schema;
///
/// struct Point { x: i64, label: Option<String> }
///
/// impl Schema for Point {
///     fn schema(schema_gen: &mut SchemaGen) -> String {
///         schema_gen.object::<Self>(|schema_gen| ObjectInfo::new(vec![
///             Member::new("x", schema_gen.describe::<i64>()),
///             Member::optional("label", schema_gen.describe::<String>()),
///         ]))
///     }
/// }
///
/// let mut schema_gen = SchemaGen::new();
/// let name = schema_gen.describe::<Point>();
/// let entries = serde_json::to_value(schema_gen.entries()).unwrap();
/// let point = entries.as_array().unwrap().iter().find(|e| e["name"] == name).unwrap();
/// assert_eq!(point["meta-type"], "object");
/// assert_eq!(point["members"][1], serde_json::json!({"name": "label", "type": "str", "default": null}));
/// ```
pub mod schema {
    pub use crate::introspect::{
        schema_of, Member, Null, ObjectInfo, SchemaGen, SchemaHook, SchemaInfo, TypeKey, Variant,
        EMPTY_OBJECT,
    };
}

pub use builtins::{Shutdown, ShutdownCause};
pub use command::Command;
pub use dispatch::{Context, Handler, HandlerFn, SessionInfo};
pub use error::{CommandError, ErrorClass, IntoErrorText, ResultExt};
pub use event::{
    Emitter, Event, EventDescriptor, EventReceiver, IntoEvent, Timestamp, TypedEvent,
    EVENT_QUEUE_BYTES,
};
pub use introspect::Schema;
pub use monitor::{Monitor, MonitorBuilder};
pub use registry::{Registry, RegistryError};
pub use reply::{Outcome, Reply};
pub use server::{
    Exit, InheritError, ListenAddr, ListenOptions, ListenSource, ServerConfig, ServerError, Stats,
};
pub use state::{State, StateMap, StateRequirement};
pub use value::{Map, Value};
pub use version::{VersionInfo, VersionTriple, QEMU_7_2};

pub use monitor_derive::{qmp_command, Event, Schema};

/// Errors of the crate's embedding API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command table is inconsistent.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The server could not start or failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The monitor thread could not be started.
    #[error("cannot start the monitor thread")]
    Thread(#[source] std::io::Error),
    /// Someone else holds the emitter's [`EventReceiver`] (see
    /// [`Emitter::receiver`]): the monitor would not see its events.
    #[error("the emitter's events are taken by an EventReceiver held elsewhere")]
    EventsTaken,
    /// The monitor thread panicked.
    #[error("the monitor thread panicked")]
    Panicked,
    /// A command takes VMM state of a type nobody registered.
    #[error(
        "command `{command}` takes state of type {type_name}, which was never registered \
         (add `.state(...)` or `.shared_state(...)` to the monitor builder)"
    )]
    MissingState {
        /// The command.
        command: String,
        /// The state type.
        type_name: &'static str,
    },
    /// Commands the VMM requires are not registered (see
    /// [`MonitorBuilder::require_commands`]).
    #[error(
        "required commands are not registered: {}; a crate that declares commands must be \
         linked into the binary (`use my_commands as _;`)",
        .0.join(", ")
    )]
    MissingCommands(Vec<String>),
    /// A throttle rule names an event the monitor does not declare.
    #[error(
        "the throttle policy has a rule for event `{0}`, which is not declared \
         (declare it with #[derive(Event)] or `MonitorBuilder::event`, or remove the rule)"
    )]
    UnknownThrottledEvent(String),
    /// A start-up check (for example the human monitor's command table)
    /// failed.
    #[error("{what}: {source}")]
    Check {
        /// What was checked.
        what: String,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What generated code uses; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
    pub use serde;
    pub use serde_json;

    pub use crate::args::{from_arguments, Arguments};
    pub use crate::command::Registration;
    pub use crate::error::CommandError;
    pub use crate::event::EventRegistration;
    pub use crate::event::TypedEvent;
    pub use crate::introspect::{
        schema_of, Member, ObjectInfo, Schema, SchemaGen, TypeKey, Variant,
    };
    pub use crate::pending::Completion;
    pub use crate::state::{State, StateRequirement};
    pub use crate::value::Map;
    pub use crate::{Context, Outcome, Reply};
}
