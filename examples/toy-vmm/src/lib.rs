//! A toy VMM's monitor, written as a new user would from the README and
//! the crate docs, in edition 2024 (what `cargo new` makes), through the
//! public API only: typed, optional and enum arguments; a struct result;
//! a command answered from a thread through a `Completion`; an `async fn`
//! that reads VMM state; a per-key throttled event; HMP commands; QMP on a
//! unix socket and on TCP, and a human-monitor console.
//!
//! Its test (`tests/first_hour.rs`) drives all of it over real sockets.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use monitor_core::pending::{Completion, oneshot};
use monitor_core::throttle::{Policy, Rule};
use monitor_core::{
    CommandError, Emitter, ErrorClass, Event, ListenAddr, Monitor, Schema, State, qmp_command,
};
use monitor_hmp::args::Args;
use monitor_hmp::{Hmp, HmpContext, HmpError, hmp_command};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The toy machine: a run state and some network links.
#[derive(Debug)]
pub struct Vm {
    running: Mutex<bool>,
    links: Mutex<BTreeMap<String, LinkState>>,
}

impl Vm {
    /// A running machine with these network devices, all up.
    pub fn new(nics: &[&str]) -> Self {
        Vm {
            running: Mutex::new(true),
            links: Mutex::new(
                nics.iter()
                    .map(|n| ((*n).to_owned(), LinkState::Up))
                    .collect(),
            ),
        }
    }

    fn running(&self) -> bool {
        *self.running.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A link's state, as QMP spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    /// Carrier on.
    Up,
    /// Carrier off.
    Down,
}

/// What `query-status` answers.
#[derive(Debug, Serialize, Schema)]
pub struct StatusInfo {
    /// Whether the vCPUs run.
    pub running: bool,
    /// `running` or `paused`.
    pub status: String,
}

/// Emitted when a link changes, at most once a second per link (the
/// throttle is keyed on `name`).
#[derive(Debug, Serialize, Schema, Event)]
#[event(name = "TOY_LINK_CHANGE")]
pub struct LinkChange {
    /// The device.
    pub name: String,
    /// Its new state.
    pub state: LinkState,
}

/// Query the run state of the guest.
#[qmp_command(name = "query-status")]
fn query_status(vm: &Vm) -> StatusInfo {
    let running = vm.running();
    StatusInfo {
        running,
        status: if running { "running" } else { "paused" }.to_owned(),
    }
}

/// Stop the guest.
#[qmp_command]
fn stop(vm: &Vm) {
    *vm.running.lock().unwrap_or_else(|e| e.into_inner()) = false;
}

/// Resume the guest.
#[qmp_command]
fn cont(vm: &Vm) {
    *vm.running.lock().unwrap_or_else(|e| e.into_inner()) = true;
}

/// Set a network device's link state; `reason` is for the operator and
/// changes nothing.
#[qmp_command(name = "x-set-link")]
fn set_link(
    vm: &Vm,
    events: &Emitter,
    name: String,
    state: LinkState,
    reason: Option<String>,
) -> Result<(), CommandError> {
    let mut links = vm.links.lock().unwrap_or_else(|e| e.into_inner());
    let Some(link) = links.get_mut(&name) else {
        return Err(CommandError::new(
            ErrorClass::DeviceNotFound,
            format!("Device '{name}' not found"),
        ));
    };
    let _ = reason;
    *link = state;
    events.emit(LinkChange { name, state });
    Ok(())
}

/// What `x-settle` answers.
#[derive(Debug, Serialize, Schema)]
pub struct Settled {
    /// The links that are up.
    pub up: Vec<String>,
}

/// Answer from a worker thread, after the devices settle.
#[qmp_command(name = "x-settle")]
fn settle(vm: State<Vm>, done: Completion<Settled>) {
    std::thread::spawn(move || {
        let links = vm.links.lock().unwrap_or_else(|e| e.into_inner());
        let up = links
            .iter()
            .filter(|(_, s)| **s == LinkState::Up)
            .map(|(n, _)| n.clone())
            .collect();
        done.ok(Settled { up });
    });
}

/// Wait `ms` milliseconds without blocking the monitor, then report the
/// run state.
#[qmp_command(name = "x-wait")]
async fn wait(vm: &Vm, ms: u64) -> Result<StatusInfo, CommandError> {
    let (tx, rx) = oneshot();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        tx.send(());
    });
    rx.await.ok_or("the timer thread went away")?;
    Ok(query_status(vm))
}

/// `info links`: one line per network device.
#[hmp_command(name = "info links", help = "show the network links")]
fn info_links(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let links: Vec<(String, LinkState)> = {
        let vm = ctx.state::<Vm>()?;
        let links = vm.links.lock().unwrap_or_else(|e| e.into_inner());
        links.iter().map(|(n, s)| (n.clone(), *s)).collect()
    };
    for (name, state) in links {
        ctx.print(&format!(
            "{name}: {}\n",
            if state == LinkState::Up { "up" } else { "down" }
        ));
    }
    Ok(())
}

/// `set_link NAME on|off`, QEMU's spelling, through the QMP command.
#[hmp_command(
    name = "set_link",
    args_type = "name:s,up:b",
    params = "name on|off",
    help = "change the link status of a network adapter"
)]
fn hmp_set_link(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let state = if args.bool("up").unwrap_or(false) {
        "up"
    } else {
        "down"
    };
    ctx.qmp(
        "x-set-link",
        json!({"name": args.str("name").unwrap_or_default(), "state": state}),
    )?;
    Ok(())
}

/// Where the toy listens.
#[derive(Debug, Clone)]
pub struct Listeners<'a> {
    /// QMP on this unix socket.
    pub qmp_unix: &'a Path,
    /// QMP on this TCP address (port 0 picks one).
    pub qmp_tcp: SocketAddr,
    /// The human monitor on this unix socket.
    pub hmp_unix: &'a Path,
}

/// Starts the toy's monitor.
///
/// # Errors
///
/// What `MonitorBuilder::spawn` refuses.
pub fn start(vm: Arc<Vm>, at: Listeners<'_>) -> Result<Monitor, monitor_core::Error> {
    let hmp = Hmp::new()
        .banner("toy-vmm monitor - type 'help' for more information")
        .prompt("(toy) ");
    hmp.install(Monitor::builder())
        .version(7, 2, 0, " (toy-vmm 0.1)")
        .shared_state(vm)
        .throttle_policy(Policy::qemu().with(
            "TOY_LINK_CHANGE",
            Rule::keyed(Duration::from_secs(1), "name"),
        ))
        .require_commands(&["query-status", "x-set-link", "x-settle", "x-wait"])
        .listen_unix(at.qmp_unix)
        .listen_tcp(at.qmp_tcp)
        .listen_console(ListenAddr::Unix(at.hmp_unix.to_path_buf()), hmp.console())
        .spawn()
}
