//! The HMP command table: commands, their `info` sub-table, `help`, and
//! running one command line.
//!
//! Commands come from `inventory` registrations (`#[hmp_command]`), from the
//! generic set this crate ships (`help`, `info version`, `stop`, ...), and
//! from [`HmpTable::insert`]. Most generic commands call a QMP command of
//! the same VMM and format its answer as QEMU does.

use std::sync::Arc;

use monitor_core::command::SessionInfo;
use monitor_core::session::Dispatcher;
use monitor_core::{CommandError, Map};
use serde_json::Value;
use thiserror::Error;

use crate::args::{ArgError, Args, ArgsType, NoCpu, Registers};

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
    pub fn state<T: std::any::Any + Send + Sync>(&self) -> Option<&'a T> {
        self.dispatcher.state::<T>()
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
        })
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
}

inventory::collect!(HmpRegistration);

/// The command table of a human monitor.
#[derive(Debug, Clone)]
pub struct HmpTable {
    commands: Vec<HmpCommand>,
    info: Vec<HmpCommand>,
}

impl HmpTable {
    /// The generic commands plus every `#[hmp_command]` in the program.
    ///
    /// # Panics
    ///
    /// Never: a registration whose `args_type` does not parse is skipped
    /// with an error logged.
    pub fn new() -> Self {
        let mut table = HmpTable {
            commands: Vec::new(),
            info: Vec::new(),
        };
        let registrations = crate::builtins::registrations()
            .into_iter()
            .chain(inventory::iter::<HmpRegistration>);
        for r in registrations {
            match HmpCommand::new(
                r.name.trim_start_matches("info "),
                r.args_type,
                r.params,
                r.help,
                HmpHandler::Fn(r.handler),
            ) {
                Ok(c) if r.name.starts_with("info ") => table.info.push(c),
                Ok(c) => table.commands.push(c),
                Err(e) => log::error!("HMP command {}: bad args_type: {e}", r.name),
            }
        }
        table.commands.sort_by(|a, b| a.name().cmp(b.name()));
        table.info.sort_by(|a, b| a.name().cmp(b.name()));
        table
    }

    /// Adds a command (`info` sub-command when `info` is true); a command of
    /// the same name is replaced.
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

    /// `help` (everything) or `help CMD`, in QEMU's layout.
    pub fn help(&self, topic: Option<&str>) -> String {
        let mut out = String::new();
        match topic {
            None => {
                for c in &self.commands {
                    out.push_str(&c.help_line(""));
                }
            }
            Some("info") => {
                for c in &self.info {
                    out.push_str(&c.help_line("info "));
                }
            }
            Some(topic) => match self.commands.iter().find(|c| c.matches(topic)) {
                Some(c) => out.push_str(&c.help_line("")),
                None => out.push_str(&format!("unknown command: '{topic}'\n")),
            },
        }
        out
    }

    /// Names for completion: commands (with aliases) and `info` items.
    pub fn complete(&self, line_before_cursor: &str) -> Vec<String> {
        let words: Vec<&str> = line_before_cursor.split_whitespace().collect();
        let ends_with_space = line_before_cursor.ends_with(' ');
        let (pool, prefix): (Vec<&str>, &str) = match (words.as_slice(), ends_with_space) {
            ([], _) => (self.command_names(), ""),
            ([w], false) => (self.command_names(), w),
            (["info"], true) => (self.info_names(), ""),
            (["info", w], false) => (self.info_names(), w),
            (["help" | "?"], true) => (self.command_names(), ""),
            (["help" | "?", w], false) => (self.command_names(), w),
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

    fn command_names(&self) -> Vec<&str> {
        self.commands
            .iter()
            .flat_map(|c| c.names.iter().map(String::as_str))
            .collect()
    }

    fn info_names(&self) -> Vec<&str> {
        self.info
            .iter()
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
        let (word, rest) = split_word(trimmed);
        if word == "help" || word == "?" {
            let topic = rest.trim();
            ctx.print(&self.help((!topic.is_empty()).then_some(topic)));
            return (ctx.out, false);
        }
        let found = if word == "info" {
            let (item, rest2) = split_word(rest.trim_start());
            if item.is_empty() {
                ctx.print(&self.help(Some("info")));
                return (ctx.out, false);
            }
            match self.info.iter().find(|c| c.matches(item)) {
                Some(c) => Some((c, rest2, format!("info {item}"))),
                None => {
                    ctx.print(&format!("unknown command: 'info {item}'\n"));
                    return (ctx.out, false);
                }
            }
        } else {
            self.commands
                .iter()
                .find(|c| c.matches(word))
                .map(|c| (c, rest, word.to_owned()))
        };
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
