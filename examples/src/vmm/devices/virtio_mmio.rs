//! The virtio-mmio transport, version 2 (virtio 1.x, "modern" only).
//!
//! One [`VirtioMmio`] is a 4 KiB register window in guest-physical memory
//! (the machine's is at [`super::BALLOON_MMIO_BASE`]) in front of one [`VirtioDevice`]. It
//! speaks the register layout of the virtio 1.2 specification, section
//! 4.2.2: identification, feature negotiation, the device status, queue
//! configuration, notification, the interrupt status and the device's
//! configuration space from offset `0x100`.
//!
//! Queues are virtio-queue's split [`Queue`]s in guest memory. A write to
//! `QueueNotify` runs the device's queue handler at once, on the vCPU
//! thread that wrote it; the device tells the transport whether it put
//! buffers in the used ring, and the transport raises the interrupt (bit 0
//! of `InterruptStatus`, "used buffer"). [`VirtioMmio::config_changed`]
//! raises bit 1 ("configuration change") for host-side changes.
//!
//! Nothing the guest writes can panic the transport: bad offsets read 0
//! and are ignored, a queue that is not valid (addresses outside RAM, a
//! size that is not a power of two) is not processed, and descriptor
//! errors end the processing of that notification (logged).
//!
//! # Example
//!
//! ```
//! use examples::vmm::devices::virtio_mmio::{VirtioDevice, VirtioMmio, MAGIC, REG_MAGIC};
//! use examples::vmm::devices::IrqLine;
//! use virtio_queue::Queue;
//! use vm_memory::{GuestAddress, GuestMemoryMmap};
//!
//! struct Nothing;
//! impl VirtioDevice for Nothing {
//!     fn device_id(&self) -> u32 { 0x1f }
//!     fn features(&self) -> u64 { 1 << 32 }
//!     fn queue_max_sizes(&self) -> &[u16] { &[] }
//!     fn read_config(&self, _: u64, data: &mut [u8]) { data.fill(0) }
//!     fn write_config(&mut self, _: u64, _: &[u8]) {}
//!     fn process_queue(&mut self, _: usize, _: &mut Queue, _: &GuestMemoryMmap) -> bool { false }
//!     fn reset(&mut self) {}
//! }
//!
//! # struct NoIrq;
//! # impl vm_superio::Trigger for NoIrq {
//! #     type E = std::io::Error;
//! #     fn trigger(&self) -> std::io::Result<()> { Ok(()) }
//! # }
//! let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
//! let mut dev = VirtioMmio::new(Nothing, mem, IrqLine::new(NoIrq));
//! let mut magic = [0u8; 4];
//! dev.read(REG_MAGIC, &mut magic);
//! assert_eq!(u32::from_le_bytes(magic), MAGIC);
//! ```

use std::fmt;

use virtio_bindings::{virtio_config as config, virtio_mmio as mmio};
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vm_superio::Trigger;

use super::IrqLine;

/// "virt", little-endian.
pub const MAGIC: u32 = 0x7472_6976;
/// The transport version: 2, modern.
pub const VERSION: u32 = 2;
/// Our vendor ID ("RVMM"): any value is allowed.
pub const VENDOR_ID: u32 = 0x4d4d_5652;

