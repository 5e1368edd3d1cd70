//! The balloon's monitor side: `balloon`, `query-balloon`, the
//! `BALLOON_CHANGE` event and HMP `balloon` / `info balloon`, with QEMU
//! 7.2's names, shapes and messages (`softmmu/balloon.c`, `hmp-cmds.c`).

use monitor_core::{qmp_command, CommandError, ErrorClass, Schema};
use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpContext, HmpError};
use serde::Serialize;
use serde_json::json;

use crate::commands::Vm;

/// The guest changed its balloon. Throttled by the monitor to one per
/// second (QEMU's policy for this event name), the last value kept.
#[derive(Serialize, Schema, monitor_core::Event)]
#[event(name = "BALLOON_CHANGE")]
pub struct BalloonChange {
    /// Guest RAM not in the balloon, in bytes.
    pub actual: u64,
}

/// `query-balloon`'s answer.
#[derive(Serialize, Schema)]
pub struct BalloonInfo {
    /// Guest RAM not in the balloon, in bytes.
    actual: u64,
}

/// QEMU's answer when there is no balloon.
fn no_balloon() -> CommandError {
    CommandError::new(
        ErrorClass::DeviceNotActive,
        "No balloon device has been activated",
    )
}

/// Request the guest to change its memory allocation: `value` is the RAM
/// (in bytes) it should keep.
#[qmp_command(name = "balloon")]
fn balloon(vm: &Vm, value: i64) -> Result<(), CommandError> {
    if !vm.machine()?.has_balloon() {
        return Err(no_balloon());
    }
    // QEMU names the parameter `target` here, though the member is `value`.
    let target = u64::try_from(value)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| CommandError::generic("Parameter 'target' expects a size"))?;
    vm.machine()?
        .set_balloon_target(target)
        .map_err(|_| no_balloon())
}

/// Return information about the balloon device.
#[qmp_command(name = "query-balloon")]
fn query_balloon(vm: &Vm) -> Result<BalloonInfo, CommandError> {
    let actual = vm.machine()?.balloon_actual().map_err(|_| no_balloon())?;
    Ok(BalloonInfo { actual })
}

/// `info balloon`: `balloon: actual=128` (MiB).
#[hmp_command(name = "info balloon", help = "show balloon information")]
fn info_balloon(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let info = ctx.qmp("query-balloon", json!({}))?;
    let actual = info["actual"].as_u64().unwrap_or_default();
    ctx.print(&format!("balloon: actual={}\n", actual >> 20));
    Ok(())
}

/// `balloon 64`: the RAM the guest should keep (MiB unless suffixed).
#[hmp_command(
    name = "balloon",
    args_type = "value:M",
    params = "target",
    help = "request VM to change its memory allocation (in MB)"
)]
fn hmp_balloon(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let value = args.size("value").unwrap_or_default();
    ctx.qmp("balloon", json!({ "value": value }))?;
    Ok(())
}
