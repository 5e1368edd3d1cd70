//! Differential test of the `args_type` parser against QEMU 7.2: the same
//! malformed HMP lines go to QEMU's `human-monitor-command` and to
//! `ArgsType::parse_line`, and the monitor text must be the same.
//!
//! The `args_type` strings are QEMU 7.2's own (read out of the 7.2 binary's
//! command tables). Lines that QEMU accepts are sent too, to check that we
//! accept them as well; only lines whose execution is harmless are among
//! them (no `quit`, no `migrate`, no files written). Not sent: `p
//! -9223372036854775808 / -1`, which kills QEMU 7.2 with SIGFPE.
//!
//! Without `qemu-system-x86_64` on `PATH` the test prints `SKIPPED: ...`
//! and passes, unless the environment variable `CI` is non-empty.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use monitor_core::client::Client;
use monitor_hmp::args::{ArgsType, NoCpu, Registers};
use serde_json::json;

const QEMU: &str = "qemu-system-x86_64";

/// One HMP line: the command as typed, its name in QEMU's table (used in
/// messages), its `args_type`, and the arguments.
struct Case {
    typed: &'static str,
    name: &'static str,
    spec: &'static str,
    rest: &'static str,
}

const fn case(
    typed: &'static str,
    name: &'static str,
    spec: &'static str,
    rest: &'static str,
) -> Case {
    Case {
        typed,
        name,
        spec,
        rest,
    }
}

const X: &str = "fmt:/,addr:l";
const P: &str = "fmt:/,val:l";
const MEMSAVE: &str = "val:l,size:i,filename:s";
const EJECT: &str = "force:-f,device:B";
const RESIZE: &str = "device:B,size:o";
const MIGRATE: &str = "detach:-d,blk:-b,inc:-i,resume:-r,uri:s";
const SET_PASSWORD: &str = "protocol:s,password:s,display:-ds,connected:s?";
const SCREENDUMP: &str = "filename:F,format:-fs,device:s?,head:i?";
const DUMP: &str =
    "paging:-p,detach:-d,windmp:-w,zlib:-z,lzo:-l,snappy:-s,filename:F,begin:l?,length:l?";
const QOM_GET: &str = "path:s,property:s";
const REGISTERS: &str = "cpustate_all:-a,vcpu:i?";
const MTREE: &str = "flatview:-f,dispatch_tree:-d,owner:-o,disabled:-D";
const BLOCK: &str = "nodes:-n,verbose:-v,device:B?";

/// A line built at run time, for a [`Case`].
fn leak(line: String) -> &'static str {
    Box::leak(line.into_boxed_str())
}

