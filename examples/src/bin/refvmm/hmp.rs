//! The reference VMM's own human-monitor commands (the generic ones come
//! from monitor-hmp).

use std::fmt::Write as _;

use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpContext, HmpError};
use serde_json::json;

use crate::commands::Vm;

fn vm<'a>(ctx: &HmpContext<'a>) -> Result<&'a Vm, HmpError> {
    Ok(ctx.state::<Vm>()?)
}

/// QEMU's x86_64 `info registers` layout (general registers, RIP, RFL,
/// segments, control registers).
#[hmp_command(
    name = "info registers",
    args_type = "cpustate_all:-a,vcpu:i?",
    params = "[-a|vcpu]",
    help = "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; show the current CPU's registers if no argument is specified)"
)]
fn info_registers(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let vm = vm(ctx)?;
    let all = args.flag("cpustate_all");
    let indexes: Vec<usize> = if all {
        (0..vm.machine()?.vcpu_count()).collect()
    } else {
        vec![args.int("vcpu").unwrap_or(0).max(0) as usize]
    };
    let halted: Vec<bool> = vm
        .machine()?
        .vcpu_info()
        .map(|v| v.iter().map(|c| c.halted).collect())
        .unwrap_or_default();
    for index in indexes {
        let r = vm
            .machine()?
            .registers(index)
            .map_err(|e| HmpError::Message(e.to_string()))?;
        let (g, s) = (r.regs, r.sregs);
        let mut out = String::new();
        if all {
            let _ = writeln!(out, "\nCPU#{index}");
        }
        let _ = writeln!(
            out,
            "RAX={:016x} RBX={:016x} RCX={:016x} RDX={:016x}",
            g.rax, g.rbx, g.rcx, g.rdx
        );
        let _ = writeln!(
            out,
            "RSI={:016x} RDI={:016x} RBP={:016x} RSP={:016x}",
            g.rsi, g.rdi, g.rbp, g.rsp
        );
        let _ = writeln!(
            out,
            "R8 ={:016x} R9 ={:016x} R10={:016x} R11={:016x}",
            g.r8, g.r9, g.r10, g.r11
        );
        let _ = writeln!(
            out,
            "R12={:016x} R13={:016x} R14={:016x} R15={:016x}",
            g.r12, g.r13, g.r14, g.r15
        );
        let f = g.rflags;
        let flag = |bit: u32, c: char| if f & (1 << bit) != 0 { c } else { '-' };
        let _ = writeln!(
            out,
            "RIP={:016x} RFL={:08x} [{}{}{}{}{}{}{}] CPL={} II=0 A20=1 SMM=0 HLT={}",
            g.rip,
            f,
            flag(10, 'D'),
            flag(11, 'O'),
            flag(7, 'S'),
            flag(6, 'Z'),
            flag(4, 'A'),
            flag(2, 'P'),
            flag(0, 'C'),
            s.cs.selector & 3,
            u8::from(halted.get(index).copied().unwrap_or(false)),
        );
        for (name, seg) in [
            ("ES", s.es),
            ("CS", s.cs),
            ("SS", s.ss),
            ("DS", s.ds),
            ("FS", s.fs),
            ("GS", s.gs),
            ("LDT", s.ldt),
            ("TR", s.tr),
        ] {
            let flags = crate::dumps::seg_flags(&seg);
            let _ = writeln!(
                out,
                "{name:<3}={:04x} {:016x} {:08x} {:08x}",
                seg.selector, seg.base, seg.limit, flags
            );
        }
        let _ = writeln!(out, "GDT=     {:016x} {:08x}", s.gdt.base, s.gdt.limit);
        let _ = writeln!(out, "IDT=     {:016x} {:08x}", s.idt.base, s.idt.limit);
        let _ = writeln!(
            out,
            "CR0={:08x} CR2={:016x} CR3={:016x} CR4={:08x}",
            s.cr0, s.cr2, s.cr3, s.cr4
        );
        let _ = writeln!(out, "EFER={:016x}", s.efer);
        ctx.print(&out);
    }
    Ok(())
}

/// `info cpus`: `* CPU #0: thread_id=1234`.
#[hmp_command(name = "info cpus", help = "show infos for each CPU")]
fn info_cpus(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let cpus = ctx.qmp("query-cpus-fast", json!({}))?;
    let mut out = String::new();
    for (i, c) in cpus.as_array().into_iter().flatten().enumerate() {
        let active = if i == 0 { '*' } else { ' ' };
        let _ = writeln!(
            out,
            "{active} CPU #{}: thread_id={}",
            c["cpu-index"], c["thread-id"]
        );
    }
    ctx.print(&out);
    Ok(())
}

/// `info kvm`: `kvm support: enabled`.
#[hmp_command(name = "info kvm", help = "show KVM information")]
fn info_kvm(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let k = ctx.qmp("query-kvm", json!({}))?;
    if k["present"] == true {
        let state = if k["enabled"] == true {
            "enabled"
        } else {
            "disabled"
        };
        ctx.print(&format!("kvm support: {state}\n"));
    } else {
        ctx.print("kvm support: not compiled\n");
    }
    Ok(())
}

/// `info uuid`.
#[hmp_command(name = "info uuid", help = "show the current VM UUID")]
fn info_uuid(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let u = ctx.qmp("query-uuid", json!({}))?;
    ctx.print(&format!("{}\n", u["UUID"].as_str().unwrap_or_default()));
    Ok(())
}

/// `info chardev`: `serial0: filename=stdio`.
#[hmp_command(name = "info chardev", help = "show the character devices")]
fn info_chardev(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let list = ctx.qmp("query-chardev", json!({}))?;
    let mut out = String::new();
    for c in list.as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{}: filename={}",
            c["label"].as_str().unwrap_or_default(),
            c["filename"].as_str().unwrap_or_default()
        );
    }
    ctx.print(&out);
    Ok(())
}

/// `nmi`: inject an NMI.
#[hmp_command(name = "nmi", help = "inject an NMI")]
fn nmi(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("inject-nmi", json!({}))?;
    Ok(())
}
