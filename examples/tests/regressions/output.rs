//! Defects 3 and 7: output and events.
//!
//! 3. A client reading at full speed was disconnected: unsent response
//!    bytes counted toward the 16 MiB output limit, checked after one
//!    write attempt right after an event batch. Now responses never count,
//!    and only a client that takes nothing for the drain timeout while
//!    over the limit is disconnected.
//! 7. More than 65,536 events emitted before the monitor thread drained
//!    them dropped the oldest, for every client. Now the queue is bounded
//!    in bytes (128 MiB) and events are kept once in a log every client
//!    reads from, so none is lost while clients read.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// The longest a reader waits for the end of a burst (a million events
/// in a debug build take a while); reaching it is a failure.
const LONG: Duration = Duration::from_secs(300);

use super::harness::{negotiated, peak_rss_mib, report_longest_turn, wait_until, Probe, TIMEOUT};
use super::util::Minimal;

/// A negotiated client that reads at full speed, counting the lines it
/// gets that contain `needle`, until it sees a line containing `stop`.
/// Returns the count and the last line before `stop`.
fn read_until(mut stream: UnixStream, needle: &[u8], stop: &[u8]) -> (u64, Vec<u8>) {
    let mut count = 0;
    let mut line = Vec::new();
    let mut last = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let deadline = Instant::now() + LONG;
    loop {
        assert!(
            Instant::now() < deadline,
            "no {stop:?} within {LONG:?}: {count} lines seen"
        );
        let n = match stream.read(&mut buf) {
            Ok(0) => panic!("disconnected after {count} lines"),
            Ok(n) => n,
            Err(e) => panic!("read failed after {count} lines: {e}"),
        };
        // Line by line, without a copy per byte: on two cores the readers'
        // own work would otherwise slow the probe they run beside.
        let mut rest = &buf[..n];
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&rest[..=end]);
            rest = &rest[end + 1..];
            if contains(&line, stop) {
                return (count, last);
            }
            if contains(&line, needle) {
                count += 1;
                std::mem::swap(&mut last, &mut line);
            }
            line.clear();
        }
        line.extend_from_slice(rest);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn request(stream: &mut UnixStream, value: Json) {
    stream
        .write_all(value.to_string().as_bytes())
        .expect("send a request");
}

/// A negotiated raw stream on `socket`.
fn raw_client(socket: &Path) -> UnixStream {
    let (stream, reader) = negotiated(socket);
    drop(reader);
    stream
}

/// From a client whose output is read and thrown away (so that it
/// drains): `x-bench-events` with `arguments`, then one `END` event, which
/// is emitted after the burst (in-band requests run in order).
fn burst_then_end(socket: &Path, arguments: Json) {
    let mut driver = raw_client(socket);
    let mut sink = driver.try_clone().expect("clone");
    thread::spawn(move || std::io::copy(&mut sink, &mut std::io::sink()));
    request(
        &mut driver,
        json!({"execute": "x-bench-events", "arguments": arguments}),
    );
    request(
        &mut driver,
        json!({"execute": "x-bench-events", "arguments": {"count": 1, "event": "END"}}),
    );
    // The connection stays open after `driver` is dropped: the reading
    // thread holds a descriptor of the same socket.
}

#[test]
fn defect_03_a_reading_client_survives_a_20_mib_answer_and_an_event() {
    let mut minimal = Minimal::spawn_with(&["-x-stats"], "warn");
    let probe = Probe::start(&minimal.socket);
    let mut client = raw_client(&minimal.socket);
    let reader = client.try_clone().expect("clone");
    let id = "i".repeat(20 << 20);
    request(&mut client, json!({"execute": "query-version", "id": id}));
    request(
        &mut client,
        json!({"execute": "x-bench-events", "arguments": {"count": 1, "event": "AFTER"}}),
    );
    request(&mut client, json!({"execute": "x-ping", "id": "last"}));
    let reading = thread::spawn(move || read_until(reader, b"\"AFTER\"", b"\"last\""));
    let (events, _) = reading.join().expect("the reader was disconnected");
    assert_eq!(events, 1, "the event after the large answer");
    probe.finish_ok("20 MiB answer then an event");
    report_longest_turn(&mut minimal, "20 MiB answer then an event");
}

