// Events with and without data; the default name is SCREAMING_SNAKE_CASE.
use monitor_core::Registry;
use monitor_core::schema::SchemaInfo;
use monitor_core::{Event, Schema, TypedEvent};
use serde::Serialize;

/// The guest's RTC changed.
#[derive(Serialize, Schema, Event)]
#[event(name = "RTC_CHANGE")]
struct RtcChange {
    offset: i64,
    #[serde(rename = "qom-path")]
    qom_path: String,
}

#[derive(Serialize, Schema, Event)]
struct GuestPanicked;

#[derive(Serialize, Schema, Event)]
#[event(name = "x-old-event", deprecated)]
struct OldEvent {}

fn main() {
    assert_eq!(RtcChange::NAME, "RTC_CHANGE");
    assert_eq!(GuestPanicked::NAME, "GUEST_PANICKED");
    assert_eq!(OldEvent::NAME, "x-old-event");

    let registry = Registry::with_inventory().unwrap();
    let names: Vec<&str> = registry.events().map(|e| e.name()).collect();
    for name in ["RTC_CHANGE", "GUEST_PANICKED", "x-old-event"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let schema = registry.schema();
    let features = schema
        .iter()
        .find_map(|e| match e {
            SchemaInfo::Event { name, features, .. } if name == "x-old-event" => Some(features),
            _ => None,
        })
        .unwrap();
    assert_eq!(features, &["deprecated"]);

    let _ = RtcChange {
        offset: 0,
        qom_path: String::new(),
    };
}
