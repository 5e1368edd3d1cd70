//! Guest-virtual to guest-physical translation through a vCPU's page
//! tables, for the monitor's `memsave`, `x` and `dump-guest-memory`.
//!
//! Handles paging off (virtual = physical), 32-bit paging (4 KiB and
//! 4 MiB pages), PAE (4 KiB and 2 MiB) and 4-level long-mode paging
//! (4 KiB, 2 MiB and 1 GiB pages). Page-table reads go through
//! [`GuestRam::read`], so a table outside RAM is a failed translation,
//! never a panic.
//!
//! # Examples
//!
//! ```
//! use examples::vmm::kvm_sregs;
//! use examples::vmm::memory::GuestRam;
//! use examples::vmm::translate::translate;
//!
//! let ram = GuestRam::new(1 << 20)?;
//! // Paging off: virtual = physical, to the end of the 4 KiB page.
//! let sregs = kvm_sregs::default();
//! assert_eq!(translate(&ram, &sregs, 0x1234), Some((0x1234, 0xdcc)));
//! # Ok::<(), examples::vmm::VmmError>(())
//! ```

use vm_memory::{GuestMemory, GuestMemoryRegion};

use super::kvm_sregs;
use super::memory::GuestRam;

const CR0_PG: u64 = 1 << 31;
const CR4_PSE: u64 = 1 << 4;
const CR4_PAE: u64 = 1 << 5;
const EFER_LMA: u64 = 1 << 10;
const PRESENT: u64 = 1;
const LARGE: u64 = 1 << 7;
/// Bits 12..52 of an entry: the next table or the page frame.
const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

fn read_u64(ram: &GuestRam, addr: u64) -> Option<u64> {
    let mut b = [0u8; 8];
    ram.read(addr, &mut b).ok()?;
    Some(u64::from_le_bytes(b))
}

fn read_u32(ram: &GuestRam, addr: u64) -> Option<u64> {
    let mut b = [0u8; 4];
    ram.read(addr, &mut b).ok()?;
    Some(u64::from(u32::from_le_bytes(b)))
}

/// Translates `vaddr` with the paging state in `sregs`: the physical
/// address and how many bytes from it on lie in the same page (at least
/// 1). `None` if the address is not mapped (or not canonical in long
/// mode, or a table lies outside RAM).
pub fn translate(ram: &GuestRam, sregs: &kvm_sregs, vaddr: u64) -> Option<(u64, u64)> {
    if sregs.cr0 & CR0_PG == 0 {
        return Some((vaddr, 0x1000 - (vaddr & 0xfff)));
    }
    let within = |page_size: u64, base: u64| {
        let off = vaddr & (page_size - 1);
        Some(((base & !(page_size - 1)) + off, page_size - off))
    };
    if sregs.efer & EFER_LMA != 0 {
        // Canonical: bits 63..47 all equal.
        let top = (vaddr as i64) >> 47;
        if top != 0 && top != -1 {
            return None;
        }
        let mut table = sregs.cr3 & ADDR_MASK;
        for (level, shift) in [(4, 39u32), (3, 30), (2, 21), (1, 12)] {
            let entry = read_u64(ram, table + ((vaddr >> shift) & 0x1ff) * 8)?;
            if entry & PRESENT == 0 {
                return None;
            }
            let frame = entry & ADDR_MASK;
            if level == 1 || ((level == 3 || level == 2) && entry & LARGE != 0) {
                return within(1u64 << shift, frame);
            }
            table = frame;
        }
        return None;
    }
    let vaddr32 = vaddr & 0xffff_ffff;
    if sregs.cr4 & CR4_PAE != 0 {
        let pdpte = read_u64(ram, (sregs.cr3 & 0xffff_ffe0) + (vaddr32 >> 30) * 8)?;
        if pdpte & PRESENT == 0 {
            return None;
        }
        let pde = read_u64(ram, (pdpte & ADDR_MASK) + ((vaddr32 >> 21) & 0x1ff) * 8)?;
        if pde & PRESENT == 0 {
            return None;
        }
        if pde & LARGE != 0 {
            let off = vaddr32 & 0x1f_ffff;
            return Some(((pde & ADDR_MASK & !0x1f_ffff) + off, 0x20_0000 - off));
        }
        let pte = read_u64(ram, (pde & ADDR_MASK) + ((vaddr32 >> 12) & 0x1ff) * 8)?;
        if pte & PRESENT == 0 {
            return None;
        }
        let off = vaddr32 & 0xfff;
        return Some(((pte & ADDR_MASK) + off, 0x1000 - off));
    }
    let pde = read_u32(ram, (sregs.cr3 & 0xffff_f000) + (vaddr32 >> 22) * 4)?;
    if pde & PRESENT == 0 {
        return None;
    }
    if pde & LARGE != 0 && sregs.cr4 & CR4_PSE != 0 {
        // PSE-36: bits 13..16 of the entry are physical bits 32..35.
        let base = (pde & 0xffc0_0000) | ((pde >> 13) & 0xf) << 32;
        let off = vaddr32 & 0x3f_ffff;
        return Some((base + off, 0x40_0000 - off));
    }
    let pte = read_u32(ram, (pde & 0xffff_f000) + ((vaddr32 >> 12) & 0x3ff) * 4)?;
    if pte & PRESENT == 0 {
        return None;
    }
    let off = vaddr32 & 0xfff;
    Some(((pte & 0xffff_f000) + off, 0x1000 - off))
}

