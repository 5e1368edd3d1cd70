//! New clients: binding the listeners, accepting (within the connection
//! limit, the uid allow-list and the descriptor budget), and setting up
//! each connection with its session or console.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use mio::{Interest, Poll, Token};

use super::connection::{self, Connection, Peer};
use super::listener::{ListenAddr, ListenOptions, ListenSource, Listener};
use super::{peer, run_hook, Closing, Server, ServerConfig, ServerError, ACCEPT_RETRY, HEAVY};
use crate::console::ConsoleFactory;
use crate::dispatch::SessionInfo;
use crate::fds::Charge;
use crate::log_limit::Kind as LogKind;
use crate::session::Session;

/// A listener ready to accept, with what its connections get.
#[derive(Debug)]
pub(super) struct BoundListener {
    pub(super) listener: Listener,
    /// Its address, for logs and `SessionInfo::listener`.
    pub(super) name: String,
    /// The console factory (none: QMP).
    pub(super) console: Option<Arc<dyn ConsoleFactory>>,
    /// QMP output in QEMU's pretty layout.
    pub(super) pretty: bool,
    /// `accept` failed: clients may be waiting that no new edge will
    /// announce, so it is tried again (see [`ACCEPT_RETRY`]).
    pub(super) retry: bool,
    /// Clients may be waiting: the listener became readable, or the last
    /// turn's accepts ran out ([`ACCEPTS_PER_TURN`]) before its queue did
    /// (no new edge will announce those).
    pub(super) more: bool,
}

/// Clients one listener accepts (or refuses) in a turn. A burst of
/// thousands of connections (most of them refused over the client limit)
/// otherwise held the monitor thread for the whole listen queue, 87 ms
/// for 10,000 connect-and-close cycles; the rest wait in the kernel's
/// listen queue for the next turn.
pub(super) const ACCEPTS_PER_TURN: usize = 64;

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
pub(super) fn open_listeners(
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
            more: false,
        });
    }
    Ok(listeners)
}

impl Server {
    /// Accepts the clients waiting on listener `index`, at most
    /// [`ACCEPTS_PER_TURN`] of them.
    fn accept_on(&mut self, index: usize) {
        self.listeners[index].more = false;
        for _ in 0..ACCEPTS_PER_TURN {
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
        // The queue may hold more: no new edge will say so.
        self.listeners[index].more = true;
    }

    /// Accepts on the listeners where clients may be waiting, at most
    /// [`ACCEPTS_PER_TURN`] on each.
    pub(super) fn accept_more(&mut self) {
        for index in 0..self.listeners.len() {
            if self.listeners[index].more {
                self.accept_on(index);
            }
        }
    }

    /// Marks for [`accept_more`](Self::accept_more) the listeners whose
    /// `accept` failed, once their retry time has come.
    pub(super) fn retry_accepts(&mut self) {
        if self.accept_retry.is_none_or(|at| at > Instant::now()) {
            return;
        }
        self.accept_retry = None;
        for listener in &mut self.listeners {
            listener.more |= listener.retry;
        }
    }

    /// Whether a client just accepted on listener `index` may stay: the
    /// listener's connection limit, the peer user allow-list and the
    /// descriptor budget, which pays for its connection.
    pub(super) fn admit(
        &self,
        index: usize,
        stream: &connection::ClientSocket,
    ) -> Result<Charge, String> {
        let connected = self
            .conns
            .values()
            .filter(|c| c.listener == Some(index))
            .count();
        if connected >= self.config.max_connections {
            return Err(format!("{connected} clients are connected, the limit"));
        }
        if let (Some(allowed), connection::ClientSocket::Unix(socket)) =
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
    pub(super) fn add_connection(
        &mut self,
        mut stream: connection::ClientSocket,
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
        let peer = match &console {
            Some(factory) => {
                let info = SessionInfo {
                    id,
                    listener: name.clone(),
                    oob: false,
                };
                let console = factory.open(&info);
                Peer::Console { info, console }
            }
            None => {
                let mut session = Session::new(id, name.clone(), true);
                session.set_limits(self.config.limits);
                session.set_offload(Some(HEAVY));
                session.fds().set_limit(self.config.fds_per_session);
                session.fds().set_budget(self.budget.clone());
                Peer::Qmp(session)
            }
        };
        if let Some(hook) = &self.hooks.connect {
            run_hook(hook, peer.info());
        }
        let mut conn = Connection::new(stream, peer);
        conn.charge = charge;
        conn.freer = self.offload.freer();
        conn.pretty = pretty;
        match &mut conn.peer {
            Peer::Console { console, .. } => console.start(&self.dispatcher, &mut conn.output),
            Peer::Qmp(_) => {
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
    pub(super) fn attach_consoles(&mut self) {
        let attached: Vec<_> = std::mem::take(&mut *self.shared.attach.lock());
        for (stream, factory) in attached {
            if let Err(e) = stream.set_nonblocking(true) {
                log::warn!("cannot attach a console: {e}");
                continue;
            }
            let stream = connection::ClientSocket::Unix(mio::net::UnixStream::from_std(stream));
            // The VMM's own stream: never refused, not paid for.
            let name = "attached console".to_owned();
            self.add_connection(stream, None, name, Some(factory), false);
        }
    }
}
