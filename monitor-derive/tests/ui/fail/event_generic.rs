use monitor_core::Event;
use serde::Serialize;

#[derive(Serialize, Event)]
struct Changed<T> {
    value: T,
}

fn main() {}
