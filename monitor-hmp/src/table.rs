//! The HMP command table: commands, their `info` sub-table, `help`, and
//! running one command line.
//!
//! Commands come from `inventory` registrations (`#[hmp_command]`), from the
//! generic set this crate ships (`help`, `info version`, `stop`, ...), and
//! from [`HmpTable::insert`]. Most generic commands call a QMP command of
//! the same VMM and format its answer as QEMU does.

use std::sync::Arc;

use monitor_core::session::Dispatcher;
use monitor_core::SessionInfo;
use monitor_core::{CommandError, Map, Registry};
use serde_json::Value;
use thiserror::Error;

use crate::args::{ArgError, Args, ArgsType, NoCpu, Registers, SpecError};

/// A mistake in the command table, found when the monitor is spawned
/// (`Hmp::install` adds the check), so that it fails at start-up instead of
/// leaving a command out.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HmpTableError {
    /// A command's `args_type` does not parse.
    #[error("HMP command `{command}` (by {origin}): bad args_type {args_type:?}: {source}")]
    BadArgsType {
        /// The command.
        command: String,
        /// Where it is declared.
        origin: String,
        /// The `args_type` given.
        args_type: String,
        /// Why it does not parse.
        #[source]
        source: SpecError,
    },
    /// Two commands share a name or an alias.
    #[error("HMP command `{name}` is defined twice: by {first} and by {second}")]
    Duplicate {
        /// The name (`info` items as `info NAME`).
        name: String,
        /// The definition kept.
        first: String,
        /// The definition refused.
        second: String,
    },
}

/// Errors of an HMP command; `Display` is what the operator reads.
#[derive(Debug, Error)]
pub enum HmpError {
    /// The arguments did not parse (QEMU's words).
    #[error(transparent)]
    Args(#[from] ArgError),
    /// A QMP command failed: QEMU prints `Error: <desc>`.
    #[error("Error: {}", .0.desc())]
    Command(#[from] CommandError),
    /// Any other message, printed as is.
    #[error("{0}")]
    Message(String),
}

/// Every mistake [`HmpTable::check`] found, one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmpTableErrors(pub Vec<HmpTableError>);

impl std::fmt::Display for HmpTableErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HmpTableErrors {}

/// What an HMP handler works with: the VMM (through the dispatcher), the
/// calling session, and the text it prints.
#[derive(Debug)]
pub struct HmpContext<'a> {
    dispatcher: &'a Dispatcher,
    session: &'a SessionInfo,
    out: String,
    quit: bool,
    cpu_index: Option<i64>,
}

impl<'a> HmpContext<'a> {
    /// A context for one command line.
    pub fn new(
        dispatcher: &'a Dispatcher,
        session: &'a SessionInfo,
        cpu_index: Option<i64>,
    ) -> Self {
        HmpContext {
            dispatcher,
            session,
            out: String::new(),
            quit: false,
            cpu_index,
        }
    }

    /// Prints text (use `\n`; consoles and `human-monitor-command` turn it
    /// into `\r\n`).
    pub fn print(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// Runs a QMP command of the VMM and returns its result as JSON.
    ///
    /// # Errors
    ///
    /// The command's error.
    pub fn qmp(&mut self, name: &str, arguments: Value) -> Result<Value, CommandError> {
        let map = match arguments {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect::<Map>(),
            _ => Map::new(),
        };
        let (outcome, effects) = self.dispatcher.call(self.session, name, map);
        self.quit |= effects.quit;
        let reply = outcome?;
        serde_json::from_slice(reply.as_bytes()).map_err(|e| {
            CommandError::generic(format!("The command {name} answered with bad JSON: {e}"))
        })
    }

    /// VMM state registered with the monitor builder.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered (as
    /// `Context::state`); `?` turns it into an [`HmpError`] that prints
    /// `Error: ...`.
    pub fn state<T: std::any::Any + Send + Sync>(&self) -> Result<&'a T, CommandError> {
        self.dispatcher.state::<T>()
    }

    /// The dispatcher the line runs through.
    pub(crate) fn dispatcher(&self) -> &'a Dispatcher {
        self.dispatcher
    }

    /// The calling session.
    pub fn session(&self) -> &SessionInfo {
        self.session
    }

    /// The CPU `human-monitor-command` named with `cpu-index`, if any.
    pub fn cpu_index(&self) -> Option<i64> {
        self.cpu_index
    }

