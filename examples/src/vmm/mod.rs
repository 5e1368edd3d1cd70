//! The reference VMM's machine: a small x86-64 PC on real KVM.
//!
//! One [`Machine`] is guest RAM at address 0 ([`memory`]), an in-kernel
//! PIC/IOAPIC/LAPIC and PIT, one host thread per vCPU ([`vcpu`]), and four
//! port-I/O devices ([`devices`]): a 16550 UART on COM1 (IRQ 4), a minimal
//! i8042 (reset, scancodes on IRQ 1), a power device at port 0x600 and a
//! CMOS RTC at ports 0x70/0x71. It boots a flat firmware image in 32-bit
//! protected mode ([`boot`]), or a Linux kernel ([`linux`]).
//!
//! Every method takes `&self` and the machine is `Send + Sync`: share it
//! (in an `Arc`, or as monitor state) between the monitor's command
//! handlers. No lock is held while a vCPU runs guest code, so a `stop`
//! ([`Machine::pause`]) takes effect within milliseconds even while the
//! guest computes.
//!
//! What the guest does on its own (asks for a reset, powers off, sets its
//! clock, or trips a KVM error) arrives on the channel from
//! [`Machine::take_events`]; the VMM decides what follows (emit `RESET`,
//! call [`Machine::reset`], obey `-no-reboot` and quit, emit `RTC_CHANGE`).
//!
//! # Example
//!
//! ```no_run
//! use examples::vmm::{Machine, MachineConfig, MachineEvent, Status};
//!
//! let firmware: &[u8] = &[0xf4]; // hlt
//! let machine = Machine::new(MachineConfig::new(firmware, Box::new(std::io::stdout())))?;
//! let events = machine.take_events().expect("first call");
//! machine.start(false)?;
//! machine.pause()?; // returns once no vCPU runs
//! println!("vCPU 0 at {:#x}", machine.registers(0)?.regs.rip);
//! machine.resume()?;
//! machine.press_power_button();
//! if let Ok(MachineEvent::PoweredOff { .. }) = events.recv() {
//!     assert_eq!(machine.status(), Status::Shutdown);
//! }
//! # Ok::<(), examples::vmm::VmmError>(())
//! ```
//!
//! # Run states
//!
//! [`Status`] follows QEMU's run states: `prelaunch` until the first
//! [`resume`](Machine::resume) (or [`start(false)`](Machine::start)),
//! `running`, `paused`, and `shutdown` / `internal-error`, which need a
//! [`reset`](Machine::reset) before the guest can run again. A reset of a
//! machine that was not running leaves it in `prelaunch`, as QEMU does.
//!
//! A guest reset request stops the vCPUs but leaves the status `running`:
//! the VMM answers with [`reset`](Machine::reset) (the guest then runs on)
//! or [`shutdown`](Machine::shutdown).

pub mod boot;
pub mod devices;
pub mod linux;
pub mod memory;
pub mod translate;
pub mod vcpu;

use std::fmt;
use std::io;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use kvm_bindings::{kvm_irqchip, kvm_pit_config, kvm_pit_state2, KVM_PIT_SPEAKER_DUMMY};
pub use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};
use kvm_ioctls::{Cap, Kvm, VmFd};
use parking_lot::Mutex;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use self::devices::balloon::{self, Balloon};
use self::devices::i8042::I8042;
use self::devices::power::PowerDevice;
use self::devices::rtc::{self as rtc_device, Rtc};
use self::devices::serial::{SerialDevice, SerialOut};
use self::devices::virtio_mmio::VirtioMmio;
use self::devices::{DeviceBus, IrqLine, BALLOON_GSI};
use self::memory::GuestRam;
use self::vcpu::{install_kick_handler, on_vcpu_thread, Control, PowerOnState, Vcpu, VcpuContext};

/// Guest RAM when none is asked for: 128 MiB, as QEMU.
pub const DEFAULT_MEM_SIZE: u64 = 128 << 20;

/// GSI of the UART's interrupt.
pub const SERIAL_GSI: u32 = 4;
/// GSI of the i8042's keyboard interrupt.
pub const I8042_GSI: u32 = 1;

