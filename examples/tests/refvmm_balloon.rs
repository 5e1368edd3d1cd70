//! The reference VMM's virtio balloon through QMP and HMP: the firmware's
//! driver inflates and deflates to the target `balloon` sets, and
//! `BALLOON_CHANGE` (throttled to one a second, QEMU's policy) and
//! `query-balloon` report what the guest did. Without a balloon device
//! every command answers as QEMU 7.2 does (the expected texts below were
//! taken from QEMU 7.2.22: `-machine none` for the missing device,
//! `-M pc -device virtio-balloon` for the rest).
//! Skipped (with a message) only where /dev/kvm is missing; CI never skips.

mod util;

use monitor_core::client::{Client, ClientError};
use serde_json::{json, Value};
use util::vmm::{kvm_available, Vmm};

const MIB: u64 = 1 << 20;
const RAM: u64 = 128 * MIB;
const READY: &str = "virtio balloon ready";

fn hmp(qmp: &mut Client, line: &str) -> String {
    qmp.execute("human-monitor-command", json!({ "command-line": line }))
        .unwrap()
        .as_str()
        .expect("HMP answers text")
        .to_owned()
}

fn error(e: ClientError) -> (String, String) {
    match e {
        ClientError::Command { class, desc } => (class, desc),
        other => panic!("not a command error: {other}"),
    }
}

/// The event's timestamp, in seconds.
fn timestamp(event: &Value) -> f64 {
    let t = &event["timestamp"];
    t["seconds"].as_f64().expect("seconds")
        + t["microseconds"].as_f64().expect("microseconds") / 1e6
}

/// Reads BALLOON_CHANGE events until one reports `actual`; returns them
/// all. The guest moves in steps of at most 4 MiB, so every value on the
/// way lies between the start and `actual`.
fn balloon_changes_until(qmp: &mut Client, from: u64, actual: u64) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = qmp.wait_event("BALLOON_CHANGE").expect("a BALLOON_CHANGE");
        let value = event["data"]["actual"].as_u64().expect("actual");
        assert_eq!(value % 4096, 0, "{event}");
        assert!(
            (value >= from.min(actual)) && (value <= from.max(actual)),
            "{value} is not between {from} and {actual}: {event}"
        );
        seen.push(event);
        if value == actual {
            return seen;
        }
    }
}

#[test]
fn balloon_inflates_and_deflates_to_the_target() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&["-device", "virtio-balloon"]);
    let mut qmp = vmm.client();
    vmm.wait_serial("the balloon driver", |s| s.contains(READY));
    assert_eq!(
        qmp.execute("query-balloon", json!({})).unwrap(),
        json!({ "actual": RAM })
    );

    // 64 MiB below RAM: the guest gives 64 MiB, in 4 MiB steps.
    let target = RAM - 64 * MIB;
    assert_eq!(
        qmp.execute("balloon", json!({ "value": target })).unwrap(),
        json!({})
    );
    let events = balloon_changes_until(&mut qmp, RAM, target);
    // The guest changed `actual` sixteen times, within a fraction of a
    // second. Throttled, the first goes out at once and each period's last
    // one when the period ends: far fewer than sixteen arrive, and they
    // carry the guest's own timestamps, in order.
    assert!(
        events.len() < 16,
        "{} BALLOON_CHANGE events: not throttled",
        events.len()
    );
    for pair in events.windows(2) {
        assert!(timestamp(&pair[1]) > timestamp(&pair[0]), "{pair:?}");
    }
    assert_eq!(
        qmp.execute("query-balloon", json!({})).unwrap(),
        json!({ "actual": target })
    );
    assert_eq!(hmp(&mut qmp, "info balloon"), "balloon: actual=64\r\n");

    // HMP `balloon` takes MiB: deflate to 100 MiB.
    assert_eq!(hmp(&mut qmp, "balloon 100"), "");
    balloon_changes_until(&mut qmp, target, 100 * MIB);
    assert_eq!(
        qmp.execute("query-balloon", json!({})).unwrap(),
        json!({ "actual": 100 * MIB })
    );

    // More than RAM means an empty balloon, as in QEMU.
    qmp.execute("balloon", json!({ "value": 1u64 << 40 }))
        .unwrap();
    balloon_changes_until(&mut qmp, 100 * MIB, RAM);

    // The guest kept running throughout.
    let status = qmp.execute("query-status", json!({})).unwrap();
    assert_eq!(status["status"], "running");
}

#[test]
fn bad_targets_are_refused_as_qemu_does() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&["-device", "virtio-balloon", "-S"]);
    let mut qmp = vmm.client();
    for value in [0i64, -5] {
        let e = qmp
            .execute("balloon", json!({ "value": value }))
            .unwrap_err();
        assert_eq!(
            error(e),
            (
                "GenericError".to_owned(),
                "Parameter 'target' expects a size".to_owned()
            )
        );
    }
    assert_eq!(
        hmp(&mut qmp, "balloon 0"),
        "Error: Parameter 'target' expects a size\r\n"
    );
    // Nothing asked of the guest: it still has all its RAM.
    assert_eq!(hmp(&mut qmp, "info balloon"), "balloon: actual=128\r\n");
    assert_eq!(
        hmp(&mut qmp, "help balloon"),
        "balloon target -- request VM to change its memory allocation (in MB)\r\n"
    );
}

#[test]
fn without_a_balloon_device_the_commands_say_so() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&["-S"]);
    let mut qmp = vmm.client();
    let not_active = (
        "DeviceNotActive".to_owned(),
        "No balloon device has been activated".to_owned(),
    );
    assert_eq!(
        error(qmp.execute("query-balloon", json!({})).unwrap_err()),
        not_active
    );
    assert_eq!(
        error(qmp.execute("balloon", json!({ "value": 1 })).unwrap_err()),
        not_active
    );
    assert_eq!(
        hmp(&mut qmp, "info balloon"),
        "Error: No balloon device has been activated\r\n"
    );
    assert_eq!(
        hmp(&mut qmp, "balloon 64"),
        "Error: No balloon device has been activated\r\n"
    );
}
