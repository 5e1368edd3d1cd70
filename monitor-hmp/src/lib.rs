//! The human monitor (HMP) for `monitor-core`: what operators type
//! (`info status`, `x /16xb 0x1000`) and what libvirt sends through
//! `human-monitor-command`.
//!
//! - [`args`]: QEMU's `args_type` mini-language and its parser, with QEMU's
//!   error messages;
//! - [`table`]: the command table, `help`, the `info` sub-table, running one
//!   line; commands come from `#[hmp_command]` and the generic set this crate
//!   ships (`help`, `info version|name|status|commands`, `quit`, `stop`,
//!   `cont`, `system_reset`, `system_powerdown`, `memsave`, `pmemsave`,
//!   `getfd`, `closefd`), each of which calls the VMM's QMP command of the
//!   same meaning and exists only while that command does;
//! - [`passthrough`]: the `human-monitor-command` QMP command;
//! - [`cpus`]: the VMM's CPUs as its `query-cpus-fast` reports them (what
//!   `cpu-index` may name);
//! - [`console`]: the interactive console (line editing, history, TAB
//!   completion) served on `-monitor` listeners;
//! - [`stdio`]: `-monitor stdio`, the process's terminal as a console, in
//!   QEMU's raw mode and restored at exit.
//!
//! # What start-up checks
//!
//! [`Hmp::install`] adds `human-monitor-command` and a start-up check:
//! `MonitorBuilder::spawn` fails when a `#[hmp_command]` has an `args_type`
//! that does not parse, or a name or alias defined twice (with the generic
//! set too), naming the command and where it is declared.
//!
//! # Banner, prompt and `info version`
//!
//! Consoles print QEMU's banner (`QEMU 7.2.0 monitor - type 'help' for more
//! information`, from the version given to `MonitorBuilder::version`) and
//! prompt (`(qemu) `), which scripts written for QEMU wait for; change them
//! with [`Hmp::banner`] and [`Hmp::prompt`]. `info version` prints
//! `MAJOR.MINOR.MICRO` immediately followed by the `package` string, as
//! QEMU does (`7.2.22Debian 1:7.2+dfsg-7`): give the package a leading
//! space (`" (my-vmm 0.3)"`) for `7.2.0 (my-vmm 0.3)`.
//!
//! # Logging
//!
//! This crate logs nothing itself: a command's errors are printed to the
//! operator, and mistakes in the table fail start-up. Its consoles are
//! connections of `monitor_core`, whose log (targets under
//! `monitor_core`, see its crate documentation) says when they come, go
//! or are closed.
//!
//! # Example
//!
//! ```
//! use monitor_core::{client::Client, ListenAddr, Monitor};
//! use monitor_hmp::Hmp;
//!
//! let dir = std::env::temp_dir();
//! let qmp = dir.join(format!("hmp-doc-{}.qmp", std::process::id()));
//! let hmp = Hmp::new();
//! let monitor = hmp
//!     .install(Monitor::builder().version(7, 2, 0, ""))
//!     .listen_unix(&qmp)
//!     .listen_console(ListenAddr::Unix(dir.join(format!("hmp-doc-{}.hmp", std::process::id()))), hmp.console())
//!     .spawn()?;
//! let mut client = Client::connect_unix(&qmp)?;
//! client.negotiate()?;
//! let text = client.execute("human-monitor-command", serde_json::json!({"command-line": "info version"}))?;
//! assert_eq!(text, "7.2.0\r\n");
//! let text = client.execute("human-monitor-command", serde_json::json!({"command-line": "bogus"}))?;
//! assert_eq!(text, "unknown command: 'bogus'\r\n");
//! monitor.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
mod builtins;
pub mod console;
pub mod cpus;
pub mod passthrough;
pub mod stdio;
pub mod table;

use std::sync::Arc;

use monitor_core::console::{ConsoleEffects, ConsoleFactory};
use monitor_core::session::Dispatcher;
use monitor_core::SessionInfo;
use monitor_core::{MonitorBuilder, VersionInfo};

pub use console::{HmpConsoleFactory, LineRunner};
pub use monitor_derive::hmp_command;
pub use table::{
    HmpCommand, HmpContext, HmpError, HmpHandler, HmpTable, HmpTableError, HmpTableErrors,
};