/// Register offsets (virtio 1.2, 4.2.2), from virtio-bindings' `virtio_mmio`.
pub const REG_MAGIC: u64 = mmio::VIRTIO_MMIO_MAGIC_VALUE as u64;
/// `Version`.
pub const REG_VERSION: u64 = mmio::VIRTIO_MMIO_VERSION as u64;
/// `DeviceID`.
pub const REG_DEVICE_ID: u64 = mmio::VIRTIO_MMIO_DEVICE_ID as u64;
/// `VendorID`.
pub const REG_VENDOR_ID: u64 = mmio::VIRTIO_MMIO_VENDOR_ID as u64;
/// `DeviceFeatures`.
pub const REG_DEVICE_FEATURES: u64 = mmio::VIRTIO_MMIO_DEVICE_FEATURES as u64;
/// `DeviceFeaturesSel`.
pub const REG_DEVICE_FEATURES_SEL: u64 = mmio::VIRTIO_MMIO_DEVICE_FEATURES_SEL as u64;
/// `DriverFeatures`.
pub const REG_DRIVER_FEATURES: u64 = mmio::VIRTIO_MMIO_DRIVER_FEATURES as u64;
/// `DriverFeaturesSel`.
pub const REG_DRIVER_FEATURES_SEL: u64 = mmio::VIRTIO_MMIO_DRIVER_FEATURES_SEL as u64;
/// `QueueSel`.
pub const REG_QUEUE_SEL: u64 = mmio::VIRTIO_MMIO_QUEUE_SEL as u64;
/// `QueueNumMax`.
pub const REG_QUEUE_NUM_MAX: u64 = mmio::VIRTIO_MMIO_QUEUE_NUM_MAX as u64;
/// `QueueNum`.
pub const REG_QUEUE_NUM: u64 = mmio::VIRTIO_MMIO_QUEUE_NUM as u64;
/// `QueueReady`.
pub const REG_QUEUE_READY: u64 = mmio::VIRTIO_MMIO_QUEUE_READY as u64;
/// `QueueNotify`.
pub const REG_QUEUE_NOTIFY: u64 = mmio::VIRTIO_MMIO_QUEUE_NOTIFY as u64;
/// `InterruptStatus`.
pub const REG_INTERRUPT_STATUS: u64 = mmio::VIRTIO_MMIO_INTERRUPT_STATUS as u64;
/// `InterruptACK`.
pub const REG_INTERRUPT_ACK: u64 = mmio::VIRTIO_MMIO_INTERRUPT_ACK as u64;
/// `Status`.
pub const REG_STATUS: u64 = mmio::VIRTIO_MMIO_STATUS as u64;
/// `QueueDescLow`.
pub const REG_QUEUE_DESC_LOW: u64 = mmio::VIRTIO_MMIO_QUEUE_DESC_LOW as u64;
/// `QueueDescHigh`.
pub const REG_QUEUE_DESC_HIGH: u64 = mmio::VIRTIO_MMIO_QUEUE_DESC_HIGH as u64;
/// `QueueDriverLow` (the available ring).
pub const REG_QUEUE_DRIVER_LOW: u64 = mmio::VIRTIO_MMIO_QUEUE_AVAIL_LOW as u64;
/// `QueueDriverHigh`.
pub const REG_QUEUE_DRIVER_HIGH: u64 = mmio::VIRTIO_MMIO_QUEUE_AVAIL_HIGH as u64;
/// `QueueDeviceLow` (the used ring).
pub const REG_QUEUE_DEVICE_LOW: u64 = mmio::VIRTIO_MMIO_QUEUE_USED_LOW as u64;
/// `QueueDeviceHigh`.
pub const REG_QUEUE_DEVICE_HIGH: u64 = mmio::VIRTIO_MMIO_QUEUE_USED_HIGH as u64;
/// `ConfigGeneration`.
pub const REG_CONFIG_GENERATION: u64 = mmio::VIRTIO_MMIO_CONFIG_GENERATION as u64;
/// Where the device's configuration space starts.
pub const REG_CONFIG: u64 = mmio::VIRTIO_MMIO_CONFIG as u64;
/// Size of the register window.
pub const WINDOW_SIZE: u64 = 0x1000;

/// `InterruptStatus` bit: the device used buffers.
pub const INT_USED_BUFFER: u32 = mmio::VIRTIO_MMIO_INT_VRING;
/// `InterruptStatus` bit: the configuration space changed.
pub const INT_CONFIG_CHANGE: u32 = mmio::VIRTIO_MMIO_INT_CONFIG;

/// Device status bits (virtio 1.2, 2.1): the guest saw the device.
pub const STATUS_ACKNOWLEDGE: u32 = config::VIRTIO_CONFIG_S_ACKNOWLEDGE;
/// The guest has a driver.
pub const STATUS_DRIVER: u32 = config::VIRTIO_CONFIG_S_DRIVER;
/// The driver is ready.
pub const STATUS_DRIVER_OK: u32 = config::VIRTIO_CONFIG_S_DRIVER_OK;
/// Feature negotiation is complete.
pub const STATUS_FEATURES_OK: u32 = config::VIRTIO_CONFIG_S_FEATURES_OK;

/// `VIRTIO_F_VERSION_1`: a modern device. Every device must offer it.
pub const F_VERSION_1: u64 = 1 << config::VIRTIO_F_VERSION_1;

