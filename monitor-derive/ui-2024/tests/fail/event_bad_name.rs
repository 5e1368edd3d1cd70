use monitor_core::{Event, Schema};
use serde::Serialize;

#[derive(Serialize, Schema, Event)]
#[event(name = "RTC CHANGE")]
struct RtcChange {
    offset: i64,
}

fn main() {}
