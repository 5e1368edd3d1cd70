//! The machine's port-I/O devices and the bus that routes the vCPUs'
//! `in`/`out` instructions to them.
//!
//! | ports           | device                                   |
//! |-----------------|------------------------------------------|
//! | `0x3f8..=0x3ff` | 16550 UART ([`serial`]), IRQ 4            |
//! | `0x60`, `0x64`  | i8042 keyboard controller ([`i8042`]), IRQ 1 |
//! | `0x70`, `0x71`  | CMOS real-time clock ([`rtc`]), no IRQ    |
//! | `0x600`         | power device ([`power`])                  |
//! | anything else   | reads return `0xff`, writes are ignored  |
//!
//! and, in guest-physical memory, one MMIO window:
//!
//! | addresses | device |
//! |-----------|--------|
//! | `0xd000_0000..0xd000_1000` | virtio-balloon ([`balloon`]) on virtio-mmio ([`virtio_mmio`]), GSI 5, if the machine has one |
//! | anything else outside RAM | reads return all ones, writes are ignored |
//!
//! The devices know nothing of KVM: interrupts go out through an injected
//! [`Trigger`] (an irqfd in the machine, a counter in
//! the tests), and what a guest write asks of the machine (reset, power-off)
//! comes back as a [`Request`].

pub mod balloon;
pub mod i8042;
pub mod power;
pub mod rtc;
pub mod serial;
pub mod virtio_mmio;

use std::fmt;
use std::io;
use std::sync::Arc;

use parking_lot::Mutex;
use vm_superio::Trigger;
use vmm_sys_util::eventfd::EventFd;

use self::balloon::Balloon;
use self::i8042::I8042;
use self::power::PowerDevice;
use self::rtc::{Rtc, RTC_DATA_PORT, RTC_INDEX_PORT};
use self::serial::SerialDevice;
use self::virtio_mmio::{VirtioMmio, WINDOW_SIZE};

/// First port of the UART (COM1).
pub const SERIAL_PORT: u16 = 0x3f8;
/// The i8042 data port.
pub const I8042_DATA_PORT: u16 = 0x60;
/// The i8042 status/command port.
pub const I8042_COMMAND_PORT: u16 = 0x64;
/// The power device's port.
pub const POWER_PORT: u16 = 0x600;
/// Guest-physical base of the balloon's virtio-mmio window (in the MMIO
/// hole below 4 GiB, where Firecracker puts its virtio-mmio devices too).
pub const BALLOON_MMIO_BASE: u64 = 0xd000_0000;
/// GSI of the balloon's interrupt.
pub const BALLOON_GSI: u32 = 5;

/// An interrupt line: what a device pulls to interrupt the guest. In the
/// machine it is an eventfd registered as a KVM irqfd; in tests anything
/// that implements [`Trigger`].
#[derive(Clone)]
pub struct IrqLine(Arc<dyn Trigger<E = io::Error> + Send + Sync>);

impl IrqLine {
    /// A line that calls `trigger`.
    pub fn new(trigger: impl Trigger<E = io::Error> + Send + Sync + 'static) -> Self {
        Self(Arc::new(trigger))
    }

    /// A line that signals `eventfd` (registered as an irqfd by the caller).
    pub fn eventfd(eventfd: EventFd) -> Self {
        Self::new(EventFdTrigger(eventfd))
    }
}

impl Trigger for IrqLine {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.0.trigger()
    }
}

impl fmt::Debug for IrqLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IrqLine")
    }
}

/// Signals an eventfd: with KVM's irqfd behind it, an edge on a GSI.
#[derive(Debug)]
struct EventFdTrigger(EventFd);

impl Trigger for EventFdTrigger {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.0.write(1)
    }
}

/// What a guest write asks of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Nothing: carry on.
    None,
    /// Reset the machine (i8042 command `0xFE`, or its output port's reset line).
    Reset,
    /// Power the machine off (`1` written to the power device).
    PowerOff,
}

/// The device bus: the port-I/O devices and the MMIO window, every device
/// behind its own lock, so vCPUs touching different devices do not wait
/// for each other.
#[derive(Debug)]
pub struct DeviceBus {
    /// The UART on COM1.
    pub serial: Mutex<SerialDevice>,
    /// The keyboard controller.
    pub i8042: Mutex<I8042>,
    /// The power device.
    pub power: Mutex<PowerDevice>,
    /// The CMOS real-time clock.
    pub rtc: Mutex<Rtc>,
    /// The virtio balloon, if the machine has one.
    pub balloon: Option<Mutex<VirtioMmio<Balloon>>>,
}

impl DeviceBus {
    /// A bus with the given devices.
    pub fn new(serial: SerialDevice, i8042: I8042, power: PowerDevice, rtc: Rtc) -> Self {
        Self {
            serial: Mutex::new(serial),
            i8042: Mutex::new(i8042),
            power: Mutex::new(power),
            rtc: Mutex::new(rtc),
            balloon: None,
        }
    }

    /// The bus with a balloon at [`BALLOON_MMIO_BASE`].
    pub fn with_balloon(mut self, balloon: VirtioMmio<Balloon>) -> Self {
        self.balloon = Some(Mutex::new(balloon));
        self
    }

