//! Server behaviour of an in-process monitor: sockets, quit, shutdown,
//! panicking handlers, event gating and framing across writes.

use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use monitor_core::client::{Client, ClientError};
use monitor_core::{
    Command, CommandError, Event, Exit, ListenAddr, Monitor, MonitorBuilder, ServerError,
};
use monitor_test_util::socket_path;
use serde_json::{json, Value as Json};

/// How long any single wait in these tests may take before it is a failure.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A builder with `x-echo` (returns its arguments) and `x-panic`. Plain
/// JSON and `()` keep the commands free of schema descriptions.
fn builder() -> MonitorBuilder {
    Monitor::builder()
        .version(3, 1, 4, "server-tests")
        .command(Command::typed("x-echo", |_, arguments: Json| {
            Ok::<_, CommandError>(arguments)
        }))
        .command(Command::typed(
            "x-panic",
            |_, ()| -> Result<(), CommandError> { panic!("x-panic was called") },
        ))
}

fn connect(path: &PathBuf) -> Client {
    let mut client = Client::connect_unix(path).expect("connect");
    client.set_timeout(TIMEOUT);
    client
}

fn negotiated(path: &PathBuf) -> Client {
    let mut client = connect(path);
    client.negotiate().expect("negotiate");
    client
}

/// Runs `Monitor::wait` on another thread so a hang is a failure, not a stuck test.
fn wait_exit(monitor: Monitor) -> Exit {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(monitor.wait().map_err(|e| e.to_string()));
    });
    rx.recv_timeout(TIMEOUT)
        .expect("the monitor thread did not end in time")
        .expect("the monitor thread failed")
}

fn assert_closed(client: &mut Client) {
    match client.read_message() {
        Err(ClientError::Closed) => {}
        other => panic!("expected end of stream, got {other:?}"),
    }
}

#[test]
fn unix_socket_is_created_with_mode_0600() {
    let path = socket_path("mode");
    let monitor = builder().listen_unix(&path).spawn().unwrap();
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    monitor.shutdown();
    assert_eq!(wait_exit(monitor), Exit::Shutdown);
    assert!(!path.exists(), "the socket file outlived the monitor");
}

#[test]
fn stale_socket_file_is_replaced() {
    let path = socket_path("stale");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket());
    let monitor = builder().listen_unix(&path).spawn().unwrap();
    let mut client = negotiated(&path);
    let version = client.execute("query-version", json!({})).unwrap();
    assert_eq!(version["package"], "server-tests");
    drop(monitor);
}

#[test]
fn live_socket_makes_spawn_fail_naming_the_path() {
    let path = socket_path("live");
    let first = builder().listen_unix(&path).spawn().unwrap();
    let err = builder().listen_unix(&path).spawn().unwrap_err();
    assert!(
        matches!(&err, monitor_core::Error::Server(ServerError::InUse { path: p }) if *p == path),
        "unexpected error: {err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "error does not name the path: {err}"
    );
    // The failed attempt left the first monitor's socket alone.
    let mut client = negotiated(&path);
    assert_eq!(
        client
            .execute("x-echo", json!({"text": "still here"}))
            .unwrap(),
        json!({"text": "still here"})
    );
    drop(first);
}

#[test]
fn tcp_listener_on_port_zero_reports_its_address() {
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let monitor = builder().listen_tcp(any_port).spawn().unwrap();
    let addr = match monitor.local_addrs() {
        [ListenAddr::Tcp(addr)] => *addr,
        other => panic!("unexpected local addresses {other:?}"),
    };
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let mut client = Client::connect_tcp(addr).unwrap();
    client.set_timeout(TIMEOUT);
    assert_eq!(
        client.greeting()["QMP"]["version"]["package"],
        "server-tests"
    );
    client.negotiate().unwrap();
    assert_eq!(
        client
            .execute("x-echo", json!({"text": "over tcp"}))
            .unwrap(),
        json!({"text": "over tcp"})
    );
    drop(monitor);
}