/// Where KVM puts the three pages Intel VT needs for the real-mode TSS
/// (just below the BIOS area, out of RAM's way).
const TSS_ADDR: usize = 0xfffb_d000;

/// Errors of the machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmmError {
    /// `/dev/kvm` cannot be opened.
    #[error("cannot open /dev/kvm")]
    OpenKvm(#[source] kvm_ioctls::Error),
    /// The kernel speaks another KVM API.
    #[error("KVM API version {0} is not supported (12 is)")]
    ApiVersion(i32),
    /// The kernel's KVM lacks something we need.
    #[error("KVM lacks {0}")]
    MissingCapability(&'static str),
    /// A KVM ioctl failed.
    #[error("{0} failed")]
    Kvm(&'static str, #[source] kvm_ioctls::Error),
    /// Zero vCPUs were asked for.
    #[error("a machine needs at least one vCPU")]
    NoVcpus,
    /// More vCPUs were asked for than KVM (or the APIC ID space) allows.
    #[error("{requested} vCPUs requested, at most {max} supported")]
    TooManyVcpus {
        /// Asked for.
        requested: usize,
        /// The limit.
        max: usize,
    },
    /// The memory size is zero or not whole pages.
    #[error("memory size {0:#x} is not a non-zero multiple of 4 KiB")]
    MemorySize(u64),
    /// The host cannot map guest memory.
    #[error("cannot map guest memory")]
    Memory(#[source] vm_memory::Error),
    /// A write to guest memory fell outside RAM.
    #[error("cannot write {len} bytes of guest memory at {addr:#x}")]
    GuestWrite {
        /// Guest-physical address.
        addr: u64,
        /// Bytes.
        len: usize,
    },
    /// A read of guest memory fell outside RAM.
    #[error("cannot read {len} bytes of guest memory at {addr:#x}")]
    GuestRead {
        /// Guest-physical address.
        addr: u64,
        /// Bytes.
        len: usize,
    },
    /// The kernel cannot be loaded.
    #[error("cannot boot the kernel")]
    Kernel(#[from] linux::LinuxError),
    /// Guest memory could not be zeroed.
    #[error("cannot zero guest memory")]
    Madvise(#[source] io::Error),
    /// The firmware image does not fit.
    #[error("a firmware image of {len} bytes does not fit at 1 MiB in {ram:#x} bytes of RAM")]
    FirmwareTooLarge {
        /// Image size.
        len: usize,
        /// RAM size.
        ram: u64,
    },
    /// An eventfd could not be created.
    #[error("cannot create an eventfd")]
    EventFd(#[source] io::Error),
    /// The vCPU kick signal's handler could not be installed.
    #[error("cannot install the vCPU kick signal handler")]
    Signal(#[source] vmm_sys_util::errno::Error),
    /// A vCPU thread could not be started.
    #[error("cannot start a vCPU thread")]
    Thread(#[source] io::Error),
    /// The MSR list does not fit KVM's limit (cannot happen with ours).
    #[error("too many MSRs for one KVM call")]
    TooManyMsrs,
    /// There is no vCPU with this index.
    #[error("there is no vCPU {0}")]
    NoSuchVcpu(usize),
    /// The vCPU's thread has ended.
    #[error("vCPU {0} is gone")]
    VcpuGone(usize),
    /// Called from a vCPU thread, where it would wait for itself.
    #[error("this cannot be done from a vCPU thread")]
    OnVcpuThread,
    /// The guest cannot run before a reset.
    #[error("the machine is in state {0}: reset it first")]
    NeedsReset(Status),
    /// The machine was built without a balloon device.
    #[error("the machine has no balloon device")]
    NoBalloon,
}

/// Result with [`VmmError`].
pub type Result<T> = std::result::Result<T, VmmError>;

/// What to build.
pub struct MachineConfig<'a> {
    /// Bytes of RAM: a non-zero multiple of 4 KiB ([`DEFAULT_MEM_SIZE`]).
    pub mem_size: u64,
    /// Number of vCPUs (1). vCPU 0 boots the firmware; the others wait
    /// for INIT/SIPI.
    pub vcpus: usize,
    /// The flat firmware image, loaded at 1 MiB (and again at each reset).
    pub firmware: &'a [u8],
    /// Where the guest's serial output goes.
    pub serial_out: SerialOut,
    /// Whether the machine has a virtio balloon (false).
    pub balloon: bool,
    /// A Linux kernel to boot instead of the firmware (`-kernel`); loaded
    /// again, and re-entered, at each reset.
    pub kernel: Option<linux::KernelBoot>,
}

impl<'a> MachineConfig<'a> {
    /// The defaults (128 MiB, one vCPU) with `firmware` and `serial_out`.
    pub fn new(firmware: &'a [u8], serial_out: SerialOut) -> Self {
        Self {
            mem_size: DEFAULT_MEM_SIZE,
            vcpus: 1,
            firmware,
            serial_out,
            balloon: false,
            kernel: None,
        }
    }
}

impl fmt::Debug for MachineConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineConfig")
            .field("mem_size", &self.mem_size)
            .field("vcpus", &self.vcpus)
            .field("firmware", &format_args!("{} bytes", self.firmware.len()))
            .field("balloon", &self.balloon)
            .field("kernel", &self.kernel)
            .finish_non_exhaustive()
    }
}

/// The machine's run state, named as QEMU's `query-status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Built, not yet started (`-S`), or reset while not running.
    Prelaunch,
    /// The vCPUs run.
    Running,
    /// Stopped by [`Machine::pause`].
    Paused,
    /// The guest powered off, or [`Machine::shutdown`] was called.
    Shutdown,
    /// A vCPU hit an error KVM could not handle.
    InternalError,
}

impl Status {
    /// QEMU's name: `prelaunch`, `running`, `paused`, `shutdown`, `internal-error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Prelaunch => "prelaunch",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Shutdown => "shutdown",
            Status::InternalError => "internal-error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the guest asked for a reset (QEMU reports all as `guest-reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetCause {
    /// The i8042 reset line (`0xFE` to port 0x64).
    Keyboard,
    /// A triple fault (`KVM_EXIT_SHUTDOWN`).
    TripleFault,
    /// KVM reported a reset system event.
    SystemEvent,
}

/// Something the guest did that the VMM must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineEvent {
    /// The guest asked for a reset. Every vCPU is stopped (the status
    /// stays `running`) until the VMM calls [`Machine::reset`] (QEMU:
    /// `RESET`, guest runs on) or [`Machine::shutdown`] (`-no-reboot`).
    ResetRequested {
        /// The vCPU that asked.
        vcpu: usize,
        /// How.
        cause: ResetCause,
    },
    /// The guest powered off (wrote 1 to port 0x600). The status is now
    /// `shutdown` (QEMU: `SHUTDOWN` with reason `guest-shutdown`).
    PoweredOff {
        /// The vCPU that did it.
        vcpu: usize,
    },
    /// The guest set its real-time clock (QEMU: `RTC_CHANGE`). Sent once
    /// per time-register write, or once per release of register B's SET
    /// bit (see [`devices::rtc`]).
    RtcChange {
        /// The RTC's time minus the host's, in seconds.
        offset: i64,
    },
    /// The guest changed how much memory its balloon holds (QEMU:
    /// `BALLOON_CHANGE`).
    BalloonChange {
        /// RAM not in the balloon, in bytes.
        actual: u64,
    },
    /// A vCPU failed; the status is now `internal-error`.
    InternalError {
        /// The vCPU.
        vcpu: usize,
        /// What happened.
        message: String,
    },
}

/// One vCPU as `query-cpus-fast` / `info cpus` want it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuInfo {
    /// Index (0-based, also the APIC ID).
    pub index: usize,
    /// Host thread ID (`gettid`) of the vCPU's thread.
    pub thread_id: i32,
    /// Waiting for an interrupt (`hlt`), or for INIT/SIPI.
    pub halted: bool,
    /// The instruction pointer.
    pub rip: u64,
}

/// A vCPU's registers, for `info registers`.
#[derive(Debug, Clone, Copy)]
pub struct Registers {
    /// General registers, RIP and RFLAGS.
    pub regs: kvm_regs,
    /// Segments, descriptor tables, control registers, EFER, APIC base.
    pub sregs: kvm_sregs,
}

/// In-kernel PIC, IOAPIC and PIT state at power-on, restored by a reset.
struct PlatformState {
    irqchips: Vec<kvm_irqchip>,
    pit: kvm_pit_state2,
}

impl PlatformState {
    fn capture(vm: &VmFd) -> Result<Self> {
        let mut irqchips = Vec::new();
        for chip_id in [
            kvm_bindings::KVM_IRQCHIP_PIC_MASTER,
            kvm_bindings::KVM_IRQCHIP_PIC_SLAVE,
            kvm_bindings::KVM_IRQCHIP_IOAPIC,
        ] {
            let mut chip = kvm_irqchip {
                chip_id,
                ..Default::default()
            };
            vm.get_irqchip(&mut chip)
                .map_err(|e| VmmError::Kvm("KVM_GET_IRQCHIP", e))?;
            irqchips.push(chip);
        }
        let pit = vm
            .get_pit2()
            .map_err(|e| VmmError::Kvm("KVM_GET_PIT2", e))?;
        Ok(Self { irqchips, pit })
    }

    fn restore(&self, vm: &VmFd) -> Result<()> {
        for chip in &self.irqchips {
            vm.set_irqchip(chip)
                .map_err(|e| VmmError::Kvm("KVM_SET_IRQCHIP", e))?;
        }
        vm.set_pit2(&self.pit)
            .map_err(|e| VmmError::Kvm("KVM_SET_PIT2", e))
    }
}

impl fmt::Debug for PlatformState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformState").finish_non_exhaustive()
    }
}

