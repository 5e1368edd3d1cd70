// `&T` parameters are extractors: VMM state by type and the session's
// `&SessionInfo`, `&Emitter`, `&Context<'_>`, mixed freely with arguments.
use std::sync::atomic::{AtomicU64, Ordering};

use monitor_core::Registry;
use monitor_core::{qmp_command, Context, Emitter, SessionInfo};

struct Vm {
    ticks: AtomicU64,
}

#[qmp_command(name = "x-tick")]
fn x_tick(vm: &Vm, by: u64, session: &SessionInfo, events: &Emitter, ctx: &Context<'_>) -> u64 {
    let _ = (session.id, events, ctx.session().oob);
    vm.ticks.fetch_add(by, Ordering::Relaxed) + by
}

// A path to the state type works too.
#[qmp_command(name = "x-quit")]
fn x_quit(ctx: &monitor_core::Context<'_>, _vm: &self::Vm) {
    ctx.request_quit();
}

fn main() {
    let _ = Vm {
        ticks: AtomicU64::new(0),
    };
    let registry = Registry::with_inventory().unwrap();
    assert!(registry.get("x-tick").is_some());
    assert!(registry.get("x-quit").is_some());
}
