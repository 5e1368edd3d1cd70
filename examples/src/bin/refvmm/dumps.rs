//! Guest-memory dump commands: `pmemsave`, `memsave`, `dump-guest-memory` (an
//! ELF64 core, synchronous or detached), `query-dump` and
//! `query-dump-guest-memory-capability`, with QEMU 7.2's arguments and
//! error messages.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, OnceLock};

use examples::vmm::memory::GuestRam;
use examples::vmm::translate::read_virtual;
use examples::vmm::{kvm_segment, Machine, Registers};
use monitor_core::job::{JobHandle, Jobs};
use monitor_core::pending::Completion;
use monitor_core::{qmp_command, CommandError, Emitter, Event, Schema};
use serde::{Deserialize, Serialize};
use vm_memory::{GuestMemory, GuestMemoryRegion};

use crate::commands::{Resume, Stop, Vm};

/// QEMU copies in 1 KiB steps; so do we (the unit of a failed `memsave`).
const CHUNK: usize = 1024;
/// Bytes per read while dumping.
const DUMP_CHUNK: u64 = 1 << 20;
const DUMP_JOB: &str = "dump";

/// `Could not open 'PATH': REASON`, with the C library's wording.
fn open_error(path: &str, e: &io::Error) -> CommandError {
    let text = e.to_string();
    let reason = text.split(" (os error").next().unwrap_or(&text);
    CommandError::generic(format!("Could not open '{path}': {reason}"))
}

/// Opens the output on the monitor thread without ever blocking it (a FIFO
/// nobody reads fails with "No such device or address" instead of
/// freezing the monitor), then reopens it for ordinary blocking writes.
fn create(path: &str, mode: u32) -> Result<File, CommandError> {
    use std::os::fd::AsRawFd;
    let probe = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, &e))?;
    OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{}", probe.as_raw_fd()))
        .map_err(|e| open_error(path, &e))
}

fn io_error() -> CommandError {
    CommandError::generic("An IO error has occurred")
}

/// Reads physical memory as QEMU's `cpu_physical_memory_read` does: bytes
/// outside RAM read as zero.
fn read_physical_lenient(ram: &GuestRam, addr: u64, buf: &mut [u8]) {
    if ram.read(addr, buf).is_ok() {
        return;
    }
    for (i, b) in buf.iter_mut().enumerate() {
        let mut one = [0u8];
        *b = match ram.read(addr.wrapping_add(i as u64), &mut one) {
            Ok(()) => one[0],
            Err(_) => 0,
        };
    }
}

fn non_negative(name: &str, v: i64) -> Result<u64, CommandError> {
    u64::try_from(v).map_err(|_| {
        CommandError::generic(format!("Parameter '{name}' expects a non-negative value"))
    })
}

/// Save a portion of guest physical memory to a file.
#[qmp_command(name = "pmemsave")]
fn pmemsave(vm: &Vm, val: i64, size: i64, filename: String) -> Result<(), CommandError> {
    let size = non_negative("size", size)?;
    let mut out = BufWriter::new(create(&filename, 0o666)?);
    let ram = vm.machine()?.ram();
    let (mut addr, mut left) = (val as u64, size);
    let mut buf = [0u8; CHUNK];
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        read_physical_lenient(ram, addr, &mut buf[..n]);
        out.write_all(&buf[..n]).map_err(|_| io_error())?;
        addr = addr.wrapping_add(n as u64);
        left -= n as u64;
    }
    out.flush().map_err(|_| io_error())
}

/// Save a portion of guest memory, at virtual addresses of a vCPU, to a file.
#[qmp_command(name = "memsave")]
fn memsave(
    vm: &Vm,
    val: i64,
    size: i64,
    filename: String,
    cpu_index: Option<i64>,
) -> Result<(), CommandError> {
    let bad_cpu = || CommandError::generic("Parameter 'cpu-index' expects a CPU number");
    let index = usize::try_from(cpu_index.unwrap_or(0)).map_err(|_| bad_cpu())?;
    if index >= vm.machine()?.vcpu_count() {
        return Err(bad_cpu());
    }
    let sregs = vm.machine()?.registers(index).map_err(|_| bad_cpu())?.sregs;
    let size_u = non_negative("size", size)?;
    let mut out = BufWriter::new(create(&filename, 0o666)?);
    let ram = vm.machine()?.ram();
    let (mut addr, mut left) = (val as u64, size_u);
    let mut buf = [0u8; CHUNK];
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        if !read_virtual(ram, &sregs, addr, &mut buf[..n]) {
            let _ = out.flush();
            return Err(CommandError::generic(format!(
                "Invalid addr 0x{:016x}/size {size} specified",
                val as u64
            )));
        }
        out.write_all(&buf[..n]).map_err(|_| io_error())?;
        addr = addr.wrapping_add(n as u64);
        left -= n as u64;
    }
    out.flush().map_err(|_| io_error())
}

