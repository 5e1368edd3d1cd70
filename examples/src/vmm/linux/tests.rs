//! The pure parts of Linux boot, without KVM: formats, command lines, the
//! memory map, page tables, and loading small hand-made images.

use kvm_bindings::kvm_sregs;
use linux_loader::loader::bootparam::setup_header;

use super::boot_info::XEN_HVM_START_MAGIC;
use super::cmdline::{cmdline_bytes, cmdline_max};
use super::e820::ram_regions;
use super::entry::{CR0_PE, CR0_PG, EFER_LMA, EFER_LME};
use super::load::{initrd_addr, XLF_KERNEL_64};
use super::*;
use crate::vmm::boot::{self, GDT_ADDR};
use crate::vmm::memory::{GuestRam, MMIO_HOLE_START};

const MIB: u64 = 1 << 20;

// ---- images made by hand ----

/// A 64-bit ELF executable with one `PT_LOAD` (`payload` at physical
/// 16 MiB, virtual 0xffffffff81000000, entry at its start) and, with
/// `pvh_entry`, a `PT_NOTE` holding `XEN_ELFNOTE_PHYS32_ENTRY`.
fn elf(payload: &[u8], pvh_entry: Option<u32>) -> Vec<u8> {
    const PHDRS: u64 = 0x40;
    const DATA: u64 = 0x1000;
    let note = pvh_entry.map(|entry| {
        let mut n = Vec::new();
        n.extend_from_slice(&4u32.to_le_bytes()); // namesz
        n.extend_from_slice(&4u32.to_le_bytes()); // descsz
        n.extend_from_slice(&18u32.to_le_bytes()); // XEN_ELFNOTE_PHYS32_ENTRY
        n.extend_from_slice(b"Xen\0");
        n.extend_from_slice(&entry.to_le_bytes());
        n
    });
    let phnum: u16 = if note.is_some() { 2 } else { 1 };
    let mut f = vec![0u8; DATA as usize];
    f[..6].copy_from_slice(b"\x7fELF\x02\x01");
    f[6] = 1; // EV_CURRENT
    f[0x10..0x12].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f[0x12..0x14].copy_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f[0x14..0x18].copy_from_slice(&1u32.to_le_bytes());
    f[0x18..0x20].copy_from_slice(&(16 * MIB).to_le_bytes()); // e_entry
    f[0x20..0x28].copy_from_slice(&PHDRS.to_le_bytes());
    f[0x34..0x36].copy_from_slice(&0x40u16.to_le_bytes()); // e_ehsize
    f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    f[0x38..0x3a].copy_from_slice(&phnum.to_le_bytes());
    let phdr = |kind: u32, offset: u64, vaddr: u64, paddr: u64, size: u64, align: u64| {
        let mut p = Vec::with_capacity(56);
        p.extend_from_slice(&kind.to_le_bytes());
        p.extend_from_slice(&5u32.to_le_bytes()); // R X
        for v in [offset, vaddr, paddr, size, size, align] {
            p.extend_from_slice(&v.to_le_bytes());
        }
        p
    };
    let load = phdr(
        1,
        DATA,
        0xffff_ffff_8100_0000,
        16 * MIB,
        payload.len() as u64,
        0x1000,
    );
    f[PHDRS as usize..PHDRS as usize + 56].copy_from_slice(&load);
    if let Some(note) = &note {
        let at = DATA + payload.len() as u64;
        let p = phdr(4, at, 0, 0, note.len() as u64, 4);
        f[PHDRS as usize + 56..PHDRS as usize + 112].copy_from_slice(&p);
    }
    f.extend_from_slice(payload);
    if let Some(note) = note {
        f.extend_from_slice(&note);
    }
    f
}