/// The crate this one builds on.
pub use monitor_core as core;

/// A human monitor: one command table, served over QMP
/// (`human-monitor-command`) and on console listeners.
///
/// # Examples
///
/// ```
/// use monitor_core::Monitor;
/// use monitor_hmp::Hmp;
///
/// let hmp = Hmp::new()
///     .banner("my-vmm 0.3 monitor - type 'help' for more information")
///     .prompt("(my-vmm) ");
/// // `install` adds `human-monitor-command` and makes `spawn()` check the
/// // table (bad `args_type`, a name defined twice).
/// let builder = hmp.install(Monitor::builder());
/// # let _ = builder;
/// ```
#[derive(Debug, Clone)]
pub struct Hmp {
    table: Arc<HmpTable>,
    prompt: Option<String>,
}

impl Default for Hmp {
    fn default() -> Self {
        Self::new()
    }
}

impl Hmp {
    /// The generic commands plus every `#[hmp_command]` in the program.
    ///
    /// The generic commands (`stop`, `cont`, `system_reset`,
    /// `system_powerdown`, `quit`, `memsave`, `pmemsave`, `getfd`,
    /// `closefd`, `info version|name|status|commands`) call the VMM's QMP
    /// commands of the same meaning; each is listed by `help` and runs
    /// only while that QMP command exists.
    pub fn new() -> Self {
        Self::with_table(HmpTable::new())
    }

    /// A monitor over a table of your own.
    pub fn with_table(table: HmpTable) -> Self {
        Hmp {
            table: Arc::new(table),
            prompt: None,
        }
    }

    /// Replaces the console banner. By default it is QEMU's,
    /// `QEMU 7.2.0 monitor - type 'help' for more information`, with the
    /// version given to `MonitorBuilder::version` (scripts written for
    /// QEMU look for it); an empty banner prints nothing.
    pub fn banner(mut self, banner: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.table).banner = Some(banner.into());
        self
    }

    /// Replaces the console prompt (`(qemu) ` by default; scripts that
    /// drive HMP consoles often wait for that one).
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// The command table.
    pub fn table(&self) -> &Arc<HmpTable> {
        &self.table
    }

    /// Adds `human-monitor-command` to a monitor being built, and a
    /// start-up check: `spawn()` fails if the table has a command whose
    /// `args_type` does not parse or a name defined twice
    /// ([`HmpTableErrors`]).
    pub fn install(&self, builder: MonitorBuilder) -> MonitorBuilder {
        let table = Arc::clone(&self.table);
        builder
            .command(passthrough::command(Arc::clone(&self.table)))
            .startup_check("the human monitor's command table", move |_| {
                table.check().map_err(Into::into)
            })
    }

    /// The console factory for `MonitorBuilder::listen_console` and
    /// `Monitor::attach_console`.
    pub fn console(&self) -> Arc<dyn ConsoleFactory> {
        let factory = HmpConsoleFactory::new(Arc::clone(&self.table));
        match &self.prompt {
            Some(prompt) => Arc::new(factory.with_prompt(prompt.clone())),
            None => Arc::new(factory),
        }
    }
}

impl LineRunner for HmpTable {
    fn run(
        &self,
        dispatcher: &Dispatcher,
        session: &SessionInfo,
        line: &str,
    ) -> (String, ConsoleEffects) {
        let (text, quit) = self.run_line(dispatcher, session, line, None);
        (text, ConsoleEffects { quit, close: false })
    }

    fn complete(&self, dispatcher: &Dispatcher, line_before_cursor: &str) -> Vec<String> {
        HmpTable::complete(self, &dispatcher.registry(), line_before_cursor)
    }

    fn banner(&self, dispatcher: &Dispatcher) -> String {
        if let Some(banner) = &self.banner {
            return banner.clone();
        }
        let v = dispatcher
            .state::<VersionInfo>()
            .cloned()
            .unwrap_or_default();
        format!(
            "QEMU {}.{}.{} monitor - type 'help' for more information",
            v.qemu.major, v.qemu.minor, v.qemu.micro
        )
    }
}

/// What generated code uses; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;

    pub use crate::table::HmpRegistration;
}
