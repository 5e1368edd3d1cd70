//! The terminal's modes: QEMU's raw mode, and the settings saved to put
//! back.
//!
//! The functions take the descriptor and the slot of the saved settings so
//! that the tests can run them on a pseudo-terminal; the process uses stdin
//! and [`SAVED`].

use std::io;
use std::os::fd::AsFd;
use std::sync::{Mutex, PoisonError};

use rustix::termios::{
    self, ControlModes, InputModes, LocalModes, OptionalActions, OutputModes, SpecialCodeIndex,
    Termios,
};

/// Stdin's settings from before it was made raw, while it is raw; one copy
/// for the process, so that whoever exits (a signal thread, an exit hook)
/// can put them back without a handle.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// QEMU's raw mode, as `qemu_chr_set_echo_stdio(chr, false)` in
/// `chardev/char-stdio.c` derives it from the terminal's settings.
///
/// Keys reach the console as typed: no line editing or echo by the
/// terminal (the console does both), no CR/NL translation, no XON/XOFF,
/// 8-bit bytes, a read returns after one byte. Output post-processing stays,
/// so a `\n` written to stderr still starts a new line; ISIG stays, so
/// Ctrl-C, Ctrl-\ and Ctrl-Z still send their signals (QEMU's default
/// `signal=on`).
pub(crate) fn raw_mode(original: &Termios) -> Termios {
    let mut raw = original.clone();
    raw.input_modes &= !(InputModes::IGNBRK
        | InputModes::BRKINT
        | InputModes::PARMRK
        | InputModes::ISTRIP
        | InputModes::INLCR
        | InputModes::IGNCR
        | InputModes::ICRNL
        | InputModes::IXON);
    raw.output_modes |= OutputModes::OPOST;
    raw.local_modes &=
        !(LocalModes::ECHO | LocalModes::ECHONL | LocalModes::ICANON | LocalModes::IEXTEN);
    raw.control_modes &= !(ControlModes::CSIZE | ControlModes::PARENB);
    raw.control_modes |= ControlModes::CS8;
    raw.special_codes[SpecialCodeIndex::VMIN] = 1;
    raw.special_codes[SpecialCodeIndex::VTIME] = 0;
    raw
}

/// Makes stdin raw, saving its settings; `false` when stdin is not a
/// terminal (nothing to do).
pub(crate) fn make_stdin_raw() -> io::Result<bool> {
    make_raw(io::stdin(), &SAVED)
}

/// Puts stdin's saved settings back: see [`restore`].
pub(crate) fn restore_stdin() -> io::Result<bool> {
    restore(io::stdin(), &SAVED)
}

/// Makes `fd` raw and keeps its settings in `slot`; `false` when `fd` is
/// not a terminal. Settings already in `slot` are kept: they are the
/// original ones, the terminal's current ones may be raw already.
pub(crate) fn make_raw(fd: impl AsFd, slot: &Mutex<Option<Termios>>) -> io::Result<bool> {
    let fd = fd.as_fd();
    if !termios::isatty(fd) {
        return Ok(false);
    }
    // Held across the change, so that a restore cannot slip in between
    // and leave the terminal raw with nothing saved.
    let mut saved = slot.lock().unwrap_or_else(PoisonError::into_inner);
    let original = match saved.as_ref() {
        Some(original) => original.clone(),
        None => termios::tcgetattr(fd)?,
    };
    termios::tcsetattr(fd, OptionalActions::Now, &raw_mode(&original))?;
    *saved = Some(original);
    Ok(true)
}

