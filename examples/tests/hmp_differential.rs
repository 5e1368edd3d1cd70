//! The human monitor through `human-monitor-command`, side by side with
//! QEMU 7.2: help lines, `info version|status|name`, errors.

mod util;

use std::path::Path;
use std::time::Duration;

use monitor_core::client::Client;
use serde_json::json;

fn hmp_session(socket: &Path, lines: &[&str]) -> Vec<String> {
    let mut client = Client::connect_unix(socket).expect("connect");
    client.set_timeout(Duration::from_secs(30));
    client.negotiate().expect("negotiate");
    lines
        .iter()
        .map(|line| {
            let out = client
                .execute("human-monitor-command", json!({ "command-line": line }))
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            out.as_str().expect("text").to_owned()
        })
        .collect()
}

#[test]
fn human_monitor_answers_as_qemu_does() {
    let Some(pair) = util::Pair::start() else {
        return;
    };
    let (qemu, ours) = pair.sockets();
    let lines = [
        "help quit",
        "help stop",
        "help cont",
        "help c",
        "help help",
        "help bogus",
        "bogus",
        "info bogus",
        "info status",
        "info name",
        "stop",
        "info status",
        "cont",
        "info status",
        "stop now",
        "info status 1",
        "cont -f",
        "",
        "   ",
    ];
    let q = hmp_session(qemu, &lines);
    let o = hmp_session(ours, &lines);
    for ((line, q), o) in lines.iter().zip(&q).zip(&o) {
        assert_eq!(o, q, "`{line}`: ours (left) differs from QEMU's (right)");
    }
    // `minimal` has no system_reset or system_powerdown QMP command, so
    // its human monitor has neither (QEMU, which has both, lists them).
    let q = hmp_session(qemu, &["help system_reset"]);
    assert_eq!(q[0], "system_reset  -- reset the system\r\n");
    let o = hmp_session(ours, &["help system_reset", "system_powerdown", "help"]);
    assert_eq!(o[0], "unknown command: 'system_reset'\r\n");
    assert_eq!(o[1], "unknown command: 'system_powerdown'\r\n");
    assert!(o[2].contains("stop|s  -- stop emulation\r\n"), "{}", o[2]);
    assert!(!o[2].contains("system_"), "{}", o[2]);
    // Same shape, different numbers: "MAJOR.MINOR.MICROpackage\r\n".
    let shape = |s: &str| {
        let t = s.strip_suffix("\r\n").expect("one line");
        let numbers: Vec<&str> = t.splitn(3, '.').collect();
        numbers.len() == 3
            && numbers[0].parse::<u32>().is_ok()
            && numbers[1].parse::<u32>().is_ok()
            && numbers[2].starts_with(|c: char| c.is_ascii_digit())
    };
    let q = hmp_session(qemu, &["info version"]);
    let o = hmp_session(ours, &["info version"]);
    assert!(shape(&q[0]), "QEMU: {:?}", q[0]);
    assert!(shape(&o[0]), "ours: {:?}", o[0]);
}

