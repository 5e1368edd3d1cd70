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

mod accept;
mod config;
mod connection;
mod event_log;
pub(crate) mod hooks;
mod input;
mod listener;
mod offload;
mod output;
pub(crate) mod peer;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token, Waker};

pub use config::{Exit, ServerConfig, ServerError, Stats};
pub use listener::{InheritError, ListenAddr, ListenOptions, ListenSource};

use crate::console::ConsoleFactory;
use crate::event::EventReceiver;
use crate::fds::FdBudget;
use crate::log_limit::{Kind as LogKind, LogLimit};
use crate::session::{Dispatcher, Session};
use accept::{open_listeners, BoundListener};
use connection::Connection;
use event_log::EventLog;
use hooks::{run_hook, SessionHooks};
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

impl Shared {
    pub(crate) fn wake(&self) {
        if let Err(e) = self.waker.wake() {
            log::error!("cannot wake the monitor thread: {e}");
        }
    }
}

/// Output a console may produce per turn: a TAB storm (each TAB lists
/// every command again) otherwise held the monitor thread for tens of
/// milliseconds, up to the pause threshold (1 MiB) at once.
const CONSOLE_TURN_OUTPUT: usize = 64 << 10;
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
/// a MiB (of one-digit numbers), so reading stays near 10 ms a turn
/// however many clients send at once (with 1 MiB, eight clients sending
/// arrays of a million numbers made turns of up to 29 ms).
const TURN_READ_BUDGET: usize = 512 << 10;
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
/// How long the loop polls without sleeping after a turn that handled
/// more than one message (several clients, or requests sent back to back).
/// Such clients send again within microseconds, and a sleeping monitor
/// thread costs each of them a wake-up (a cross-CPU interrupt), more than
/// the wait. A lone client with one request at a time does not set it
/// off: there, polling took the CPU its client needed.
const SPIN: Duration = Duration::from_micros(40);
/// How long shutdown keeps trying to deliver queued output.
const FLUSH_GRACE: Duration = Duration::from_secs(1);

/// Bound listeners and settings, ready to move to the monitor thread.
pub(crate) struct Prepared {
    poll: Poll,
    listeners: Vec<BoundListener>,
    dispatcher: Dispatcher,
    events: EventReceiver,
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
            events: self.events,
            config: self.config,
            shared: self.shared,
            scratch: Vec::new(),
            log: EventLog::default(),
            heavy_done: false,
            turn_messages: 0,
            last_talker: None,
            offload,
            parsed: VecDeque::new(),
            read_buf: vec![0; READ_CHUNK],
            hooks: self.hooks,
            log_limit: LogLimit::default(),
        };
        server.run()
    }
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
    /// Where the emitter's events come out (held while the loop runs).
    events: EventReceiver,
    config: ServerConfig,
    shared: Arc<Shared>,
    /// One frame's response, held until the events it caused are queued.
    scratch: Vec<u8>,
    /// Events taken from the emitter, until every client has them.
    log: EventLog,
    /// A heavy message was run this turn (see [`HEAVY`]).
    heavy_done: bool,
    /// Messages handled this turn: more than one is a sign that clients
    /// are sending back to back (see [`SPIN`]).
    turn_messages: usize,
    /// The connection whose message was handled last: a message from
    /// another one is a sign of several clients at work.
    last_talker: Option<Token>,
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
        events: EventReceiver,
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
            events,
            config,
            shared,
            hooks: SessionHooks::default(),
            budget,
        };
        Ok((prepared, bound))
    }

    pub(crate) fn run(mut self) -> Result<Exit, ServerError> {
        let mut events = Events::with_capacity(256);
        let mut spin_until: Option<Instant> = None;
        let exit = loop {
            let end = self.log.end();
            let busy = !self.parsed.is_empty()
                || self.listeners.iter().any(|l| l.more)
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
                    self.events.next_deadline(),
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
            if let Err(e) = self.wait(&mut events, timeout, &mut spin_until) {
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
                    // Accepted below, a bounded number per turn.
                    self.listeners[token.0 - 1].more = true;
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
            self.accept_more();
            self.expire_negotiations();
            self.log_limit.flush(Instant::now());
            self.pull_events();
            self.deliver_deferred();
            self.heavy_done = false;
            self.turn_messages = 0;
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
            let now = Instant::now();
            if self.turn_messages > 1 {
                spin_until = Some(now + SPIN);
            }
            self.publish_stats(now - turn);
        };
        self.close_all();
        Ok(exit)
    }

    /// Waits for readiness up to `timeout`. Until `spin_until` (and
    /// within `timeout`) it polls without sleeping (see [`SPIN`]).
    fn wait(
        &mut self,
        events: &mut Events,
        timeout: Option<Duration>,
        spin_until: &mut Option<Instant>,
    ) -> io::Result<()> {
        // A loop with work does not sleep anyway.
        let spin = spin_until.filter(|_| timeout != Some(Duration::ZERO));
        if let Some(until) = spin {
            let until = match timeout {
                Some(t) => until.min(Instant::now() + t),
                None => until,
            };
            while Instant::now() < until {
                self.poll.poll(events, Some(Duration::ZERO))?;
                if !events.is_empty() {
                    // Still spinning at the next wait, until `spin_until`.
                    return Ok(());
                }
            }
            *spin_until = None;
        }
        self.poll.poll(events, timeout)
    }

    fn publish_stats(&self, turn: Duration) {
        let micros = u64::try_from(turn.as_micros()).unwrap_or(u64::MAX);
        self.shared
            .longest_turn_us
            .fetch_max(micros, Ordering::Relaxed);
        let pending = self
            .conns
            .values()
            .filter_map(|c| c.peer.session())
            .map(Session::pending)
            .sum();
        self.shared
            .sessions
            .store(self.conns.len(), Ordering::Relaxed);
        self.shared.pending.store(pending, Ordering::Relaxed);
    }

    /// The earliest negotiation deadline of a client still negotiating.
    fn next_negotiation_deadline(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter(|c| !c.peer.is_negotiated())
            .filter_map(|c| c.deadline)
            .min()
    }

    /// Drops clients that did not negotiate capabilities in time.
    fn expire_negotiations(&mut self) {
        let now = Instant::now();
        let expired: Vec<Token> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.peer.is_negotiated() && c.deadline.is_some_and(|d| d <= now))
            .map(|(t, _)| *t)
            .collect();
        for token in expired {
            self.drop_conn(
                token,
                Closing::Loud("capabilities negotiation timed out".to_owned()),
            );
        }
    }

    fn drop_conn(&mut self, token: Token, reason: Closing) {
        if let Some(conn) = self.conns.remove(&token) {
            self.close(conn, reason);
        }
    }

    fn close(&mut self, mut conn: Connection, reason: Closing) {
        let id = conn.peer.info().id;
        self.by_session.remove(&id);
        let cancelled = conn.peer.session_mut().map_or(0, Session::close);
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
        let _ = self.poll.registry().deregister(conn.socket.source());
        if let Some(hook) = &self.hooks.disconnect {
            run_hook(hook, conn.peer.info());
        }
        let qmp = conn.peer.session().is_some();
        // Closes every descriptor the session held.
        drop(conn);
        if self.listeners.iter().any(|l| l.retry) {
            // A descriptor was freed: a client `accept` could not take may
            // be served now.
            self.accept_retry = Some(Instant::now());
        }
        if qmp && !self.conns.values().any(|c| c.peer.session().is_some()) {
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
            if let Some(session) = conn.peer.session_mut() {
                session.close();
            }
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
