//! Listeners handed over as descriptors (libvirt's `-chardev
//! socket,fd=N,server=on`): served like bound ones, never unlinked, and
//! refused at spawn when they are not listening sockets.

use monitor_test_util as util;

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use monitor_core::client::Client;
use monitor_core::console::{Console, ConsoleEffects, ConsoleFactory, ConsoleInput};
use monitor_core::session::Dispatcher;
use monitor_core::{
    Error, InheritError, ListenAddr, ListenOptions, Monitor, ServerError, SessionInfo,
};
use serde_json::json;
use util::{socket_path, TIMEOUT};

/// A unix socket bound and listening at a fresh path, as libvirt makes it.
fn unix_listener(tag: &str) -> (UnixListener, PathBuf) {
    let path = socket_path(tag);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    (listener, path)
}

/// Removes a socket file when the test ends, however it ends.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// This process's user ID (the owner of `/proc/self`).
fn my_uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

/// Two clients at once, then a third after the first left: all served.
fn serve_and_reconnect(connect: impl Fn() -> Client) {
    let mut first = connect();
    let mut second = connect();
    first.set_timeout(TIMEOUT);
    second.set_timeout(TIMEOUT);
    first.negotiate().expect("first negotiates");
    second.negotiate().expect("second negotiates");
    let v1 = first.execute("query-version", json!({})).expect("first");
    let v2 = second.execute("query-version", json!({})).expect("second");
    assert_eq!(v1, v2);
    assert_eq!(v1["package"], "inherited");
    drop(first);
    let mut again = connect();
    again.set_timeout(TIMEOUT);
    again.negotiate().expect("a reconnecting client negotiates");
    again
        .execute("query-version", json!({}))
        .expect("and is served");
    second
        .execute("query-version", json!({}))
        .expect("the second client is still served");
}

fn shut(monitor: Monitor) {
    monitor.shutdown();
    monitor.wait().expect("the monitor thread ends cleanly");
}

#[test]
fn unix_fd_is_served_and_its_file_left_in_place() {
    let (listener, path) = unix_listener("fd-unix");
    let _remove = Remove(path.clone());
    // libvirt connects as soon as the process starts, before the monitor
    // runs: the connection waits in the backlog.
    let mut early = UnixStream::connect(&path).expect("connect before spawn");
    let monitor = Monitor::builder()
        .version(1, 2, 3, "inherited")
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    assert_eq!(monitor.local_addrs(), [ListenAddr::Unix(path.clone())]);
    early
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a timeout");
    let mut byte = [0u8; 1];
    early
        .read_exact(&mut byte)
        .expect("the early client is greeted");
    assert_eq!(&byte, b"{");
    serve_and_reconnect(|| Client::connect_unix(&path).expect("connect"));
    shut(monitor);
    let meta = std::fs::symlink_metadata(&path).expect("the socket file is still there");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
}

#[test]
fn a_bound_unix_listener_still_removes_its_file() {
    let path = socket_path("bound");
    let monitor = Monitor::builder()
        .listen_unix(&path)
        .spawn()
        .expect("spawn");
    assert!(path.exists());
    shut(monitor);
    assert!(!path.exists(), "a socket file the monitor made is removed");
}

#[test]
fn tcp_fd_is_served() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let monitor = Monitor::builder()
        .version(1, 2, 3, "inherited")
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    assert_eq!(monitor.local_addrs(), [ListenAddr::Tcp(addr)]);
    serve_and_reconnect(|| Client::connect_tcp(addr).expect("connect"));
    shut(monitor);
    // The port is free again: the monitor closed its (only) copy.
    TcpListener::bind(addr).expect("the port is released at shutdown");
}

#[test]
fn tcp6_fd_is_served() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
            panic!("no IPv6 loopback");
        }
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let addr = listener.local_addr().expect("address");
    let monitor = Monitor::builder()
        .version(1, 2, 3, "inherited")
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    assert_eq!(monitor.local_addrs(), [ListenAddr::Tcp(addr)]);
    serve_and_reconnect(|| Client::connect_tcp(addr).expect("connect"));
    shut(monitor);
}

