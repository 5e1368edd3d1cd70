//! What the guest does on its own and the VMM must act on: the
//! [`MachineEvent`]s (and why a reset was asked, [`ResetCause`]) that
//! [`Machine::take_events`] hands over.

use std::sync::mpsc::Receiver;

use super::Machine;

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
    /// stays `running`) until the VMM calls [`Machine::reset`](super::Machine::reset) (QEMU:
    /// `RESET`, guest runs on) or [`Machine::shutdown`](super::Machine::shutdown) (`-no-reboot`).
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
    /// bit (see [`devices::rtc`](super::devices::rtc)).
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

impl Machine {
    /// The channel of [`MachineEvent`]s; `None` after the first call.
    pub fn take_events(&self) -> Option<Receiver<MachineEvent>> {
        self.events.lock().take()
    }
}
