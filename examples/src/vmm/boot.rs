//! The firmware boot ABI: where the image goes and the state vCPU 0 starts in.
//!
//! - The flat image is loaded at guest-physical [`FIRMWARE_ADDR`] (1 MiB).
//! - A GDT at [`GDT_ADDR`] holds: null, null, a flat 32-bit code segment
//!   (selector [`CODE_SELECTOR`], base 0, limit 4 GiB, DPL 0) and a flat
//!   data segment ([`DATA_SELECTOR`]).
//! - vCPU 0 starts at `EIP = FIRMWARE_ADDR` in 32-bit protected mode:
//!   `CR0 = PE`, no paging, `EFER = 0`, `EFLAGS = 0x2`, CS from the GDT's
//!   code entry and DS/ES/FS/GS/SS from its data entry. ESP is set to
//!   `FIRMWARE_ADDR` (a stack below the image) as a convenience; a firmware
//!   should set its own. The IDT is KVM's reset one (base 0, limit 0xffff):
//!   the firmware loads its own before enabling interrupts.
//! - Other vCPUs keep KVM's reset state (real mode) and wait for INIT/SIPI.

use kvm_bindings::{kvm_regs, kvm_segment, kvm_sregs, CpuId};
use kvm_ioctls::VcpuFd;

use super::memory::GuestRam;
use super::{Result, VmmError};

/// Guest-physical address of the firmware image (and its entry point).
pub const FIRMWARE_ADDR: u64 = 0x10_0000;
/// Guest-physical address of the boot GDT.
pub const GDT_ADDR: u64 = 0x500;
/// Selector of the flat 32-bit code segment.
pub const CODE_SELECTOR: u16 = 0x10;
/// Selector of the flat data segment.
pub const DATA_SELECTOR: u16 = 0x18;

const CR0_PE: u64 = 0x1;
const EFLAGS_RESERVED: u64 = 0x2;

/// Access/flags of a GDT entry as `0xF0FF`: G, D/B, L, AVL in the high
/// nibble, P, DPL, S, type in the low byte.
const CODE32_FLAGS: u16 = 0xc09b; // G, D, present, DPL 0, code, exec/read, accessed
const DATA_FLAGS: u16 = 0xc093; // G, B, present, DPL 0, data, read/write, accessed

/// The boot GDT.
pub const GDT: [u64; 4] = [
    0,
    0,
    gdt_entry(CODE32_FLAGS, 0, 0xfffff),
    gdt_entry(DATA_FLAGS, 0, 0xfffff),
];

/// Encodes a GDT descriptor.
pub const fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    let (flags, base, limit) = (flags as u64, base as u64, limit as u64);
    ((base & 0xff00_0000) << 32)
        | ((flags & 0xf0ff) << 40)
        | ((limit & 0x000f_0000) << 32)
        | ((base & 0x00ff_ffff) << 16)
        | (limit & 0xffff)
}

/// The `kvm_segment` KVM wants for GDT `entry` loaded with `selector`.
pub fn segment(entry: u64, selector: u16) -> kvm_segment {
    let base = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
    let raw_limit = (entry & 0xffff) | ((entry >> 32) & 0x000f_0000);
    let g = ((entry >> 55) & 1) as u8;
    let limit = if g == 1 {
        (raw_limit << 12) | 0xfff
    } else {
        raw_limit
    };
    kvm_segment {
        base,
        limit: limit as u32,
        selector,
        type_: ((entry >> 40) & 0xf) as u8,
        present: ((entry >> 47) & 1) as u8,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        unusable: 0,
        padding: 0,
    }
}

/// Loads `image` at [`FIRMWARE_ADDR`] and writes the boot GDT.
///
/// # Errors
///
/// [`VmmError::FirmwareTooLarge`] if the image does not fit in RAM below
/// the MMIO hole.
pub fn load_firmware(ram: &GuestRam, image: &[u8]) -> Result<()> {
    let end = FIRMWARE_ADDR + image.len() as u64;
    if end > ram.size().min(super::memory::MMIO_HOLE_START) {
        return Err(VmmError::FirmwareTooLarge {
            len: image.len(),
            ram: ram.size(),
        });
    }
    ram.write(FIRMWARE_ADDR, image)?;
    let gdt: Vec<u8> = GDT.iter().flat_map(|e| e.to_le_bytes()).collect();
    ram.write(GDT_ADDR, &gdt)
}

