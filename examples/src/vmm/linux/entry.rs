//! How vCPU 0 enters the kernel ([`Entry`]): PVH's 32-bit protected mode
//! or the 64-bit boot protocol's long mode, with the GDT and identity page
//! tables the latter needs, and the registers each sets.

use kvm_bindings::{kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;

use super::{BOOT_STACK, PML4_ADDR, START_INFO_ADDR, ZERO_PAGE_ADDR};
use crate::vmm::boot::{self, gdt_entry};
use crate::vmm::{Result, VmmError};

/// How vCPU 0 enters the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// PVH: 32-bit protected mode at `addr`, `EBX` = [`START_INFO_ADDR`].
    Pvh {
        /// The PVH entry point.
        addr: u64,
    },
    /// The 64-bit boot protocol at `addr`, `RSI` = [`ZERO_PAGE_ADDR`].
    Linux64 {
        /// The 64-bit entry point.
        addr: u64,
    },
}

pub(super) const CR0_PE: u64 = 1 << 0;
const CR0_ET: u64 = 1 << 4;
pub(super) const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
pub(super) const EFER_LME: u64 = 1 << 8;
pub(super) const EFER_LMA: u64 = 1 << 10;
const EFLAGS_RESERVED: u64 = 0x2;

/// Page-table entry bits: present, writable, 2 MiB page.
const PTE_PRESENT_RW: u64 = 0x3;
const PTE_HUGE: u64 = 0x80;

/// GDT access/flags: 64-bit code (G, L, present, exec/read, accessed).
const CODE64_FLAGS: u16 = 0xa09b;
/// GDT access/flags: flat data (G, B, present, read/write, accessed).
const DATA_FLAGS: u16 = 0xc093;
/// The 64-bit boot protocol's GDT: `__BOOT_CS` = 0x10, `__BOOT_DS` = 0x18.
pub const GDT64: [u64; 4] = [
    0,
    0,
    gdt_entry(CODE64_FLAGS, 0, 0xfffff),
    gdt_entry(DATA_FLAGS, 0, 0xfffff),
];
const CODE64_SELECTOR: u16 = 0x10;

/// The page tables that identity-map the first 4 GiB with 2 MiB pages:
/// the PML4, the PDPT and four page directories, 4 KiB each, for
/// [`PML4_ADDR`].
pub fn identity_page_tables() -> Vec<u64> {
    let pdpt = PML4_ADDR + 0x1000;
    let pd = pdpt + 0x1000;
    let mut tables = vec![0u64; 6 * 512];
    tables[0] = pdpt | PTE_PRESENT_RW;
    for i in 0..4u64 {
        tables[512 + i as usize] = (pd + i * 0x1000) | PTE_PRESENT_RW;
    }
    for (page, entry) in tables[1024..].iter_mut().enumerate() {
        *entry = ((page as u64) << 21) | PTE_PRESENT_RW | PTE_HUGE;
    }
    tables
}

/// The special registers for `entry`, on top of KVM's reset values.
pub fn entry_sregs(sregs: &mut kvm_sregs, entry: Entry) {
    match entry {
        Entry::Pvh { .. } => boot::boot_sregs(sregs),
        Entry::Linux64 { .. } => {
            boot::load_segments(sregs, &GDT64, CODE64_SELECTOR);
            sregs.cr3 = PML4_ADDR;
            sregs.cr4 = CR4_PAE;
            sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
            sregs.efer = EFER_LME | EFER_LMA;
        }
    }
}

/// The general registers for `entry`.
pub fn entry_regs(entry: Entry) -> kvm_regs {
    match entry {
        Entry::Pvh { addr } => kvm_regs {
            rip: addr,
            rbx: START_INFO_ADDR,
            rflags: EFLAGS_RESERVED,
            ..Default::default()
        },
        Entry::Linux64 { addr } => kvm_regs {
            rip: addr,
            rsi: ZERO_PAGE_ADDR,
            rsp: BOOT_STACK,
            rbp: BOOT_STACK,
            rflags: EFLAGS_RESERVED,
            ..Default::default()
        },
    }
}

/// Puts vCPU 0 at the kernel's entry, as the [module docs](super) describe.
///
/// # Errors
///
/// [`VmmError::Kvm`] if KVM refuses a register.
pub fn setup_boot_vcpu(vcpu: &VcpuFd, entry: Entry) -> Result<()> {
    let mut sregs = vcpu
        .get_sregs()
        .map_err(|e| VmmError::Kvm("KVM_GET_SREGS", e))?;
    entry_sregs(&mut sregs, entry);
    vcpu.set_sregs(&sregs)
        .map_err(|e| VmmError::Kvm("KVM_SET_SREGS", e))?;
    vcpu.set_regs(&entry_regs(entry))
        .map_err(|e| VmmError::Kvm("KVM_SET_REGS", e))
}
