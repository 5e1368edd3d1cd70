//! One client connection: its socket, session and buffers.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::time::Instant;

use mio::net::{TcpStream, UnixStream};

use super::event_log::EventLog;
use super::offload::Freer;
use crate::console::Console;
use crate::dispatch::SessionInfo;
use crate::log_limit::{Kind as LogKind, LogLimit};
use crate::response::Splices;
use crate::session::Session;

/// Bytes of events laid out at once for a pretty client.
const PRETTY_BATCH: usize = 64 << 10;
/// The most bytes written to one client in one turn of the loop, for
/// fairness (see `Connection::write_budget`).
pub(crate) const WRITE_BUDGET: usize = 1 << 20;
/// Output buffers whose capacity passes this are shrunk once empty.
const KEEP_CAPACITY: usize = 1 << 20;

/// Output queued before what a client's `output` holds.
#[derive(Debug)]
enum Segment {
    /// Responses or console output.
    Bytes(Vec<u8>),
    /// The event log from `from` to `to` (line ends both).
    Events { from: u64, to: u64 },
}

/// A client's connected socket (the JSON lexer is `crate::stream`).
#[derive(Debug)]
pub(crate) enum ClientSocket {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl ClientSocket {
    pub(crate) fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            ClientSocket::Unix(s) => s,
            ClientSocket::Tcp(s) => s,
        }
    }
}

impl Read for ClientSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientSocket::Unix(s) => s.read(buf),
            ClientSocket::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for ClientSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ClientSocket::Unix(s) => s.write(buf),
            ClientSocket::Tcp(s) => s.write(buf),
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

/// Who is at the other end of a connection.
// QMP peers are the many: boxing their session would cost each an
// allocation to save the few consoles some bytes.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Peer {
    /// A QMP client: the session reads, runs and answers its messages.
    Qmp(Session),
    /// A human monitor (HMP) or other console: it gets the bytes as keys.
    /// It never negotiates, so it gets no events and no deferred answers.
    Console {
        /// What its commands see as their session.
        info: SessionInfo,
        console: Box<dyn Console>,
    },
}

impl Peer {
    /// What handlers and hooks see of the peer.
    pub(crate) fn info(&self) -> &SessionInfo {
        match self {
            Peer::Qmp(session) => session.info(),
            Peer::Console { info, .. } => info,
        }
    }

    /// The QMP session, unless the peer is a console.
    pub(crate) fn session(&self) -> Option<&Session> {
        match self {
            Peer::Qmp(session) => Some(session),
            Peer::Console { .. } => None,
        }
    }

    /// The QMP session, unless the peer is a console.
    pub(crate) fn session_mut(&mut self) -> Option<&mut Session> {
        match self {
            Peer::Qmp(session) => Some(session),
            Peer::Console { .. } => None,
        }
    }

    /// A QMP session that has completed `qmp_capabilities` (and so gets
    /// events).
    pub(crate) fn is_negotiated(&self) -> bool {
        self.session().is_some_and(Session::is_negotiated)
    }

    /// Whether it takes more input now (a console always does; its
    /// output pauses it).
    pub(crate) fn wants_input(&self) -> bool {
        self.session().is_none_or(Session::wants_input)
    }

    /// A QMP message is being parsed off the monitor thread.
    pub(crate) fn is_parsing(&self) -> bool {
        self.session().is_some_and(Session::is_parsing)
    }
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Qmp(session) => f.debug_tuple("Qmp").field(session).finish(),
            Peer::Console { info, .. } => f.debug_struct("Console").field("info", info).finish(),
        }
    }
}

