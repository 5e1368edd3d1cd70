//! The virtio memory balloon (device ID 5), as QEMU's `virtio-balloon`.
//!
//! The host sets a target, `num_pages`: how many 4 KiB pages it wants the
//! guest to give back. The guest driver inflates (puts page frame numbers
//! on queue 0, after which it must not touch those pages) or deflates
//! (queue 1, takes pages back) and then writes how many pages the balloon
//! holds to `actual`. Each change of `actual` is reported through the
//! injected notification; the VMM turns it into `BALLOON_CHANGE` with
//! `actual` = RAM size minus the balloon, in bytes, as QEMU does.
//!
//! Inflated pages are given back to the host at once (`MADV_DONTNEED`):
//! the guest's next touch of one (which it must not do before deflating)
//! finds a zero page.
//!
//! Configuration space (little-endian): `num_pages` (u32, at 0, written by
//! the host) and `actual` (u32, at 4, written by the guest). No optional
//! feature is offered: no statistics queue, no free page hinting.
//!
//! # Example
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use examples::vmm::devices::balloon::Balloon;
//! use examples::vmm::devices::virtio_mmio::VirtioDevice;
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = Arc::clone(&seen);
//! let mut balloon = Balloon::new(128 << 20, Box::new(move |pages| log.lock().unwrap().push(pages)));
//! balloon.set_target(64 << 20); // the guest should give back 64 MiB
//! assert_eq!(balloon.num_pages(), 16384);
//! balloon.write_config(4, &16384u32.to_le_bytes()); // the guest did
//! assert_eq!(balloon.actual_bytes(), 64 << 20);
//! assert_eq!(*seen.lock().unwrap(), [16384]);
//! ```

use std::fmt;

use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::virtio_mmio::{VirtioDevice, F_VERSION_1};
use crate::vmm::memory::discard;

/// The balloon's virtio device ID.
pub const DEVICE_ID: u32 = virtio_bindings::virtio_ids::VIRTIO_ID_BALLOON;
/// The balloon's page size, whatever the guest's (`VIRTIO_BALLOON_PFN_SHIFT`).
pub const PAGE_SHIFT: u32 = 12;
/// Entries in each queue.
pub const QUEUE_SIZE: u16 = 256;
/// The inflate queue.
pub const INFLATE_QUEUE: usize = 0;
/// The deflate queue.
pub const DEFLATE_QUEUE: usize = 1;

/// Told the new `actual` (pages in the balloon) each time the guest
/// changes it.
pub type OnActual = Box<dyn Fn(u32) + Send>;

/// The balloon device. See the [module docs](self).
pub struct Balloon {
    ram_size: u64,
    num_pages: u32,
    actual: u32,
    on_actual: OnActual,
}

impl fmt::Debug for Balloon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Balloon")
            .field("ram_size", &self.ram_size)
            .field("num_pages", &self.num_pages)
            .field("actual", &self.actual)
            .finish_non_exhaustive()
    }
}

impl Balloon {
    /// A balloon in a guest with `ram_size` bytes of RAM, empty and with
    /// no target.
    pub fn new(ram_size: u64, on_actual: OnActual) -> Self {
        Self {
            ram_size,
            num_pages: 0,
            actual: 0,
            on_actual,
        }
    }

    /// Sets the target as QEMU's `balloon` does: `target` is the RAM the
    /// guest should keep, in bytes (at most the RAM size; the caller
    /// refuses zero). The balloon is to hold the rest.
    pub fn set_target(&mut self, target: u64) {
        let target = target.min(self.ram_size);
        let pages = (self.ram_size - target) >> PAGE_SHIFT;
        self.num_pages = u32::try_from(pages).unwrap_or(u32::MAX);
    }

    /// Pages the host asks for.
    pub fn num_pages(&self) -> u32 {
        self.num_pages
    }

    /// Pages the guest says the balloon holds.
    pub fn actual(&self) -> u32 {
        self.actual
    }

    /// RAM not in the balloon, in bytes: `query-balloon`'s `actual`.
    pub fn actual_bytes(&self) -> u64 {
        self.ram_size
            .saturating_sub(u64::from(self.actual) << PAGE_SHIFT)
    }

    /// The machine was reset: RAM is all the guest's again.
    pub fn machine_reset(&mut self) {
        self.actual = 0;
    }

    fn config(&self) -> [u8; 8] {
        let mut c = [0u8; 8];
        c[..4].copy_from_slice(&self.num_pages.to_le_bytes());
        c[4..].copy_from_slice(&self.actual.to_le_bytes());
        c
    }