/// Lines for `-machine none` (no CPU: every register is unknown).
fn no_machine_cases() -> Vec<Case> {
    vec![
        // x, xp, print: expressions and /fmt
        case("x", "x", X, ""),
        case("x", "x", X, "/16xb"),
        case("x", "x", X, "/16q 0"),
        case("x", "x", X, "/-1 0"),
        case("x", "x", X, "/16xb zz"),
        case("x", "x", X, "0 1"),
        case("x", "x", X, "0x"),
        case("x", "x", X, "1+"),
        case("x", "x", X, "(1"),
        case("x", "x", X, "'a"),
        case("x", "x", X, "'ab'"),
        case("x", "x", X, "$pc"),
        case("x", "x", X, "1/0"),
        case("x", "x", X, "99999999999999999999999"),
        case("x", "x", X, "/"),
        case("x", "x", X, "/ 0 0"),
        case("x", "x", X, "/2bxhw"),
        case("p", "print|p", P, "1 +\t2 \u{b}"),
        case("p", "print|p", P, "0x8000000000000000 * 2"),
        case("xp", "xp", X, "/2xw (1 + 2"),
        case("xp", "xp", X, "1 % 0"),
        case("p", "print|p", P, "08"),
        case("p", "print|p", P, "1 +"),
        case("p", "print|p", P, "-"),
        case("p", "print|p", P, "'"),
        case("p", "print|p", P, "("),
        case("p", "print|p", P, ")"),
        case("p", "print|p", P, "1 &"),
        case("p", "print|p", P, "$"),
        case("p", "print|p", P, "$ab$"),
        case("p", "print|p", P, "(1))"),
        case("p", "print|p", P, "1 ~ 2"),
        case("p", "print|p", P, "/x1 1"),
        case("p", "print|p", P, "18446744073709551616"),
        case("print", "print|p", P, "é"),
        case("p", "print|p", P, "1"),
        case("p", "print|p", P, "/x 0x10 + 3 * 2"),
        case("p", "print|p", P, "'''"),
        case("p", "print|p", P, "/d -10 % 3"),
        case("p", "print|p", P, "18446744073709551615"),
        case("gpa2hva", "gpa2hva", "addr:l", "$pc"),
        // i
        case("cpu", "cpu", "index:i", "-1"),
        case("cpu", "cpu", "index:i", "4294967296"),
        case("cpu", "cpu", "index:i", ""),
        case("cpu", "cpu", "index:i", "x"),
        case("cpu", "cpu", "index:i", "1 2"),
        case("cpu", "cpu", "index:i", "4294967295"),
        case("sendkey", "sendkey", "keys:s,hold-time:i?", ""),
        case("sendkey", "sendkey", "keys:s,hold-time:i?", "a -1"),
        case("sendkey", "sendkey", "keys:s,hold-time:i?", "a 4294967296"),
        case("sendkey", "sendkey", "keys:s,hold-time:i?", "a"),
        case("stopcapture", "stopcapture", "n:i", "x"),
        case("memsave", "memsave", MEMSAVE, ""),
        case("memsave", "memsave", MEMSAVE, "0"),
        case("memsave", "memsave", MEMSAVE, "0 10"),
        case("memsave", "memsave", MEMSAVE, "0 -100 f"),
        case("pmemsave", "pmemsave", MEMSAVE, "0 0x100000000 f"),
        case("mouse_move", "mouse_move", "dx_str:s,dy_str:s,dz_str:s?", "1"),
        // M
        case("balloon", "balloon", "value:M", ""),
        case("balloon", "balloon", "value:M", "-1"),
        case("balloon", "balloon", "value:M", "1+"),
        case("balloon", "balloon", "value:M", "0x10"),
        case("balloon", "balloon", "value:M", "9999999999999999"),
        // o
        case("block_resize", "block_resize", RESIZE, ""),
        case("block_resize", "block_resize", RESIZE, "foo"),
        case("block_resize", "block_resize", RESIZE, "foo -1"),
        case("block_resize", "block_resize", RESIZE, "foo --1"),
        case("block_resize", "block_resize", RESIZE, "foo .5k"),
        case("block_resize", "block_resize", RESIZE, "foo 8E"),
        case("block_resize", "block_resize", RESIZE, "foo 8192P"),
        case("block_resize", "block_resize", RESIZE, "foo 0.5b"),
        case("block_resize", "block_resize", RESIZE, "foo 0x1.5"),
        case("block_resize", "block_resize", RESIZE, "foo 1.5e3k"),
        case("block_resize", "block_resize", RESIZE, "foo 1x"),
        case("block_resize", "block_resize", RESIZE, "foo 1e3"),
        case("block_resize", "block_resize", RESIZE, "foo 1kB"),
        case("block_resize", "block_resize", RESIZE, "foo 1.x"),
        case("block_resize", "block_resize", RESIZE, "foo 1.1.1"),
        case("block_resize", "block_resize", RESIZE, "foo 0x"),
        case("block_resize", "block_resize", RESIZE, "foo \" 1\""),
        case("block_resize", "block_resize", RESIZE, "foo 18446744073709551616"),
        case("block_resize", "block_resize", RESIZE, "foo 9223372036854775808b"),
        case("block_resize", "block_resize", RESIZE, "foo 9223372036854775807b"),
        case("block_resize", "block_resize", RESIZE, "foo 1.5k"),
        case("block_resize", "block_resize", RESIZE, "foo 1."),
        case("block_resize", "block_resize", RESIZE, "foo 0x10k"),
        case("block_resize", "block_resize", RESIZE, "foo 7E"),
        case("block_resize", "block_resize", RESIZE, "foo +5"),
        case("block_resize", "block_resize", RESIZE, "foo 1.9999999999999999999999b"),
        case("block_resize", "block_resize", RESIZE, "foo 0.0000000000000000001k"),
        case("block_resize", "block_resize", RESIZE, "foo 1.5e"),
        case("block_resize", "block_resize", RESIZE, "foo 0x10.5"),
        case("block_resize", "block_resize", RESIZE, "foo 1.5B"),
        case("block_resize", "block_resize", RESIZE, "foo 0b1"),
        case("block_resize", "block_resize", RESIZE, "foo 1 ,"),
        case("balloon", "balloon", "value:M", "1 2"),
        // A fraction below the normal range: strtod's ERANGE makes QEMU skip
        // one more character (here the space), so the `k` counts.
        case("block_resize", "block_resize", RESIZE, leak(format!("foo 1.{}1 k", "0".repeat(330)))),
        case("block_resize", "block_resize", RESIZE, leak(format!("foo 1.{}1 k", "0".repeat(300)))),
        case("block_job_set_speed", "block_job_set_speed", "device:B,speed:o", "j x"),
        // b
        case("set_link", "set_link", "name:s,up:b", ""),
        case("set_link", "set_link", "name:s,up:b", "x"),
        case("set_link", "set_link", "name:s,up:b", "x onn"),
        case("set_link", "set_link", "name:s,up:b", "x On"),
        case("set_link", "set_link", "name:s,up:b", "x \"on\""),
        case("set_link", "set_link", "name:s,up:b", "x off y"),
        case("set_link", "set_link", "name:s,up:b", "x on"),
        case("migrate_set_capability", "migrate_set_capability", "capability:s,state:b", "xbzrle"),
        case("migrate_set_capability", "migrate_set_capability", "capability:s,state:b", "xbzrle  off  "),
        case("trace-event", "trace-event", "name:s,option:b,vcpu:i?", "foo on -1"),
        case("trace-event", "trace-event", "name:s,option:b,vcpu:i?", "foo on 1 2"),
        case("trace-event", "trace-event", "name:s,option:b,vcpu:i?", "foo on"),
        // s F B S
        case("qom-get", "qom-get", QOM_GET, ""),
        case("qom-get", "qom-get", QOM_GET, "/machine"),
        case("qom-get", "qom-get", QOM_GET, "/machine \"type"),
        case("qom-get", "qom-get", QOM_GET, "/machine \"ty\\pe\""),
        case("qom-get", "qom-get", QOM_GET, "\"a\\"),
        case("qom-get", "qom-get", QOM_GET, "\"/machine\" \"type\" x"),
        case("qom-get", "qom-get", QOM_GET, "\"/machine\" type"),
        case("qom-get", "qom-get", QOM_GET, "/machine \"ty\\\"pe\""),
        case("qom-list", "qom-list", "path:s?", "\"/mach\"ine"),
        case("qom-list", "qom-list", "path:s?", "\"/machine\""),
        case("qom-list", "qom-list", "path:s?", ""),
        case("logfile", "logfile", "filename:F", ""),
        case("logfile", "logfile", "filename:F", "\"unterminated"),
        case("wavcapture", "wavcapture", "path:F,audiodev:s,freq:i?,bits:i?,nchannels:i?", ""),
        case("drive_del", "drive_del", "id:B", ""),
        case("drive_del", "drive_del", "id:B", "nosuch"),
        case("boot_set", "boot_set", "bootdevice:s", ""),
        case("getfd", "getfd", "fdname:s", ""),
        case("migrate_set_parameter", "migrate_set_parameter", "parameter:s,value:s", "x"),
        case("watchdog_action", "watchdog_action", "action:s", ""),
        case("object_add", "object_add", "object:S", ""),
        case("object_add", "object_add", "object:S", "   "),
        case("object_add", "object_add", "object:S", "foo   bar  "),
        case("qom-set", "qom-set", "json:-j,path:s,property:s,value:S", "-j / x"),
        case("qom-set", "qom-set", "json:-j,path:s,property:s,value:S", "-x"),
        // -x and -xs
        case("eject", "eject", EJECT, ""),
        case("eject", "eject", EJECT, "-f"),
        case("eject", "eject", EJECT, "-x foo"),
        case("eject", "eject", EJECT, "-ff foo"),
        case("eject", "eject", EJECT, "-f -f foo"),
        case("eject", "eject", EJECT, "--f foo"),
        case("eject", "eject", EJECT, "- foo"),
        case("eject", "eject", EJECT, "-"),
        case("eject", "eject", EJECT, "-é"),
        case("eject", "eject", EJECT, "-fx"),
        case("eject", "eject", EJECT, "-f\"x\""),
        case("eject", "eject", EJECT, "-f nosuch"),
        case("migrate", "migrate", MIGRATE, "-d -b -i -r"),
        case("migrate", "migrate", MIGRATE, "-dbir x"),
        case("migrate", "migrate", MIGRATE, "-db x"),
        case("migrate", "migrate", MIGRATE, "-q x"),
        case("migrate", "migrate", MIGRATE, "-b -d"),
        case("migrate", "migrate", MIGRATE, "-"),
        case("dump-guest-memory", "dump-guest-memory", DUMP, "-"),
        case("dump-guest-memory", "dump-guest-memory", DUMP, "-z -p f"),
        case("dump-guest-memory", "dump-guest-memory", DUMP, "-p -x f"),
        case("snapshot_blkdev", "snapshot_blkdev", "reuse:-n,device:B,snapshot-file:s?,format:s?", "-f"),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -d"),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -d \"abc"),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -d \"a\\qbc\""),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -x"),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -d  foo bar baz"),
        case("set_password", "set_password", SET_PASSWORD, "vnc pw -d \"\" keep"),
        case("screendump", "screendump", SCREENDUMP, ""),
        case("screendump", "screendump", SCREENDUMP, "-f \"a b"),
        case("screendump", "screendump", SCREENDUMP, "-f png x.png"),
        case("calc_dirty_rate", "calc_dirty_rate", "dirty_ring:-r,dirty_bitmap:-b,second:l,sample_pages_per_GB:l?", "-r -b"),
        case("calc_dirty_rate", "calc_dirty_rate", "dirty_ring:-r,dirty_bitmap:-b,second:l,sample_pages_per_GB:l?", "-x 1"),
        case("nbd_server_start", "nbd_server_start", "all:-a,writable:-w,uri:s", "-w -a x"),
        case("pcie_aer_inject_error", "pcie_aer_inject_error", "advisory_non_fatal:-a,correctable:-c,id:s,error_status:s,header0:i?,header1:i?,header2:i?,header3:i?,prefix0:i?,prefix1:i?,prefix2:i?,prefix3:i?", "-a -c"),
        case("block_set_io_throttle", "block_set_io_throttle", "device:B,bps:l,bps_rd:l,bps_wr:l,iops:l,iops_rd:l,iops_wr:l", "dev 1 2 3 4 5"),
        // info
        case("info registers", "registers", REGISTERS, "-a -a"),
        case("info registers", "registers", REGISTERS, "1 -a"),
        case("info registers", "registers", REGISTERS, "-x"),
        case("info registers", "registers", REGISTERS, "-a"),
        case("info registers", "registers", REGISTERS, "-"),
        case("info  registers", "registers", REGISTERS, "-q"),
        case("info mtree", "mtree", MTREE, "-D -f"),
        case("info mtree", "mtree", MTREE, "-f -D -o"),
        case("info mtree", "mtree", MTREE, "-x"),
        case("info sync-profile", "sync-profile", "mean:-m,no_coalesce:-n,max:i?", "-n -m 5"),
        case("info sync-profile", "sync-profile", "mean:-m,no_coalesce:-n,max:i?", "-m -n 5"),
        case("info trace-events", "trace-events", "name:s?,vcpu:i?", "foo -1"),
        case("info trace-events", "trace-events", "name:s?,vcpu:i?", "foo"),
        case("info block", "block", BLOCK, "-"),
        case("info block", "block", BLOCK, "-x"),
        case("info block", "block", BLOCK, "-v -n"),
        case("info version", "version", "", "x"),
        case("info rocker", "rocker", "name:s", ""),
        case("info virtio-queue-status", "virtio-queue-status", "path:s,queue:i", "p"),
        // No arguments
        case("stop", "stop|s", "", "x"),
        case("c", "cont|c", "", "now"),
        case("system_reset", "system_reset", "", "1"),
        case("nmi", "nmi", "", "0"),
        // O
        case("device_add", "device_add", "device:O", "\"unterminated"),
        case("device_add", "device_add", "device:O", "id=1x"),
        case("device_add", "device_add", "device:O", "\"e1000,id=a b\""),
        case("device_add", "device_add", "device:O", "e1000,id="),
        case("device_add", "device_add", "device:O", "a b"),
        case("device_add", "device_add", "device:O", "e1000,id=x,foo=bar,,baz,flag,noflag"),
        case("device_add", "device_add", "device:O", ","),
        case("device_add", "device_add", "device:O", ""),
        case("device_add", "device_add", "device:O", "\"e1000,\\q\""),
        case("netdev_add", "netdev_add", "netdev:O", "user,id=9"),
    ]
}

