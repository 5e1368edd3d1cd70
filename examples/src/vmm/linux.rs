//! Linux boot: loads a kernel (an ELF `vmlinux` or a `bzImage`) with
//! [linux-loader](linux_loader), writes what its boot protocol wants, and
//! says how vCPU 0 enters it.
//!
//! Which entry:
//!
//! - a `vmlinux` with a `XEN_ELFNOTE_PHYS32_ENTRY` note enters through
//!   **PVH**: 32-bit protected mode, paging off, flat segments (the boot
//!   GDT of [`boot`]), `EBX` = the `hvm_start_info` at
//!   [`START_INFO_ADDR`], which points at the command line, the memory map
//!   and the initrd (as module 0);
//! - a `vmlinux` without that note, and a `bzImage` (64-bit entry at its
//!   load address + 0x200), enter through the **64-bit boot protocol**:
//!   long mode, identity-mapped first 4 GiB (2 MiB pages at
//!   [`PML4_ADDR`]), a GDT with a 64-bit code segment at selector 0x10 and
//!   data at 0x18, `RSI` = the zero page (`boot_params`) at
//!   [`ZERO_PAGE_ADDR`].
//!
//! Low memory, below the kernel (which loads at 1 MiB or above):
//!
//! | address    | what                                            |
//! |------------|-------------------------------------------------|
//! | `0x500`    | the GDT                                         |
//! | `0x6000`   | PVH `hvm_start_info`, then its memory map and module list |
//! | `0x7000`   | the zero page (`boot_params`)                   |
//! | `0x8ff0`   | initial stack pointer (64-bit entry)            |
//! | `0x9000`   | page tables: PML4, PDPT, four page directories  |
//! | `0x20000`  | the command line                                |
//!
//! The initrd goes at the top of RAM below 3 GiB (and below the kernel's
//! `initrd_addr_max` for a bzImage), page-aligned. The memory map
//! ([`e820_map`]) is the RAM layout of [`memory`](super::memory) with the
//! PC's holes: 0..0x9fc00 RAM, the EBDA and the BIOS area reserved, 1 MiB
//! up to the MMIO hole RAM, and RAM again from 4 GiB.
//!
//! Everything is written again at each [`Machine::reset`](super::Machine::reset),
//! which then re-enters the kernel.
//!
//! # Example
//!
//! ```no_run
//! use examples::vmm::linux::{KernelBoot, DEFAULT_CMDLINE};
//! use examples::vmm::{Machine, MachineConfig};
//!
//! let mut kernel = KernelBoot::from_files("vmlinux".as_ref(), None)?;
//! assert_eq!(kernel.cmdline, DEFAULT_CMDLINE);
//! kernel.append_cmdline("quiet");
//! let mut config = MachineConfig::new(&[], Box::new(std::io::stdout()));
//! config.kernel = Some(kernel);
//! let machine = Machine::new(config)?;
//! machine.start(false)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use kvm_bindings::{kvm_regs, kvm_sregs};
use kvm_ioctls::VcpuFd;
use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use linux_loader::loader::{BzImage, Elf, KernelLoader, KernelLoaderResult, PvhBootCapability};
use vm_memory::{Bytes, GuestAddress, GuestMemory, GuestMemoryRegion};

use super::boot::{self, gdt_entry, segment, DATA_SELECTOR, GDT_ADDR};
use super::memory::{GuestRam, MMIO_HOLE_START};
use super::{Result, VmmError};

/// The kernel command line when the user gives none (`-append` absent):
/// the console and early printk on the first UART (`ttyS0`, the machine's
/// COM1), reboot through the keyboard controller (the machine's i8042
/// reset line), and no PCI probing (the machine has no PCI bus).
pub const DEFAULT_CMDLINE: &str = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k pci=off";

/// The longest command line, with its NUL, for a kernel that does not say
/// (a `vmlinux`): x86's `COMMAND_LINE_SIZE`.
pub const DEFAULT_CMDLINE_MAX: usize = 2048;

/// Guest-physical address of PVH's `hvm_start_info`.
pub const START_INFO_ADDR: u64 = 0x6000;
/// Guest-physical address of the zero page (`boot_params`).
pub const ZERO_PAGE_ADDR: u64 = 0x7000;
/// Initial stack pointer for the 64-bit entry.
pub const BOOT_STACK: u64 = 0x8ff0;
/// Guest-physical address of the PML4; the PDPT and four page directories follow.
pub const PML4_ADDR: u64 = 0x9000;
/// Guest-physical address of the command line.
pub const CMDLINE_ADDR: u64 = 0x2_0000;
/// Lowest address the kernel may load at (1 MiB).
pub const HIGH_MEMORY: u64 = 0x10_0000;

