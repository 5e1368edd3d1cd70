//! What an embedder meets first: state checked at start-up, `async fn`
//! commands that reach VMM state with a true schema, `State<T>` handed to
//! threads, error conversions, required commands, throttle rules, and the
//! session hooks.

use monitor_test_util as util;

use util::{socket_path, wait_until};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monitor_core::client::Client;
use monitor_core::pending::Completion;
use monitor_core::throttle::{Policy, Rule};
use monitor_core::{qmp_command, CommandError, Error, Event, Monitor, Schema, SessionInfo, State};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

/// The VMM state the commands below take.
struct Vm {
    ticks: AtomicU64,
}

/// Never registered by the test that checks the start-up error.
struct Devices;

#[derive(Serialize, Schema)]
struct Waited {
    ticks: u64,
    ms: u64,
}

/// An async command borrowing VMM state across an await.
#[qmp_command(name = "x-wait")]
async fn x_wait(vm: &Vm, session: &SessionInfo, ms: u64) -> Result<Waited, CommandError> {
    // Suspends until a worker thread says the time is up: the future holds
    // `vm` and `session` meanwhile.
    let (tx, rx) = monitor_core::pending::oneshot();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        tx.send(());
    });
    rx.await.ok_or("the timer went away")?;
    assert!(session.id > 0);
    let ticks = vm.ticks.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(Waited { ticks, ms })
}

/// Answers from a worker thread with an owned handle on the state.
#[qmp_command(name = "x-tick")]
fn x_tick(vm: State<Vm>, done: Completion<u64>) {
    std::thread::spawn(move || done.ok(vm.ticks.fetch_add(1, Ordering::SeqCst) + 1));
}

/// Needs state of a type the VMM may forget to register.
#[qmp_command(name = "x-devices")]
fn x_devices(_devices: &Devices) {}

/// `?` on an I/O error answers QEMU-style.
#[qmp_command(name = "x-read")]
fn x_read(path: String) -> Result<String, CommandError> {
    Ok(std::fs::read_to_string(path)?)
}

/// A boxed error with a source chain.
#[qmp_command(name = "x-parse")]
fn x_parse(text: String) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let n = text
        .parse::<u64>()
        .map_err(|e| format!("cannot parse {text:?}: {e}"))?;
    Ok(n)
}

#[derive(Serialize, Schema, Event)]
#[event(name = "X_LINK_CHANGE")]
struct LinkChange {
    id: String,
}

fn vm() -> Vm {
    Vm {
        ticks: AtomicU64::new(0),
    }
}

/// A builder with every state the commands of this file take.
fn complete_builder(path: &std::path::Path) -> monitor_core::MonitorBuilder {
    Monitor::builder()
        .state(vm())
        .state(Devices)
        .listen_unix(path)
}

fn client(path: &std::path::Path) -> Client {
    let mut c = Client::connect_unix(path).unwrap();
    c.negotiate().unwrap();
    c
}

#[test]
fn spawn_refuses_a_command_whose_state_is_missing() {
    let path = socket_path("no-state");
    let err = Monitor::builder()
        .state(vm())
        .listen_unix(&path)
        .spawn()
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingState { command, type_name }
        if command == "x-devices" && *type_name == "embedding::Devices"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "command `x-devices` takes state of type embedding::Devices, which was never registered \
         (add `.state(...)` or `.shared_state(...)` to the monitor builder)"
    );
    // Nothing was bound.
    assert!(!path.exists());
}

