//! The generic commands every human monitor has. Most call the VMM's QMP
//! command of the same meaning and print its answer as QEMU does.

use serde_json::json;

use crate::args::Args;
use crate::table::{HmpContext, HmpError, HmpRegistration};

fn help(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    // The table is not reachable from a handler; the runner answers `help`
    // itself (see `HmpTable::run_line`). This stays for the help listing.
    let _ = (ctx, args);
    Ok(())
}

fn quit(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("quit", json!({}))?;
    Ok(())
}

fn stop(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("stop", json!({}))?;
    Ok(())
}

fn cont(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("cont", json!({}))?;
    Ok(())
}

fn system_reset(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("system_reset", json!({}))?;
    Ok(())
}

fn system_powerdown(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    ctx.qmp("system_powerdown", json!({}))?;
    Ok(())
}

/// `info version`: `7.2.22Debian 1:7.2+dfsg...` (QEMU prints the package
/// right after the numbers).
fn info_version(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let v = ctx.qmp("query-version", json!({}))?;
    let q = &v["qemu"];
    let text = format!(
        "{}.{}.{}{}\n",
        q["major"],
        q["minor"],
        q["micro"],
        v["package"].as_str().unwrap_or_default()
    );
    ctx.print(&text);
    Ok(())
}

/// `info name`: the name, or nothing when the VM has none.
fn info_name(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let v = ctx.qmp("query-name", json!({}))?;
    if let Some(name) = v["name"].as_str() {
        ctx.print(&format!("{name}\n"));
    }
    Ok(())
}

/// `info status`: `VM status: running`, `VM status: paused (prelaunch)`.
fn info_status(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let v = ctx.qmp("query-status", json!({}))?;
    let running = v["running"].as_bool().unwrap_or(false);
    let mut text = format!("VM status: {}", if running { "running" } else { "paused" });
    if v["singlestep"].as_bool().unwrap_or(false) {
        text.push_str(" (single step mode)");
    }
    let status = v["status"].as_str().unwrap_or_default();
    if !running && status != "paused" {
        text.push_str(&format!(" ({status})"));
    }
    text.push('\n');
    ctx.print(&text);
    Ok(())
}

/// `info commands`: the QMP commands of this monitor, one per line.
fn info_commands(ctx: &mut HmpContext<'_>, _args: &Args) -> Result<(), HmpError> {
    let v = ctx.qmp("query-commands", json!({}))?;
    let mut names: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort_unstable();
    for n in names {
        ctx.print(&format!("{n}\n"));
    }
    Ok(())
}

/// `memsave addr size file`: virtual memory of the current CPU (the one
/// `human-monitor-command` named with `cpu-index`, else the first), as
/// QEMU's `hmp_memsave`: `No CPU available` without one; the size is
/// taken as 32 bits.
fn memsave(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let cpu = match ctx.cpu_index() {
        Some(index) => Some(index),
        None => crate::cpus::indexes(ctx.dispatcher(), ctx.session())
            .first()
            .copied(),
    };
    let Some(cpu) = cpu else {
        ctx.print("No CPU available\n");
        return Ok(());
    };
    let (val, size, filename) = memory_args(args);
    ctx.qmp(
        "memsave",
        json!({"val": val, "size": size, "filename": filename, "cpu-index": cpu}),
    )?;
    Ok(())
}

/// `pmemsave addr size file`: physical memory, as QEMU's `hmp_pmemsave`.
fn pmemsave(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let (val, size, filename) = memory_args(args);
    ctx.qmp(
        "pmemsave",
        json!({"val": val, "size": size, "filename": filename}),
    )?;
    Ok(())
}

/// `val`, `size` (QEMU's `uint32_t size = qdict_get_int(...)`) and
/// `filename` of `memsave` and `pmemsave`.
fn memory_args(args: &Args) -> (i64, i64, String) {
    let val = args.int("val").unwrap_or(0);
    let size = i64::from(args.int("size").unwrap_or(0) as u32);
    let filename = args.str("filename").unwrap_or_default().to_owned();
    (val, size, filename)
}

/// `getfd name`: names the descriptor that came with the command. A
/// console passes none (and `human-monitor-command` runs on a monitor of
/// its own in QEMU, which has none either), so this answers QEMU's
/// `Error: No file descriptor supplied via SCM_RIGHTS`.
fn getfd(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let fdname = args.str("fdname").unwrap_or_default();
    ctx.qmp("getfd", json!({ "fdname": fdname }))?;
    Ok(())
}