#[test]
fn peer_outside_the_allow_list_gets_nothing() {
    let (listener, path) = unix_listener("fd-refused");
    let _remove = Remove(path.clone());
    let monitor = Monitor::builder()
        .allow_uids([my_uid().wrapping_add(1)])
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    let stream = UnixStream::connect(&path).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let got = util::read_until_closed(stream);
    assert!(
        got.is_empty(),
        "a refused peer received {:?}",
        String::from_utf8_lossy(&got)
    );
    shut(monitor);
    assert!(path.exists());
}

#[test]
fn peer_in_the_allow_list_is_greeted() {
    let (listener, path) = unix_listener("fd-allowed");
    let _remove = Remove(path.clone());
    let monitor = Monitor::builder()
        .allow_uids([my_uid()])
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    let mut client = Client::connect_unix(&path).expect("greeting");
    client.negotiate().expect("negotiate");
    shut(monitor);
}

#[test]
fn the_connection_limit_applies() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let monitor = Monitor::builder()
        .max_connections(1)
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    let mut first = Client::connect_tcp(addr).expect("first");
    let second = TcpStream::connect(addr).expect("connect");
    second.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    assert!(util::read_until_closed(second).is_empty());
    first.negotiate().expect("the first client is still served");
    shut(monitor);
}

/// Spawns a monitor on `fd`; the error it fails with.
fn spawn_error(fd: OwnedFd) -> (i32, String, Error) {
    let raw = fd.as_raw_fd();
    let err = Monitor::builder()
        .listen_fd(fd)
        .spawn()
        .expect_err("spawn must refuse it");
    (raw, err.to_string(), err)
}

fn problem(err: &Error) -> InheritError {
    match err {
        Error::Server(ServerError::NotListening { problem, .. }) => *problem,
        other => panic!("not NotListening: {other:?}"),
    }
}

#[test]
fn a_regular_file_fails_spawn() {
    let file = std::fs::File::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("open");
    let (raw, message, err) = spawn_error(OwnedFd::from(file));
    assert_eq!(
        message,
        format!("fd {raw} is not a listening socket: not a socket")
    );
    assert_eq!(problem(&err), InheritError::NotASocket);
}

#[test]
fn a_connected_socket_fails_spawn() {
    let (ours, _theirs) = UnixStream::pair().expect("pair");
    let (raw, message, err) = spawn_error(OwnedFd::from(ours));
    assert_eq!(
        message,
        format!("fd {raw} is not a listening socket: listen() was not called on it")
    );
    assert_eq!(problem(&err), InheritError::NotListening);
}

#[test]
fn a_bound_socket_that_is_not_listening_fails_spawn() {
    let path = socket_path("not-listening");
    let _remove = Remove(path.clone());
    let socket = rustix::net::socket(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        None,
    )
    .expect("socket");
    let name = rustix::net::SocketAddrUnix::new(&path).expect("address");
    rustix::net::bind(&socket, &name).expect("bind");
    let (raw, message, err) = spawn_error(socket);
    assert!(message.starts_with(&format!("fd {raw} is not a listening socket")));
    assert_eq!(problem(&err), InheritError::NotListening);
    assert!(path.exists(), "a refused socket's file is not removed");
}

#[test]
fn a_datagram_socket_fails_spawn() {
    let socket = UnixDatagram::unbound().expect("socket");
    let (_, _, err) = spawn_error(OwnedFd::from(socket));
    assert_eq!(problem(&err), InheritError::NotAStream);
}

#[test]
fn a_refused_fd_fails_before_anything_is_bound() {
    let path = socket_path("not-bound");
    let file = std::fs::File::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .expect("open");
    let err = Monitor::builder()
        .listen_unix(&path)
        .listen_fd(OwnedFd::from(file))
        .spawn()
        .expect_err("spawn must fail");
    assert!(matches!(
        err,
        Error::Server(ServerError::NotListening { .. })
    ));
    assert!(!path.exists(), "nothing is left bound");
}

