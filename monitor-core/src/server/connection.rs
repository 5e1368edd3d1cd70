//! One client connection: its socket, session and buffers.

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Instant;

use mio::net::{TcpStream, UnixStream};

use crate::session::Session;

/// A connected socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Stream::Unix(s) => s,
            Stream::Tcp(s) => s,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What one read brought.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    /// Bytes read (0: the peer closed its end).
    pub(crate) bytes: usize,
    /// Descriptors came with them: the kernel ends a read after such a
    /// message, so a short read does not prove the socket empty.
    pub(crate) fds: bool,
}

/// A client of the monitor.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    /// The QMP session (a console connection keeps one that never
    /// negotiates, so it gets no events and no deferred answers).
    pub(crate) session: Session,
    /// Set for connections of a console (HMP) listener.
    pub(crate) console: Option<Box<dyn crate::console::Console>>,
    /// Close once the output is flushed (the console asked for it).
    pub(crate) closing: bool,
    /// Bytes read but not yet framed (kept when the client is paused).
    pub(crate) input: Vec<u8>,
    pub(crate) input_pos: usize,
    /// Bytes waiting to be written.
    pub(crate) output: Vec<u8>,
    pub(crate) output_pos: usize,
    /// The socket may have more to read (edge-triggered readiness).
    pub(crate) readable: bool,
    /// The peer closed its side; finish what was read, then drop.
    pub(crate) read_closed: bool,
    /// The listener it came from (index), for the per-listener limit.
    pub(crate) listener: Option<usize>,
    /// When it is dropped unless it has negotiated capabilities by then.
    pub(crate) deadline: Option<Instant>,
    /// The poller reported the peer's end (or an error): read until the
    /// socket says so, a short read does not prove it empty any more.
    pub(crate) hup_seen: bool,
    /// QMP messages go out in QEMU's pretty layout (`pretty=on`).
    pub(crate) pretty: bool,
    /// The poller reported both directions closed: the client has gone
    /// (not a half-close), nothing can reach it any more.
    pub(crate) peer_gone: bool,
    /// What pays for this connection's descriptor in the monitor's budget.
    pub(crate) charge: Option<crate::fds::Charge>,
}

impl Connection {
    pub(crate) fn new(stream: Stream, session: Session) -> Self {
        Connection {
            stream,
            session,
            console: None,
            closing: false,
            input: Vec::new(),
            input_pos: 0,
            output: Vec::new(),
            output_pos: 0,
            readable: true,
            read_closed: false,
            listener: None,
            deadline: None,
            hup_seen: false,
            pretty: false,
            peer_gone: false,
            charge: None,
        }
    }

    /// Queues complete QMP messages (compact lines) for the client, laid
    /// out as its listener asks.
    pub(crate) fn queue(&mut self, messages: &[u8]) {
        if self.pretty {
            crate::wire::to_pretty(messages, &mut self.output);
        } else {
            self.output.extend_from_slice(messages);
        }
    }

    /// Reads from the socket; descriptors that come along (unix sockets)
    /// go to the session, unless one of them is a connection to one of
    /// `listeners` (this monitor's) or they do not fit the descriptor
    /// budget: then they are all closed at once, and the next command that
    /// looks for them is told why.
    pub(crate) fn receive(
        &mut self,
        buf: &mut [u8],
        listeners: &[super::ListenAddr],
    ) -> io::Result<Received> {
        let Stream::Unix(socket) = &self.stream else {
            return self
                .stream
                .read(buf)
                .map(|bytes| Received { bytes, fds: false });
        };
        let received = super::peer::recv_with_fds(socket, buf)?;
        if received.truncated {
            log::warn!(
                "session {}: more than {} descriptors in one message; the rest were closed",
                self.session.info().id,
                crate::fds::FDS_PER_MESSAGE
            );
        }
        let fds = !received.fds.is_empty();
        if fds {
            log::debug!(
                "session {}: received {} descriptors",
                self.session.info().id,
                received.fds.len()
            );
        }
        let id = self.session.info().id;
        let own = received
            .fds
            .iter()
            .any(|fd| super::peer::is_client_of(fd.as_fd(), listeners));
        let refused = if own {
            let why = crate::fds::Refused::OwnConnection;
            self.session.fds().refuse(received.fds, why);
            Some(why)
        } else {
            self.session.fds().receive(received.fds).err()
        };
        if let Some(why) = refused {
            log::warn!("session {id}: closed the descriptors it passed: {why}");
        }
        Ok(Received {
            bytes: received.bytes,
            fds,
        })
    }

    /// Bytes queued for the client.
    pub(crate) fn pending_output(&self) -> usize {
        self.output.len() - self.output_pos
    }

    /// Writes as much queued output as the socket takes.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        while self.output_pos < self.output.len() {
            match self.stream.write(&self.output[self.output_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.output_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.output_pos == self.output.len() {
            self.output.clear();
            self.output_pos = 0;
            if self.output.capacity() > 1 << 20 {
                self.output.shrink_to(1 << 16);
            }
        } else if self.output_pos > (1 << 20) && self.output_pos * 2 > self.output.len() {
            self.output.drain(..self.output_pos);
            self.output_pos = 0;
        }
        Ok(())
    }
}