/// Where a dump stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Schema)]
#[serde(rename_all = "lowercase")]
pub enum DumpStatus {
    /// No dump since start-up.
    None,
    /// Writing.
    Active,
    /// Written.
    Completed,
    /// Ended by an error.
    Failed,
}

/// The dump formats QEMU names (refvmm writes `elf` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub enum DumpGuestMemoryFormat {
    /// An ELF core.
    Elf,
    /// makedumpfile's kdump, zlib-compressed.
    KdumpZlib,
    /// makedumpfile's kdump, LZO-compressed.
    KdumpLzo,
    /// makedumpfile's kdump, snappy-compressed.
    KdumpSnappy,
    /// A Windows crash dump.
    WinDmp,
}

/// The state of a dump, as `query-dump` and `DUMP_COMPLETED` report it.
#[derive(Debug, Clone, Serialize, Schema)]
pub struct DumpQueryResult {
    status: DumpStatus,
    /// Bytes of guest memory written so far.
    completed: u64,
    /// Bytes of guest memory to write.
    total: u64,
}

/// A dump finished (or failed).
#[derive(Debug, Serialize, Schema, Event)]
#[event(name = "DUMP_COMPLETED")]
pub struct DumpCompleted {
    result: DumpQueryResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The dump job table, created by the first dump command with its emitter.
fn jobs(emitter: &Emitter) -> &'static Jobs<DumpQueryResult> {
    static JOBS: OnceLock<Jobs<DumpQueryResult>> = OnceLock::new();
    JOBS.get_or_init(|| Jobs::new(emitter.clone()))
}

/// The progress of the last dump.
#[qmp_command(name = "query-dump")]
fn query_dump(emitter: &Emitter) -> DumpQueryResult {
    jobs(emitter).get(DUMP_JOB).unwrap_or(DumpQueryResult {
        status: DumpStatus::None,
        completed: 0,
        total: 0,
    })
}

#[derive(Serialize, Schema)]
pub struct DumpGuestMemoryCapability {
    formats: Vec<DumpGuestMemoryFormat>,
}

/// The dump formats refvmm writes: ELF only.
#[qmp_command(name = "query-dump-guest-memory-capability")]
fn query_dump_guest_memory_capability() -> DumpGuestMemoryCapability {
    DumpGuestMemoryCapability {
        formats: vec![DumpGuestMemoryFormat::Elf],
    }
}

/// One PT_LOAD: guest-physical `paddr`, mapped at `vaddr`, `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    paddr: u64,
    len: u64,
}

/// RAM's regions, cut to `[begin, begin + length)` if a filter is given.
fn ram_segments(machine: &Machine, filter: Option<(u64, u64)>) -> Vec<Segment> {
    let mut out = Vec::new();
    for region in machine.ram().memory().iter() {
        let start = region.start_addr().0;
        let end = start.saturating_add(region.len());
        let (s, e) = match filter {
            Some((b, l)) => (start.max(b), end.min(b.saturating_add(l))),
            None => (start, end),
        };
        if s < e {
            out.push(Segment {
                vaddr: s,
                paddr: s,
                len: e - s,
            });
        }
    }
    out
}

/// `dump-guest-memory`'s arguments.
#[derive(Debug, Deserialize, Schema)]
pub struct DumpArgs {
    /// Dump the guest's virtual mappings (vCPU 0's page tables).
    paging: bool,
    /// `file:PATH` (or `fd:NAME`, which refvmm has no way to receive).
    protocol: String,
    /// Answer at once and dump on a worker thread.
    #[serde(default)]
    detach: Option<bool>,
    /// First guest-physical address of a partial dump (with `length`).
    #[serde(default)]
    begin: Option<i64>,
    /// Bytes of a partial dump (with `begin`).
    #[serde(default)]
    length: Option<i64>,
    /// `elf` (the only one supported).
    #[serde(default)]
    format: Option<DumpGuestMemoryFormat>,
}