/// `closefd name`: closes a descriptor this monitor named (none, see
/// [`getfd`]): QEMU's `Error: File descriptor named 'NAME' not found`.
fn closefd(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    let fdname = args.str("fdname").unwrap_or_default();
    ctx.qmp("closefd", json!({ "fdname": fdname }))?;
    Ok(())
}

/// The QMP commands each generic command calls, by its `name` (`help`
/// needs none: the table answers it).
static REQUIRES: [&[&str]; 14] = [
    &[],
    &["quit"],
    &["stop"],
    &["cont"],
    &["system_reset"],
    &["system_powerdown"],
    &["query-version"],
    &["query-name"],
    &["query-status"],
    &["query-commands"],
    &["memsave"],
    &["pmemsave"],
    &["getfd"],
    &["closefd"],
];

/// The generic commands, in QEMU's words, with the QMP commands they need:
/// each is listed and runs only when those exist.
pub(crate) fn registrations() -> Vec<(&'static HmpRegistration, &'static &'static [&'static str])> {
    static LIST: [HmpRegistration; 14] = [
        HmpRegistration {
            name: "help|?",
            args_type: "name:S?",
            params: "[cmd]",
            help: "show the help",
            origin: "monitor-hmp's generic commands",
            handler: help,
        },
        HmpRegistration {
            name: "quit|q",
            args_type: "",
            params: "",
            help: "quit the emulator",
            origin: "monitor-hmp's generic commands",
            handler: quit,
        },
        HmpRegistration {
            name: "stop|s",
            args_type: "",
            params: "",
            help: "stop emulation",
            origin: "monitor-hmp's generic commands",
            handler: stop,
        },
        HmpRegistration {
            name: "cont|c",
            args_type: "",
            params: "",
            help: "resume emulation",
            origin: "monitor-hmp's generic commands",
            handler: cont,
        },
        HmpRegistration {
            name: "system_reset",
            args_type: "",
            params: "",
            help: "reset the system",
            origin: "monitor-hmp's generic commands",
            handler: system_reset,
        },
        HmpRegistration {
            name: "system_powerdown",
            args_type: "",
            params: "",
            help: "send system power down event",
            origin: "monitor-hmp's generic commands",
            handler: system_powerdown,
        },
        HmpRegistration {
            name: "info version",
            args_type: "",
            params: "",
            help: "show the version of QEMU",
            origin: "monitor-hmp's generic commands",
            handler: info_version,
        },
        HmpRegistration {
            name: "info name",
            args_type: "",
            params: "",
            help: "show the current VM name",
            origin: "monitor-hmp's generic commands",
            handler: info_name,
        },
        HmpRegistration {
            name: "info status",
            args_type: "",
            params: "",
            help: "show the current VM status (running|paused)",
            origin: "monitor-hmp's generic commands",
            handler: info_status,
        },
        HmpRegistration {
            name: "info commands",
            args_type: "",
            params: "",
            help: "list the QMP commands",
            origin: "monitor-hmp's generic commands",
            handler: info_commands,
        },
        HmpRegistration {
            name: "memsave",
            args_type: "val:l,size:i,filename:s",
            params: "addr size file",
            help: "save to disk virtual memory dump starting at 'addr' of size 'size'",
            origin: "monitor-hmp's generic commands",
            handler: memsave,
        },
        HmpRegistration {
            name: "pmemsave",
            args_type: "val:l,size:i,filename:s",
            params: "addr size file",
            help: "save to disk physical memory dump starting at 'addr' of size 'size'",
            origin: "monitor-hmp's generic commands",
            handler: pmemsave,
        },
        HmpRegistration {
            name: "getfd",
            args_type: "fdname:s",
            params: "getfd name",
            help: "receive a file descriptor via SCM rights and assign it a name",
            origin: "monitor-hmp's generic commands",
            handler: getfd,
        },
        HmpRegistration {
            name: "closefd",
            args_type: "fdname:s",
            params: "closefd name",
            help: "close a file descriptor previously passed via SCM rights",
            origin: "monitor-hmp's generic commands",
            handler: closefd,
        },
    ];
    LIST.iter().zip(REQUIRES.iter()).collect()
}
