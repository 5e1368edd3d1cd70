//! The interactive human monitor: QEMU's line editor over a [`LineRunner`].
//!
//! [`HmpConsoleFactory`] plugs into a console listener of `monitor-core`
//! ([`MonitorBuilder::listen_console`](monitor_core::MonitorBuilder::listen_console),
//! [`Monitor::attach_console`](monitor_core::Monitor::attach_console)); each
//! connection gets an [`HmpConsole`] with its own line, cursor and history.
//! The console edits lines; the runner (the HMP command table) runs them and
//! proposes completions.
//!
//! What the operator sees is what QEMU 7.2's `util/readline.c` sends,
//! checked byte for byte against `qemu-system-x86_64` (`tests/console.rs`):
//! - on connect, the runner's banner, `\r\n` and the prompt `(qemu) `;
//! - after every change, the cursor goes back to the start of the line
//!   (`ESC [ D` per character), the whole line is printed, the rest of the
//!   screen line cleared (`ESC [ K`), and the cursor moved to its place
//!   (`ESC [ C` / `ESC [ D` per character); a cursor move alone sends only
//!   the moves;
//! - Enter sends `\r\n`, the command's output with every `\n` turned into
//!   `\r\n`, then the prompt; after `quit`, only the `\r\n`;
//! - the history keeps 64 lines per console; a line run again moves to the
//!   end instead of being repeated; empty lines are not kept; an entry
//!   recalled and edited is not changed;
//! - TAB with one candidate completes the word in place and adds a space
//!   (not after a `/`); with several, it prints `\r\n`, the candidates in
//!   columns 80 characters wide (`max(longest + 2, 10)` each), the prompt and
//!   the line again, the word extended to the candidates' common prefix.
//!
//! # Keys
//!
//! | key | action | QEMU 7.2 |
//! |---|---|---|
//! | printable characters (UTF-8), other bytes but 0x9b | insert at the cursor | same (bytes) |
//! | Enter (CR, LF, CR LF) | run the line | CR LF runs the line, then an empty one |
//! | Backspace (DEL 0x7f, BS 0x08) | delete before the cursor | same |
//! | Delete (`ESC [ 3 ~`) | delete under the cursor | same |
//! | Left, Right, Ctrl-B, Ctrl-F | move | arrows only |
//! | Home, End (`ESC [ 1~ 4~ 7~ 8~`, `ESC O H/F`, `ESC [ H/F`), Ctrl-A, Ctrl-E | start, end of line | `ESC [ H` ignored, `ESC [ F` is Up |
//! | Up, Down (`ESC [ A/B`, `ESC O A/B`, 0x9b `A/B`), Ctrl-P, Ctrl-N | history | arrows only, not `ESC O A/B` |
//! | Ctrl-W | delete the word before the cursor | same |
//! | Ctrl-K, Ctrl-U | delete to the end, to the start | ignored |
//! | TAB | complete | same |
//! | Ctrl-L | clear the screen (`ESC [ 2 J ESC [ 1 ; 1 H`), redraw | same |
//! | Ctrl-C | print `^C`, abandon the line, new prompt | ignored |
//! | Ctrl-D | delete under the cursor; on an empty line, `\r\n` and close | delete only |
//!
//! Other differences from QEMU, each deliberate:
//! - Characters are UTF-8 characters, not bytes: the cursor moves one
//!   character at a time (QEMU inserts bytes and lets the terminal sort
//!   them out). Bytes that are not valid UTF-8 are kept one by one, as
//!   QEMU keeps them: echoed as they came, and given to the runner as
//!   escape characters (U+EF80 + byte - 0x80) that the console writes back
//!   as the bytes, so `q\xb4` is the unknown command `q\xb4`, byte for
//!   byte as QEMU prints it. (A command's output that contains one of
//!   those 128 private-use characters is written as the byte too.) The
//!   line holds at most 4,095 characters (QEMU: bytes).
//! - Escape sequences are read whole: `ESC [ 1 ; 5 D` (Ctrl-Left) moves left
//!   where QEMU inserts `5D`, and unknown sequences are dropped. A control
//!   character inside a sequence ends it and still acts.
//! - The line is redrawn once per batch of input, not once per byte: typed
//!   keys give QEMU's bytes, a paste gives one redraw instead of one per
//!   character. A batch is what the server hands over, up to the key whose
//!   output takes the client's unsent output past the pause threshold
//!   (the `room` of [`Console::input`]); the rest waits until the client
//!   reads, so a flood of TABs (each lists the candidates and redraws the
//!   line) holds at most the threshold plus one key's output.
//! - Lines of blanks are added to the history (as QEMU) but not given to
//!   the runner (QEMU's parser prints nothing for them either).
//! - A command's output that does not end with a newline gets one, so the
//!   prompt starts a line; a `\r\n` in it is sent as is (QEMU: `\r\r\n`).
//! - A runner that panics prints an error line instead of ending the
//!   monitor thread.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use monitor_core::console::{Console, ConsoleEffects};
//! use monitor_core::SessionInfo;
//! use monitor_core::session::Dispatcher;
//! use monitor_core::{Emitter, ListenAddr, Monitor, Registry, StateMap};
//! use monitor_hmp::console::{HmpConsoleFactory, LineRunner};
//!
//! struct Runner;
//!
//! impl LineRunner for Runner {
//!     fn run(&self, _: &Dispatcher, _: &SessionInfo, line: &str) -> (String, ConsoleEffects) {
//!         match line.trim() {
//!             "info status" => ("VM status: running\n".into(), ConsoleEffects::default()),
//!             "quit" => (String::new(), ConsoleEffects { quit: true, close: false }),
//!             other => (format!("unknown command: '{other}'\n"), ConsoleEffects::default()),
//!         }
//!     }
//!     fn complete(&self, _: &Dispatcher, line: &str) -> Vec<String> {
//!         ["info", "quit"].iter().filter(|c| c.starts_with(line)).map(|c| c.to_string()).collect()
//!     }
//!     fn banner(&self, _: &Dispatcher) -> String {
//!         "QEMU 7.2.22 monitor - type 'help' for more information".into()
//!     }
//! }
//!
//! // Serve it on a socket...
//! let factory = Arc::new(HmpConsoleFactory::new(Arc::new(Runner)));
//! let path = std::env::temp_dir().join(format!("hmp-doc-{}.sock", std::process::id()));
//! let monitor = Monitor::builder()
//!     .listen_console(ListenAddr::Unix(path), factory.clone())
//!     .spawn()?;
//! monitor.shutdown();
//!
//! // ...or drive one directly: bytes in, bytes out.
//! let dispatcher = Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new());
//! let session = SessionInfo { id: 1, listener: "test".into(), oob: false };
//! let mut console = factory.console(&session);
//! let mut out = Vec::new();
//! console.start(&dispatcher, &mut out);
//! assert!(out.ends_with(b"information\r\n(qemu) "));
//! out.clear();
//! console.input(&dispatcher, b"q", &mut out, usize::MAX);
//! console.input(&dispatcher, b"\t", &mut out, usize::MAX);
//! assert_eq!(out, b"q\x1b[K\x1b[Dquit \x1b[K");
//! out.clear();
//! console.input(&dispatcher, b"\x1b[D\x1b[D\x7f\r", &mut out, usize::MAX);
//! // Left twice, then Backspace: "qut ". Enter draws the line, then runs it.
//! assert_eq!(out, b"\x1b[D\x1b[D\x1b[D\x1b[D\x1b[Dqut \x1b[K\x1b[D\x1b[D\r\nunknown command: 'qut'\r\n(qemu) ");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use monitor_core::console::{Console, ConsoleEffects, ConsoleFactory, ConsoleInput};
use monitor_core::session::Dispatcher;
use monitor_core::SessionInfo;

