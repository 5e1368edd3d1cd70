//! `-monitor stdio`: the process's terminal as one more console of the
//! monitor, in raw mode as QEMU puts it.
//!
//! The monitor serves sockets only, so [`attach`] bridges stdin and stdout
//! to one end of a socket pair whose other end the monitor serves as a
//! console ([`Monitor::attach_console`]). The console's line editor
//! ([`console`](crate::console)) echoes, edits, completes and recalls
//! history itself, so it must get every key as it is typed: when stdin is
//! a terminal, [`attach`] saves the terminal's settings and sets QEMU's raw
//! mode (what `qemu_chr_set_echo_stdio(chr, false)` in QEMU's
//! `chardev/char-stdio.c` sets):
//!
//! - no line editing and no echo by the terminal (`-icanon -echo -echonl
//!   -iexten`): TAB completes at once, a line appears once;
//! - no translation of input (`-icrnl -inlcr -igncr -istrip`), no XON/XOFF
//!   (`-ixon`), no break handling (`-ignbrk -brkint -parmrk`); 8-bit bytes
//!   without parity (`cs8 -parenb`); a read returns after one byte
//!   (`min 1 time 0`);
//! - output post-processing kept (`opost`): a `\n` on stderr still starts
//!   a new line;
//! - signals kept (`isig`): Ctrl-C, Ctrl-\ and Ctrl-Z still send theirs, as
//!   with QEMU's default `signal=on`.
//!
//! The settings go back as they were when [`StdioConsole::restore`] is
//! called or the [`StdioConsole`] is dropped, when stdin ends (a hung-up
//! terminal), and when the monitor closes the console (`quit`, Ctrl-D on an
//! empty line, [`Monitor::shutdown`]). [`restore_terminal`] does it without
//! the handle, for a thread that handles signals or an exit hook:
//! [`std::process::exit`] runs no destructors, so a VMM that exits that
//! way calls it first.
//!
//! When stdin is not a terminal (a pipe, a file), its settings are left
//! alone and each `\n` is given to the console as `\r`, so that
//! `echo 'info status' | vmm -monitor stdio` runs the line.
//!
//! # Examples
//!
//! ```no_run
//! use monitor_core::Monitor;
//! use monitor_hmp::Hmp;
//!
//! let hmp = Hmp::new();
//! let monitor = hmp.install(Monitor::builder()).spawn()?;
//! // The terminal turns raw and shows `(qemu) `.
//! let console = monitor_hmp::stdio::attach(&monitor, hmp.console())?;
//! // Until the operator types `quit`.
//! monitor.wait()?;
//! // The terminal as it was (dropping `console` does the same).
//! console.restore()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Monitor::attach_console`]: monitor_core::Monitor::attach_console
//! [`Monitor::shutdown`]: monitor_core::Monitor::shutdown

mod terminal;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use monitor_core::console::ConsoleFactory;
use monitor_core::Monitor;
use thiserror::Error;

/// How long dropping a [`StdioConsole`] waits for what the monitor already
/// sent (the line end after `quit`) to reach the terminal, so that it comes
/// before the shell's prompt.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// Whether stdin is bridged to a console already: it has one reader.
static ATTACHED: AtomicBool = AtomicBool::new(false);