    /// Handles a guest read of MMIO address `addr` (outside RAM).
    pub fn mmio_read(&self, addr: u64, data: &mut [u8]) {
        match (&self.balloon, addr.checked_sub(BALLOON_MMIO_BASE)) {
            (Some(balloon), Some(offset)) if offset < WINDOW_SIZE => {
                balloon.lock().read(offset, data);
            }
            _ => data.fill(0xff),
        }
    }

    /// Handles a guest write of MMIO address `addr` (outside RAM).
    pub fn mmio_write(&self, addr: u64, data: &[u8]) {
        if let (Some(balloon), Some(offset)) = (&self.balloon, addr.checked_sub(BALLOON_MMIO_BASE))
        {
            if offset < WINDOW_SIZE {
                balloon.lock().write(offset, data);
            }
        }
    }

    /// Handles an `in` from `port`, filling `data`.
    ///
    /// `data` holds `size * count` bytes; every byte is handled as one
    /// byte-wide access to `port`, which is exact for byte-wide `in` and
    /// `rep insb` (all our registers are one byte wide).
    pub fn read(&self, port: u16, data: &mut [u8]) {
        for byte in data.iter_mut() {
            *byte = match port {
                SERIAL_PORT..=0x3ff => self.serial.lock().read((port - SERIAL_PORT) as u8),
                I8042_DATA_PORT | I8042_COMMAND_PORT => self.i8042.lock().read(port),
                POWER_PORT => self.power.lock().read(),
                RTC_INDEX_PORT | RTC_DATA_PORT => self.rtc.lock().read(port),
                _ => 0xff,
            };
        }
    }

    /// Handles an `out` of `data` to `port` (byte by byte, as [`read`](Self::read)).
    pub fn write(&self, port: u16, data: &[u8]) -> Request {
        let mut request = Request::None;
        for &byte in data {
            let r = match port {
                SERIAL_PORT..=0x3ff => {
                    self.serial.lock().write((port - SERIAL_PORT) as u8, byte);
                    Request::None
                }
                I8042_DATA_PORT | I8042_COMMAND_PORT => self.i8042.lock().write(port, byte),
                POWER_PORT => self.power.lock().write(byte),
                RTC_INDEX_PORT | RTC_DATA_PORT => {
                    self.rtc.lock().write(port, byte);
                    Request::None
                }
                _ => Request::None,
            };
            if r != Request::None {
                request = r;
            }
        }
        request
    }

    /// Puts every device back in its power-on state.
    pub fn reset(&self) {
        self.serial.lock().reset();
        self.i8042.lock().reset();
        self.power.lock().reset();
        self.rtc.lock().reset();
        if let Some(balloon) = &self.balloon {
            let mut balloon = balloon.lock();
            balloon.reset();
            balloon.device_mut().machine_reset();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A trigger that counts.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct Counter(pub Arc<AtomicUsize>);

    impl vm_superio::Trigger for Counter {
        type E = std::io::Error;
        fn trigger(&self) -> std::io::Result<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    /// A writer whose bytes the test can read.
    #[derive(Debug, Default, Clone)]
    pub(crate) struct Buf(pub Arc<parking_lot::Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn bus() -> (DeviceBus, Buf) {
        let out = Buf::default();
        let bus = DeviceBus::new(
            SerialDevice::new(IrqLine::new(Counter::default()), Box::new(out.clone())),
            I8042::new(IrqLine::new(Counter::default())),
            PowerDevice::new(),
            Rtc::new(rtc::host_clock(), Box::new(|_| {})),
        );
        (bus, out)
    }

    #[test]
    fn unknown_ports_read_all_ones_and_ignore_writes() {
        let (bus, _) = bus();
        let mut data = [0u8; 4];
        bus.read(0x80, &mut data);
        assert_eq!(data, [0xff; 4]);
        assert_eq!(bus.write(0x80, &[1, 2]), Request::None);
    }

    #[test]
    fn serial_port_writes_reach_the_output() {
        let (bus, out) = bus();
        assert_eq!(bus.write(SERIAL_PORT, b"OK\n"), Request::None);
        assert_eq!(&*out.0.lock(), b"OK\n");
    }

    #[test]
    fn power_port_reports_the_button_and_requests_power_off() {
        let (bus, _) = bus();
        let mut data = [0u8];
        bus.read(POWER_PORT, &mut data);
        assert_eq!(data, [0]);
        bus.power.lock().press_button();
        bus.read(POWER_PORT, &mut data);
        assert_eq!(data, [1]);
        assert_eq!(bus.write(POWER_PORT, &[1]), Request::PowerOff);
        bus.reset();
        bus.read(POWER_PORT, &mut data);
        assert_eq!(data, [0]);
    }

    #[test]
    fn rtc_ports_reach_the_clock() {
        let (bus, _) = bus();
        let mut data = [0u8];
        assert_eq!(bus.write(RTC_INDEX_PORT, &[0x0d]), Request::None);
        bus.read(RTC_DATA_PORT, &mut data);
        assert_eq!(data, [0x80]);
    }

    #[test]
    fn i8042_reset_command_requests_a_reset() {
        let (bus, _) = bus();
        assert_eq!(bus.write(I8042_COMMAND_PORT, &[0xfe]), Request::Reset);
    }
}
