//! Many clients at once: well-behaved clients get every answer, in order,
//! while another floods garbage and another stops reading.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use monitor_core::client::Client;
use monitor_core::{Command, CommandError, Event, Monitor};
use monitor_test_util::socket_path;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use monitor_test_util::XorShift;

/// Clients that behave and must get everything.
const GOOD_CLIENTS: usize = 8;
/// Requests each good client sends.
const REQUESTS: u64 = 200;
/// Most requests a good client puts in one write.
const MAX_PIPELINE: u64 = 16;
/// Events emitted during the test, each with this much padding.
const EVENTS: u64 = 2000;
const EVENT_PAD: usize = 1000;
/// Events the emitter may be ahead of the slowest good client (keeps good
/// clients well under the output limit however the scheduler runs them).
const EVENT_WINDOW: u64 = 64;
/// The monitor's output limit; the non-reader must pass it.
const OUTPUT_LIMIT: usize = 256 << 10;
/// How long the non-reader may sit over the limit before it is cut off.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(200);
/// Upper bound for any wait; reaching it is a failure.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Bounds for the garbage one flooder sends.
const MIN_FLOOD_BYTES: usize = 256 << 10;
const MAX_FLOOD_BYTES: usize = 64 << 20;

#[derive(Deserialize)]
struct EchoArgs {
    client: u64,
    seq: u64,
    text: String,
}

/// `x-echo`: a result that depends on every argument. Arguments and result
/// are plain JSON values so the command needs no schema description.
fn echo(arguments: Json) -> Result<Json, CommandError> {
    let args: EchoArgs =
        serde_json::from_value(arguments).map_err(|e| CommandError::generic(e.to_string()))?;
    Ok(json!({
        "client": args.client,
        "seq": args.seq,
        "reversed": args.text.chars().rev().collect::<String>(),
        "chars": args.text.chars().count(),
    }))
}

/// What `x-echo` must answer, computed independently of the handler.
fn expected_echo(client: u64, seq: u64, text: &str) -> Json {
    json!({
        "client": client,
        "seq": seq,
        "reversed": text.chars().rev().collect::<String>(),
        "chars": text.chars().count(),
    })
}

fn spawn_monitor(path: &Path, output_limit: Option<usize>) -> Monitor {
    let mut builder = Monitor::builder()
        .version(9, 9, 9, "concurrency")
        .command(Command::typed("x-echo", |_, arguments: Json| {
            echo(arguments)
        }));
    if let Some(limit) = output_limit {
        // A client over the limit that takes nothing for this long is cut
        // off (one that reads at any pace is not).
        builder = builder.output_limit(limit).drain_timeout(DRAIN_TIMEOUT);
    }
    builder
        .listen_unix(path)
        .spawn()
        .expect("spawn the monitor")
}

fn text_for(rng: &mut XorShift) -> String {
    const PIECES: &[&str] = &[
        "a", "bc", "ünï", "🦀", "\"", "\\", "\t", "\n", "'", "{", "}", "[", "]", " ", "\u{7f}",
        "x-echo", "\u{1}",
    ];
    (0..rng.below(24)).map(|_| rng.pick(PIECES)).collect()
}

/// Good clients' progress through the event stream, for the emitter's window.
struct Progress {
    seen: Mutex<Vec<u64>>,
    changed: Condvar,
}

impl Progress {
    fn new() -> Self {
        Progress {
            seen: Mutex::new(vec![0; GOOD_CLIENTS]),
            changed: Condvar::new(),
        }
    }

    fn set(&self, client: usize, seen: u64) {
        self.seen.lock().unwrap()[client] = seen;
        self.changed.notify_all();
    }

    /// Waits until every good client has seen `target` events.
    fn wait_all(&self, target: u64, deadline: Instant) -> Result<(), String> {
        let mut seen = self.seen.lock().unwrap();
        while seen.iter().any(|&s| s < target) {
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "good clients stalled: seen {seen:?}, need {target}"
                ));
            }
            seen = self.changed.wait_timeout(seen, deadline - now).unwrap().0;
        }
        Ok(())
    }
}

