//! `minimal`'s x-sleep (answered later, from another thread) and x-ping
//! (allowed out of band) over a real socket.

mod util;

use std::time::Duration;

use monitor_core::client::Client;
use serde_json::json;

fn client(minimal: &util::Minimal) -> Client {
    let mut c = Client::connect_unix(&minimal.socket).expect("connect");
    c.set_timeout(Duration::from_secs(20));
    c.negotiate().expect("negotiate");
    c
}

/// The next message that is not a HEARTBEAT event.
fn next_answer(c: &mut Client) -> serde_json::Value {
    loop {
        let m = c.read_message().expect("a message");
        if m.get("event").is_none() {
            return m;
        }
    }
}

#[test]
fn a_sleeping_session_holds_back_only_its_own_in_band_commands() {
    let minimal = util::Minimal::spawn();
    let mut a = client(&minimal);
    let mut b = client(&minimal);
    a.send_raw(br#"{"execute": "x-sleep", "arguments": {"ms": 300}, "id": "sleep"}{"execute": "query-version", "id": "after"}"#)
        .expect("send");
    // Session B is answered while A sleeps.
    let version = b.execute("query-version", json!({})).expect("B's query");
    assert_eq!(version["package"], "minimal");
    // A's out-of-band ping overtakes its sleeping command.
    a.send_raw(br#"{"exec-oob": "x-ping", "id": "ping"}"#)
        .expect("send");
    assert_eq!(next_answer(&mut a), json!({"return": {}, "id": "ping"}));
    // Then the sleep, then the command queued behind it, in order.
    assert_eq!(next_answer(&mut a), json!({"return": {}, "id": "sleep"}));
    let after = next_answer(&mut a);
    assert_eq!(after["id"], "after");
    assert_eq!(after["return"]["package"], "minimal");
}

#[test]
fn x_sleep_checks_its_arguments_first() {
    let minimal = util::Minimal::spawn();
    let mut a = client(&minimal);
    let err = a.execute("x-sleep", json!({"ms": "x"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Parameter 'ms' expects uint64"
    );
    let err = a.execute("x-sleep", json!({})).unwrap_err();
    assert_eq!(err.to_string(), "GenericError: Parameter 'ms' is missing");
}