use self::editor::LineEditor;
use self::keys::{Decoder, Key};

mod editor;
mod keys;
mod raw;
#[cfg(test)]
mod screen;

/// QEMU's prompt.
pub const PROMPT: &str = "(qemu) ";

/// Candidates a completion considers; further ones are dropped (QEMU's
/// `READLINE_MAX_COMPLETIONS`).
pub const MAX_COMPLETIONS: usize = 256;

/// The width completion lists are laid out in.
const LIST_WIDTH: usize = 80;

const CLEAR_SCREEN: &[u8] = b"\x1b[2J\x1b[1;1H";

/// What a console runs: the HMP command table implements it.
///
/// The methods run on the monitor thread, one console at a time.
pub trait LineRunner: Send + Sync + 'static {
    /// Runs one command line (never blank; without its line ending).
    ///
    /// Returns the text to print, lines separated by `"\n"` (the console
    /// sends `"\r\n"`, and adds a final newline if missing), and the
    /// effects: `quit` stops the monitor, `close` ends this console; either
    /// way no prompt follows and the rest of the input is ignored.
    fn run(
        &self,
        dispatcher: &Dispatcher,
        session: &SessionInfo,
        line: &str,
    ) -> (String, ConsoleEffects);

    /// Completions for the text before the cursor.
    ///
    /// Each candidate is a whole word to replace the word being typed: the
    /// text after the last blank of `line_before_cursor` (empty after a
    /// blank). Candidates normally start with that word. One candidate
    /// replaces the word and adds a blank (unless it ends with `/`);
    /// several are listed, and the word is extended to their longest common
    /// prefix.
    fn complete(&self, dispatcher: &Dispatcher, line_before_cursor: &str) -> Vec<String>;

    /// The banner line, e.g. `QEMU 7.2.22 monitor - type 'help' for more
    /// information`, without a newline; empty for none.
    fn banner(&self, dispatcher: &Dispatcher) -> String;
}