/// Puts vCPU 0 in the boot state described in the [module docs](self).
///
/// # Errors
///
/// [`VmmError::Kvm`] if KVM refuses a register.
pub fn setup_boot_vcpu(vcpu: &VcpuFd) -> Result<()> {
    let mut sregs = vcpu
        .get_sregs()
        .map_err(|e| VmmError::Kvm("KVM_GET_SREGS", e))?;
    boot_sregs(&mut sregs);
    vcpu.set_sregs(&sregs)
        .map_err(|e| VmmError::Kvm("KVM_SET_SREGS", e))?;
    vcpu.set_regs(&boot_regs())
        .map_err(|e| VmmError::Kvm("KVM_SET_REGS", e))
}

/// Loads flat segments from `gdt` (at [`GDT_ADDR`] in guest memory): CS
/// from entry `code`, every data segment from [`DATA_SELECTOR`]'s.
pub fn load_segments(sregs: &mut kvm_sregs, gdt: &[u64], code: u16) {
    let data = segment(gdt[usize::from(DATA_SELECTOR >> 3)], DATA_SELECTOR);
    sregs.cs = segment(gdt[usize::from(code >> 3)], code);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.gdt.base = GDT_ADDR;
    sregs.gdt.limit = (std::mem::size_of_val(gdt) - 1) as u16;
}

/// The boot special registers, on top of KVM's reset values.
pub fn boot_sregs(sregs: &mut kvm_sregs) {
    load_segments(sregs, &GDT, CODE_SELECTOR);
    sregs.cr0 = CR0_PE;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
}

/// The boot general registers.
pub fn boot_regs() -> kvm_regs {
    kvm_regs {
        rip: FIRMWARE_ADDR,
        rsp: FIRMWARE_ADDR,
        rflags: EFLAGS_RESERVED,
        ..Default::default()
    }
}

/// `supported` with vCPU `index`'s APIC ID in leaves 0x1, 0xB and 0x1F.
pub fn vcpu_cpuid(supported: &CpuId, index: u8) -> CpuId {
    let mut cpuid = supported.clone();
    for entry in cpuid.as_mut_slice() {
        match entry.function {
            0x1 => entry.ebx = (entry.ebx & 0x00ff_ffff) | (u32::from(index) << 24),
            0xb | 0x1f => entry.edx = u32::from(index),
            _ => {}
        }
    }
    cpuid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_entries_match_the_usual_encodings() {
        assert_eq!(GDT[2], 0x00cf_9b00_0000_ffff);
        assert_eq!(GDT[3], 0x00cf_9300_0000_ffff);
    }

    #[test]
    fn flat_code_segment_decodes_to_4_gib_32_bit() {
        let cs = segment(GDT[2], CODE_SELECTOR);
        assert_eq!((cs.base, cs.limit, cs.selector), (0, 0xffff_ffff, 0x10));
        assert_eq!(
            (cs.type_, cs.present, cs.dpl, cs.db, cs.s, cs.l, cs.g),
            (0xb, 1, 0, 1, 1, 0, 1)
        );
        let ds = segment(GDT[3], DATA_SELECTOR);
        assert_eq!((ds.type_, ds.db, ds.limit), (0x3, 1, 0xffff_ffff));
    }

    #[test]
    fn firmware_too_large_for_ram_is_refused() {
        let ram = GuestRam::new(2 << 20).unwrap();
        let image = vec![0x90; (1 << 20) + 1];
        assert!(matches!(
            load_firmware(&ram, &image),
            Err(VmmError::FirmwareTooLarge { .. })
        ));
        assert!(load_firmware(&ram, &image[..1 << 20]).is_ok());
    }
}
