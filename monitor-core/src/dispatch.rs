//! Where a handler runs: the [`Dispatcher`] every session of a monitor
//! shares (registry, VMM state, events, descriptors), the [`Context`] a
//! handler gets, and the one function that invokes handlers (catching a
//! panic as an error). Sessions (QMP) and consoles (HMP, through
//! [`Dispatcher::call`]) both come here.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::RwLock;
use serde::Serialize;

use crate::error::CommandError;
use crate::event::Emitter;
use crate::fds::{FdSets, SessionFds};
use crate::pending::{Completion, Deferred, Mailbox};
use crate::registry::Registry;
use crate::reply::Outcome;
use crate::state::{State, StateMap};
use crate::value::Map;
use crate::version::VersionInfo;

/// A handler as the dispatcher calls it: raw arguments in, a reply out.
pub type HandlerFn = dyn Fn(&Context<'_>, Map) -> Outcome + Send + Sync;

/// How the dispatcher runs a command.
#[derive(Clone)]
pub enum Handler {
    /// A plain function (what inventory registrations use).
    Fn(fn(&Context<'_>, Map) -> Outcome),
    /// A closure inserted at run time.
    Boxed(Arc<HandlerFn>),
}

impl Handler {
    /// The function to call.
    pub(crate) fn as_fn(&self) -> &HandlerFn {
        match self {
            Handler::Fn(f) => f,
            Handler::Boxed(f) => f.as_ref(),
        }
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Fn(_) => f.write_str("Handler::Fn"),
            Handler::Boxed(_) => f.write_str("Handler::Boxed"),
        }
    }
}

/// What the calling session looks like to a handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Unique per connection for the life of the monitor.
    pub id: u64,
    /// The listener's address as given (`unix:/path` or `tcp:host:port`).
    pub listener: String,
    /// Whether the session negotiated the `oob` capability.
    pub oob: bool,
}

/// Everything a handler can reach: VMM state by type, the session, events.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) state: &'a StateMap,
    pub(crate) session: &'a SessionInfo,
    pub(crate) emitter: &'a Emitter,
    pub(crate) quit: &'a std::cell::Cell<bool>,
    pub(crate) command: &'a str,
    pub(crate) token: u64,
    pub(crate) deferred: &'a std::cell::RefCell<Option<Deferred>>,
    pub(crate) mailbox: &'a Arc<Mailbox>,
    pub(crate) dispatcher: &'a Dispatcher,
    pub(crate) fds: &'a SessionFds,
}