/// A client of the monitor.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) socket: ClientSocket,
    /// Who is at the other end: a QMP session or a console.
    pub(crate) peer: Peer,
    /// Close once the output is flushed (the console asked for it).
    pub(crate) closing: bool,
    /// Bytes read but not yet framed (kept when the client is paused).
    pub(crate) input: Vec<u8>,
    pub(crate) input_pos: usize,
    /// Bytes queued after everything in `segments` (responses, console
    /// output): a console appends here directly.
    pub(crate) output: Vec<u8>,
    /// What goes out before `output`, in order: responses, and the ranges
    /// of the event log emitted between them.
    segments: VecDeque<Segment>,
    /// Bytes being written, taken from the front of what is queued.
    writing: Vec<u8>,
    writing_pos: usize,
    /// Where this client's events not yet placed start in the event log:
    /// from there to the log's end they go out after `output`. `None`
    /// until the session negotiates, and for consoles.
    events_from: Option<u64>,
    /// The last write would have blocked: wait until the poller says the
    /// socket is writable.
    pub(crate) blocked: bool,
    /// Since when the client has had more unread events than the output
    /// limit without taking a byte.
    pub(crate) lagging_since: Option<Instant>,
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
    /// Frees large spent buffers off the monitor thread.
    pub(crate) freer: Freer,
    /// Bytes [`flush`](Self::flush) may still write this turn (the server
    /// sets it at the start of each).
    pub(crate) write_budget: usize,
}

impl Connection {
    pub(crate) fn new(socket: ClientSocket, peer: Peer) -> Self {
        Connection {
            socket,
            peer,
            closing: false,
            input: Vec::new(),
            input_pos: 0,
            output: Vec::new(),
            segments: VecDeque::new(),
            writing: Vec::new(),
            writing_pos: 0,
            events_from: None,
            blocked: false,
            lagging_since: None,
            readable: true,
            read_closed: false,
            listener: None,
            deadline: None,
            hup_seen: false,
            pretty: false,
            peer_gone: false,
            charge: None,
            freer: Freer::default(),
            write_budget: WRITE_BUDGET,
        }
    }

    /// Queues complete QMP messages (compact lines) for the client, laid
    /// out as its listener asks, after the events the log holds up to
    /// `log_end` (those emitted before the messages were made).
    pub(crate) fn queue(&mut self, messages: &[u8], log_end: u64) {
        if messages.is_empty() {
            return;
        }
        self.place_events(log_end);
        if self.pretty {
            crate::wire::to_pretty(messages, &mut self.output);
        } else {
            self.output.extend_from_slice(messages);
        }
    }

    /// [`queue`](Self::queue), taking `messages` (left empty) without a
    /// copy when nothing else is queued after the events: a large answer
    /// is not copied again.
    pub(crate) fn queue_owned(&mut self, messages: &mut Vec<u8>, log_end: u64) {
        self.place_events(log_end);
        if !self.pretty && self.output.is_empty() {
            std::mem::swap(&mut self.output, messages);
        } else {
            self.queue(messages, log_end);
        }
        messages.clear();
    }

    /// [`queue_owned`](Self::queue_owned) for output with parts kept aside
    /// (see [`Session::take_splices`]): each part is queued as a buffer of
    /// its own at its place, not copied (unless the client wants the
    /// pretty layout, which rewrites everything).
    pub(crate) fn queue_spliced(&mut self, messages: &mut Vec<u8>, splices: Splices, log_end: u64) {
        if splices.is_empty() {
            return self.queue_owned(messages, log_end);
        }
        self.place_events(log_end);
        if self.pretty {
            let joined = crate::response::join(messages, splices);
            self.queue(&joined, log_end);
            messages.clear();
            return;
        }
        let mut start = 0;
        for (at, part) in splices {
            self.output.extend_from_slice(&messages[start..at]);
            let before = std::mem::take(&mut self.output);
            if !before.is_empty() {
                self.segments.push_back(Segment::Bytes(before));
            }
            self.segments.push_back(Segment::Bytes(part));
            start = at;
        }
        self.output.extend_from_slice(&messages[start..]);
        messages.clear();
    }