/// Lines for `-M pc -S` (an x86 CPU, I/O ports).
fn pc_cases() -> Vec<Case> {
    vec![
        case("x", "x", X, "$pc"),
        case("x", "x", X, "$foo"),
        case("p", "print|p", P, "$pc + 1"),
        case("p", "print|p", P, "$eax * 2"),
        case("p", "print|p", P, "$pc.a_b"),
        case("i", "i", "fmt:/,addr:i,index:i.", "0x60 ."),
        case("i", "i", "fmt:/,addr:i,index:i.", "0x60 1"),
        case("i", "i", "fmt:/,addr:i,index:i.", "-1"),
        case("i", "i", "fmt:/,addr:i,index:i.", "/q 1"),
        case("i", "i", "fmt:/,addr:i,index:i.", "0x60.1"),
        case("i", "i", "fmt:/,addr:i,index:i.", "/b 0x60"),
        case("i", "i", "fmt:/,addr:i,index:i.", "0x60 .  "),
        case("o", "o", "fmt:/,addr:i,val:i", "0x80"),
        case("o", "o", "fmt:/,addr:i,val:i", "0x80 -1"),
        case("info lapic", "lapic", "apic-id:i?", "-1"),
        case(
            "mce",
            "mce",
            "broadcast:-b,cpu_index:i,bank:i,status:l,mcg_status:l,addr:l,misc:l",
            "-b",
        ),
    ]
}