impl<'a> Context<'a> {
    /// The VMM state of type `T` registered with the builder.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered.
    pub fn state<T: Any + Send + Sync>(&self) -> Result<&'a T, CommandError> {
        self.state.get::<T>()
    }

    /// The VMM state of type `T` as an owned handle, to move into a future
    /// or a thread that answers later.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered.
    pub fn state_handle<T: Any + Send + Sync>(&self) -> Result<State<T>, CommandError> {
        self.state.handle::<T>()
    }

    /// The calling session.
    pub fn session(&self) -> &'a SessionInfo {
        self.session
    }

    /// The event emitter.
    pub fn emitter(&self) -> &'a Emitter {
        self.emitter
    }

    /// Defers the answer: the command is answered when the returned handle
    /// is completed (from any thread). In-band commands after it on the same
    /// session wait; other sessions and out-of-band commands do not.
    ///
    /// What the handler itself returns is then ignored, unless it is an
    /// error, which answers at once (and a later completion is discarded).
    pub fn defer<T: Serialize>(&self) -> Completion<T> {
        let cancelled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        *self.deferred.borrow_mut() = Some(Deferred::Callback(Arc::clone(&cancelled)));
        Completion::new(
            self.session.id,
            self.token,
            Arc::from(self.command),
            cancelled,
            Arc::clone(self.mailbox),
        )
    }

    /// Defers the answer to a future polled on the monitor thread (woken
    /// through the monitor's waker; no runtime needed). It is dropped if the
    /// client goes away.
    pub fn spawn<F: std::future::Future<Output = Outcome> + 'static>(&self, future: F) {
        *self.deferred.borrow_mut() = Some(Deferred::Future(Box::pin(future)));
    }

    /// The dispatcher (registry, state, emitter) this command runs under.
    pub fn dispatcher(&self) -> &'a Dispatcher {
        self.dispatcher
    }

    /// Runs another command synchronously for the same session (what the
    /// human monitor's `human-monitor-command` does). A `quit` it runs
    /// applies to this command too.
    pub fn call(&self, name: &str, arguments: Map) -> Outcome {
        let (outcome, effects) = self.dispatcher.call(self.session, name, arguments);
        if effects.quit {
            self.quit.set(true);
        }
        outcome
    }

    /// Asks the monitor to stop once this command's response is out, and
    /// the VMM's quit hook to run (what `quit` does).
    pub fn request_quit(&self) {
        self.quit.set(true);
    }

    /// Takes the descriptor the calling session named `name` with `getfd`
    /// (QEMU's `monitor_get_fd`: it is no longer the session's).
    ///
    /// # Errors
    ///
    /// QEMU's `GenericError` when the session holds no such descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{Command, CommandError};
    ///
    /// // `x-attach-log` takes the descriptor passed as `log` for good.
    /// let attach = Command::typed("x-attach-log", |ctx, ()| {
    ///     let fd = ctx.take_fd("log")?;
    ///     let _log = std::fs::File::from(fd);
    ///     Ok::<_, CommandError>(())
    /// });
    /// # let _ = attach;
    /// ```
    pub fn take_fd(&self, name: &str) -> Result<std::os::fd::OwnedFd, CommandError> {
        self.fds.remove(name).ok_or_else(|| fd_not_found(name))
    }

    /// Runs `f` on the descriptor the calling session named `name`; the
    /// session keeps it.
    ///
    /// # Errors
    ///
    /// QEMU's `GenericError` when the session holds no such descriptor.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{Command, CommandError};
    ///
    /// let size = Command::typed("x-fd-size", |ctx, ()| {
    ///     let meta = ctx.with_fd("data", |fd| {
    ///         fd.try_clone_to_owned().and_then(|fd| std::fs::File::from(fd).metadata())
    ///     })?;
    ///     meta.map(|m| m.len()).map_err(|e| CommandError::generic(e.to_string()))
    /// });
    /// # let _ = size;
    /// ```
    pub fn with_fd<R>(
        &self,
        name: &str,
        f: impl FnOnce(std::os::fd::BorrowedFd<'_>) -> R,
    ) -> Result<R, CommandError> {
        self.fds.with(name, f).ok_or_else(|| fd_not_found(name))
    }

    /// Takes the first descriptor that came with the latest message that
    /// carried any, for a command that receives one (as `getfd` does).
    pub fn take_received_fd(&self) -> Option<std::os::fd::OwnedFd> {
        self.fds.take_received()
    }

    /// Every descriptor the calling session holds.
    pub fn session_fds(&self) -> &'a SessionFds {
        self.fds
    }

    /// The fd sets every session shares (`add-fd`); the VMM opens
    /// `/dev/fdset/N` paths through [`FdSets::open`].
    pub fn fd_sets(&self) -> &'a FdSets {
        self.dispatcher.fd_sets()
    }
}

fn fd_not_found(name: &str) -> CommandError {
    CommandError::generic(format!("File descriptor named '{name}' has not been found"))
}

/// What every session of a monitor shares.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub(crate) registry: Arc<RwLock<Registry>>,
    pub(crate) state: Arc<StateMap>,
    pub(crate) emitter: Emitter,
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) fd_sets: FdSets,
}