/// Marks a good client as not holding the emitter back once it ends, so a
/// failing client makes the test fail fast instead of at the timeout.
struct Release<'a>(&'a Progress, usize);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        self.0.set(self.1, u64::MAX);
    }
}

/// The id of a good client's request: numbers and strings, all distinct.
fn request_id(client: u64, seq: u64) -> Json {
    if seq % 2 == 0 {
        json!(client * 1_000_000 + seq)
    } else {
        json!(format!("c{client}-s{seq}"))
    }
}

/// Sends `REQUESTS` echo requests in pipelined batches, checks every answer
/// and its position, and reads the whole event stream. Returns the events seen.
fn good_client(index: usize, mut client: Client, progress: &Progress) -> u64 {
    let _release = Release(progress, index);
    let me = index as u64;
    let mut rng = XorShift::new(0x600D + me);
    let mut events = 0u64;
    let on_event = |event: &Json, events: &mut u64| {
        assert_eq!(event["event"], "X-TICK", "client {me}: {event}");
        assert_eq!(
            event["data"]["n"], *events,
            "client {me}: events out of order or lost"
        );
        *events += 1;
        progress.set(index, *events);
    };

    let mut seq = 0;
    while seq < REQUESTS {
        let batch = (1 + rng.below(MAX_PIPELINE)).min(REQUESTS - seq);
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for s in seq..seq + batch {
            let text = text_for(&mut rng);
            let request = json!({
                "execute": "x-echo",
                "arguments": {"client": me, "seq": s, "text": text},
                "id": request_id(me, s),
            });
            bytes.extend_from_slice(request.to_string().as_bytes());
            bytes.extend_from_slice(rng.pick(&[&b""[..], b"\n", b" \r\n\t"]));
            expected.push(json!({"return": expected_echo(me, s, &text), "id": request_id(me, s)}));
        }
        client.send_raw(&bytes).expect("send a batch");
        for want in expected {
            let got = loop {
                let msg = client.read_message().unwrap_or_else(|e| {
                    panic!(
                        "client {me} lost its connection waiting for {}: {e}",
                        want["id"]
                    )
                });
                if msg.get("event").is_some() {
                    on_event(&msg, &mut events);
                } else {
                    break msg;
                }
            };
            assert_eq!(got, want, "client {me}: wrong or out-of-order answer");
        }
        seq += batch;
    }
    while events < EVENTS {
        let msg = client.read_message().unwrap_or_else(|e| {
            panic!("client {me} lost its connection after {events} events: {e}")
        });
        assert!(msg.get("event").is_some(), "client {me}: unexpected {msg}");
        on_event(&msg, &mut events);
    }
    // Still connected and served.
    let last = client
        .execute("x-echo", json!({"client": me, "seq": 9999, "text": "end"}))
        .expect("a final request");
    assert_eq!(last, expected_echo(me, 9999, "end"));
    events
}

fn emit_events(
    monitor_events: monitor_core::Emitter,
    progress: Arc<Progress>,
) -> Result<(), String> {
    let deadline = Instant::now() + TIMEOUT;
    let pad = "p".repeat(EVENT_PAD);
    for n in 0..EVENTS {
        progress.wait_all(n.saturating_sub(EVENT_WINDOW), deadline)?;
        let event = Event::new("X-TICK")
            .with_data(&json!({"n": n, "pad": pad}))
            .map_err(|e| e.to_string())?;
        monitor_events.emit(event);
    }
    Ok(())
}

/// Reads one `\r\n`-terminated line from a raw socket, byte by byte (so no
/// later output is consumed).
fn read_raw_line(stream: &mut UnixStream) -> Json {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        assert_eq!(
            stream.read(&mut byte).expect("read a line"),
            1,
            "EOF in a line"
        );
        line.push(byte[0]);
    }
    serde_json::from_slice(&line).expect("a JSON line")
}

/// Like [`read_raw_line`], but `None` at the end of the stream.
fn read_line_or_end(stream: &mut UnixStream) -> Option<Json> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return None,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    Some(serde_json::from_slice(&line).expect("a JSON line"))
}