    /// Reads the page frame numbers in one chain and, when inflating,
    /// gives those pages back to the host. Returns `false` if the chain is
    /// unreadable.
    fn take_pfns(inflate: bool, descs: Vec<(GuestAddress, u32)>, mem: &GuestMemoryMmap) -> bool {
        for (addr, len) in descs {
            for i in 0..u64::from(len / 4) {
                let Some(at) = addr.0.checked_add(i * 4) else {
                    return false;
                };
                let Ok(pfn) = mem.read_obj::<u32>(GuestAddress(at)) else {
                    return false;
                };
                if inflate {
                    let gpa = u64::from(u32::from_le(pfn)) << PAGE_SHIFT;
                    // Pages outside RAM are ignored, as QEMU does.
                    if let Err(e) = discard(mem, gpa, 1 << PAGE_SHIFT) {
                        log::debug!("balloon: page {gpa:#x} not discarded: {e}");
                    }
                }
            }
        }
        true
    }
}

impl VirtioDevice for Balloon {
    fn device_id(&self) -> u32 {
        DEVICE_ID
    }

    fn features(&self) -> u64 {
        F_VERSION_1
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.config();
        for (i, b) in data.iter_mut().enumerate() {
            *b = usize::try_from(offset)
                .ok()
                .and_then(|o| config.get(o + i))
                .copied()
                .unwrap_or(0);
        }
    }

    fn write_config(&mut self, offset: u64, data: &[u8]) {
        // Only `actual` (bytes 4..8) is the driver's to write.
        let mut config = self.config();
        let old = self.actual;
        for (i, &b) in data.iter().enumerate() {
            if let Ok(at @ 4..=7) = usize::try_from(offset).map(|o| o + i) {
                config[at] = b;
            }
        }
        self.actual = u32::from_le_bytes([config[4], config[5], config[6], config[7]]);
        if self.actual != old {
            (self.on_actual)(self.actual);
        }
    }

    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let inflate = index == INFLATE_QUEUE;
        let mut used = false;
        while let Some(chain) = queue.pop_descriptor_chain(mem) {
            let head = chain.head_index();
            let descs: Vec<_> = chain.readable().map(|d| (d.addr(), d.len())).collect();
            if !Self::take_pfns(inflate, descs, mem) {
                log::warn!("balloon: unreadable page list in queue {index}");
            }
            if let Err(e) = queue.add_used(mem, head, 0) {
                log::warn!("balloon: queue {index}: {e}");
                break;
            }
            used = true;
        }
        used
    }

    fn reset(&mut self) {
        // A driver reset leaves target and `actual` alone (QEMU too); the
        // driver rewrites `actual` when it comes back.
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn balloon() -> (Balloon, Arc<Mutex<Vec<u32>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let b = Balloon::new(
            128 << 20,
            Box::new(move |pages| log.lock().unwrap().push(pages)),
        );
        (b, seen)
    }

    #[test]
    fn target_is_ram_to_keep() {
        let (mut b, _) = balloon();
        b.set_target(64 << 20);
        assert_eq!(b.num_pages(), (64 << 20) >> 12);
        b.set_target(1 << 40);
        assert_eq!(b.num_pages(), 0, "more than RAM means no balloon");
        b.set_target(4096);
        assert_eq!(b.num_pages(), ((128 << 20) >> 12) - 1);
    }

    #[test]
    fn config_space_reads_num_pages_and_actual() {
        let (mut b, _) = balloon();
        b.set_target(120 << 20);
        b.write_config(4, &[0x34, 0x12, 0, 0]);
        let mut c = [0u8; 8];
        b.read_config(0, &mut c);
        assert_eq!(c, [0x00, 0x08, 0, 0, 0x34, 0x12, 0, 0]);
        let mut past = [0xaau8; 4];
        b.read_config(6, &mut past);
        assert_eq!(past, [0, 0, 0, 0]);
    }

    #[test]
    fn only_actual_is_writable_and_changes_are_reported_once() {
        let (mut b, seen) = balloon();
        b.write_config(0, &[0xff; 4]);
        assert_eq!(b.num_pages(), 0);
        b.write_config(4, &100u32.to_le_bytes());
        b.write_config(4, &100u32.to_le_bytes());
        b.write_config(4, &50u32.to_le_bytes());
        assert_eq!(*seen.lock().unwrap(), [100, 50]);
        assert_eq!(b.actual_bytes(), (128 << 20) - 50 * 4096);
        b.machine_reset();
        assert_eq!(b.actual_bytes(), 128 << 20);
    }

    #[test]
    fn inflated_pages_read_zero_afterwards() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        mem.write_slice(b"guest data", GuestAddress(0x5000))
            .unwrap();
        // One PFN list at 0x1000: page 5, and a page far outside RAM.
        mem.write_obj(5u32, GuestAddress(0x1000)).unwrap();
        mem.write_obj(0xfff_ffffu32, GuestAddress(0x1004)).unwrap();
        assert!(Balloon::take_pfns(
            true,
            vec![(GuestAddress(0x1000), 8)],
            &mem
        ));
        let mut buf = [0xffu8; 10];
        mem.read_slice(&mut buf, GuestAddress(0x5000)).unwrap();
        assert_eq!(buf, [0; 10]);
        // A list that runs off the end of RAM is refused, not a panic.
        assert!(!Balloon::take_pfns(
            false,
            vec![(GuestAddress((1 << 20) - 4), 8)],
            &mem
        ));
    }
}
