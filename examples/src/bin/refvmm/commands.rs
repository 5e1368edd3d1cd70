//! The reference VMM's QMP commands and events, all through the macros.

use std::sync::Arc;

use examples::vmm::{Machine, Status, VmmError};
use monitor_core::{qmp_command, CommandError, Emitter, Event, Schema};
use serde::Serialize;

/// What the commands reach: the machine and its identity. (What
/// management software asks about the machine itself, `query-kvm`,
/// `query-chardev`, the QOM tree, is answered by `monitor_core::machine`
/// from `model.rs`.)
pub struct Vm {
    /// `None` for `-machine none`: a monitor without a guest.
    pub machine: Option<Arc<Machine>>,
    pub name: Option<String>,
    pub uuid: String,
}

impl Vm {
    /// The guest's machine.
    ///
    /// # Errors
    ///
    /// Under `-machine none` there is none: commands about the guest
    /// answer so.
    pub fn machine(&self) -> Result<&Arc<Machine>, CommandError> {
        self.machine
            .as_ref()
            .ok_or_else(|| CommandError::generic("The machine type 'none' has no guest"))
    }
}

fn vmm_error(e: VmmError) -> CommandError {
    CommandError::generic(e.to_string())
}

#[derive(Serialize, Schema)]
pub struct StatusInfo {
    running: bool,
    singlestep: bool,
    status: String,
}

/// Query the run state of the guest.
#[qmp_command(name = "query-status")]
fn query_status(vm: &Vm) -> StatusInfo {
    // Without a guest the machine stays where QEMU's `none` starts.
    let status = vm
        .machine
        .as_ref()
        .map_or(Status::Prelaunch, |m| m.status());
    StatusInfo {
        running: status == Status::Running,
        singlestep: false,
        status: status.as_str().to_owned(),
    }
}

/// The guest stopped.
#[derive(Serialize, Schema, Event)]
pub struct Stop;

/// The guest resumed.
#[derive(Serialize, Schema, Event)]
pub struct Resume;

/// The guest was asked to power down.
#[derive(Serialize, Schema, Event)]
pub struct Powerdown;

/// The machine was reset.
#[derive(Serialize, Schema, Event)]
pub struct Reset {
    pub guest: bool,
    pub reason: &'static str,
}

/// Stop all guest vCPUs.
#[qmp_command(name = "stop")]
fn stop(vm: &Vm, emitter: &Emitter) -> Result<(), CommandError> {
    if vm.machine()?.pause().map_err(vmm_error)? {
        emitter.emit(Stop);
    }
    Ok(())
}

/// Resume guest vCPUs (or boot a machine started with -S).
#[qmp_command(name = "cont")]
fn cont(vm: &Vm, emitter: &Emitter) -> Result<(), CommandError> {
    match vm.machine()?.resume() {
        Ok(true) => {
            emitter.emit(Resume);
            Ok(())
        }
        Ok(false) => Ok(()),
        Err(VmmError::NeedsReset(_)) => Err(CommandError::generic(
            "Resetting the Virtual Machine is required",
        )),
        Err(e) => Err(vmm_error(e)),
    }
}

/// Reset the machine: every vCPU and device to power-on state.
#[qmp_command(name = "system_reset")]
fn system_reset(vm: &Vm, emitter: &Emitter) -> Result<(), CommandError> {
    vm.machine()?.reset().map_err(vmm_error)?;
    emitter.emit(Reset {
        guest: false,
        reason: "host-qmp-system-reset",
    });
    Ok(())
}

/// Press the power button; the firmware powers off.
#[qmp_command(name = "system_powerdown")]
fn system_powerdown(vm: &Vm, emitter: &Emitter) -> Result<(), CommandError> {
    vm.machine()?.press_power_button();
    emitter.emit(Powerdown);
    Ok(())
}

#[derive(Serialize, Schema)]
pub struct NameInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// The name given with -name.
#[qmp_command(name = "query-name")]
fn query_name(vm: &Vm) -> NameInfo {
    NameInfo {
        name: vm.name.clone(),
    }
}

#[derive(Serialize, Schema)]
pub struct UuidInfo {
    #[serde(rename = "UUID")]
    uuid: String,
}

/// The UUID given with -uuid.
#[qmp_command(name = "query-uuid")]
fn query_uuid(vm: &Vm) -> UuidInfo {
    UuidInfo {
        uuid: vm.uuid.clone(),
    }
}

#[derive(Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub struct CpuInfoFast {
    cpu_index: i64,
    qom_path: String,
    thread_id: i64,
    target: &'static str,
}

fn qom_path(index: usize) -> String {
    format!("/machine/unattached/device[{index}]")
}

/// Every vCPU, without interrupting the guest.
#[qmp_command(name = "query-cpus-fast")]
fn query_cpus_fast(vm: &Vm) -> Vec<CpuInfoFast> {
    // `-machine none` has no vCPU, as in QEMU.
    vm.machine
        .as_ref()
        .map(|m| m.thread_ids())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, tid)| CpuInfoFast {
            cpu_index: i as i64,
            qom_path: qom_path(i),
            thread_id: i64::from(tid),
            target: "x86_64",
        })
        .collect()
}

#[derive(Serialize, Schema)]
pub struct CpuInfo {
    #[serde(rename = "CPU")]
    cpu: i64,
    current: bool,
    halted: bool,
    qom_path: String,
    thread_id: i64,
    arch: &'static str,
    pc: u64,
}

/// Every vCPU with its program counter (the older, seeds' form).
#[qmp_command(name = "query-cpus", deprecated)]
fn query_cpus(vm: &Vm) -> Result<Vec<CpuInfo>, CommandError> {
    let info = vm.machine()?.vcpu_info().map_err(vmm_error)?;
    Ok(info
        .into_iter()
        .map(|c| CpuInfo {
            cpu: c.index as i64,
            current: c.index == 0,
            halted: c.halted,
            qom_path: qom_path(c.index),
            thread_id: i64::from(c.thread_id),
            arch: "x86",
            pc: c.rip,
        })
        .collect())
}

/// Inject an NMI into vCPU 0.
#[qmp_command(name = "inject-nmi")]
fn inject_nmi(vm: &Vm) -> Result<(), CommandError> {
    vm.machine()?.inject_nmi(0).map_err(vmm_error)
}

/// Emit `count` events (named `event`, default BENCH, with `data`) as fast
/// as the emitter allows, through the same path (and throttle) as any
/// event, from a thread of their own (answering when the last is
/// emitted); the benchmarks' event source, as in `minimal`.
#[qmp_command(name = "x-bench-events")]
fn x_bench_events(
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
    emitter: &Emitter,
    done: monitor_core::pending::Completion<()>,
) {
    examples::bench::spawn_events(emitter, count, event, data, done);
}
