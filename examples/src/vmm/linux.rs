//! Linux boot: loads a kernel (an ELF `vmlinux` or a `bzImage`) with
//! [linux-loader](linux_loader), writes what its boot protocol wants, and
//! says how vCPU 0 enters it.
//!
//! Which entry:
//!
//! - a `vmlinux` with a `XEN_ELFNOTE_PHYS32_ENTRY` note enters through
//!   **PVH**: 32-bit protected mode, paging off, flat segments (the boot
//!   GDT of [`boot`](super::boot)), `EBX` = the `hvm_start_info` at
//!   [`START_INFO_ADDR`], which points at the command line, the memory map
//!   and the initrd (as module 0);
//! - a `vmlinux` without that note, and a `bzImage` (64-bit entry at its
//!   load address + 0x200), enter through the **64-bit boot protocol**:
//!   long mode, identity-mapped first 4 GiB (2 MiB pages at
//!   [`PML4_ADDR`]), a GDT with a 64-bit code segment at selector 0x10 and
//!   data at 0x18, `RSI` = the zero page (`boot_params`) at
//!   [`ZERO_PAGE_ADDR`].
//!
//! Low memory, below the kernel (which loads at 1 MiB or above):
//!
//! | address    | what                                            |
//! |------------|-------------------------------------------------|
//! | `0x500`    | the GDT                                         |
//! | `0x6000`   | PVH `hvm_start_info`, then its memory map and module list |
//! | `0x7000`   | the zero page (`boot_params`)                   |
//! | `0x8ff0`   | initial stack pointer (64-bit entry)            |
//! | `0x9000`   | page tables: PML4, PDPT, four page directories  |
//! | `0x20000`  | the command line                                |
//!
//! The initrd goes at the top of RAM below 3 GiB (and below the kernel's
//! `initrd_addr_max` for a bzImage), page-aligned. The memory map
//! ([`e820_map`]) is the RAM layout of [`memory`](super::memory) with the
//! PC's holes: 0..0x9fc00 RAM, the EBDA and the BIOS area reserved, 1 MiB
//! up to the MMIO hole RAM, and RAM again from 4 GiB.
//!
//! Everything is written again at each [`Machine::reset`](super::Machine::reset),
//! which then re-enters the kernel.
//!
//! # Example
//!
//! ```no_run
//! use examples::vmm::linux::{KernelBoot, DEFAULT_CMDLINE};
//! use examples::vmm::{Machine, MachineConfig};
//!
//! let mut kernel = KernelBoot::from_files("vmlinux".as_ref(), None)?;
//! assert_eq!(kernel.cmdline, DEFAULT_CMDLINE);
//! kernel.append_cmdline("quiet");
//! let mut config = MachineConfig::new(&[], Box::new(std::io::stdout()));
//! config.kernel = Some(kernel);
//! let machine = Machine::new(config)?;
//! machine.start(false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod boot_info;
mod cmdline;
mod e820;
mod elf;
mod entry;
mod error;
mod kernel;
mod load;

pub use self::cmdline::{DEFAULT_CMDLINE, DEFAULT_CMDLINE_MAX};
pub use self::e820::{e820_map, E820Entry, E820Kind};
pub use self::elf::{elf_load_ranges, LoadRange};
pub use self::entry::{
    entry_regs, entry_sregs, identity_page_tables, setup_boot_vcpu, Entry, GDT64,
};
pub use self::error::LinuxError;
pub use self::kernel::{KernelBoot, KernelFormat};
pub use self::load::{load, LoadedKernel};

/// Guest-physical address of PVH's `hvm_start_info`.
pub const START_INFO_ADDR: u64 = 0x6000;
/// Guest-physical address of the zero page (`boot_params`).
pub const ZERO_PAGE_ADDR: u64 = 0x7000;
/// Initial stack pointer for the 64-bit entry.
pub const BOOT_STACK: u64 = 0x8ff0;
/// Guest-physical address of the PML4; the PDPT and four page directories follow.
pub const PML4_ADDR: u64 = 0x9000;
/// Guest-physical address of the command line.
pub const CMDLINE_ADDR: u64 = 0x2_0000;
/// Lowest address the kernel may load at (1 MiB).
pub const HIGH_MEMORY: u64 = 0x10_0000;

/// Where the PVH memory map starts (after `hvm_start_info`).
const MEMMAP_ADDR: u64 = START_INFO_ADDR + 0x40;
/// Where the PVH module list starts (room for 16 memory map entries before it).
const MODLIST_ADDR: u64 = MEMMAP_ADDR + 16 * 24;

#[cfg(test)]
mod tests;
