//! The power device at port 0x600, this machine's stand-in for ACPI:
//! reading it tells whether the power button was pressed (`0x01`, else
//! `0x00`); writing `0x01` powers the machine off.
//!
//! The button stays pressed until the machine is reset, so a guest that
//! polls now and then cannot miss it. It raises no interrupt.

use super::Request;

/// The power device's state.
#[derive(Debug, Default)]
pub struct PowerDevice {
    button: bool,
}

impl PowerDevice {
    /// The device at power-on: button not pressed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Presses the power button (`system_powerdown`).
    pub fn press_button(&mut self) {
        self.button = true;
    }

    /// Whether the button was pressed since power-on.
    pub fn button_pressed(&self) -> bool {
        self.button
    }

    /// A guest read: `0x01` if the button was pressed, else `0x00`.
    pub fn read(&self) -> u8 {
        u8::from(self.button)
    }

    /// A guest write: `0x01` powers off; other values are ignored.
    pub fn write(&mut self, value: u8) -> Request {
        if value == 0x01 {
            Request::PowerOff
        } else {
            Request::None
        }
    }

    /// Back to the power-on state.
    pub fn reset(&mut self) {
        self.button = false;
    }
}