#[test]
fn defect_03_readers_survive_an_event_burst_over_the_output_limit() {
    let mut minimal = Minimal::spawn_with(&["-x-stats"], "warn");
    let probe = Probe::start(&minimal.socket);
    // 60,000 events of about 500 bytes: about 30 MiB, twice the limit.
    const COUNT: u64 = 60_000;
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let stream = raw_client(&minimal.socket);
            thread::spawn(move || read_until(stream, b"\"BURST\"", b"\"END\""))
        })
        .collect();
    burst_then_end(
        &minimal.socket,
        json!({"count": COUNT, "event": "BURST", "data": {"pad": "p".repeat(400)}}),
    );
    for reader in readers {
        let (events, _) = reader.join().expect("a reader was disconnected");
        assert_eq!(events, COUNT);
    }
    probe.finish_ok("30 MiB event burst");
    report_longest_turn(&mut minimal, "30 MiB event burst");
}

#[test]
fn defect_03_a_client_that_never_reads_is_disconnected_and_no_other() {
    let mut minimal = Minimal::spawn_with(&["-x-stats"], "warn");
    let probe = Probe::start(&minimal.socket);
    let idle = raw_client(&minimal.socket);
    let reader = raw_client(&minimal.socket);
    let reading = thread::spawn(move || read_until(reader, b"\"BURST\"", b"\"END\""));
    burst_then_end(
        &minimal.socket,
        json!({"count": 60_000, "event": "BURST", "data": {"pad": "p".repeat(400)}}),
    );
    assert_eq!(
        reading.join().expect("the reader was disconnected").0,
        60_000
    );
    // The idle client is over the limit and takes nothing: after the drain
    // timeout it is disconnected (reading it before would make it drain).
    assert!(
        wait_until(TIMEOUT, || minimal.log().contains("output limit exceeded")),
        "the idle client was not disconnected: {}",
        minimal.log()
    );
    idle.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut sink = Vec::new();
    let closed = (&idle).read_to_end(&mut sink);
    assert!(closed.is_ok(), "the idle client was not closed: {closed:?}");
    // Only the client that never reads.
    assert_eq!(
        minimal.log().matches("output limit exceeded").count(),
        1,
        "{}",
        minimal.log()
    );
    probe.finish_ok("a client that never reads");
    report_longest_turn(&mut minimal, "a client that never reads");
}

#[test]
fn defect_07_a_million_events_reach_eight_readers_in_order() {
    let mut minimal = Minimal::spawn_with(&["-x-stats"], "warn");
    let probe = Probe::start(&minimal.socket);
    const COUNT: u64 = 1_000_000;
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let stream = raw_client(&minimal.socket);
            thread::spawn(move || read_until(stream, b"\"BENCH\"", b"\"END\""))
        })
        .collect();
    burst_then_end(&minimal.socket, json!({"count": COUNT}));
    for reader in readers {
        let (events, last) = reader.join().expect("a reader was disconnected");
        assert_eq!(events, COUNT, "every event, none dropped");
        let last: Json = serde_json::from_slice(&last).expect("an event line");
        assert_eq!(last["event"], "BENCH");
    }
    let peak = peak_rss_mib(minimal.pid());
    eprintln!("a million events to eight readers: peak RSS {peak} MiB");
    // docs/LIMITS.md: events are held once, at most 128 MiB queued plus
    // 128 MiB in the log.
    assert!(peak < 400, "peak RSS {peak} MiB");
    probe.finish_ok("a million events");
    report_longest_turn(&mut minimal, "a million events");
}