    /// Whether a command asked the monitor to quit.
    pub fn quit_requested(&self) -> bool {
        self.quit
    }

    /// The text printed so far.
    pub fn output(&self) -> &str {
        &self.out
    }
}

fn json_to_value(v: Value) -> monitor_core::Value {
    use monitor_core::Value as V;
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => V::Int(i),
            (None, Some(u), _) => V::Uint(u),
            (_, _, Some(f)) => V::Double(f),
            _ => V::Null,
        },
        Value::String(s) => V::String(s),
        Value::Array(a) => V::Array(a.into_iter().map(json_to_value).collect()),
        Value::Object(o) => V::Object(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect()),
    }
}

/// An HMP handler.
pub type HmpFn = fn(&mut HmpContext<'_>, &Args) -> Result<(), HmpError>;

/// An HMP handler that is a closure.
pub type HmpClosure = dyn Fn(&mut HmpContext<'_>, &Args) -> Result<(), HmpError> + Send + Sync;

/// How a command runs.
#[derive(Clone)]
pub enum HmpHandler {
    /// A plain function.
    Fn(HmpFn),
    /// A closure.
    Boxed(Arc<HmpClosure>),
}

impl std::fmt::Debug for HmpHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmpHandler")
    }
}

/// One HMP command: `name|alias`, its `args_type`, `params` and `help`.
#[derive(Debug, Clone)]
pub struct HmpCommand {
    names: Vec<String>,
    args: ArgsType,
    params: String,
    help: String,
    handler: HmpHandler,
    requires: Vec<String>,
    origin: String,
}

impl HmpCommand {
    /// A command. `name` may list aliases (`"cont|c"`); `args_type` is
    /// QEMU's mini-language (`"val:l,size:i,filename:s"`).
    ///
    /// # Errors
    ///
    /// When `args_type` does not parse.
    pub fn new(
        name: &str,
        args_type: &str,
        params: &str,
        help: &str,
        handler: HmpHandler,
    ) -> Result<Self, crate::args::SpecError> {
        Ok(HmpCommand {
            names: name.split('|').map(str::to_owned).collect(),
            args: ArgsType::parse(args_type)?,
            params: params.to_owned(),
            help: help.to_owned(),
            handler,
            requires: Vec::new(),
            origin: format!("HMP command `{name}` added at run time"),
        })
    }

    /// Lists and runs the command only while the monitor has these QMP
    /// commands (what it calls through [`HmpContext::qmp`]); otherwise it
    /// is an unknown command, absent from `help` and completion.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_hmp::{HmpCommand, HmpHandler};
    ///
    /// let balloon = HmpCommand::new("balloon", "value:M", "target", "request VM to change its memory allocation (in MB)",
    ///     HmpHandler::Fn(|ctx, args| {
    ///         let bytes = args.int("value").unwrap_or(0);
    ///         ctx.qmp("balloon", serde_json::json!({"value": bytes}))?;
    ///         Ok(())
    ///     }))
    ///     .unwrap()
    ///     .requires(["balloon"]);
    /// assert_eq!(balloon.name(), "balloon");
    /// ```
    pub fn requires<I: IntoIterator<Item = S>, S: Into<String>>(mut self, qmp_commands: I) -> Self {
        self.requires
            .extend(qmp_commands.into_iter().map(Into::into));
        self
    }

    /// Where the command was declared, for error messages.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Whether every QMP command it requires is registered.
    pub fn is_available(&self, registry: &Registry) -> bool {
        self.requires
            .iter()
            .all(|name| registry.get(name).is_some())
    }

    /// The primary name.
    pub fn name(&self) -> &str {
        self.names.first().map_or("", String::as_str)
    }

    fn matches(&self, word: &str) -> bool {
        self.names.iter().any(|n| n == word)
    }

    /// The `help` line: `name|alias params -- help`.
    fn help_line(&self, prefix: &str) -> String {
        format!(
            "{prefix}{} {} -- {}\n",
            self.names.join("|"),
            self.params,
            self.help
        )
    }
}

/// A compile-time HMP registration (what `#[hmp_command]` submits).
#[derive(Debug)]
pub struct HmpRegistration {
    /// `name` or `info name`, with `|aliases`.
    pub name: &'static str,
    /// QEMU's `args_type`.
    pub args_type: &'static str,
    /// The `params` shown by help.
    pub params: &'static str,
    /// The help text.
    pub help: &'static str,
    /// The handler.
    pub handler: HmpFn,
    /// Where it is declared (`module::function`).
    pub origin: &'static str,
}

