//! Command descriptors and the registry.
//!
//! Commands come from two places: `inventory` registrations made at compile
//! time (what `#[qmp_command]` generates, or [`submit!`](crate::submit)), and
//! descriptors inserted through the builder or at run time. Names are unique:
//! a duplicate is a start-up error naming both definitions.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

use crate::args;
use crate::error::CommandError;
use crate::event::Emitter;
use crate::fds::{FdSets, SessionFds};
use crate::pending::{Completion, Deferred, Mailbox};
use crate::schema::{Schema, SchemaGen, SchemaInfo};
use crate::state::{State, StateMap, StateRequirement};
use crate::value::Map;

/// A command's successful result, already serialised in QEMU's format.
///
/// # Examples
///
/// ```
/// use monitor_core::Reply;
///
/// assert_eq!(Reply::empty().as_bytes(), b"{}");
/// assert_eq!(Reply::new(&vec![1, 2]).unwrap().as_bytes(), b"[1, 2]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reply(Box<[u8]>);

impl Reply {
    /// Serialises a result (one serialisation, reused for the response).
    ///
    /// # Errors
    ///
    /// A `GenericError` if the value cannot be serialised as JSON.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Reply, CommandError> {
        let mut out = Vec::with_capacity(64);
        crate::wire::to_writer(&mut out, value)
            .map_err(|e| CommandError::generic(format!("Cannot serialise the result: {e}")))?;
        if out == b"null" {
            // `()` and unit structs: QEMU answers commands without a result with {}.
            return Ok(Reply::empty());
        }
        Ok(Reply(out.into_boxed_slice()))
    }

    /// The `{}` result.
    pub fn empty() -> Reply {
        Reply(Box::from(&b"{}"[..]))
    }

    /// The serialised JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reply")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

/// What a handler returns.
pub type Outcome = Result<Reply, CommandError>;

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
    pub(crate) command: &'a Arc<str>,
    pub(crate) token: u64,
    pub(crate) deferred: &'a std::cell::RefCell<Option<Deferred>>,
    pub(crate) mailbox: &'a Arc<Mailbox>,
    pub(crate) dispatcher: &'a crate::session::Dispatcher,
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
            Arc::clone(self.command),
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
    pub fn dispatcher(&self) -> &'a crate::session::Dispatcher {
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

/// A handler as the dispatcher calls it: raw arguments in, a reply out.
pub type HandlerFn = dyn Fn(&Context<'_>, Map) -> Outcome + Send + Sync;

/// How the dispatcher runs a command.
#[derive(Clone)]
pub enum Handler {
    /// A plain function (what inventory registrations use).
    Fn(fn(&Context<'_>, Map) -> Outcome),
    /// A closure inserted at run time.
    Boxed(Arc<HandlerFn>),
    /// A command the session itself implements (`qmp_capabilities`).
    Session(SessionCommand),
}

/// Commands implemented by the session rather than by a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCommand {
    /// `qmp_capabilities`.
    Capabilities,
    /// `query-commands`.
    QueryCommands,
    /// `query-events`.
    QueryEvents,
    /// `query-qmp-schema`.
    QuerySchema,
}

impl fmt::Debug for Handler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Handler::Fn(_) => f.write_str("Handler::Fn"),
            Handler::Boxed(_) => f.write_str("Handler::Boxed"),
            Handler::Session(c) => write!(f, "Handler::Session({c:?})"),
        }
    }
}

/// Schema hook: describes a type for introspection and returns its name.
pub type SchemaHook = fn(&mut SchemaGen) -> String;

/// The schema hook of any [`Schema`] type.
pub fn schema_of<T: Schema + ?Sized>(schema_gen: &mut SchemaGen) -> String {
    schema_gen.describe::<T>()
}

/// A command: name, handler and flags.
///
/// # Examples
///
/// ```
/// use monitor_core::{Command, CommandError, Schema};
///
/// #[derive(serde::Deserialize, Schema)]
/// struct Args { a: i64, b: i64 }
///
/// let add = Command::typed("x-add", |_ctx, args: Args| Ok::<_, CommandError>(args.a + args.b));
/// assert_eq!(add.name(), "x-add");
/// ```
#[derive(Debug, Clone)]
pub struct Command {
    name: String,
    handler: Handler,
    allow_oob: bool,
    origin: String,
    doc: String,
    arg_type: Option<SchemaHook>,
    ret_type: Option<SchemaHook>,
    features: Vec<String>,
    states: Vec<StateRequirement>,
}