/// A virtio device behind the transport: its identity, features,
/// configuration space and queue handling.
pub trait VirtioDevice: Send {
    /// The virtio device ID (5 for the balloon).
    fn device_id(&self) -> u32;
    /// The features offered (must include [`F_VERSION_1`]).
    fn features(&self) -> u64;
    /// One entry per queue: its maximum size (a power of two).
    fn queue_max_sizes(&self) -> &[u16];
    /// Reads `data.len()` bytes of the configuration space at `offset`.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Writes the configuration space at `offset`.
    fn write_config(&mut self, offset: u64, data: &[u8]);
    /// Handles a notification of queue `index`: takes what the driver
    /// made available. Returns whether buffers went to the used ring.
    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool;
    /// The driver reset the device (status written 0), or the machine was
    /// reset.
    fn reset(&mut self);
}

/// The transport: registers, queues, interrupt. See the [module docs](self).
pub struct VirtioMmio<D> {
    device: D,
    mem: GuestMemoryMmap,
    irq: IrqLine,
    queues: Vec<Queue>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    interrupt_status: u32,
    config_generation: u32,
}

impl<D: fmt::Debug> fmt::Debug for VirtioMmio<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtioMmio")
            .field("device", &self.device)
            .field("status", &self.status)
            .field("interrupt_status", &self.interrupt_status)
            .finish_non_exhaustive()
    }
}

impl<D: VirtioDevice> VirtioMmio<D> {
    /// `device` behind a fresh transport, reaching guest memory through
    /// `mem` and interrupting through `irq`.
    ///
    /// # Panics
    ///
    /// If the device declares a queue size that is not a power of two up
    /// to 32768 (a bug in the device, never the guest's doing).
    pub fn new(device: D, mem: GuestMemoryMmap, irq: IrqLine) -> Self {
        let queues = device
            .queue_max_sizes()
            .iter()
            .map(|&max| Queue::new(max).expect("queue sizes are powers of two"))
            .collect();
        Self {
            device,
            mem,
            irq,
            queues,
            status: 0,
            device_features_sel: 0,
            driver_features_sel: 0,
            driver_features: 0,
            queue_sel: 0,
            interrupt_status: 0,
            config_generation: 0,
        }
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device, to change it from the host side (then call
    /// [`config_changed`](Self::config_changed) if its configuration
    /// space changed).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// The device status the driver last wrote.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// Tells the driver the configuration space changed: a new
    /// generation, `InterruptStatus` bit 1 and an interrupt (if the driver
    /// is up; otherwise it reads the new values when it starts).
    pub fn config_changed(&mut self) {
        self.config_generation = self.config_generation.wrapping_add(1);
        if self.status & STATUS_DRIVER_OK != 0 {
            self.raise(INT_CONFIG_CHANGE);
        }
    }

    /// The driver's or the machine's reset: queues, features, status and
    /// interrupt cleared, the device reset.
    pub fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.status = 0;
        self.device_features_sel = 0;
        self.driver_features_sel = 0;
        self.driver_features = 0;
        self.queue_sel = 0;
        self.interrupt_status = 0;
        self.device.reset();
    }

    fn raise(&mut self, bit: u32) {
        self.interrupt_status |= bit;
        if let Err(e) = self.irq.trigger() {
            log::warn!("virtio-mmio: cannot raise the interrupt: {e}");
        }
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.queue_sel as usize)
    }