/// Why [`attach`] failed. The terminal is left as it was.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StdioError {
    /// Stdin is already bridged to a console (one per process).
    #[error("stdin is already attached to a console")]
    AlreadyAttached,
    /// The terminal's settings cannot be read or changed.
    #[error("cannot put the terminal in raw mode")]
    Terminal(#[source] io::Error),
    /// The socket pair between the terminal and the monitor.
    #[error("cannot create the console's socket pair")]
    Socket(#[source] io::Error),
    /// A thread that copies bytes between the terminal and the monitor.
    #[error("cannot start the terminal's bridge threads")]
    Thread(#[source] io::Error),
}

/// The terminal attached by [`attach`]: puts its settings back when
/// dropped.
///
/// Dropping it first waits, half a second at most, for the bytes the
/// monitor already sent to reach the terminal, which takes no time once the
/// monitor has stopped ([`Monitor::wait`](monitor_core::Monitor::wait)
/// returned).
#[must_use = "dropping it puts the terminal back in line mode at once"]
pub struct StdioConsole {
    raw: bool,
    /// Disconnected when the output bridge ends (the console closed).
    output_done: Mutex<Receiver<()>>,
}

impl fmt::Debug for StdioConsole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdioConsole")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

impl StdioConsole {
    /// Whether stdin is a terminal that [`attach`] put in raw mode.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Puts the terminal's settings back, as [`restore_terminal`] does:
    /// `true` if it did, `false` if there was nothing to do (not a
    /// terminal, or restored already). The console keeps running, on a
    /// terminal that edits lines again.
    ///
    /// # Errors
    ///
    /// The terminal refused the settings (it hung up); they stay saved for
    /// another try.
    pub fn restore(&self) -> io::Result<bool> {
        restore_terminal()
    }
}

impl Drop for StdioConsole {
    fn drop(&mut self) {
        let done = self
            .output_done
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = done.recv_timeout(DRAIN_GRACE);
        // Nothing more can be done about a terminal that refuses.
        let _ = restore_terminal();
    }
}

/// Serves stdin and stdout as a console of `monitor`, made by `factory`
/// (e.g. [`Hmp::console`](crate::Hmp::console)); when stdin is a terminal,
/// in raw mode until the returned handle is dropped (see the
/// [module](self) for when else the terminal is restored).
///
/// Two threads copy the bytes, `stdin-bridge` and `stdout-bridge`; they
/// end when their side closes.
///
/// # Errors
///
/// See [`StdioError`]; the terminal is left as it was.
pub fn attach(
    monitor: &Monitor,
    factory: Arc<dyn ConsoleFactory>,
) -> Result<StdioConsole, StdioError> {
    if ATTACHED.swap(true, Ordering::SeqCst) {
        return Err(StdioError::AlreadyAttached);
    }
    let bridged = bridge();
    match bridged {
        Ok((console, theirs)) => {
            monitor.attach_console(theirs, factory);
            Ok(console)
        }
        Err(e) => {
            ATTACHED.store(false, Ordering::SeqCst);
            Err(e)
        }
    }
}

/// Puts the terminal's settings from before [`attach`] back on stdin:
/// `true` if it did, `false` if there was nothing to do (stdin is not a
/// terminal, was never attached, or is restored already). Any thread may
/// call it, any number of times.
///
/// It takes a lock, so it is not for a signal handler itself: call it from
/// a thread that waits for signals (as `signal-hook`'s iterator does), or
/// before [`std::process::exit`], which skips the [`StdioConsole`]'s
/// destructor.
///
/// # Errors
///
/// The terminal refused the settings (it hung up); they stay saved for
/// another try.
///
/// # Examples
///
/// ```no_run
/// // Leaving without unwinding: the terminal first.
/// let _ = monitor_hmp::stdio::restore_terminal();
/// std::process::exit(0);
/// ```
pub fn restore_terminal() -> io::Result<bool> {
    terminal::restore_stdin()
}

/// Makes stdin raw and starts both bridge threads; the socket for the
/// monitor. Undoes the raw mode if a thread cannot start.
fn bridge() -> Result<(StdioConsole, UnixStream), StdioError> {
    let (ours, theirs) = UnixStream::pair().map_err(StdioError::Socket)?;
    let to_monitor = ours.try_clone().map_err(StdioError::Socket)?;
    // Raw before the banner is shown, so that no key is taken cooked.
    let raw = terminal::make_stdin_raw().map_err(StdioError::Terminal)?;
    let (done, output_done) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("stdin-bridge".into())
        .spawn(move || forward_input(to_monitor, raw))
        .and_then(|_| {
            std::thread::Builder::new()
                .name("stdout-bridge".into())
                .spawn(move || forward_output(ours, done))
        });
    if let Err(e) = started {
        // The stdin bridge, if it started, ends once `theirs` is dropped
        // and its next write fails.
        let _ = terminal::restore_stdin();
        return Err(StdioError::Thread(e));
    }
    let console = StdioConsole {
        raw,
        output_done: Mutex::new(output_done),
    };
    Ok((console, theirs))
}

/// Copies stdin to the console until either side closes.
fn forward_input(mut to_monitor: UnixStream, raw: bool) {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let bytes = &mut buf[..n];
        if !raw {
            // A pipe's lines end with "\n"; Enter is "\r" (a raw terminal
            // sends that itself).
            bytes
                .iter_mut()
                .filter(|b| **b == b'\n')
                .for_each(|b| *b = b'\r');
        }
        if to_monitor.write_all(bytes).is_err() {
            break;
        }
    }
    // Stdin ended (a hung-up terminal): nobody types any more.
    let _ = terminal::restore_stdin();
    let _ = to_monitor.shutdown(Shutdown::Write);
}

/// Copies the console's output to stdout until the console closes, then
/// restores the terminal; `done` is dropped on the way out.
fn forward_output(mut from_monitor: UnixStream, done: Sender<()>) {
    let mut stdout = io::stdout();
    let mut buf = [0u8; 4096];
    loop {
        let n = match from_monitor.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if stdout
            .write_all(&buf[..n])
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    // The monitor closed the console (`quit`, Ctrl-D, shutdown), after its
    // last bytes were written: the terminal edits lines again.
    let _ = terminal::restore_stdin();
    drop(done);
}
