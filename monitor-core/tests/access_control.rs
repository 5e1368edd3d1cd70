//! Who gets in and for how long: the peer user allow-list (refused before
//! the greeting), the per-listener connection limit, and the capabilities
//! negotiation timeout. Every wait is on a condition, bounded by TIMEOUT.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use monitor_core::client::Client;
use monitor_core::{Monitor, MonitorBuilder};
use monitor_test_util::{read_until_closed, socket_path};
use serde_json::json;

/// How long any single wait may take before it is a failure.
const TIMEOUT: Duration = Duration::from_secs(20);

/// This process's user ID (the owner of `/proc/self`).
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

fn spawn(builder: MonitorBuilder, tag: &str) -> (Monitor, PathBuf) {
    let path = socket_path(tag);
    let monitor = builder.listen_unix(&path).spawn().expect("spawn");
    (monitor, path)
}

/// What the server sent before closing `stream` (failing at [`TIMEOUT`]).
fn closed(stream: UnixStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    read_until_closed(stream)
}

#[test]
fn peer_outside_the_allow_list_is_closed_before_the_greeting() {
    let (monitor, path) = spawn(
        Monitor::builder().allow_uids([my_uid().wrapping_add(1)]),
        "refused",
    );
    let stream = UnixStream::connect(&path).expect("connect");
    let got = closed(stream);
    assert!(
        got.is_empty(),
        "a refused peer received {:?}",
        String::from_utf8_lossy(&got)
    );
    assert_eq!(monitor.stats().sessions, 0);
    monitor.shutdown();
}

#[test]
fn peer_in_the_allow_list_is_greeted() {
    let (monitor, path) = spawn(
        Monitor::builder().allow_uids([my_uid().wrapping_add(1), my_uid()]),
        "allowed",
    );
    let mut client = Client::connect_unix(&path).expect("greeting");
    assert_eq!(client.greeting()["QMP"]["capabilities"], json!(["oob"]));
    client.negotiate().expect("negotiate");
    monitor.shutdown();
}

#[test]
fn clients_beyond_the_listener_limit_are_closed_without_a_greeting() {
    let (monitor, path) = spawn(Monitor::builder().max_connections(2), "limit");
    let mut first = Client::connect_unix(&path).expect("first");
    let _second = Client::connect_unix(&path).expect("second");
    let third = UnixStream::connect(&path).expect("connect");
    assert!(closed(third).is_empty());
    first.negotiate().expect("the first client is still served");
    drop(first);
    // Once the server has seen the first one go, a new client fits.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let stream = UnixStream::connect(&path).expect("connect");
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("set a read timeout");
        let mut byte = [0u8; 1];
        if (&stream).read(&mut byte).expect("read") == 1 {
            assert_eq!(&byte, b"{");
            break;
        }
        assert!(Instant::now() < deadline, "no room after a client left");
    }
    monitor.shutdown();
}

#[test]
fn clients_that_do_not_negotiate_in_time_are_dropped() {
    let (monitor, path) = spawn(
        Monitor::builder().negotiation_timeout(Some(Duration::from_millis(200))),
        "timeout",
    );
    let mut negotiated = Client::connect_unix(&path).expect("connect");
    negotiated.set_timeout(TIMEOUT);
    negotiated.negotiate().expect("negotiate");
    let idle = UnixStream::connect(&path).expect("connect");
    let got = closed(idle);
    assert!(got.starts_with(b"{\"QMP\""), "the idle client was greeted");
    assert_eq!(
        got.iter().filter(|&&b| b == b'\n').count(),
        1,
        "and told nothing else"
    );
    // Past its own deadline, the negotiated client is still served.
    let version = negotiated
        .execute("query-version", json!({}))
        .expect("query-version");
    assert!(version.get("qemu").is_some());
    monitor.shutdown();
}
