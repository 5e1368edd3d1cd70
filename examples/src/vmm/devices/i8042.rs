//! A minimal i8042 keyboard controller: enough for a guest to reset the
//! machine (command `0xFE`, as Linux's `reboot=k` and most firmware do) and
//! to read scancodes the VMM types (`send-key`, Ctrl-Alt-Del), with IRQ 1.
//!
//! No mouse (aux port), no typematic, no scancode-set translation: bytes
//! given to [`I8042::push_scancodes`] reach the guest as they are.

use std::collections::VecDeque;

use vm_superio::Trigger;

use super::{IrqLine, Request, I8042_COMMAND_PORT, I8042_DATA_PORT};

// Status register bits.
const STATUS_OUTPUT_FULL: u8 = 0x01;
const STATUS_SYSTEM: u8 = 0x04;
const STATUS_COMMAND: u8 = 0x08;
const STATUS_UNLOCKED: u8 = 0x10;

// Controller command byte bits.
const CCB_KBD_INT: u8 = 0x01;
const CCB_SYSTEM: u8 = 0x04;
const CCB_KBD_DISABLED: u8 = 0x10;
const CCB_TRANSLATE: u8 = 0x40;
const CCB_POWER_ON: u8 = CCB_KBD_INT | CCB_SYSTEM | CCB_TRANSLATE;

// Keyboard replies.
const KBD_ACK: u8 = 0xfa;
const KBD_SELF_TEST_OK: u8 = 0xaa;

/// Bytes the output buffer holds at most; more are dropped.
const QUEUE_LIMIT: usize = 64;

/// The controller's state.
#[derive(Debug)]
pub struct I8042 {
    irq: IrqLine,
    out: VecDeque<u8>,
    command_byte: u8,
    /// A controller command waiting for its data byte on port 0x60.
    pending_command: Option<u8>,
    /// A keyboard command (set LEDs, typematic) waiting for its parameter.
    pending_kbd_param: bool,
    last_was_command: bool,
    last_read: u8,
}

impl I8042 {
    /// A controller at power-on that interrupts through `irq` (IRQ 1).
    pub fn new(irq: IrqLine) -> Self {
        Self {
            irq,
            out: VecDeque::new(),
            command_byte: CCB_POWER_ON,
            pending_command: None,
            pending_kbd_param: false,
            last_was_command: false,
            last_read: 0,
        }
    }

    /// Reads `port` (0x60 data, 0x64 status).
    pub fn read(&mut self, port: u16) -> u8 {
        if port == I8042_COMMAND_PORT {
            return self.status();
        }
        if let Some(b) = self.out.pop_front() {
            self.last_read = b;
            self.update_irq();
        }
        self.last_read
    }

    /// Writes `port` (0x60 data, 0x64 command).
    pub fn write(&mut self, port: u16, value: u8) -> Request {
        match port {
            I8042_COMMAND_PORT => {
                self.last_was_command = true;
                self.command(value)
            }
            I8042_DATA_PORT => {
                self.last_was_command = false;
                self.data(value)
            }
            _ => Request::None,
        }
    }

    /// Queues scancodes as if typed, raising IRQ 1 if enabled. Dropped
    /// while the guest has the keyboard disabled or the buffer is full.
    pub fn push_scancodes(&mut self, codes: &[u8]) {
        if self.command_byte & CCB_KBD_DISABLED != 0 {
            return;
        }
        for &c in codes {
            self.push(c);
        }
    }

    /// Back to the power-on state.
    pub fn reset(&mut self) {
        *self = Self::new(self.irq.clone());
    }

    fn status(&self) -> u8 {
        let mut s = STATUS_UNLOCKED;
        if !self.out.is_empty() {
            s |= STATUS_OUTPUT_FULL;
        }
        if self.command_byte & CCB_SYSTEM != 0 {
            s |= STATUS_SYSTEM;
        }
        if self.last_was_command {
            s |= STATUS_COMMAND;
        }
        s
    }

    fn command(&mut self, cmd: u8) -> Request {
        self.pending_command = None;
        match cmd {
            0x20 => self.push(self.command_byte),
            0x60 | 0xd1 | 0xd2 => self.pending_command = Some(cmd),
            0xa9 => self.push(0xff), // no aux port
            0xaa => self.push(0x55), // controller self-test passed
            0xab => self.push(0x00), // keyboard interface test passed
            0xad => self.command_byte |= CCB_KBD_DISABLED,
            0xae => self.command_byte &= !CCB_KBD_DISABLED,
            0xd0 => self.push(0x01), // output port: reset line not asserted
            // Pulse output port lines; bit 0 low pulses the CPU reset line.
            0xf0..=0xff if cmd & 1 == 0 => return Request::Reset,
            _ => {}
        }
        Request::None
    }