/// A bzImage: one setup sector after the boot sector, the setup header
/// with `version` and `xloadflags`, then `payload` (the "compressed
/// kernel"), which linux-loader puts at 1 MiB.
fn bzimage(payload: &[u8], version: u16, xloadflags: u16) -> Vec<u8> {
    let mut f = vec![0u8; 2 * 512];
    f[0x1f1] = 1; // setup_sects
    f[0x1fe..0x200].copy_from_slice(&0xaa55u16.to_le_bytes());
    f[0x202..0x206].copy_from_slice(b"HdrS");
    f[0x206..0x208].copy_from_slice(&version.to_le_bytes());
    f[0x211] = 1; // loadflags: LOADED_HIGH
    f[0x214..0x218].copy_from_slice(&0x10_0000u32.to_le_bytes()); // code32_start
    f[0x22c..0x230].copy_from_slice(&0x37ff_ffffu32.to_le_bytes()); // initrd_addr_max
    f[0x236..0x238].copy_from_slice(&xloadflags.to_le_bytes());
    f[0x238..0x23c].copy_from_slice(&2047u32.to_le_bytes()); // cmdline_size
    f.extend_from_slice(payload);
    f
}

fn read(ram: &GuestRam, addr: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    ram.read(addr, &mut buf).unwrap();
    buf
}

fn u32_at(ram: &GuestRam, addr: u64) -> u32 {
    u32::from_le_bytes(read(ram, addr, 4).try_into().unwrap())
}

fn u64_at(ram: &GuestRam, addr: u64) -> u64 {
    u64::from_le_bytes(read(ram, addr, 8).try_into().unwrap())
}

// ---- formats ----

#[test]
fn elf_and_bzimage_are_told_apart_by_their_magic() {
    assert_eq!(
        KernelFormat::detect(&elf(b"\xf4", None)).unwrap(),
        KernelFormat::Elf
    );
    assert_eq!(
        KernelFormat::detect(&bzimage(b"\xf4", 0x020f, 1)).unwrap(),
        KernelFormat::BzImage
    );
}

#[test]
fn other_images_are_refused() {
    for image in [&b""[..], b"\x7fEL", b"MZ\x90\x00", &[0u8; 0x300]] {
        assert!(
            matches!(KernelFormat::detect(image), Err(LinuxError::UnknownFormat)),
            "{image:?}"
        );
    }
    let ram = GuestRam::new(4 * MIB).unwrap();
    let kernel = KernelBoot::new(b"hello".to_vec());
    assert!(matches!(
        load(&ram, &kernel),
        Err(LinuxError::UnknownFormat)
    ));
}

#[test]
fn elf_load_ranges_lists_the_pt_load_segments() {
    let image = elf(&[0x90; 100], Some(0x100_0000));
    assert_eq!(
        elf_load_ranges(&image),
        vec![LoadRange {
            vaddr: (0xffff_ffff_8100_0000, 0xffff_ffff_8100_0064),
            paddr: (16 * MIB, 16 * MIB + 100),
        }]
    );
    // Cut short inside the program headers: nothing, and no panic.
    assert!(elf_load_ranges(&image[..0x50]).is_empty());
    assert!(elf_load_ranges(b"\x7fELF\x01\x01").is_empty()); // 32-bit
}

// ---- command lines ----

#[test]
fn the_default_command_line_names_the_serial_console() {
    let kernel = KernelBoot::new(Vec::new());
    assert_eq!(kernel.cmdline, DEFAULT_CMDLINE);
    assert!(DEFAULT_CMDLINE.contains("console=ttyS0"));
    assert!(DEFAULT_CMDLINE.contains("earlyprintk=serial,ttyS0"));
}

#[test]
fn appended_text_is_separated_by_one_space() {
    let mut kernel = KernelBoot::new(Vec::new());
    kernel.cmdline = "root=/dev/vda".into();
    kernel.append_cmdline("virtio_mmio.device=4K@0xd0000000:5");
    assert_eq!(
        kernel.cmdline,
        "root=/dev/vda virtio_mmio.device=4K@0xd0000000:5"
    );
    kernel.append_cmdline("  ");
    assert_eq!(
        kernel.cmdline,
        "root=/dev/vda virtio_mmio.device=4K@0xd0000000:5"
    );
    kernel.cmdline.clear();
    kernel.append_cmdline(" quiet ");
    assert_eq!(kernel.cmdline, "quiet");
}