inventory::collect!(HmpRegistration);

/// The command table of a human monitor.
///
/// # Examples
///
/// ```
/// use monitor_hmp::HmpTable;
///
/// // The generic commands plus every `#[hmp_command]` of the program;
/// // `Hmp::install` makes `spawn()` fail on what `check` reports.
/// let table = HmpTable::new();
/// assert!(table.check().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct HmpTable {
    commands: Vec<HmpCommand>,
    info: Vec<HmpCommand>,
    problems: Vec<HmpTableError>,
    pub(crate) banner: Option<String>,
}

impl HmpTable {
    /// The generic commands plus every `#[hmp_command]` in the program.
    ///
    /// A registration whose `args_type` does not parse, or whose name or
    /// alias is taken, is left out and reported by [`check`](Self::check),
    /// which `Hmp::install` runs when the monitor is spawned.
    pub fn new() -> Self {
        let mut table = Self::empty();
        let generic = crate::builtins::registrations()
            .into_iter()
            .map(|(r, requires)| (r, *requires));
        let declared = inventory::iter::<HmpRegistration>
            .into_iter()
            .map(|r| (r, &[][..]));
        let mut declared: Vec<_> = declared.collect();
        declared.sort_by_key(|(r, _)| (r.name, r.origin));
        for (r, requires) in generic.chain(declared) {
            let is_info = r.name.starts_with("info ");
            match HmpCommand::new(
                r.name.trim_start_matches("info "),
                r.args_type,
                r.params,
                r.help,
                HmpHandler::Fn(r.handler),
            ) {
                Ok(c) => {
                    let c = c.requires(requires.iter().copied()).origin(r.origin);
                    table.add(c, is_info);
                }
                Err(source) => table.problems.push(HmpTableError::BadArgsType {
                    command: r.name.to_owned(),
                    origin: r.origin.to_owned(),
                    args_type: r.args_type.to_owned(),
                    source,
                }),
            }
        }
        table
    }

    /// A table without any command, not even the generic ones (`help` and
    /// `info` still work: the table answers them itself).
    pub fn empty() -> Self {
        HmpTable {
            commands: Vec::new(),
            info: Vec::new(),
            problems: Vec::new(),
            banner: None,
        }
    }

    /// Adds a declared command unless one of its names is taken (then the
    /// clash is recorded for [`check`](Self::check)).
    fn add(&mut self, command: HmpCommand, info: bool) {
        let list = if info { &self.info } else { &self.commands };
        let clash = list
            .iter()
            .find(|c| command.names.iter().any(|n| c.matches(n)));
        if let Some(existing) = clash {
            let prefix = if info { "info " } else { "" };
            self.problems.push(HmpTableError::Duplicate {
                name: format!("{prefix}{}", command.name()),
                first: existing.origin.clone(),
                second: command.origin,
            });
            return;
        }
        let list = if info {
            &mut self.info
        } else {
            &mut self.commands
        };
        list.push(command);
        list.sort_by(|a, b| a.name().cmp(b.name()));
    }

