//! # monitor-core
//!
//! The protocol engine of an embeddable QMP monitor for Rust VMMs: link it
//! into a rust-vmm based hypervisor and management software that speaks QMP
//! to QEMU (libvirt, `qemu.qmp`, `qmp-shell`) speaks to your VMM too.
//!
//! What it does, byte for byte as QEMU 7.2 does it:
//! - frames a JSON *stream* (not lines) with QEMU's dialect, limits and error
//!   recovery ([`stream`]);
//! - validates requests in QEMU's order and words ([`request`], [`args`]);
//! - runs capability negotiation and command mode per connection ([`session`]);
//! - answers one compact ASCII line per message, `\r\n` terminated ([`wire`]);
//! - serves any number of clients on unix and TCP sockets from one mio
//!   thread ([`Monitor`]), with events any thread can emit ([`Emitter`]).
//! - takes file descriptors passed over unix sockets (`getfd`, fd sets) as
//!   QEMU does ([`fds`]), and bounds who may connect and for how long
//!   ([`ServerConfig`]; every limit is in `docs/LIMITS.md`).
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
//! Commands declared with [`qmp_command`] are collected with `inventory`
//! from every crate linked into the program. A linker only keeps a library
//! crate's object code when something in it is used, so a crate that does
//! nothing but declare commands must be referenced from the binary (for
//! example `use my_commands as _;` plus a call to any function of it); the
//! examples keep their commands in the binary itself, and a test checks that
//! every one of them is found at run time.
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::unwrap_used)]

pub mod args;
mod builtins;
pub mod client;
pub mod command;
pub mod console;
mod error;
pub mod event;
mod fd_commands;
pub mod fds;
pub mod job;
mod monitor;
mod order;
mod parse;
pub mod pending;
pub mod request;
pub mod response;
pub mod schema;
pub mod server;
pub mod session;
mod state;
pub mod stream;
pub mod throttle;
mod value;
pub mod wire;

pub use builtins::{VersionInfo, VersionTriple};
pub use command::{
    Command, Context, Handler, Outcome, Registry, RegistryError, Reply, SessionInfo,
};
pub use error::{CommandError, ErrorClass, IntoErrorText, ResultExt};
pub use event::{Emitter, Event, IntoEvent, Timestamp, TypedEvent};
pub use monitor::{Monitor, MonitorBuilder};
pub use schema::Schema;
pub use server::{Exit, ListenAddr, ServerConfig, ServerError, Stats};
pub use state::{State, StateMap, StateRequirement};
pub use value::{Map, Value};

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
         (declare it with #[derive(Event)] or `register_event`, or remove the rule)"
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
    pub use crate::command::{schema_of, EventRegistration, Registration};
    pub use crate::error::CommandError;
    pub use crate::event::TypedEvent;
    pub use crate::pending::Completion;
    pub use crate::schema::{Member, ObjectInfo, Schema, SchemaGen, TypeKey, Variant};
    pub use crate::state::{State, StateRequirement};
    pub use crate::value::Map;
    pub use crate::{Context, Outcome, Reply};
}
