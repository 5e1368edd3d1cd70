//! Listening sockets: unix (mode 0600, stale files replaced) and TCP that
//! the monitor binds, and sockets it inherits already listening.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mio::net::{TcpListener, UnixListener};
use rustix::io::{Errno, FdFlags};
use rustix::net::{sockopt, AddressFamily, SocketType};
use thiserror::Error;

use super::connection::ClientSocket;
use super::ServerError;
use crate::console::ConsoleFactory;

/// Where a monitor listens.
///
/// # Examples
///
/// ```
/// use monitor_core::ListenAddr;
///
/// let unix = ListenAddr::Unix("/run/vm.qmp".into());
/// assert_eq!(unix.to_string(), "unix:/run/vm.qmp");
/// let tcp = ListenAddr::Tcp("127.0.0.1:4444".parse().unwrap());
/// assert_eq!(tcp.to_string(), "tcp:127.0.0.1:4444");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A unix socket path.
    Unix(PathBuf),
    /// A TCP address (port 0 picks a free port).
    Tcp(SocketAddr),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Unix(p) => write!(f, "unix:{}", p.display()),
            ListenAddr::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// What a listener serves on: an address to bind, or a socket already
/// listening, handed over as a descriptor.
///
/// An inherited socket is how libvirt starts QEMU (`-chardev
/// socket,id=charmonitor,fd=25,server=on,wait=off`): the caller created,
/// bound and `listen()`ed it, and may connect before the monitor runs.
/// The monitor does not bind it, never removes its socket file (libvirt
/// reconnects to that path), and closes its copy of the descriptor at
/// shutdown.
///
/// # Examples
///
/// ```
/// use std::os::fd::OwnedFd;
/// use monitor_core::{ListenAddr, ListenSource};
///
/// let bound = ListenSource::from(ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()));
/// assert!(matches!(bound, ListenSource::Addr(_)));
///
/// let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let inherited = ListenSource::from(OwnedFd::from(socket));
/// assert!(matches!(inherited, ListenSource::Fd(_)));
/// ```
#[derive(Debug)]
pub enum ListenSource {
    /// Bind this address (a unix path is created mode 0600 and removed at
    /// shutdown).
    Addr(ListenAddr),
    /// Serve this listening stream socket (unix, IPv4 or IPv6) as it is.
    Fd(OwnedFd),
}

impl From<ListenAddr> for ListenSource {
    fn from(addr: ListenAddr) -> Self {
        ListenSource::Addr(addr)
    }
}

impl From<OwnedFd> for ListenSource {
    fn from(fd: OwnedFd) -> Self {
        ListenSource::Fd(fd)
    }
}

/// How a listener serves its clients.
///
/// # Examples
///
/// ```
/// use monitor_core::ListenOptions;
///
/// // QMP as QEMU writes it with `-qmp-pretty` or `-mon ...,pretty=on`.
/// let pretty = ListenOptions { pretty: true, ..ListenOptions::default() };
/// assert!(pretty.console.is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct ListenOptions {
    /// Serve each connection as a console made by this factory (the human
    /// monitor: `monitor_hmp` provides one) instead of a QMP session.
    pub console: Option<Arc<dyn ConsoleFactory>>,
    /// Write every QMP message in QEMU's pretty layout (members on lines
    /// of their own, four spaces per level; see
    /// [`wire::to_pretty`](crate::wire::to_pretty)). QMP only: as in QEMU,
    /// a console listener with `pretty` fails spawn.
    pub pretty: bool,
}

/// Why an inherited descriptor is not a socket the monitor can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InheritError {
    /// It is not a socket (a regular file, a pipe, ...).
    #[error("not a socket")]
    NotASocket,
    /// It is a datagram or sequenced-packet socket.
    #[error("not a stream socket")]
    NotAStream,
    /// `listen()` was never called on it.
    #[error("listen() was not called on it")]
    NotListening,
    /// Its address family is neither unix nor IPv4 nor IPv6.
    #[error("address family {0} is neither unix nor inet nor inet6")]
    Family(u16),
}

/// The socket a listener accepts on.
#[derive(Debug)]
enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A listener ready to accept.
#[derive(Debug)]
pub(crate) struct Listener {
    socket: Socket,
    /// Its address, computed once (the real port for port 0).
    local: ListenAddr,
    /// The socket file this monitor created, removed at shutdown. An
    /// inherited socket's file belongs to whoever made it: libvirt
    /// reconnects to it after a restart.
    created: Option<PathBuf>,
}

impl Listener {
    pub(crate) fn bind(addr: &ListenAddr) -> Result<Listener, ServerError> {
        match addr {
            ListenAddr::Unix(path) => bind_unix(path),
            ListenAddr::Tcp(sa) => {
                let l = TcpListener::bind(*sa).map_err(|source| ServerError::Bind {
                    addr: addr.to_string(),
                    source,
                })?;
                Ok(Listener::tcp(l))
            }
        }
    }

