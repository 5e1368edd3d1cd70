//! One client's protocol state: framing, negotiation, dispatch, responses.
//!
//! No I/O here: bytes in, bytes out. The server owns the socket.
//!
//! The state machine is QEMU's: its rules, with QEMU's messages and
//! sources, are in `docs/PROTOCOL.md` (sections 3 and 12); how the server
//! drives it, in `docs/DESIGN.md` (section 4). In short:
//! 1. On connect the greeting is sent and the session is in negotiation mode.
//! 2. In negotiation mode every command but `qmp_capabilities` fails with
//!    `CommandNotFound` "Expecting capabilities negotiation with
//!    'qmp_capabilities'"; no events are delivered.
//! 3. A successful `qmp_capabilities` switches to command mode, with the
//!    capabilities requested (only those offered may be requested).
//! 4. Every message (request, malformed request or parse error) joins the
//!    in-band queue, except an out-of-band request (`exec-oob`), which runs
//!    at once and may answer before queued ones.
//! 5. The head of the queue runs when no in-band command is pending. A
//!    handler that defers its answer leaves its command pending; the queue
//!    waits, responses stay in request order.
//! 6. The queue holds at most 8 messages with `oob` enabled (and stops
//!    taking more at 16 MiB of queued messages); without `oob` nothing is
//!    read while a command is queued or pending (as QEMU).
//! 7. When the client goes away, pending commands are cancelled.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;

use crate::args;
use crate::builtins::CapabilitiesArgs;
use crate::dispatch::SessionInfo;
pub use crate::dispatch::{Dispatcher, Effects};
use crate::error::CommandError;
use crate::fds::SessionFds;
use crate::pending::{self, Deferred, LocalFuture};
use crate::reply::{Outcome, Reply};
use crate::request::{self, Request};
use crate::response::{self, Echo, Splices};
use crate::stream::{Frame, Item, Limits, RawMessage, Splitter};
use crate::value::{Map, Value};

/// In-band messages a session queues with `oob` enabled (QEMU's
/// `QMP_REQ_QUEUE_LEN_MAX`); without it, one.
pub const QUEUE_LIMIT_OOB: usize = 8;

/// With `oob`, the in-band queue takes no further message once the ones
/// it holds weigh this much (about their parsed size: their text plus a
/// value per token; see `stream::Splitter::last_weight`). Ours: QEMU has no
/// such bound, and eight messages of QEMU's 64 MiB would otherwise be held
/// parsed at once. The client is simply not read until the queue drains.
pub const QUEUE_WEIGHT_OOB: usize = 16 << 20;

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
    /// In-band messages not yet run.
    queue: VecDeque<Parsed>,
    /// The sum of their weights.
    queued_weight: usize,
    /// The in-band command whose answer is pending, if any.
    inflight: Option<u64>,
    /// A large message handed out to be parsed elsewhere, until taken.
    raw: Option<RawMessage>,
    /// A message is being parsed elsewhere: nothing else is read until it
    /// is [delivered](Self::deliver), which keeps the order.
    parsing: bool,
    /// Long `id`s written elsewhere, and where they go in the output.
    splices: Splices,
    /// Descriptors passed by the client.
    fds: SessionFds,
    /// Deferred commands (in-band and out-of-band) by token.
    waiting: HashMap<u64, Waiting>,
    next_token: u64,
}

/// A message taken by the session (and waiting in the in-band queue): a
/// large one parsed off the monitor thread comes to
/// [`Session::deliver`] this way.
#[derive(Debug)]
pub(crate) struct Parsed {
    frame: Frame,
    /// See [`Splitter::last_weight`].
    weight: usize,
    /// The message's `id` written as it is echoed; the `id` member of the
    /// value is then `null`, so the monitor thread never walks it.
    echo: Option<Vec<u8>>,
}

impl Parsed {
    /// Parses `raw` and writes its `id` (work for a thread of its own:
    /// about a second per 500 MiB of text).
    pub(crate) fn from_raw(raw: RawMessage) -> Parsed {
        let (mut frame, weight) = raw.parse();
        let mut echo = None;
        if let Ok(Value::Object(map)) = &mut frame {
            if let Some(id) = map.get_mut("id") {
                let id = std::mem::replace(id, Value::Null);
                echo = Some(Echo::written(&id));
            }
        }
        Parsed {
            frame,
            weight,
            echo,
        }
    }

    /// Its weight (see [`Splitter::last_weight`]).
    pub(crate) fn weight(&self) -> usize {
        self.weight
    }