/// Puts the settings saved in `slot` back on `fd`: `true` if it did,
/// `false` if nothing was saved (never made raw, or restored already).
/// After a failure the settings stay saved, for another try.
pub(crate) fn restore(fd: impl AsFd, slot: &Mutex<Option<Termios>>) -> io::Result<bool> {
    let mut saved = slot.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(original) = saved.as_ref() else {
        return Ok(false);
    };
    termios::tcsetattr(fd, OptionalActions::Now, original)?;
    *saved = None;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::OwnedFd;

    use rustix::fs::{Mode, OFlags};
    use rustix::pty::{self, OpenptFlags};

    use super::*;

    /// A pseudo-terminal: the master, and the slave a program would have
    /// as stdin. Neither becomes the test's controlling terminal.
    fn pty() -> (OwnedFd, OwnedFd) {
        let master = pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("open a pseudo-terminal");
        pty::grantpt(&master).expect("grantpt");
        pty::unlockpt(&master).expect("unlockpt");
        let name = pty::ptsname(&master, Vec::new()).expect("ptsname");
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open the slave");
        (master, slave)
    }

    /// The flags and the codes raw mode touches, comparable.
    fn modes(t: &Termios) -> (InputModes, OutputModes, ControlModes, LocalModes, u8, u8) {
        (
            t.input_modes,
            t.output_modes,
            t.control_modes,
            t.local_modes,
            t.special_codes[SpecialCodeIndex::VMIN],
            t.special_codes[SpecialCodeIndex::VTIME],
        )
    }

    #[test]
    fn raw_mode_clears_qemus_flags_and_keeps_the_rest() {
        let (_master, slave) = pty();
        let mut cooked = termios::tcgetattr(&slave).unwrap();
        // Exactly: every flag raw mode clears, and some it must leave alone.
        cooked.input_modes = InputModes::IGNBRK
            | InputModes::BRKINT
            | InputModes::PARMRK
            | InputModes::ISTRIP
            | InputModes::INLCR
            | InputModes::IGNCR
            | InputModes::ICRNL
            | InputModes::IXON
            | InputModes::IXOFF;
        cooked.output_modes = OutputModes::ONLCR;
        cooked.local_modes = LocalModes::ECHO
            | LocalModes::ECHONL
            | LocalModes::ICANON
            | LocalModes::IEXTEN
            | LocalModes::ISIG
            | LocalModes::ECHOE;
        cooked.control_modes &= !ControlModes::CSIZE;
        cooked.control_modes |= ControlModes::CS7 | ControlModes::PARENB | ControlModes::CREAD;
        cooked.special_codes[SpecialCodeIndex::VMIN] = 0;
        cooked.special_codes[SpecialCodeIndex::VTIME] = 5;
        cooked.special_codes[SpecialCodeIndex::VINTR] = 3;

        let raw = raw_mode(&cooked);
        assert_eq!(raw.input_modes, InputModes::IXOFF);
        assert_eq!(raw.output_modes, OutputModes::OPOST | OutputModes::ONLCR);
        assert_eq!(raw.local_modes, LocalModes::ISIG | LocalModes::ECHOE);
        assert_eq!(raw.control_modes & ControlModes::CSIZE, ControlModes::CS8);
        assert!(!raw.control_modes.contains(ControlModes::PARENB));
        assert!(raw.control_modes.contains(ControlModes::CREAD));
        assert_eq!(raw.special_codes[SpecialCodeIndex::VMIN], 1);
        assert_eq!(raw.special_codes[SpecialCodeIndex::VTIME], 0);
        assert_eq!(raw.special_codes[SpecialCodeIndex::VINTR], 3);
        // Idempotent: raw mode of raw mode is raw mode.
        assert_eq!(modes(&raw_mode(&raw)), modes(&raw));
    }

    #[test]
    fn a_terminal_is_made_raw_and_restored_once() {
        let (_master, slave) = pty();
        let slot = Mutex::new(None);
        let before = termios::tcgetattr(&slave).unwrap();
        assert!(before
            .local_modes
            .contains(LocalModes::ICANON | LocalModes::ECHO));

        assert!(make_raw(&slave, &slot).unwrap());
        let raw = termios::tcgetattr(&slave).unwrap();
        assert!(!raw
            .local_modes
            .intersects(LocalModes::ICANON | LocalModes::ECHO));
        assert_eq!(modes(&raw), modes(&raw_mode(&before)));
        // Made raw again, the saved settings are still the original ones.
        assert!(make_raw(&slave, &slot).unwrap());

        assert!(restore(&slave, &slot).unwrap());
        assert_eq!(modes(&termios::tcgetattr(&slave).unwrap()), modes(&before));
        assert!(
            !restore(&slave, &slot).unwrap(),
            "a second restore does nothing"
        );
    }

    #[test]
    fn what_is_not_a_terminal_is_left_alone() {
        let slot = Mutex::new(None);
        let file = File::open("/dev/null").unwrap();
        assert!(!make_raw(&file, &slot).unwrap());
        assert!(slot.lock().unwrap().is_none());
        assert!(!restore(&file, &slot).unwrap());
    }
}