impl Command {
    /// A command from a raw handler (arguments unparsed).
    pub fn new(name: impl Into<String>, handler: Handler) -> Self {
        let name = name.into();
        Command {
            origin: format!("command `{name}` added at run time"),
            name,
            handler,
            allow_oob: false,
            doc: String::new(),
            arg_type: None,
            ret_type: None,
            features: Vec::new(),
            states: Vec::new(),
        }
    }

    /// A command from a closure with typed arguments and result.
    ///
    /// Arguments are checked before the closure runs, with QEMU's messages.
    /// Use `()` for a command without arguments.
    pub fn typed<A, R, E, F>(name: impl Into<String>, f: F) -> Self
    where
        A: DeserializeOwned + Schema,
        R: Serialize + Schema,
        E: Into<CommandError>,
        F: Fn(&Context<'_>, A) -> Result<R, E> + Send + Sync + 'static,
    {
        let handler = move |ctx: &Context<'_>, arguments: Map| -> Outcome {
            let args: A = args::from_arguments(arguments)?;
            let value = f(ctx, args).map_err(Into::into)?;
            Reply::new(&value)
        };
        Self::new(name, Handler::Boxed(Arc::new(handler))).schema(schema_of::<A>, schema_of::<R>)
    }

    /// Sets the argument and result schema hooks (introspection).
    pub fn schema(mut self, arguments: SchemaHook, result: SchemaHook) -> Self {
        self.arg_type = Some(arguments);
        self.ret_type = Some(result);
        self
    }

    /// Adds feature flags shown by introspection (`deprecated`, `unstable`, ...).
    pub fn features<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.features.extend(features.into_iter().map(Into::into));
        self
    }

    /// Declares that the handler looks up VMM state of type `T`, so that
    /// [`MonitorBuilder::spawn`](crate::MonitorBuilder::spawn) fails when
    /// none is registered (`#[qmp_command]` declares its `&T` and `State<T>`
    /// parameters itself).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{Command, CommandError, Monitor};
    ///
    /// struct Vm;
    /// let cmd = Command::typed("x-vm", |ctx, ()| ctx.state::<Vm>().map(|_| ()))
    ///     .requires_state::<Vm>();
    /// let err = Monitor::builder().command(cmd).spawn().unwrap_err();
    /// assert!(err.to_string().contains("x-vm"), "{err}");
    /// ```
    pub fn requires_state<T: Any + Send + Sync>(mut self) -> Self {
        let requirement = StateRequirement::of::<T>();
        if !self.states.contains(&requirement) {
            self.states.push(requirement);
        }
        self
    }

    /// The state types the handler needs.
    pub fn required_state(&self) -> &[StateRequirement] {
        &self.states
    }

    /// Allows the command with `exec-oob`.
    pub fn allow_oob(mut self, allow: bool) -> Self {
        self.allow_oob = allow;
        self
    }

    /// Documentation shown by help and introspection.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = doc.into();
        self
    }

    /// Where it was defined, for duplicate-name errors.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// The command name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handler.
    pub fn handler(&self) -> &Handler {
        &self.handler
    }

    /// Whether `exec-oob` may run it.
    pub fn allows_oob(&self) -> bool {
        self.allow_oob
    }

    /// Its documentation.
    pub fn documentation(&self) -> &str {
        &self.doc
    }

    /// Schema hooks for arguments and result (introspection).
    pub fn schema_hooks(&self) -> (Option<SchemaHook>, Option<SchemaHook>) {
        (self.arg_type, self.ret_type)
    }

    /// Feature flags.
    pub fn feature_flags(&self) -> &[String] {
        &self.features
    }
}