/// The registers QEMU's x86 CPU answers to, enough for [`pc_cases`].
fn x86(name: &str) -> Option<i64> {
    [
        "pc", "eax", "ebx", "ecx", "edx", "esp", "ebp", "esi", "edi", "eflags",
    ]
    .contains(&name)
    .then_some(0)
}

/// A QEMU process, killed when dropped.
struct Qemu {
    child: Child,
    dir: PathBuf,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn start(qemu: &Path, tag: &str, machine: &[&str]) -> (Qemu, Client) {
    let dir = std::env::temp_dir().join(format!("hmp-args-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let socket = dir.join("qmp.sock");
    let child = Command::new(qemu)
        .args(machine)
        .args(["-accel", "tcg", "-display", "none", "-nodefaults", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start QEMU");
    let mut qemu = Qemu { child, dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut client = loop {
        match Client::connect_unix(&socket) {
            Ok(client) => break client,
            Err(e) => {
                if let Ok(Some(status)) = qemu.child.try_wait() {
                    panic!("QEMU ({tag}) exited: {status}");
                }
                assert!(
                    Instant::now() < deadline,
                    "QEMU ({tag}) does not listen: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    client.negotiate().expect("qmp_capabilities");
    (qemu, client)
}

/// Runs every case on a fresh QEMU; returns the mismatches.
fn run(
    qemu: &Path,
    tag: &str,
    machine: &[&str],
    cases: &[Case],
    regs: &dyn Registers,
) -> Vec<String> {
    let (_guard, mut client) = start(qemu, tag, machine);
    let mut failures = Vec::new();
    for c in cases {
        let line = format!("{} {}", c.typed, c.rest);
        let answer = client
            .execute("human-monitor-command", json!({ "command-line": line }))
            .unwrap_or_else(|e| panic!("{tag}: {line:?}: {e}"));
        let qemu_text = answer.as_str().unwrap_or_default().to_owned();
        let spec = ArgsType::parse(c.spec).unwrap_or_else(|e| panic!("{}: {e}", c.spec));
        let try_help = format!("Try \"help {}\" for more information\r\n", c.typed);
        match spec.parse_line(c.name, c.rest, regs) {
            Err(e) => {
                let ours = e.monitor_text().replace('\n', "\r\n") + &try_help;
                if ours != qemu_text {
                    failures.push(format!(
                        "{tag}: {line:?}\n  qemu: {qemu_text:?}\n  ours: {ours:?}"
                    ));
                }
            }
            Ok(args) => {
                if qemu_text.contains("Try \"help") {
                    failures.push(format!(
                        "{tag}: {line:?}\n  qemu: {qemu_text:?}\n  ours: accepted {args:?}"
                    ));
                }
            }
        }
    }
    failures
}

#[test]
fn argument_errors_match_qemu_7_2() {
    let Some(qemu) = find_in_path(QEMU) else {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!(
                "{QEMU} not found on PATH; CI must run the differential tests (install QEMU 7.2)"
            );
        }
        eprintln!("SKIPPED: {QEMU} not found on PATH; args_type differential test not run");
        return;
    };
    let none = no_machine_cases();
    let pc = pc_cases();
    let mut failures = run(&qemu, "none", &["-machine", "none"], &none, &NoCpu);
    failures.extend(run(&qemu, "pc", &["-M", "pc", "-S"], &pc, &x86));
    assert!(
        failures.is_empty(),
        "{} of {} lines differ from QEMU:\n{}",
        failures.len(),
        none.len() + pc.len(),
        failures.join("\n")
    );
    eprintln!("{} lines agree with QEMU", none.len() + pc.len());
}
