//! Line-oriented consoles (the human monitor) served by the same event loop.
//!
//! The server knows nothing of HMP: a listener in console mode hands each
//! connection's bytes to a [`Console`] made by a [`ConsoleFactory`] (the
//! `monitor-hmp` crate provides one). A console runs on the monitor thread
//! and reaches the VMM through the [`Dispatcher`].

use std::fmt;

use crate::dispatch::SessionInfo;
use crate::session::{Dispatcher, Effects};

/// One operator's console: bytes in, bytes out, no I/O.
///
/// The server hands a console the bytes it has read and not yet given it,
/// with the room left in the client's output before reading pauses (the
/// pause threshold minus what is still unsent). The console handles keys
/// from the start and stops after the key whose output takes it past that
/// room; the bytes it did not use stay with the server, which hands them
/// over again once the client has read enough of its output. So a console
/// holds at most the pause threshold plus one key's output, whatever the
/// operator sends, and is never disconnected for output it produced.
///
/// # Examples
///
/// ```
/// use monitor_core::console::{Console, ConsoleEffects, ConsoleInput};
/// use monitor_core::session::Dispatcher;
/// use monitor_core::{Emitter, Registry, StateMap};
///
/// /// Echoes each byte three times.
/// struct Echo;
///
/// impl Console for Echo {
///     fn start(&mut self, _: &Dispatcher, out: &mut Vec<u8>) {
///         out.extend_from_slice(b"> ");
///     }
///
///     fn input(&mut self, _: &Dispatcher, bytes: &[u8], out: &mut Vec<u8>, room: usize) -> ConsoleInput {
///         let start = out.len();
///         for (i, &b) in bytes.iter().enumerate() {
///             out.extend_from_slice(&[b, b, b]);
///             if out.len() - start > room {
///                 return ConsoleInput { used: i + 1, effects: ConsoleEffects::default() };
///             }
///         }
///         ConsoleInput { used: bytes.len(), effects: ConsoleEffects::default() }
///     }
/// }
///
/// let dispatcher = Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new());
/// let mut out = Vec::new();
/// // Room for 4 bytes: the second key passes it, the third waits.
/// let done = Echo.input(&dispatcher, b"abc", &mut out, 4);
/// assert_eq!((done.used, out.as_slice()), (2, &b"aaabbb"[..]));
/// ```
pub trait Console {
    /// What to send when the operator connects (banner and prompt).
    fn start(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>);

    /// Handles input bytes from the start, appending what to send back,
    /// until it has used them all or has appended more than `room` bytes.
    ///
    /// Returns how many bytes it used (at least one key's worth when it
    /// stops early; the server hands the rest over later) and what the
    /// server must do. A console that stops early without passing `room`
    /// has its remaining bytes treated as used.
    fn input(
        &mut self,
        dispatcher: &Dispatcher,
        bytes: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> ConsoleInput;
}

/// What a console did with the bytes it was handed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsoleInput {
    /// Bytes used, from the start of those handed over.
    pub used: usize,
    /// What the server must do.
    pub effects: ConsoleEffects,
}

/// What the server must do after a console's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConsoleEffects {
    /// A command asked the monitor to quit (as QMP `quit`).
    pub quit: bool,
    /// The operator ended the session: close the connection once flushed.
    pub close: bool,
}

impl From<Effects> for ConsoleEffects {
    fn from(e: Effects) -> Self {
        ConsoleEffects {
            quit: e.quit,
            close: false,
        }
    }
}

/// Makes a console per connection.
pub trait ConsoleFactory: Send + Sync + 'static {
    /// A console for a new connection.
    fn open(&self, session: &SessionInfo) -> Box<dyn Console>;
}

impl fmt::Debug for dyn ConsoleFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConsoleFactory")
    }
}

impl fmt::Debug for dyn Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Console")
    }
}