/// Every mapping of 4-level long-mode paging, as (virtual, physical,
/// bytes), merged where both sides are contiguous and cut to RAM, in
/// virtual-address order. `None` when the vCPU is not in long mode with
/// paging on (a dump then takes physical memory, as QEMU's does).
pub fn mappings(ram: &GuestRam, sregs: &kvm_sregs) -> Option<Vec<(u64, u64, u64)>> {
    if sregs.cr0 & CR0_PG == 0 || sregs.efer & EFER_LMA == 0 {
        return None;
    }
    let regions: Vec<(u64, u64)> = ram
        .memory()
        .iter()
        .map(|r| (r.start_addr().0, r.start_addr().0.saturating_add(r.len())))
        .collect();
    let mut out: Vec<(u64, u64, u64)> = Vec::new();
    let mut push = |vaddr: u64, paddr: u64, len: u64| {
        for &(start, end) in &regions {
            let (s, e) = (paddr.max(start), paddr.saturating_add(len).min(end));
            if s >= e {
                continue;
            }
            let v = vaddr + (s - paddr);
            match out.last_mut() {
                Some(last) if last.0.wrapping_add(last.2) == v && last.1 + last.2 == s => {
                    last.2 += e - s;
                }
                _ => out.push((v, s, e - s)),
            }
        }
    };
    walk(ram, sregs.cr3 & ADDR_MASK, 4, 0, &mut push);
    Some(out)
}

fn walk(ram: &GuestRam, table: u64, level: u32, base: u64, push: &mut dyn FnMut(u64, u64, u64)) {
    let shift = 12 + 9 * (level - 1);
    let mut entries = [0u8; 4096];
    if ram.read(table, &mut entries).is_err() {
        return;
    }
    for (i, e) in entries.chunks_exact(8).enumerate() {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(e);
        let entry = u64::from_le_bytes(raw);
        if entry & PRESENT == 0 {
            continue;
        }
        let mut vaddr = base | ((i as u64) << shift);
        if level == 4 && vaddr & (1 << 47) != 0 {
            vaddr |= 0xffff_0000_0000_0000;
        }
        let frame = entry & ADDR_MASK;
        if level == 1 || ((level == 2 || level == 3) && entry & LARGE != 0) {
            let size = 1u64 << shift;
            push(vaddr, frame & !(size - 1), size);
        } else if level > 1 {
            walk(ram, frame, level - 1, vaddr, push);
        }
    }
}

