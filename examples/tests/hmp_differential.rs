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