    /// Puts the client's events up to `log_end` in line, before whatever
    /// is queued next.
    fn place_events(&mut self, log_end: u64) {
        let Some(from) = self.events_from else {
            return;
        };
        if from >= log_end {
            return;
        }
        if !self.output.is_empty() {
            let bytes = std::mem::take(&mut self.output);
            self.segments.push_back(Segment::Bytes(bytes));
        }
        self.segments
            .push_back(Segment::Events { from, to: log_end });
        self.events_from = Some(log_end);
    }

    /// Starts delivering the events after `log_end` (capabilities were
    /// negotiated).
    pub(crate) fn start_events(&mut self, log_end: u64) {
        if self.events_from.is_none() {
            self.events_from = Some(log_end);
        }
    }

    /// Stops delivering events emitted after `log_end`; those before still
    /// go out.
    pub(crate) fn stop_events(&mut self, log_end: u64) {
        self.place_events(log_end);
        self.events_from = None;
    }

    /// The oldest offset of the event log the client has yet to take.
    pub(crate) fn oldest_event(&self) -> Option<u64> {
        self.segments
            .iter()
            .find_map(|s| match s {
                Segment::Events { from, .. } => Some(*from),
                Segment::Bytes(_) => None,
            })
            .or(self.events_from)
    }

    /// Bytes of events emitted up to `log_end` the client has not taken.
    pub(crate) fn event_lag(&self, log_end: u64) -> u64 {
        self.oldest_event()
            .map_or(0, |from| log_end.saturating_sub(from))
    }

    /// Whether anything is left to write, events up to `log_end` included.
    pub(crate) fn has_output(&self, log_end: u64) -> bool {
        self.pending_output() > 0 || self.event_lag(log_end) > 0
    }

    /// Whether a flush now could write something.
    pub(crate) fn wants_flush(&self, log_end: u64) -> bool {
        !self.blocked && self.has_output(log_end)
    }

    /// Reads from the socket; descriptors that come along (unix sockets)
    /// go to the session, unless one of them is a connection to one of
    /// `listeners` (this monitor's) or they do not fit the descriptor
    /// budget: then they are all closed at once, and the next command that
    /// looks for them is told why.
    /// Its warnings are rate limited by `log_limit`: a client can send
    /// descriptors with every message.
    pub(crate) fn receive(
        &mut self,
        buf: &mut [u8],
        listeners: &[super::ListenAddr],
        log_limit: &mut LogLimit,
    ) -> io::Result<Received> {
        let ClientSocket::Unix(socket) = &self.socket else {
            return self
                .socket
                .read(buf)
                .map(|bytes| Received { bytes, fds: false });
        };
        let received = super::peer::recv_with_fds(socket, buf)?;
        let id = self.peer.info().id;
        let mut warn = || log_limit.allow(LogKind::Descriptors, Instant::now());
        if received.truncated && warn() {
            log::warn!(
                "session {id}: more than {} descriptors in one message; the rest were closed",
                crate::fds::FDS_PER_MESSAGE
            );
        }
        let fds = !received.fds.is_empty();
        if !fds {
            return Ok(Received {
                bytes: received.bytes,
                fds,
            });
        }
        log::debug!("session {id}: received {} descriptors", received.fds.len());
        let Peer::Qmp(session) = &self.peer else {
            // A console runs commands with no descriptors of its own.
            if warn() {
                log::warn!("session {id}: closed the descriptors it passed: a console takes none");
            }
            return Ok(Received {
                bytes: received.bytes,
                fds,
            });
        };
        let own = received
            .fds
            .iter()
            .any(|fd| super::peer::is_client_of(fd.as_fd(), listeners));
        let refused = if own {
            let why = crate::fds::Refused::OwnConnection;
            session.fds().refuse(received.fds, why);
            Some(why)
        } else {
            session.fds().receive(received.fds).err()
        };
        if let Some(why) = refused.filter(|_| warn()) {
            log::warn!("session {id}: closed the descriptors it passed: {why}");
        }
        Ok(Received {
            bytes: received.bytes,
            fds,
        })
    }

