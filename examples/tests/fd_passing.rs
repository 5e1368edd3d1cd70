//! File descriptors passed over SCM_RIGHTS: `getfd`, a command that uses the
//! named descriptor, `closefd`, fd sets, limits, and no descriptor left
//! behind in the monitor's process after many rounds or abrupt disconnects.

mod util;

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use monitor_core::client::Client;
use monitor_core::fds::AccessMode;
use monitor_core::{Command, CommandError, Monitor};
use serde_json::json;

/// How long any single wait may take before it is a failure.
const TIMEOUT: Duration = Duration::from_secs(20);

fn temp_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-fd-{tag}-{}-{n}", std::process::id()))
}

/// Descriptors open in process `pid`.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read /proc/PID/fd")
        .count()
}

/// Waits until process `pid` has `expected` descriptors open, or fails
/// at the deadline saying how many it has.
fn wait_fds(pid: u32, expected: usize, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = open_fds(pid);
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the monitor has {now} descriptors open, expected {expected}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn connect(path: &Path) -> Client {
    let mut client = Client::connect_unix(path).expect("connect");
    client.set_timeout(TIMEOUT);
    client.negotiate().expect("negotiate");
    client
}

/// A `minimal` that no connection has touched yet, and the first client
/// of it (which retries until the socket exists). `Minimal::spawn`'s
/// readiness probe could still be open when a test takes its baseline
/// count of descriptors; this one makes none.
fn start_untouched() -> (util::Minimal, Client) {
    let minimal = util::Minimal::start(&[], "debug");
    let deadline = Instant::now() + TIMEOUT;
    let mut client = loop {
        match Client::connect_unix(&minimal.socket) {
            Ok(client) => break client,
            Err(e) if Instant::now() >= deadline => panic!("connect: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    client.set_timeout(TIMEOUT);
    client.negotiate().expect("negotiate");
    (minimal, client)
}

/// A file for the monitor to write into, and its path.
fn scratch_file(tag: &str) -> (File, PathBuf) {
    let path = temp_path(tag);
    let file = File::create(&path).expect("create the scratch file");
    (file, path)
}

#[test]
fn getfd_use_closefd_thousand_rounds_leaks_nothing() {
    let (minimal, mut client) = start_untouched();
    let baseline = open_fds(minimal.pid());
    let (file, path) = scratch_file("rounds");
    let extra = File::open("/dev/null").expect("/dev/null");
    for round in 0..1000u64 {
        // Every tenth round passes two descriptors: getfd keeps the first
        // and closes the other, as QEMU does.
        let fds = if round % 10 == 0 {
            vec![file.as_fd(), extra.as_fd()]
        } else {
            vec![file.as_fd()]
        };
        client
            .execute_with_fds("getfd", json!({"fdname": "out"}), &fds)
            .expect("getfd");
        let info = client
            .execute("x-fd-write", json!({"fdname": "out", "data": "ab"}))
            .expect("x-fd-write");
        assert_eq!(info["written"], 2);
        assert_eq!(info["size"], 2 * (round + 1), "round {round}");
        client
            .execute("closefd", json!({"fdname": "out"}))
            .expect("closefd");
    }
    // closefd closes before it answers: nothing to wait for.
    assert_eq!(open_fds(minimal.pid()), baseline, "after 1000 rounds");
    let err = client
        .execute("x-fd-write", json!({"fdname": "out", "data": "x"}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: File descriptor named 'out' has not been found"
    );
    let mut written = String::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_string(&mut written))
        .expect("read back");
    assert_eq!(written, "ab".repeat(1000));
    let _ = std::fs::remove_file(path);
}

#[test]
fn abrupt_disconnects_close_every_held_descriptor() {
    let (minimal, mut observer) = start_untouched();
    let (file, path) = scratch_file("abrupt");
    let baseline = open_fds(minimal.pid());
    for round in 0..20 {
        let mut clients: Vec<Client> = (0..4).map(|_| connect(&minimal.socket)).collect();
        for (i, client) in clients.iter_mut().enumerate() {
            for name in ["a", "b", "c"] {
                client
                    .execute_with_fds("getfd", json!({"fdname": name}), &[file.as_fd()])
                    .expect("getfd");
            }
            client
                .execute_with_fds(
                    "add-fd",
                    json!({"opaque": format!("c{i}")}),
                    &[file.as_fd()],
                )
                .expect("add-fd");
            // Received but never taken by a command.
            client
                .send_with_fds(b" ", &[file.as_fd(), file.as_fd()])
                .expect("send descriptors alone");
            // A request cut in the middle.
            client
                .send_raw(br#"{"execute": "getfd", "argum"#)
                .expect("send half a request");
        }
        assert!(open_fds(minimal.pid()) > baseline + 4 * 4);
        drop(clients);
        // The fd sets stay while a client (the observer) is connected.
        wait_fds(minimal.pid(), baseline + 4, &format!("round {round}"));
        observer
            .execute("remove-fd", json!({"fdset-id": 0}))
            .expect("remove-fd");
        for set in 1..4 {
            observer
                .execute("remove-fd", json!({"fdset-id": set}))
                .expect("remove-fd");
        }
        assert_eq!(open_fds(minimal.pid()), baseline);
    }
    // When the last client goes, QEMU closes the fd sets: so do we.
    let mut client = connect(&minimal.socket);
    client
        .execute_with_fds("add-fd", json!({}), &[file.as_fd()])
        .expect("add-fd");
    drop(client);
    drop(observer);
    let mut late = connect(&minimal.socket);
    let deadline = Instant::now() + TIMEOUT;
    while late
        .execute("query-fdsets", json!({}))
        .expect("query-fdsets")
        != json!([])
    {
        assert!(Instant::now() < deadline, "the fd set outlived its clients");
        drop(late);
        late = connect(&minimal.socket);
    }
    assert_eq!(open_fds(minimal.pid()), baseline);
    let _ = std::fs::remove_file(path);
}

/// An in-process monitor with a command that takes a descriptor for good.
fn in_process(tag: &str, limit: usize) -> (Monitor, PathBuf) {
    let socket = temp_path(tag).with_extension("sock");
    let monitor = Monitor::builder()
        .fds_per_session(limit)
        .fd_set_limit(2)
        .command(Command::typed("x-take", |ctx, ()| {
            let fd: OwnedFd = ctx.take_fd("kept")?;
            let meta = File::from(fd)
                .metadata()
                .map_err(|e| CommandError::generic(e.to_string()))?;
            Ok::<_, CommandError>(meta.is_file())
        }))
        .listen_unix(&socket)
        .spawn()
        .expect("spawn");
    (monitor, socket)
}

#[test]
fn named_descriptor_limit_refuses_new_names_only() {
    let (monitor, socket) = in_process("limit", 2);
    let mut client = connect(&socket);
    let null = File::open("/dev/null").expect("/dev/null");
    for name in ["a", "b", "a"] {
        client
            .execute_with_fds("getfd", json!({"fdname": name}), &[null.as_fd()])
            .expect("getfd within the limit");
    }
    let err = client
        .execute_with_fds("getfd", json!({"fdname": "c"}), &[null.as_fd()])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Too many file descriptors: this session holds 2 already"
    );
    client
        .execute("closefd", json!({"fdname": "b"}))
        .expect("closefd");
    client
        .execute_with_fds("getfd", json!({"fdname": "c"}), &[null.as_fd()])
        .expect("getfd after closefd");
    monitor.shutdown();
}

#[test]
fn fd_set_limit_refuses_more() {
    let (monitor, socket) = in_process("setlimit", 2);
    let mut client = connect(&socket);
    let null = File::open("/dev/null").expect("/dev/null");
    for _ in 0..2 {
        client
            .execute_with_fds("add-fd", json!({"fdset-id": 5}), &[null.as_fd()])
            .expect("add-fd within the limit");
    }
    let err = client
        .execute_with_fds("add-fd", json!({}), &[null.as_fd()])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Too many file descriptors in fd sets: 2 already"
    );
    monitor.shutdown();
}

#[test]
fn a_handler_takes_a_named_descriptor_and_the_vmm_opens_fd_sets() {
    let (monitor, socket) = in_process("take", 4);
    let mut client = connect(&socket);
    let (file, path) = scratch_file("take");
    client
        .execute_with_fds("getfd", json!({"fdname": "kept"}), &[file.as_fd()])
        .expect("getfd");
    assert_eq!(client.execute("x-take", json!({})).expect("x-take"), true);
    // Taken: the session no longer holds it.
    let err = client
        .execute("closefd", json!({"fdname": "kept"}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: File descriptor named 'kept' not found"
    );
    let added = client
        .execute_with_fds("add-fd", json!({"fdset-id": 7}), &[file.as_fd()])
        .expect("add-fd");
    assert_eq!(added["fdset-id"], 7);
    let opened = monitor
        .fd_sets()
        .open("/dev/fdset/7", AccessMode::WriteOnly)
        .expect("open /dev/fdset/7");
    assert!(File::from(opened).metadata().expect("fstat").is_file());
    assert!(monitor
        .fd_sets()
        .open("/dev/fdset/7", AccessMode::ReadOnly)
        .is_err());
    monitor.shutdown();
    let _ = std::fs::remove_file(path);
}

#[test]
fn descriptors_cannot_be_passed_over_tcp() {
    let monitor = Monitor::builder()
        .listen_tcp("127.0.0.1:0".parse().expect("address"))
        .spawn()
        .expect("spawn");
    let monitor_core::ListenAddr::Tcp(addr) = monitor.local_addrs()[0].clone() else {
        panic!("not TCP");
    };
    let mut client = Client::connect_tcp(addr).expect("connect");
    client.negotiate().expect("negotiate");
    let null = File::open("/dev/null").expect("/dev/null");
    assert!(matches!(
        client.execute_with_fds("getfd", json!({"fdname": "x"}), &[null.as_fd()]),
        Err(monitor_core::client::ClientError::NotUnix)
    ));
    let err = client.execute("getfd", json!({"fdname": "x"})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: No file descriptor supplied via SCM_RIGHTS"
    );
    monitor.shutdown();
}

/// A message with descriptors ends the kernel's read even when more data
/// follows. If both arrived before the monitor looked (one readiness edge
/// for the two), the monitor must read on after such a read, or the
/// request right behind the descriptor waits forever. A second client
/// holds the monitor thread in a command while the first sends `getfd`
/// with a descriptor and, at once, `query-version`; then both must be
/// answered.
#[test]
fn a_request_right_behind_a_descriptor_is_read() {
    use std::sync::mpsc;
    use std::sync::Mutex;

    let socket = temp_path("behind").with_extension("sock");
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let started_tx = Mutex::new(started_tx);
    let release_rx = Mutex::new(release_rx);
    let monitor = Monitor::builder()
        .command(Command::typed("x-hold", move |_ctx, ()| {
            let _ = started_tx.lock().expect("lock").send(());
            let _ = release_rx.lock().expect("lock").recv_timeout(TIMEOUT);
            Ok::<_, CommandError>(())
        }))
        .listen_unix(&socket)
        .spawn()
        .expect("spawn");
    let mut client = connect(&socket);
    let mut holder = connect(&socket);
    let null = File::open("/dev/null").expect("/dev/null");
    for round in 0..20 {
        holder
            .send_raw(br#"{"execute": "x-hold"}"#)
            .expect("send x-hold");
        started_rx.recv_timeout(TIMEOUT).expect("x-hold runs");
        let getfd =
            format!(r#"{{"execute": "getfd", "arguments": {{"fdname": "p"}}, "id": {round}}}"#);
        client
            .send_with_fds(getfd.as_bytes(), &[null.as_fd()])
            .expect("send getfd");
        let version = format!(r#"{{"execute": "query-version", "id": "v{round}"}}"#);
        client
            .send_raw(version.as_bytes())
            .expect("send query-version");
        release_tx.send(()).expect("release x-hold");
        assert_eq!(
            holder.read_message().expect("x-hold's answer"),
            json!({"return": {}})
        );
        let first = client.read_message().expect("getfd's answer");
        assert_eq!(first, json!({"return": {}, "id": round}), "round {round}");
        let second = client.read_message().expect("query-version's answer");
        assert_eq!(second["id"], json!(format!("v{round}")), "round {round}");
        assert!(second["return"]["qemu"].is_object(), "{second}");
    }
    monitor.shutdown();
}
