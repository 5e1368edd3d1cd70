//! Loading a kernel into guest RAM: the image (with linux-loader), the
//! command line, the initrd, the boot information for its entry, the GDT
//! and the page tables, as [`load`]'s named steps.

use std::io::Cursor;

use linux_loader::loader::bootparam::setup_header;
use linux_loader::loader::{BzImage, Elf, KernelLoader, KernelLoaderResult, PvhBootCapability};
use vm_memory::GuestAddress;

use super::boot_info::{write_pvh_start_info, write_zero_page};
use super::cmdline::{cmdline_bytes, cmdline_max};
use super::e820::{e820_map, ram_regions, E820Entry};
use super::elf::elf_load_ranges;
use super::entry::{identity_page_tables, Entry, GDT64};
use super::error::LinuxError;
use super::kernel::{KernelBoot, KernelFormat};
use super::{CMDLINE_ADDR, HIGH_MEMORY, PML4_ADDR};
use crate::vmm::boot::{self, GDT_ADDR};
use crate::vmm::memory::{GuestRam, MMIO_HOLE_START};

/// Highest initrd end a 64-bit kernel that does not say accepts.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0x7fff_ffff;
/// `xloadflags`: the kernel has the 64-bit entry at load address + 0x200.
pub(super) const XLF_KERNEL_64: u16 = 1 << 0;
/// Offset of the 64-bit entry point in a loaded bzImage.
const BZIMAGE_ENTRY_64: u64 = 0x200;

/// A kernel in guest memory, ready to enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadedKernel {
    /// How to enter it.
    pub entry: Entry,
    /// First and one-past-last guest-physical byte the kernel occupies.
    pub range: (u64, u64),
    /// Where the initrd went (start, length), if there is one.
    pub initrd: Option<(u64, u64)>,
}

/// Loads `kernel` into `ram` (which should be zeroed) with everything its
/// entry needs: the command line, the initrd, the memory map, and the
/// zero page or PVH start info, the GDT and the page tables.
///
/// # Errors
///
/// Any [`LinuxError`]: an unknown format, an image linux-loader refuses or
/// that does not fit, a bad command line, an initrd too large.
pub fn load(ram: &GuestRam, kernel: &KernelBoot) -> std::result::Result<LoadedKernel, LinuxError> {
    let format = KernelFormat::detect(&kernel.image)?;
    if format == KernelFormat::Elf {
        check_elf_fits(ram, &kernel.image)?;
    }
    let loaded = load_image(ram, format, &kernel.image)?;

    let header = loaded.setup_header;
    let cmdline = cmdline_bytes(&kernel.cmdline, cmdline_max(header.as_ref()))?;
    write(ram, CMDLINE_ADDR, &cmdline, "command line")?;

    let (kernel_end, initrd_max) = kernel_end_and_initrd_max(loaded.kernel_end, header.as_ref());
    let initrd = match &kernel.initrd {
        Some(bytes) => Some(place_initrd(ram, bytes, kernel_end, initrd_max)?),
        None => None,
    };

    let map = e820_map(&ram_regions(ram));
    let entry = write_boot_info(ram, format, loaded, &map, initrd, cmdline.len())?;
    write_gdt_and_page_tables(ram, entry)?;
    let start = kernel_start(format, &kernel.image, loaded);
    Ok(LoadedKernel {
        entry,
        range: (start, kernel_end),
        initrd,
    })
}

/// Refuses an ELF kernel whose segments reach beyond RAM below the MMIO
/// hole ([`LinuxError::TooLarge`]).
fn check_elf_fits(ram: &GuestRam, image: &[u8]) -> std::result::Result<(), LinuxError> {
    let ram_end = ram.size().min(MMIO_HOLE_START);
    let end = elf_load_ranges(image)
        .iter()
        .map(|r| r.paddr.1)
        .max()
        .unwrap_or(0);
    if end > ram_end {
        return Err(LinuxError::TooLarge { end, ram_end });
    }
    Ok(())
}

/// Has linux-loader put the image in RAM, at [`HIGH_MEMORY`] or above.
fn load_image(
    ram: &GuestRam,
    format: KernelFormat,
    image: &[u8],
) -> std::result::Result<KernelLoaderResult, LinuxError> {
    let mem = ram.memory();
    let mut image = Cursor::new(image);
    let highmem = Some(GuestAddress(HIGH_MEMORY));
    match format {
        KernelFormat::Elf => Elf::load(mem, None, &mut image, highmem),
        KernelFormat::BzImage => BzImage::load(mem, None, &mut image, highmem),
    }
    .map_err(LinuxError::Load)
}

