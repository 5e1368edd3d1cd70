//! The real-time clock's QMP side: the `RTC_CHANGE` event,
//! `rtc-reset-reinjection`, and the test hook `x-query-rtc-sets`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use monitor_core::{qmp_command, Schema};
use serde::Serialize;

/// The guest set its real-time clock. Throttled by the monitor to one
/// per second (QEMU's policy for this event name).
#[derive(serde::Serialize, monitor_core::Schema, monitor_core::Event)]
#[event(name = "RTC_CHANGE")]
#[serde(rename_all = "kebab-case")]
pub struct RtcChange {
    /// The RTC's time minus the host's, in seconds.
    pub offset: i64,
    /// The RTC device's QOM path.
    pub qom_path: String,
}

/// The RTC's QOM path, QEMU 7.2's on `-machine pc`: its `mc146818rtc` is
/// the tenth unattached device after the vCPUs (`device[10]` with one
/// vCPU, `device[11]` with two, as `RTC_CHANGE` from QEMU 7.2.22 shows).
pub fn qom_path(vcpus: usize) -> String {
    format!("/machine/unattached/device[{}]", vcpus + 9)
}

/// Reset the RTC's interrupt reinjection backlog. This RTC raises no
/// interrupt, so there is never a backlog: the command just succeeds.
#[qmp_command(name = "rtc-reset-reinjection")]
fn rtc_reset_reinjection() {}

/// How many times the guest has set its clock (each one an `RTC_CHANGE`
/// before the throttle): shared by the machine watcher, which counts, and
/// `x-query-rtc-sets`, which reads.
#[derive(Debug, Clone, Default)]
pub struct RtcSets(Arc<AtomicU64>);

impl RtcSets {
    /// One more.
    pub fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// `x-query-rtc-sets`'s answer.
#[derive(Serialize, Schema)]
pub struct RtcSetsInfo {
    /// Clock sets by the guest since the VMM started.
    sets: u64,
}

/// How many times the guest has set its real-time clock: a test hook, to
/// compare with the `RTC_CHANGE` events that got through the throttle.
#[qmp_command(name = "x-query-rtc-sets")]
fn x_query_rtc_sets(sets: &RtcSets) -> RtcSetsInfo {
    RtcSetsInfo {
        sets: sets.0.load(Ordering::Relaxed),
    }
}