/// `memsave`, `pmemsave`, `getfd` and `closefd`: QEMU 7.2's `args_type`,
/// help and error texts, on a machine without CPUs or RAM (`-machine
/// none`, `minimal`). Neither has a CPU, so `memsave` stops at "No CPU
/// available"; human-monitor-command passes no descriptor, so `getfd`
/// fails as QEMU's does.
#[test]
fn memory_and_descriptor_commands_answer_as_qemu_does() {
    let Some(pair) = util::Pair::start() else {
        return;
    };
    let (qemu, ours) = pair.sockets();
    let lines = [
        "help memsave",
        "help pmemsave",
        "help getfd",
        "help closefd",
        "memsave",
        "memsave 0",
        "memsave 0 10",
        "memsave 0x0 x /tmp/x",
        "memsave 0 10 f",
        "memsave 0 10 f g",
        "memsave 0 0x100000000 f",
        "memsave 0 -1 f",
        "memsave 0 10 \"/nonexistent/dir/x\"",
        "pmemsave",
        "pmemsave 0",
        "pmemsave 0 10",
        "pmemsave 0x0 x /tmp/x",
        "pmemsave 0 0x1ffffffff f",
        "pmemsave 0 10 f g",
        "pmemsave 0 10 \"/nonexistent/dir/x\"",
        "getfd",
        "getfd foo",
        "getfd \"a b\"",
        "getfd a b",
        "closefd",
        "closefd foo",
        "closefd a b",
    ];
    let q = hmp_session(qemu, &lines);
    let o = hmp_session(ours, &lines);
    for ((line, q), o) in lines.iter().zip(&q).zip(&o) {
        assert_eq!(o, q, "`{line}`: ours (left) differs from QEMU's (right)");
    }
    // The success path: both write 10 bytes of unassigned memory (zeros).
    let dir = qemu.parent().expect("the servers' directory");
    let saved = |server: &Path, name: &str| {
        let path = dir.join(name);
        let line = format!("pmemsave 0x1000 10 \"{}\"", path.display());
        let out = hmp_session(server, &[&line]);
        (out, std::fs::read(&path).expect("the file pmemsave wrote"))
    };
    let q = saved(qemu, "qemu.pmem");
    let o = saved(ours, "ours.pmem");
    assert_eq!(o, q);
    assert_eq!(q.1, [0u8; 10]);
}

/// Runs `human-monitor-command` with raw arguments: its text, or the
/// error's description.
fn passthrough(client: &mut Client, arguments: serde_json::Value) -> Result<String, String> {
    match client.execute("human-monitor-command", arguments) {
        Ok(text) => Ok(text.as_str().expect("text").to_owned()),
        Err(monitor_core::client::ClientError::Command { desc, .. }) => Err(desc),
        Err(e) => panic!("{e}"),
    }
}

/// `human-monitor-command` checks its arguments in QEMU's order
/// (`command-line`, then `cpu-index`, then unexpected members) and only
/// then whether `cpu-index` names a CPU: neither QEMU's `-machine none`
/// nor `minimal` has one.
#[test]
fn human_monitor_command_checks_arguments_and_cpus_as_qemu_does() {
    let Some(pair) = util::Pair::start() else {
        return;
    };
    let (qemu, ours) = pair.sockets();
    let cases = [
        json!({}),
        json!({"cpu-index": "x"}),
        json!({"cpu-index": 0}),
        json!({"bogus": 1}),
        json!({"command-line": 1, "cpu-index": "x"}),
        json!({"command-line": null}),
        json!({"command-line": "info status", "cpu-index": 0}),
        json!({"command-line": "info status", "cpu-index": -1}),
        json!({"command-line": "info status", "cpu-index": 9223372036854775807_i64}),
        json!({"command-line": "info status", "cpu-index": 18446744073709551615_u64}),
        json!({"command-line": "info status", "cpu-index": "x"}),
        json!({"command-line": "info status", "cpu-index": 1.5}),
        json!({"command-line": "info status", "cpu-index": null}),
        json!({"command-line": "info status", "cpu-index": 0, "bogus": 1}),
        json!({"command-line": "info status", "cpu-index": "x", "bogus": 1}),
        json!({"command-line": "info status", "bogus": 1}),
        json!({"command-line": "bogus", "cpu-index": 0}),
        json!({"command-line": "quit", "cpu-index": 0}),
        json!({"command-line": "memsave 0 10 f", "cpu-index": 0}),
        json!({"command-line": "info status"}),
    ];
    let connect = |socket: &Path| {
        let mut client = Client::connect_unix(socket).expect("connect");
        client.set_timeout(Duration::from_secs(30));
        client.negotiate().expect("negotiate");
        client
    };
    let (mut q, mut o) = (connect(qemu), connect(ours));
    for arguments in cases {
        let theirs = passthrough(&mut q, arguments.clone());
        let mine = passthrough(&mut o, arguments.clone());
        assert_eq!(
            mine, theirs,
            "{arguments}: ours (left) differs from QEMU's (right)"
        );
    }
}
