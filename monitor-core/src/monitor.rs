//! The embedding API: build a monitor, spawn its thread, emit events.

use std::any::Any;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use crate::command::Command;
use crate::console::ConsoleFactory;
use crate::dispatch::SessionInfo;
use crate::event::Emitter;
use crate::event::EventDescriptor;
use crate::fds::FdSets;
use crate::registry::{Registry, RegistryError};
use crate::server::hooks::SessionHooks;
use crate::server::{
    Exit, ListenAddr, ListenOptions, ListenSource, Server, ServerConfig, ServerError, Shared, Stats,
};
use crate::session::Dispatcher;
use crate::state::StateMap;
use crate::stream::Limits;
use crate::version::VersionInfo;
use crate::Error;

/// Stack size of the monitor thread (parsing and dropping 1024-deep
/// messages recurses).
const MONITOR_STACK: usize = 8 << 20;

type QuitHook = Box<dyn FnOnce() + Send>;

/// A start-up check run by [`MonitorBuilder::spawn`] over the finished
/// command table.
pub(crate) type StartupCheck =
    Box<dyn FnOnce(&Registry) -> Result<(), Box<dyn std::error::Error + Send + Sync>> + Send>;

/// Configures a [`Monitor`].
///
/// # Examples
///
/// ```
/// use monitor_core::{Command, CommandError, Monitor};
///
/// let dir = std::env::temp_dir().join(format!("builder-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let monitor = Monitor::builder()
///     .version(1, 2, 0, "doc-vmm")
///     .command(Command::typed("x-ping", |_, ()| Ok::<_, CommandError>(())))
///     .listen_unix(dir.join("qmp.sock"))
///     .spawn()
///     .unwrap();
/// monitor.shutdown();
/// ```
pub struct MonitorBuilder {
    state: StateMap,
    commands: Vec<Command>,
    listeners: Vec<(ListenSource, ListenOptions)>,
    config: ServerConfig,
    emitter: Emitter,
    fd_sets: FdSets,
    on_quit: Option<QuitHook>,
    events: Vec<EventDescriptor>,
    required: Vec<String>,
    checks: Vec<(String, StartupCheck)>,
    hooks: SessionHooks,
}

