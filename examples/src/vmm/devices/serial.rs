//! The 16550 UART on COM1: vm-superio's [`Serial`] with an [`IrqLine`] as
//! its interrupt and the caller's writer as its output.

use std::fmt;
use std::io::Write;

use vm_superio::serial::NoEvents;
use vm_superio::Serial;

use super::IrqLine;

/// Where the guest's serial output goes.
pub type SerialOut = Box<dyn Write + Send>;

/// The UART: registers at offsets 0..=7 from its base port.
pub struct SerialDevice {
    // `None` only for the instant `reset` rebuilds it.
    uart: Option<Serial<IrqLine, NoEvents, SerialOut>>,
    irq: IrqLine,
}

impl SerialDevice {
    /// A UART that interrupts through `irq` and writes to `out`.
    pub fn new(irq: IrqLine, out: SerialOut) -> Self {
        Self {
            uart: Some(Serial::new(irq.clone(), out)),
            irq,
        }
    }

    fn uart(&mut self) -> &mut Serial<IrqLine, NoEvents, SerialOut> {
        self.uart
            .as_mut()
            .expect("the UART is only absent inside reset")
    }

    /// Reads register `offset`.
    pub fn read(&mut self, offset: u8) -> u8 {
        self.uart().read(offset)
    }

    /// Writes register `offset`. An output or interrupt error is logged:
    /// the guest cannot be told about it.
    pub fn write(&mut self, offset: u8, value: u8) {
        if let Err(e) = self.uart().write(offset, value) {
            log::warn!("serial: {e}");
        }
    }

    /// Queues `bytes` as received input (what `-serial stdio` would type);
    /// returns how many fitted in the receive FIFO.
    pub fn enqueue_input(&mut self, bytes: &[u8]) -> usize {
        match self.uart().enqueue_raw_bytes(bytes) {
            Ok(n) => n,
            Err(e) => {
                log::warn!("serial: {e}");
                0
            }
        }
    }

    /// Back to the power-on state, keeping the output.
    pub fn reset(&mut self) {
        if let Some(uart) = self.uart.take() {
            self.uart = Some(Serial::new(self.irq.clone(), uart.into_writer()));
        }
    }
}

impl fmt::Debug for SerialDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SerialDevice").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{Buf, Counter};
    use super::*;

    const IER: u8 = 1;
    const LSR: u8 = 5;

    #[test]
    fn enabled_transmit_interrupt_pulls_the_line() {
        let irqs = Counter::default();
        let mut uart = SerialDevice::new(IrqLine::new(irqs.clone()), Box::new(Buf::default()));
        uart.write(IER, 0x02);
        uart.write(0, b'x');
        assert!(irqs.0.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    }

    #[test]
    fn reset_clears_registers_and_keeps_the_output() {
        let out = Buf::default();
        let mut uart = SerialDevice::new(IrqLine::new(Counter::default()), Box::new(out.clone()));
        uart.write(IER, 0x0f);
        uart.write(0, b'a');
        uart.reset();
        assert_eq!(uart.read(IER), 0);
        uart.write(0, b'b');
        assert_eq!(&*out.0.lock(), b"ab");
        // Transmitter empty: a polling guest may send.
        assert_ne!(uart.read(LSR) & 0x20, 0);
    }

    #[test]
    fn input_is_read_from_the_receive_buffer() {
        let mut uart =
            SerialDevice::new(IrqLine::new(Counter::default()), Box::new(Buf::default()));
        assert_eq!(uart.enqueue_input(b"hi"), 2);
        assert_eq!(uart.read(LSR) & 1, 1);
        assert_eq!(uart.read(0), b'h');
        assert_eq!(uart.read(0), b'i');
        assert_eq!(uart.read(LSR) & 1, 0);
    }
}