/// Makes an [`HmpConsole`] per connection.
pub struct HmpConsoleFactory<R> {
    runner: Arc<R>,
    prompt: Arc<str>,
}

impl<R: LineRunner> HmpConsoleFactory<R> {
    /// Consoles running lines through `runner`, with QEMU's prompt.
    pub fn new(runner: Arc<R>) -> Self {
        HmpConsoleFactory {
            runner,
            prompt: Arc::from(PROMPT),
        }
    }

    /// Replaces the prompt (`(qemu) ` by default; scripts that drive HMP
    /// often wait for that one).
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Arc::from(prompt.into());
        self
    }

    /// A console for `session`, as [`ConsoleFactory::open`] makes, with its
    /// type.
    pub fn console(&self, session: &SessionInfo) -> HmpConsole<R> {
        HmpConsole {
            runner: Arc::clone(&self.runner),
            prompt: Arc::clone(&self.prompt),
            session: session.clone(),
            decoder: Decoder::default(),
            editor: LineEditor::default(),
            closed: false,
        }
    }
}

impl<R: LineRunner> ConsoleFactory for HmpConsoleFactory<R> {
    fn open(&self, session: &SessionInfo) -> Box<dyn Console> {
        Box::new(self.console(session))
    }
}

impl<R> fmt::Debug for HmpConsoleFactory<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmpConsoleFactory")
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

/// One operator's console: a line editor feeding a [`LineRunner`].
pub struct HmpConsole<R> {
    runner: Arc<R>,
    prompt: Arc<str>,
    session: SessionInfo,
    decoder: Decoder,
    editor: LineEditor,
    /// A line quit or closed: the rest of the input is ignored.
    closed: bool,
}