/// Where the PVH memory map starts (after `hvm_start_info`).
const MEMMAP_ADDR: u64 = START_INFO_ADDR + 0x40;
/// Where the PVH module list starts (room for 16 memory map entries before it).
const MODLIST_ADDR: u64 = MEMMAP_ADDR + 16 * 24;
/// End of the conventional memory below the EBDA.
const EBDA_START: u64 = 0x9_fc00;
/// End of conventional memory (start of the VGA window).
const LOW_MEMORY_END: u64 = 0xa_0000;
/// The BIOS area below 1 MiB that a PC reserves.
const BIOS_START: u64 = 0xf_0000;
/// Highest initrd end a 64-bit kernel that does not say accepts.
const DEFAULT_INITRD_ADDR_MAX: u64 = 0x7fff_ffff;

const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;
const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448; // "HdrS"
const KERNEL_LOADER_OTHER: u8 = 0xff;
const KERNEL_MIN_ALIGNMENT: u32 = 0x100_0000;
/// `xloadflags`: the kernel has the 64-bit entry at load address + 0x200.
const XLF_KERNEL_64: u16 = 1 << 0;
/// Offset of the 64-bit entry point in a loaded bzImage.
const BZIMAGE_ENTRY_64: u64 = 0x200;

const CR0_PE: u64 = 1 << 0;
const CR0_ET: u64 = 1 << 4;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
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

/// Errors of loading a kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinuxError {
    /// A file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The image is neither an ELF file nor a bzImage.
    #[error("the kernel is neither an ELF vmlinux nor a bzImage")]
    UnknownFormat,
    /// linux-loader refused the image. Its message is shown, not chained:
    /// linux-loader's errors already repeat their sources.
    #[error("cannot load the kernel ({0})")]
    Load(linux_loader::loader::Error),
    /// An ELF kernel's segments reach beyond RAM below the MMIO hole.
    #[error("the kernel loads up to {end:#x}, but RAM below 3 GiB ends at {ram_end:#x} (add -m)")]
    TooLarge {
        /// One past its highest physical byte.
        end: u64,
        /// One past the highest byte of RAM at 0.
        ram_end: u64,
    },
    /// A bzImage without the 64-bit entry point.
    #[error("the bzImage has no 64-bit entry point (boot protocol 2.12 or later)")]
    No64BitEntry,
    /// The command line has a NUL byte.
    #[error("the kernel command line contains a NUL byte")]
    CmdlineNul,
    /// The command line is longer than the kernel takes.
    #[error("the kernel command line has {len} bytes, the kernel takes at most {max}")]
    CmdlineTooLong {
        /// Its length, with the NUL.
        len: usize,
        /// The kernel's limit, with the NUL.
        max: usize,
    },
    /// The initrd does not fit between the kernel and the top of low RAM.
    #[error("an initrd of {len} bytes does not fit in RAM above the kernel ({room} bytes free)")]
    InitrdTooLarge {
        /// Its size.
        len: usize,
        /// The room there is.
        room: u64,
    },
    /// Boot data could not be written (RAM too small).
    #[error("cannot write the {0} to guest memory")]
    Write(&'static str),
}

/// A kernel to boot instead of the firmware, with its command line and
/// optional initrd. [`Machine::reset`](super::Machine::reset) loads it
/// again from these bytes.
///
/// # Examples
///
/// ```
/// use examples::vmm::linux::{KernelBoot, DEFAULT_CMDLINE};
///
/// let mut kernel = KernelBoot::new(vec![0x7f, b'E', b'L', b'F']);
/// kernel.append_cmdline("virtio_mmio.device=4K@0xd0000000:5");
/// assert_eq!(
///     kernel.cmdline,
///     format!("{DEFAULT_CMDLINE} virtio_mmio.device=4K@0xd0000000:5")
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KernelBoot {
    /// The kernel image: an ELF `vmlinux` or a `bzImage`.
    pub image: Vec<u8>,
    /// The command line ([`DEFAULT_CMDLINE`] unless replaced).
    pub cmdline: String,
    /// The initial ramdisk, if any.
    pub initrd: Option<Vec<u8>>,
}

impl KernelBoot {
    /// `image` with [`DEFAULT_CMDLINE`] and no initrd.
    pub fn new(image: Vec<u8>) -> Self {
        Self {
            image,
            cmdline: DEFAULT_CMDLINE.to_owned(),
            initrd: None,
        }
    }