    fn data(&mut self, value: u8) -> Request {
        match self.pending_command.take() {
            Some(0x60) => {
                self.command_byte = value;
                self.update_irq();
            }
            Some(0xd1) if value & 1 == 0 => return Request::Reset,
            Some(0xd1) => {}
            Some(_) => self.push(value), // 0xd2: as if typed
            None => self.keyboard_command(value),
        }
        Request::None
    }

    fn keyboard_command(&mut self, value: u8) {
        if std::mem::take(&mut self.pending_kbd_param) {
            self.push(KBD_ACK);
            return;
        }
        match value {
            0xff => {
                self.push(KBD_ACK);
                self.push(KBD_SELF_TEST_OK);
            }
            0xf2 => {
                self.push(KBD_ACK);
                self.push(0xab);
                self.push(0x83);
            }
            0xed | 0xf0 | 0xf3 => {
                self.pending_kbd_param = true;
                self.push(KBD_ACK);
            }
            _ => self.push(KBD_ACK),
        }
    }

    fn push(&mut self, byte: u8) {
        if self.out.len() < QUEUE_LIMIT {
            self.out.push_back(byte);
            self.update_irq();
        }
    }

    fn update_irq(&self) {
        if !self.out.is_empty() && self.command_byte & CCB_KBD_INT != 0 {
            if let Err(e) = self.irq.trigger() {
                log::warn!("i8042: cannot raise IRQ 1: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::super::tests::Counter;
    use super::*;

    fn i8042() -> (I8042, Counter) {
        let irqs = Counter::default();
        (I8042::new(IrqLine::new(irqs.clone())), irqs)
    }

    #[test]
    fn pulse_reset_line_requests_a_reset() {
        let (mut kbd, _) = i8042();
        assert_eq!(kbd.write(I8042_COMMAND_PORT, 0xfe), Request::Reset);
        assert_eq!(kbd.write(I8042_COMMAND_PORT, 0xff), Request::None);
    }

    #[test]
    fn output_port_write_with_reset_bit_low_requests_a_reset() {
        let (mut kbd, _) = i8042();
        assert_eq!(kbd.write(I8042_COMMAND_PORT, 0xd1), Request::None);
        assert_eq!(kbd.write(I8042_DATA_PORT, 0xfe), Request::Reset);
    }

    #[test]
    fn self_test_answers_0x55_through_the_output_buffer() {
        let (mut kbd, _) = i8042();
        assert_eq!(kbd.read(I8042_COMMAND_PORT) & STATUS_OUTPUT_FULL, 0);
        kbd.write(I8042_COMMAND_PORT, 0xaa);
        assert_ne!(kbd.read(I8042_COMMAND_PORT) & STATUS_OUTPUT_FULL, 0);
        assert_eq!(kbd.read(I8042_DATA_PORT), 0x55);
        assert_eq!(kbd.read(I8042_COMMAND_PORT) & STATUS_OUTPUT_FULL, 0);
    }

    #[test]
    fn scancodes_raise_irq1_unless_disabled() {
        let (mut kbd, irqs) = i8042();
        kbd.push_scancodes(&[0x1d, 0x38]);
        assert_eq!(irqs.0.load(Ordering::SeqCst), 2);
        assert_eq!(kbd.read(I8042_DATA_PORT), 0x1d);
        assert_eq!(kbd.read(I8042_DATA_PORT), 0x38);
        kbd.write(I8042_COMMAND_PORT, 0xad);
        kbd.push_scancodes(&[0x53]);
        assert_eq!(kbd.read(I8042_COMMAND_PORT) & STATUS_OUTPUT_FULL, 0);
    }

    #[test]
    fn command_byte_round_trips_and_resets() {
        let (mut kbd, _) = i8042();
        kbd.write(I8042_COMMAND_PORT, 0x60);
        kbd.write(I8042_DATA_PORT, 0x00);
        kbd.write(I8042_COMMAND_PORT, 0x20);
        assert_eq!(kbd.read(I8042_DATA_PORT), 0x00);
        kbd.reset();
        kbd.write(I8042_COMMAND_PORT, 0x20);
        assert_eq!(kbd.read(I8042_DATA_PORT), CCB_POWER_ON);
    }
}
