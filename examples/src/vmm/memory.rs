//! Guest RAM: anonymous private mappings from vm-memory, registered with KVM.
//!
//! RAM starts at guest-physical 0. Up to 3 GiB it is one region; above that
//! the rest goes at 4 GiB, leaving `0xC000_0000..0x1_0000_0000` for the
//! IOAPIC, the local APICs and future MMIO devices.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{Bytes, GuestAddress, GuestMemory, GuestMemoryMmap, GuestMemoryRegion};

use super::{Result, VmmError};

/// Where the 32-bit MMIO hole starts: RAM above this goes to 4 GiB.
pub const MMIO_HOLE_START: u64 = 0xC000_0000;
const FOUR_GIB: u64 = 1 << 32;
const PAGE_SIZE: u64 = 4096;

/// The guest's RAM.
#[derive(Debug)]
pub struct GuestRam {
    mem: GuestMemoryMmap,
    size: u64,
}

impl GuestRam {
    /// Maps `size` bytes of RAM (a non-zero multiple of 4 KiB).
    ///
    /// # Errors
    ///
    /// [`VmmError::MemorySize`] for a bad size, [`VmmError::Memory`] if the
    /// host cannot map it.
    pub fn new(size: u64) -> Result<Self> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(VmmError::MemorySize(size));
        }
        let mut ranges = vec![(GuestAddress(0), size.min(MMIO_HOLE_START))];
        if size > MMIO_HOLE_START {
            ranges.push((GuestAddress(FOUR_GIB), size - MMIO_HOLE_START));
        }
        let ranges = ranges
            .into_iter()
            .map(|(a, len)| usize::try_from(len).map(|len| (a, len)))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| VmmError::MemorySize(size))?;
        let mem = GuestMemoryMmap::from_ranges(&ranges).map_err(VmmError::Memory)?;
        Ok(Self { mem, size })
    }

    /// Bytes of RAM.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The vm-memory view, for devices that access guest memory.
    pub fn memory(&self) -> &GuestMemoryMmap {
        &self.mem
    }

    /// Registers every region with `vm`, in slots 0, 1, ...
    ///
    /// # Errors
    ///
    /// [`VmmError::Kvm`] if KVM refuses a region.
    #[allow(unsafe_code)]
    pub fn register(&self, vm: &VmFd) -> Result<()> {
        for (slot, region) in self.mem.iter().enumerate() {
            let region_desc = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: region.start_addr().0,
                memory_size: region.len(),
                userspace_addr: region.as_ptr() as u64,
            };
            // SAFETY: the host range is a live mapping owned by `self.mem`,
            // exactly `region.len()` bytes long. `Machine` keeps the
            // `GuestRam` alive until every vCPU thread has been joined, so
            // the guest never runs against an unmapped range.
            unsafe { vm.set_user_memory_region(region_desc) }
                .map_err(|e| VmmError::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
        }
        Ok(())
    }

    /// Copies `bytes` into guest memory at `addr`.
    ///
    /// # Errors
    ///
    /// [`VmmError::GuestWrite`] if the range is not all RAM.
    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<()> {
        self.mem
            .write_slice(bytes, GuestAddress(addr))
            .map_err(|_| VmmError::GuestWrite {
                addr,
                len: bytes.len(),
            })
    }

    /// Reads guest memory at `addr` into `buf`.
    ///
    /// # Errors
    ///
    /// [`VmmError::GuestRead`] if the range is not all RAM.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.mem
            .read_slice(buf, GuestAddress(addr))
            .map_err(|_| VmmError::GuestRead {
                addr,
                len: buf.len(),
            })
    }

    /// Zeroes all of RAM and gives its pages back to the host: the next
    /// access by the guest finds zeros, as after power-on.
    ///
    /// Call it only while no vCPU runs (the machine does, during reset).
    ///
    /// # Errors
    ///
    /// [`VmmError::Madvise`] if the kernel refuses.
    pub fn clear(&self) -> Result<()> {
        for region in self.mem.iter() {
            discard(&self.mem, region.start_addr().0, region.len())?;
        }
        Ok(())
    }
}

/// Gives the pages of `len` bytes of guest RAM at `addr` back to the host:
/// they read as zeros afterwards, and cost no host memory until touched
/// again. `addr` and `len` are whole 4 KiB pages inside one RAM region.
///
/// This is what a reset does to all of RAM and what the balloon does to
/// each page the guest gives up.
///
/// # Errors
///
/// [`VmmError::GuestWrite`] if the range is not whole pages of one region,
/// [`VmmError::Madvise`] if the kernel refuses.
#[allow(unsafe_code)]
pub fn discard(mem: &GuestMemoryMmap, addr: u64, len: u64) -> Result<()> {
    let outside = || VmmError::GuestWrite {
        addr,
        len: usize::try_from(len).unwrap_or(usize::MAX),
    };
    if addr % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
        return Err(outside());
    }
    let region = mem.find_region(GuestAddress(addr)).ok_or_else(outside)?;
    let offset = addr - region.start_addr().0;
    if offset.checked_add(len).is_none_or(|end| end > region.len()) {
        return Err(outside());
    }
    let len = usize::try_from(len).map_err(|_| outside())?;
    let offset = usize::try_from(offset).map_err(|_| outside())?;
    // SAFETY: `offset + len` lies within the region (checked above), so the
    // pointer arithmetic stays inside its host mapping, one private
    // anonymous mapping owned by `mem` (vm-memory maps RAM with
    // MAP_PRIVATE | MAP_ANONYMOUS) whose base is page-aligned; `addr` and
    // `len` are whole pages, so the range is too. MADV_DONTNEED only
    // replaces the pages' contents with zero pages: the mapping stays
    // valid. No Rust reference into guest memory exists (vm-memory hands
    // out volatile slices only), and KVM's MMU notifier drops its stale
    // translations of these pages.
    let ret =
        unsafe { libc::madvise(region.as_ptr().add(offset).cast(), len, libc::MADV_DONTNEED) };
    if ret != 0 {
        return Err(VmmError::Madvise(std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_must_be_whole_pages() {
        assert!(matches!(GuestRam::new(0), Err(VmmError::MemorySize(0))));
        assert!(matches!(
            GuestRam::new(4097),
            Err(VmmError::MemorySize(4097))
        ));
    }

    #[test]
    fn ram_above_three_gib_moves_to_four_gib() {
        // Mapped with MAP_NORESERVE: costs nothing until touched.
        let ram = GuestRam::new(MMIO_HOLE_START + (1 << 20)).unwrap();
        assert_eq!(ram.memory().num_regions(), 2);
        let mem = ram.memory();
        assert!(mem.find_region(GuestAddress(MMIO_HOLE_START)).is_none());
        assert!(mem.find_region(GuestAddress(FOUR_GIB)).is_some());
    }

    #[test]
    fn clear_zeroes_what_was_written() {
        let ram = GuestRam::new(1 << 20).unwrap();
        ram.write(0x1000, b"firmware").unwrap();
        let mut buf = [0u8; 8];
        ram.read(0x1000, &mut buf).unwrap();
        assert_eq!(&buf, b"firmware");
        ram.clear().unwrap();
        ram.read(0x1000, &mut buf).unwrap();
        assert_eq!(buf, [0; 8]);
    }

    #[test]
    fn writes_outside_ram_fail() {
        let ram = GuestRam::new(1 << 20).unwrap();
        assert!(ram.write((1 << 20) - 2, b"abcd").is_err());
    }
}