/// Writes all of `bytes`, retrying on timeouts until `stop` is set
/// (`Ok(false)`). Returns `Err` when the connection fails, or when the
/// monitor has not taken the bytes within `TIMEOUT`.
fn write_until(stream: &mut UnixStream, bytes: &[u8], stop: &AtomicBool) -> io::Result<bool> {
    let deadline = Instant::now() + TIMEOUT;
    let mut pos = 0;
    while pos < bytes.len() {
        match stream.write(&bytes[pos..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => pos += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::Acquire) {
                    return Ok(false);
                }
                if Instant::now() >= deadline {
                    return Err(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// One piece of garbage: random bytes, half messages, control characters,
/// deep nesting, bad tokens, non-object values.
fn garbage(rng: &mut XorShift, out: &mut Vec<u8>) {
    match rng.below(7) {
        0 => {
            let len = 1 + rng.below(512);
            out.extend((0..len).map(|_| rng.next() as u8));
        }
        1 => {
            let request = format!(
                r#"{{"execute": "x-echo", "arguments": {{"client": 7, "seq": {}, "text": "h\u00e4lf \"m\""}}, "id": "g-{}"}}"#,
                rng.below(100),
                rng.below(100)
            );
            let cut = rng.below(request.len() as u64) as usize;
            out.extend_from_slice(&request.as_bytes()[..cut]);
        }
        2 => {
            let len = 1 + rng.below(64);
            out.extend(
                (0..len)
                    .map(|_| rng.pick(&[0u8, 1, 2, 8, 0x0b, 0x0c, 0x1b, 0x1f, 0x7f, 0xfe, 0xff])),
            );
        }
        3 => {
            let depth = 1000 + rng.below(2000) as usize;
            let open = rng.pick(&[&b"["[..], b"{\"a\":", b"[{\"b\":"]);
            for _ in 0..depth {
                out.extend_from_slice(open);
            }
            if rng.below(2) == 0 {
                out.extend(std::iter::repeat_n(b']', depth));
            }
        }
        4 => {
            let bad: &[&[u8]] = &[
                b"tru",
                b"nul ",
                b"'unterminated",
                b"\"\\u12\"",
                b"-",
                b"1e",
                b"}}}]]]",
                b"{\"execute\":}",
                b"{\"execute\": \"x-echo\" \"id\": 1}",
                b"01",
                b"\"\\x\"",
                b"{,}",
                b"\xc3\x28\"\xe2\x82\"",
            ];
            for _ in 0..1 + rng.below(8) {
                out.extend_from_slice(rng.pick(bad));
            }
        }
        5 => {
            let values: &[&[u8]] = &[
                b"[1, 2]",
                b"\"a string\"",
                b"42",
                b"null",
                b"{\"execute\": 1}",
                b"{\"execute\": \"no-such-command\"}",
                b"{\"arguments\": {}}",
            ];
            out.extend_from_slice(rng.pick(values));
        }
        _ => {
            out.push(b'"');
            let len = rng.below(16 << 10);
            out.extend((0..len).map(|_| b' ' + (rng.next() % 95) as u8));
            if rng.below(2) == 0 {
                out.push(b'"');
            }
        }
    }
}

/// What a flooder's reader saw.
#[derive(Debug, Default)]
struct FloodLog {
    lines: u64,
    parse_errors: u64,
    other_errors: u64,
    /// Lines that are not JSON objects (must stay empty).
    bad_lines: Vec<String>,
}

/// A client that writes garbage from one thread and reads its answers on
/// another; answers that carry an `id` are passed on.
struct Flooder {
    stream: UnixStream,
    ids: mpsc::Receiver<Json>,
    reader: JoinHandle<FloodLog>,
    reader_done: Arc<AtomicBool>,
}

impl Flooder {
    fn connect(path: &Path) -> Flooder {
        let stream = UnixStream::connect(path).expect("connect the flooder");
        stream
            .set_write_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut input = stream.try_clone().unwrap();
        let (tx, ids) = mpsc::channel();
        let reader_done = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&reader_done);
        let reader = thread::spawn(move || {
            let mut log = FloodLog::default();
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                let n = match input.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut start = 0;
                while let Some(pos) = buf[start..].windows(2).position(|w| w == b"\r\n") {
                    let line = &buf[start..start + pos];
                    start += pos + 2;
                    log.lines += 1;
                    let Ok(msg) = serde_json::from_slice::<Json>(line) else {
                        log.bad_lines
                            .push(String::from_utf8_lossy(line).into_owned());
                        continue;
                    };
                    if !msg.is_object() {
                        log.bad_lines.push(msg.to_string());
                    }
                    if let Some(desc) = msg["error"]["desc"].as_str() {
                        if desc.starts_with("JSON ") {
                            log.parse_errors += 1;
                        } else {
                            log.other_errors += 1;
                        }
                    }
                    if msg.get("id").is_some() {
                        let _ = tx.send(msg);
                    }
                }
                buf.drain(..start);
            }
            done.store(true, Ordering::Release);
            log
        });
        Flooder {
            stream,
            ids,
            reader,
            reader_done,
        }
    }

    /// Writes garbage until `stop` is set (but at least `MIN_FLOOD_BYTES`)
    /// or the byte budget is spent. Returns the bytes written; panics if the
    /// connection fails.
    fn flood(&mut self, seed: u64, stop: &AtomicBool) -> usize {
        let mut rng = XorShift::new(seed);
        let mut sent = 0;
        let mut piece = Vec::new();
        while (sent < MIN_FLOOD_BYTES || !stop.load(Ordering::Acquire)) && sent < MAX_FLOOD_BYTES {
            piece.clear();
            garbage(&mut rng, &mut piece);
            match write_until(&mut self.stream, &piece, stop) {
                Ok(true) => sent += piece.len(),
                // Cut short by `stop`: the rest of a piece is garbage too.
                Ok(false) => {}
                Err(e) => panic!("the flooder could not write after {sent} bytes: {e}"),
            }
        }
        sent
    }

    /// Sends `\x01` and valid requests; returns the answers with these ids.
    fn recover(&mut self, requests: &[Json]) -> Vec<Json> {
        let mut bytes = b"\x01".to_vec();
        for r in requests {
            bytes.extend_from_slice(r.to_string().as_bytes());
        }
        let never = AtomicBool::new(false);
        write_until(&mut self.stream, &bytes, &never).expect("send the recovery requests");
        let deadline = Instant::now() + TIMEOUT;
        requests
            .iter()
            .map(|r| loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let msg = self
                    .ids
                    .recv_timeout(left)
                    .unwrap_or_else(|e| panic!("no answer to {r}: {e}"));
                if msg["id"] == r["id"] {
                    break msg;
                }
            })
            .collect()
    }
}

/// A client that negotiates, then only writes: requests, as long as the
/// monitor takes them.
fn non_reader(path: &Path) -> UnixStream {
    let mut stream = UnixStream::connect(path).expect("connect the non-reader");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert!(read_raw_line(&mut stream).get("QMP").is_some());
    stream
        .write_all(br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#)
        .unwrap();
    assert_eq!(read_raw_line(&mut stream), json!({"return": {}}));
    stream
        .set_write_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    stream
}

/// Keeps sending requests without reading; returns how many went out and
/// whether the monitor cut the connection.
fn keep_sending(mut stream: UnixStream, stop: &AtomicBool) -> (u64, bool) {
    let mut sent = 0;
    while !stop.load(Ordering::Acquire) && sent < 1_000_000 {
        let request = json!({
            "execute": "x-echo",
            "arguments": {"client": 99, "seq": sent, "text": "never read"},
            "id": sent,
        });
        match write_until(&mut stream, request.to_string().as_bytes(), stop) {
            Ok(true) => sent += 1,
            Ok(false) => break,
            Err(_) => return (sent, true),
        }
    }
    (sent, false)
}

/// Reads what is left until the end of the stream; panics if the monitor
/// still holds the connection open.
fn drain_to_eof(stream: &mut UnixStream) -> usize {
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let deadline = Instant::now() + TIMEOUT;
    let mut total = 0;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        assert!(
            Instant::now() < deadline,
            "still draining after {total} bytes"
        );
        match stream.read(&mut chunk) {
            Ok(0) => return total,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return total,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("the non-reader is still connected after {total} bytes: {e}"),
        }
    }
}

#[test]
fn good_clients_get_all_answers_in_order_despite_flooder_and_non_reader() {
    let path = socket_path("mixed");
    let monitor = spawn_monitor(&path, Some(OUTPUT_LIMIT));

    let clients: Vec<Client> = (0..GOOD_CLIENTS)
        .map(|_| {
            let mut c = Client::connect_unix(&path).expect("connect a good client");
            c.set_timeout(TIMEOUT);
            c.negotiate().expect("negotiate");
            c
        })
        .collect();
    let silent = non_reader(&path);
    let mut silent_reader = silent.try_clone().unwrap();
    let mut flooder = Flooder::connect(&path);

    let progress = Arc::new(Progress::new());
    let stop = AtomicBool::new(false);
    let (events_seen, flood_bytes, (silent_sent, silent_cut)) = thread::scope(|s| {
        let flood = s.spawn(|| flooder.flood(0xF100D, &stop));
        let silent = s.spawn(|| keep_sending(silent, &stop));
        let emitter = {
            let (events, progress) = (monitor.emitter().clone(), Arc::clone(&progress));
            s.spawn(move || emit_events(events, progress))
        };
        let good: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let progress = &progress;
                s.spawn(move || good_client(i, c, progress))
            })
            .collect();
        let seen: Vec<u64> = good
            .into_iter()
            .map(|h| h.join().expect("a good client failed"))
            .collect();
        let emitted = emitter.join().expect("the emitter panicked");
        stop.store(true, Ordering::Release);
        emitted.expect("the emitter gave up");
        (
            seen,
            flood.join().expect("the flooder failed"),
            silent.join().expect("the non-reader panicked"),
        )
    });

    assert_eq!(events_seen, vec![EVENTS; GOOD_CLIENTS]);
    assert!(flood_bytes > 0);
    assert!(silent_sent > 0);

    // The non-reader is cut off once it has taken nothing for the drain
    // timeout while over the limit (reading it before then would count as
    // draining). The good clients have left; the flooder stays.
    let deadline = Instant::now() + TIMEOUT;
    while monitor.stats().sessions > 1 {
        assert!(
            Instant::now() < deadline,
            "the non-reader was never cut off"
        );
        thread::sleep(Duration::from_millis(10));
    }
    // What its socket still holds ends in EOF, long before all events
    // could have reached it.
    let drained = drain_to_eof(&mut silent_reader);
    assert!(
        (drained as u64) < EVENTS * EVENT_PAD as u64,
        "the non-reader got {drained} bytes: every event reached it"
    );
    eprintln!(
        "non-reader: sent {silent_sent} requests (write failed: {silent_cut}), drained {drained} bytes; flooder sent {flood_bytes} bytes"
    );

    // The flooder was never dropped: after \x01 it is answered.
    assert!(
        !flooder.reader_done.load(Ordering::Acquire),
        "the flooder was disconnected"
    );
    let answers = flooder.recover(&[
        json!({"execute": "qmp_capabilities", "id": "recover-caps"}),
        json!({"execute": "x-echo", "arguments": {"client": 42, "seq": 1, "text": "back"}, "id": "recover-echo"}),
    ]);
    assert_eq!(answers[0], json!({"return": {}, "id": "recover-caps"}));
    assert_eq!(
        answers[1],
        json!({"return": expected_echo(42, 1, "back"), "id": "recover-echo"})
    );

    monitor.shutdown();
    let log = flooder
        .reader
        .join()
        .expect("the flooder's reader panicked");
    assert!(
        log.bad_lines.is_empty(),
        "non-JSON lines: {:?}",
        &log.bad_lines[..log.bad_lines.len().min(5)]
    );
    assert!(log.parse_errors > 100, "too few parse errors: {log:?}");
    eprintln!("flooder: {log:?}");
}

