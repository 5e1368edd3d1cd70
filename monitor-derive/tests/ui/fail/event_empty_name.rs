use monitor_core::{Event, Schema};
use serde::Serialize;

#[derive(Serialize, Schema, Event)]
#[event(name = "")]
struct RtcChange {
    offset: i64,
}

fn main() {}