impl<R> fmt::Debug for HmpConsole<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmpConsole")
            .field("session", &self.session)
            .field("editor", &self.editor)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<R: LineRunner> Console for HmpConsole<R> {
    fn start(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>) {
        let banner = self.runner.banner(dispatcher);
        if !banner.is_empty() {
            out.extend_from_slice(banner.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.prompt(out);
    }

    fn input(
        &mut self,
        dispatcher: &Dispatcher,
        bytes: &[u8],
        out: &mut Vec<u8>,
        room: usize,
    ) -> ConsoleInput {
        let all = ConsoleInput {
            used: bytes.len(),
            effects: ConsoleEffects::default(),
        };
        if self.closed {
            return all;
        }
        let start = out.len();
        for (i, &byte) in bytes.iter().enumerate() {
            for key in self.decoder.feed(byte) {
                let effects = self.key(dispatcher, key, out);
                if effects.quit || effects.close {
                    self.closed = true;
                    return ConsoleInput {
                        used: i + 1,
                        effects,
                    };
                }
            }
            // Output passed the room: the rest waits until the client
            // has read (each TAB may list every command again).
            if out.len() - start > room && i + 1 < bytes.len() {
                self.editor.render(out);
                return ConsoleInput {
                    used: i + 1,
                    effects: ConsoleEffects::default(),
                };
            }
        }
        self.editor.render(out);
        all
    }
}

impl<R: LineRunner> HmpConsole<R> {
    fn key(&mut self, dispatcher: &Dispatcher, key: Key, out: &mut Vec<u8>) -> ConsoleEffects {
        let e = &mut self.editor;
        match key {
            Key::Char(c) => e.insert(c),
            Key::Enter => return self.enter(dispatcher, out),
            Key::Tab => self.complete(dispatcher, out),
            Key::Backspace => e.backspace(),
            Key::Delete => e.delete(),
            Key::CtrlD if e.is_empty() => {
                e.render(out);
                out.extend_from_slice(b"\r\n");
                return ConsoleEffects {
                    quit: false,
                    close: true,
                };
            }
            Key::CtrlD => e.delete(),
            Key::Left => e.left(),
            Key::Right => e.right(),
            Key::Home => e.home(),
            Key::End => e.end(),
            Key::Up => e.up(),
            Key::Down => e.down(),
            Key::KillToEnd => e.kill_to_end(),
            Key::KillToStart => e.kill_to_start(),
            Key::KillWordBack => e.kill_word_back(),
            Key::Interrupt => {
                e.render(out);
                e.end();
                e.render(out);
                out.extend_from_slice(b"^C\r\n");
                e.discard_line();
                self.prompt(out);
            }
            Key::ClearScreen => {
                out.extend_from_slice(CLEAR_SCREEN);
                self.prompt(out);
            }
        }
        ConsoleEffects::default()
    }

    /// Runs the line; prints its output and, unless it ends the console,
    /// the next prompt.
    fn enter(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>) -> ConsoleEffects {
        self.editor.render(out);
        let line = self.editor.take_line();
        out.extend_from_slice(b"\r\n");
        let mut effects = ConsoleEffects::default();
        if !line.trim().is_empty() {
            let ran = catch_unwind(AssertUnwindSafe(|| {
                self.runner.run(dispatcher, &self.session, &line)
            }));
            let text = match ran {
                Ok((text, e)) => {
                    effects = e;
                    text
                }
                Err(_) => "The command has failed unexpectedly\n".to_owned(),
            };
            write_text(out, &text);
        }
        if !(effects.quit || effects.close) {
            self.prompt(out);
        }
        effects
    }

    /// Completes the word before the cursor, or lists the candidates.
    fn complete(&mut self, dispatcher: &Dispatcher, out: &mut Vec<u8>) {
        let before = self.editor.before_cursor();
        let start = self.editor.word_start();
        let mut candidates = catch_unwind(AssertUnwindSafe(|| {
            self.runner.complete(dispatcher, &before)
        }))
        .unwrap_or_default();
        candidates.truncate(MAX_COMPLETIONS);
        match candidates.as_slice() {
            [] => {}
            [only] => {
                self.editor.replace_before_cursor(start, only);
                if !only.is_empty() && !only.ends_with('/') {
                    self.editor.insert(' ');
                }
            }
            all => {
                // The line as typed stays on screen above the list.
                self.editor.render(out);
                out.extend_from_slice(b"\r\n");
                write_columns(out, all);
                let word: String = before.chars().skip(start).collect();
                let prefix = common_prefix(all);
                if prefix.len() > word.len() && prefix.starts_with(&word) {
                    self.editor.replace_before_cursor(start, prefix);
                }
                self.prompt(out);
            }
        }
    }

    fn prompt(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prompt.as_bytes());
        self.editor.prompt_shown();
    }
}

/// Appends a command's output, `\n` as `\r\n`, ending with a newline;
/// the bytes of the line it quotes are written back as they came.
fn write_text(out: &mut Vec<u8>, text: &str) {
    let mut previous = '\0';
    for c in text.chars() {
        if c == '\n' && previous != '\r' {
            out.push(b'\r');
        }
        raw::push(out, c);
        previous = c;
    }
    if !text.is_empty() && previous != '\n' {
        out.extend_from_slice(b"\r\n");
    }
}

/// Lists completion candidates as QEMU's `readline_completion` does: in
/// columns of the longest candidate plus two (at least 10, at most 80), as
/// many as fit in 80, each row ending with a newline.
fn write_columns(out: &mut Vec<u8>, candidates: &[String]) {
    let longest = candidates
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let width = (longest + 2).clamp(10, LIST_WIDTH);
    let columns = LIST_WIDTH / width;
    for (i, candidate) in candidates.iter().enumerate() {
        out.extend_from_slice(candidate.as_bytes());
        let pad = width.saturating_sub(candidate.chars().count());
        out.resize(out.len() + pad, b' ');
        if (i + 1) % columns == 0 || i + 1 == candidates.len() {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The longest prefix all candidates share (whole characters).
fn common_prefix(candidates: &[String]) -> &str {
    let Some((first, rest)) = candidates.split_first() else {
        return "";
    };
    let mut len = first.len();
    for other in rest {
        len = first
            .char_indices()
            .zip(other.chars())
            .find(|((_, a), b)| a != b)
            .map_or(len.min(other.len()), |((i, _), _)| i.min(len));
    }
    &first[..len]
}

#[cfg(test)]
mod tests;
