//! Every command and event the `minimal` example declares with the macros
//! is found at run time (inventory registrations can be dropped by the
//! linker when nothing references their object file).

mod util;

use std::collections::BTreeSet;
use std::time::Duration;

use monitor_core::client::Client;
use serde_json::json;

fn names(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["name"].as_str().expect("a name").to_owned())
        .collect()
}

#[test]
fn every_declared_command_and_event_is_registered() {
    let minimal = util::Minimal::spawn();
    let mut client = Client::connect_unix(&minimal.socket).expect("connect");
    client.set_timeout(Duration::from_secs(10));
    client.negotiate().expect("negotiate");
    let commands = names(
        &client
            .execute("query-commands", json!({}))
            .expect("query-commands"),
    );
    let expected: BTreeSet<String> = [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "query-events",
        "query-qmp-schema",
        "quit",
        "getfd",
        "closefd",
        "add-fd",
        "remove-fd",
        "query-fdsets",
        "query-status",
        "query-name",
        "x-sleep",
        "x-ping",
        "x-bench-events",
        "x-fd-write",
        "stop",
        "cont",
        "memsave",
        "pmemsave",
        "human-monitor-command",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(commands, expected);
    let events = names(
        &client
            .execute("query-events", json!({}))
            .expect("query-events"),
    );
    assert!(
        events.contains("HEARTBEAT") && events.contains("SHUTDOWN"),
        "{events:?}"
    );
    let status = client
        .execute("query-status", json!({}))
        .expect("query-status");
    assert_eq!(
        status,
        json!({"running": true, "singlestep": false, "status": "running"})
    );
    // x-bench-events goes through the throttle: 50 RTC_CHANGE give one now.
    client
        .execute(
            "x-bench-events",
            json!({"count": 50, "event": "RTC_CHANGE", "data": {"offset": 1}}),
        )
        .expect("x-bench-events");
    client
        .execute("x-bench-events", json!({"count": 3}))
        .expect("x-bench-events");
    let mut names = Vec::new();
    while names.len() < 4 {
        let e = client.next_event().expect("an event");
        if e["event"] != "HEARTBEAT" {
            names.push(e["event"].as_str().expect("a name").to_owned());
        }
    }
    assert_eq!(names, ["RTC_CHANGE", "BENCH", "BENCH", "BENCH"]);
}
