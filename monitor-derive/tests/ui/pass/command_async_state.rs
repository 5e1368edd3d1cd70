use std::sync::Arc;

use monitor_core::{qmp_command, CommandError, Emitter, SessionInfo, State};

struct Vm {
    memory: u64,
}

/// Async commands hold what they borrow: state, the session, the emitter.
#[qmp_command(name = "x-wait")]
async fn x_wait(vm: &Vm, session: &SessionInfo, events: &Emitter, ms: u64) -> Result<u64, CommandError> {
    let _ = (session.id, events);
    Ok(vm.memory + ms)
}

/// An owned handle, moved into the future or a thread.
#[qmp_command(name = "x-owned")]
async fn x_owned(vm: State<Vm>, shared: &Arc<Vm>) -> u64 {
    vm.memory + shared.memory
}

/// And the same handle in a plain command.
#[qmp_command(name = "x-plain")]
fn x_plain(vm: State<Vm>) -> u64 {
    vm.memory
}

fn main() {}
