//! What a unix socket says about its peer and what it passes along: the
//! peer's credentials (`SO_PEERCRED`) and descriptors (`SCM_RIGHTS`).
//!
//! Both go through `rustix`, whose safe wrappers own the descriptors they
//! return, so the crate keeps `#![forbid(unsafe_code)]`.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

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
