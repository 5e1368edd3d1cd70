//! From QEMU's monitor and chardev options (parsed by
//! [`monitor_core::qemu_opts`]) to listeners: what both example binaries
//! serve their QMP and human monitors on, and where a serial port goes.
//!
//! - a QMP monitor is served on a socket chardev: a path or TCP address it
//!   binds, or a listening socket the parent passed (`fd=N`, as libvirt
//!   does), with `pretty=on` if asked;
//! - a human monitor on a socket the same way, or on the terminal
//!   (`stdio`), attached once the monitor runs;
//! - anything else behind a monitor (a pty, a file, `null`) is refused:
//!   these VMMs serve monitors on sockets and the terminal only.

use std::net::ToSocketAddrs;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use monitor_core::qemu_opts::{Backend, Chardev, MonitorOptions, SocketAddress};
use monitor_core::{ListenAddr, ListenOptions, ListenSource, MonitorBuilder};
use thiserror::Error;

/// Why a monitor cannot be served as asked.
#[derive(Debug, Error)]
pub enum MonitorError {
    /// A monitor on a backend other than a socket (or stdio for HMP).
    #[error("chardev '{id}': {what} monitors are served on sockets{also} only")]
    Backend {
        /// The chardev.
        id: String,
        /// `QMP` or `human`.
        what: &'static str,
        /// `" and stdio"` for human monitors.
        also: &'static str,
    },
    /// A TCP host that does not resolve.
    #[error("chardev '{id}': cannot resolve '{host}:{port}'")]
    Resolve {
        /// The chardev.
        id: String,
        /// The host.
        host: String,
        /// The port.
        port: u16,
    },
    /// `fd=N` names no open socket, or one already taken.
    #[error("chardev '{id}': fd {fd} is not an open socket this process was given")]
    Fd {
        /// The chardev.
        id: String,
        /// The number.
        fd: RawFd,
    },
}

/// Where the monitors were set up.
#[derive(Debug, Default)]
pub struct Served {
    /// A human monitor on the terminal: attach it after spawning
    /// ([`monitor_hmp::stdio::attach`]).
    pub hmp_stdio: bool,
    /// What to print on stderr, one line each (`QMP on ...`).
    pub lines: Vec<String>,
    /// Each monitor socket's chardev: its id and QEMU's `query-chardev`
    /// filename (`unix:PATH,server=on`), an inherited socket by the
    /// address it is bound to.
    pub chardevs: Vec<(String, String)>,
}

/// Adds a listener for every monitor of `options` to `builder`.
///
/// Call it at start-up, before the process opens sockets of its own: an
/// `fd=N` monitor takes descriptor `N` as the parent passed it (it must
/// be an open socket, and each number is taken once).
///
/// # Errors
///
/// [`MonitorError`] for a monitor these VMMs cannot serve.
///
/// # Examples
///
/// ```
/// use monitor_core::{qemu_opts::Parser, Monitor};
///
/// let mut parser = Parser::new();
/// let path = std::env::temp_dir().join(format!("monitors-doc-{}.qmp", std::process::id()));
/// parser.option("-qmp", &format!("unix:{},server=on,wait=off", path.display())).unwrap();
/// let options = parser.finish().unwrap();
/// let hmp = monitor_hmp::Hmp::new();
/// let (builder, served) = examples::monitors::serve(Monitor::builder(), &options, &hmp).unwrap();
/// assert_eq!(served.lines.len(), 1);
/// let monitor = builder.spawn().unwrap();
/// monitor.shutdown();
/// ```
pub fn serve(
    mut builder: MonitorBuilder,
    options: &MonitorOptions,
    hmp: &monitor_hmp::Hmp,
) -> Result<(MonitorBuilder, Served), MonitorError> {
    let mut served = Served::default();
    for (mon, chardev) in options.qmp() {
        let source = source(chardev, "QMP", "")?;
        served
            .chardevs
            .push((chardev.id.clone(), filename(&source)));
        served.lines.push(format!("QMP on {}", describe(chardev)));
        builder = builder.listen_with(
            source,
            ListenOptions {
                console: None,
                pretty: mon.pretty,
            },
        );
    }
    for (_, chardev) in options.hmp() {
        if matches!(chardev.backend, Backend::Stdio { .. }) {
            served.hmp_stdio = true;
            continue;
        }
        let source = source(chardev, "human", " and stdio")?;
        served
            .chardevs
            .push((chardev.id.clone(), filename(&source)));
        served
            .lines
            .push(format!("human monitor on {}", describe(chardev)));
        builder = builder.listen_with(
            source,
            ListenOptions {
                console: Some(hmp.console()),
                pretty: false,
            },
        );
    }
    Ok((builder, served))
}