/// Dump guest memory to a file as an ELF64 core.
#[qmp_command(name = "dump-guest-memory")]
fn dump_guest_memory(vm: &Vm, emitter: &Emitter, #[args] args: DumpArgs, done: Completion<()>) {
    let detach = args.detach.unwrap_or(false);
    match prepare(vm, emitter, args) {
        Err(e) => done.complete(Err::<(), _>(e)),
        Ok(dump) => {
            let done = if detach {
                done.complete(Ok::<(), CommandError>(()));
                None
            } else {
                Some(done)
            };
            std::thread::spawn(move || {
                let result = dump.run();
                if let Some(done) = done {
                    done.complete(result);
                }
            });
        }
    }
}

/// A dump ready to write.
struct Dump {
    machine: Arc<Machine>,
    file: File,
    segments: Vec<Segment>,
    registers: Vec<Registers>,
    job: JobHandle<DumpQueryResult>,
    /// Set when the dump stopped the guest: resume it and emit RESUME.
    resume: Option<Emitter>,
}

fn prepare(vm: &Vm, emitter: &Emitter, args: DumpArgs) -> Result<Dump, CommandError> {
    let DumpArgs {
        paging,
        protocol,
        begin,
        length,
        format,
        ..
    } = args;
    let jobs = jobs(emitter);
    let busy = || CommandError::generic("There is a dump in process, please wait.");
    if jobs.is_running(DUMP_JOB) {
        return Err(busy());
    }
    if let Some(f) = format.filter(|f| *f != DumpGuestMemoryFormat::Elf) {
        // QEMU's words for a format it was built without.
        let name = serde_json::to_value(f).unwrap_or_default();
        return Err(CommandError::generic(format!(
            "{} is not available now",
            name.as_str().unwrap_or_default()
        )));
    }
    let filter = match (begin, length) {
        (Some(_), None) => return Err(CommandError::generic("Parameter 'length' is missing")),
        (None, Some(_)) => return Err(CommandError::generic("Parameter 'begin' is missing")),
        (Some(b), Some(l)) => Some((b, l)),
        (None, None) => None,
    };
    let file = if let Some(name) = protocol.strip_prefix("fd:") {
        return Err(CommandError::generic(format!(
            "File descriptor named '{name}' has not been found"
        )));
    } else if let Some(path) = protocol.strip_prefix("file:") {
        create(path, 0o400)?
    } else {
        return Err(CommandError::generic("Invalid parameter 'protocol'"));
    };
    let filter = match filter {
        Some((_, l)) if l <= 0 => return Err(CommandError::generic("Invalid parameter 'length'")),
        Some((b, _)) if b < 0 => return Err(CommandError::generic("Invalid parameter 'begin'")),
        Some((b, l)) => Some((b as u64, l as u64)),
        None => None,
    };
    let machine = Arc::clone(vm.machine()?);
    // As QEMU: the guest stops (STOP) for a consistent image and runs
    // again (RESUME) once the dump is done.
    let resume = machine
        .pause()
        .map_err(|e| CommandError::generic(format!("dump: {e}")))?;
    if resume {
        emitter.emit(Stop);
    }
    let resume_on_error = |e: CommandError| {
        if resume && matches!(machine.resume(), Ok(true)) {
            emitter.emit(Resume);
        }
        e
    };
    let registers = (0..machine.vcpu_count())
        .map(|i| machine.registers(i))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| resume_on_error(CommandError::generic(format!("dump: {e}"))))?;
    let mut segments = ram_segments(&machine, filter);
    if paging && filter.is_none() {
        if let Some(r) = registers.first() {
            if let Some(mapped) = paged_segments(machine.ram(), &r.sregs) {
                segments = mapped;
            }
        }
    }
    let total: u64 = segments.iter().map(|s| s.len).sum();
    if total == 0 {
        return Err(resume_on_error(CommandError::generic(
            "dump: no guest memory to dump",
        )));
    }
    let job = jobs
        .start(
            DUMP_JOB,
            DumpQueryResult {
                status: DumpStatus::Active,
                completed: 0,
                total,
            },
        )
        .map_err(|_| resume_on_error(busy()))?;
    Ok(Dump {
        machine,
        file,
        segments,
        registers,
        job,
        resume: resume.then(|| emitter.clone()),
    })
}

