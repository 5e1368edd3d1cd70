//! One client's protocol state: framing, negotiation, dispatch, responses.
//!
//! No I/O here: bytes in, bytes out. The server owns the socket.
//!
//! The state machine (QEMU's, see `docs/DESIGN.md`):
//! 1. On connect the greeting is sent and the session is in negotiation mode.
//! 2. In negotiation mode every command but `qmp_capabilities` fails with
//!    `CommandNotFound` "Expecting capabilities negotiation with
//!    'qmp_capabilities'"; no events are delivered.
//! 3. A successful `qmp_capabilities` switches to command mode, with the
//!    capabilities requested (only those offered may be requested).
//! 4. In command mode requests are answered in order.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::args;
use crate::builtins::{CapabilitiesArgs, NameInfo, VersionInfo};
use crate::command::{
    Context, Handler, HandlerFn, Outcome, Registry, Reply, SessionCommand, SessionInfo, StateMap,
};
use crate::error::CommandError;
use crate::event::Emitter;
use crate::request::{self, Request};
use crate::response;
use crate::stream::{Frame, Limits, Splitter};
use crate::value::Map;

/// What every session of a monitor shares.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub(crate) registry: Arc<RwLock<Registry>>,
    pub(crate) state: Arc<StateMap>,
    pub(crate) emitter: Emitter,
}

impl Dispatcher {
    /// A dispatcher over a registry and VMM state.
    pub fn new(registry: Registry, state: StateMap, emitter: Emitter) -> Self {
        Dispatcher {
            registry: Arc::new(RwLock::new(registry)),
            state: Arc::new(state),
            emitter,
        }
    }

    /// The greeting line for a session offering `oob` or not.
    pub fn greeting(&self, offer_oob: bool) -> Vec<u8> {
        let default = VersionInfo::default();
        let version = self.state.get::<VersionInfo>().unwrap_or(&default);
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"QMP\": {\"version\": ");
        // A VersionInfo always serialises.
        let _ = crate::wire::to_writer(&mut out, version);
        out.extend_from_slice(if offer_oob {
            b", \"capabilities\": [\"oob\"]}}\r\n"
        } else {
            b", \"capabilities\": []}}\r\n"
        });
        out
    }

    /// The event emitter.
    pub fn emitter(&self) -> &Emitter {
        &self.emitter
    }

    /// The shared command registry.
    pub fn registry(&self) -> &Arc<RwLock<Registry>> {
        &self.registry
    }
}

/// What the caller must do after a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effects {
    /// A `quit` was executed: stop the monitor after flushing.
    pub quit: bool,
}

/// One connection's protocol state.
///
/// # Examples
///
/// ```
/// use monitor_core::{session::{Dispatcher, Session}, Command, CommandError, Emitter, Registry, StateMap};
///
/// let mut registry = Registry::with_inventory().unwrap();
/// registry.insert(Command::typed("x-ping", |_, ()| Ok::<_, CommandError>(()))).unwrap();
/// let dispatcher = Dispatcher::new(registry, StateMap::default(), Emitter::new());
/// let mut session = Session::new(1, "test", true);
/// let mut out = Vec::new();
/// session.feed(&dispatcher, br#"{"execute": "x-ping"}"#, &mut out);
/// assert!(out.starts_with(b"{\"error\": {\"class\": \"CommandNotFound\""));
/// out.clear();
/// session.feed(&dispatcher, br#"{"execute": "qmp_capabilities"}{"execute": "x-ping", "id": 1}"#, &mut out);
/// assert_eq!(out, b"{\"return\": {}}\r\n{\"return\": {}, \"id\": 1}\r\n");
/// ```
#[derive(Debug)]
pub struct Session {
    info: SessionInfo,
    splitter: Splitter,
    negotiated: bool,
    oob_offered: bool,
}

impl Session {
    /// A fresh session in negotiation mode.
    pub fn new(id: u64, listener: impl Into<String>, offer_oob: bool) -> Self {
        Session {
            info: SessionInfo {
                id,
                listener: listener.into(),
                oob: false,
            },
            splitter: Splitter::new(),
            negotiated: false,
            oob_offered: offer_oob,
        }
    }

    /// Replaces the framing limits.
    pub fn set_limits(&mut self, limits: Limits) {
        self.splitter = Splitter::with_limits(limits);
    }

    /// Whether `qmp_capabilities` has succeeded.
    pub fn is_negotiated(&self) -> bool {
        self.negotiated
    }

    /// Whether this session offers `oob` in its greeting.
    pub fn offers_oob(&self) -> bool {
        self.oob_offered
    }

    /// The session as handlers see it.
    pub fn info(&self) -> &SessionInfo {
        &self.info
    }

