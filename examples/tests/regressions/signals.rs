//! Defect 10: SIGTERM, SIGINT and SIGHUP killed the binaries by the default
//! action (no SHUTDOWN, socket files left). Now: SHUTDOWN with reason
//! `host-signal`, the socket file removed, exit status 0, as QEMU.

use rustix::process::{kill_process, Pid, Signal};
use serde_json::json;

use super::harness::{negotiated, read_json, TIMEOUT};
use super::util::Minimal;

fn signal_shuts_down_cleanly(signal: Signal) {
    let mut minimal = Minimal::spawn_with(&[], "warn");
    let (_writer, mut reader) = negotiated(&minimal.socket);
    let pid = Pid::from_raw(minimal.pid() as i32).expect("a child's pid is positive");
    kill_process(pid, signal).expect("send the signal");
    let shutdown = loop {
        let message = read_json(&mut reader).expect("SHUTDOWN before the connection closes");
        if message["event"] == "SHUTDOWN" {
            break message;
        }
    };
    assert_eq!(
        shutdown["data"],
        json!({"guest": false, "reason": "host-signal"})
    );
    let status = minimal.wait_exit(TIMEOUT).expect("minimal exits");
    assert_eq!(status.code(), Some(0), "{signal:?}: {status}");
    assert!(
        !minimal.socket.exists(),
        "{signal:?}: the socket file {} is left behind",
        minimal.socket.display()
    );
}

#[test]
fn defect_10_sigterm_emits_shutdown_and_exits_0() {
    signal_shuts_down_cleanly(Signal::TERM);
}

#[test]
fn defect_10_sigint_emits_shutdown_and_exits_0() {
    signal_shuts_down_cleanly(Signal::INT);
}

#[test]
fn defect_10_sighup_emits_shutdown_and_exits_0() {
    signal_shuts_down_cleanly(Signal::HUP);
}
