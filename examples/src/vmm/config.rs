//! What to build: [`MachineConfig`] and its defaults.

use std::fmt;

use super::devices::serial::SerialOut;
use super::linux;

/// Guest RAM when none is asked for: 128 MiB, as QEMU.
pub const DEFAULT_MEM_SIZE: u64 = 128 << 20;

/// What to build.
pub struct MachineConfig<'a> {
    /// Bytes of RAM: a non-zero multiple of 4 KiB ([`DEFAULT_MEM_SIZE`]).
    pub mem_size: u64,
    /// Number of vCPUs (1). vCPU 0 boots the firmware; the others wait
    /// for INIT/SIPI.
    pub vcpus: usize,
    /// The flat firmware image, loaded at 1 MiB (and again at each reset).
    pub firmware: &'a [u8],
    /// Where the guest's serial output goes.
    pub serial_out: SerialOut,
    /// Whether the machine has a virtio balloon (false).
    pub balloon: bool,
    /// A Linux kernel to boot instead of the firmware (`-kernel`); loaded
    /// again, and re-entered, at each reset.
    pub kernel: Option<linux::KernelBoot>,
}

impl<'a> MachineConfig<'a> {
    /// The defaults (128 MiB, one vCPU) with `firmware` and `serial_out`.
    pub fn new(firmware: &'a [u8], serial_out: SerialOut) -> Self {
        Self {
            mem_size: DEFAULT_MEM_SIZE,
            vcpus: 1,
            firmware,
            serial_out,
            balloon: false,
            kernel: None,
        }
    }
}

impl fmt::Debug for MachineConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MachineConfig")
            .field("mem_size", &self.mem_size)
            .field("vcpus", &self.vcpus)
            .field("firmware", &format_args!("{} bytes", self.firmware.len()))
            .field("balloon", &self.balloon)
            .field("kernel", &self.kernel)
            .finish_non_exhaustive()
    }
}
