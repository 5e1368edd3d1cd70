//! The mio event loop: listeners, connections, the waker. The only I/O code.
//!
//! One thread owns every socket and session. Per turn it accepts new
//! clients, reads a bounded amount from each readable client, frames and
//! dispatches what it read, appends queued events to the event log every
//! negotiated session reads from, and writes what the sockets accept. A
//! client whose queued responses pass the pause threshold is not read
//! until it drains; one that leaves more events unread than the output
//! limit and takes nothing for the drain timeout, or leaves more than the
//! event backlog limit unread, is disconnected.

mod connection;
mod event_log;
pub(crate) mod hooks;
mod listener;
mod offload;
pub(crate) mod peer;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};
use thiserror::Error;

pub use listener::{InheritError, ListenAddr, ListenOptions, ListenSource};

use crate::console::ConsoleFactory;
use crate::fds::{Charge, FdBudget};
use crate::log_limit::{Kind as LogKind, LogLimit};
use crate::session::{Dispatcher, Session};
use crate::stream::Limits;
use connection::{Connection, Received, WRITE_BUDGET};
use event_log::EventLog;
use hooks::{run_hook, SessionHooks};
use listener::Listener;
use offload::{Done, Offload};

/// Why a connection closes, which says how loudly it is logged.
#[derive(Debug)]
enum Closing {
    /// The client left (end of input, gone, or its socket reset), or the
    /// monitor is shutting down: logged at debug level, as QEMU logs
    /// nothing for it. The text is the whole message after `session N: `.
    Quiet(String),
    /// A limit was hit or a read or write failed: a warning (rate limited)
    /// `closing the connection: REASON`.
    Loud(String),
}

impl Closing {
    /// The client closed its end, or has gone.
    fn disconnected() -> Closing {
        Closing::Quiet("disconnected".to_owned())
    }

    /// A failed read or write (`what`): a reset or a broken pipe means the
    /// client just left.
    fn io(what: &str, e: &io::Error) -> Closing {
        let reason = format!("{what} failed: {e}");
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => {
                Closing::Quiet(format!("closing the connection: {reason}"))
            }
            _ => Closing::Loud(reason),
        }
    }
}

/// Errors of the server side.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A listener could not be set up.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another process is serving on the socket path.
    #[error("a monitor is already listening on {}", path.display())]
    InUse {
        /// The path.
        path: PathBuf,
    },
    /// The path exists and is not a socket; it is left alone.
    #[error("{} exists and is not a socket", path.display())]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// An inherited descriptor ([`ListenSource::Fd`]) is not a listening
    /// stream socket the monitor can serve.
    #[error("fd {fd} is not a listening socket: {problem}")]
    NotListening {
        /// The descriptor's number.
        fd: i32,
        /// What it is instead.
        problem: InheritError,
    },
    /// An inherited descriptor could not be inspected or set up
    /// (non-blocking, close-on-exec).
    #[error("cannot serve fd {fd}")]
    Inherit {
        /// The descriptor's number.
        fd: i32,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A console listener was asked for pretty output, which only QMP has
    /// (QEMU: "'pretty' is not compatible with HMP monitors").
    #[error("{listener}: 'pretty' is not compatible with console (HMP) listeners")]
    PrettyConsole {
        /// The listener.
        listener: String,
    },
    /// The poller failed.
    #[error("the event loop failed")]
    Poll(#[source] io::Error),
}

/// Default limit of clients connected to one listener at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 128;
/// Default time a QMP client has to complete `qmp_capabilities`.
pub const DEFAULT_NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time a client with more unread events than the output limit
/// may go without taking a byte before it is disconnected.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default most bytes of events one client may leave unread.
pub const DEFAULT_EVENT_BACKLOG_LIMIT: usize = 128 << 20;

/// Tunables of the server.
///
/// # Examples
///
/// ```
/// use monitor_core::ServerConfig;
///
/// let config = ServerConfig::default();
/// assert_eq!(config.max_connections, 128);
/// assert_eq!(config.allowed_uids, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// A client with more unread events than this that takes no byte for
    /// `drain_timeout` is disconnected (responses do not count: they
    /// pause reading instead).
    pub output_limit: usize,
    /// How long a client over `output_limit` may take nothing.
    pub drain_timeout: Duration,
    /// A client with more unread events than this is disconnected at once,
    /// reading or not: it cannot keep up. Also bounds the event log.
    pub event_backlog_limit: usize,
    /// A client whose queued responses exceed this is not read until it
    /// drains.
    pub pause_threshold: usize,
    /// Bytes read from one client per turn, for fairness.
    pub read_budget: usize,
    /// Framing limits per message.
    pub limits: Limits,
    /// Descriptors one session may hold named (`getfd`).
    pub fds_per_session: usize,
    /// Descriptors the monitor may hold for its clients at once:
    /// connections, received and named descriptors, fd sets (`None`: half
    /// of the soft `RLIMIT_NOFILE` when the monitor starts).
    pub fd_budget: Option<usize>,
    /// Clients connected to one listener at once; more are closed at once.
    pub max_connections: usize,
    /// QMP clients that have not completed `qmp_capabilities` this long
    /// after connecting are dropped (`None`: never).
    pub negotiation_timeout: Option<Duration>,
    /// Peer user IDs a unix listener serves (`None`: anyone who can open
    /// the socket, which is created 0600). Others are closed before the
    /// greeting.
    pub allowed_uids: Option<Vec<u32>>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            output_limit: 16 << 20,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            event_backlog_limit: DEFAULT_EVENT_BACKLOG_LIMIT,
            pause_threshold: 1 << 20,
            read_budget: 256 << 10,
            limits: Limits::default(),
            fds_per_session: crate::fds::DEFAULT_FDS_PER_SESSION,
            fd_budget: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            negotiation_timeout: Some(DEFAULT_NEGOTIATION_TIMEOUT),
            allowed_uids: None,
        }
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A command asked the monitor to stop: QMP's `quit`, or any handler
    /// through [`Context::request_quit`](crate::Context::request_quit)
    /// (the human monitor's `quit` runs QMP's).
    Quit,
    /// [`Monitor::shutdown`](crate::Monitor::shutdown) was called.
    Shutdown,
}