    /// The mistakes found while building the table.
    ///
    /// # Errors
    ///
    /// Every bad `args_type` and name defined twice.
    pub fn check(&self) -> Result<(), HmpTableErrors> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(HmpTableErrors(self.problems.clone()))
        }
    }

    /// Adds a command (`info` sub-command when `info` is true), replacing
    /// any command with the same primary name: this is how a VMM replaces
    /// a generic command with its own.
    pub fn insert(&mut self, command: HmpCommand, info: bool) {
        let list = if info {
            &mut self.info
        } else {
            &mut self.commands
        };
        list.retain(|c| c.name() != command.name());
        list.push(command);
        list.sort_by(|a, b| a.name().cmp(b.name()));
    }

    /// `help` (everything) or `help CMD`, in QEMU's layout: the commands
    /// available in `registry` (see [`HmpCommand::requires`]).
    pub fn help(&self, registry: &Registry, topic: Option<&str>) -> String {
        let mut out = String::new();
        match topic {
            None => {
                for c in self.commands.iter().filter(|c| c.is_available(registry)) {
                    out.push_str(&c.help_line(""));
                }
            }
            Some("info") => {
                for c in self.info.iter().filter(|c| c.is_available(registry)) {
                    out.push_str(&c.help_line("info "));
                }
            }
            Some(topic) => match Self::find(&self.commands, registry, topic) {
                Some(c) => out.push_str(&c.help_line("")),
                None => out.push_str(&format!("unknown command: '{topic}'\n")),
            },
        }
        out
    }

    /// The available command with this name or alias.
    fn find<'t>(list: &'t [HmpCommand], registry: &Registry, word: &str) -> Option<&'t HmpCommand> {
        list.iter()
            .find(|c| c.matches(word))
            .filter(|c| c.is_available(registry))
    }

    /// Names for completion: the available commands (with aliases) and
    /// `info` items.
    pub fn complete(&self, registry: &Registry, line_before_cursor: &str) -> Vec<String> {
        let words: Vec<&str> = line_before_cursor.split_whitespace().collect();
        let ends_with_space = line_before_cursor.ends_with(' ');
        let commands = || Self::names(&self.commands, registry);
        let info = || Self::names(&self.info, registry);
        let (pool, prefix): (Vec<&str>, &str) = match (words.as_slice(), ends_with_space) {
            ([], _) => (commands(), ""),
            ([w], false) => (commands(), w),
            (["info"], true) => (info(), ""),
            (["info", w], false) => (info(), w),
            (["help" | "?"], true) => (commands(), ""),
            (["help" | "?", w], false) => (commands(), w),
            _ => (Vec::new(), ""),
        };
        let mut out: Vec<String> = pool
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .map(str::to_owned)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn names<'t>(list: &'t [HmpCommand], registry: &Registry) -> Vec<&'t str> {
        list.iter()
            .filter(|c| c.is_available(registry))
            .flat_map(|c| c.names.iter().map(String::as_str))
            .collect()
    }

    /// Runs one command line; returns its text (lines end in `\n`) and
    /// whether it asked the monitor to quit.
    pub fn run_line(
        &self,
        dispatcher: &Dispatcher,
        session: &SessionInfo,
        line: &str,
        cpu_index: Option<i64>,
    ) -> (String, bool) {
        self.run_line_with(dispatcher, session, line, cpu_index, &NoCpu)
    }

    /// [`run_line`](Self::run_line) with CPU registers for `$reg` in
    /// expressions.
    pub fn run_line_with(
        &self,
        dispatcher: &Dispatcher,
        session: &SessionInfo,
        line: &str,
        cpu_index: Option<i64>,
        regs: &dyn Registers,
    ) -> (String, bool) {
        let mut ctx = HmpContext::new(dispatcher, session, cpu_index);
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            return (String::new(), false);
        }
        let registry = dispatcher.registry();
        let (word, rest) = split_word(trimmed);
        if word == "help" || word == "?" {
            let topic = rest.trim();
            ctx.print(&self.help(&registry, (!topic.is_empty()).then_some(topic)));
            return (ctx.out, false);
        }
        let found = if word == "info" {
            let (item, rest2) = split_word(rest.trim_start());
            if item.is_empty() {
                ctx.print(&self.help(&registry, Some("info")));
                return (ctx.out, false);
            }
            match Self::find(&self.info, &registry, item) {
                Some(c) => Some((c, rest2, format!("info {item}"))),
                None => {
                    ctx.print(&format!("unknown command: 'info {item}'\n"));
                    return (ctx.out, false);
                }
            }
        } else {
            Self::find(&self.commands, &registry, word).map(|c| (c, rest, word.to_owned()))
        };
        // Handlers call QMP commands, which read the registry too.
        drop(registry);
        let Some((command, rest, typed)) = found else {
            ctx.print(&format!("unknown command: '{word}'\n"));
            return (ctx.out, false);
        };
        let result = command
            .args
            .parse_line(&command.names.join("|"), rest, regs)
            .map_err(HmpError::from)
            .and_then(|args| match &command.handler {
                HmpHandler::Fn(f) => f(&mut ctx, &args),
                HmpHandler::Boxed(f) => f(&mut ctx, &args),
            });
        match result {
            Ok(()) => {}
            // QEMU's exact text (some parse errors print nothing here).
            Err(HmpError::Args(e)) => {
                ctx.print(&e.monitor_text());
                ctx.print(&format!("Try \"help {typed}\" for more information\n"));
            }
            Err(e) => {
                ctx.print(&e.to_string());
                ctx.print("\n");
            }
        }
        let quit = ctx.quit;
        (ctx.out, quit)
    }
}

impl Default for HmpTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The first word of `s` (up to a space) and the rest.
fn split_word(s: &str) -> (&str, &str) {
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}
