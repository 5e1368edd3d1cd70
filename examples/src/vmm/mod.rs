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

mod config;
mod construct;
mod device_controls;
mod error;
mod events;
mod platform;
mod run_control;
mod status;
mod vcpu_access;
mod wiring;

use std::fmt;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs};
use kvm_ioctls::{Kvm, VmFd};
use parking_lot::Mutex;

pub use self::config::{MachineConfig, DEFAULT_MEM_SIZE};
use self::devices::DeviceBus;
pub use self::error::{Result, VmmError};
pub use self::events::{MachineEvent, ResetCause};
use self::memory::GuestRam;
use self::platform::PlatformState;
pub use self::status::Status;
use self::vcpu::Control;
pub use self::vcpu_access::{Registers, VcpuInfo};

/// GSI of the UART's interrupt.
pub const SERIAL_GSI: u32 = 4;
/// GSI of the i8042's keyboard interrupt.
pub const I8042_GSI: u32 = 1;

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

impl Machine {
    /// Guest RAM.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
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