    /// Reads the kernel (and the initrd) from files, with [`DEFAULT_CMDLINE`].
    ///
    /// # Errors
    ///
    /// [`LinuxError::Read`] if a file cannot be read, [`LinuxError::UnknownFormat`]
    /// if the kernel is neither ELF nor bzImage.
    pub fn from_files(
        kernel: &Path,
        initrd: Option<&Path>,
    ) -> std::result::Result<Self, LinuxError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| LinuxError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let image = read(kernel)?;
        KernelFormat::detect(&image)?;
        let mut boot = Self::new(image);
        boot.initrd = initrd.map(read).transpose()?;
        Ok(boot)
    }

    /// Adds `text` to the command line, separated by a space.
    pub fn append_cmdline(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.cmdline.is_empty() && !self.cmdline.ends_with(' ') {
            self.cmdline.push(' ');
        }
        self.cmdline.push_str(text);
    }
}

impl fmt::Debug for KernelBoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelBoot")
            .field("image", &format_args!("{} bytes", self.image.len()))
            .field("cmdline", &self.cmdline)
            .field(
                "initrd",
                &self.initrd.as_ref().map(|i| format!("{} bytes", i.len())),
            )
            .finish()
    }
}

/// What kind of kernel image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFormat {
    /// An ELF file (`vmlinux`).
    Elf,
    /// A bzImage (`vmlinuz`): the `HdrS` setup header at 0x202.
    BzImage,
}

impl KernelFormat {
    /// Tells the format by the magic numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::vmm::linux::KernelFormat;
    ///
    /// assert_eq!(KernelFormat::detect(b"\x7fELF\x02\x01").unwrap(), KernelFormat::Elf);
    /// assert!(KernelFormat::detect(b"MZ").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`LinuxError::UnknownFormat`].
    pub fn detect(image: &[u8]) -> std::result::Result<Self, LinuxError> {
        if image.starts_with(b"\x7fELF") {
            Ok(Self::Elf)
        } else if image.get(0x202..0x206) == Some(b"HdrS") {
            Ok(Self::BzImage)
        } else {
            Err(LinuxError::UnknownFormat)
        }
    }
}

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
    const fn new(addr: u64, size: u64, kind: E820Kind) -> Self {
        Self { addr, size, kind }
    }
}

/// The memory map of RAM regions `(start, length)`, as the [module
/// docs](self) describe it. A region at 0 loses the EBDA and the BIOS
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
fn ram_regions(ram: &GuestRam) -> Vec<(u64, u64)> {
    ram.memory()
        .iter()
        .map(|r| (r.start_addr().0, r.len()))
        .collect()
}

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

/// The longest command line `header` allows, with its NUL.
fn cmdline_max(header: Option<&setup_header>) -> usize {
    match header {
        // cmdline_size exists from protocol 2.06 and excludes the NUL.
        Some(h) if h.version >= 0x0206 && h.cmdline_size > 0 => h.cmdline_size as usize + 1,
        Some(_) => 256,
        None => DEFAULT_CMDLINE_MAX,
    }
}

/// The command line as the kernel reads it: the bytes and a NUL.
///
/// # Errors
///
/// [`LinuxError::CmdlineNul`], [`LinuxError::CmdlineTooLong`].
fn cmdline_bytes(cmdline: &str, max: usize) -> std::result::Result<Vec<u8>, LinuxError> {
    if cmdline.contains('\0') {
        return Err(LinuxError::CmdlineNul);
    }
    let mut bytes = cmdline.as_bytes().to_vec();
    bytes.push(0);
    if bytes.len() > max {
        return Err(LinuxError::CmdlineTooLong {
            len: bytes.len(),
            max,
        });
    }
    Ok(bytes)
}

/// Where an initrd of `len` bytes goes: page-aligned, as high as possible
/// with its end at or below `top`, and not below `kernel_end`.
fn initrd_addr(len: usize, kernel_end: u64, top: u64) -> std::result::Result<u64, LinuxError> {
    let room = top.saturating_sub(kernel_end);
    let too_large = || LinuxError::InitrdTooLarge { len, room };
    let start = top.checked_sub(len as u64).ok_or_else(too_large)? & !0xfff;
    if start < kernel_end {
        return Err(too_large());
    }
    Ok(start)
}

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