#[test]
fn command_line_limits_come_from_the_kernel_header() {
    assert_eq!(cmdline_max(None), DEFAULT_CMDLINE_MAX);
    let mut h = setup_header {
        version: 0x0206,
        cmdline_size: 4095,
        ..Default::default()
    };
    assert_eq!(cmdline_max(Some(&h)), 4096);
    h.version = 0x0205;
    assert_eq!(cmdline_max(Some(&h)), 256);
}

#[test]
fn command_lines_too_long_or_with_nul_are_refused() {
    assert_eq!(cmdline_bytes("quiet", 6).unwrap(), b"quiet\0");
    assert!(matches!(
        cmdline_bytes("quiet", 5),
        Err(LinuxError::CmdlineTooLong { len: 6, max: 5 })
    ));
    assert!(matches!(
        cmdline_bytes("a\0b", 100),
        Err(LinuxError::CmdlineNul)
    ));
    let ram = GuestRam::new(32 * MIB).unwrap();
    let mut kernel = KernelBoot::new(elf(b"\xf4", None));
    kernel.cmdline = "x".repeat(DEFAULT_CMDLINE_MAX);
    assert!(matches!(
        load(&ram, &kernel),
        Err(LinuxError::CmdlineTooLong { .. })
    ));
}

// ---- the memory map ----

#[test]
fn e820_of_128_mib_has_the_pc_holes() {
    assert_eq!(
        e820_map(&[(0, 128 * MIB)]),
        vec![
            E820Entry::new(0, 0x9_fc00, E820Kind::Ram),
            E820Entry::new(0x9_fc00, 0x400, E820Kind::Reserved),
            E820Entry::new(0xf_0000, 0x1_0000, E820Kind::Reserved),
            E820Entry::new(MIB, 127 * MIB, E820Kind::Ram),
        ]
    );
}

#[test]
fn e820_above_three_gib_continues_at_four_gib() {
    let ram = GuestRam::new(MMIO_HOLE_START + 512 * MIB).unwrap();
    let map = e820_map(&ram_regions(&ram));
    assert_eq!(map.len(), 5);
    assert_eq!(
        map[3],
        E820Entry::new(MIB, MMIO_HOLE_START - MIB, E820Kind::Ram)
    );
    assert_eq!(map[4], E820Entry::new(1 << 32, 512 * MIB, E820Kind::Ram));
}

#[test]
fn e820_of_tiny_ram_stops_where_ram_does() {
    assert_eq!(
        e820_map(&[(0, 0x8_0000)]),
        vec![E820Entry::new(0, 0x8_0000, E820Kind::Ram)]
    );
    assert_eq!(
        e820_map(&[(0, 0xf_8000)]),
        vec![
            E820Entry::new(0, 0x9_fc00, E820Kind::Ram),
            E820Entry::new(0x9_fc00, 0x400, E820Kind::Reserved),
            E820Entry::new(0xf_0000, 0x8000, E820Kind::Reserved),
        ]
    );
}

// ---- placement and page tables ----

#[test]
fn initrd_goes_page_aligned_at_the_top() {
    assert_eq!(
        initrd_addr(0x1800, 16 * MIB, 128 * MIB).unwrap(),
        128 * MIB - 0x2000
    );
    assert_eq!(
        initrd_addr(0x1000, 16 * MIB, 128 * MIB).unwrap(),
        128 * MIB - 0x1000
    );
    assert!(matches!(
        initrd_addr(0x1000, 128 * MIB - 0x800, 128 * MIB),
        Err(LinuxError::InitrdTooLarge {
            len: 0x1000,
            room: 0x800
        })
    ));
    assert!(initrd_addr(usize::MAX, 0, 128 * MIB).is_err());
}

#[test]
fn page_tables_identity_map_four_gib() {
    let t = identity_page_tables();
    assert_eq!(t.len(), 6 * 512);
    assert_eq!(t[0], (PML4_ADDR + 0x1000) | 3);
    assert!(t[1..512].iter().all(|&e| e == 0));
    assert_eq!(t[512 + 3], (PML4_ADDR + 0x5000) | 3);
    assert_eq!(t[1024], 0x83);
    // The last 2 MiB page below 4 GiB maps itself.
    assert_eq!(t[1024 + 2047], ((1u64 << 32) - (2 << 20)) | 0x83);
}