/// With `paging`, the guest's virtual mappings (vCPU 0's long-mode page
/// tables); `None` when paging is off, as QEMU then dumps physical memory.
fn paged_segments(ram: &GuestRam, sregs: &examples::vmm::kvm_sregs) -> Option<Vec<Segment>> {
    let maps = examples::vmm::translate::mappings(ram, sregs)?;
    Some(
        maps.into_iter()
            .map(|(vaddr, paddr, len)| Segment { vaddr, paddr, len })
            .collect(),
    )
}

impl Dump {
    fn run(self) -> Result<(), CommandError> {
        let Dump {
            machine,
            file,
            segments,
            registers,
            job,
            resume,
        } = self;
        let result = write_core(&machine, file, &segments, &registers, &job);
        let error = result.as_ref().err().map(|e| e.desc().to_owned());
        job.finish(|s| {
            s.status = if error.is_some() {
                DumpStatus::Failed
            } else {
                DumpStatus::Completed
            };
            DumpCompleted {
                result: s.clone(),
                error: error.clone(),
            }
        });
        if let Some(emitter) = resume {
            if matches!(machine.resume(), Ok(true)) {
                emitter.emit(Resume);
            }
        }
        result
    }
}

const EHDR_SIZE: u64 = 64;
const PHDR_SIZE: u64 = 56;
const PRSTATUS_SIZE: usize = 336;
const QEMU_CPU_STATE_SIZE: usize = 440;

