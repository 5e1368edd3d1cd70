//! What the kernel reads at its entry besides the command line: PVH's
//! `hvm_start_info` (with the memory map and the initrd as module 0), or
//! the 64-bit boot protocol's zero page (`boot_params`).

use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use vm_memory::{Bytes, GuestAddress};

use super::e820::E820Entry;
use super::error::LinuxError;
use super::{CMDLINE_ADDR, MEMMAP_ADDR, MODLIST_ADDR, START_INFO_ADDR, ZERO_PAGE_ADDR};
use crate::vmm::memory::GuestRam;

pub(super) const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;
const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448; // "HdrS"
const KERNEL_LOADER_OTHER: u8 = 0xff;
const KERNEL_MIN_ALIGNMENT: u32 = 0x100_0000;

/// Writes PVH's `hvm_start_info` at [`START_INFO_ADDR`], with the memory
/// map `map` and, if there is one, the initrd as module 0.
pub(super) fn write_pvh_start_info(
    ram: &GuestRam,
    map: &[E820Entry],
    initrd: Option<(u64, u64)>,
) -> std::result::Result<(), LinuxError> {
    let memmap: Vec<hvm_memmap_table_entry> = map
        .iter()
        .map(|e| hvm_memmap_table_entry {
            addr: e.addr,
            size: e.size,
            type_: e.kind as u32,
            reserved: 0,
        })
        .collect();
    let mut start_info = hvm_start_info {
        magic: XEN_HVM_START_MAGIC,
        version: 1, // has the memory map
        cmdline_paddr: CMDLINE_ADDR,
        memmap_paddr: MEMMAP_ADDR,
        memmap_entries: memmap.len() as u32,
        ..Default::default()
    };
    if initrd.is_some() {
        start_info.nr_modules = 1;
        start_info.modlist_paddr = MODLIST_ADDR;
    }
    let mut params = BootParams::new(&start_info, GuestAddress(START_INFO_ADDR));
    params.set_sections(&memmap, GuestAddress(MEMMAP_ADDR));
    if let Some((paddr, size)) = initrd {
        let module = hvm_modlist_entry {
            paddr,
            size,
            ..Default::default()
        };
        params.set_modules(&[module], GuestAddress(MODLIST_ADDR));
    }
    PvhBootConfigurator::write_bootparams(&params, ram.memory())
        .map_err(|_| LinuxError::Write("PVH start info"))
}

/// Writes the zero page at [`ZERO_PAGE_ADDR`]: the kernel's own setup
/// `header` (a bzImage) or a minimal one (a `vmlinux`), the command line
/// and initrd pointers, and the memory map `map`.
pub(super) fn write_zero_page(
    ram: &GuestRam,
    map: &[E820Entry],
    header: Option<setup_header>,
    initrd: Option<(u64, u64)>,
    cmdline_len: usize,
) -> std::result::Result<(), LinuxError> {
    let mut params = boot_params::default();
    if let Some(h) = header {
        // The kernel's own header (its cmdline_size is its limit: kept).
        params.hdr = h;
    } else {
        params.hdr.boot_flag = KERNEL_BOOT_FLAG_MAGIC;
        params.hdr.header = KERNEL_HDR_MAGIC;
        params.hdr.kernel_alignment = KERNEL_MIN_ALIGNMENT;
        params.hdr.cmdline_size = (cmdline_len - 1) as u32;
    }
    params.hdr.type_of_loader = KERNEL_LOADER_OTHER;
    params.hdr.cmd_line_ptr = CMDLINE_ADDR as u32;
    if let Some((addr, size)) = initrd {
        params.hdr.ramdisk_image = addr as u32;
        params.hdr.ramdisk_size = size as u32;
    }
    for (slot, e) in params.e820_table.iter_mut().zip(map) {
        *slot = boot_e820_entry {
            addr: e.addr,
            size: e.size,
            type_: e.kind as u32,
        };
    }
    params.e820_entries = map.len().min(params.e820_table.len()) as u8;
    write_obj(ram, ZERO_PAGE_ADDR, params, "zero page")
}

fn write_obj<T: vm_memory::ByteValued>(
    ram: &GuestRam,
    addr: u64,
    value: T,
    what: &'static str,
) -> std::result::Result<(), LinuxError> {
    ram.memory()
        .write_obj(value, GuestAddress(addr))
        .map_err(|_| LinuxError::Write(what))
}