/// State shared between the loop and the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stop: AtomicBool,
    /// Streams handed over by [`Monitor::attach_console`](crate::Monitor::attach_console).
    pub(crate) attach: parking_lot::Mutex<Vec<Attached>>,
    pub(crate) waker: Waker,
    pub(crate) sessions: AtomicUsize,
    pub(crate) pending: AtomicUsize,
    /// See [`Stats::longest_turn`].
    pub(crate) longest_turn_us: AtomicU64,
}

/// A stream handed to the monitor to serve as a console.
pub(crate) type Attached = (std::os::unix::net::UnixStream, Arc<dyn ConsoleFactory>);

/// A snapshot of the monitor's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Connected clients.
    pub sessions: usize,
    /// Commands whose answer is pending, over all sessions.
    pub pending: usize,
    /// The longest the monitor thread has spent on one turn of its loop
    /// (everything but waiting for input) since it started: about the
    /// longest a client has waited on other clients' work. Handlers count.
    pub longest_turn: Duration,
}

impl Shared {
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("cannot wake the monitor thread: {e}");
        }
    }
}

const WAKER: Token = Token(0);
/// A message with this much text is heavy: it is parsed, and its `id`
/// written, off the monitor thread (see `offload`), and one turn runs at
/// most one heavy message, so that clients with lighter work are served
/// in every turn meanwhile.
const HEAVY: usize = 1 << 20;
const READ_CHUNK: usize = 64 << 10;
/// Bytes read from all clients together in one turn: each client with
/// work gets an equal share, at least [`MIN_READ_SHARE`] and at most
/// `ServerConfig::read_budget`. Lexing and framing cost up to about 20 ms
/// a MiB (of one-digit numbers), so a turn stays short however many
/// clients send at once.
const TURN_READ_BUDGET: usize = 1 << 20;
/// The least a client with work reads in a turn.
const MIN_READ_SHARE: usize = 16 << 10;
/// Bytes written to all clients together in one turn, shared as reads
/// are: at least [`MIN_WRITE_SHARE`] and at most
/// `connection::WRITE_BUDGET` (1 MiB) each. Each MiB written costs the
/// monitor thread about a millisecond in the kernel.
const TURN_WRITE_BUDGET: usize = 4 << 20;
/// The least a client with output may write in a turn.
const MIN_WRITE_SHARE: usize = 64 << 10;
/// How long a listener whose `accept` failed (out of descriptors, most
/// often) waits before it is tried again, unless a client leaves first.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// How long shutdown keeps trying to deliver queued output.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// A listener ready to accept, with what its connections get.
#[derive(Debug)]
struct BoundListener {
    listener: Listener,
    /// Its address, for logs and `SessionInfo::listener`.
    name: String,
    /// The console factory (none: QMP).
    console: Option<Arc<dyn ConsoleFactory>>,
    /// QMP output in QEMU's pretty layout.
    pretty: bool,
    /// `accept` failed: clients may be waiting that no new edge will
    /// announce, so it is tried again (see [`ACCEPT_RETRY`]).
    retry: bool,
}

/// Bound listeners and settings, ready to move to the monitor thread.
pub(crate) struct Prepared {
    poll: Poll,
    listeners: Vec<BoundListener>,
    dispatcher: Dispatcher,
    config: ServerConfig,
    shared: Arc<Shared>,
    hooks: SessionHooks,
    budget: FdBudget,
}

impl Prepared {
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// What to call when clients come and go.
    pub(crate) fn set_hooks(&mut self, hooks: SessionHooks) {
        self.hooks = hooks;
    }