impl Dispatcher {
    /// A dispatcher over a registry and VMM state.
    pub fn new(registry: Registry, state: StateMap, emitter: Emitter) -> Self {
        Dispatcher {
            registry: Arc::new(RwLock::new(registry)),
            state: Arc::new(state),
            emitter,
            mailbox: Arc::new(Mailbox::default()),
            fd_sets: FdSets::default(),
        }
    }

    /// The greeting line for a session offering `oob` or not.
    pub fn greeting(&self, offer_oob: bool) -> Vec<u8> {
        let default = VersionInfo::default();
        let version = self.state.get::<VersionInfo>().unwrap_or(&default);
        crate::response::greeting(version, offer_oob)
    }

    /// The event emitter.
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    /// The fd sets every session shares.
    pub fn fd_sets(&self) -> &FdSets {
        &self.fd_sets
    }

    /// Where deferred answers and future wake-ups are posted, from any
    /// thread, for the server (or [`Session::settle`](crate::session::Session::settle))
    /// to take and route to their sessions.
    pub(crate) fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// The VMM state of type `T` registered with the builder.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered (the
    /// same as [`Context::state`]).
    pub fn state<T: std::any::Any + Send + Sync>(&self) -> Result<&T, CommandError> {
        self.state.get::<T>()
    }

    /// Runs a command synchronously on behalf of a console (HMP), with the
    /// same registry, state and argument checks as a QMP request. Commands
    /// that answer later cannot be run this way.
    pub fn call(&self, session: &SessionInfo, name: &str, arguments: Map) -> (Outcome, Effects) {
        let Some(command) = self.registry.read().get(name).cloned() else {
            return (
                Err(CommandError::command_not_found(format!(
                    "The command {name} has not been found"
                ))),
                Effects::default(),
            );
        };
        let handler = command.handler().as_fn();
        let quit = Cell::new(false);
        // A console passes no descriptors.
        let fds = SessionFds::new(0);
        let (outcome, deferred) =
            self.run_handler(handler, (session, &fds), name, 0, arguments, &quit);
        let outcome = match (outcome, deferred) {
            (Ok(_), Some(_)) => Err(CommandError::generic(format!(
                "The command {name} answers later and cannot be run from the human monitor"
            ))),
            (outcome, _) => outcome,
        };
        (outcome, Effects { quit: quit.get() })
    }

    /// Runs a handler with a fresh context, answering a panic with an error.
    /// Returns the outcome and how the handler deferred its answer, if it did.
    pub(crate) fn run_handler(
        &self,
        handler: &HandlerFn,
        (session, fds): (&SessionInfo, &SessionFds),
        name: &str,
        token: u64,
        arguments: Map,
        quit: &Cell<bool>,
    ) -> (Outcome, Option<Deferred>) {
        let deferred = RefCell::new(None);
        let ctx = Context {
            state: &self.state,
            session,
            emitter: &self.emitter,
            quit,
            command: name,
            token,
            deferred: &deferred,
            mailbox: &self.mailbox,
            dispatcher: self,
            fds,
        };
        let outcome =
            catch_unwind(AssertUnwindSafe(|| handler(&ctx, arguments))).unwrap_or_else(|_| {
                log::error!("command {name} panicked; answering with an error");
                Err(CommandError::generic(format!(
                    "The command {name} has failed unexpectedly"
                )))
            });
        (outcome, deferred.into_inner())
    }

    /// The commands and events, read-locked while the guard lives (keep
    /// it short: adding a command at run time waits for it). Only the
    /// monitor changes the registry ([`Monitor::register`](crate::Monitor::register)).
    pub fn registry(&self) -> impl std::ops::Deref<Target = Registry> + '_ {
        self.registry.read()
    }
}

/// What the caller must do after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effects {
    /// A `quit` was executed: stop the monitor after flushing.
    pub quit: bool,
}

impl Effects {
    pub(crate) fn merge(self, other: Effects) -> Effects {
        Effects {
            quit: self.quit || other.quit,
        }
    }
}