/// QEMU's `query-chardev` filename of a listening socket.
fn filename(source: &ListenSource) -> String {
    let addr = match source {
        ListenSource::Addr(addr) => Some(addr.clone()),
        ListenSource::Fd(fd) => fd.try_clone().ok().and_then(|fd| {
            let unix = std::os::unix::net::UnixListener::from(fd);
            match unix.local_addr() {
                Ok(a) => a.as_pathname().map(|p| ListenAddr::Unix(p.to_owned())),
                Err(_) => std::net::TcpListener::from(OwnedFd::from(unix))
                    .local_addr()
                    .ok()
                    .map(ListenAddr::Tcp),
            }
        }),
    };
    match addr {
        Some(ListenAddr::Unix(path)) => format!("unix:{},server=on", path.display()),
        Some(ListenAddr::Tcp(addr)) => format!("tcp:{addr},server=on"),
        None => "socket".to_owned(),
    }
}

fn describe(chardev: &Chardev) -> String {
    match chardev.backend.socket().map(|s| &s.address) {
        Some(SocketAddress::Unix(p)) => format!("unix:{}", p.display()),
        Some(SocketAddress::Inet { host, port }) => format!("tcp:{host}:{port}"),
        Some(SocketAddress::Fd(fd)) => format!("fd {fd} (chardev {})", chardev.id),
        None => chardev.id.clone(),
    }
}

fn source(
    chardev: &Chardev,
    what: &'static str,
    also: &'static str,
) -> Result<ListenSource, MonitorError> {
    let refuse = || MonitorError::Backend {
        id: chardev.id.clone(),
        what,
        also,
    };
    let socket = chardev.backend.socket().ok_or_else(refuse)?;
    Ok(match &socket.address {
        SocketAddress::Unix(path) => ListenSource::Addr(ListenAddr::Unix(path.clone())),
        SocketAddress::Inet { host, port } => {
            let addr = (host.trim_start_matches('[').trim_end_matches(']'), *port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| MonitorError::Resolve {
                    id: chardev.id.clone(),
                    host: host.clone(),
                    port: *port,
                })?;
            ListenSource::Addr(ListenAddr::Tcp(addr))
        }
        SocketAddress::Fd(fd) => ListenSource::Fd(inherited_fd(&chardev.id, *fd)?),
    })
}

/// Takes ownership of descriptor `fd`, which the parent passed open (as
/// libvirt passes the monitor socket). Each number is taken once.
///
/// The one `unsafe` outside the KVM and memory glue: a descriptor number
/// from the command line becomes an owned descriptor only this way.
#[allow(unsafe_code)]
fn inherited_fd(id: &str, fd: RawFd) -> Result<OwnedFd, MonitorError> {
    static TAKEN: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());
    let refuse = || MonitorError::Fd {
        id: id.to_owned(),
        fd,
    };
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    // Open in this process, a socket, not stdio, not taken already.
    let socket = fd > 2
        && std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:["));
    if !socket || taken.contains(&fd) {
        return Err(refuse());
    }
    taken.push(fd);
    // SAFETY: `fd` is an open socket (checked above through /proc), not
    // one of the standard streams, given to this process by its parent on
    // the command line. `serve` runs at start-up, before the VMM opens
    // sockets of its own (its documented contract), and each number is
    // taken once, so nothing else owns it: this is its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