/// A compile-time registration, collected with `inventory`.
///
/// # Examples
///
/// ```
/// use monitor_core::{command::Registration, Context, Map, Outcome, Reply};
///
/// fn x_hello(_ctx: &Context<'_>, _args: Map) -> Outcome {
///     Reply::new("hello")
/// }
///
/// monitor_core::submit! {
///     Registration::new("x-hello", x_hello, concat!(module_path!(), "::x_hello"))
/// }
/// ```
#[derive(Debug)]
pub struct Registration {
    /// Command name.
    pub name: &'static str,
    /// The handler.
    pub handler: fn(&Context<'_>, Map) -> Outcome,
    /// `allow-oob`.
    pub allow_oob: bool,
    /// Where it is defined (`module::function`).
    pub origin: &'static str,
    /// Documentation.
    pub doc: &'static str,
    /// Argument type schema hook.
    pub arg_type: Option<SchemaHook>,
    /// Result type schema hook.
    pub ret_type: Option<SchemaHook>,
    /// Feature flags (`deprecated`, ...).
    pub features: &'static [&'static str],
    /// The VMM state types the handler takes, checked at spawn.
    pub state: &'static [StateRequirement],
}

impl Registration {
    /// A registration with default flags.
    pub const fn new(
        name: &'static str,
        handler: fn(&Context<'_>, Map) -> Outcome,
        origin: &'static str,
    ) -> Self {
        Registration {
            name,
            handler,
            allow_oob: false,
            origin,
            doc: "",
            arg_type: None,
            ret_type: None,
            features: &[],
            state: &[],
        }
    }

    fn to_command(&self) -> Command {
        Command {
            name: self.name.to_owned(),
            handler: Handler::Fn(self.handler),
            allow_oob: self.allow_oob,
            origin: self.origin.to_owned(),
            doc: self.doc.to_owned(),
            arg_type: self.arg_type,
            ret_type: self.ret_type,
            features: self.features.iter().map(|f| (*f).to_owned()).collect(),
            states: self.state.to_vec(),
        }
    }
}

inventory::collect!(Registration);

/// An event the monitor declares (listed by `query-events` and the schema).
///
/// # Examples
///
/// ```
/// use monitor_core::command::{schema_of, EventDescriptor};
///
/// let stop = EventDescriptor::new("STOP");
/// let rtc = EventDescriptor::new("RTC_CHANGE").data(schema_of::<std::collections::BTreeMap<String, i64>>);
/// assert_eq!(stop.name(), "STOP");
/// assert_eq!(rtc.name(), "RTC_CHANGE");
/// ```
#[derive(Debug, Clone)]
pub struct EventDescriptor {
    name: String,
    data: Option<SchemaHook>,
    features: Vec<String>,
    origin: String,
}

impl EventDescriptor {
    /// An event without data.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        EventDescriptor {
            origin: format!("event `{name}` added at run time"),
            name,
            data: None,
            features: Vec::new(),
        }
    }

    /// The schema hook of its data.
    pub fn data(mut self, hook: SchemaHook) -> Self {
        self.data = Some(hook);
        self
    }

    /// Where it was declared, for duplicate-name errors.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Adds feature flags.
    pub fn features<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.features.extend(features.into_iter().map(Into::into));
        self
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A compile-time event declaration (what `#[derive(Event)]` submits).
#[derive(Debug)]
pub struct EventRegistration {
    /// Event name.
    pub name: &'static str,
    /// Data schema hook (`None`: no data).
    pub data: Option<SchemaHook>,
    /// Where it is declared.
    pub origin: &'static str,
    /// Feature flags.
    pub features: &'static [&'static str],
}

impl EventRegistration {
    fn to_descriptor(&self) -> EventDescriptor {
        EventDescriptor {
            name: self.name.to_owned(),
            data: self.data,
            features: self.features.iter().map(|f| (*f).to_owned()).collect(),
            origin: self.origin.to_owned(),
        }
    }
}

inventory::collect!(EventRegistration);

/// Registers a command at compile time (re-export of `inventory::submit!`).
#[macro_export]
macro_rules! submit {
    ($($tt:tt)*) => { $crate::__private::inventory::submit! { $($tt)* } };
}

/// Errors building the registry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// Two events share a name.
    #[error("event `{name}` is declared twice: by {first} and by {second}")]
    DuplicateEvent {
        /// The name.
        name: String,
        /// The declaration kept.
        first: String,
        /// The declaration refused.
        second: String,
    },
    /// A command added while the monitor runs takes state nobody
    /// registered.
    #[error("command `{command}` takes state of type {type_name}, which was never registered")]
    MissingState {
        /// The command.
        command: String,
        /// The state type.
        type_name: &'static str,
    },
    /// Two commands share a name.
    #[error("command `{name}` is defined twice: by {first} and by {second}")]
    Duplicate {
        /// The name.
        name: String,
        /// The definition kept.
        first: String,
        /// The definition refused.
        second: String,
    },
}