    /// Frames as much of `input` as yields one frame and handles it.
    ///
    /// Returns the bytes consumed and whether a frame was handled; loop until
    /// both are exhausted. Responses are appended to `out`.
    pub fn step(
        &mut self,
        dispatcher: &Dispatcher,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> (usize, Option<Effects>) {
        let (used, frame) = self.splitter.next_frame(input);
        (used, frame.map(|f| self.handle_frame(dispatcher, f, out)))
    }

    /// Feeds all of `input`, appending every response to `out`.
    pub fn feed(&mut self, dispatcher: &Dispatcher, input: &[u8], out: &mut Vec<u8>) -> Effects {
        let mut effects = Effects::default();
        let mut rest = input;
        loop {
            let (used, handled) = self.step(dispatcher, rest, out);
            rest = &rest[used..];
            match handled {
                Some(e) => effects.quit |= e.quit,
                None if rest.is_empty() => return effects,
                None => {}
            }
        }
    }

    /// Handles one frame, appending its response to `out`.
    pub fn handle_frame(
        &mut self,
        dispatcher: &Dispatcher,
        frame: Frame,
        out: &mut Vec<u8>,
    ) -> Effects {
        let value = match frame {
            Ok(value) => value,
            Err(e) => {
                response::write_error(out, &e.into(), None);
                return Effects::default();
            }
        };
        let request = match request::check(value, self.info.oob) {
            Ok(request) => request,
            Err(rejected) => {
                response::write_error(out, &rejected.error, rejected.id.as_ref());
                return Effects::default();
            }
        };
        let Request {
            command,
            oob,
            arguments,
            id,
        } = request;
        let quit = Cell::new(false);
        match self.execute(dispatcher, &command, oob, arguments, &quit) {
            Ok(reply) => response::write_return(out, &reply, id.as_ref()),
            Err(e) => response::write_error(out, &e, id.as_ref()),
        }
        Effects { quit: quit.get() }
    }

    fn execute(
        &mut self,
        dispatcher: &Dispatcher,
        name: &str,
        oob: bool,
        arguments: Map,
        quit: &Cell<bool>,
    ) -> Outcome {
        if !self.negotiated && name != "qmp_capabilities" {
            return Err(CommandError::command_not_found(
                "Expecting capabilities negotiation with 'qmp_capabilities'",
            ));
        }
        let command = dispatcher.registry.read().get(name).cloned();
        let Some(command) = command else {
            return Err(CommandError::command_not_found(format!(
                "The command {name} has not been found"
            )));
        };
        if oob && !command.allows_oob() {
            return Err(CommandError::generic(format!(
                "The command {name} does not support OOB"
            )));
        }
        let handler: &HandlerFn = match command.handler() {
            Handler::Fn(f) => f,
            Handler::Boxed(f) => f.as_ref(),
            Handler::Session(SessionCommand::Capabilities) => return self.capabilities(arguments),
            Handler::Session(SessionCommand::QueryCommands) => {
                return query_commands(dispatcher, &arguments)
            }
            Handler::Session(SessionCommand::QueryEvents) => {
                return query_events(dispatcher, &arguments)
            }
            Handler::Session(SessionCommand::QuerySchema) => {
                args::expect_none(&arguments)?;
                return Reply::new(&dispatcher.registry.read().schema());
            }
        };
        let ctx = Context {
            state: &dispatcher.state,
            session: &self.info,
            emitter: &dispatcher.emitter,
            quit,
        };
        catch_unwind(AssertUnwindSafe(|| handler(&ctx, arguments))).unwrap_or_else(|_| {
            log::error!("command {name} panicked; answering with an error");
            Err(CommandError::generic(format!(
                "The command {name} has failed unexpectedly"
            )))
        })
    }

    fn capabilities(&mut self, arguments: Map) -> Outcome {
        let args: CapabilitiesArgs = args::from_arguments(arguments)?;
        if self.negotiated {
            return Err(CommandError::command_not_found(
                "Capabilities negotiation is already complete, command ignored",
            ));
        }
        let enable = args.enable.unwrap_or_default();
        let unavailable: Vec<&str> = enable
            .iter()
            .filter(|_| !self.oob_offered)
            .map(|c| c.as_str())
            .collect();
        if !unavailable.is_empty() {
            return Err(CommandError::generic(format!(
                "Capability {} not available",
                unavailable.join(", ")
            )));
        }
        self.negotiated = true;
        self.info.oob = !enable.is_empty();
        Ok(Reply::empty())
    }
}

fn query_commands(dispatcher: &Dispatcher, arguments: &Map) -> Outcome {
    args::expect_none(arguments)?;
    let registry = dispatcher.registry.read();
    let list: Vec<NameInfo<'_>> = registry.names().map(|name| NameInfo { name }).collect();
    Reply::new(&list)
}

fn query_events(dispatcher: &Dispatcher, arguments: &Map) -> Outcome {
    args::expect_none(arguments)?;
    let registry = dispatcher.registry.read();
    let list: Vec<NameInfo<'_>> = registry
        .events()
        .map(|e| NameInfo { name: e.name() })
        .collect();
    Reply::new(&list)
}