/// A client that writes many requests before reading any answer is paused
/// (not read) until it catches up; it is not disconnected, since the
/// backlog is its own answers, not events it failed to keep up with.
#[test]
fn pipelining_client_that_reads_late_is_paused_not_dropped() {
    const PIPELINED: u64 = 20_000;
    let path = socket_path("pipeline");
    let monitor = spawn_monitor(&path, Some(OUTPUT_LIMIT));
    let mut stream = non_reader(&path);
    let mut output = stream.try_clone().unwrap();
    let (stalled_tx, stalled) = mpsc::channel();
    let writer = thread::spawn(move || {
        let never = AtomicBool::new(false);
        let mut reported = false;
        for id in 0..PIPELINED {
            let request = format!(r#"{{"execute": "query-version", "id": {id}}}"#);
            let bytes = request.as_bytes();
            // The first write that times out means the monitor stopped
            // reading us; tell the reader, then keep writing.
            let written = match output.write(bytes) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if !reported {
                        reported = true;
                        let _ = stalled_tx.send(id);
                    }
                    0
                }
                Err(e) => return Err(e),
            };
            write_until(&mut output, &bytes[written..], &never)?;
        }
        Ok(())
    });
    let stalled_at = match stalled.recv_timeout(TIMEOUT) {
        Ok(id) => id,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the monitor kept reading a client that does not read")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
            "the writer ended before the monitor paused it: {:?}",
            writer.join().expect("the writer panicked")
        ),
    };
    assert!(stalled_at > 0);

    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    for id in 0..PIPELINED {
        let answer = match read_line_or_end(&mut stream) {
            Some(line) => line,
            None => panic!(
                "disconnected after {id} of {PIPELINED} answers (writer stalled at {stalled_at})"
            ),
        };
        assert_eq!(answer["id"], id);
        assert_eq!(answer["return"]["package"], "concurrency");
    }
    writer
        .join()
        .expect("the writer panicked")
        .expect("the writer lost the connection");
    drop(monitor);
}

