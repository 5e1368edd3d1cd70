//! Regressions of the server, each named for what it guards against. The
//! attacks of the hostile-client reviews run against `minimal` in
//! `examples/tests/regressions/`; these drive an in-process monitor.

use std::io::{BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

use monitor_core::{Monitor, VersionInfo};
use monitor_test_util::{socket_path, TIMEOUT};
use serde_json::{json, Value as Json};

/// A monitor on a fresh socket; shut down when dropped.
struct Served {
    monitor: Monitor,
    path: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.monitor.shutdown();
    }
}

fn serve(tag: &str) -> Served {
    let path = socket_path(tag);
    let monitor = Monitor::builder()
        .version(7, 2, 0, "regressions")
        .listen_unix(&path)
        .spawn()
        .expect("spawn");
    Served { monitor, path }
}

/// A negotiated client, as raw lines: the writer and a reader.
fn negotiated(path: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(path).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("greeting");
    assert!(greeting.starts_with("{\"QMP\""), "{greeting}");
    let mut writer = stream;
    writer
        .write_all(br#"{"execute": "qmp_capabilities"}"#)
        .expect("negotiate");
    assert_eq!(line(&mut reader), b"{\"return\": {}}\r\n");
    (writer, reader)
}

fn line(reader: &mut BufReader<UnixStream>) -> Vec<u8> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).expect("a line");
    line
}

/// The answer `query-version` gets here, with `id` written as given.
fn version_answer(id: &str) -> Vec<u8> {
    let mut out = b"{\"return\": ".to_vec();
    monitor_core::wire::to_writer(&mut out, &VersionInfo::new(7, 2, 0, "regressions")).unwrap();
    out.extend_from_slice(format!(", \"id\": {id}}}\r\n").as_bytes());
    out
}

/// Messages of 1 MiB or more are parsed on a worker and their long `id`
/// queued as a buffer of its own: the answer must come out whole, in
/// order with the messages around it, byte for byte as a small one.
#[test]
fn a_long_id_parsed_elsewhere_is_echoed_whole_and_in_order() {
    let served = serve("long-id");
    let (mut writer, mut reader) = negotiated(&served.path);
    let long = format!("\"{}\"", "x".repeat(3 << 20));
    let request = format!(
        r#"{{"execute": "query-version", "id": 1}}{{"execute": "query-version", "id": {long}}}{{"execute": "query-version", "id": 3}}"#
    );
    writer.write_all(request.as_bytes()).expect("send");
    assert_eq!(line(&mut reader), version_answer("1"));
    let answer = line(&mut reader);
    assert!(
        answer == version_answer(&long),
        "the long answer differs ({} bytes, {} expected)",
        answer.len(),
        version_answer(&long).len()
    );
    assert_eq!(line(&mut reader), version_answer("3"));
}