#[test]
fn the_64_bit_entry_is_long_mode_with_paging() {
    let mut sregs = kvm_sregs::default();
    entry_sregs(&mut sregs, Entry::Linux64 { addr: 16 * MIB });
    assert_eq!(sregs.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
    assert_eq!(sregs.cr0 & (CR0_PE | CR0_PG), CR0_PE | CR0_PG);
    assert_eq!(sregs.cr3, PML4_ADDR);
    assert_eq!((sregs.cs.selector, sregs.cs.l, sregs.cs.db), (0x10, 1, 0));
    assert_eq!(sregs.ds.selector, 0x18);
    let regs = entry_regs(Entry::Linux64 { addr: 16 * MIB });
    assert_eq!((regs.rip, regs.rsi), (16 * MIB, ZERO_PAGE_ADDR));
}

#[test]
fn the_pvh_entry_is_32_bit_protected_mode_without_paging() {
    let mut sregs = kvm_sregs::default();
    entry_sregs(&mut sregs, Entry::Pvh { addr: 0x100_0850 });
    assert_eq!(sregs.cr0, CR0_PE);
    assert_eq!(sregs.efer, 0);
    assert_eq!(
        (sregs.cs.db, sregs.cs.l, sregs.cs.limit),
        (1, 0, 0xffff_ffff)
    );
    let regs = entry_regs(Entry::Pvh { addr: 0x100_0850 });
    assert_eq!((regs.rip, regs.rbx), (0x100_0850, START_INFO_ADDR));
}

// ---- loading ----

#[test]
fn vmlinux_with_a_pvh_note_enters_through_pvh() {
    let ram = GuestRam::new(32 * MIB).unwrap();
    let mut kernel = KernelBoot::new(elf(&[0xf4; 64], Some(0x100_0010)));
    kernel.initrd = Some(vec![0xaa; 0x1800]);
    let loaded = load(&ram, &kernel).unwrap();
    assert_eq!(loaded.entry, Entry::Pvh { addr: 0x100_0010 });
    assert_eq!(loaded.range, (16 * MIB, 16 * MIB + 64));
    assert_eq!(loaded.initrd, Some((32 * MIB - 0x2000, 0x1800)));
    assert_eq!(read(&ram, 16 * MIB, 64), vec![0xf4; 64]);

    // hvm_start_info: magic, version, one module, cmdline, memory map.
    let si = START_INFO_ADDR;
    assert_eq!(u32_at(&ram, si), XEN_HVM_START_MAGIC);
    assert_eq!(u32_at(&ram, si + 4), 1);
    assert_eq!(u32_at(&ram, si + 12), 1);
    assert_eq!(u64_at(&ram, si + 16), MODLIST_ADDR);
    assert_eq!(u64_at(&ram, si + 24), CMDLINE_ADDR);
    assert_eq!(u64_at(&ram, si + 40), MEMMAP_ADDR);
    assert_eq!(u32_at(&ram, si + 48), 4);
    // The last memory map entry: RAM from 1 MiB to the end.
    let last = MEMMAP_ADDR + 3 * 24;
    assert_eq!(
        (
            u64_at(&ram, last),
            u64_at(&ram, last + 8),
            u32_at(&ram, last + 16)
        ),
        (MIB, 31 * MIB, 1)
    );
    assert_eq!(
        (u64_at(&ram, MODLIST_ADDR), u64_at(&ram, MODLIST_ADDR + 8)),
        (32 * MIB - 0x2000, 0x1800)
    );
    let cmdline = read(&ram, CMDLINE_ADDR, DEFAULT_CMDLINE.len() + 1);
    assert_eq!(
        &cmdline[..DEFAULT_CMDLINE.len()],
        DEFAULT_CMDLINE.as_bytes()
    );
    assert_eq!(cmdline[DEFAULT_CMDLINE.len()], 0);
    assert_eq!(u64_at(&ram, GDT_ADDR + 16), boot::GDT[2]);
}

#[test]
fn vmlinux_without_a_pvh_note_enters_at_64_bits_with_a_zero_page() {
    let ram = GuestRam::new(32 * MIB).unwrap();
    let loaded = load(&ram, &KernelBoot::new(elf(&[0xf4; 64], None))).unwrap();
    assert_eq!(loaded.entry, Entry::Linux64 { addr: 16 * MIB });
    let zp = ZERO_PAGE_ADDR;
    assert_eq!(read(&ram, zp + 0x1e8, 1), [4]); // e820_entries
    assert_eq!(read(&ram, zp + 0x1fe, 2), [0x55, 0xaa]); // boot_flag
    assert_eq!(read(&ram, zp + 0x202, 4), b"HdrS");
    assert_eq!(read(&ram, zp + 0x210, 1), [0xff]); // type_of_loader
    assert_eq!(u32_at(&ram, zp + 0x228), CMDLINE_ADDR as u32); // cmd_line_ptr
                                                               // e820_table[3] (20 bytes each, at 0x2d0): RAM from 1 MiB.
    let e = zp + 0x2d0 + 3 * 20;
    assert_eq!(
        (u64_at(&ram, e), u64_at(&ram, e + 8), u32_at(&ram, e + 16)),
        (MIB, 31 * MIB, 1)
    );
    assert_eq!(u64_at(&ram, GDT_ADDR + 16), GDT64[2]);
    assert_eq!(u64_at(&ram, PML4_ADDR), (PML4_ADDR + 0x1000) | 3);
}

#[test]
fn bzimage_enters_at_its_64_bit_entry_with_its_header() {
    let ram = GuestRam::new(32 * MIB).unwrap();
    let mut kernel = KernelBoot::new(bzimage(&[0xf4; 0x400], 0x020f, XLF_KERNEL_64));
    kernel.initrd = Some(vec![0x55; 0x1000]);
    let loaded = load(&ram, &kernel).unwrap();
    assert_eq!(loaded.entry, Entry::Linux64 { addr: MIB + 0x200 });
    assert_eq!(loaded.range.0, MIB);
    assert_eq!(read(&ram, MIB, 4), [0xf4; 4]);
    let zp = ZERO_PAGE_ADDR;
    assert_eq!(read(&ram, zp + 0x206, 2), [0x0f, 0x02]); // the kernel's version
    assert_eq!(u32_at(&ram, zp + 0x218), (32 * MIB - 0x1000) as u32); // ramdisk_image
    assert_eq!(u32_at(&ram, zp + 0x21c), 0x1000); // ramdisk_size
    assert_eq!(read(&ram, 32 * MIB - 0x1000, 2), [0x55; 2]);
}

#[test]
fn bzimage_without_a_64_bit_entry_is_refused() {
    let ram = GuestRam::new(32 * MIB).unwrap();
    for image in [bzimage(b"\xf4", 0x020f, 0), bzimage(b"\xf4", 0x020b, 1)] {
        assert!(matches!(
            load(&ram, &KernelBoot::new(image)),
            Err(LinuxError::No64BitEntry)
        ));
    }
}

#[test]
fn a_kernel_larger_than_ram_is_refused() {
    // The segment is at 16 MiB; RAM ends at 8 MiB.
    let ram = GuestRam::new(8 * MIB).unwrap();
    assert!(matches!(
        load(&ram, &KernelBoot::new(elf(&[0xf4; 64], None))),
        Err(LinuxError::TooLarge { end, ram_end }) if end == 16 * MIB + 64 && ram_end == 8 * MIB
    ));
    // A bzImage too large for RAM: linux-loader says so.
    let ram = GuestRam::new(2 * MIB).unwrap();
    let image = bzimage(&vec![0xf4; 2 * MIB as usize], 0x020f, XLF_KERNEL_64);
    assert!(matches!(
        load(&ram, &KernelBoot::new(image)),
        Err(LinuxError::Load(_))
    ));
}

#[test]
fn an_initrd_that_does_not_fit_is_refused() {
    let ram = GuestRam::new(17 * MIB).unwrap();
    let mut kernel = KernelBoot::new(elf(&[0xf4; 64], Some(0x100_0000)));
    kernel.initrd = Some(vec![0; MIB as usize]);
    assert!(matches!(
        load(&ram, &kernel),
        Err(LinuxError::InitrdTooLarge { .. })
    ));
}
