//! Deferred answers over real sockets: ordering per session, other sessions
//! and out-of-band commands unaffected, dropped handles, async commands,
//! cancellation without leaks.

use monitor_test_util as util;

use util::{socket_path, wait_until, TIMEOUT};

use std::path::PathBuf;
use std::sync::Arc;

use monitor_core::client::Client;
use monitor_core::pending::{oneshot, Completion, Sender};
use monitor_core::session::{Dispatcher, Session};
use monitor_core::{qmp_command, CommandError, Emitter, Monitor, Registry, StateMap};
use parking_lot::Mutex;
use serde_json::json;

/// Completions the tests hold back and release.
#[derive(Default)]
struct Gate {
    held: Mutex<Vec<Completion<u64>>>,
}

/// Hold the answer until the test releases it.
#[qmp_command(name = "x-hold")]
fn x_hold(gate: &Arc<Gate>, done: Completion<u64>) {
    gate.held.lock().push(done);
}

/// Drop the handle without answering.
#[qmp_command(name = "x-forget")]
fn x_forget(done: Completion<()>) {
    drop(done);
}

#[qmp_command(name = "x-ping", allow_oob)]
fn x_ping() {}

/// An async command: waits for a value sent by the test.
#[qmp_command(name = "x-await")]
async fn x_await(value: u64) -> Result<u64, CommandError> {
    let rx = AWAITING.with_sender(value);
    rx.await.ok_or_else(|| CommandError::generic("no value"))
}

/// An async command that is ready at once.
#[qmp_command(name = "x-ready")]
async fn x_ready(value: u64) -> u64 {
    value * 2
}

/// The senders x-await left for the test (a global: async commands take no
/// borrowed state).
struct Awaiting(Mutex<Vec<(u64, Sender<u64>)>>);

impl Awaiting {
    fn with_sender(&self, tag: u64) -> monitor_core::pending::Receiver<u64> {
        let (tx, rx) = oneshot();
        self.0.lock().push((tag, tx));
        rx
    }
}

static AWAITING: Awaiting = Awaiting(Mutex::new(Vec::new()));

fn start(tag: &str) -> (Monitor, PathBuf, Arc<Gate>) {
    let path = socket_path(tag);
    let gate = Arc::new(Gate::default());
    let monitor = Monitor::builder()
        .state(Arc::clone(&gate))
        .listen_unix(&path)
        .spawn()
        .unwrap();
    (monitor, path, gate)
}

fn client(path: &PathBuf, oob: bool) -> Client {
    let mut c = Client::connect_unix(path).unwrap();
    c.set_timeout(TIMEOUT);
    if oob {
        c.negotiate().unwrap();
    } else {
        c.execute("qmp_capabilities", json!({})).unwrap();
    }
    c
}

fn release(gate: &Gate, value: u64) {
    let held: Vec<Completion<u64>> = gate.held.lock().drain(..).collect();
    for c in held {
        c.complete(Ok::<_, CommandError>(value));
    }
}

