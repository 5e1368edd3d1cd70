//! Rate limiting end to end, over a socket, in real time.

use monitor_test_util as util;

use util::{wait_until, TIMEOUT};

use std::time::Duration;

use monitor_core::client::Client;
use monitor_core::throttle::Rule;
use monitor_core::{Event, Monitor};
use serde_json::{json, Value};

fn setup(tag: &str) -> (Monitor, Client) {
    let path = std::env::temp_dir().join(format!("mc-throttle-{tag}-{}.sock", std::process::id()));
    let monitor = Monitor::builder().listen_unix(&path).spawn().unwrap();
    let mut client = Client::connect_unix(&path).unwrap();
    client.set_timeout(TIMEOUT);
    client.negotiate().unwrap();
    (monitor, client)
}

/// Reads events up to (not including) the SENTINEL event.
fn events_until_sentinel(client: &mut Client) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let e = client.next_event().unwrap();
        if e["event"] == "SENTINEL" {
            return seen;
        }
        seen.push(e);
    }
}

fn micros(e: &Value) -> i64 {
    e["timestamp"]["seconds"].as_i64().unwrap() * 1_000_000
        + e["timestamp"]["microseconds"].as_i64().unwrap()
}

#[test]
fn a_burst_of_rtc_change_arrives_as_first_and_last_while_others_all_pass() {
    let (monitor, mut client) = setup("burst");
    let emitter = monitor.emitter().clone();
    for i in 0..100 {
        emitter.emit(
            Event::new("RTC_CHANGE")
                .with_data(&json!({"offset": i}))
                .unwrap(),
        );
        emitter.emit(Event::new("BENCH").with_data(&json!({"n": i})).unwrap());
    }
    let emitted_by = monitor_core::Timestamp::now();
    // The kept RTC_CHANGE goes out when the period ends; then nothing is held.
    let mut seen = Vec::new();
    wait_until("the kept RTC_CHANGE to be sent", || {
        while let Ok(e) = client.next_event() {
            let last = e["event"] == "RTC_CHANGE" && e["data"]["offset"] == 99;
            seen.push(e);
            if last {
                return true;
            }
        }
        false
    });
    wait_until("the throttle to hold nothing", || emitter.throttled() == 0);
    emitter.emit(Event::new("SENTINEL"));
    seen.extend(events_until_sentinel(&mut client));

    let rtc: Vec<&Value> = seen.iter().filter(|e| e["event"] == "RTC_CHANGE").collect();
    assert_eq!(rtc.len(), 2, "{rtc:?}");
    assert_eq!(rtc[0]["data"], json!({"offset": 0}));
    assert_eq!(rtc[1]["data"], json!({"offset": 99}));
    // The kept event carries its own timestamp, from the burst.
    let burst_end = emitted_by.seconds * 1_000_000 + emitted_by.microseconds;
    assert!(
        micros(rtc[1]) <= burst_end,
        "timestamp taken when sent, not when emitted"
    );
    assert!(micros(rtc[1]) >= micros(rtc[0]));
    let bench: Vec<i64> = seen
        .iter()
        .filter(|e| e["event"] == "BENCH")
        .map(|e| e["data"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(bench, (0..100).collect::<Vec<_>>());
    monitor.shutdown();
}

#[test]
fn keys_are_throttled_independently_and_policy_changes_apply_at_run_time() {
    let (monitor, mut client) = setup("keys");
    let emitter = monitor.emitter().clone();
    for id in ["a", "b", "a", "b"] {
        emitter.emit(
            Event::new("VSERPORT_CHANGE")
                .with_data(&json!({"id": id, "open": true}))
                .unwrap(),
        );
    }
    // Stop throttling VSERPORT_CHANGE: what was held back is sent now.
    emitter.remove_throttle_rule("VSERPORT_CHANGE");
    emitter.emit(
        Event::new("VSERPORT_CHANGE")
            .with_data(&json!({"id": "a", "open": false}))
            .unwrap(),
    );
    // And start throttling a vendor event.
    emitter.set_throttle_rule("X_TICK", Rule::new(Duration::from_secs(3600)));
    emitter.emit(Event::new("X_TICK"));
    emitter.emit(Event::new("X_TICK"));
    emitter.emit(Event::new("SENTINEL"));
    let seen = events_until_sentinel(&mut client);
    let ids: Vec<(String, bool)> = seen
        .iter()
        .filter(|e| e["event"] == "VSERPORT_CHANGE")
        .map(|e| {
            (
                e["data"]["id"].as_str().unwrap().to_owned(),
                e["data"]["open"].as_bool().unwrap(),
            )
        })
        .collect();
    // a and b pass at once (independent keys); the kept a and b are flushed
    // by the rule removal; the last passes unthrottled.
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(&ids[..2], &[("a".to_owned(), true), ("b".to_owned(), true)]);
    assert_eq!(ids[4], ("a".to_owned(), false));
    assert_eq!(seen.iter().filter(|e| e["event"] == "X_TICK").count(), 1);
    assert_eq!(emitter.throttled(), 1);
    // Turning throttling off sends the held X_TICK.
    emitter.set_throttling(false);
    assert_eq!(client.next_event().unwrap()["event"], "X_TICK");
    monitor.shutdown();
}