fn note(out: &mut Vec<u8>, name: &[u8], kind: u32, desc: &[u8]) {
    let namesz = name.len() + 1;
    out.extend_from_slice(&(namesz as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(name);
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn put64(out: &mut Vec<u8>, values: &[u64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// `elf_prstatus` for x86-64, laid out as QEMU writes it.
fn prstatus(index: usize, r: &Registers) -> Vec<u8> {
    let (g, s) = (&r.regs, &r.sregs);
    let mut d = vec![0u8; 32];
    d.extend_from_slice(&(index as u32 + 1).to_le_bytes());
    d.resize(112, 0);
    put64(
        &mut d,
        &[
            g.r15, g.r14, g.r13, g.r12, g.rbp, g.rbx, g.r11, g.r10, g.r9, g.r8, g.rax, g.rcx,
            g.rdx, g.rsi, g.rdi, g.rax, g.rip,
        ],
    );
    put64(&mut d, &[u64::from(s.cs.selector), g.rflags, g.rsp]);
    put64(&mut d, &[u64::from(s.ss.selector), s.fs.base, s.gs.base]);
    put64(
        &mut d,
        &[
            u64::from(s.ds.selector),
            u64::from(s.es.selector),
            u64::from(s.fs.selector),
            u64::from(s.gs.selector),
        ],
    );
    d.resize(PRSTATUS_SIZE, 0);
    d
}

pub(crate) fn seg_flags(seg: &kvm_segment) -> u32 {
    (u32::from(seg.type_) << 8)
        | (u32::from(seg.s) << 12)
        | (u32::from(seg.dpl) << 13)
        | (u32::from(seg.present) << 15)
        | (u32::from(seg.avl) << 20)
        | (u32::from(seg.l) << 21)
        | (u32::from(seg.db) << 22)
        | (u32::from(seg.g) << 23)
}

/// QEMU's `QEMUCPUState` note (version 1), which crash utilities read.
fn qemu_cpu_state(r: &Registers) -> Vec<u8> {
    let (g, s) = (&r.regs, &r.sregs);
    let mut d = Vec::with_capacity(QEMU_CPU_STATE_SIZE);
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&(QEMU_CPU_STATE_SIZE as u32).to_le_bytes());
    put64(
        &mut d,
        &[
            g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rsp, g.rbp, g.r8, g.r9, g.r10, g.r11,
            g.r12, g.r13, g.r14, g.r15, g.rip, g.rflags,
        ],
    );
    for seg in [&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.ldt, &s.tr] {
        d.extend_from_slice(&u32::from(seg.selector).to_le_bytes());
        d.extend_from_slice(&seg.limit.to_le_bytes());
        d.extend_from_slice(&seg_flags(seg).to_le_bytes());
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&seg.base.to_le_bytes());
    }
    for table in [&s.gdt, &s.idt] {
        d.extend_from_slice(&0u32.to_le_bytes());
        d.extend_from_slice(&u32::from(table.limit).to_le_bytes());
        d.extend_from_slice(&[0u8; 8]);
        d.extend_from_slice(&table.base.to_le_bytes());
    }
    put64(&mut d, &[s.cr0, 0, s.cr2, s.cr3, s.cr4, 0]);
    d
}

/// ELF header, program headers (PT_NOTE, then one PT_LOAD per segment)
/// and the notes: everything before the memory.
fn core_headers(segments: &[Segment], registers: &[Registers]) -> Vec<u8> {
    let mut notes = Vec::new();
    for (i, r) in registers.iter().enumerate() {
        note(&mut notes, b"CORE", 1, &prstatus(i, r));
        note(&mut notes, b"QEMU", 0, &qemu_cpu_state(r));
    }
    let phnum = segments.len() as u64 + 1;
    let notes_off = EHDR_SIZE + phnum * PHDR_SIZE;
    let mut h = Vec::new();
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    h.extend_from_slice(&[0u8; 8]);
    h.extend_from_slice(&4u16.to_le_bytes()); // ET_CORE
    h.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    h.extend_from_slice(&1u32.to_le_bytes());
    put64(&mut h, &[0, EHDR_SIZE, 0]); // entry, phoff, shoff
    h.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [EHDR_SIZE, PHDR_SIZE, phnum, 64, 0, 0] {
        h.extend_from_slice(&(v as u16).to_le_bytes());
    }
    let phdr = |h: &mut Vec<u8>, kind: u32, off: u64, vaddr: u64, paddr: u64, len: u64| {
        h.extend_from_slice(&kind.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes()); // flags
        put64(h, &[off, vaddr, paddr, len, len, 0]);
    };
    phdr(&mut h, 4, notes_off, 0, 0, notes.len() as u64);
    let mut off = notes_off + notes.len() as u64;
    for s in segments {
        phdr(&mut h, 1, off, s.vaddr, s.paddr, s.len);
        off += s.len;
    }
    h.extend_from_slice(&notes);
    h
}

fn write_core(
    machine: &Machine,
    file: File,
    segments: &[Segment],
    registers: &[Registers],
    job: &JobHandle<DumpQueryResult>,
) -> Result<(), CommandError> {
    let failed = || CommandError::generic("dump: failed to save memory");
    let mut out = BufWriter::new(file);
    out.write_all(&core_headers(segments, registers))
        .map_err(|_| failed())?;
    let ram = machine.ram();
    let mut buf = vec![0u8; DUMP_CHUNK as usize];
    for s in segments {
        let mut done = 0;
        while done < s.len {
            let n = (s.len - done).min(DUMP_CHUNK) as usize;
            read_physical_lenient(ram, s.paddr + done, &mut buf[..n]);
            out.write_all(&buf[..n]).map_err(|_| failed())?;
            done += n as u64;
            job.update(|st| st.completed += n as u64);
        }
    }
    out.flush().map_err(|_| failed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_padded_to_four_bytes() {
        let mut out = Vec::new();
        note(&mut out, b"CORE", 1, &[1, 2, 3]);
        assert_eq!(out.len(), 12 + 8 + 4);
        assert_eq!(&out[12..17], b"CORE\0");
    }

    #[test]
    fn headers_point_at_notes_and_memory() {
        let segs = [Segment {
            vaddr: 0,
            paddr: 0,
            len: 0x1000,
        }];
        let h = core_headers(&segs, &[]);
        assert_eq!(&h[..4], b"\x7fELF");
        assert_eq!(h.len() as u64, EHDR_SIZE + 2 * PHDR_SIZE);
        assert_eq!(u16::from_le_bytes([h[56], h[57]]), 2);
    }

    #[test]
    fn cpu_notes_have_qemu_sizes() {
        let r = Registers {
            regs: Default::default(),
            sregs: Default::default(),
        };
        assert_eq!(prstatus(0, &r).len(), PRSTATUS_SIZE);
        assert_eq!(qemu_cpu_state(&r).len(), QEMU_CPU_STATE_SIZE);
    }
}
