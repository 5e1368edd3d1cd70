//! What a unix socket says about its peer and what it passes along: the
//! peer's credentials (`SO_PEERCRED`) and descriptors (`SCM_RIGHTS`), and
//! whether a descriptor passed is itself a connection to this monitor.
//!
//! Both go through `rustix`, whose safe wrappers own the descriptors they
//! return, so the crate keeps `#![forbid(unsafe_code)]`.

use std::ffi::OsStr;
#[cfg(feature = "client")]
use std::io::IoSlice;
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SocketAddrUnix,
};
#[cfg(feature = "client")]
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use super::ListenAddr;
use crate::fds::FDS_PER_MESSAGE;

/// Room for one message's descriptors.
const CONTROL_SPACE: usize = rustix::cmsg_space!(ScmRights(FDS_PER_MESSAGE));

/// What one read of a unix socket gave.
#[derive(Debug)]
pub(crate) struct Received {
    pub(crate) bytes: usize,
    pub(crate) fds: Vec<OwnedFd>,
    /// The peer sent more descriptors than fit; the kernel closed the rest.
    pub(crate) truncated: bool,
}

/// Reads bytes and any descriptors sent with them (close-on-exec).
pub(crate) fn recv_with_fds(socket: impl AsFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut space = [MaybeUninit::<u8>::uninit(); CONTROL_SPACE];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = rustix::net::recvmsg(
        socket,
        &mut iov,
        &mut control,
        RecvFlags::CMSG_CLOEXEC | RecvFlags::DONTWAIT,
    )?;
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    Ok(Received {
        bytes: msg.bytes,
        fds,
        truncated: msg.flags.contains(ReturnFlags::CTRUNC),
    })
}

/// The user ID of the process at the other end of a unix socket.
pub(crate) fn peer_uid(socket: impl AsFd) -> io::Result<u32> {
    Ok(rustix::net::sockopt::socket_peercred(socket)?.uid.as_raw())
}

/// Sends the start of `bytes` with descriptors (at most
/// [`FDS_PER_MESSAGE`]); returns how many bytes went.
#[cfg(feature = "client")]
pub(crate) fn send_with_fds(
    socket: impl AsFd,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    if fds.len() > FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {FDS_PER_MESSAGE} descriptors go with one message"),
        ));
    }
    let mut space = [MaybeUninit::<u8>::uninit(); CONTROL_SPACE];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the descriptors do not fit the control buffer",
        ));
    }
    let iov = [IoSlice::new(bytes)];
    Ok(rustix::net::sendmsg(
        socket,
        &iov,
        &mut control,
        SendFlags::NOSIGNAL,
    )?)
}

/// Whether `fd` is a socket connected to one of `listeners`, that is, a
/// client's end of a connection to this monitor.
///
/// Held by the monitor, such a descriptor keeps that connection from ever
/// reaching end of file: a client that passes its own socket (or another
/// client's) and exits would leave a session, its slot and everything it
/// holds behind for good. A connected socket's peer address is the address
/// of the listening socket it connected to, which is how it is recognised:
/// a unix socket by its listener's path (or abstract name), a TCP socket
/// by its listener's port (and address, unless the listener is bound to
/// every address: then any peer on that port counts). Anything else (not
/// a socket, unconnected, another peer) is not.
pub(crate) fn is_client_of(fd: BorrowedFd<'_>, listeners: &[ListenAddr]) -> bool {
    let Ok(Some(peer)) = rustix::net::getpeername(fd) else {
        return false;
    };
    let family = peer.address_family();
    if family == AddressFamily::UNIX {
        let Ok(unix) = SocketAddrUnix::try_from(peer) else {
            return false;
        };
        let name = if let Some(path) = unix.path_bytes() {
            path.to_vec()
        } else if let Some(name) = unix.abstract_name() {
            // As listener addresses write abstract names.
            [b"@", name].concat()
        } else {
            return false;
        };
        let path = Path::new(OsStr::from_bytes(&name));
        listeners
            .iter()
            .any(|l| matches!(l, ListenAddr::Unix(p) if p.as_path() == path))
    } else {
        let peer: SocketAddr = if family == AddressFamily::INET {
            match SocketAddrV4::try_from(peer) {
                Ok(v4) => v4.into(),
                Err(_) => return false,
            }
        } else if family == AddressFamily::INET6 {
            match SocketAddrV6::try_from(peer) {
                Ok(v6) => v6.into(),
                Err(_) => return false,
            }
        } else {
            return false;
        };
        listeners.iter().any(|l| match l {
            ListenAddr::Tcp(local) => {
                local.port() == peer.port()
                    && (local.ip().is_unspecified() || local.ip() == peer.ip())
            }
            ListenAddr::Unix(_) => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    #[test]
    fn a_client_of_a_listener_is_recognised_by_its_peer_address() {
        let dir = std::env::temp_dir().join(format!("mc-peer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("l.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let ours = [ListenAddr::Unix(path.clone())];
        let other = [ListenAddr::Unix(dir.join("other.sock"))];
        assert!(is_client_of(client.as_fd(), &ours));
        assert!(!is_client_of(client.as_fd(), &other));
        // The server's end, a socket pair, a file: not clients.
        let (accepted, _) = listener.accept().unwrap();
        assert!(!is_client_of(accepted.as_fd(), &ours));
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(!is_client_of(a.as_fd(), &ours));
        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(!is_client_of(file.as_fd(), &ours));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_tcp_client_is_recognised_by_its_listeners_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        assert!(is_client_of(client.as_fd(), &[ListenAddr::Tcp(local)]));
        let any = SocketAddr::from(([0, 0, 0, 0], local.port()));
        assert!(is_client_of(client.as_fd(), &[ListenAddr::Tcp(any)]));
        let elsewhere = SocketAddr::from(([127, 0, 0, 1], local.port().wrapping_add(1)));
        assert!(!is_client_of(client.as_fd(), &[ListenAddr::Tcp(elsewhere)]));
    }
}