#[test]
fn garbage_is_answered_with_parse_errors_and_never_costs_the_connection() {
    let path = socket_path("garbage");
    let monitor = spawn_monitor(&path, None);
    let mut client = Client::connect_unix(&path).unwrap();
    client.set_timeout(TIMEOUT);
    client.negotiate().unwrap();
    let mut rng = XorShift::new(0xBAD);
    let mut total_errors = 0;
    for round in 0..60u64 {
        let mut bytes = Vec::new();
        for _ in 0..1 + rng.below(3) {
            garbage(&mut rng, &mut bytes);
        }
        bytes.push(0x01);
        let text = text_for(&mut rng);
        let id = json!(format!("round-{round}"));
        let request = json!({
            "execute": "x-echo",
            "arguments": {"client": 1, "seq": round, "text": text},
            "id": id,
        });
        bytes.extend_from_slice(request.to_string().as_bytes());
        client.send_raw(&bytes).unwrap();

        let mut parse_errors = 0;
        let answer = loop {
            let msg = client
                .read_message()
                .unwrap_or_else(|e| panic!("round {round}: no answer: {e}"));
            if msg["id"] == id {
                break msg;
            }
            match msg["error"]["desc"].as_str() {
                Some(desc) if desc.starts_with("JSON parse error") => parse_errors += 1,
                Some(_) => {}
                // A half message completed by later garbage may be valid.
                None => assert!(
                    msg["id"].as_str().is_some_and(|id| id.starts_with("g-")),
                    "round {round}: unexpected {msg}"
                ),
            }
        };
        assert_eq!(
            answer,
            json!({"return": expected_echo(1, round, &text), "id": id}),
            "round {round}"
        );
        assert!(parse_errors >= 1, "round {round}: \\x01 was not reported");
        total_errors += parse_errors;
    }
    assert!(total_errors >= 60);
    // Nothing but well-formed lines arrived, and the session still works.
    assert_eq!(
        client.execute("query-version", json!({})).unwrap()["package"],
        "concurrency"
    );
    drop(monitor);
}
