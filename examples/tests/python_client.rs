//! The reference Python client (`qemu.qmp`, what QEMU's own tooling uses)
//! talks to the `minimal` example over a unix socket.

mod util;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use util::Minimal;

use serde_json::{json, Value as Json};

/// How long the script may take to finish.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Between two polls of a condition that has no notification.
const POLL: Duration = Duration::from_millis(10);

/// Whether `qemu.qmp` can be imported; without it the test skips locally
/// and fails in CI.
fn python_has_qemu_qmp() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import qemu.qmp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        let ci = std::env::var("CI").unwrap_or_default();
        assert!(
            ci.is_empty(),
            "python3 with the qemu.qmp module is required in CI (pip install qemu-qmp)"
        );
        println!("SKIPPED: python module qemu.qmp not installed");
    }
    available
}

/// Runs the script to completion, killing it at the deadline.
fn run_script(script: &Path, socket: &Path) -> Output {
    let mut child = Command::new("python3")
        .arg(script)
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    while child.try_wait().expect("poll python3").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect python3");
            panic!(
                "the script did not finish within {SCRIPT_TIMEOUT:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(POLL);
    }
    child.wait_with_output().expect("collect python3")
}

#[test]
fn qemu_qmp_negotiates_oob_runs_queries_and_receives_heartbeat() {
    if !python_has_qemu_qmp() {
        return;
    }
    let minimal = Minimal::spawn();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/qemu_qmp_session.py");
    let output = run_script(&script, &minimal.socket);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the script failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let facts: Json = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("the script printed no JSON ({e}):\n{stdout}\n{stderr}"));

    let greeting = &facts["greeting"]["QMP"];
    assert_eq!(greeting["capabilities"], json!(["oob"]));
    assert_eq!(
        greeting["version"],
        json!({"qemu": {"micro": 0, "minor": 1, "major": 0}, "package": "minimal"})
    );
    // The client enabled oob: the server treats exec-oob as a request form
    // only in sessions that negotiated it ("... is unexpected" otherwise).
    assert_eq!(
        facts["exec_oob"],
        "GenericError: The command query-status does not support OOB"
    );

    assert_eq!(facts["version"], greeting["version"]);
    let commands: Vec<&str> = facts["commands"]
        .as_array()
        .expect("a list of names")
        .iter()
        .map(|c| c.as_str().expect("a name"))
        .collect();
    for expected in [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "quit",
        "query-status",
        "query-name",
    ] {
        assert!(
            commands.contains(&expected),
            "{expected} missing from {commands:?}"
        );
    }
    assert_eq!(
        facts["status"],
        json!({"status": "running", "singlestep": false, "running": true})
    );

    // Three commands in flight: all answered; the out-of-band ping first,
    // the query queued behind the sleep last.
    let concurrent = &facts["concurrent"];
    assert_eq!(concurrent["results"][0], json!({}));
    assert_eq!(concurrent["results"][1], json!({}));
    assert_eq!(concurrent["results"][2], greeting["version"]);
    assert_eq!(
        concurrent["finished"],
        json!(["x-ping", "x-sleep", "query-version"])
    );

    // human-monitor-command answers with QEMU's text shape (QEMU 7.2 says
    // "7.2.22Debian 1:7.2+dfsg-...\r\n": numbers, then the package).
    assert_eq!(facts["hmp_version"], "0.1.0minimal\r\n");

    let event = &facts["event"];
    assert_eq!(event["event"], "HEARTBEAT");
    assert!(
        event["data"]["count"].as_u64().is_some_and(|n| n >= 1),
        "bad HEARTBEAT data: {event}"
    );
    assert!(event["timestamp"]["seconds"]
        .as_i64()
        .is_some_and(|s| s > 0));
    assert!(event["timestamp"]["microseconds"]
        .as_i64()
        .is_some_and(|us| (0..1_000_000).contains(&us)));
}