/// A client that half-closes right after a large message still gets its
/// answer: the connection is not closed while the message is parsed
/// elsewhere.
#[test]
fn a_half_closed_client_gets_the_answer_to_a_large_message() {
    let served = serve("half-close");
    let (mut writer, mut reader) = negotiated(&served.path);
    let long = format!("\"{}\"", "y".repeat(2 << 20));
    let request = format!(r#"{{"execute": "query-version", "id": {long}}}"#);
    writer.write_all(request.as_bytes()).expect("send");
    writer.shutdown(Shutdown::Write).expect("half-close");
    assert!(line(&mut reader) == version_answer(&long));
    // Then end of file: nothing else is left to answer.
    assert!(line(&mut reader).is_empty());
}

/// `query-commands`, `query-events` and `query-qmp-schema` are ordinary
/// handlers, and `qmp_capabilities` the session's own: all four must
/// still be listed and answer as before.
#[test]
fn the_built_ins_are_listed_and_answer() {
    let served = serve("built-ins");
    let (mut writer, mut reader) = negotiated(&served.path);
    let mut ask = |request: Json| -> Json {
        writer
            .write_all(request.to_string().as_bytes())
            .expect("send");
        serde_json::from_slice(&line(&mut reader)).expect("an answer")
    };
    let commands = ask(json!({"execute": "query-commands"}));
    let names: Vec<&str> = commands["return"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("a name"))
        .collect();
    for name in [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "quit",
        "query-events",
        "query-qmp-schema",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    let events = ask(json!({"execute": "query-events"}));
    assert!(events["return"]
        .as_array()
        .expect("a list")
        .contains(&json!({"name": "SHUTDOWN"})));
    let schema = ask(json!({"execute": "query-qmp-schema"}));
    assert!(schema["return"].as_array().expect("a list").len() > 10);
    let again = ask(json!({"execute": "qmp_capabilities"}));
    assert_eq!(
        again["error"]["desc"],
        "Capabilities negotiation is already complete, command ignored"
    );
    let extra = ask(json!({"execute": "query-commands", "arguments": {"x": 1}}));
    assert_eq!(extra["error"]["desc"], "Parameter 'x' is unexpected");
}

/// A burst of connections is accepted a bounded number per turn, with the
/// other clients served between: the monitor once accepted (or refused)
/// its whole listen queue in one turn, and 10,000 connect-and-close cycles
/// held every client for up to 87 ms.
///
/// The monitor thread is held in `x-hold` while 100 clients queue up and
/// a second client's `x-count` waits in its socket; both become ready in
/// the same turn once it is let go. `x-count` then sees how many clients
/// that turn accepted before serving it: at most one turn's accepts, not
/// the whole queue (100 on the old code).
#[test]
fn a_burst_of_connections_is_accepted_a_bounded_number_per_turn() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{mpsc, Arc, Mutex};

    use monitor_core::{Command, CommandError};

    const QUEUED: usize = 100;
    const ACCEPTS_PER_TURN: usize = 64;
    let path = socket_path("accept-burst");
    let connected = Arc::new(AtomicUsize::new(0));
    let (release, held) = mpsc::channel::<()>();
    let held = Mutex::new(held);
    let (started_tx, started) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let (seen_tx, seen) = mpsc::channel::<usize>();
    let seen_tx = Mutex::new(seen_tx);
    let counter = Arc::clone(&connected);
    let counted = Arc::clone(&connected);
    let monitor = Monitor::builder()
        .version(7, 2, 0, "regressions")
        .command(Command::typed("x-hold", move |_, ()| {
            started_tx.lock().unwrap().send(()).expect("report");
            held.lock().unwrap().recv_timeout(TIMEOUT).expect("let go");
            Ok::<_, CommandError>(())
        }))
        .command(Command::typed("x-count", move |_, ()| {
            let now = counted.load(Ordering::SeqCst);
            seen_tx.lock().unwrap().send(now).expect("report");
            Ok::<_, CommandError>(now)
        }))
        .on_connect(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .max_connections(QUEUED + 10)
        .listen_unix(&path)
        .spawn()
        .expect("spawn");
    let served = Served { monitor, path };
    let (mut holder, mut holder_reader) = negotiated(&served.path);
    let (mut counter_client, mut counter_reader) = negotiated(&served.path);
    let before = connected.load(Ordering::SeqCst);
    assert_eq!(before, 2);
    holder
        .write_all(br#"{"execute": "x-hold"}"#)
        .expect("send x-hold");
    // Once the hold runs, a connection is queued, not accepted, until the
    // monitor thread is let go.
    started.recv_timeout(TIMEOUT).expect("x-hold runs");
    let queued: Vec<UnixStream> = (0..QUEUED)
        .map(|_| UnixStream::connect(&served.path).expect("connect"))
        .collect();
    counter_client
        .write_all(br#"{"execute": "x-count"}"#)
        .expect("send x-count");
    release.send(()).expect("let go");
    assert_eq!(line(&mut holder_reader), b"{\"return\": {}}\r\n");
    let at_count = seen.recv_timeout(TIMEOUT).expect("x-count ran");
    let answer: Json = serde_json::from_slice(&line(&mut counter_reader)).expect("answer");
    assert_eq!(answer, json!({"return": at_count}));
    let accepted = at_count - before;
    assert!(
        accepted <= ACCEPTS_PER_TURN,
        "{accepted} of {QUEUED} queued clients were accepted before a ready client was served"
    );
    // And every queued client is greeted in the end.
    for stream in queued {
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut reader = BufReader::new(stream);
        assert!(line(&mut reader).starts_with(b"{\"QMP\""));
    }
}
