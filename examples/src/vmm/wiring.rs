//! Device wiring: the port-I/O devices and the optional balloon, each
//! with its interrupt line (an irqfd on its GSI) and, where the guest can
//! change something the VMM reports, a sender of [`MachineEvent`]s.

use std::sync::mpsc::Sender;

use kvm_ioctls::VmFd;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

use super::devices::balloon::{self, Balloon};
use super::devices::i8042::I8042;
use super::devices::power::PowerDevice;
use super::devices::rtc::{self as rtc_device, Rtc};
use super::devices::serial::{SerialDevice, SerialOut};
use super::devices::virtio_mmio::VirtioMmio;
use super::devices::{DeviceBus, IrqLine, BALLOON_GSI};
use super::error::{kvm_err, Result, VmmError};
use super::events::MachineEvent;
use super::memory::{self, GuestRam};
use super::{I8042_GSI, SERIAL_GSI};

/// The device bus of a machine with `mem_size` bytes of RAM: the UART
/// (writing to `serial_out`), the i8042, the power device and the RTC,
/// and with `with_balloon` the virtio balloon. Guest RTC and balloon
/// changes go to `events`.
pub(super) fn wire_devices(
    vm: &VmFd,
    ram: &GuestRam,
    mem_size: u64,
    serial_out: SerialOut,
    with_balloon: bool,
    events: &Sender<MachineEvent>,
) -> Result<DeviceBus> {
    let serial_irq = irq_eventfd(vm, SERIAL_GSI)?;
    let kbd_irq = irq_eventfd(vm, I8042_GSI)?;
    let rtc = rtc(mem_size, events);
    let mut bus = DeviceBus::new(
        SerialDevice::new(IrqLine::eventfd(serial_irq), serial_out),
        I8042::new(IrqLine::eventfd(kbd_irq)),
        PowerDevice::new(),
        rtc,
    );
    if with_balloon {
        bus = bus.with_balloon(balloon(vm, ram, mem_size, events)?);
    }
    Ok(bus)
}

/// A fresh eventfd registered as the irqfd of `gsi`.
fn irq_eventfd(vm: &VmFd, gsi: u32) -> Result<EventFd> {
    let irq = EventFd::new(EFD_NONBLOCK).map_err(VmmError::EventFd)?;
    vm.register_irqfd(&irq, gsi).map_err(kvm_err("KVM_IRQFD"))?;
    Ok(irq)
}

/// The RTC on the host clock, telling the guest its RAM size and sending
/// [`MachineEvent::RtcChange`] when the guest sets it.
fn rtc(mem_size: u64, events: &Sender<MachineEvent>) -> Rtc {
    let rtc_events = events.clone();
    let mut rtc = Rtc::new(
        rtc_device::host_clock(),
        Box::new(move |offset| {
            // Nobody listening is not the guest's problem.
            let _ = rtc_events.send(MachineEvent::RtcChange { offset });
        }),
    );
    let below_4g = mem_size.min(memory::MMIO_HOLE_START);
    rtc.set_memory_size(below_4g, mem_size - below_4g);
    rtc
}

/// The virtio balloon on its MMIO transport and GSI, sending
/// [`MachineEvent::BalloonChange`] when the guest changes its size.
fn balloon(
    vm: &VmFd,
    ram: &GuestRam,
    mem_size: u64,
    events: &Sender<MachineEvent>,
) -> Result<VirtioMmio<Balloon>> {
    let balloon_irq = irq_eventfd(vm, BALLOON_GSI)?;
    let balloon_events = events.clone();
    let ram_size = mem_size;
    let balloon = Balloon::new(
        ram_size,
        Box::new(move |pages| {
            let actual = ram_size.saturating_sub(u64::from(pages) << balloon::PAGE_SHIFT);
            let _ = balloon_events.send(MachineEvent::BalloonChange { actual });
        }),
    );
    Ok(VirtioMmio::new(
        balloon,
        ram.memory().clone(),
        IrqLine::eventfd(balloon_irq),
    ))
}