/// A running (or ready) KVM machine. See the [module docs](self).
pub struct Machine {
    control: Arc<Control>,
    bus: Arc<DeviceBus>,
    threads: Vec<JoinHandle<()>>,
    vm: VmFd,
    ram: GuestRam,
    firmware: Vec<u8>,
    kernel: Option<linux::KernelBoot>,
    platform: PlatformState,
    /// Serialises pause / resume / reset / shutdown.
    op: Mutex<()>,
    events: Mutex<Option<Receiver<MachineEvent>>>,
    // Last: the VM's and vCPUs' fds go before /dev/kvm's.
    _kvm: Kvm,
}

impl fmt::Debug for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Machine")
            .field("status", &self.status())
            .field("vcpus", &self.threads.len())
            .field("mem_size", &self.ram.size())
            .finish_non_exhaustive()
    }
}

fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
    move |e| VmmError::Kvm(what, e)
}

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
        if config.vcpus == 0 {
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
        if config.vcpus > max {
            return Err(VmmError::TooManyVcpus {
                requested: config.vcpus,
                max,
            });
        }

        let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
        vm.set_tss_address(TSS_ADDR)
            .map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
        vm.create_irq_chip()
            .map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;
        // The dummy speaker makes KVM emulate port 0x61 (PIT channel 2
        // gate), which PIT-calibrating guests poll.
        vm.create_pit2(kvm_pit_config {
            flags: KVM_PIT_SPEAKER_DUMMY,
            ..Default::default()
        })
        .map_err(kvm_err("KVM_CREATE_PIT2"))?;

        let ram = GuestRam::new(config.mem_size)?;
        ram.register(&vm)?;
        let entry = load_guest(&ram, config.firmware, config.kernel.as_ref())?;

        let serial_irq = EventFd::new(EFD_NONBLOCK).map_err(VmmError::EventFd)?;
        vm.register_irqfd(&serial_irq, SERIAL_GSI)
            .map_err(kvm_err("KVM_IRQFD"))?;
        let kbd_irq = EventFd::new(EFD_NONBLOCK).map_err(VmmError::EventFd)?;
        vm.register_irqfd(&kbd_irq, I8042_GSI)
            .map_err(kvm_err("KVM_IRQFD"))?;
        let (events_tx, events_rx) = mpsc::channel();
        let rtc_events = events_tx.clone();
        let mut rtc = Rtc::new(
            rtc_device::host_clock(),
            Box::new(move |offset| {
                // Nobody listening is not the guest's problem.
                let _ = rtc_events.send(MachineEvent::RtcChange { offset });
            }),
        );
        let below_4g = config.mem_size.min(memory::MMIO_HOLE_START);
        rtc.set_memory_size(below_4g, config.mem_size - below_4g);
        let mut bus = DeviceBus::new(
            SerialDevice::new(IrqLine::eventfd(serial_irq), config.serial_out),
            I8042::new(IrqLine::eventfd(kbd_irq)),
            PowerDevice::new(),
            rtc,
        );
        if config.balloon {
            let balloon_irq = EventFd::new(EFD_NONBLOCK).map_err(VmmError::EventFd)?;
            vm.register_irqfd(&balloon_irq, BALLOON_GSI)
                .map_err(kvm_err("KVM_IRQFD"))?;
            let balloon_events = events_tx.clone();
            let ram_size = config.mem_size;
            let balloon = Balloon::new(
                ram_size,
                Box::new(move |pages| {
                    let actual = ram_size.saturating_sub(u64::from(pages) << balloon::PAGE_SHIFT);
                    let _ = balloon_events.send(MachineEvent::BalloonChange { actual });
                }),
            );
            bus = bus.with_balloon(VirtioMmio::new(
                balloon,
                ram.memory().clone(),
                IrqLine::eventfd(balloon_irq),
            ));
        }
        let bus = Arc::new(bus);

        let cpuid = kvm
            .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
            .map_err(kvm_err("KVM_GET_SUPPORTED_CPUID"))?;
        let msr_list = kvm
            .get_msr_index_list()
            .map_err(kvm_err("KVM_GET_MSR_INDEX_LIST"))?;
        let mut vcpus = Vec::with_capacity(config.vcpus);
        for index in 0..config.vcpus {
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
        for vcpu in vcpus {
            let index = vcpu.index;
            let ctx = VcpuContext {
                control: Arc::clone(&machine.control),
                bus: Arc::clone(&machine.bus),
                events: events_tx.clone(),
            };
            machine.control.thread_spawning(index);
            let spawned = std::thread::Builder::new()
                .name(format!("CPU {index}/KVM"))
                .spawn(move || vcpu::vcpu_thread(vcpu, ctx));
            match spawned {
                Ok(handle) => machine.threads.push(handle),
                Err(e) => {
                    machine.control.thread_not_spawned(index);
                    // Dropping `machine` ends and joins the threads so far.
                    return Err(VmmError::Thread(e));
                }
            }
        }
        Ok(machine)
    }

    /// Starts the guest, or with `paused` leaves it in `prelaunch` until
    /// [`resume`](Self::resume) (QEMU's `-S`). The vCPU threads exist
    /// from [`new`](Self::new) on; this only lets them run.
    ///
    /// # Errors
    ///
    /// As [`resume`](Self::resume).
    pub fn start(&self, paused: bool) -> Result<()> {
        if paused {
            Ok(())
        } else {
            self.resume().map(|_| ())
        }
    }

    /// Stops every vCPU and returns once none runs guest code (QEMU's
    /// `stop`). Returns whether the machine was running (whether to emit
    /// `STOP`); other states are left as they are.
    ///
    /// # Errors
    ///
    /// [`VmmError::OnVcpuThread`] if called from a vCPU thread.
    pub fn pause(&self) -> Result<bool> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        if st.status != Status::Running {
            return Ok(false);
        }
        st.status = Status::Paused;
        self.control.stop_and_wait(&mut st);
        Ok(true)
    }

    /// Lets the vCPUs run again (QEMU's `cont`). Returns whether the
    /// machine was stopped (`prelaunch` or `paused`).
    ///
    /// # Errors
    ///
    /// [`VmmError::NeedsReset`] in `shutdown` or `internal-error`;
    /// [`VmmError::OnVcpuThread`] from a vCPU thread.
    pub fn resume(&self) -> Result<bool> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        match st.status {
            Status::Running => Ok(false),
            Status::Shutdown | Status::InternalError => Err(VmmError::NeedsReset(st.status)),
            Status::Prelaunch | Status::Paused => {
                st.status = Status::Running;
                self.control.start(&mut st);
                Ok(true)
            }
        }
    }

    /// Resets the machine (QEMU's `system_reset`, or the answer to a
    /// [`MachineEvent::ResetRequested`]): stops the vCPUs, restores each
    /// one's power-on registers (general, segment, control, FPU, XCRs,
    /// MSRs, LAPIC, MP state, pending events, debug registers), the
    /// in-kernel PIC/IOAPIC/PIT and the devices, zeroes RAM and reloads
    /// the firmware (or the kernel, re-entered as at power-on). A machine
    /// that was running runs on; any other goes to `prelaunch`.
    ///
    /// # Errors
    ///
    /// A failing ioctl (the status becomes `internal-error`), or
    /// [`VmmError::OnVcpuThread`].
    pub fn reset(&self) -> Result<()> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let was_running = {
            let mut st = self.control.lock();
            self.control.stop_and_wait(&mut st);
            st.status == Status::Running
        };
        let restored = self.restore_power_on_state();
        let mut st = self.control.lock();
        match restored {
            Ok(()) if was_running => {
                st.status = Status::Running;
                self.control.start(&mut st);
                Ok(())
            }
            Ok(()) => {
                st.status = Status::Prelaunch;
                Ok(())
            }
            Err(e) => {
                st.status = Status::InternalError;
                Err(e)
            }
        }
    }

    fn restore_power_on_state(&self) -> Result<()> {
        for index in 0..self.threads.len() {
            self.control
                .run_on(index, |vcpu| vcpu.power_on.restore(&vcpu.fd))??;
        }
        self.platform.restore(&self.vm)?;
        self.bus.reset();
        self.ram.clear()?;
        load_guest(&self.ram, &self.firmware, self.kernel.as_ref()).map(drop)
    }

    /// Stops every vCPU for good (status `shutdown`): for `-no-reboot`
    /// after a guest reset request, or before quitting. Only
    /// [`reset`](Self::reset) makes the guest run again.
    ///
    /// # Errors
    ///
    /// [`VmmError::OnVcpuThread`].
    pub fn shutdown(&self) -> Result<()> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        st.status = Status::Shutdown;
        self.control.stop_and_wait(&mut st);
        Ok(())
    }

    /// The run state.
    pub fn status(&self) -> Status {
        self.control.lock().status
    }

    /// Whether the status is `running`.
    pub fn is_running(&self) -> bool {
        self.status() == Status::Running
    }

    /// The number of vCPUs.
    pub fn vcpu_count(&self) -> usize {
        self.threads.len()
    }

    /// Guest RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// The channel of [`MachineEvent`]s; `None` after the first call.
    pub fn take_events(&self) -> Option<Receiver<MachineEvent>> {
        self.events.lock().take()
    }

    /// Presses the power button (QEMU's `system_powerdown`): the power
    /// device reads `0x01` until the next reset. What follows is up to the
    /// guest.
    pub fn press_power_button(&self) {
        self.bus.power.lock().press_button();
    }

    /// Queues `bytes` on the UART's input (what a user types on
    /// `-serial stdio`); returns how many fitted in its FIFO.
    pub fn serial_input(&self, bytes: &[u8]) -> usize {
        self.bus.serial.lock().enqueue_input(bytes)
    }

    /// Whether the machine has a balloon device.
    pub fn has_balloon(&self) -> bool {
        self.bus.balloon.is_some()
    }

    /// Asks the guest to keep `target` bytes of RAM and give the rest to
    /// the balloon (QEMU's `balloon`; more than the RAM size means all of
    /// it). The guest's driver answers in its own time, by changing
    /// `actual` ([`MachineEvent::BalloonChange`]).
    ///
    /// # Errors
    ///
    /// [`VmmError::NoBalloon`].
    pub fn set_balloon_target(&self, target: u64) -> Result<()> {
        let mut balloon = self.bus.balloon.as_ref().ok_or(VmmError::NoBalloon)?.lock();
        balloon.device_mut().set_target(target);
        balloon.config_changed();
        Ok(())
    }

    /// RAM not in the balloon, in bytes, as the guest last reported it
    /// (QEMU's `query-balloon`).
    ///
    /// # Errors
    ///
    /// [`VmmError::NoBalloon`].
    pub fn balloon_actual(&self) -> Result<u64> {
        let balloon = self.bus.balloon.as_ref().ok_or(VmmError::NoBalloon)?.lock();
        Ok(balloon.device().actual_bytes())
    }

    /// Types scancodes on the i8042 keyboard (`send-key`), raising IRQ 1.
    pub fn send_scancodes(&self, codes: &[u8]) {
        self.bus.i8042.lock().push_scancodes(codes);
    }

    /// Injects an NMI into vCPU `index` (QEMU's `inject-nmi` does it for
    /// every vCPU). `KVM_NMI` is issued by the vCPU's own thread: it is
    /// kicked out of `KVM_RUN` if running, issues the ioctl, and goes back
    /// in, so the guest takes the NMI at once. A paused vCPU takes it when
    /// resumed.
    ///
    /// # Errors
    ///
    /// [`VmmError::NoSuchVcpu`], a failing `KVM_NMI`, or
    /// [`VmmError::OnVcpuThread`].
    pub fn inject_nmi(&self, index: usize) -> Result<()> {
        self.control
            .run_on(index, |vcpu| vcpu.fd.nmi())?
            .map_err(kvm_err("KVM_NMI"))
    }

    /// Every vCPU's index, host thread ID, halted state and RIP. The
    /// values are read on each vCPU's thread: a running vCPU is kicked out
    /// of `KVM_RUN` for the few microseconds this takes, so they are
    /// current, not sampled.
    ///
    /// # Errors
    ///
    /// A failing ioctl, or [`VmmError::OnVcpuThread`].
    pub fn vcpu_info(&self) -> Result<Vec<VcpuInfo>> {
        (0..self.threads.len())
            .map(|index| {
                self.control.run_on(index, move |vcpu| {
                    Ok(VcpuInfo {
                        index,
                        thread_id: vcpu.thread_id,
                        halted: vcpu.halted()?,
                        rip: vcpu.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?.rip,
                    })
                })?
            })
            .collect()
    }

    /// The host thread IDs of the vCPU threads, without disturbing them
    /// (what `query-cpus-fast` needs).
    pub fn thread_ids(&self) -> Vec<i32> {
        self.control.thread_ids()
    }

    /// vCPU `index`'s registers (read on its thread, as [`vcpu_info`](Self::vcpu_info)).
    ///
    /// # Errors
    ///
    /// [`VmmError::NoSuchVcpu`], a failing ioctl, or [`VmmError::OnVcpuThread`].
    pub fn registers(&self, index: usize) -> Result<Registers> {
        self.control.run_on(index, |vcpu| {
            Ok(Registers {
                regs: vcpu.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?,
                sregs: vcpu.fd.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?,
            })
        })?
    }

    fn not_on_vcpu_thread(&self) -> Result<()> {
        if on_vcpu_thread() {
            Err(VmmError::OnVcpuThread)
        } else {
            Ok(())
        }
    }
}

/// Loads the kernel if there is one (and returns its entry; the same at
/// each call), else the firmware.
fn load_guest(
    ram: &GuestRam,
    firmware: &[u8],
    kernel: Option<&linux::KernelBoot>,
) -> Result<Option<linux::Entry>> {
    match kernel {
        Some(kernel) => Ok(Some(linux::load(ram, kernel)?.entry)),
        None => boot::load_firmware(ram, firmware).map(|()| None),
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.control.end_threads();
        for handle in self.threads.drain(..) {
            if handle.join().is_err() {
                log::error!("a vCPU thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests;
