//! Soak under faults: 64 clients hammer the `minimal` binary on a unix
//! socket for a fixed time (60 s; `SOAK_SECONDS` changes it) while events
//! flow, mixing valid pipelined commands, out-of-band and async ones,
//! garbage, half messages, oversized messages, abrupt disconnects (some
//! with commands pending), clients that stop reading and clients that
//! never negotiate.
//!
//! Asserts: the process never dies and still answers at the end (its log
//! shows no panic); every valid request of a client that stays connected
//! is answered exactly once, in-band ones in order; the resident memory
//! (VmRSS) stays under [`RSS_BOUND`]; and once all clients have left the
//! process has exactly the file descriptors it had before they came
//! (waited for, with a timeout).
//!
//! Every wait has a timeout that fails the test; nothing is judged by time.

mod util;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use monitor_core::client::{Client, ClientError};
use monitor_test_util::XorShift;
use serde_json::{json, Value as Json};
use util::Minimal;

/// Clients connected at once.
const CLIENTS: usize = 64;
/// How long the clients run, unless `SOAK_SECONDS` says otherwise.
const DEFAULT_SECONDS: u64 = 60;
const SECONDS_VAR: &str = "SOAK_SECONDS";
/// The monitor's message size limit (`-x-max-message`); oversized
/// messages are a little over it.
const MAX_MESSAGE: usize = 256 << 10;
/// The bound on the monitor's resident memory. Within it: the monitor
/// buffers at most one message per client (64 x 256 KiB) plus, per client,
/// the output it queues before it stops reading that client (1 MiB) and
/// the events it goes on sending; 60 s runs peak near 30 MiB. A 60 s run
/// makes some 4,000 connections and 80,000 requests, so leaking 32 KiB a
/// connection or 1.5 KiB a request would cross it.
const RSS_BOUND: u64 = 128 << 20;
/// Failure guard for any single wait (generous: the machine is loaded).
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the clients did, for the summary.
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    connections: AtomicU64,
    garbage: AtomicU64,
    oversized: AtomicU64,
    abrupt: AtomicU64,
    stalled: AtomicU64,
    events: AtomicU64,
}

/// A request a live client is owed an answer to.
struct Owed {
    id: String,
    /// The error class expected, or `None` for a `return`.
    error: Option<&'static str>,
}

/// One connection and the answers it is owed.
struct Conn {
    client: Client,
    oob: bool,
    /// In-band requests, in the order they must be answered.
    in_band: VecDeque<Owed>,
    /// Out-of-band requests, answered once each in any order.
    out_of_band: HashMap<String, Option<&'static str>>,
    next: u64,
    name: String,
}

impl Conn {
    /// Connects, and negotiates unless `negotiate` is false.
    fn open(path: &Path, name: String, oob: bool, negotiate: bool, tally: &Tally) -> Conn {
        let mut client = Client::connect_unix(path)
            .unwrap_or_else(|e| panic!("{name}: connect or greeting failed: {e}"));
        client.set_timeout(TIMEOUT);
        tally.connections.fetch_add(1, Ordering::Relaxed);
        let mut conn = Conn {
            client,
            oob,
            in_band: VecDeque::new(),
            out_of_band: HashMap::new(),
            next: 0,
            name,
        };
        if negotiate {
            let arguments = if oob {
                json!({"enable": ["oob"]})
            } else {
                json!({})
            };
            let id = conn.id();
            conn.send(
                json!({"execute": "qmp_capabilities", "arguments": arguments, "id": id}),
                false,
                None,
            );
            conn.settle(&AtomicU64::new(0), &AtomicU64::new(0));
        }
        conn
    }

    fn id(&mut self) -> String {
        self.next += 1;
        format!("v{}", self.next)
    }

    /// Records a request as owed; returns its bytes.
    fn owe(&mut self, request: &Json, oob: bool, error: Option<&'static str>) -> Vec<u8> {
        let id = request["id"].as_str().expect("a string id").to_owned();
        if oob {
            self.out_of_band.insert(id, error);
        } else {
            self.in_band.push_back(Owed { id, error });
        }
        request.to_string().into_bytes()
    }

    fn send(&mut self, request: Json, oob: bool, error: Option<&'static str>) {
        let bytes = self.owe(&request, oob, error);
        self.write(&bytes);
    }

    fn write(&mut self, bytes: &[u8]) {
        let name = &self.name;
        self.client
            .send_raw(bytes)
            .unwrap_or_else(|e| panic!("{name}: write failed: {e}"));
    }

