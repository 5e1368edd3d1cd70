//! A command: its name, handler, flags and schema hooks, and the
//! compile-time registrations `#[qmp_command]` makes.

use std::any::Any;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::args;
use crate::dispatch::{Context, Handler};
use crate::error::CommandError;
use crate::introspect::Schema;
use crate::introspect::{schema_of, SchemaHook};
use crate::reply::{Outcome, Reply};
use crate::state::StateRequirement;
use crate::value::Map;

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
    pub(crate) name: String,
    pub(crate) handler: Handler,
    pub(crate) allow_oob: bool,
    pub(crate) origin: String,
    pub(crate) doc: String,
    pub(crate) arg_type: Option<SchemaHook>,
    pub(crate) ret_type: Option<SchemaHook>,
    pub(crate) features: Vec<String>,
    pub(crate) states: Vec<StateRequirement>,
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

/// A compile-time registration, collected with `inventory`: what
/// `#[qmp_command]` submits (through `__private`; `tests/registry.rs`
/// submits one by hand).
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

    pub(crate) fn to_command(&self) -> Command {
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

/// Registers a command at compile time (re-export of `inventory::submit!`).
#[macro_export]
macro_rules! submit {
    ($($tt:tt)*) => { $crate::__private::inventory::submit! { $($tt)* } };
}
