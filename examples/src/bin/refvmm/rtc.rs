//! The real-time clock's QMP side: the `RTC_CHANGE` event and
//! `rtc-reset-reinjection`.

use monitor_core::qmp_command;

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
