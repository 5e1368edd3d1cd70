//! Machine construction: [`Machine::new`] as a sequence of named steps
//! (check `/dev/kvm`, create the VM, map RAM and load the guest, wire the
//! devices, create the vCPUs, start their threads), and the guest loading
//! that a reset repeats.

use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use kvm_ioctls::{Cap, Kvm, VmFd};
use parking_lot::Mutex;

use super::config::MachineConfig;
use super::error::{kvm_err, Result, VmmError};
use super::events::MachineEvent;
use super::memory::GuestRam;
use super::platform::{self, PlatformState};
use super::vcpu::{self, install_kick_handler, Control, PowerOnState, Vcpu, VcpuContext};
use super::{boot, linux, wiring, Machine};

impl Machine {
    /// Builds the machine: VM, irqchip and PIT, RAM with the firmware
    /// loaded, devices, and the vCPUs with their threads, all stopped
    /// (status `prelaunch`).
    ///
    /// # Errors
    ///
    /// Any [`VmmError`]: no usable `/dev/kvm`, a bad size or count, a
    /// failing ioctl. Nothing is left behind on error.
    pub fn new(config: MachineConfig<'_>) -> Result<Self> {
        let kvm = open_kvm(config.vcpus)?;
        let vm = platform::create_vm(&kvm)?;

        let ram = GuestRam::new(config.mem_size)?;
        ram.register(&vm)?;
        let entry = load_guest(&ram, config.firmware, config.kernel.as_ref())?;

        let (events_tx, events_rx) = mpsc::channel();
        let bus = wiring::wire_devices(
            &vm,
            &ram,
            config.mem_size,
            config.serial_out,
            config.balloon,
            &events_tx,
        )?;
        let bus = Arc::new(bus);

        let vcpus = create_vcpus(&kvm, &vm, config.vcpus, entry)?;
        let platform = PlatformState::capture(&vm)?;

        let mut machine = Machine {
            control: Arc::new(Control::new(config.vcpus)),
            bus,
            threads: Vec::with_capacity(config.vcpus),
            vm,
            ram,
            firmware: config.firmware.to_vec(),
            kernel: config.kernel,
            platform,
            op: Mutex::new(()),
            events: Mutex::new(Some(events_rx)),
            _kvm: kvm,
        };
        // On error, dropping `machine` ends and joins the threads so far.
        machine.spawn_vcpu_threads(vcpus, &events_tx)?;
        Ok(machine)
    }

    /// Starts one host thread per vCPU (named `CPU N/KVM`, as QEMU's),
    /// each waiting for the machine to run.
    fn spawn_vcpu_threads(
        &mut self,
        vcpus: Vec<Vcpu>,
        events: &Sender<MachineEvent>,
    ) -> Result<()> {
        for vcpu in vcpus {
            let index = vcpu.index;
            let ctx = VcpuContext {
                control: Arc::clone(&self.control),
                bus: Arc::clone(&self.bus),
                events: events.clone(),
            };
            self.control.thread_spawning(index);
            let spawned = std::thread::Builder::new()
                .name(format!("CPU {index}/KVM"))
                .spawn(move || vcpu::vcpu_thread(vcpu, ctx));
            match spawned {
                Ok(handle) => self.threads.push(handle),
                Err(e) => {
                    self.control.thread_not_spawned(index);
                    return Err(VmmError::Thread(e));
                }
            }
        }
        Ok(())
    }
}

/// Installs the vCPU kick handler and opens `/dev/kvm`, checking that it
/// speaks our KVM API, has every capability the machine needs, and allows
/// `vcpus` vCPUs.
fn open_kvm(vcpus: usize) -> Result<Kvm> {
    if vcpus == 0 {
        return Err(VmmError::NoVcpus);
    }
    install_kick_handler()?;
    let kvm = Kvm::new().map_err(VmmError::OpenKvm)?;
    let api = kvm.get_api_version();
    if api != kvm_bindings::KVM_API_VERSION as i32 {
        return Err(VmmError::ApiVersion(api));
    }
    for (cap, name) in [
        (Cap::Irqchip, "KVM_CAP_IRQCHIP"),
        (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
        (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
        (Cap::Pit2, "KVM_CAP_PIT2"),
        (Cap::Irqfd, "KVM_CAP_IRQFD"),
        (Cap::SetTssAddr, "KVM_CAP_SET_TSS_ADDR"),
        (Cap::ExtCpuid, "KVM_CAP_EXT_CPUID"),
    ] {
        if !kvm.check_extension(cap) {
            return Err(VmmError::MissingCapability(name));
        }
    }
    // APIC IDs are 8 bits in xAPIC mode.
    let max = kvm.get_max_vcpus().min(255);
    if vcpus > max {
        return Err(VmmError::TooManyVcpus {
            requested: vcpus,
            max,
        });
    }
    Ok(kvm)
}

/// Creates `count` vCPUs with KVM's supported CPUID (and each one's APIC
/// ID), puts vCPU 0 at the guest's entry (the kernel's `entry`, or the
/// firmware's), and captures each one's power-on state.
fn create_vcpus(
    kvm: &Kvm,
    vm: &VmFd,
    count: usize,
    entry: Option<linux::Entry>,
) -> Result<Vec<Vcpu>> {
    let cpuid = kvm
        .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
        .map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
    let msr_list = kvm
        .get_msr_index_list()
        .map_err(kvm_err("KVM_GET_MSR_INDEX_LIST"))?;
    let mut vcpus = Vec::with_capacity(count);
    for index in 0..count {
        let fd = vm
            .create_vcpu(index as u64)
            .map_err(kvm_err("KVM_CREATE_VCPU"))?;
        fd.set_cpuid2(&boot::vcpu_cpuid(&cpuid, index as u8))
            .map_err(kvm_err("KVM_SET_CPUID2"))?;
        if index == 0 {
            match entry {
                Some(entry) => linux::setup_boot_vcpu(&fd, entry)?,
                None => boot::setup_boot_vcpu(&fd)?,
            }
        }
        let power_on = PowerOnState::capture(&fd, msr_list.as_slice())?;
        vcpus.push(Vcpu {
            index,
            fd,
            power_on,
            thread_id: 0,
        });
    }
    Ok(vcpus)
}

/// Loads the kernel if there is one (and returns its entry; the same at
/// each call), else the firmware.
pub(super) fn load_guest(
    ram: &GuestRam,
    firmware: &[u8],
    kernel: Option<&linux::KernelBoot>,
) -> Result<Option<linux::Entry>> {
    match kernel {
        Some(kernel) => Ok(Some(linux::load(ram, kernel)?.entry)),
        None => boot::load_firmware(ram, firmware).map(|()| None),
    }
}
