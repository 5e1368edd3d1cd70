//! The machine on real KVM, with guest programs assembled here byte by
//! byte (32-bit code, loaded at 1 MiB as the firmware ABI says). Without
//! `/dev/kvm` the tests say SKIPPED, or fail when `CI` is set.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::boot::FIRMWARE_ADDR;
use super::devices::tests::Buf;
use super::*;

const WAIT: Duration = Duration::from_secs(20);
const COM1: u16 = 0x3f8;

fn kvm_available() -> bool {
    let usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !usable {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("/dev/kvm not available, and CI is set: the KVM tests must run");
        }
        eprintln!("SKIPPED: /dev/kvm not available");
    }
    usable
}

/// A tiny x86 assembler: just the instructions the test guests use.
#[derive(Default)]
struct Asm {
    code: Vec<u8>,
}

impl Asm {
    /// Guest-physical address of the next byte.
    fn here(&self) -> u32 {
        FIRMWARE_ADDR as u32 + self.code.len() as u32
    }
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.code.extend_from_slice(bytes);
        self
    }
    fn mov_dx(&mut self, v: u16) -> &mut Self {
        let [lo, hi] = v.to_le_bytes();
        self.raw(&[0x66, 0xba, lo, hi])
    }
    fn mov_al(&mut self, v: u8) -> &mut Self {
        self.raw(&[0xb0, v])
    }
    fn out(&mut self) -> &mut Self {
        self.raw(&[0xee]) // out dx, al
    }
    fn inp(&mut self) -> &mut Self {
        self.raw(&[0xec]) // in al, dx
    }
    fn cmp_al(&mut self, v: u8) -> &mut Self {
        self.raw(&[0x3c, v])
    }
    fn hlt(&mut self) -> &mut Self {
        self.raw(&[0xf4])
    }
    fn print(&mut self, text: &[u8]) -> &mut Self {
        self.mov_dx(COM1);
        for &b in text {
            self.mov_al(b).out();
        }
        self
    }
    /// `out port, value` through DX/AL.
    fn out_byte(&mut self, port: u16, value: u8) -> &mut Self {
        self.mov_dx(port).mov_al(value).out()
    }
    fn short_jump(&mut self, opcode: u8, target: u32) -> &mut Self {
        let rel = i64::from(target) - i64::from(self.here() + 2);
        let rel = i8::try_from(rel).expect("short jump in range");
        self.raw(&[opcode, rel as u8])
    }
    fn jmp(&mut self, target: u32) -> &mut Self {
        self.short_jump(0xeb, target)
    }
    fn jne(&mut self, target: u32) -> &mut Self {
        self.short_jump(0x75, target)
    }
    /// `lidt [addr]`
    fn lidt(&mut self, addr: u32) -> &mut Self {
        self.raw(&[0x0f, 0x01, 0x1d]).raw(&addr.to_le_bytes())
    }
    /// Pads with `hlt` up to `offset` bytes from the start.
    fn pad_to(&mut self, offset: usize) -> &mut Self {
        assert!(
            self.code.len() <= offset,
            "code overlaps offset {offset:#x}"
        );
        self.code.resize(offset, 0xf4);
        self
    }
    /// `hlt` forever (interrupts wake it, it halts again).
    fn halt_loop(&mut self) -> &mut Self {
        let top = self.here();
        self.hlt().jmp(top)
    }
}

struct Guest {
    machine: Machine,
    out: Buf,
    events: Receiver<MachineEvent>,
}

impl Guest {
    fn boot(code: &[u8], vcpus: usize, paused: bool) -> Option<Self> {
        if !kvm_available() {
            return None;
        }
        let out = Buf::default();
        let mut config = MachineConfig::new(code, Box::new(out.clone()));
        config.mem_size = 16 << 20;
        config.vcpus = vcpus;
        let machine = Machine::new(config).expect("machine builds");
        let events = machine.take_events().expect("first take");
        machine.start(paused).expect("starts");
        Some(Self {
            machine,
            out,
            events,
        })
    }

    fn output(&self) -> Vec<u8> {
        self.out.0.lock().clone()
    }