#[test]
fn a_failed_bind_removes_the_files_already_created() {
    let first = socket_path("first");
    let (_taken, second) = unix_listener("taken");
    let _remove = Remove(second.clone());
    let err = Monitor::builder()
        .listen_unix(&first)
        .listen_unix(&second)
        .spawn()
        .expect_err("the second path is in use");
    assert!(
        matches!(err, Error::Server(ServerError::InUse { .. })),
        "{err}"
    );
    assert!(!first.exists(), "the first listener's file is removed");
    assert!(second.exists(), "the other process's file is not");
}

struct Silent;

impl Console for Silent {
    fn start(&mut self, _: &Dispatcher, _: &mut Vec<u8>) {}

    fn input(&mut self, _: &Dispatcher, bytes: &[u8], _: &mut Vec<u8>, _: usize) -> ConsoleInput {
        ConsoleInput {
            used: bytes.len(),
            effects: ConsoleEffects::default(),
        }
    }
}

impl ConsoleFactory for Silent {
    fn open(&self, _: &SessionInfo) -> Box<dyn Console> {
        Box::new(Silent)
    }
}

#[test]
fn a_console_fd_is_served_as_a_console() {
    let (listener, path) = unix_listener("fd-console");
    let _remove = Remove(path.clone());
    let options = ListenOptions {
        console: Some(Arc::new(Silent)),
        ..ListenOptions::default()
    };
    let monitor = Monitor::builder()
        .listen_with(OwnedFd::from(listener), options)
        .spawn()
        .expect("spawn");
    let stream = UnixStream::connect(&path).expect("connect");
    util::wait_until("the console session", || monitor.stats().sessions == 1);
    // A QMP listener would have greeted it; this console says nothing, and
    // the connection ends at shutdown.
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    monitor.shutdown();
    assert!(util::read_until_closed(&stream).is_empty());
    monitor.wait().expect("clean exit");
    assert!(path.exists());
}

#[test]
fn a_pretty_console_fails_spawn() {
    let path = socket_path("pretty-console");
    let options = ListenOptions {
        console: Some(Arc::new(Silent)),
        pretty: true,
    };
    let err = Monitor::builder()
        .listen_with(ListenAddr::Unix(path.clone()), options)
        .spawn()
        .expect_err("QEMU refuses pretty=on for HMP");
    assert_eq!(
        err.to_string(),
        format!(
            "unix:{}: 'pretty' is not compatible with console (HMP) listeners",
            path.display()
        )
    );
    assert!(!path.exists());
}

#[test]
fn local_addrs_follow_the_order_listeners_were_added() {
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp_addr: SocketAddr = tcp.local_addr().expect("address");
    let (unix, path) = unix_listener("fd-order");
    let _remove = Remove(path.clone());
    let monitor = Monitor::builder()
        .listen_fd(OwnedFd::from(tcp))
        .listen_tcp("127.0.0.1:0".parse().expect("address"))
        .listen_fd(OwnedFd::from(unix))
        .spawn()
        .expect("spawn");
    let addrs = monitor.local_addrs();
    assert_eq!(addrs.len(), 3);
    assert_eq!(addrs[0], ListenAddr::Tcp(tcp_addr));
    assert!(matches!(addrs[1], ListenAddr::Tcp(a) if a.port() != 0));
    assert_eq!(addrs[2], ListenAddr::Unix(path.clone()));
    shut(monitor);
}

#[cfg(target_os = "linux")]
#[test]
fn an_abstract_unix_socket_is_reported_with_an_at() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("mc-abstract-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .expect("abstract address");
    let listener = UnixListener::bind_addr(&addr).expect("bind");
    let monitor = Monitor::builder()
        .listen_fd(OwnedFd::from(listener))
        .spawn()
        .expect("spawn");
    assert_eq!(
        monitor.local_addrs(),
        [ListenAddr::Unix(PathBuf::from(format!("@{name}")))]
    );
    let stream = UnixStream::connect_addr(&addr).expect("connect");
    let mut client_greeting = [0u8; 7];
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    (&stream)
        .read_exact(&mut client_greeting)
        .expect("greeting");
    assert_eq!(&client_greeting, b"{\"QMP\":");
    shut(monitor);
}