    /// Runs the event loop until `quit` or shutdown.
    pub(crate) fn run(self) -> Result<Exit, ServerError> {
        let listen_addrs = self
            .listeners
            .iter()
            .map(|l| l.listener.local_addr().clone())
            .collect();
        let offload = Offload::new(Arc::clone(&self.shared));
        let server = Server {
            next_token: self.listeners.len() + 1,
            listen_addrs,
            budget: self.budget,
            accept_retry: None,
            poll: self.poll,
            listeners: self.listeners,
            conns: HashMap::new(),
            by_session: HashMap::new(),
            next_session: 1,
            dispatcher: self.dispatcher,
            config: self.config,
            shared: self.shared,
            scratch: Vec::new(),
            log: EventLog::default(),
            heavy_done: false,
            offload,
            parsed: VecDeque::new(),
            read_buf: vec![0; READ_CHUNK],
            hooks: self.hooks,
            log_limit: LogLimit::default(),
        };
        server.run()
    }
}

/// A listener source once inherited descriptors are checked.
enum Checked {
    Ready(Listener),
    Bind(ListenAddr),
}

/// Opens the listeners in order and registers them (token = index + 1).
///
/// Everything that can be refused without side effects is checked first
/// (pretty consoles, inherited descriptors), and a failure half-way
/// removes the socket files already created: a failed spawn leaves
/// nothing behind.
fn open_listeners(
    sources: Vec<(ListenSource, ListenOptions)>,
    poll: &Poll,
    config: &ServerConfig,
) -> Result<Vec<BoundListener>, ServerError> {
    let mut checked = Vec::with_capacity(sources.len());
    for (source, options) in sources {
        if options.pretty && options.console.is_some() {
            let listener = match &source {
                ListenSource::Addr(addr) => addr.to_string(),
                ListenSource::Fd(fd) => format!("fd {}", fd.as_raw_fd()),
            };
            return Err(ServerError::PrettyConsole { listener });
        }
        let source = match source {
            ListenSource::Addr(addr) => Checked::Bind(addr),
            ListenSource::Fd(fd) => {
                let raw = fd.as_raw_fd();
                let l = Listener::inherit(fd)?;
                log::debug!("serving fd {raw}, listening on {}", l.local_addr());
                Checked::Ready(l)
            }
        };
        checked.push((source, options));
    }
    let mut listeners: Vec<BoundListener> = Vec::with_capacity(checked.len());
    for (i, (source, options)) in checked.into_iter().enumerate() {
        let opened = match source {
            Checked::Ready(l) => Ok(l),
            Checked::Bind(addr) => Listener::bind(&addr),
        }
        .and_then(|mut l| {
            match poll
                .registry()
                .register(l.source(), Token(i + 1), Interest::READABLE)
            {
                Ok(()) => Ok(l),
                Err(e) => {
                    l.cleanup();
                    Err(ServerError::Poll(e))
                }
            }
        });
        let l = match opened {
            Ok(l) => l,
            Err(e) => {
                for done in &listeners {
                    done.listener.cleanup();
                }
                return Err(e);
            }
        };
        let local = l.local_addr().clone();
        if config.allowed_uids.is_some() && matches!(local, ListenAddr::Tcp(_)) {
            log::warn!("the peer uid allow-list does not apply to {local}: TCP peers have no uid");
        }
        listeners.push(BoundListener {
            listener: l,
            name: local.to_string(),
            console: options.console,
            pretty: options.pretty,
            retry: false,
        });
    }
    Ok(listeners)
}

pub(crate) struct Server {
    poll: Poll,
    listeners: Vec<BoundListener>,
    conns: HashMap<Token, Connection>,
    /// Session id to connection, for deferred answers.
    by_session: HashMap<u64, Token>,
    next_token: usize,
    next_session: u64,
    dispatcher: Dispatcher,
    config: ServerConfig,
    shared: Arc<Shared>,
    /// One frame's response, held until the events it caused are queued.
    scratch: Vec<u8>,
    /// Events taken from the emitter, until every client has them.
    log: EventLog,
    /// A heavy message was run this turn (see [`HEAVY`]).
    heavy_done: bool,
    /// Parses heavy messages.
    offload: Offload,
    /// Heavy messages parsed, waiting for their turn to run.
    parsed: VecDeque<Done>,
    /// Where each read lands before it joins a connection's input.
    read_buf: Vec<u8>,
    hooks: SessionHooks,
    /// The listeners' addresses: a descriptor passed that is connected to
    /// one of them is refused (see `peer::is_client_of`).
    listen_addrs: Vec<ListenAddr>,
    /// Pays for every connection and every descriptor clients hand over.
    budget: FdBudget,
    /// When listeners whose `accept` failed are tried again.
    accept_retry: Option<Instant>,
    /// Rate limits of the warnings clients can cause.
    log_limit: LogLimit,
}

