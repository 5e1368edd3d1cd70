//! The reference VMM's real-time clock through QMP: the firmware sets its
//! RTC 20 times a second, and `RTC_CHANGE` reaches clients throttled to
//! one a second (QEMU's policy), so many times fewer events arrive than
//! the guest makes; `rtc-reset-reinjection` answers `{}`.
//! Skipped (with a message) only where /dev/kvm is missing; CI never skips.

mod util;

use std::time::{Duration, Instant};

use monitor_core::client::Client;
use serde_json::{json, Value};
use util::vmm::{kvm_available, Vmm, TIMEOUT};

/// The event's timestamp, in seconds.
fn timestamp(event: &Value) -> f64 {
    let t = &event["timestamp"];
    t["seconds"].as_f64().expect("seconds")
        + t["microseconds"].as_f64().expect("microseconds") / 1e6
}

/// Clock sets the guest has made so far (refvmm's test hook).
fn rtc_sets(qmp: &mut Client) -> u64 {
    qmp.execute("x-query-rtc-sets", json!({})).unwrap()["sets"]
        .as_u64()
        .expect("sets")
}

/// The guest sets its clock every 50 ms of PIT time (the PIT runs on host
/// time, so never faster than 20 a second). Unthrottled, each set would
/// reach clients as an RTC_CHANGE. Throttled to one a second, they come
/// one per period: the first at once, then each period's last. The test
/// lets the guest make at least 60 sets (3 s or more), stops it, and
/// counts the events an observer received before the stop: at least two
/// (the first and the first period's last, due 2 s before the stop), and
/// many times fewer than the sets. No wall-clock time is measured.
#[test]
fn rtc_changes_arrive_throttled_to_one_a_second() {
    if !kvm_available() {
        return;
    }
    const SETS: u64 = 60;
    let mut vmm = Vmm::start(&[]);
    // The observer reads nothing until the end: its events wait in order
    // on its socket, before any answer to a later request.
    let mut observer = vmm.client();
    let mut control = vmm.client();
    let deadline = Instant::now() + TIMEOUT;
    while rtc_sets(&mut control) < SETS {
        assert!(
            Instant::now() < deadline,
            "the guest does not set its clock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    control.execute("stop", json!({})).unwrap();
    let sets = rtc_sets(&mut control);

    observer
        .send_raw(br#"{"execute": "query-status", "id": "end"}"#)
        .unwrap();
    let mut events = Vec::new();
    loop {
        let message = observer.read_message().expect("a message");
        if message["id"] == "end" {
            break;
        }
        if message["event"] == "RTC_CHANGE" {
            events.push(message);
        }
    }
    assert!(
        events.len() >= 2,
        "{} RTC_CHANGE events for {sets} clock sets",
        events.len()
    );
    assert!(
        events.len() as u64 * 4 <= sets,
        "{} RTC_CHANGE events for {sets} clock sets: not throttled",
        events.len()
    );
    for event in &events {
        let data = &event["data"];
        assert!(data["offset"].is_i64(), "{event}");
        // QEMU 7.2 with one vCPU says the same.
        assert_eq!(
            data["qom-path"], "/machine/unattached/device[10]",
            "{event}"
        );
    }
    // Each carries the time the guest made it: in order.
    for pair in events.windows(2) {
        assert!(timestamp(&pair[1]) > timestamp(&pair[0]), "{pair:?}");
    }
}

#[test]
fn rtc_reset_reinjection_answers_an_empty_object() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&[]);
    let mut qmp = vmm.client();
    assert_eq!(
        qmp.execute("rtc-reset-reinjection", json!({})).unwrap(),
        json!({})
    );
}
