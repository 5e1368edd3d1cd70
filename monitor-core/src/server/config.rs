//! What an embedder sets and reads: the server's settings, how its loop
//! ended, its load, and its errors.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::listener::InheritError;
use crate::stream::Limits;

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
    /// An inherited descriptor ([`ListenSource::Fd`](super::ListenSource::Fd)) is not a listening
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
const DEFAULT_MAX_CONNECTIONS: usize = 128;

/// Default time a QMP client has to complete `qmp_capabilities`.
const DEFAULT_NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Default time a client with more unread events than the output limit
/// may go without taking a byte before it is disconnected.
const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Default most bytes of events one client may leave unread.
const DEFAULT_EVENT_BACKLOG_LIMIT: usize = 128 << 20;

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
    /// How long a client over `output_limit` may take nothing (5 s).
    pub drain_timeout: Duration,
    /// A client with more unread events than this is disconnected at once,
    /// reading or not: it cannot keep up. Also bounds the event log
    /// (128 MiB).
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
    /// Clients connected to one listener at once; more are closed at once
    /// (128).
    pub max_connections: usize,
    /// QMP clients that have not completed `qmp_capabilities` this long
    /// after connecting are dropped (`None`: never; 30 s).
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
