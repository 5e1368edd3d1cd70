//! Guest memory commands of the reference VMM under KVM: `pmemsave`,
//! `memsave`, HMP `x` / `xp`, `dump-guest-memory` (synchronous and
//! detached, read back with `readelf`), `query-dump`. Skipped (with a
//! message) only where /dev/kvm is missing; CI never skips.

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use monitor_core::client::{Client, ClientError};
use serde_json::json;
use util::vmm::{kvm_available, Vmm, BANNER, TIMEOUT};

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(what: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("refvmm-memory-{}-{n}.{what}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn name(&self) -> String {
        self.0.display().to_string()
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.0).expect("read the saved file")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn hmp(qmp: &mut Client, line: &str) -> String {
    qmp.execute("human-monitor-command", json!({ "command-line": line }))
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// The bytes of `xp /Nxb` output, in order.
fn xp_bytes(text: &str) -> Vec<u8> {
    text.lines()
        .flat_map(|l| {
            l.split_once(':')
                .expect("address prefix")
                .1
                .split_whitespace()
        })
        .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).expect("hex byte"))
        .collect()
}

fn error_desc(e: ClientError) -> String {
    match e {
        ClientError::Command { desc, .. } => desc,
        other => panic!("not a command error: {other}"),
    }
}

/// The running machine, booted into long mode.
fn booted() -> (Vmm, Client) {
    let mut vmm = Vmm::start(&[]);
    let qmp = vmm.client();
    vmm.wait_serial("the banner", |s| s.contains(BANNER));
    (vmm, qmp)
}

#[test]
fn pmemsave_of_the_firmware_matches_xp() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    let file = TempFile::new("pmem");
    qmp.execute(
        "pmemsave",
        json!({"val": 0x10_0000, "size": 64, "filename": file.name()}),
    )
    .unwrap();
    let saved = file.bytes();
    assert_eq!(saved.len(), 64);
    assert!(
        saved[0] == 0xeb || saved[0] == 0xe9,
        "the firmware starts with a jmp, not {:#x}",
        saved[0]
    );
    let xp = hmp(&mut qmp, "xp /64xb 0x100000");
    assert_eq!(xp.lines().count(), 8, "{xp}");
    assert!(xp.starts_with("0000000000100000: 0x"), "{xp}");
    assert_eq!(xp_bytes(&xp), saved);
    // The whole load region equals the image the build produced, except
    // the "accessed" bit the CPU sets in the GDT descriptors it loads.
    let image = include_bytes!(concat!(env!("OUT_DIR"), "/firmware.bin"));
    let whole = TempFile::new("image");
    qmp.execute(
        "pmemsave",
        json!({"val": 0x10_0000, "size": image.len(), "filename": whole.name()}),
    )
    .unwrap();
    let saved = whole.bytes();
    assert_eq!(saved.len(), image.len());
    let differing: Vec<usize> = (0..image.len()).filter(|&i| saved[i] != image[i]).collect();
    assert!(
        differing.len() <= 4,
        "{} bytes differ from the image",
        differing.len()
    );
    for i in differing {
        assert_eq!(
            saved[i] ^ image[i],
            1,
            "byte {i:#x} differs beyond the accessed bit"
        );
    }
}

#[test]
fn memsave_of_identity_mapped_firmware_equals_pmemsave() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    let (virt, phys) = (TempFile::new("mem"), TempFile::new("pmem"));
    let args = |f: &TempFile| json!({"val": 0x10_0000, "size": 8192, "filename": f.name()});
    qmp.execute("stop", json!({})).unwrap();
    qmp.execute("memsave", args(&virt)).unwrap();
    qmp.execute("pmemsave", args(&phys)).unwrap();
    assert_eq!(virt.bytes(), phys.bytes());
}

#[test]
fn memsave_rejects_a_missing_cpu_and_an_unmapped_address() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    let file = TempFile::new("mem");
    let err = qmp
        .execute(
            "memsave",
            json!({"val": 0, "size": 16, "filename": file.name(), "cpu-index": 1}),
        )
        .unwrap_err();
    assert_eq!(
        error_desc(err),
        "Parameter 'cpu-index' expects a CPU number"
    );
    // The firmware maps 1 GiB; 512 GiB is beyond its PML4's first entry.
    let err = qmp
        .execute(
            "memsave",
            json!({"val": 0x80_0000_0000u64, "size": 16, "filename": file.name()}),
        )
        .unwrap_err();
    assert_eq!(
        error_desc(err),
        "Invalid addr 0x0000008000000000/size 16 specified"
    );
}

