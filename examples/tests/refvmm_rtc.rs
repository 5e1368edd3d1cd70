//! The reference VMM's real-time clock through QMP: the firmware sets its
//! RTC 20 times a second, and `RTC_CHANGE` reaches clients throttled to
//! one a second (QEMU's policy); `rtc-reset-reinjection` answers `{}`.
//! Skipped (with a message) only where /dev/kvm is missing; CI never skips.

mod util;

use serde_json::{json, Value};
use util::vmm::{kvm_available, Vmm};

/// The event's timestamp, in seconds.
fn timestamp(event: &Value) -> f64 {
    let t = &event["timestamp"];
    t["seconds"].as_f64().expect("seconds")
        + t["microseconds"].as_f64().expect("microseconds") / 1e6
}

#[test]
fn rtc_changes_arrive_throttled_to_one_a_second() {
    if !kvm_available() {
        return;
    }
    let mut vmm = Vmm::start(&[]);
    let mut qmp = vmm.client();
    // The guest sets its clock every 50 ms; without the throttle these
    // would be 50 ms apart. With it, the first goes out at once and each
    // period's last one a second later, stamped when the guest made it.
    let events: Vec<Value> = (0..3)
        .map(|_| qmp.wait_event("RTC_CHANGE").expect("an RTC_CHANGE"))
        .collect();
    for event in &events {
        let data = &event["data"];
        assert!(data["offset"].is_i64(), "{event}");
        // QEMU 7.2 with one vCPU says the same.
        assert_eq!(
            data["qom-path"], "/machine/unattached/device[10]",
            "{event}"
        );
    }
    for pair in events.windows(2) {
        let gap = timestamp(&pair[1]) - timestamp(&pair[0]);
        assert!(gap >= 0.9, "RTC_CHANGE events {gap:.3} s apart: {pair:?}");
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
