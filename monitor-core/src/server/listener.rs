//! Listening sockets: unix (mode 0600, stale files replaced) and TCP.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mio::net::{TcpListener, UnixListener};

use super::connection::Stream;
use super::ServerError;

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

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Unix(UnixListener, PathBuf),
    Tcp(TcpListener),
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
                if !sa.ip().is_loopback() {
                    log::warn!("QMP listener on {sa} is reachable from other hosts and has no authentication");
                }
                Ok(Listener::Tcp(l))
            }
        }
    }

    /// The address actually bound (the real port for port 0).
    pub(crate) fn local_addr(&self) -> ListenAddr {
        match self {
            Listener::Unix(_, p) => ListenAddr::Unix(p.clone()),
            Listener::Tcp(l) => match l.local_addr() {
                Ok(a) => ListenAddr::Tcp(a),
                Err(_) => ListenAddr::Tcp(SocketAddr::from(([0, 0, 0, 0], 0))),
            },
        }
    }

    pub(crate) fn accept(&self) -> io::Result<Stream> {
        match self {
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Stream::Unix(s)),
            Listener::Tcp(l) => l.accept().map(|(s, _)| {
                let _ = s.set_nodelay(true);
                Stream::Tcp(s)
            }),
        }
    }

    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Unix(l, _) => l,
            Listener::Tcp(l) => l,
        }
    }

    /// Removes the socket file of a unix listener.
    pub(crate) fn cleanup(&self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
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
    Ok(Listener::Unix(listener, path.to_owned()))
}