#[test]
fn x_prints_words_in_qemu_layout() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    let x = hmp(&mut qmp, "x /4xw 0x100000");
    let xp = hmp(&mut qmp, "xp /4xw 0x100000");
    assert_eq!(x, xp);
    let line = x.strip_suffix("\r\n").expect("one line");
    let (addr, words) = line.split_once(": ").unwrap();
    assert_eq!(addr, "0000000000100000");
    let words: Vec<&str> = words.split(' ').collect();
    assert_eq!(words.len(), 4, "{x}");
    assert!(
        words.iter().all(|w| w.len() == 10 && w.starts_with("0x")),
        "{x}"
    );
    assert_eq!(
        hmp(&mut qmp, "xp /2xg 0x10000000"),
        "0000000010000000: Cannot access memory\r\n"
    );
    assert_eq!(hmp(&mut qmp, "xp /3xh 0").lines().count(), 1);
}

fn readelf(path: &Path) -> String {
    let out = Command::new("readelf")
        .arg("-W")
        .arg("-h")
        .arg("-l")
        .arg("-n")
        .arg(path)
        .output()
        .expect("run readelf (binutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.trim().is_empty(),
        "{err}\n{text}"
    );
    text
}

#[test]
fn dump_guest_memory_writes_an_elf_core_readelf_reads() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&["-smp", "2"]);
    let mut qmp = vmm.client();
    vmm.wait_serial("the banner", |s| s.contains(BANNER));
    let file = TempFile::new("elf");
    qmp.execute(
        "dump-guest-memory",
        json!({"paging": false, "protocol": format!("file:{}", file.name()),
               "begin": 0x10_0000, "length": 0x2000}),
    )
    .unwrap();
    let done = qmp.wait_event("DUMP_COMPLETED").unwrap();
    assert_eq!(done["data"]["result"]["status"], "completed");
    let elf = readelf(file.path());
    assert!(elf.contains("CORE (Core file)"), "{elf}");
    assert!(elf.contains("X86-64"), "{elf}");
    assert_eq!(elf.matches("NT_PRSTATUS").count(), 2, "{elf}");
    let load = elf
        .lines()
        .find(|l| l.trim_start().starts_with("LOAD"))
        .expect("a PT_LOAD");
    assert!(
        load.contains("0x0000000000100000 0x0000000000100000 0x002000 0x002000"),
        "{load}"
    );
    assert!(elf.contains("NOTE"), "{elf}");
    // The PT_LOAD's bytes are the firmware's.
    let bytes = file.bytes();
    let pmem = TempFile::new("pmem");
    qmp.execute(
        "pmemsave",
        json!({"val": 0x10_0000, "size": 0x2000, "filename": pmem.name()}),
    )
    .unwrap();
    let code = &pmem.bytes()[..64];
    assert!(bytes.windows(64).any(|w| w == code));

    let err = qmp
        .execute(
            "dump-guest-memory",
            json!({"paging": false, "protocol": "fd:nope"}),
        )
        .unwrap_err();
    assert_eq!(
        error_desc(err),
        "File descriptor named 'nope' has not been found"
    );
    assert_eq!(
        qmp.execute("query-dump-guest-memory-capability", json!({}))
            .unwrap(),
        json!({"formats": ["elf"]})
    );
}

#[test]
fn detached_dump_reports_progress_and_completes() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    assert_eq!(
        qmp.execute("query-dump", json!({})).unwrap(),
        json!({"status": "none", "completed": 0, "total": 0})
    );
    let file = TempFile::new("elf");
    qmp.execute(
        "dump-guest-memory",
        json!({"paging": true, "protocol": format!("file:{}", file.name()), "detach": true}),
    )
    .unwrap();
    let status = qmp.execute("query-dump", json!({})).unwrap();
    assert!(
        status["status"] == "active" || status["status"] == "completed",
        "{status}"
    );
    let done = qmp.wait_event("DUMP_COMPLETED").unwrap();
    let result = &done["data"]["result"];
    assert_eq!(result["status"], "completed");
    assert_eq!(result["completed"], result["total"]);
    assert_eq!(result["total"], 128u64 << 20);
    assert_eq!(qmp.execute("query-dump", json!({})).unwrap(), *result);
    // The guest was stopped for the dump and runs again after it.
    qmp.wait_event("RESUME").unwrap();
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "running"
    );
    let elf = readelf(file.path());
    assert!(elf.contains("LOAD"), "{elf}");
    assert!(elf.contains("NT_PRSTATUS"), "{elf}");
}

