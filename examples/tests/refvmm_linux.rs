//! Linux in the reference VMM: `-kernel` boots Debian's cloud kernel (a
//! vmlinux that `examples/linux/fetch-kernel` extracts; `.ci/run` does it)
//! until its banner reaches the serial port; `stop` then finds the vCPU
//! inside the kernel, and a reset boots it again with the same command
//! line and initrd. On this project's nested
//! KVM a kernel gets no further than its first console lines in a minute,
//! so nothing here waits for more.
//!
//! Skipped (with a message) where /dev/kvm or the kernel file is missing;
//! under `CI` both are failures.

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use examples::vmm::linux::{elf_load_ranges, DEFAULT_CMDLINE};
use serde_json::json;
use util::vmm::{kvm_available, Vmm};

/// Failure guard for each wait on the serial port. A banner takes about
/// 20 s on an idle machine here, and a few times that when builds share
/// its two cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
const BANNER: &str = "Linux version ";

/// The vmlinux to boot: `$REFVMM_TEST_KERNEL`, else where fetch-kernel
/// puts it. `None` (after saying SKIPPED) if it is missing outside CI.
fn test_kernel() -> Option<PathBuf> {
    let path = std::env::var_os("REFVMM_TEST_KERNEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/linux/vmlinux"));
    if path.is_file() {
        return Some(path);
    }
    let why = format!(
        "no kernel at {} (run examples/linux/fetch-kernel, or set REFVMM_TEST_KERNEL)",
        path.display()
    );
    assert!(
        std::env::var("CI").unwrap_or_default().is_empty(),
        "{why}: CI must run the Linux boot test"
    );
    eprintln!("SKIPPED: {why}; Linux boot test not run");
    None
}

/// The lines of `serial` the kernel has finished (the file is read while
/// it writes), without their line ends (the console sends `\r\n`).
fn lines(serial: &str) -> impl Iterator<Item = &str> {
    serial
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(str::trim_end)
}

/// How many finished lines end with `text` (lines start with a timestamp).
fn count_lines(serial: &str, text: &str) -> usize {
    lines(serial).filter(|l| l.ends_with(text)).count()
}

/// One booting kernel at a time: each keeps a host core busy, and the
/// machines that run these tests have two.
static ONE_KERNEL: Mutex<()> = Mutex::new(());

fn one_kernel() -> MutexGuard<'static, ()> {
    // A test that failed while holding it leaves nothing to clean up.
    ONE_KERNEL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn banners(serial: &str) -> usize {
    lines(serial).filter(|l| l.contains(BANNER)).count()
}

#[test]
fn linux_prints_its_banner_and_stops_inside_the_kernel() {
    if !kvm_available() {
        return;
    }
    let Some(kernel) = test_kernel() else {
        return;
    };
    let _one = one_kernel();
    let image = std::fs::read(&kernel).expect("read the kernel");
    let ranges = elf_load_ranges(&image);
    assert!(!ranges.is_empty(), "{} has no PT_LOAD", kernel.display());

    let mut vmm = Vmm::start(&["-kernel", kernel.to_str().expect("UTF-8 path")]);
    let mut qmp = vmm.client();
    vmm.wait_serial_for(BOOT_TIMEOUT, "the Linux banner", |s| banners(s) >= 1);
    // The default command line reached the kernel (the line after the banner).
    let line = format!("Command line: {DEFAULT_CMDLINE}");
    vmm.wait_serial_for(BOOT_TIMEOUT, "the command line", |s| {
        count_lines(s, &line) == 1
    });

    qmp.execute("stop", json!({})).unwrap();
    qmp.wait_event("STOP").unwrap();
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "paused"
    );
    // query-cpus-fast has no pc for x86 (as in QEMU 7.2): query-cpus does.
    let cpus = qmp.execute("query-cpus", json!({})).unwrap();
    let pc = cpus[0]["pc"].as_u64().expect("a pc");
    // Early boot runs at physical addresses, the rest at virtual ones.
    assert!(
        ranges
            .iter()
            .any(|r| (r.vaddr.0..r.vaddr.1).contains(&pc) || (r.paddr.0..r.paddr.1).contains(&pc)),
        "pc {pc:#x} is outside the kernel's segments {ranges:x?}"
    );

    qmp.execute("quit", json!({})).unwrap();
    assert!(vmm.wait_exit().success());
}

#[test]
fn a_reset_boots_the_kernel_again_with_its_command_line_and_initrd() {
    if !kvm_available() {
        return;
    }
    let Some(kernel) = test_kernel() else {
        return;
    };
    let _one = one_kernel();
    // 1 MiB of anything: the kernel only reserves it this early.
    let initrd = Initrd::new(1 << 20);
    let append = "console=ttyS0 earlyprintk=serial,ttyS0,115200 refvmm.test=reset";
    let mut vmm = Vmm::start(&[
        "-kernel",
        kernel.to_str().expect("UTF-8 path"),
        "-append",
        append,
        "-initrd",
        initrd.0.to_str().expect("UTF-8 path"),
    ]);
    let mut qmp = vmm.client();
    let line = format!("Command line: {append}");
    // At the top of the default 128 MiB of RAM, page-aligned.
    let ramdisk = "RAMDISK: [mem 0x07f00000-0x07ffffff]";
    vmm.wait_serial_for(
        BOOT_TIMEOUT,
        "the banner, -append's command line, the initrd",
        |s| banners(s) == 1 && count_lines(s, &line) == 1 && count_lines(s, ramdisk) == 1,
    );

    qmp.execute("system_reset", json!({})).unwrap();
    qmp.wait_event("RESET").unwrap();
    // The line after the command line may be cut short by the reset; the
    // new banner then shares its line, which `banners` still counts.
    vmm.wait_serial_for(BOOT_TIMEOUT, "all three again", |s| {
        banners(s) == 2 && count_lines(s, &line) == 2 && count_lines(s, ramdisk) == 2
    });
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "running"
    );
    qmp.execute("quit", json!({})).unwrap();
    assert!(vmm.wait_exit().success());
}

/// A temporary initrd file, removed on drop.
struct Initrd(PathBuf);

impl Initrd {
    fn new(len: usize) -> Self {
        let path = std::env::temp_dir().join(format!("refvmm-initrd-{}", std::process::id()));
        let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
        std::fs::write(&path, bytes).expect("write the initrd");
        Self(path)
    }
}

impl Drop for Initrd {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs refvmm with `args` and returns its exit code and standard error.
fn refvmm_fails(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_refvmm"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run refvmm");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn append_and_initrd_without_kernel_are_refused_as_in_qemu() {
    // QEMU 7.2: "qemu-system-x86_64: -append only allowed with -kernel option".
    let (code, err) = refvmm_fails(&["-append", "quiet"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("refvmm: -append only allowed with -kernel option\n"),
        "{err}"
    );
    let (code, err) = refvmm_fails(&["-initrd", "/dev/null"]);
    assert_eq!(code, Some(1));
    assert!(
        err.starts_with("refvmm: -initrd only allowed with -kernel option\n"),
        "{err}"
    );
}

#[test]
fn a_missing_or_foreign_kernel_file_is_refused() {
    let (code, err) = refvmm_fails(&["-kernel", "/nonexistent/vmlinux"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cannot read /nonexistent/vmlinux: No such file"),
        "{err}"
    );
    let (code, err) = refvmm_fails(&[
        "-kernel",
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("neither an ELF vmlinux nor a bzImage"),
        "{err}"
    );
}