fn write(
    ram: &GuestRam,
    addr: u64,
    bytes: &[u8],
    what: &'static str,
) -> std::result::Result<(), LinuxError> {
    ram.write(addr, bytes).map_err(|_| LinuxError::Write(what))
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
        let ram_end = ram.size().min(MMIO_HOLE_START);
        let end = elf_load_ranges(&kernel.image)
            .iter()
            .map(|r| r.paddr.1)
            .max()
            .unwrap_or(0);
        if end > ram_end {
            return Err(LinuxError::TooLarge { end, ram_end });
        }
    }
    let mem = ram.memory();
    let mut image = Cursor::new(kernel.image.as_slice());
    let highmem = Some(GuestAddress(HIGH_MEMORY));
    let loaded: KernelLoaderResult = match format {
        KernelFormat::Elf => Elf::load(mem, None, &mut image, highmem),
        KernelFormat::BzImage => BzImage::load(mem, None, &mut image, highmem),
    }
    .map_err(LinuxError::Load)?;

    let header = loaded.setup_header;
    let cmdline = cmdline_bytes(&kernel.cmdline, cmdline_max(header.as_ref()))?;
    write(ram, CMDLINE_ADDR, &cmdline, "command line")?;

    let mut kernel_end = loaded.kernel_end;
    let mut initrd_max = DEFAULT_INITRD_ADDR_MAX;
    if let Some(h) = &header {
        // The kernel decompresses itself up to pref_address + init_size.
        if h.version >= 0x020a {
            kernel_end = kernel_end.max(h.pref_address.saturating_add(u64::from(h.init_size)));
        }
        if h.version >= 0x0203 && h.initrd_addr_max != 0 {
            initrd_max = u64::from(h.initrd_addr_max);
        }
    }
    let initrd = match &kernel.initrd {
        Some(bytes) => {
            let top = ram
                .size()
                .min(MMIO_HOLE_START)
                .min(initrd_max.saturating_add(1));
            let addr = initrd_addr(bytes.len(), kernel_end, top)?;
            write(ram, addr, bytes, "initrd")?;
            Some((addr, bytes.len() as u64))
        }
        None => None,
    };

    let map = e820_map(&ram_regions(ram));
    let entry = match (format, loaded.pvh_boot_cap) {
        (KernelFormat::Elf, PvhBootCapability::PvhEntryPresent(addr)) => {
            write_pvh_start_info(ram, &map, initrd)?;
            Entry::Pvh { addr: addr.0 }
        }
        (KernelFormat::Elf, _) => {
            write_zero_page(ram, &map, None, initrd, cmdline.len())?;
            Entry::Linux64 {
                addr: loaded.kernel_load.0,
            }
        }
        (KernelFormat::BzImage, _) => {
            let h = header.ok_or(LinuxError::No64BitEntry)?;
            if h.version < 0x020c || h.xloadflags & XLF_KERNEL_64 == 0 {
                return Err(LinuxError::No64BitEntry);
            }
            write_zero_page(ram, &map, Some(h), initrd, cmdline.len())?;
            Entry::Linux64 {
                addr: loaded.kernel_load.0 + BZIMAGE_ENTRY_64,
            }
        }
    };
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
    write(ram, PML4_ADDR, &tables, "page tables")?;
    // linux-loader's load address is the ELF entry point, not its start.
    let start = match format {
        KernelFormat::Elf => elf_load_ranges(&kernel.image)
            .iter()
            .map(|r| r.paddr.0)
            .min()
            .unwrap_or(loaded.kernel_load.0),
        KernelFormat::BzImage => loaded.kernel_load.0,
    };
    Ok(LoadedKernel {
        entry,
        range: (start, kernel_end),
        initrd,
    })
}

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

fn write_pvh_start_info(
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

fn write_zero_page(
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

/// The special registers for `entry`, on top of KVM's reset values.
pub fn entry_sregs(sregs: &mut kvm_sregs, entry: Entry) {
    match entry {
        Entry::Pvh { .. } => boot::boot_sregs(sregs),
        Entry::Linux64 { .. } => {
            let code = segment(GDT64[usize::from(CODE64_SELECTOR >> 3)], CODE64_SELECTOR);
            let data = segment(GDT64[usize::from(DATA_SELECTOR >> 3)], DATA_SELECTOR);
            sregs.cs = code;
            sregs.ds = data;
            sregs.es = data;
            sregs.fs = data;
            sregs.gs = data;
            sregs.ss = data;
            sregs.gdt.base = GDT_ADDR;
            sregs.gdt.limit = (std::mem::size_of_val(&GDT64) - 1) as u16;
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

/// Puts vCPU 0 at the kernel's entry, as the [module docs](self) describe.
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

#[cfg(test)]
mod tests;