    /// Reads until everything owed is answered, checking each answer.
    fn settle(&mut self, answered: &AtomicU64, events: &AtomicU64) {
        while !self.in_band.is_empty() || !self.out_of_band.is_empty() {
            let msg = self.client.read_message().unwrap_or_else(|e| {
                panic!(
                    "{}: waiting for {:?} and {:?}: {e}",
                    self.name,
                    self.in_band.front().map(|o| &o.id),
                    self.out_of_band.keys().collect::<Vec<_>>()
                )
            });
            if msg.get("event").is_some() {
                events.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // Answers to garbage carry no id (then they are errors) or a
            // `g` one.
            let Some(id) = msg["id"].as_str() else {
                assert!(msg.get("error").is_some(), "{}: {msg}", self.name);
                continue;
            };
            if id.starts_with('g') {
                continue;
            }
            let expected = if let Some(error) = self.out_of_band.remove(id) {
                error
            } else {
                let front = self.in_band.pop_front().unwrap_or_else(|| {
                    panic!("{}: answer to nothing owed (twice?): {msg}", self.name)
                });
                assert_eq!(
                    front.id, id,
                    "{}: in-band answer out of order or duplicated: {msg}",
                    self.name
                );
                front.error
            };
            match expected {
                None => assert!(msg.get("return").is_some(), "{}: {msg}", self.name),
                Some(class) => assert_eq!(msg["error"]["class"], class, "{}: {msg}", self.name),
            }
            answered.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A valid request: queries, pings, async sleeps, small event bursts, and
/// out-of-band pings when negotiated. Returns it and whether it is OOB.
fn valid_request(rng: &mut XorShift, conn: &mut Conn) -> (Json, bool) {
    let id = conn.id();
    let oob = conn.oob && rng.chance(20);
    if oob {
        return (json!({"exec-oob": "x-ping", "id": id}), true);
    }
    let request = match rng.below(10) {
        0 => json!({"execute": "query-status", "id": id}),
        1 => json!({"execute": "query-name", "id": id}),
        2 => json!({"execute": "query-version", "id": id}),
        3 | 4 => json!({"execute": "x-ping", "id": id}),
        5..=7 => json!({"execute": "x-sleep", "arguments": {"ms": rng.below(30)}, "id": id}),
        8 if rng.chance(20) => json!({
            "execute": "x-bench-events",
            "arguments": {"count": 1 + rng.below(8), "event": "SOAK", "data": {"pad": "p".repeat(64)}},
            "id": id,
        }),
        _ => json!({"execute": "query-commands", "id": id}),
    };
    (request, false)
}

/// A pipelined batch of valid requests, sent in one write or cut in two
/// (a half message completed later), then every answer checked.
fn valid_batch(rng: &mut XorShift, conn: &mut Conn, tally: &Tally) {
    let mut bytes = Vec::new();
    for _ in 0..1 + rng.below(8) {
        let (request, oob) = valid_request(rng, conn);
        bytes.extend(conn.owe(&request, oob, None));
        bytes.extend_from_slice(if rng.chance(50) { b"\r\n" } else { b" " });
    }
    if rng.chance(30) {
        let cut = rng.below(bytes.len() as u64) as usize;
        conn.write(&bytes[..cut]);
        thread::yield_now();
        conn.write(&bytes[cut..]);
    } else {
        conn.write(&bytes);
    }
    conn.settle(&tally.answered, &tally.events);
}

/// Garbage that leaves the parser in any state.
fn garbage(rng: &mut XorShift) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"{\"execute\": ",
        b"{\"execute\": \"x-ping\", \"id\": \"g1\"",
        b"[[[[[[[[[[",
        b"]]}}",
        b"\"unterminated string",
        b"'single",
        b"\xff\xfe",
        b"\x00",
        b"nul tru fals",
        b"{\"execute\": \"nope\", \"id\": \"g2\"}",
        b"{\"arguments\": 1}",
        b"123 -0 1e999 ",
        b"\"\\uD800\"",
        b"{'execute': 'x-sleep', 'arguments': {'ms': 'x'}, 'id': 'g3'}",
    ];
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(6) {
        if rng.chance(25) {
            out.extend((0..1 + rng.below(64)).map(|_| rng.next() as u8));
        } else {
            out.extend_from_slice(PIECES[rng.below(PIECES.len() as u64) as usize]);
        }
    }
    if rng.chance(10) {
        // Deep nesting, past the limit.
        out.extend(std::iter::repeat_n(b'[', 1100));
    }
    out
}

/// Sends `bytes`, then a control character (which ends whatever partial
/// message is left) and a request that must be answered.
fn garbage_then_sync(rng: &mut XorShift, conn: &mut Conn, bytes: &[u8], tally: &Tally) {
    let id = conn.id();
    let sync = conn.owe(&json!({"execute": "x-ping", "id": id}), false, None);
    let mut all = bytes.to_vec();
    all.push(0x01);
    all.extend(sync);
    if rng.chance(50) {
        conn.write(&all);
    } else {
        for piece in all.chunks(1 + rng.below(4096) as usize) {
            conn.write(piece);
        }
    }
    conn.settle(&tally.answered, &tally.events);
}

/// A message over the size limit: one long string argument.
fn oversized(rng: &mut XorShift) -> Vec<u8> {
    let pad = MAX_MESSAGE + 1 + rng.below(64 << 10) as usize;
    let mut out = br#"{"execute": "x-ping", "id": "g-big", "arguments": {"pad": ""#.to_vec();
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(br#""}}"#);
    out
}

/// Writes without blocking forever: a monitor that stops reading us (it
/// does while our unread output is large) must not hang the test.
fn write_some(stream: &mut UnixStream, bytes: &[u8]) {
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .expect("set a write timeout");
    let _ = stream.write_all(bytes);
}

/// One client: connects, runs random actions until `stop`, then checks it
/// is still answered and leaves.
fn client(index: usize, path: PathBuf, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut rng = XorShift::new(0x50A4 + index as u64);
    let mut generation = 0;
    let mut open = |rng: &mut XorShift, negotiate: bool| {
        generation += 1;
        let name = format!("client {index}.{generation}");
        Conn::open(&path, name, rng.chance(50), negotiate, &tally)
    };
    let mut conn = open(&mut rng, true);
    while !stop.load(Ordering::Acquire) {
        match rng.below(100) {
            0..=54 => valid_batch(&mut rng, &mut conn, &tally),
            55..=69 => {
                tally.garbage.fetch_add(1, Ordering::Relaxed);
                let bytes = garbage(&mut rng);
                garbage_then_sync(&mut rng, &mut conn, &bytes, &tally);
            }
            70..=72 => {
                tally.oversized.fetch_add(1, Ordering::Relaxed);
                let bytes = oversized(&mut rng);
                garbage_then_sync(&mut rng, &mut conn, &bytes, &tally);
            }
            73..=78 => {
                // Abrupt disconnect: a half message, or with async
                // commands pending.
                tally.abrupt.fetch_add(1, Ordering::Relaxed);
                let mut bytes = Vec::new();
                for _ in 0..rng.below(4) {
                    let ms = 50 + rng.below(500);
                    bytes.extend(
                        json!({"execute": "x-sleep", "arguments": {"ms": ms}, "id": "g-pending"})
                            .to_string()
                            .into_bytes(),
                    );
                }
                bytes.extend_from_slice(br#"{"execute": "x-ping", "id": "g-half"#);
                conn.write(&bytes);
                conn = open(&mut rng, true);
            }
            79..=83 => {
                // Stops reading: asks for large answers (the schema) and
                // some events, reads nothing for a while, then either
                // leaves abruptly or resumes and must find every answer.
                tally.stalled.fetch_add(1, Ordering::Relaxed);
                let mut bytes = Vec::new();
                for _ in 0..1 + rng.below(16) {
                    let id = conn.id();
                    let request = if rng.chance(10) {
                        json!({
                            "execute": "x-bench-events",
                            "arguments": {"count": 10, "event": "SOAK", "data": {"pad": "p".repeat(256)}},
                            "id": id,
                        })
                    } else {
                        json!({"execute": "query-qmp-schema", "id": id})
                    };
                    bytes.extend(conn.owe(&request, false, None));
                }
                conn.write(&bytes);
                let pause = Instant::now() + Duration::from_millis(100 + rng.below(1500));
                while Instant::now() < pause && !stop.load(Ordering::Acquire) {
                    thread::sleep(Duration::from_millis(20));
                }
                if rng.chance(50) {
                    tally.abrupt.fetch_add(1, Ordering::Relaxed);
                    conn = open(&mut rng, true);
                } else {
                    conn.settle(&tally.answered, &tally.events);
                }
            }
            84..=86 => {
                // Never negotiates: refused, then leaves (sometimes while
                // sending a message too big to be read at once).
                let mut raw = open(&mut rng, false);
                let id = raw.id();
                raw.send(
                    json!({"execute": "query-status", "id": id}),
                    false,
                    Some("CommandNotFound"),
                );
                raw.settle(&tally.answered, &tally.events);
                if rng.chance(30) {
                    let stream = UnixStream::connect(&path).expect("connect");
                    let mut stream = stream;
                    write_some(&mut stream, &oversized(&mut rng));
                }
            }
            87..=89 => {
                // Leaves cleanly and comes back, possibly without oob.
                conn = open(&mut rng, true);
            }
            _ => {
                // A raw connection that closes before or right after the
                // greeting.
                let stream = UnixStream::connect(&path).expect("connect");
                drop(stream);
            }
        }
    }
    // Still served at the end, with nothing owed left unanswered.
    let id = conn.id();
    conn.send(json!({"execute": "x-ping", "id": id}), false, None);
    conn.settle(&tally.answered, &tally.events);
}

fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib << 10
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list fds")
        .count()
}

#[test]
fn sixty_four_clients_under_faults_leave_the_monitor_as_they_found_it() {
    let seconds = std::env::var(SECONDS_VAR)
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("SOAK_SECONDS is a number of seconds")
        })
        .unwrap_or(DEFAULT_SECONDS);
    let limit = format!("{}K", MAX_MESSAGE >> 10);
    let mut minimal = Minimal::start(&["-x-max-message", &limit], "warn");
    let pid = minimal.pid();
    let path = minimal.socket.clone();

    // A watcher that stays connected throughout, reading the events. It is
    // the first connection (no start-up probe that might still be open
    // when the descriptors are counted).
    let deadline = Instant::now() + TIMEOUT;
    let mut watcher = loop {
        match Client::connect_unix(&path) {
            Ok(client) => break client,
            Err(ClientError::Io(e)) if Instant::now() < deadline => {
                assert!(minimal.is_running(), "minimal exited: {e}");
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("cannot connect the watcher: {e}"),
        }
    };
    watcher.set_timeout(TIMEOUT);
    watcher.negotiate().expect("negotiate");
    watcher
        .execute("query-status", json!({}))
        .expect("the watcher is served");
    // The listener, the monitor's own descriptors and the watcher.
    let fds_before = fds(pid);
    let rss_before = rss(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let peak = Arc::new(AtomicU64::new(rss_before));
    let (done_tx, done_rx) = mpsc::channel();
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                    if status.contains("VmRSS") {
                        peak.fetch_max(rss(pid), Ordering::Relaxed);
                    }
                }
                thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let watcher_thread = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut heartbeats = 0u64;
            watcher.set_timeout(Duration::from_millis(500));
            while !stop.load(Ordering::Acquire) {
                match watcher.read_message() {
                    Ok(msg) if msg["event"] == "HEARTBEAT" => heartbeats += 1,
                    Ok(msg) => assert!(msg.get("event").is_some(), "watcher: {msg}"),
                    Err(ClientError::Timeout) => {}
                    Err(e) => panic!("the watcher lost its connection: {e}"),
                }
            }
            watcher.set_timeout(TIMEOUT);
            (watcher, heartbeats)
        })
    };
    for index in 0..CLIENTS {
        let (path, stop, tally, done) = (
            path.clone(),
            Arc::clone(&stop),
            Arc::clone(&tally),
            done_tx.clone(),
        );
        thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                client(index, path, stop, tally)
            }));
            let _ = done.send((index, result.err()));
        });
    }
    drop(done_tx);

    let start = Instant::now();
    let run_for = Duration::from_secs(seconds);
    while start.elapsed() < run_for {
        assert!(minimal.is_running(), "minimal died during the soak");
        // A failing client ends the soak early.
        if let Ok((index, Some(panic))) = done_rx.try_recv() {
            stop.store(true, Ordering::Release);
            std::panic::resume_unwind(Box::new(format!(
                "client {index} failed: {}",
                panic_text(&panic)
            )));
        }
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Release);
    for _ in 0..CLIENTS {
        let (index, failure) = done_rx
            .recv_timeout(TIMEOUT)
            .expect("a client hung at the end of the soak");
        if let Some(panic) = failure {
            panic!("client {index} failed: {}", panic_text(&panic));
        }
    }
    sampler.join().expect("the sampler");
    let (mut watcher, heartbeats) = watcher_thread.join().expect("the watcher");

    assert!(minimal.is_running(), "minimal died during the soak");
    let status = watcher
        .execute("query-status", json!({}))
        .expect("answered after the soak");
    assert_eq!(status["running"], true);
    assert!(
        heartbeats > 0 || seconds < 2,
        "no HEARTBEAT reached the watcher"
    );
    let log = minimal.log();
    assert!(
        !log.contains("panicked"),
        "minimal's log shows a panic:\n{log}"
    );

    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "soak: {seconds}s, {} connections, {} valid requests answered, {} garbage, {} oversized, \
         {} abrupt disconnects, {} stalled readers, {} events read; VmRSS {} KiB before, peak {} KiB; \
         {fds_before} fds",
        tally.connections.load(Ordering::Relaxed),
        tally.answered.load(Ordering::Relaxed),
        tally.garbage.load(Ordering::Relaxed),
        tally.oversized.load(Ordering::Relaxed),
        tally.abrupt.load(Ordering::Relaxed),
        tally.stalled.load(Ordering::Relaxed),
        tally.events.load(Ordering::Relaxed),
        rss_before >> 10,
        peak >> 10,
    );
    assert!(
        peak < RSS_BOUND,
        "VmRSS peaked at {} KiB, over the {} KiB bound",
        peak >> 10,
        RSS_BOUND >> 10
    );
    // Every client is gone; only the watcher is still connected, as when
    // the count was taken.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = fds(pid);
        if now == fds_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{now} descriptors open after the soak, {fds_before} before"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}