/// QEMU 7.2 (checked against qemu-system-x86_64 7.2.22 on a unix socket,
/// with and without oob) sends SHUTDOWN before `quit`'s response.
#[test]
fn quit_emits_shutdown_then_answers_and_ends_the_monitor() {
    let path = socket_path("quit");
    let (hook_tx, hook_rx) = mpsc::channel();
    let monitor = builder()
        .on_quit(move || hook_tx.send(()).expect("the test is waiting"))
        .listen_unix(&path)
        .spawn()
        .unwrap();
    let mut quitter = negotiated(&path);
    let mut watcher = negotiated(&path);
    quitter
        .send_raw(br#"{"execute": "quit", "id": "bye"}"#)
        .unwrap();

    let event = quitter.read_message().unwrap();
    assert_eq!(event["event"], "SHUTDOWN", "got {event}");
    assert_eq!(
        event["data"],
        json!({"guest": false, "reason": "host-qmp-quit"})
    );
    assert!(event["timestamp"]["seconds"].as_i64().unwrap() > 0);
    let response = quitter.read_message().unwrap();
    assert_eq!(response, json!({"return": {}, "id": "bye"}));
    assert_closed(&mut quitter);

    // Every negotiated client sees the event, then the end of the stream.
    let event = watcher.read_message().unwrap();
    assert_eq!(event["event"], "SHUTDOWN");
    assert_closed(&mut watcher);

    assert_eq!(wait_exit(monitor), Exit::Quit);
    hook_rx
        .try_recv()
        .expect("the on_quit hook did not run before the monitor thread ended");
}

#[test]
fn shutdown_closes_every_client() {
    let path = socket_path("shutdown");
    let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (hook_tx, hook_rx) = mpsc::channel::<()>();
    let monitor = builder()
        .on_quit(move || hook_tx.send(()).expect("the test is waiting"))
        .listen_unix(&path)
        .listen_tcp(any_port)
        .spawn()
        .unwrap();
    let ListenAddr::Tcp(tcp) = monitor.local_addrs()[1] else {
        panic!("the second listener is TCP");
    };
    let mut clients = vec![negotiated(&path), connect(&path)];
    let mut tcp_client = Client::connect_tcp(tcp).unwrap();
    tcp_client.set_timeout(TIMEOUT);
    tcp_client.negotiate().unwrap();
    clients.push(tcp_client);

    monitor.shutdown();
    for client in &mut clients {
        assert_closed(client);
    }
    assert_eq!(wait_exit(monitor), Exit::Shutdown);
    assert!(hook_rx.try_recv().is_err(), "on_quit ran without a quit");
    assert!(!path.exists(), "the socket file outlived the monitor");
}

#[test]
fn panicking_handler_is_answered_and_sessions_keep_working() {
    let path = socket_path("panic");
    let monitor = builder().listen_unix(&path).spawn().unwrap();
    let mut caller = negotiated(&path);
    let mut bystander = negotiated(&path);

    for _ in 0..3 {
        match caller.execute("x-panic", json!({})) {
            Err(ClientError::Command { class, desc }) => {
                assert_eq!(class, "GenericError");
                assert_eq!(desc, "The command x-panic has failed unexpectedly");
            }
            other => panic!("expected a GenericError, got {other:?}"),
        }
        assert_eq!(
            caller.execute("x-echo", json!({"text": "after"})).unwrap(),
            json!({"text": "after"})
        );
    }
    assert_eq!(
        bystander
            .execute("x-echo", json!({"text": "other"}))
            .unwrap(),
        json!({"text": "other"})
    );
    let mut newcomer = negotiated(&path);
    assert_eq!(
        newcomer.execute("query-version", json!({})).unwrap()["package"],
        "server-tests"
    );
    drop(monitor);
}

#[test]
fn events_wait_for_negotiation() {
    let path = socket_path("events");
    let monitor = builder().listen_unix(&path).spawn().unwrap();
    let mut witness = negotiated(&path);
    let mut late = connect(&path);

    monitor.emitter().emit(Event::new("BEFORE"));
    // Once the witness has it, the monitor has handed it out to everyone.
    assert_eq!(witness.next_event().unwrap()["event"], "BEFORE");

    late.send_raw(br#"{"execute": "query-version", "id": 1}"#)
        .unwrap();
    let refused = late.read_message().unwrap();
    assert_eq!(refused["id"], 1);
    assert_eq!(refused["error"]["class"], "CommandNotFound");
    late.negotiate().unwrap();

    monitor.emitter().emit(Event::new("AFTER"));
    assert_eq!(witness.next_event().unwrap()["event"], "AFTER");
    let first = late.next_event().unwrap();
    assert_eq!(first["event"], "AFTER", "got {first}");
    drop(monitor);
}

#[test]
fn message_split_across_many_writes_is_answered_once() {
    let path = socket_path("split");
    let monitor = builder().listen_unix(&path).spawn().unwrap();
    let mut client = negotiated(&path);
    let text = "split \"quoted\" \\ ünïcödé 🦀 \t end";
    let request = json!({"execute": "x-echo", "arguments": {"text": text}, "id": "split"});
    let bytes = request.to_string().into_bytes();
    // One byte per write, then the rest in uneven pieces (cutting UTF-8 sequences).
    let mut pos = 0;
    let mut size = 1;
    while pos < bytes.len() {
        let end = (pos + size).min(bytes.len());
        client.send_raw(&bytes[pos..end]).unwrap();
        pos = end;
        if pos > 24 {
            size = size % 5 + 2;
        }
    }
    client
        .send_raw(br#"{"execute": "x-echo", "arguments": {"text": "next"}, "id": "next"}"#)
        .unwrap();
    let lines: Vec<Json> = (0..2).map(|_| client.read_message().unwrap()).collect();
    assert_eq!(lines[0], json!({"return": {"text": text}, "id": "split"}));
    assert_eq!(lines[1], json!({"return": {"text": "next"}, "id": "next"}));
    drop(monitor);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// A console runs its commands without descriptors: those passed to it
/// are closed as they arrive, not held until it disconnects.
#[test]
fn descriptors_passed_to_a_console_are_closed_at_once() {
    use std::os::fd::AsFd;
    let path = socket_path("console-fds");
    let monitor = builder()
        .listen_console(
            ListenAddr::Unix(path.clone()),
            std::sync::Arc::new(Listers::new(b"{\"key\": 1}\r\n")),
        )
        .spawn()
        .expect("spawn");
    let mut console = connect(&path);
    let files: Vec<std::fs::File> = (0..4)
        .map(|_| std::fs::File::open("/dev/null").expect("open /dev/null"))
        .collect();
    let fds: Vec<_> = files.iter().map(AsFd::as_fd).collect();
    let baseline = open_fds();
    for _ in 0..10 {
        console.send_with_fds(b"k", &fds).expect("send");
        let answer = console.read_message().expect("the console's answer");
        assert!(answer["key"].is_u64(), "{answer}");
    }
    // The monitor runs in this process: its descriptors are ours.
    monitor_test_util::wait_until("the passed descriptors closed", || open_fds() <= baseline);
    drop(console);
    monitor.shutdown();
}

/// A console that greets as QMP does (so that `Client` connects), answers
/// every key with `line`, and records the most room it was ever given.
#[derive(Debug)]
struct Lister {
    line: Vec<u8>,
    most_room: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl monitor_core::console::Console for Lister {
    fn start(&mut self, _: &monitor_core::session::Dispatcher, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"QMP\": {}}\r\n");
    }

    fn input(
        &mut self,
        _: &monitor_core::session::Dispatcher,
        bytes: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> monitor_core::console::ConsoleInput {
        self.most_room
            .fetch_max(room, std::sync::atomic::Ordering::Relaxed);
        let start = out.len();
        let mut used = bytes.len();
        for i in 0..bytes.len() {
            out.extend_from_slice(&self.line);
            if out.len() - start > room && i + 1 < bytes.len() {
                used = i + 1;
                break;
            }
        }
        monitor_core::console::ConsoleInput {
            used,
            effects: monitor_core::console::ConsoleEffects::default(),
        }
    }
}

/// Makes [`Lister`]s that print `line` and share `most_room`.
#[derive(Debug, Clone)]
struct Listers {
    line: Vec<u8>,
    most_room: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Listers {
    fn new(line: &[u8]) -> Self {
        Listers {
            line: line.to_vec(),
            most_room: std::sync::Arc::default(),
        }
    }
}

impl monitor_core::console::ConsoleFactory for Listers {
    fn open(&self, _: &monitor_core::SessionInfo) -> Box<dyn monitor_core::console::Console> {
        Box::new(Lister {
            line: self.line.clone(),
            most_room: std::sync::Arc::clone(&self.most_room),
        })
    }
}

/// A key storm on a console is handled in slices of at most 64 KiB of
/// output per turn (docs/LIMITS.md), not up to the 1 MiB pause threshold
/// at once, and every key is still answered.
#[test]
fn a_console_key_storm_is_handled_a_slice_per_turn() {
    use std::io::{BufRead, BufReader, Write};
    let path = socket_path("console-storm");
    let mut line = vec![b'x'; 4095];
    line.push(b'\n');
    let listers = Listers::new(&line);
    let most_room = std::sync::Arc::clone(&listers.most_room);
    let monitor = builder()
        .listen_console(ListenAddr::Unix(path.clone()), std::sync::Arc::new(listers))
        .spawn()
        .expect("spawn");
    let stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    const KEYS: usize = 2000;
    let storm = std::thread::spawn(move || writer.write_all(&[b'\t'; KEYS]));
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).expect("greeting");
    for key in 0..KEYS {
        line.clear();
        reader.read_until(b'\n', &mut line).expect("a key's output");
        assert_eq!(line.len(), 4096, "key {key}");
    }
    storm.join().expect("writer").expect("the storm was sent");
    let room = most_room.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        room <= 64 << 10,
        "a console was given {room} bytes of room in one turn"
    );
    monitor.shutdown();
}