impl Server {
    /// Binds the listeners, or checks the inherited ones (on the caller's
    /// thread, so errors reach it); the loop itself starts with
    /// [`Prepared::run`] on the monitor thread.
    pub(crate) fn prepare(
        sources: Vec<(ListenSource, ListenOptions)>,
        dispatcher: Dispatcher,
        config: ServerConfig,
    ) -> Result<(Prepared, Vec<ListenAddr>), ServerError> {
        let poll = Poll::new().map_err(ServerError::Poll)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(ServerError::Poll)?;
        let listeners = open_listeners(sources, &poll, &config)?;
        let bound = listeners
            .iter()
            .map(|l| l.listener.local_addr().clone())
            .collect();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            attach: parking_lot::Mutex::new(Vec::new()),
            waker,
            sessions: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            longest_turn_us: AtomicU64::new(0),
        });
        let budget = match config.fd_budget {
            Some(limit) => FdBudget::new(limit),
            None => FdBudget::from_rlimit(),
        };
        dispatcher.fd_sets().set_budget(budget.clone());
        let prepared = Prepared {
            poll,
            listeners,
            dispatcher,
            config,
            shared,
            hooks: SessionHooks::default(),
            budget,
        };
        Ok((prepared, bound))
    }

    pub(crate) fn run(mut self) -> Result<Exit, ServerError> {
        let mut events = Events::with_capacity(256);
        let exit = loop {
            let end = self.log.end();
            let busy = !self.parsed.is_empty()
                || self
                    .conns
                    .values()
                    .any(|c| self.has_work(c) || c.wants_flush(end));
            // Throttled events, negotiation timeouts and clients that do
            // not drain are due at a deadline: wake up for the nearest.
            let timeout = if busy {
                Some(Duration::ZERO)
            } else {
                [
                    self.dispatcher.emitter().next_deadline(),
                    self.next_negotiation_deadline(),
                    self.next_drain_deadline(),
                    self.accept_retry,
                    // And for the summary of suppressed warnings.
                    self.log_limit.next_deadline(),
                ]
                .into_iter()
                .flatten()
                .min()
                .map(|d| d.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                self.close_all();
                return Err(ServerError::Poll(e));
            }
            let turn = Instant::now();
            self.share_writes();
            for event in events.iter() {
                let token = event.token();
                if token == WAKER {
                    continue;
                }
                if token.0 <= self.listeners.len() {
                    self.accept_all(token.0 - 1);
                    continue;
                }
                let Some(conn) = self.conns.get_mut(&token) else {
                    continue;
                };
                if event.is_readable() || event.is_read_closed() || event.is_error() {
                    conn.readable = true;
                }
                conn.hup_seen |= event.is_read_closed() || event.is_error();
                // Both directions closed (EPOLLHUP): the client has gone,
                // not merely half-closed, and nothing can reach it.
                conn.peer_gone |= event.is_write_closed();
                if event.is_writable() || event.is_error() {
                    conn.blocked = false;
                    if let Err(e) = conn.flush(&self.log) {
                        self.drop_conn(token, Closing::io("write", &e));
                    }
                }
            }
            if self.shared.stop.load(Ordering::Acquire) {
                break Exit::Shutdown;
            }
            self.attach_consoles();
            self.retry_accepts();
            self.expire_negotiations();
            self.log_limit.flush(Instant::now());
            self.pull_events();
            self.deliver_deferred();
            self.heavy_done = false;
            let mut quit = self.deliver_parsed();
            let tokens: Vec<Token> = self
                .conns
                .iter()
                .filter(|(_, c)| self.has_work(c) || c.read_closed)
                .map(|(t, _)| *t)
                .collect();
            let share = (TURN_READ_BUDGET / tokens.len().max(1))
                .max(MIN_READ_SHARE)
                .min(self.config.read_budget);
            for token in tokens {
                quit |= self.service(token, share);
            }
            // Events handlers emitted, and output of clients not serviced.
            self.pull_events();
            self.flush_all();
            self.check_drain();
            if quit {
                break Exit::Quit;
            }
            self.release_gone();
            self.publish_stats(turn.elapsed());
        };
        self.close_all();
        Ok(exit)
    }

    /// Gives each client its share of the turn's writes.
    fn share_writes(&mut self) {
        let end = self.log.end();
        let writers = self.conns.values().filter(|c| c.has_output(end)).count();
        let share = (TURN_WRITE_BUDGET / writers.max(1)).clamp(MIN_WRITE_SHARE, WRITE_BUDGET);
        for conn in self.conns.values_mut() {
            conn.write_budget = share;
        }
    }

    fn publish_stats(&self, turn: Duration) {
        let micros = u64::try_from(turn.as_micros()).unwrap_or(u64::MAX);
        self.shared
            .longest_turn_us
            .fetch_max(micros, Ordering::Relaxed);
        let pending = self.conns.values().map(|c| c.session.pending()).sum();
        self.shared
            .sessions
            .store(self.conns.len(), Ordering::Relaxed);
        self.shared.pending.store(pending, Ordering::Relaxed);
    }

    /// The earliest negotiation deadline of a client still negotiating.
    fn next_negotiation_deadline(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter(|c| !c.session.is_negotiated())
            .filter_map(|c| c.deadline)
            .min()
    }

    /// Drops clients that did not negotiate capabilities in time.
    fn expire_negotiations(&mut self) {
        let now = Instant::now();
        let expired: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.session.is_negotiated() && c.deadline.is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            self.drop_conn(
                token,
                Closing::Loud("capabilities negotiation timed out".to_owned()),
            );
        }
    }

    fn has_work(&self, c: &Connection) -> bool {
        let paused = c.pending_output() > self.config.pause_threshold || !c.session.wants_input();
        !paused && (c.readable || c.input_pos < c.input.len())
    }

    /// Runs the next heavy message the worker has parsed, if no heavy
    /// message ran this turn. Returns whether it was a `quit`.
    fn deliver_parsed(&mut self) -> bool {
        self.parsed.extend(self.offload.take_done());
        while !self.heavy_done {
            let Some(done) = self.parsed.pop_front() else {
                break;
            };
            let token = done.token;
            let alive = self
                .conns
                .get(&token)
                .is_some_and(|c| c.session.info().id == done.session);
            if !alive {
                // The client left while its message was parsed.
                self.offload.free(done);
                continue;
            }
            self.heavy_done = done.parsed.weight() >= HEAVY;
            let quit = self.with_conn(token, |server, conn| {
                conn.session
                    .deliver(&server.dispatcher, done.parsed, &mut server.scratch)
            });
            if let Some(conn) = self.conns.get_mut(&token) {
                if let Err(e) = conn.flush(&self.log) {
                    self.drop_conn(token, Closing::io("write", &e));
                }
            }
            if quit {
                return true;
            }
        }
        false
    }

    /// Routes deferred answers and future wake-ups to their sessions.
    fn deliver_deferred(&mut self) {
        let mailbox = std::sync::Arc::clone(self.dispatcher.mailbox());
        let finished = mailbox.take_finished();
        let woken = mailbox.take_woken();
        if finished.is_empty() && woken.is_empty() {
            return;
        }
        let mut touched = Vec::new();
        for f in finished {
            let Some(&token) = self.by_session.get(&f.session) else {
                log::debug!("session {}: answer after disconnect dropped", f.session);
                continue;
            };
            self.with_conn(token, |server, conn| {
                conn.session
                    .finish(&server.dispatcher, f.token, f.outcome, &mut server.scratch)
            });
            touched.push(token);
        }
        for (session, task) in woken {
            if let Some(&token) = self.by_session.get(&session) {
                self.with_conn(token, |server, conn| {
                    conn.session
                        .poll(&server.dispatcher, task, &mut server.scratch)
                });
                touched.push(token);
            }
        }
        for token in touched {
            if let Some(conn) = self.conns.get_mut(&token) {
                if let Err(e) = conn.flush(&self.log) {
                    self.drop_conn(token, Closing::io("write", &e));
                }
            }
        }
    }

    /// Runs `f` on one connection (taken out of the map), then queues the
    /// events it caused and its output, in that order.
    fn with_conn(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut Self, &mut Connection) -> crate::session::Effects,
    ) -> bool {
        let Some(mut conn) = self.conns.remove(&token) else {
            return false;
        };
        let effects = f(self, &mut conn);
        self.pull_events();
        if conn.session.is_negotiated() {
            // Events from now on (none emitted before).
            conn.start_events(self.log.end());
        }
        let splices = conn.session.take_splices();
        conn.queue_spliced(&mut self.scratch, splices, self.log.end());
        self.conns.insert(token, conn);
        effects.quit
    }

    fn accept_all(&mut self, index: usize) {
        loop {
            let BoundListener {
                listener,
                name,
                pretty,
                retry,
                ..
            } = &mut self.listeners[index];
            let pretty = *pretty;
            let stream = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *retry = false;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE) or memory: the
                    // clients waiting raise no new edge, so try again
                    // later, or when a client leaves.
                    if !*retry {
                        log::warn!(
                            "accept on {name} failed: {e}; trying again when a descriptor is freed"
                        );
                    }
                    *retry = true;
                    self.accept_retry = Some(Instant::now() + ACCEPT_RETRY);
                    return;
                }
            };
            *retry = false;
            let charge = match self.admit(index, &stream) {
                Ok(charge) => charge,
                Err(reason) => {
                    let name = &self.listeners[index].name;
                    if self.log_limit.allow(LogKind::Refused, Instant::now()) {
                        log::warn!("refused a client of {name}: {reason}");
                    }
                    continue;
                }
            };
            let BoundListener { name, console, .. } = &self.listeners[index];
            let name = name.clone();
            let console = console.clone();
            if let Some(token) = self.add_connection(stream, Some(charge), name, console, pretty) {
                if let Some(conn) = self.conns.get_mut(&token) {
                    conn.listener = Some(index);
                }
            }
        }
    }

    /// Tries again the listeners whose `accept` failed, once their retry
    /// time has come.
    fn retry_accepts(&mut self) {
        if !self.accept_retry.is_some_and(|at| at <= Instant::now()) {
            return;
        }
        self.accept_retry = None;
        for index in 0..self.listeners.len() {
            if self.listeners[index].retry {
                self.accept_all(index);
            }
        }
    }

    /// Whether a client just accepted on listener `index` may stay: the
    /// listener's connection limit, the peer user allow-list and the
    /// descriptor budget, which pays for its connection.
    fn admit(&self, index: usize, stream: &connection::Stream) -> Result<Charge, String> {
        let connected = self
            .conns
            .values()
            .filter(|c| c.listener == Some(index))
            .count();
        if connected >= self.config.max_connections {
            return Err(format!("{connected} clients are connected, the limit"));
        }
        if let (Some(allowed), connection::Stream::Unix(socket)) =
            (&self.config.allowed_uids, stream)
        {
            let uid = peer::peer_uid(socket)
                .map_err(|e| format!("cannot read the peer's credentials: {e}"))?;
            if !allowed.contains(&uid) {
                return Err(format!("peer uid {uid} is not allowed"));
            }
        }
        self.budget.try_charge().map_err(|over| {
            format!(
                "the monitor holds {} descriptors for its clients, its limit",
                over.limit
            )
        })
    }

    /// Sets up a new connection: a QMP session, or a console.
    fn add_connection(
        &mut self,
        mut stream: connection::Stream,
        charge: Option<Charge>,
        name: String,
        console: Option<Arc<dyn ConsoleFactory>>,
        pretty: bool,
    ) -> Option<Token> {
        let token = Token(self.next_token);
        self.next_token += 1;
        if let Err(e) = self.poll.registry().register(
            stream.source(),
            token,
            Interest::READABLE | Interest::WRITABLE,
        ) {
            log::warn!("cannot register a client of {name}: {e}");
            return None;
        }
        let id = self.next_session;
        self.next_session += 1;
        let mut session = Session::new(id, name.clone(), true);
        session.set_limits(self.config.limits);
        session.set_offload(Some(HEAVY));
        session.fds().set_limit(self.config.fds_per_session);
        session.fds().set_budget(self.budget.clone());
        if let Some(hook) = &self.hooks.connect {
            run_hook(hook, session.info());
        }
        let mut conn = Connection::new(stream, session);
        conn.charge = charge;
        conn.freer = self.offload.freer();
        conn.pretty = pretty;
        match console {
            Some(factory) => {
                let mut console = factory.open(conn.session.info());
                console.start(&self.dispatcher, &mut conn.output);
                conn.console = Some(console);
            }
            None => {
                conn.queue(&self.dispatcher.greeting(true), self.log.end());
                conn.deadline = self.config.negotiation_timeout.map(|t| Instant::now() + t);
            }
        }
        log::debug!("session {id}: connected on {name}");
        self.conns.insert(token, conn);
        self.by_session.insert(id, token);
        if let Some(conn) = self.conns.get_mut(&token) {
            if let Err(e) = conn.flush(&self.log) {
                self.drop_conn(token, Closing::io("write", &e));
                return None;
            }
        }
        Some(token)
    }

    /// Registers streams handed over by `Monitor::attach_console`.
    fn attach_consoles(&mut self) {
        let attached: Vec<_> = std::mem::take(&mut *self.shared.attach.lock());
        for (stream, factory) in attached {
            if let Err(e) = stream.set_nonblocking(true) {
                log::warn!("cannot attach a console: {e}");
                continue;
            }
            let stream = connection::Stream::Unix(mio::net::UnixStream::from_std(stream));
            // The VMM's own stream: never refused, not paid for.
            let name = "attached console".to_owned();
            self.add_connection(stream, None, name, Some(factory), false);
        }
    }

    /// Reads and handles one turn's worth of a client. Returns whether a
    /// `quit` was executed.
    fn service(&mut self, token: Token, budget: usize) -> bool {
        let Some(mut conn) = self.conns.remove(&token) else {
            return false;
        };
        let mut quit = false;
        let mut budget = budget;
        let result: Result<(), Closing> = loop {
            // A console gets keys while its output is under the pause
            // threshold; what it leaves stays in `input` for later.
            let threshold = self.config.pause_threshold;
            let unsent = conn.pending_output();
            if let Some(console) = conn.console.as_mut() {
                if conn.input_pos < conn.input.len() && unsent <= threshold {
                    let left = conn.input.len() - conn.input_pos;
                    let done = console.input(
                        &self.dispatcher,
                        &conn.input[conn.input_pos..],
                        &mut conn.output,
                        threshold - unsent,
                    );
                    let paused = conn.pending_output() > threshold;
                    conn.input_pos += if paused { done.used.min(left) } else { left };
                    conn.closing |= done.effects.close;
                    if done.effects.quit {
                        quit = true;
                        break Ok(());
                    }
                }
            }
            // Handle what is buffered first, frame by frame.
            while conn.input_pos < conn.input.len() {
                if conn.pending_output() > self.config.pause_threshold
                    || !conn.session.wants_input()
                {
                    break;
                }
                let (used, effects) = conn.session.step(
                    &self.dispatcher,
                    &conn.input[conn.input_pos..],
                    &mut self.scratch,
                );
                conn.input_pos += used;
                if let Some(raw) = conn.session.take_raw() {
                    // Read on once it is back (see `deliver_parsed`).
                    self.offload.parse(token, conn.session.info().id, raw);
                }
                if let Some(effects) = effects {
                    // Events a handler emitted go out before its response,
                    // as in QEMU (SHUTDOWN before quit's reply).
                    self.pull_events();
                    if conn.session.is_negotiated() {
                        // Events from now on (none emitted before).
                        conn.start_events(self.log.end());
                    }
                    let splices = conn.session.take_splices();
                    conn.queue_spliced(&mut self.scratch, splices, self.log.end());
                    if effects.quit {
                        quit = true;
                        break;
                    }
                }
            }
            if quit
                || conn.pending_output() > self.config.pause_threshold
                || !conn.session.wants_input()
            {
                break Ok(());
            }
            if conn.input_pos == conn.input.len() {
                conn.input.clear();
                conn.input_pos = 0;
            }
            if !conn.readable || conn.read_closed || budget == 0 {
                break Ok(());
            }
            // Into the loop's buffer, zeroed once, then copied: growing
            // `input` by a zeroed chunk per read cost a 64 KiB memset each.
            let chunk = budget.min(self.read_buf.len());
            match conn.receive(&mut self.read_buf[..chunk], &self.listen_addrs) {
                Ok(Received { bytes: 0, .. }) => {
                    conn.read_closed = true;
                    conn.readable = false;
                }
                Ok(Received { bytes: n, fds }) => {
                    conn.input.extend_from_slice(&self.read_buf[..n]);
                    budget = budget.saturating_sub(n);
                    // A short read emptied the socket, and new data raises
                    // a new edge: skip the read that would only say
                    // WouldBlock (one system call per request). Not so
                    // once the peer's end was reported (read on to the
                    // end), nor after a read that brought descriptors: the
                    // kernel ends a read after such a message even when
                    // more follows, which raises no new edge.
                    if n < chunk && !conn.hup_seen && !fds {
                        conn.readable = false;
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => conn.readable = false,
                    io::ErrorKind::Interrupted => {}
                    _ => break Err(Closing::io("read", &e)),
                },
            }
        };
        let result = result.and_then(|()| {
            conn.flush(&self.log)
                .map(drop)
                .map_err(|e| Closing::io("write", &e))
        });
        let verdict = match result {
            // Responses never disconnect a client: reading pauses instead.
            Err(reason) => Some(reason),
            Ok(())
                if (conn.read_closed || conn.closing)
                    && conn.input_pos >= conn.input.len()
                    && !conn.session.is_parsing()
                    && !conn.has_output(self.log.end()) =>
            {
                Some(Closing::disconnected())
            }
            Ok(()) => None,
        };
        match verdict {
            Some(reason) => self.close(conn, reason),
            None => {
                self.conns.insert(token, conn);
            }
        }
        quit
    }

    /// Appends the events due now to the event log (one copy for every
    /// client; each reads from it as its socket takes bytes).
    fn pull_events(&mut self) {
        let emitter = self.dispatcher.emitter();
        let now = Instant::now();
        let timer_due = emitter.next_deadline().is_some_and(|d| d <= now);
        if !emitter.has_pending() && !timer_due {
            return;
        }
        self.log.append(emitter.take_bytes(now));
    }

    /// Writes to every client that has something to write and whose socket
    /// is not known to be full.
    fn flush_all(&mut self) {
        let end = self.log.end();
        let mut failed = Vec::new();
        for (token, conn) in &mut self.conns {
            if conn.wants_flush(end) {
                if let Err(e) = conn.flush(&self.log) {
                    failed.push((*token, e));
                }
            }
        }
        for (token, e) in failed {
            self.drop_conn(token, Closing::io("write", &e));
        }
    }

    /// Disconnects the clients that do not drain their events: over the
    /// backlog limit, or over the output limit without taking a byte for
    /// the drain timeout. Then frees the log every client has passed.
    fn check_drain(&mut self) {
        let end = self.log.end();
        let now = Instant::now();
        let limit = self.config.output_limit as u64;
        let backlog = self.config.event_backlog_limit as u64;
        let mut over = Vec::new();
        for (token, conn) in &mut self.conns {
            let lag = conn.event_lag(end);
            if lag > backlog {
                over.push((
                    *token,
                    Closing::Loud(format!(
                        "cannot keep up: {lag} bytes of events unread (limit {backlog})"
                    )),
                ));
            } else if lag > limit {
                let since = *conn.lagging_since.get_or_insert(now);
                if now.duration_since(since) >= self.config.drain_timeout {
                    over.push((
                        *token,
                        Closing::Loud(format!(
                            "output limit exceeded ({lag} bytes of events unread, none taken for {:?})",
                            self.config.drain_timeout
                        )),
                    ));
                }
            } else {
                conn.lagging_since = None;
            }
        }
        for (token, reason) in over {
            self.drop_conn(token, reason);
        }
        let oldest = self
            .conns
            .values()
            .filter_map(Connection::oldest_event)
            .min()
            .unwrap_or(end);
        self.log.trim(oldest);
    }

    /// When the first client over the output limit runs out of time.
    fn next_drain_deadline(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.lagging_since)
            .min()
            .map(|since| since + self.config.drain_timeout)
    }

    fn drop_conn(&mut self, token: Token, reason: Closing) {
        if let Some(conn) = self.conns.remove(&token) {
            self.close(conn, reason);
        }
    }

    fn close(&mut self, mut conn: Connection, reason: Closing) {
        let id = conn.session.info().id;
        self.by_session.remove(&id);
        let cancelled = conn.session.close();
        if cancelled > 0 {
            log::debug!("session {id}: cancelled {cancelled} pending commands");
        }
        match reason {
            Closing::Quiet(text) => log::debug!("session {id}: {text}"),
            Closing::Loud(reason) => {
                if self.log_limit.allow(LogKind::Closing, Instant::now()) {
                    log::warn!("session {id}: closing the connection: {reason}");
                }
            }
        }
        let _ = self.poll.registry().deregister(conn.stream.source());
        if let Some(hook) = &self.hooks.disconnect {
            run_hook(hook, conn.session.info());
        }
        let qmp = conn.console.is_none();
        // Closes every descriptor the session held.
        drop(conn);
        if self.listeners.iter().any(|l| l.retry) {
            // A descriptor was freed: a client `accept` could not take may
            // be served now.
            self.accept_retry = Some(Instant::now());
        }
        if qmp && !self.conns.values().any(|c| c.console.is_none()) {
            // As QEMU when its last QMP client goes: fd sets nobody opened
            // are closed.
            self.dispatcher.fd_sets().release_unopened();
        }
    }

    /// Closes the connections whose client has gone (both directions
    /// closed) once nothing more can be done for them now: the input read
    /// so far is handled, but answers still to come (a pending command)
    /// and unsent output could never reach the client, so they do not
    /// keep its slot and descriptors.
    fn release_gone(&mut self) {
        let gone: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| c.peer_gone && (c.read_closed || !self.has_work(c)))
            .map(|(t, _)| *t)
            .collect();
        for token in gone {
            self.drop_conn(token, Closing::disconnected());
        }
    }

    /// Delivers what can be delivered within a grace period, then closes
    /// every client and removes unix socket files.
    fn close_all(&mut self) {
        for conn in self.conns.values_mut() {
            conn.session.close();
        }
        self.pull_events();
        let end = self.log.end();
        for conn in self.conns.values_mut() {
            conn.stop_events(end);
        }
        let deadline = Instant::now() + FLUSH_GRACE;
        let mut events = Events::with_capacity(64);
        loop {
            let log = &self.log;
            let flushed: Vec<Token> = self
                .conns
                .iter_mut()
                .filter_map(|(t, c)| {
                    c.blocked = false;
                    c.write_budget = usize::MAX;
                    (c.flush(log).is_err() || !c.has_output(end)).then_some(*t)
                })
                .collect();
            for token in flushed {
                self.drop_conn(token, Closing::Quiet("monitor shutting down".to_owned()));
            }
            if self.conns.is_empty() || Instant::now() >= deadline {
                break;
            }
            let _ = self.poll.poll(&mut events, Some(Duration::from_millis(20)));
        }
        let tokens: Vec<Token> = self.conns.keys().copied().collect();
        for token in tokens {
            let reason = "monitor shutting down with output unsent".to_owned();
            self.drop_conn(token, Closing::Loud(reason));
        }
        for BoundListener { listener, .. } in &mut self.listeners {
            let _ = self.poll.registry().deregister(listener.source());
            // Only files this monitor created: an inherited socket's path
            // is its owner's, and libvirt reconnects to it.
            listener.cleanup();
        }
        self.log_limit.finish();
    }
}