    /// Waits until the serial output is `expected`.
    fn wait_output(&self, expected: &[u8]) {
        let deadline = Instant::now() + WAIT;
        while self.output() != expected {
            assert!(
                Instant::now() < deadline,
                "serial output {:?}, want {:?}",
                String::from_utf8_lossy(&self.output()),
                String::from_utf8_lossy(expected)
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The next event other than an RTC change (the reference firmware
    /// sets its clock many times a second).
    fn next_event(&self) -> MachineEvent {
        loop {
            match self.events.recv_timeout(WAIT).expect("an event in time") {
                MachineEvent::RtcChange { .. } => {}
                event => return event,
            }
        }
    }
}

#[test]
fn machine_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Machine>();
    check::<VmmError>();
}

#[test]
fn firmware_prints_on_serial_and_powers_off() {
    let mut asm = Asm::default();
    asm.print(b"OK");
    // An unknown port reads all ones: print '!' only if it does.
    asm.mov_dx(0x99).inp().cmp_al(0xff);
    let jne_at = asm.code.len();
    asm.raw(&[0x75, 0]); // jne skip (patched)
    asm.print(b"!");
    let skip = asm.code.len();
    asm.code[jne_at + 1] = (skip - jne_at - 2) as u8;
    asm.print(b"\n").out_byte(0x600, 1).halt_loop();
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    assert_eq!(guest.next_event(), MachineEvent::PoweredOff { vcpu: 0 });
    assert_eq!(guest.output(), b"OK!\n");
    assert_eq!(guest.machine.status(), Status::Shutdown);
    assert!(matches!(
        guest.machine.resume(),
        Err(VmmError::NeedsReset(Status::Shutdown))
    ));
}

/// Prints "S", then counts in EAX forever without leaving the guest.
fn spinner() -> Vec<u8> {
    let mut asm = Asm::default();
    asm.print(b"S");
    let top = asm.here();
    asm.raw(&[0x40]).jmp(top); // inc eax; jmp
    asm.code
}

#[test]
fn pause_stops_a_computing_guest_quickly_and_resume_continues_it() {
    let Some(guest) = Guest::boot(&spinner(), 1, false) else {
        return;
    };
    let m = &guest.machine;
    guest.wait_output(b"S");
    assert!(m.is_running());

    let t = Instant::now();
    assert!(m.pause().unwrap());
    let pause_took = t.elapsed();
    assert_eq!(m.status(), Status::Paused);
    let a = m.registers(0).unwrap().regs;
    let b = m.registers(0).unwrap().regs;
    assert_eq!((a.rax, a.rip), (b.rax, b.rip), "paused guest moved");
    assert!(a.rip >= FIRMWARE_ADDR && a.rip < FIRMWARE_ADDR + 64);
    assert!(!m.pause().unwrap(), "second pause is a no-op");

    assert!(m.resume().unwrap());
    let deadline = Instant::now() + WAIT;
    while m.registers(0).unwrap().regs.rax == a.rax {
        assert!(Instant::now() < deadline, "resumed guest does not count");
    }
    let t = Instant::now();
    m.pause().unwrap();
    let second_pause_took = t.elapsed();
    eprintln!("pause took {pause_took:?}, then {second_pause_took:?}");
    assert!(pause_took < Duration::from_secs(1));
    assert!(second_pause_took < Duration::from_secs(1));
}

#[test]
fn start_paused_stays_in_prelaunch_until_resumed() {
    let Some(guest) = Guest::boot(&spinner(), 1, true) else {
        return;
    };
    let m = &guest.machine;
    assert_eq!(m.status(), Status::Prelaunch);
    let regs = m.registers(0).unwrap();
    assert_eq!(regs.regs.rip, FIRMWARE_ADDR);
    assert_eq!(regs.regs.rflags, 0x2);
    assert_eq!(regs.sregs.cr0 & 1, 1, "protected mode");
    assert_eq!(
        (regs.sregs.cs.selector, regs.sregs.ds.selector),
        (0x10, 0x18)
    );
    assert_eq!(regs.sregs.gdt.base, boot::GDT_ADDR);
    assert!(guest.output().is_empty());
    assert!(m.resume().unwrap());
    guest.wait_output(b"S");
}

/// Guest code runs in KVM's instruction emulator on hosts without
/// hardware virtualisation for it (such as nested PVM), which cannot
/// execute `iret` or `int` in protected mode: the NMI handler does not
/// return, it prints and goes back to halting on a fresh stack. NMIs stay
/// blocked without `iret`, so one NMI is all this guest can take.
#[test]
fn nmi_reaches_the_guest_handler() {
    // IDT with an NMI (vector 2) gate at +0x80 that prints 'N'.
    let base = FIRMWARE_ADDR as u32;
    let mut asm = Asm::default();
    asm.lidt(base + 0x100).print(b"R");
    let idle = asm.here();
    asm.halt_loop();
    asm.pad_to(0x80).print(b"N");
    asm.raw(&[0xbc]).raw(&base.to_le_bytes()); // mov esp, FIRMWARE_ADDR
    asm.jmp(idle);
    asm.pad_to(0x100)
        .raw(&(3u16 * 8 - 1).to_le_bytes())
        .raw(&(base + 0x110).to_le_bytes());
    asm.pad_to(0x110).raw(&[0; 16]);
    let handler = base + 0x80;
    asm.raw(&(handler as u16).to_le_bytes())
        .raw(&boot::CODE_SELECTOR.to_le_bytes())
        .raw(&[0, 0x8e]) // present, DPL 0, 32-bit interrupt gate
        .raw(&((handler >> 16) as u16).to_le_bytes());
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    guest.wait_output(b"R");
    let t = Instant::now();
    guest.machine.inject_nmi(0).unwrap();
    guest.wait_output(b"RN");
    eprintln!("NMI handled {:?} after injection", t.elapsed());
    // The handler's last instructions may not have run yet.
    let deadline = Instant::now() + WAIT;
    loop {
        let info = guest.machine.vcpu_info().unwrap();
        assert_eq!(info.len(), 1);
        if info[0].halted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not back in its hlt loop: {info:?}"
        );
    }
    assert!(matches!(
        guest.machine.inject_nmi(1),
        Err(VmmError::NoSuchVcpu(1))
    ));
}

#[test]
fn keyboard_reset_is_reported_and_reset_reboots_the_firmware() {
    let mut asm = Asm::default();
    asm.print(b"B").out_byte(0x64, 0xfe).halt_loop();
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    let reset = MachineEvent::ResetRequested {
        vcpu: 0,
        cause: ResetCause::Keyboard,
    };
    assert_eq!(guest.next_event(), reset);
    assert_eq!(guest.machine.status(), Status::Running);
    guest.machine.reset().unwrap();
    assert_eq!(guest.next_event(), reset);
    assert_eq!(guest.output(), b"BB");

    // A reset of a paused machine leaves it in prelaunch, at the entry point.
    guest.machine.pause().unwrap();
    guest.machine.reset().unwrap();
    assert_eq!(guest.machine.status(), Status::Prelaunch);
    assert_eq!(guest.machine.registers(0).unwrap().regs.rip, FIRMWARE_ADDR);
}

/// On hardware virtualisation a triple fault exits with
/// `KVM_EXIT_SHUTDOWN`, a reset request; KVM's instruction emulator (see
/// `nmi_reaches_the_guest_handler`) gives up on the faulting `int3` with an
/// internal error instead. Either way a reset brings the firmware back.
#[test]
fn triple_fault_asks_for_a_reset_or_stops_with_an_internal_error() {
    // An empty IDT: int3 faults, the fault faults, and the CPU shuts down.
    let base = FIRMWARE_ADDR as u32;
    let mut asm = Asm::default();
    asm.print(b"T").lidt(base + 0x40).raw(&[0xcc]);
    asm.pad_to(0x40).raw(&[0; 6]);
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    let m = &guest.machine;
    match guest.next_event() {
        MachineEvent::ResetRequested {
            vcpu: 0,
            cause: ResetCause::TripleFault,
        } => assert_eq!(m.status(), Status::Running),
        MachineEvent::InternalError { vcpu: 0, message } => {
            eprintln!("triple fault test: {message}");
            assert_eq!(m.status(), Status::InternalError);
            assert!(matches!(m.resume(), Err(VmmError::NeedsReset(_))));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(guest.output(), b"T");
    m.reset().unwrap();
    if m.status() == Status::Prelaunch {
        m.resume().unwrap();
    }
    guest.wait_output(b"TT");
    guest.next_event();
    m.shutdown().unwrap();
    assert_eq!(m.status(), Status::Shutdown);
}

#[test]
fn power_button_is_seen_by_a_polling_guest() {
    let mut asm = Asm::default();
    asm.print(b"W").mov_dx(0x600);
    let poll = asm.here();
    asm.inp().cmp_al(1).jne(poll);
    asm.print(b"P").out_byte(0x600, 1).halt_loop();
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    guest.wait_output(b"W");
    guest.machine.press_power_button();
    assert_eq!(guest.next_event(), MachineEvent::PoweredOff { vcpu: 0 });
    assert_eq!(guest.output(), b"WP");
}

#[test]
fn every_vcpu_thread_id_is_known_as_soon_as_the_machine_is_built() {
    // libvirt reads query-cpus-fast right after start and fails on a
    // vCPU without a thread ID; a paused machine's threads have not run
    // guest code, but they exist.
    let Some(guest) = Guest::boot(&spinner(), 4, true) else {
        return;
    };
    let ids = guest.machine.thread_ids();
    assert_eq!(ids.len(), 4);
    assert!(ids.iter().all(|id| *id > 0), "{ids:?}");
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{ids:?}");
}

#[test]
fn secondary_vcpus_wait_for_sipi_on_their_own_threads() {
    let Some(guest) = Guest::boot(&spinner(), 2, false) else {
        return;
    };
    guest.wait_output(b"S");
    let info = guest.machine.vcpu_info().unwrap();
    assert_eq!(info.len(), 2);
    assert!(!info[0].halted, "vCPU 0 computes: {info:?}");
    assert!(info[1].halted, "vCPU 1 waits for SIPI: {info:?}");
    assert_ne!(info[0].thread_id, info[1].thread_id);
    assert!(info.iter().all(|i| i.thread_id > 0));
    assert_eq!(
        guest.machine.thread_ids(),
        vec![info[0].thread_id, info[1].thread_id]
    );
    // The AP is still in KVM's reset state: real mode at F000:FFF0.
    let ap = guest.machine.registers(1).unwrap();
    assert_eq!(ap.sregs.cr0 & 1, 0);
    assert_eq!(ap.regs.rip, 0xfff0);
    assert!(guest.machine.pause().unwrap());
}

/// The UART's interrupt reaches the guest through the irqfd on GSI 4 and
/// the in-kernel PIC. (The handler cannot `iret`: see
/// `nmi_reaches_the_guest_handler`.)
#[test]
fn serial_interrupt_reaches_the_guest_through_the_pic() {
    const VECTOR: u32 = 0x24; // IRQ 4 with the master PIC at 0x20
    let base = FIRMWARE_ADDR as u32;
    let idt = base + 0x200;
    let mut asm = Asm::default();
    asm.lidt(base + 0x100);
    // PICs: ICW1..4, master at 0x20, slave at 0x28; only IRQ 4 unmasked.
    for (port, value) in [
        (0x20, 0x11),
        (0x21, 0x20),
        (0x21, 0x04),
        (0x21, 0x01),
        (0xa0, 0x11),
        (0xa1, 0x28),
        (0xa1, 0x02),
        (0xa1, 0x01),
        (0x21, 0xef),
        (0xa1, 0xff),
    ] {
        asm.out_byte(port, value);
    }
    asm.out_byte(COM1 + 1, 0x02); // IER: transmitter-empty interrupt
    asm.raw(&[0xfb]); // sti
    asm.print(b"x").halt_loop();
    asm.pad_to(0x80)
        .out_byte(COM1 + 1, 0)
        .print(b"I")
        .halt_loop();
    asm.pad_to(0x100)
        .raw(&((VECTOR as u16 + 1) * 8 - 1).to_le_bytes())
        .raw(&idt.to_le_bytes());
    asm.pad_to(0x200 + VECTOR as usize * 8);
    let handler = base + 0x80;
    asm.raw(&(handler as u16).to_le_bytes())
        .raw(&boot::CODE_SELECTOR.to_le_bytes())
        .raw(&[0, 0x8e])
        .raw(&((handler >> 16) as u16).to_le_bytes());
    let Some(guest) = Guest::boot(&asm.code, 1, false) else {
        return;
    };
    guest.wait_output(b"xI");
}

#[test]
fn pause_resume_and_register_reads_race_safely() {
    let Some(guest) = Guest::boot(&spinner(), 2, false) else {
        return;
    };
    let m = &guest.machine;
    guest.wait_output(b"S");
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..200 {
                m.vcpu_info().unwrap();
                m.registers(1).unwrap();
            }
        });
        for _ in 0..200 {
            assert!(m.pause().unwrap());
            assert_eq!(m.status(), Status::Paused);
            assert!(m.resume().unwrap());
        }
    });
    let t = Instant::now();
    m.pause().unwrap();
    assert!(t.elapsed() < Duration::from_secs(1));
}