    /// A guest read of `data.len()` bytes at `offset` in the window.
    pub fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= REG_CONFIG {
            self.device.read_config(offset - REG_CONFIG, data);
            return;
        }
        // Registers are 32 bits wide and read whole.
        let value = if data.len() == 4 {
            self.read_register(offset)
        } else {
            0
        };
        let bytes = value.to_le_bytes();
        let n = data.len().min(4);
        data[..n].copy_from_slice(&bytes[..n]);
        data[n..].fill(0);
    }

    fn read_register(&mut self, offset: u64) -> u32 {
        match offset {
            REG_MAGIC => MAGIC,
            REG_VERSION => VERSION,
            REG_DEVICE_ID => self.device.device_id(),
            REG_VENDOR_ID => VENDOR_ID,
            REG_DEVICE_FEATURES => match self.device_features_sel {
                0 => self.device.features() as u32,
                1 => (self.device.features() >> 32) as u32,
                _ => 0,
            },
            REG_QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            REG_QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            REG_INTERRUPT_STATUS => self.interrupt_status,
            REG_STATUS => self.status,
            REG_CONFIG_GENERATION => self.config_generation,
            _ => 0,
        }
    }

    /// A guest write at `offset` in the window.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= REG_CONFIG {
            self.device.write_config(offset - REG_CONFIG, data);
            return;
        }
        let Ok(bytes) = <[u8; 4]>::try_from(data) else {
            return;
        };
        let value = u32::from_le_bytes(bytes);
        match offset {
            REG_DEVICE_FEATURES_SEL => self.device_features_sel = value,
            REG_DRIVER_FEATURES_SEL => self.driver_features_sel = value,
            REG_DRIVER_FEATURES => self.write_driver_features(value),
            REG_QUEUE_SEL => self.queue_sel = value,
            REG_QUEUE_NUM => {
                if let Some(q) = self.selected_queue() {
                    q.set_size(value as u16);
                }
            }
            REG_QUEUE_READY => {
                if let Some(q) = self.queues.get_mut(self.queue_sel as usize) {
                    // A queue goes live only if its rings are in RAM
                    // (virtio-queue judges only a ready queue).
                    q.set_ready(value == 1);
                    if q.ready() && !q.is_valid(&self.mem) {
                        log::warn!("virtio-mmio: a queue's rings are not in RAM");
                        q.set_ready(false);
                    }
                }
            }
            REG_QUEUE_NOTIFY => self.notify(value as usize),
            REG_INTERRUPT_ACK => self.interrupt_status &= !value,
            REG_STATUS => self.write_status(value),
            REG_QUEUE_DESC_LOW => self.set_address(value, |q, v| q.set_desc_table_address(v, None)),
            REG_QUEUE_DESC_HIGH => {
                self.set_address(value, |q, v| q.set_desc_table_address(None, v))
            }
            REG_QUEUE_DRIVER_LOW => {
                self.set_address(value, |q, v| q.set_avail_ring_address(v, None))
            }
            REG_QUEUE_DRIVER_HIGH => {
                self.set_address(value, |q, v| q.set_avail_ring_address(None, v))
            }
            REG_QUEUE_DEVICE_LOW => {
                self.set_address(value, |q, v| q.set_used_ring_address(v, None))
            }
            REG_QUEUE_DEVICE_HIGH => {
                self.set_address(value, |q, v| q.set_used_ring_address(None, v))
            }
            _ => {}
        }
    }

    fn set_address(&mut self, value: u32, set: impl FnOnce(&mut Queue, Option<u32>)) {
        if let Some(q) = self.selected_queue() {
            // The spec forbids changes to a live queue.
            if !q.ready() {
                set(q, Some(value));
            }
        }
    }

    fn write_driver_features(&mut self, value: u32) {
        // Only before FEATURES_OK, and only what the device offers.
        if self.status & STATUS_FEATURES_OK != 0 {
            return;
        }
        let shift = match self.driver_features_sel {
            0 => 0,
            1 => 32,
            _ => return,
        };
        let mask = 0xffff_ffffu64 << shift;
        let offered = self.device.features();
        self.driver_features =
            (self.driver_features & !mask) | ((u64::from(value) << shift) & offered);
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let mut value = value;
        // FEATURES_OK sticks only for a modern driver.
        if value & STATUS_FEATURES_OK != 0
            && self.status & STATUS_FEATURES_OK == 0
            && self.driver_features & F_VERSION_1 == 0
        {
            value &= !STATUS_FEATURES_OK;
        }
        self.status = value;
    }

    fn notify(&mut self, index: usize) {
        if self.status & STATUS_DRIVER_OK == 0 {
            return;
        }
        let Some(queue) = self.queues.get_mut(index) else {
            return;
        };
        if !queue.ready() {
            return;
        }
        let used = self.device.process_queue(index, queue, &self.mem);
        if used {
            match queue.needs_notification(&self.mem) {
                Ok(false) => {}
                Ok(true) | Err(_) => self.raise(INT_USED_BUFFER),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use vm_memory::{Bytes, GuestAddress};

    use super::*;
    use crate::vmm::devices::tests::Counter;

    /// A device with one queue that counts the chains it is given.
    #[derive(Debug, Default)]
    struct Echo {
        chains: usize,
        resets: usize,
        config: [u8; 8],
    }

    impl VirtioDevice for Echo {
        fn device_id(&self) -> u32 {
            42
        }
        fn features(&self) -> u64 {
            F_VERSION_1 | 1
        }
        fn queue_max_sizes(&self) -> &[u16] {
            &[4]
        }
        fn read_config(&self, offset: u64, data: &mut [u8]) {
            for (i, b) in data.iter_mut().enumerate() {
                *b = self.config.get(offset as usize + i).copied().unwrap_or(0);
            }
        }
        fn write_config(&mut self, offset: u64, data: &[u8]) {
            for (i, b) in data.iter().enumerate() {
                if let Some(slot) = self.config.get_mut(offset as usize + i) {
                    *slot = *b;
                }
            }
        }
        fn process_queue(&mut self, _: usize, q: &mut Queue, mem: &GuestMemoryMmap) -> bool {
            let mut used = false;
            while let Some(chain) = q.pop_descriptor_chain(mem) {
                self.chains += 1;
                q.add_used(mem, chain.head_index(), 0).unwrap();
                used = true;
            }
            used
        }
        fn reset(&mut self) {
            self.resets += 1;
        }
    }

    fn rd(dev: &mut VirtioMmio<Echo>, offset: u64) -> u32 {
        let mut b = [0u8; 4];
        dev.read(offset, &mut b);
        u32::from_le_bytes(b)
    }

    fn wr(dev: &mut VirtioMmio<Echo>, offset: u64, value: u32) {
        dev.write(offset, &value.to_le_bytes());
    }

    fn setup() -> (VirtioMmio<Echo>, GuestMemoryMmap, Counter) {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        let irqs = Counter::default();
        let dev = VirtioMmio::new(Echo::default(), mem.clone(), IrqLine::new(irqs.clone()));
        (dev, mem, irqs)
    }

    /// The driver's side of the handshake, with queue 0 at 0x1000 (size 4).
    fn bring_up(dev: &mut VirtioMmio<Echo>) {
        wr(dev, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        wr(dev, REG_DRIVER_FEATURES_SEL, 1);
        wr(dev, REG_DRIVER_FEATURES, 1);
        wr(
            dev,
            REG_STATUS,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
        );
        assert_ne!(rd(dev, REG_STATUS) & STATUS_FEATURES_OK, 0);
        wr(dev, REG_QUEUE_SEL, 0);
        assert_eq!(rd(dev, REG_QUEUE_NUM_MAX), 4);
        wr(dev, REG_QUEUE_NUM, 4);
        wr(dev, REG_QUEUE_DESC_LOW, 0x1000);
        wr(dev, REG_QUEUE_DRIVER_LOW, 0x1100);
        wr(dev, REG_QUEUE_DEVICE_LOW, 0x1200);
        wr(dev, REG_QUEUE_READY, 1);
        assert_eq!(rd(dev, REG_QUEUE_READY), 1);
        wr(
            dev,
            REG_STATUS,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK,
        );
    }

    #[test]
    fn identifies_itself() {
        let (mut dev, _, _) = setup();
        assert_eq!(rd(&mut dev, REG_MAGIC), MAGIC);
        assert_eq!(rd(&mut dev, REG_VERSION), 2);
        assert_eq!(rd(&mut dev, REG_DEVICE_ID), 42);
        wr(&mut dev, REG_DEVICE_FEATURES_SEL, 1);
        assert_eq!(rd(&mut dev, REG_DEVICE_FEATURES), 1);
        wr(&mut dev, REG_DEVICE_FEATURES_SEL, 0);
        assert_eq!(rd(&mut dev, REG_DEVICE_FEATURES), 1);
        assert_eq!(rd(&mut dev, 0x0f0), 0, "reserved offsets read 0");
    }

    #[test]
    fn features_ok_needs_version_1() {
        let (mut dev, _, _) = setup();
        wr(&mut dev, REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        wr(
            &mut dev,
            REG_STATUS,
            STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK,
        );
        assert_eq!(rd(&mut dev, REG_STATUS) & STATUS_FEATURES_OK, 0);
    }

    #[test]
    fn a_notification_uses_the_buffer_and_interrupts() {
        let (mut dev, mem, irqs) = setup();
        bring_up(&mut dev);
        // Descriptor 0: 16 bytes at 0x2000, device-readable.
        mem.write_obj(0x2000u64, GuestAddress(0x1000)).unwrap();
        mem.write_obj(16u32, GuestAddress(0x1008)).unwrap();
        // Available ring: flags 0, idx 1, ring[0] = 0.
        mem.write_obj(0u16, GuestAddress(0x1100)).unwrap();
        mem.write_obj(0u16, GuestAddress(0x1104)).unwrap();
        mem.write_obj(1u16, GuestAddress(0x1102)).unwrap();
        wr(&mut dev, REG_QUEUE_NOTIFY, 0);
        assert_eq!(dev.device().chains, 1);
        let used_idx: u16 = mem.read_obj(GuestAddress(0x1202)).unwrap();
        assert_eq!(used_idx, 1);
        assert_eq!(rd(&mut dev, REG_INTERRUPT_STATUS), INT_USED_BUFFER);
        assert_eq!(irqs.0.load(Ordering::SeqCst), 1);
        wr(&mut dev, REG_INTERRUPT_ACK, INT_USED_BUFFER);
        assert_eq!(rd(&mut dev, REG_INTERRUPT_STATUS), 0);
    }

    #[test]
    fn a_queue_outside_ram_never_goes_live() {
        let (mut dev, _, _) = setup();
        wr(&mut dev, REG_QUEUE_SEL, 0);
        wr(&mut dev, REG_QUEUE_NUM, 4);
        wr(&mut dev, REG_QUEUE_DESC_LOW, 0x1000);
        wr(&mut dev, REG_QUEUE_DESC_HIGH, 0x10);
        wr(&mut dev, REG_QUEUE_READY, 1);
        assert_eq!(rd(&mut dev, REG_QUEUE_READY), 0);
        // Notifying it, or a queue that does not exist, does nothing.
        wr(&mut dev, REG_QUEUE_NOTIFY, 0);
        wr(&mut dev, REG_QUEUE_NOTIFY, 7);
        assert_eq!(dev.device().chains, 0);
    }

    #[test]
    fn garbage_in_the_rings_does_not_panic() {
        let (mut dev, mem, _) = setup();
        bring_up(&mut dev);
        // A descriptor pointing outside RAM, chained to itself, and an
        // available index far ahead of the ring.
        mem.write_obj(0xffff_ffff_0000u64, GuestAddress(0x1000))
            .unwrap();
        mem.write_obj(0xffff_ffffu32, GuestAddress(0x1008)).unwrap();
        mem.write_obj(1u16, GuestAddress(0x100c)).unwrap(); // NEXT
        mem.write_obj(0u16, GuestAddress(0x100e)).unwrap();
        mem.write_obj(0x7777u16, GuestAddress(0x1102)).unwrap();
        mem.write_obj(9u16, GuestAddress(0x1104)).unwrap();
        wr(&mut dev, REG_QUEUE_NOTIFY, 0);
    }

    #[test]
    fn config_space_and_generation() {
        let (mut dev, _, irqs) = setup();
        dev.write(REG_CONFIG + 4, &[1, 2]);
        let mut b = [0u8; 2];
        dev.read(REG_CONFIG + 4, &mut b);
        assert_eq!(b, [1, 2]);
        // Before DRIVER_OK a change bumps the generation only.
        dev.config_changed();
        assert_eq!(rd(&mut dev, REG_CONFIG_GENERATION), 1);
        assert_eq!(irqs.0.load(Ordering::SeqCst), 0);
        bring_up(&mut dev);
        dev.config_changed();
        assert_eq!(rd(&mut dev, REG_INTERRUPT_STATUS), INT_CONFIG_CHANGE);
        assert_eq!(irqs.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn status_zero_resets_everything() {
        let (mut dev, _, _) = setup();
        bring_up(&mut dev);
        wr(&mut dev, REG_STATUS, 0);
        assert_eq!(rd(&mut dev, REG_STATUS), 0);
        wr(&mut dev, REG_QUEUE_SEL, 0);
        assert_eq!(rd(&mut dev, REG_QUEUE_READY), 0);
        assert_eq!(dev.device().resets, 1);
    }
}
