//! Line-oriented consoles (the human monitor) served by the same event loop.
//!
//! The server knows nothing of HMP: a listener in console mode hands each
//! connection's bytes to a [`Console`] made by a [`ConsoleFactory`] (the
//! `monitor-hmp` crate provides one). A console runs on the monitor thread
//! and reaches the VMM through the [`Dispatcher`].

use std::fmt;

use crate::command::SessionInfo;
use crate::session::{Dispatcher, Effects};

/// One operator's console: bytes in, bytes out, no I/O.
pub trait Console {
    /// What to send when the operator connects (banner and prompt).
    fn start(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>);

    /// Handles input bytes, appending what to send back.
    fn input(&mut self, dispatcher: &Dispatcher, bytes: &[u8], out: &mut Vec<u8>)
        -> ConsoleEffects;
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
