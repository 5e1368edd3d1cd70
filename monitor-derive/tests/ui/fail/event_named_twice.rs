use monitor_core::Event;

#[derive(serde::Serialize, monitor_core::Schema, Event)]
#[event(name = "A", name = "B")]
struct Twice;

fn main() {}