#[test]
fn async_commands_take_state_and_describe_their_result() {
    let path = socket_path("async-state");
    let monitor = complete_builder(&path).spawn().unwrap();
    let mut c = client(&path);
    let r = c.execute("x-wait", json!({"ms": 5})).unwrap();
    assert_eq!(r, json!({"ticks": 1, "ms": 5}));
    let r = c.execute("x-wait", json!({"ms": 6})).unwrap();
    assert_eq!(r["ticks"], 2);

    // The schema says what the command answers: an object with `ticks`
    // and `ms`, not the `{}` of a handler that spawns its own future.
    let schema = c.execute("query-qmp-schema", json!({})).unwrap();
    let entries = schema.as_array().unwrap();
    let by_name = |name: &str| -> &Value {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in the schema"))
    };
    let command = by_name("x-wait");
    assert_eq!(command["meta-type"], "command");
    let ret = by_name(command["ret-type"].as_str().unwrap());
    assert_eq!(ret["meta-type"], "object");
    let members: Vec<&str> = ret["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["ticks", "ms"]);
    let args = by_name(command["arg-type"].as_str().unwrap());
    assert_eq!(args["members"][0]["name"], "ms");
    assert_eq!(args["members"].as_array().unwrap().len(), 1);
    monitor.shutdown();
}

#[test]
fn shared_state_and_owned_handles_see_one_value() {
    let path = socket_path("shared");
    let vm = Arc::new(vm());
    let monitor = Monitor::builder()
        .shared_state(Arc::clone(&vm))
        .state(Devices)
        .listen_unix(&path)
        .spawn()
        .unwrap();
    let mut c = client(&path);
    assert_eq!(c.execute("x-tick", json!({})).unwrap(), 1);
    assert_eq!(c.execute("x-wait", json!({"ms": 0})).unwrap()["ticks"], 2);
    assert_eq!(vm.ticks.load(Ordering::SeqCst), 2);
    monitor.shutdown();
}

#[test]
fn handler_errors_convert_with_question_mark() {
    let path = socket_path("errors");
    let monitor = complete_builder(&path).spawn().unwrap();
    let mut c = client(&path);
    let err = c
        .execute("x-read", json!({"path": "/nonexistent/x"}))
        .unwrap_err();
    assert_eq!(err.to_string(), "GenericError: No such file or directory");
    let err = c.execute("x-parse", json!({"text": "1x"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: cannot parse \"1x\": invalid digit found in string"
    );
    assert_eq!(c.execute("x-parse", json!({"text": "12"})).unwrap(), 12);
    monitor.shutdown();
}

#[test]
fn run_time_commands_have_their_state_checked_too() {
    struct Absent;
    let path = socket_path("run-time-state");
    let monitor = complete_builder(&path).spawn().unwrap();
    let needs =
        monitor_core::Command::typed("x-absent", |ctx, ()| ctx.state::<Absent>().map(|_| ()))
            .requires_state::<Absent>();
    let err = monitor.register(needs).unwrap_err();
    assert!(
        matches!(&err, monitor_core::RegistryError::MissingState { command, .. } if command == "x-absent"),
        "{err:?}"
    );
    let fine = monitor_core::Command::typed("x-present", |ctx, ()| {
        ctx.state::<Vm>().map(|vm| vm.ticks.load(Ordering::SeqCst))
    })
    .requires_state::<Vm>();
    monitor.register(fine).unwrap();
    assert_eq!(client(&path).execute("x-present", json!({})).unwrap(), 0);
    monitor.shutdown();
}

#[test]
fn required_commands_must_be_registered() {
    let path = socket_path("required");
    let err = complete_builder(&path)
        .require_commands(&["x-wait", "x-from-a-library", "query-version"])
        .spawn()
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingCommands(m) if m == &["x-from-a-library"]),
        "{err:?}"
    );
    assert!(err.to_string().contains("use my_commands as _;"), "{err}");
    let monitor = complete_builder(&path)
        .require_commands(&["x-wait", "x-tick"])
        .spawn()
        .unwrap();
    monitor.shutdown();
}

#[test]
fn throttle_rules_must_name_declared_events() {
    let path = socket_path("throttle");
    let rule = Rule::new(Duration::from_secs(1));
    let err = complete_builder(&path)
        .throttle_policy(Policy::qemu().with("X_LINK_CHANGD", rule.clone()))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(&err, Error::UnknownThrottledEvent(n) if n == "X_LINK_CHANGD"),
        "{err:?}"
    );
    // A declared event, and QEMU's own table (which names events this
    // monitor never emits), are fine.
    let monitor = complete_builder(&path)
        .throttle_policy(Policy::qemu().with("X_LINK_CHANGE", Rule::keyed(rule.period(), "id")))
        .spawn()
        .unwrap();
    monitor.emitter().emit(LinkChange { id: "a".into() });
    monitor.shutdown();
}

/// The events a monitor's clients are owed cannot be taken elsewhere: a
/// running monitor holds its emitter's one receiver, and a monitor whose
/// emitter's receiver is held elsewhere does not start.
#[test]
fn nobody_takes_the_events_of_a_running_monitor() {
    let path = socket_path("receiver");
    let builder = complete_builder(&path);
    let thief = builder
        .emitter()
        .receiver()
        .expect("a fresh emitter's receiver");
    let err = builder.spawn().unwrap_err();
    assert!(matches!(err, Error::EventsTaken), "{err:?}");
    assert!(!path.exists(), "nothing was bound");
    drop(thief);

    let monitor = complete_builder(&path).spawn().unwrap();
    assert!(monitor.emitter().receiver().is_none());
    let mut c = client(&path);
    monitor.emitter().emit(Event::new("X_SEEN"));
    let event = c
        .wait_event("X_SEEN")
        .expect("the event reaches the client");
    assert_eq!(event["event"], "X_SEEN");
    monitor.shutdown();
}

#[test]
fn session_hooks_see_every_client_come_and_go() {
    let path = socket_path("hooks");
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let (on, off) = (Arc::clone(&log), Arc::clone(&log));
    let monitor = complete_builder(&path)
        .on_connect(move |s| on.lock().push(format!("+{}", s.id)))
        .on_disconnect(move |s| off.lock().push(format!("-{}", s.id)))
        .spawn()
        .unwrap();
    let first = client(&path);
    let second = client(&path);
    wait_until("two connects", || log.lock().len() == 2);
    assert_eq!(*log.lock(), ["+1", "+2"]);
    drop(first);
    wait_until("a disconnect", || log.lock().len() == 3);
    assert_eq!(log.lock()[2], "-1");
    // The rest leave at shutdown, once each.
    let _ = second;
    monitor.shutdown();
    monitor.wait().unwrap();
    assert_eq!(*log.lock(), ["+1", "+2", "-1", "-2"]);
}
