//! What the monitor does to the devices: the power button, serial input,
//! keyboard scancodes and the balloon's target and size.

use super::error::{Result, VmmError};
use super::Machine;

impl Machine {
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
    /// `actual` ([`MachineEvent::BalloonChange`](super::MachineEvent::BalloonChange)).
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
}
