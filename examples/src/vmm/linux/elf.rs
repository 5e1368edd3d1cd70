//! Reading an ELF kernel's `PT_LOAD` segments, without loading it.

/// One `PT_LOAD` segment of an ELF file: its virtual and physical ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadRange {
    /// `p_vaddr .. p_vaddr + p_memsz`.
    pub vaddr: (u64, u64),
    /// `p_paddr .. p_paddr + p_memsz`.
    pub paddr: (u64, u64),
}

/// The `PT_LOAD` segments of a 64-bit little-endian ELF image (none if it
/// is not one, or is truncated).
///
/// # Examples
///
/// ```
/// use examples::vmm::linux::elf_load_ranges;
///
/// assert!(elf_load_ranges(b"not an ELF file").is_empty());
/// ```
pub fn elf_load_ranges(image: &[u8]) -> Vec<LoadRange> {
    let u16_at = |o: usize| {
        image
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        image
            .get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |o: usize| {
        image
            .get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    // ELFCLASS64, ELFDATA2LSB.
    if !image.starts_with(b"\x7fELF\x02\x01") {
        return Vec::new();
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return Vec::new();
    };
    let mut ranges = Vec::new();
    for i in 0..usize::from(phnum) {
        let Some(base) = usize::try_from(phoff)
            .ok()
            .and_then(|o| o.checked_add(i * usize::from(phentsize)))
        else {
            break;
        };
        let (Some(kind), Some(vaddr), Some(paddr), Some(memsz)) = (
            u32_at(base),
            u64_at(base + 0x10),
            u64_at(base + 0x18),
            u64_at(base + 0x28),
        ) else {
            break;
        };
        if kind == 1 {
            ranges.push(LoadRange {
                vaddr: (vaddr, vaddr.saturating_add(memsz)),
                paddr: (paddr, paddr.saturating_add(memsz)),
            });
        }
    }
    ranges
}