    /// What a message whose parse failed unexpectedly (a bug) is answered
    /// with: a parse error, and the session goes on.
    pub(crate) fn failed() -> Parsed {
        Parsed {
            frame: Err(crate::stream::ParseError::Syntax {
                message: "internal error".to_owned(),
                offset: 0,
            }),
            weight: 0,
            echo: None,
        }
    }
}

/// A command whose answer is deferred.
struct Waiting {
    id: Option<Echo>,
    cancelled: Option<Arc<AtomicBool>>,
    future: Option<LocalFuture>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("id", &self.id)
            .field("future", &self.future.is_some())
            .finish()
    }
}

/// What running a command gave.
enum Ran {
    Now(Outcome),
    Later(u64),
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
            queue: VecDeque::new(),
            queued_weight: 0,
            inflight: None,
            raw: None,
            parsing: false,
            splices: Splices::new(),
            fds: SessionFds::default(),
            waiting: HashMap::new(),
            next_token: 1,
        }
    }

    /// Replaces the framing limits.
    pub fn set_limits(&mut self, limits: Limits) {
        let offload = self.splitter.offload_at();
        self.splitter = Splitter::with_limits(limits);
        self.splitter.set_offload(offload);
    }

    /// Messages with `at` bytes of text or more are not parsed by
    /// [`step`](Self::step) but handed out with
    /// [`take_raw`](Self::take_raw), to be parsed elsewhere
    /// ([`Parsed::from_raw`]) and given back with
    /// [`deliver`](Self::deliver); the session reads nothing meanwhile.
    pub(crate) fn set_offload(&mut self, at: Option<usize>) {
        self.splitter.set_offload(at);
    }

    /// The message `step` left unparsed, if any (see
    /// [`set_offload`](Self::set_offload)).
    pub(crate) fn take_raw(&mut self) -> Option<RawMessage> {
        self.raw.take()
    }

    /// The long `id`s the answers written since the last call left out of
    /// the output, with their offsets in it: each goes in at its offset
    /// (only a session that [offloads](Self::set_offload) has any).
    pub(crate) fn take_splices(&mut self) -> Splices {
        std::mem::take(&mut self.splices)
    }

    /// Whether a message is being parsed elsewhere.
    pub(crate) fn is_parsing(&self) -> bool {
        self.parsing
    }

    /// Takes a message parsed elsewhere, as [`step`](Self::step) takes one
    /// it parsed itself.
    pub(crate) fn deliver(
        &mut self,
        dispatcher: &Dispatcher,
        parsed: Parsed,
        out: &mut Vec<u8>,
    ) -> Effects {
        self.parsing = false;
        self.take(dispatcher, parsed, out)
    }

    /// The descriptors the client passed (received, and named by `getfd`).
    pub fn fds(&self) -> &SessionFds {
        &self.fds
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

    /// Commands whose answer is pending.
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// Whether the session takes more input now (its queue is not full).
    pub fn wants_input(&self) -> bool {
        if self.parsing {
            false
        } else if self.info.oob {
            self.queue.is_empty()
                || (self.queue.len() < QUEUE_LIMIT_OOB && self.queued_weight < QUEUE_WEIGHT_OOB)
        } else {
            // QEMU suspends a monitor without oob while a request is queued
            // or running.
            self.queue.is_empty() && self.inflight.is_none()
        }
    }

    /// Takes the deferred answers and future wake-ups posted for this
    /// session since the last call, as the server does for each of
    /// its sessions; what was posted for other sessions stays posted.
    ///
    /// For driving a session without a server (tests, fuzzing, an embedder
    /// with its own transport). Returns how many answers and wake-ups were
    /// delivered and their effects; a future that wakes itself while being
    /// polled is posted again, so call until it returns 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{session::{Dispatcher, Session}, Command, CommandError, Emitter, Registry, StateMap};
    ///
    /// let mut registry = Registry::with_inventory().unwrap();
    /// registry
    ///     .insert(Command::typed("x-later", |ctx, ()| {
    ///         let done = ctx.defer::<u32>();
    ///         std::thread::spawn(move || done.complete(Ok::<_, CommandError>(7)));
    ///         Ok::<_, CommandError>(())
    ///     }))
    ///     .unwrap();
    /// let dispatcher = Dispatcher::new(registry, StateMap::default(), Emitter::new());
    /// let mut session = Session::new(1, "test", true);
    /// let mut out = Vec::new();
    /// session.feed(&dispatcher, br#"{"execute": "qmp_capabilities"}{"execute": "x-later", "id": 1}"#, &mut out);
    /// assert_eq!(out, b"{\"return\": {}}\r\n");
    /// while session.pending() > 0 {
    ///     session.settle(&dispatcher, &mut out);
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(out, b"{\"return\": {}}\r\n{\"return\": 7, \"id\": 1}\r\n");
    /// ```
    pub fn settle(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>) -> (usize, Effects) {
        let (finished, woken) = dispatcher.mailbox.take_for(self.info.id);
        let delivered = finished.len() + woken.len();
        let mut effects = Effects::default();
        for f in finished {
            effects = effects.merge(self.finish(dispatcher, f.token, f.outcome, out));
        }
        for (_, token) in woken {
            effects = effects.merge(self.poll(dispatcher, token, out));
        }
        (delivered, effects)
    }

    /// Frames as much of `input` as yields one message and handles it.
    ///
    /// Returns the bytes consumed and, if a message was taken, the effects;
    /// loop until both are exhausted or [`wants_input`](Self::wants_input)
    /// is false. Responses are appended to `out`.
    pub fn step(
        &mut self,
        dispatcher: &Dispatcher,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> (usize, Option<Effects>) {
        if !self.wants_input() {
            return (0, None);
        }
        let (used, item) = self.splitter.next_item(input);
        let effects = match item {
            None => None,
            Some(Item::Frame(frame)) => {
                let parsed = Parsed {
                    frame,
                    weight: self.splitter.last_weight(),
                    echo: None,
                };
                Some(self.take(dispatcher, parsed, out))
            }
            Some(Item::Raw(raw)) => {
                self.raw = Some(raw);
                self.parsing = true;
                None
            }
        };
        (used, effects)
    }

    /// Feeds `input` to the session, appending responses to `out`, and
    /// returns the effects of the messages it handled.
    ///
    /// It stops early when the session takes no more input
    /// ([`wants_input`](Self::wants_input) is false: the in-band queue is
    /// full, or a command is pending without `oob`), and the rest of
    /// `input` is then dropped, not kept: a caller that must not lose
    /// bytes uses [`step`](Self::step), which says how many it consumed.
    pub fn feed(&mut self, dispatcher: &Dispatcher, input: &[u8], out: &mut Vec<u8>) -> Effects {
        let mut effects = Effects::default();
        let mut rest = input;
        loop {
            let (used, handled) = self.step(dispatcher, rest, out);
            rest = &rest[used..];
            match handled {
                Some(e) => effects.quit |= e.quit,
                None if rest.is_empty() || !self.wants_input() => return effects,
                None => {}
            }
        }
    }

    /// Takes one message: an out-of-band request runs now, anything else
    /// joins the in-band queue, which then runs as far as it can.
    pub fn handle_frame(
        &mut self,
        dispatcher: &Dispatcher,
        frame: Frame,
        out: &mut Vec<u8>,
    ) -> Effects {
        let parsed = Parsed {
            frame,
            weight: 0,
            echo: None,
        };
        self.take(dispatcher, parsed, out)
    }

    /// [`handle_frame`](Self::handle_frame) for a frame parsed here or
    /// elsewhere.
    fn take(&mut self, dispatcher: &Dispatcher, parsed: Parsed, out: &mut Vec<u8>) -> Effects {
        if matches!(&parsed.frame, Ok(v) if request::is_oob(v)) {
            let effects = self.run(dispatcher, parsed, out);
            return effects.merge(self.pump(dispatcher, out));
        }
        self.queued_weight += parsed.weight;
        self.queue.push_back(parsed);
        self.pump(dispatcher, out)
    }

    /// Runs queued in-band messages until one is pending or none is left.
    pub fn pump(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>) -> Effects {
        let mut effects = Effects::default();
        while self.inflight.is_none() {
            let Some(queued) = self.queue.pop_front() else {
                break;
            };
            self.queued_weight -= queued.weight;
            effects = effects.merge(self.run(dispatcher, queued, out));
        }
        effects
    }

    /// Answers a deferred command (from a completion handle); a token the
    /// session no longer knows (answered already, or cancelled) is ignored.
    pub fn finish(
        &mut self,
        dispatcher: &Dispatcher,
        token: u64,
        outcome: Outcome,
        out: &mut Vec<u8>,
    ) -> Effects {
        let Some(waiting) = self.waiting.remove(&token) else {
            return Effects::default();
        };
        self.answer(out, outcome, waiting.id);
        if self.inflight == Some(token) {
            self.inflight = None;
            return self.pump(dispatcher, out);
        }
        Effects::default()
    }

    /// Polls a deferred future that asked to be woken.
    pub fn poll(&mut self, dispatcher: &Dispatcher, token: u64, out: &mut Vec<u8>) -> Effects {
        let Some(future) = self.waiting.get_mut(&token).and_then(|w| w.future.as_mut()) else {
            return Effects::default();
        };
        match pending::poll_once(future, self.info.id, token, &dispatcher.mailbox) {
            Poll::Ready(outcome) => self.finish(dispatcher, token, outcome, out),
            Poll::Pending => Effects::default(),
        }
    }

    /// The client went away: cancels every pending command and drops the
    /// queue. Returns how many commands were cancelled.
    pub fn close(&mut self) -> usize {
        let n = self.waiting.len();
        for (_, w) in self.waiting.drain() {
            if let Some(flag) = w.cancelled {
                flag.store(true, Ordering::Release);
            }
        }
        self.queue.clear();
        self.queued_weight = 0;
        self.inflight = None;
        self.raw = None;
        self.parsing = false;
        self.fds.clear();
        n
    }

    /// Handles one message now, in-band or out-of-band.
    fn run(&mut self, dispatcher: &Dispatcher, parsed: Parsed, out: &mut Vec<u8>) -> Effects {
        let Parsed { frame, echo, .. } = parsed;
        let value = match frame {
            Ok(value) => value,
            Err(e) => {
                response::write_error(out, &e.into(), None);
                return Effects::default();
            }
        };
        // The `id` to echo: written already for a message parsed
        // elsewhere (its value is then a `null` stand-in).
        let echo_of = |id: Option<Value>| match echo {
            Some(text) => Some(Echo::Written(text)),
            None => id.map(Echo::Value),
        };
        let request = match request::check(value, self.info.oob) {
            Ok(request) => request,
            Err(rejected) => {
                let id = echo_of(rejected.id);
                self.answer(out, Err(rejected.error), id);
                return Effects::default();
            }
        };
        let Request {
            command,
            oob,
            arguments,
            id,
        } = request;
        let id = echo_of(id);
        let quit = Cell::new(false);
        match self.execute(dispatcher, &command, oob, arguments, &quit) {
            Ran::Now(outcome) => self.answer(out, outcome, id),
            Ran::Later(token) => {
                if let Some(w) = self.waiting.get_mut(&token) {
                    w.id = id;
                }
                if !oob {
                    self.inflight = Some(token);
                }
                // A future may be ready at once.
                return self.poll(dispatcher, token, out);
            }
        }
        Effects { quit: quit.get() }
    }

    /// Appends the answer to a command; a long `id` written elsewhere is
    /// not copied but kept aside (see [`take_splices`](Self::take_splices)).
    fn answer(&mut self, out: &mut Vec<u8>, outcome: Outcome, id: Option<Echo>) {
        response::write_answer(out, &mut self.splices, outcome.as_ref(), id);
    }

    fn execute(
        &mut self,
        dispatcher: &Dispatcher,
        name: &str,
        oob: bool,
        arguments: Map,
        quit: &Cell<bool>,
    ) -> Ran {
        if !self.negotiated && name != "qmp_capabilities" {
            return Ran::Now(Err(CommandError::command_not_found(
                "Expecting capabilities negotiation with 'qmp_capabilities'",
            )));
        }
        let command = dispatcher.registry.read().get(name).cloned();
        let Some(command) = command else {
            return Ran::Now(Err(CommandError::command_not_found(format!(
                "The command {name} has not been found"
            ))));
        };
        if oob && !command.allows_oob() {
            return Ran::Now(Err(CommandError::generic(format!(
                "The command {name} does not support OOB"
            ))));
        }
        if name == "qmp_capabilities" {
            // The session's own: it changes the session's state.
            return Ran::Now(self.capabilities(arguments));
        }
        let handler = command.handler().as_fn();
        let token = self.next_token;
        self.next_token += 1;
        let (outcome, deferred) = dispatcher.run_handler(
            handler,
            (&self.info, &self.fds),
            name,
            token,
            arguments,
            quit,
        );
        match (outcome, deferred) {
            (Err(e), _) => Ran::Now(Err(e)),
            (Ok(reply), None) => Ran::Now(Ok(reply)),
            (Ok(_), Some(d)) => {
                let (cancelled, future) = match d {
                    Deferred::Callback(flag) => (Some(flag), None),
                    Deferred::Future(f) => (None, Some(f)),
                };
                self.waiting.insert(
                    token,
                    Waiting {
                        id: None,
                        cancelled,
                        future,
                    },
                );
                Ran::Later(token)
            }
        }
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