/// Where the kernel really ends (a bzImage decompresses itself beyond its
/// loaded end), and the highest address its initrd may reach, from its
/// setup `header` if it has one.
fn kernel_end_and_initrd_max(loaded_end: u64, header: Option<&setup_header>) -> (u64, u64) {
    let mut kernel_end = loaded_end;
    let mut initrd_max = DEFAULT_INITRD_ADDR_MAX;
    if let Some(h) = header {
        // The kernel decompresses itself up to pref_address + init_size.
        if h.version >= 0x020a {
            kernel_end = kernel_end.max(h.pref_address.saturating_add(u64::from(h.init_size)));
        }
        if h.version >= 0x0203 && h.initrd_addr_max != 0 {
            initrd_max = u64::from(h.initrd_addr_max);
        }
    }
    (kernel_end, initrd_max)
}

/// Writes the initrd `bytes` as high as it may go ([`initrd_addr`]);
/// returns where it went (start, length).
fn place_initrd(
    ram: &GuestRam,
    bytes: &[u8],
    kernel_end: u64,
    initrd_max: u64,
) -> std::result::Result<(u64, u64), LinuxError> {
    let top = ram
        .size()
        .min(MMIO_HOLE_START)
        .min(initrd_max.saturating_add(1));
    let addr = initrd_addr(bytes.len(), kernel_end, top)?;
    write(ram, addr, bytes, "initrd")?;
    Ok((addr, bytes.len() as u64))
}

/// Writes what the kernel's entry reads (PVH start info, or the zero page)
/// and says which entry that is.
fn write_boot_info(
    ram: &GuestRam,
    format: KernelFormat,
    loaded: KernelLoaderResult,
    map: &[E820Entry],
    initrd: Option<(u64, u64)>,
    cmdline_len: usize,
) -> std::result::Result<Entry, LinuxError> {
    let header = loaded.setup_header;
    let entry = match (format, loaded.pvh_boot_cap) {
        (KernelFormat::Elf, PvhBootCapability::PvhEntryPresent(addr)) => {
            write_pvh_start_info(ram, map, initrd)?;
            Entry::Pvh { addr: addr.0 }
        }
        (KernelFormat::Elf, _) => {
            write_zero_page(ram, map, None, initrd, cmdline_len)?;
            Entry::Linux64 {
                addr: loaded.kernel_load.0,
            }
        }
        (KernelFormat::BzImage, _) => {
            let h = header.ok_or(LinuxError::No64BitEntry)?;
            if h.version < 0x020c || h.xloadflags & XLF_KERNEL_64 == 0 {
                return Err(LinuxError::No64BitEntry);
            }
            write_zero_page(ram, map, Some(h), initrd, cmdline_len)?;
            Entry::Linux64 {
                addr: loaded.kernel_load.0 + BZIMAGE_ENTRY_64,
            }
        }
    };
    Ok(entry)
}

/// Writes the GDT `entry` needs and the identity page tables.
fn write_gdt_and_page_tables(ram: &GuestRam, entry: Entry) -> std::result::Result<(), LinuxError> {
    let gdt: &[u64] = match entry {
        Entry::Pvh { .. } => &boot::GDT,
        Entry::Linux64 { .. } => &GDT64,
    };
    let gdt: Vec<u8> = gdt.iter().flat_map(|e| e.to_le_bytes()).collect();
    write(ram, GDT_ADDR, &gdt, "GDT")?;
    let tables: Vec<u8> = identity_page_tables()
        .iter()
        .flat_map(|e| e.to_le_bytes())
        .collect();
    write(ram, PML4_ADDR, &tables, "page tables")
}

/// The kernel's first guest-physical byte.
fn kernel_start(format: KernelFormat, image: &[u8], loaded: KernelLoaderResult) -> u64 {
    // linux-loader's load address is the ELF entry point, not its start.
    match format {
        KernelFormat::Elf => elf_load_ranges(image)
            .iter()
            .map(|r| r.paddr.0)
            .min()
            .unwrap_or(loaded.kernel_load.0),
        KernelFormat::BzImage => loaded.kernel_load.0,
    }
}

/// Where an initrd of `len` bytes goes: page-aligned, as high as possible
/// with its end at or below `top`, and not below `kernel_end`.
pub(super) fn initrd_addr(
    len: usize,
    kernel_end: u64,
    top: u64,
) -> std::result::Result<u64, LinuxError> {
    let room = top.saturating_sub(kernel_end);
    let too_large = || LinuxError::InitrdTooLarge { len, room };
    let start = top.checked_sub(len as u64).ok_or_else(too_large)? & !0xfff;
    if start < kernel_end {
        return Err(too_large());
    }
    Ok(start)
}

/// Writes `bytes` at `addr`; [`LinuxError::Write`] naming `what` if RAM is
/// too small.
fn write(
    ram: &GuestRam,
    addr: u64,
    bytes: &[u8],
    what: &'static str,
) -> std::result::Result<(), LinuxError> {
    ram.write(addr, bytes).map_err(|_| LinuxError::Write(what))
}