impl std::fmt::Debug for MonitorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorBuilder")
            .field("listeners", &self.listeners)
            .field("commands", &self.commands.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MonitorBuilder {
    fn new() -> Self {
        let mut state = StateMap::default();
        state.insert(VersionInfo::default());
        MonitorBuilder {
            state,
            commands: Vec::new(),
            listeners: Vec::new(),
            config: ServerConfig::default(),
            emitter: Emitter::new(),
            fd_sets: FdSets::default(),
            on_quit: None,
            events: Vec::new(),
            required: Vec::new(),
            checks: Vec::new(),
            hooks: SessionHooks::default(),
        }
    }

    /// The version reported by the greeting and `query-version`.
    pub fn version(
        mut self,
        major: i64,
        minor: i64,
        micro: i64,
        package: impl Into<String>,
    ) -> Self {
        self.state
            .insert(VersionInfo::new(major, minor, micro, package));
        self
    }

    /// Reports the QEMU version whose QMP protocol the VMM speaks (the
    /// greeting's and `query-version`'s `qemu`), with the VMM's own name
    /// and version as `package` (`"refvmm 0.1.0"`, as QEMU reports its
    /// distribution's package there). See [`QEMU_7_2`](crate::QEMU_7_2)
    /// for what the number promises; libvirt refuses a QEMU below 4.2.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{client::Client, Monitor, QEMU_7_2};
    ///
    /// let path = std::env::temp_dir().join(format!("compat-doc-{}.sock", std::process::id()));
    /// let monitor = Monitor::builder()
    ///     .qemu_compat(QEMU_7_2, "refvmm", "0.1.0")
    ///     .listen_unix(&path)
    ///     .spawn()?;
    /// let mut client = Client::connect_unix(&path)?;
    /// assert_eq!(client.greeting()["QMP"]["version"]["qemu"]["minor"], 2);
    /// client.negotiate()?;
    /// let version = client.execute("query-version", serde_json::json!({}))?;
    /// assert_eq!(version["package"], "refvmm 0.1.0");
    /// monitor.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qemu_compat(
        self,
        level: crate::VersionTriple,
        vmm_name: &str,
        vmm_version: &str,
    ) -> Self {
        self.version(
            level.major,
            level.minor,
            level.micro,
            format!("{vmm_name} {vmm_version}"),
        )
    }

    /// Registers VMM state that handlers look up by type: a `&T` or
    /// `State<T>` parameter of a `#[qmp_command]`, `Context::state`.
    ///
    /// Every type a registered command takes must be registered before
    /// [`spawn`](Self::spawn), which otherwise fails naming the command.
    pub fn state<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Registers VMM state the VMM keeps a handle on too: handlers taking
    /// `&T` or `State<T>` see the value inside this `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{atomic::AtomicBool, Arc};
    /// use monitor_core::Monitor;
    ///
    /// struct Vm { running: AtomicBool }
    ///
    /// let vm = Arc::new(Vm { running: AtomicBool::new(true) });
    /// let builder = Monitor::builder().shared_state(Arc::clone(&vm));
    /// # let _ = builder;
    /// ```
    pub fn shared_state<T: Any + Send + Sync>(mut self, value: Arc<T>) -> Self {
        self.state.insert_arc(value);
        self
    }

    /// Adds a command (besides the built-ins and `inventory` registrations).
    pub fn command(mut self, command: Command) -> Self {
        self.commands.push(command);
        self
    }

    /// Declares an event (besides `#[derive(Event)]` types): listed by
    /// `query-events` and the schema.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{EventDescriptor, Monitor};
    ///
    /// let monitor = Monitor::builder().event(EventDescriptor::new("X_PLUGIN_READY")).spawn()?;
    /// monitor.emitter().emit(monitor_core::Event::new("X_PLUGIN_READY"));
    /// monitor.shutdown();
    /// # Ok::<(), monitor_core::Error>(())
    /// ```
    pub fn event(mut self, event: EventDescriptor) -> Self {
        self.events.push(event);
        self
    }

    /// Makes [`spawn`](Self::spawn) fail unless each of these commands is
    /// registered: a command declared in a library crate that the binary
    /// never references is not linked in, and this turns that mistake into
    /// a start-up error instead of a client's `CommandNotFound`.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::Monitor;
    ///
    /// let err = Monitor::builder()
    ///     .require_commands(&["query-version", "x-not-linked"])
    ///     .spawn()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("x-not-linked"), "{err}");
    /// ```
    pub fn require_commands(mut self, names: &[&str]) -> Self {
        self.required.extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    /// Runs `check` over the finished command table in [`spawn`](Self::spawn),
    /// which fails with its error (prefixed by `what`). Extensions use it to
    /// refuse a configuration at start-up rather than at the first call (the
    /// human monitor checks its command table this way).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::Monitor;
    ///
    /// let err = Monitor::builder()
    ///     .startup_check("the device table", |registry| {
    ///         if registry.get("x-hotplug").is_none() {
    ///             return Err("devices need x-hotplug".into());
    ///         }
    ///         Ok(())
    ///     })
    ///     .spawn()
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "the device table: devices need x-hotplug");
    /// ```
    pub fn startup_check(
        mut self,
        what: impl Into<String>,
        check: impl FnOnce(&Registry) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
            + Send
            + 'static,
    ) -> Self {
        self.checks.push((what.into(), Box::new(check)));
        self
    }

    /// Called on the monitor thread when a client is accepted (QMP or
    /// console, after the admission checks, before its greeting; `oob` is
    /// still `false` then). Keep it short: the monitor serves nobody while
    /// it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use monitor_core::Monitor;
    ///
    /// let clients = Arc::new(Mutex::new(Vec::<u64>::new()));
    /// let (on, off) = (Arc::clone(&clients), Arc::clone(&clients));
    /// let builder = Monitor::builder()
    ///     .on_connect(move |s| on.lock().unwrap().push(s.id))
    ///     .on_disconnect(move |s| off.lock().unwrap().retain(|id| *id != s.id));
    /// # let _ = builder;
    /// ```
    pub fn on_connect(mut self, hook: impl Fn(&SessionInfo) + Send + Sync + 'static) -> Self {
        self.hooks.connect = Some(Arc::new(hook));
        self
    }

    /// Called on the monitor thread when a client's connection is closed,
    /// whatever the reason (the client left, a limit, `quit`, shutdown),
    /// after its pending commands were cancelled. Called once per
    /// [`on_connect`](Self::on_connect).
    pub fn on_disconnect(mut self, hook: impl Fn(&SessionInfo) + Send + Sync + 'static) -> Self {
        self.hooks.disconnect = Some(Arc::new(hook));
        self
    }

    /// Listens on a unix socket (created with mode 0600).
    pub fn listen_unix(self, path: impl Into<PathBuf>) -> Self {
        self.listen(ListenAddr::Unix(path.into()))
    }

    /// Listens on a TCP address (port 0 picks one; see [`Monitor::local_addrs`]).
    pub fn listen_tcp(self, addr: SocketAddr) -> Self {
        self.listen(ListenAddr::Tcp(addr))
    }

    /// Adds a listener.
    pub fn listen(self, addr: ListenAddr) -> Self {
        self.listen_with(addr, ListenOptions::default())
    }

    /// Adds a listener whose connections are consoles (the human monitor:
    /// `monitor_hmp` provides the factory) instead of QMP sessions.
    pub fn listen_console(self, addr: ListenAddr, factory: Arc<dyn ConsoleFactory>) -> Self {
        let options = ListenOptions {
            console: Some(factory),
            ..ListenOptions::default()
        };
        self.listen_with(addr, options)
    }

    /// Serves QMP on a socket that is already bound and listening, handed
    /// over as a descriptor (libvirt's `-chardev socket,fd=N,server=on`).
    /// The monitor neither binds it nor ever removes its socket file.
    ///
    /// [`spawn`](Self::spawn) checks it: a descriptor that is not a
    /// listening unix, IPv4 or IPv6 stream socket fails with
    /// [`ServerError::NotListening`]. It is made non-blocking and
    /// close-on-exec. The connection limit and the peer uid allow-list
    /// apply as to a listener the monitor binds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::fd::OwnedFd;
    /// use monitor_core::{client::Client, ListenAddr, Monitor};
    ///
    /// let path = std::env::temp_dir().join(format!("listen-fd-doc-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// // What the management software did before starting the VMM.
    /// let socket = std::os::unix::net::UnixListener::bind(&path)?;
    ///
    /// let monitor = Monitor::builder().listen_fd(OwnedFd::from(socket)).spawn()?;
    /// assert_eq!(monitor.local_addrs(), [ListenAddr::Unix(path.clone())]);
    /// let mut client = Client::connect_unix(&path)?;
    /// client.negotiate()?;
    /// monitor.shutdown();
    /// monitor.wait()?;
    /// assert!(path.exists(), "the socket file is its creator's");
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_fd(self, fd: std::os::fd::OwnedFd) -> Self {
        self.listen_with(ListenSource::Fd(fd), ListenOptions::default())
    }

    /// Adds a listener: an address to bind or an inherited descriptor
    /// (see [`listen_fd`](Self::listen_fd)), serving QMP or a console,
    /// compact or pretty. The other `listen` methods are shorthands for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{ListenAddr, ListenOptions, Monitor};
    ///
    /// // QEMU's `-qmp-pretty tcp:127.0.0.1:0`.
    /// let monitor = Monitor::builder()
    ///     .listen_with(
    ///         ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
    ///         ListenOptions { pretty: true, ..ListenOptions::default() },
    ///     )
    ///     .spawn()?;
    /// monitor.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn listen_with(mut self, source: impl Into<ListenSource>, options: ListenOptions) -> Self {
        self.listeners.push((source.into(), options));
        self
    }

    /// Unread events after which a client must keep reading (default
    /// 16 MiB): one that stays over it without taking a byte for the drain
    /// timeout ([`drain_timeout`](Self::drain_timeout)) is disconnected.
    ///
    /// Responses never count: reading a client's requests pauses instead
    /// (at the latest when half this much is queued) until it reads its
    /// answers. Events are kept once for all clients, so a client over the
    /// limit that reads at any pace keeps its connection up to the event
    /// backlog limit ([`event_backlog_limit`](Self::event_backlog_limit)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_core::Monitor;
    ///
    /// let builder = Monitor::builder()
    ///     .output_limit(1 << 20)
    ///     .drain_timeout(Duration::from_secs(1));
    /// # drop(builder);
    /// ```
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.config.output_limit = bytes;
        self.config.pause_threshold = self.config.pause_threshold.min(bytes / 2);
        self
    }

    /// How long a client over the output limit may go without taking a
    /// byte before it is disconnected (default 5 s).
    pub fn drain_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.drain_timeout = timeout;
        self
    }

    /// Unread events after which a client is disconnected even though it
    /// reads: it cannot keep up (default 128 MiB). Events are held once
    /// for every client, so this also bounds the memory they take.
    pub fn event_backlog_limit(mut self, bytes: usize) -> Self {
        self.config.event_backlog_limit = bytes;
        self
    }

    /// Framing limits per message (default: QEMU's).
    pub fn input_limits(mut self, limits: Limits) -> Self {
        self.config.limits = limits;
        self
    }

    /// Descriptors one session may hold named with `getfd` (default 64).
    /// A `getfd` of a new name beyond it fails, and the descriptor is closed.
    pub fn fds_per_session(mut self, limit: usize) -> Self {
        self.config.fds_per_session = limit;
        self
    }

    /// Descriptors the monitor may hold for its clients at once, over
    /// every kind: connections, descriptors received and not yet taken,
    /// named ones (`getfd`) and those of fd sets (`add-fd`). The default is
    /// half of the process's soft `RLIMIT_NOFILE` when the monitor starts,
    /// leaving the other half to the VMM. Beyond it, a new client is closed
    /// before its greeting, descriptors a message brings are closed as they
    /// arrive, and `getfd`/`add-fd` fail naming the limit; each refusal is
    /// logged.
    ///
    /// ```
    /// let builder = monitor_core::Monitor::builder().fd_budget(256);
    /// # drop(builder);
    /// ```
    pub fn fd_budget(mut self, limit: usize) -> Self {
        self.config.fd_budget = Some(limit);
        self
    }

    /// Descriptors all fd sets may hold together (default 1024). An
    /// `add-fd` beyond it fails, and the descriptor is closed.
    pub fn fd_set_limit(self, limit: usize) -> Self {
        self.fd_sets.set_limit(limit);
        self
    }

    /// Clients one listener serves at once (default 128). A client beyond
    /// it is closed as soon as it is accepted, without a greeting, and the
    /// refusal is logged.
    pub fn max_connections(mut self, limit: usize) -> Self {
        self.config.max_connections = limit;
        self
    }

    /// How long a QMP client may take to complete `qmp_capabilities`
    /// after connecting (default 30 s; `None`: no limit). Clients that do
    /// not are closed and the reason is logged. Consoles are not timed.
    pub fn negotiation_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.config.negotiation_timeout = timeout;
        self
    }

    /// Serves unix-socket clients only if their user ID (`SO_PEERCRED`)
    /// is one of `uids`; others are closed before the greeting and the
    /// refusal is logged. TCP clients carry no user ID and are not checked.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::Monitor;
    ///
    /// let builder = Monitor::builder().allow_uids([0, 1000]);
    /// # let _ = builder;
    /// ```
    pub fn allow_uids(mut self, uids: impl IntoIterator<Item = u32>) -> Self {
        self.config.allowed_uids = Some(uids.into_iter().collect());
        self
    }

    /// The event rate-limiting policy (default: QEMU's table). It can be
    /// changed at run time through [`Monitor::emitter`].
    pub fn throttle_policy(self, policy: crate::throttle::Policy) -> Self {
        self.emitter.set_throttle_policy(policy);
        self
    }

    /// Called on the monitor thread once a `quit` has stopped the monitor:
    /// after its answer has been written (or given up on, after one
    /// second), every client closed and the unix socket files removed.
    /// [`Monitor::wait`] returns when the hook returns (never, if it exits
    /// the process). Not called after [`Monitor::shutdown`].
    pub fn on_quit(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.on_quit = Some(Box::new(hook));
        self
    }

    /// The emitter the monitor will use (clone it to hand to devices
    /// before spawning; [`Monitor::emitter`] is the same one).
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    /// Checks the configuration, binds the listeners and starts the monitor
    /// thread.
    ///
    /// # Errors
    ///
    /// Before anything is bound: duplicate command or event names
    /// ([`Error::Registry`]), a command taking state nobody registered
    /// ([`Error::MissingState`]), a required command that is missing
    /// ([`Error::MissingCommands`]), a throttle rule for an undeclared event
    /// ([`Error::UnknownThrottledEvent`]), a failed [`startup_check`](Self::startup_check)
    /// ([`Error::Check`]), a console listener asked for pretty output
    /// ([`ServerError::PrettyConsole`]); then a listener that cannot be
    /// bound, or an inherited descriptor that is not a listening socket
    /// ([`ServerError::NotListening`]).
    pub fn spawn(self) -> Result<Monitor, Error> {
        let mut registry = Registry::with_inventory()?;
        for command in self.commands {
            registry.insert(command)?;
        }
        for event in self.events {
            registry.insert_event(event)?;
        }
        check_registry(&registry, &self.state, &self.required, &self.emitter)?;
        for (what, check) in self.checks {
            check(&registry).map_err(|source| Error::Check { what, source })?;
        }
        let mut dispatcher = Dispatcher::new(registry, self.state, self.emitter.clone());
        dispatcher.fd_sets = self.fd_sets.clone();
        let registry = Arc::clone(&dispatcher.registry);
        let mailbox = Arc::clone(dispatcher.mailbox());
        let state = Arc::clone(&dispatcher.state);
        let events = self.emitter.receiver().ok_or(Error::EventsTaken)?;
        let (mut server, addrs) = Server::prepare(self.listeners, dispatcher, events, self.config)?;
        server.set_hooks(self.hooks);
        let shared = server.shared();
        let mailbox_shared = Arc::clone(&shared);
        mailbox.set_notify(Some(Arc::new(move || mailbox_shared.wake())));
        let notify_shared = Arc::clone(&shared);
        self.emitter
            .set_notify(Some(Arc::new(move || notify_shared.wake())));
        let on_quit = self.on_quit;
        let thread = std::thread::Builder::new()
            .name("qmp-monitor".into())
            .stack_size(MONITOR_STACK)
            .spawn(move || {
                let exit = server.run()?;
                if exit == Exit::Quit {
                    if let Some(hook) = on_quit {
                        hook();
                    }
                }
                Ok(exit)
            })
            .map_err(Error::Thread)?;
        Ok(Monitor {
            fd_sets: self.fd_sets,
            mailbox,
            emitter: self.emitter,
            shared,
            registry,
            state,
            addrs,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// The checks of [`MonitorBuilder::spawn`] over the finished registry.
fn check_registry(
    registry: &Registry,
    state: &StateMap,
    required: &[String],
    emitter: &Emitter,
) -> Result<(), Error> {
    if let Some((command, type_name)) = registry.missing_state(state) {
        return Err(Error::MissingState {
            command: command.to_owned(),
            type_name,
        });
    }
    let missing: Vec<String> = required
        .iter()
        .filter(|name| registry.get(name).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Error::MissingCommands(missing));
    }
    // QEMU's own table names events most VMMs never emit; only rules
    // beyond it must name a declared event.
    let qemu = crate::throttle::Policy::qemu();
    for (name, _) in emitter.throttle_policy().iter() {
        if qemu.get(name).is_none() && !registry.events().any(|e| e.name() == name) {
            return Err(Error::UnknownThrottledEvent(name.to_owned()));
        }
    }
    Ok(())
}

/// A running monitor: its thread, listeners and event emitter.
///
/// Dropping it shuts the monitor down and waits for its thread.
pub struct Monitor {
    fd_sets: FdSets,
    mailbox: Arc<crate::pending::Mailbox>,
    emitter: Emitter,
    shared: Arc<Shared>,
    registry: Arc<RwLock<Registry>>,
    state: Arc<StateMap>,
    addrs: Vec<ListenAddr>,
    thread: Mutex<Option<JoinHandle<Result<Exit, ServerError>>>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Starts configuring a monitor.
    pub fn builder() -> MonitorBuilder {
        MonitorBuilder::new()
    }

    /// The event emitter (Clone + Send + Sync): the one
    /// [`MonitorBuilder::emitter`] gave.
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    /// The fd sets clients fill with `add-fd`, for the VMM to open
    /// `/dev/fdset/N` paths.
    pub fn fd_sets(&self) -> &FdSets {
        &self.fd_sets
    }

    /// The addresses listened on, in the order the listeners were added:
    /// the real port of a TCP port 0, and for an inherited socket the
    /// address it is bound to (`getsockname`; a unix socket in the
    /// abstract namespace is written `@name`).
    pub fn local_addrs(&self) -> &[ListenAddr] {
        &self.addrs
    }

    /// Adds a command while the monitor runs.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] if the name is taken,
    /// [`RegistryError::MissingState`] if it declares
    /// ([`Command::requires_state`]) state the monitor does not have.
    pub fn register(&self, command: Command) -> Result<(), RegistryError> {
        if let Some(missing) = command
            .required_state()
            .iter()
            .find(|r| !self.state.contains(r))
        {
            return Err(RegistryError::MissingState {
                command: command.name().to_owned(),
                type_name: missing.type_name(),
            });
        }
        self.registry.write().insert(command)
    }

    /// Declares an event while the monitor runs (for `query-events` and the
    /// schema).
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateEvent`] if the name is taken.
    pub fn register_event(&self, event: EventDescriptor) -> Result<(), RegistryError> {
        self.registry.write().insert_event(event)
    }

    /// Connected clients and pending commands, as of the monitor thread's
    /// last turn, and its longest turn so far.
    pub fn stats(&self) -> Stats {
        Stats {
            sessions: self
                .shared
                .sessions
                .load(std::sync::atomic::Ordering::Relaxed),
            pending: self
                .shared
                .pending
                .load(std::sync::atomic::Ordering::Relaxed),
            longest_turn: std::time::Duration::from_micros(
                self.shared
                    .longest_turn_us
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
        }
    }

    /// Serves an already connected stream as a console (for `-monitor
    /// stdio`: the VMM bridges its terminal to one end of a socket pair).
    pub fn attach_console(
        &self,
        stream: std::os::unix::net::UnixStream,
        factory: Arc<dyn ConsoleFactory>,
    ) {
        self.shared.attach.lock().push((stream, factory));
        self.shared.wake();
    }

    /// Asks the monitor thread to close every client and stop.
    pub fn shutdown(&self) {
        self.shared
            .stop
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.wake();
    }

    /// Waits for the monitor thread to end, which it does only after `quit`
    /// or [`shutdown`](Self::shutdown) (or when its event loop fails);
    /// returns how it ended.
    ///
    /// After `quit` the thread runs the
    /// [`on_quit`](MonitorBuilder::on_quit) hook before it ends, so `wait`
    /// returns `Exit::Quit` once the hook has returned (and not at all if
    /// the hook exits the process). Only the first call waits: a later
    /// one returns `Exit::Shutdown` at once, whatever the ending was.
    ///
    /// # Errors
    ///
    /// The event loop's error, if it failed.
    pub fn wait(&self) -> Result<Exit, Error> {
        let handle = self.thread.lock().take();
        match handle {
            Some(handle) => match handle.join() {
                Ok(result) => Ok(result?),
                Err(_) => Err(Error::Panicked),
            },
            None => Ok(Exit::Shutdown),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shutdown();
        let _ = self.wait();
        self.emitter.set_notify(None);
        self.mailbox.set_notify(None);
    }
}