#[test]
fn a_pending_command_holds_back_only_its_own_session() {
    let (monitor, path, gate) = start("order");
    let mut a = client(&path, true);
    let mut b = client(&path, true);
    a.send_raw(br#"{"execute": "x-hold", "id": "h"}{"execute": "query-version", "id": "v"}{"exec-oob": "x-ping", "id": "p"}"#)
        .unwrap();
    // The out-of-band ping overtakes the held command and the queued one.
    assert_eq!(a.read_message().unwrap(), json!({"return": {}, "id": "p"}));
    wait_until("the hold to be registered", || gate.held.lock().len() == 1);
    // Another session is served while A's command is pending.
    let v = b.execute("query-version", json!({})).unwrap();
    assert!(v.get("qemu").is_some());
    release(&gate, 42);
    assert_eq!(a.read_message().unwrap(), json!({"return": 42, "id": "h"}));
    let next = a.read_message().unwrap();
    assert_eq!(next["id"], "v");
    assert!(next["return"].get("qemu").is_some());
    monitor.shutdown();
}

#[test]
fn without_oob_requests_queue_behind_a_pending_one_in_order() {
    let (monitor, path, gate) = start("inband");
    let mut a = client(&path, false);
    let mut input = br#"{"execute": "x-hold", "id": 0}"#.to_vec();
    for i in 1..=20 {
        input.extend_from_slice(format!(r#"{{"execute": "x-ping", "id": {i}}}"#).as_bytes());
    }
    a.send_raw(&input).unwrap();
    wait_until("the hold to be registered", || gate.held.lock().len() == 1);
    let mut b = client(&path, false);
    b.execute("x-ping", json!({})).unwrap();
    release(&gate, 7);
    assert_eq!(a.read_message().unwrap(), json!({"return": 7, "id": 0}));
    for i in 1..=20 {
        assert_eq!(a.read_message().unwrap(), json!({"return": {}, "id": i}));
    }
    monitor.shutdown();
}

#[test]
fn a_dropped_handle_answers_with_an_error() {
    let (monitor, path, _gate) = start("dropped");
    let mut a = client(&path, true);
    let err = a.execute("x-forget", json!({})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: The command x-forget was dropped without an answer"
    );
    a.execute("x-ping", json!({})).unwrap();
    monitor.shutdown();
}

#[test]
fn async_commands_are_polled_and_woken_from_other_threads() {
    let (monitor, path, _gate) = start("async");
    let mut a = client(&path, true);
    assert_eq!(
        a.execute("x-ready", json!({"value": 21})).unwrap(),
        json!(42)
    );
    a.send_raw(br#"{"execute": "x-await", "arguments": {"value": 5}, "id": "w"}"#)
        .unwrap();
    wait_until("the future to wait", || {
        AWAITING.0.lock().iter().any(|(t, _)| *t == 5)
    });
    let sender = {
        let mut list = AWAITING.0.lock();
        let pos = list.iter().position(|(t, _)| *t == 5).unwrap();
        list.remove(pos).1
    };
    std::thread::spawn(move || sender.send(99)).join().unwrap();
    assert_eq!(a.read_message().unwrap(), json!({"return": 99, "id": "w"}));
    let err = a.execute("x-await", json!({"value": "x"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Parameter 'value' expects uint64"
    );
    monitor.shutdown();
}

#[test]
fn the_in_band_queue_is_bounded() {
    let mut registry = Registry::with_inventory().unwrap();
    registry
        .insert(monitor_core::Command::typed("x-noop", |_, ()| {
            Ok::<_, CommandError>(())
        }))
        .unwrap();
    let mut state = StateMap::default();
    state.insert(Arc::new(Gate::default()));
    let d = Dispatcher::new(registry, state, Emitter::new());
    let mut s = Session::new(1, "test", true);
    let mut out = Vec::new();
    s.feed(
        &d,
        br#"{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}"#,
        &mut out,
    );
    let mut input = br#"{"execute": "x-hold"}"#.to_vec();
    for _ in 0..20 {
        input.extend_from_slice(br#"{"execute": "x-noop"}"#);
    }
    out.clear();
    s.feed(&d, &input, &mut out);
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    assert!(!s.wants_input(), "8 queued messages fill the queue");
}

/// The client's timeout bounds the whole wait for a response: events
/// arriving meanwhile (a heartbeat) used to restart it with every line, so
/// waiting for an answer that never came never ended.
#[test]
fn client_wait_for_a_response_times_out_while_events_flow() {
    let (monitor, path, _gate) = start("wait-timeout");
    let mut c = client(&path, false);
    c.set_timeout(std::time::Duration::from_millis(300));
    let events = monitor.emitter().clone();
    let flowing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let emitter = {
        let flowing = Arc::clone(&flowing);
        std::thread::spawn(move || {
            while flowing.load(std::sync::atomic::Ordering::Relaxed) {
                events.emit(monitor_core::Event::new("TICK"));
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    // x-hold answers only when released, which this test never does.
    c.send_raw(br#"{"execute": "x-hold", "id": "held"}"#)
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(c.wait_response(&json!("held")).map(drop));
    });
    let waited = rx.recv_timeout(TIMEOUT);
    flowing.store(false, std::sync::atomic::Ordering::Relaxed);
    emitter.join().unwrap();
    assert!(
        matches!(waited, Ok(Err(monitor_core::client::ClientError::Timeout))),
        "{waited:?}"
    );
    waiter.join().unwrap();
    monitor.shutdown();
}