    fn tcp(l: TcpListener) -> Listener {
        let local = match l.local_addr() {
            Ok(a) => a,
            Err(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        if !local.ip().is_loopback() {
            log::warn!(
                "QMP listener on {local} is reachable from other hosts and has no authentication"
            );
        }
        Listener {
            socket: Socket::Tcp(l),
            local: ListenAddr::Tcp(local),
            created: None,
        }
    }

    /// Takes over a socket someone else bound and made listen (libvirt's
    /// `fd=N`): checked here, on the caller's thread, so that a wrong
    /// descriptor fails spawn rather than every accept.
    pub(crate) fn inherit(fd: OwnedFd) -> Result<Listener, ServerError> {
        let raw = fd.as_raw_fd();
        let refuse = |problem| ServerError::NotListening { fd: raw, problem };
        let failed = |e: Errno| ServerError::Inherit {
            fd: raw,
            source: e.into(),
        };
        match sockopt::socket_type(&fd) {
            Err(e) if e == Errno::NOTSOCK => return Err(refuse(InheritError::NotASocket)),
            Err(e) => return Err(failed(e)),
            Ok(t) if t != SocketType::STREAM => return Err(refuse(InheritError::NotAStream)),
            Ok(_) => {}
        }
        if !sockopt::socket_acceptconn(&fd).map_err(failed)? {
            return Err(refuse(InheritError::NotListening));
        }
        let family = rustix::net::getsockname(&fd)
            .map_err(failed)?
            .address_family();
        let unix = family == AddressFamily::UNIX;
        if !unix && family != AddressFamily::INET && family != AddressFamily::INET6 {
            return Err(refuse(InheritError::Family(family.as_raw())));
        }
        // Nothing is changed on a descriptor that is refused. The VMM may
        // exec helpers; they must not inherit the monitor's socket.
        let flags = rustix::io::fcntl_getfd(&fd).map_err(failed)?;
        rustix::io::fcntl_setfd(&fd, flags | FdFlags::CLOEXEC).map_err(failed)?;
        let io_failed = |source| ServerError::Inherit { fd: raw, source };
        if unix {
            let l = std::os::unix::net::UnixListener::from(fd);
            l.set_nonblocking(true).map_err(io_failed)?;
            let local = l.local_addr().map_err(io_failed)?;
            Ok(Listener {
                socket: Socket::Unix(UnixListener::from_std(l)),
                local: ListenAddr::Unix(unix_path(&local)),
                created: None,
            })
        } else {
            let l = std::net::TcpListener::from(fd);
            l.set_nonblocking(true).map_err(io_failed)?;
            Ok(Listener::tcp(TcpListener::from_std(l)))
        }
    }

    /// The address it listens on.
    pub(crate) fn local_addr(&self) -> &ListenAddr {
        &self.local
    }

    pub(crate) fn accept(&self) -> io::Result<ClientSocket> {
        match &self.socket {
            Socket::Unix(l) => l.accept().map(|(s, _)| ClientSocket::Unix(s)),
            Socket::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                ClientSocket::Tcp(s)
            }),
        }
    }

    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match &mut self.socket {
            Socket::Unix(l) => l,
            Socket::Tcp(l) => l,
        }
    }

    /// Removes the socket file of a unix listener this monitor bound.
    pub(crate) fn cleanup(&self) {
        if let Some(path) = &self.created {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A unix socket's name as a path: an abstract name is written `@name`
/// (as `ss` and socat write it), an unnamed socket as the empty path.
fn unix_path(addr: &std::os::unix::net::SocketAddr) -> PathBuf {
    if let Some(path) = addr.as_pathname() {
        return path.to_owned();
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        if let Some(name) = addr.as_abstract_name() {
            let mut at = b"@".to_vec();
            at.extend_from_slice(name);
            return PathBuf::from(std::ffi::OsStr::from_bytes(&at));
        }
    }
    PathBuf::new()
}

fn bind_unix(path: &Path) -> Result<Listener, ServerError> {
    let display = format!("unix:{}", path.display());
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(ServerError::NotASocket {
                path: path.to_owned(),
            });
        }
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(ServerError::InUse {
                    path: path.to_owned(),
                })
            }
            Err(_) => {
                log::info!("replacing stale socket {}", path.display());
                std::fs::remove_file(path).map_err(|source| ServerError::Bind {
                    addr: display.clone(),
                    source,
                })?;
            }
        }
    }
    let listener = UnixListener::bind(path).map_err(|source| ServerError::Bind {
        addr: display.clone(),
        source,
    })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        ServerError::Bind {
            addr: display,
            source,
        }
    })?;
    Ok(Listener {
        socket: Socket::Unix(listener),
        local: ListenAddr::Unix(path.to_owned()),
        created: Some(path.to_owned()),
    })
}