/// Reads `buf.len()` bytes at guest-virtual `vaddr`, page by page.
/// `false` if any page is unmapped or outside RAM.
pub fn read_virtual(ram: &GuestRam, sregs: &kvm_sregs, vaddr: u64, buf: &mut [u8]) -> bool {
    let mut done = 0usize;
    while done < buf.len() {
        let Some((phys, in_page)) = translate(ram, sregs, vaddr.wrapping_add(done as u64)) else {
            return false;
        };
        let n = usize::try_from(in_page)
            .unwrap_or(usize::MAX)
            .min(buf.len() - done);
        if ram.read(phys, &mut buf[done..done + n]).is_err() {
            return false;
        }
        done += n;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_mode(ram: &GuestRam) -> kvm_sregs {
        // PML4 at 0x1000 -> PDPT at 0x2000: entry 0 -> PD at 0x3000,
        // entry 1 a 1 GiB page at 1 GiB. PD: entry 0 -> PT at 0x4000,
        // entry 1 a 2 MiB page at 2 MiB. PT: entry 5 -> 0x9000.
        ram.write(0x1000, &(0x2000u64 | 3).to_le_bytes()).unwrap();
        ram.write(0x2000, &(0x3000u64 | 3).to_le_bytes()).unwrap();
        ram.write(0x2008, &(0x4000_0000u64 | 0x83).to_le_bytes())
            .unwrap();
        ram.write(0x3000, &(0x4000u64 | 3).to_le_bytes()).unwrap();
        ram.write(0x3008, &(0x20_0000u64 | 0x83).to_le_bytes())
            .unwrap();
        ram.write(0x4028, &(0x9000u64 | 3).to_le_bytes()).unwrap();
        kvm_sregs {
            cr0: CR0_PG | 1,
            cr3: 0x1000,
            cr4: CR4_PAE,
            efer: EFER_LMA | (1 << 8),
            ..Default::default()
        }
    }

    #[test]
    fn long_mode_pages_of_each_size_translate() {
        let ram = GuestRam::new(4 << 20).unwrap();
        let s = long_mode(&ram);
        assert_eq!(translate(&ram, &s, 0x5123), Some((0x9123, 0xedd)));
        assert_eq!(translate(&ram, &s, 0x20_1000), Some((0x20_1000, 0x1f_f000)));
        assert_eq!(
            translate(&ram, &s, 0x4000_0010),
            Some((0x4000_0010, (1 << 30) - 0x10))
        );
    }

    #[test]
    fn unmapped_or_non_canonical_addresses_do_not_translate() {
        let ram = GuestRam::new(4 << 20).unwrap();
        let s = long_mode(&ram);
        assert_eq!(translate(&ram, &s, 0x6000), None);
        assert_eq!(translate(&ram, &s, 0x8000_0000_0000), None);
        assert_eq!(translate(&ram, &s, 0x80_0000_0000), None);
    }

    #[test]
    fn reads_cross_pages_and_fail_on_a_hole() {
        let ram = GuestRam::new(4 << 20).unwrap();
        let s = long_mode(&ram);
        ram.write(0x9ffe, &[1, 2]).unwrap();
        let mut buf = [0u8; 2];
        assert!(read_virtual(&ram, &s, 0x5ffe, &mut buf));
        assert_eq!(buf, [1, 2]);
        let mut buf = [0u8; 4];
        assert!(!read_virtual(&ram, &s, 0x5ffe, &mut buf));
    }

    #[test]
    fn mappings_merge_and_stop_at_the_end_of_ram() {
        let ram = GuestRam::new(4 << 20).unwrap();
        let s = long_mode(&ram);
        let maps = mappings(&ram, &s).unwrap();
        assert_eq!(
            maps,
            vec![(0x5000, 0x9000, 0x1000), (0x20_0000, 0x20_0000, 0x20_0000)]
        );
    }

    #[test]
    fn tables_outside_ram_fail_without_panic() {
        let ram = GuestRam::new(1 << 20).unwrap();
        let s = kvm_sregs {
            cr0: CR0_PG,
            cr3: 0xffff_f000,
            ..Default::default()
        };
        assert_eq!(translate(&ram, &s, 0), None);
    }
}