/// The command table: name to command, in registration order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_name: HashMap<String, Arc<Command>>,
    order: Vec<String>,
    events: Vec<EventDescriptor>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-ins plus every `inventory` registration in the program.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] when two share a name.
    pub fn with_inventory() -> Result<Self, RegistryError> {
        let mut registry = Registry::new();
        for command in crate::builtins::commands() {
            registry.insert(command)?;
        }
        let mut registrations: Vec<&Registration> =
            inventory::iter::<Registration>.into_iter().collect();
        registrations.sort_by_key(|r| r.name);
        for r in registrations {
            registry.insert(r.to_command())?;
        }
        for event in crate::builtins::events() {
            registry.insert_event(event)?;
        }
        let mut events: Vec<&EventRegistration> =
            inventory::iter::<EventRegistration>.into_iter().collect();
        events.sort_by_key(|r| r.name);
        for e in events {
            registry.insert_event(e.to_descriptor())?;
        }
        Ok(registry)
    }

    /// Declares an event.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateEvent`] if the name is taken.
    pub fn insert_event(&mut self, event: EventDescriptor) -> Result<(), RegistryError> {
        if let Some(existing) = self.events.iter().find(|e| e.name == event.name) {
            return Err(RegistryError::DuplicateEvent {
                name: event.name.clone(),
                first: existing.origin.clone(),
                second: event.origin,
            });
        }
        self.events.push(event);
        Ok(())
    }

    /// Declared events, in declaration order.
    pub fn events(&self) -> impl Iterator<Item = &EventDescriptor> {
        self.events.iter()
    }

    /// The `query-qmp-schema` entries of every command and event.
    ///
    /// Commands without schema hooks take an object QEMU cannot describe:
    /// their argument type is `any`-valued and so is their result.
    pub fn schema(&self) -> Vec<SchemaInfo> {
        let mut schema_gen = SchemaGen::new();
        for name in &self.order {
            let Some(c) = self.by_name.get(name) else {
                continue;
            };
            let arg = match c.arg_type {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.builtin("any", "value"),
            };
            let ret = match c.ret_type {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.builtin("any", "value"),
            };
            schema_gen.command(&c.name, arg, ret, c.allow_oob, c.features.clone());
        }
        for e in &self.events {
            let arg = match e.data {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.empty_object(),
            };
            schema_gen.event(&e.name, arg, e.features.clone());
        }
        schema_gen.into_entries()
    }

    /// Adds a command.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] if the name is taken.
    pub fn insert(&mut self, command: Command) -> Result<(), RegistryError> {
        if let Some(existing) = self.by_name.get(&command.name) {
            return Err(RegistryError::Duplicate {
                name: command.name.clone(),
                first: existing.origin.clone(),
                second: command.origin,
            });
        }
        self.order.push(command.name.clone());
        self.by_name.insert(command.name.clone(), Arc::new(command));
        Ok(())
    }

    /// The first command whose required state is not in `state`, with the
    /// missing type's name.
    pub fn missing_state(&self, state: &StateMap) -> Option<(&str, &'static str)> {
        self.order.iter().find_map(|name| {
            let command = self.by_name.get(name)?;
            let missing = command.states.iter().find(|r| !state.contains(r))?;
            Some((command.name.as_str(), missing.type_name()))
        })
    }

    /// Looks a command up by exact name.
    pub fn get(&self, name: &str) -> Option<&Arc<Command>> {
        self.by_name.get(name)
    }

    /// Command names in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_names_both_origins() {
        let mut r = Registry::new();
        r.insert(Command::typed("x", |_, ()| Ok::<_, CommandError>(())).origin("a.rs"))
            .unwrap();
        let err = r
            .insert(Command::typed("x", |_, ()| Ok::<_, CommandError>(())).origin("b.rs"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "command `x` is defined twice: by a.rs and by b.rs"
        );
    }

    #[test]
    fn unit_result_is_empty_object() {
        assert_eq!(Reply::new(&()).unwrap(), Reply::empty());
    }
}