#[test]
fn a_second_dump_while_one_runs_is_refused() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&["-m", "64M"]);
    let mut qmp = vmm.client();
    vmm.wait_serial("the banner", |s| s.contains(BANNER));
    // A FIFO nobody reads: the monitor refuses it rather than block on it.
    let fifo = TempFile::new("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(fifo.path())
        .status()
        .expect("run mkfifo");
    assert!(status.success());
    let dump =
        |name: String| json!({"paging": false, "protocol": format!("file:{name}"), "detach": true});
    let err = qmp
        .execute("dump-guest-memory", dump(fifo.name()))
        .unwrap_err();
    assert!(error_desc(err).contains("No such device or address"));
    // With a reader that holds off, the dump fills the pipe and stays active.
    let path = fifo.path().to_owned();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let mut f = std::fs::File::open(path).expect("open the FIFO");
        go_rx.recv().expect("the go signal");
        let mut sink = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut sink).expect("drain the FIFO");
        sink.len()
    });
    let deadline = std::time::Instant::now() + TIMEOUT;
    // The reader's open completes once a writer appears; retry until then.
    while qmp.execute("dump-guest-memory", dump(fifo.name())).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the dump never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        qmp.execute("query-dump", json!({})).unwrap()["status"],
        "active"
    );
    // The monitor keeps answering while the dump runs.
    let status = qmp.execute("query-status", json!({})).unwrap();
    assert!(status.get("status").is_some(), "{status}");
    let second = TempFile::new("elf");
    let err = qmp
        .execute("dump-guest-memory", dump(second.name()))
        .unwrap_err();
    assert_eq!(error_desc(err), "There is a dump in process, please wait.");
    go_tx.send(()).expect("signal the reader");
    let done = qmp.wait_event("DUMP_COMPLETED").unwrap();
    assert_eq!(done["data"]["result"]["status"], "completed");
    assert!(reader.join().expect("reader") > 64 << 20);
}

/// The human monitor's generic `memsave` and `pmemsave` save what the QMP
/// commands save; `human-monitor-command` accepts the `cpu-index` of the
/// one vCPU (`query-cpus-fast`) and refuses any other, as QEMU does.
#[test]
fn hmp_memsave_uses_the_vcpus_the_vmm_reports() {
    if !kvm_available() {
        return;
    }
    let (_vmm, mut qmp) = booted();
    qmp.execute("stop", json!({})).unwrap();
    let (hmp_file, qmp_file, phys) = (
        TempFile::new("hmp-mem"),
        TempFile::new("qmp-mem"),
        TempFile::new("hmp-pmem"),
    );
    let line = |cmd: &str, f: &TempFile| format!("{cmd} 0x100000 4096 \"{}\"", f.name());
    assert_eq!(hmp(&mut qmp, &line("memsave", &hmp_file)), "");
    assert_eq!(hmp(&mut qmp, &line("pmemsave", &phys)), "");
    qmp.execute(
        "memsave",
        json!({"val": 0x10_0000, "size": 4096, "filename": qmp_file.name()}),
    )
    .unwrap();
    assert_eq!(hmp_file.bytes(), qmp_file.bytes());
    assert_eq!(hmp_file.bytes(), phys.bytes());

    let with_cpu = |qmp: &mut Client, index: i64| {
        qmp.execute(
            "human-monitor-command",
            json!({"command-line": line("memsave", &hmp_file), "cpu-index": index}),
        )
    };
    assert_eq!(with_cpu(&mut qmp, 0).unwrap(), json!(""));
    for index in [1, -1] {
        assert_eq!(
            error_desc(with_cpu(&mut qmp, index).unwrap_err()),
            "Parameter 'cpu-index' expects a CPU number"
        );
    }
}
