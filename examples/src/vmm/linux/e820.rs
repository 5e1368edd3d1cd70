//! The e820 memory map the kernel is given: guest RAM with the PC's holes.

use vm_memory::{GuestMemory, GuestMemoryRegion};

use super::HIGH_MEMORY;
use crate::vmm::memory::GuestRam;

/// End of the conventional memory below the EBDA.
const EBDA_START: u64 = 0x9_fc00;
/// End of conventional memory (start of the VGA window).
const LOW_MEMORY_END: u64 = 0xa_0000;
/// The BIOS area below 1 MiB that a PC reserves.
const BIOS_START: u64 = 0xf_0000;

/// An e820 memory type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E820Kind {
    /// Usable RAM (type 1).
    Ram = 1,
    /// Reserved (type 2).
    Reserved = 2,
}

/// One range of the memory map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E820Entry {
    /// Start, guest-physical.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// What it is.
    pub kind: E820Kind,
}

impl E820Entry {
    pub(super) const fn new(addr: u64, size: u64, kind: E820Kind) -> Self {
        Self { addr, size, kind }
    }
}

/// The memory map of RAM regions `(start, length)`, as the [module
/// docs](super) describe it. A region at 0 loses the EBDA and the BIOS
/// area (and the VGA window, which is no entry at all); other regions are
/// RAM as they are.
///
/// # Examples
///
/// ```
/// use examples::vmm::linux::{e820_map, E820Entry, E820Kind};
///
/// let map = e820_map(&[(0, 128 << 20)]);
/// assert_eq!(map.len(), 4);
/// assert_eq!(map[3], E820Entry { addr: 1 << 20, size: 127 << 20, kind: E820Kind::Ram });
/// ```
pub fn e820_map(regions: &[(u64, u64)]) -> Vec<E820Entry> {
    let mut map = Vec::new();
    for &(start, len) in regions {
        let end = start.saturating_add(len);
        if start != 0 {
            map.push(E820Entry::new(start, len, E820Kind::Ram));
            continue;
        }
        map.push(E820Entry::new(0, end.min(EBDA_START), E820Kind::Ram));
        if end > EBDA_START {
            let top = end.min(LOW_MEMORY_END);
            map.push(E820Entry::new(
                EBDA_START,
                top - EBDA_START,
                E820Kind::Reserved,
            ));
        }
        if end > BIOS_START {
            let top = end.min(HIGH_MEMORY);
            map.push(E820Entry::new(
                BIOS_START,
                top - BIOS_START,
                E820Kind::Reserved,
            ));
        }
        if end > HIGH_MEMORY {
            map.push(E820Entry::new(
                HIGH_MEMORY,
                end - HIGH_MEMORY,
                E820Kind::Ram,
            ));
        }
    }
    map
}

/// The `(start, length)` of each region of `ram`.
pub(super) fn ram_regions(ram: &GuestRam) -> Vec<(u64, u64)> {
    ram.memory()
        .iter()
        .map(|r| (r.start_addr().0, r.len()))
        .collect()
}