    /// Whether the client is not read for now: its unsent responses (or
    /// console output) pass `threshold`, or its session takes no more
    /// input (queue full, or a message being parsed elsewhere).
    pub(crate) fn is_paused(&self, threshold: usize) -> bool {
        self.pending_output() > threshold || !self.peer.wants_input()
    }

    /// Bytes of responses and console output queued for the client
    /// (events are not counted: they stay in the shared log).
    pub(crate) fn pending_output(&self) -> usize {
        let segments: usize = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Bytes(b) => b.len(),
                Segment::Events { .. } => 0,
            })
            .sum();
        self.writing.len() - self.writing_pos + segments + self.output.len()
    }

    /// Writes what is queued, in order, then the events after it, until
    /// the socket is full or the turn's [`write_budget`](Self::write_budget)
    /// is spent (the other clients' turn: a fast reader of a long burst
    /// would otherwise keep the monitor thread). Returns the bytes written.
    pub(crate) fn flush(&mut self, log: &EventLog) -> io::Result<usize> {
        let mut written = 0;
        loop {
            if written >= self.write_budget {
                break;
            }
            if self.writing_pos < self.writing.len() {
                match write_some(&mut self.socket, &self.writing[self.writing_pos..])? {
                    Some(n) => {
                        self.writing_pos += n;
                        written += n;
                        continue;
                    }
                    None => {
                        self.blocked = true;
                        break;
                    }
                }
            }
            // Take the next piece: a queued segment, the output, then the
            // events after it.
            self.release_writing();
            if let Some(Segment::Bytes(_)) = self.segments.front() {
                if let Some(Segment::Bytes(bytes)) = self.segments.pop_front() {
                    self.writing = bytes;
                }
                continue;
            }
            let (from, to, queued) = match self.segments.front() {
                Some(Segment::Events { from, to }) => (*from, *to, true),
                _ if !self.output.is_empty() => {
                    std::mem::swap(&mut self.writing, &mut self.output);
                    continue;
                }
                _ => match self.events_from {
                    Some(from) if from < log.end() => (from, log.end(), false),
                    _ => break,
                },
            };
            let available = log.slice_from(from);
            let available = &available[..available.len().min((to - from) as usize)];
            let taken = if self.pretty {
                // Whole lines, laid out; the cut is at a line end.
                let mut take = available.len().min(PRETTY_BATCH);
                if take < available.len() {
                    take = match available[take..].iter().position(|&b| b == b'\n') {
                        Some(i) => take + i + 1,
                        None => available.len(),
                    };
                }
                crate::wire::to_pretty(&available[..take], &mut self.writing);
                take
            } else {
                match write_some(&mut self.socket, available)? {
                    Some(n) => {
                        written += n;
                        n
                    }
                    None => {
                        self.blocked = true;
                        break;
                    }
                }
            };
            let next = from + taken as u64;
            if !queued {
                self.events_from = Some(next);
            } else if next >= to {
                self.segments.pop_front();
            } else if let Some(Segment::Events { from, .. }) = self.segments.front_mut() {
                *from = next;
            }
        }
        self.write_budget = self.write_budget.saturating_sub(written);
        if written > 0 {
            // Taking bytes is draining: the drain timeout starts again.
            self.lagging_since = None;
        }
        if self.writing_pos == self.writing.len() {
            self.release_writing();
        }
        if self.output.is_empty() && self.output.capacity() > KEEP_CAPACITY {
            self.freer.free(std::mem::take(&mut self.output));
        }
        Ok(written)
    }

    /// Empties the buffer written from; a large one is freed by the
    /// freer, not kept.
    fn release_writing(&mut self) {
        self.writing_pos = 0;
        if self.writing.capacity() > KEEP_CAPACITY {
            self.freer.free(std::mem::take(&mut self.writing));
        } else {
            self.writing.clear();
        }
    }
}

/// One write: `Some(bytes written)` (never 0), `None` if the socket is full.
fn write_some(stream: &mut ClientSocket, bytes: &[u8]) -> io::Result<Option<usize>> {
    loop {
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