/// The firmware built from `examples/firmware/` (see its README).
const FIRMWARE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/firmware.bin"));

impl Guest {
    /// Waits until the serial output contains `needle` at least `count` times.
    fn wait_lines(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = String::from_utf8_lossy(&self.output()).into_owned();
            if out.matches(needle).count() >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {count}× {needle:?} in {out:?}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn reference_firmware_boots_takes_nmis_and_powers_off() {
    let Some(guest) = Guest::boot(FIRMWARE, 2, false) else {
        return;
    };
    let m = &guest.machine;
    let t = Instant::now();
    guest.wait_lines("refvmm firmware: booted in long mode\r\n", 1);
    let booted = t.elapsed();
    guest.wait_lines("heartbeat 1\r\n", 1);
    let first_heartbeat = t.elapsed();

    let t = Instant::now();
    assert!(m.pause().unwrap());
    let pause_took = t.elapsed();
    assert!(
        m.registers(0).unwrap().sregs.efer & 0x400 != 0,
        "long mode active"
    );
    assert!(m.resume().unwrap());

    for n in 1..=2 {
        m.inject_nmi(0).unwrap();
        guest.wait_lines("NMI received\r\n", n);
    }
    m.press_power_button();
    assert_eq!(guest.next_event(), MachineEvent::PoweredOff { vcpu: 0 });
    guest.wait_lines("power button pressed, powering off\r\n", 1);
    assert_eq!(m.status(), Status::Shutdown);

    // A reset boots it again (from prelaunch, as QEMU after a shutdown).
    m.reset().unwrap();
    assert_eq!(m.status(), Status::Prelaunch);
    m.resume().unwrap();
    guest.wait_lines("refvmm firmware: booted in long mode\r\n", 2);
    eprintln!(
        "firmware: banner after {booted:?}, first heartbeat after {first_heartbeat:?}, \
         pause took {pause_took:?}"
    );
    eprintln!("{}", String::from_utf8_lossy(&guest.output()));
}

#[test]
fn reference_firmware_sets_the_rtc_about_twenty_times_a_guest_second() {
    let Some(guest) = Guest::boot(FIRMWARE, 1, false) else {
        return;
    };
    guest.wait_lines("heartbeat 1\r\n", 1);
    while guest.events.try_recv().is_ok() {}
    // Four heartbeat periods: one second of the guest's PIT time.
    guest.wait_lines("heartbeat 5\r\n", 1);
    let offsets: Vec<i64> = guest
        .events
        .try_iter()
        .filter_map(|e| match e {
            MachineEvent::RtcChange { offset } => Some(offset),
            _ => None,
        })
        .collect();
    assert!(
        offsets.len() >= 10,
        "{} RTC changes in a guest second",
        offsets.len()
    );
    // The firmware writes back the time it reads: the offset stays near 0
    // (a second boundary between its read and its write loses a second).
    assert!(offsets.iter().all(|o| o.abs() <= 2), "{offsets:?}");
}
