//! The kernel command line: its default, and the bytes the kernel reads
//! within the length its header allows.

use linux_loader::loader::bootparam::setup_header;

use super::error::LinuxError;

/// The kernel command line when the user gives none (`-append` absent):
/// the console and early printk on the first UART (`ttyS0`, the machine's
/// COM1), reboot through the keyboard controller (the machine's i8042
/// reset line), and no PCI probing (the machine has no PCI bus).
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k pci=off";

/// The longest command line, with its NUL, for a kernel that does not say
/// (a `vmlinux`): x86's `COMMAND_LINE_SIZE`.
pub const DEFAULT_CMDLINE_MAX: usize = 2048;

/// The longest command line `header` allows, with its NUL.
pub(super) fn cmdline_max(header: Option<&setup_header>) -> usize {
    match header {
        // cmdline_size exists from protocol 2.06 and excludes the NUL.
        Some(h) if h.version >= 0x0206 && h.cmdline_size > 0 => h.cmdline_size as usize + 1,
        Some(_) => 256,
        None => DEFAULT_CMDLINE_MAX,
    }
}

/// The command line as the kernel reads it: the bytes and a NUL.
///
/// # Errors
///
/// [`LinuxError::CmdlineNul`], [`LinuxError::CmdlineTooLong`].
pub(super) fn cmdline_bytes(cmdline: &str, max: usize) -> std::result::Result<Vec<u8>, LinuxError> {
    if cmdline.contains('\0') {
        return Err(LinuxError::CmdlineNul);
    }
    let mut bytes = cmdline.as_bytes().to_vec();
    bytes.push(0);
    if bytes.len() > max {
        return Err(LinuxError::CmdlineTooLong {
            len: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}
