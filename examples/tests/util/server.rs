//! One server's side of a differential case: a QEMU or `minimal` process
//! listening on a unix socket ([`Server`]), and its replay of a case on a
//! fresh connection into a [`Transcript`].
//!
//! Every case ends with a terminator, `\x01` followed by a `query-version`
//! with id `"__end__"`. The control character discards whatever partial
//! message the case left behind (one error line) and the `{` after it
//! resynchronises the lexer, so the terminator always gets an answer carrying
//! that id whatever state the parser was left in; reading stops there. Pauses
//! between chunks only split writes; completion is never judged by time.
//!
//! QEMU answers every message of a case as soon as its last byte is read, so
//! `minimal` must too: it only gets the terminator once it has given as many
//! answers as QEMU gave before QEMU's terminator lines (one error and the
//! terminator's answer, plus the number the `\x01` ends when the case stops
//! in one). A message it holds back until more input arrives fails the case.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::case::{Case, End};
use super::compare::shown;
use super::STARTUP;

/// Failure guard for one case on one server; never used to decide completion.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between the chunks of a split message.
const CHUNK_PAUSE: Duration = Duration::from_millis(20);

/// The id of the terminator's request.
const END_ID: &str = "__end__";
/// Resets the parser (one `stray '\u0001'` error) and asks for an answer with `END_ID`.
const TERMINATOR: &[u8] = b"\x01{\"execute\":\"query-version\",\"id\":\"__end__\"}";

/// A server process listening on a unix socket.
#[derive(Debug)]
pub(super) struct Server {
    name: &'static str,
    child: Child,
    /// Where it listens.
    pub(super) socket: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `program` with `args` and a QMP socket in `dir`, its stderr
    /// to a log file there.
    pub(super) fn spawn(name: &'static str, program: &Path, args: &[&str], dir: &Path) -> Server {
        let socket = dir.join(format!("{name}.sock"));
        let log = dir.join(format!("{name}.log"));
        let stderr = std::fs::File::create(&log).expect("create the log file");
        let child = Command::new(program)
            .args(args)
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Server {
            name,
            child,
            socket,
            log,
        }
    }

    /// Connects, retrying until the socket accepts (it may not exist yet, or
    /// the backlog may be full while the previous connection is torn down).
    pub(super) fn connect(&mut self) -> Result<UnixStream, String> {
        let deadline = Instant::now() + STARTUP;
        loop {
            let err = match UnixStream::connect(&self.socket) {
                Ok(stream) => return Ok(stream),
                Err(e) => e,
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!(
                    "{} exited ({status}); its stderr:\n{log}",
                    self.name
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} does not accept connections on {} after {STARTUP:?}: {err}",
                    self.name,
                    self.socket.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server answers to `case` on a fresh connection. With
    /// `settle`, the terminator is only sent once that many answers (events
    /// aside) to the case have been read.
    pub(super) fn replay(&mut self, case: &Case, settle: Option<usize>) -> Transcript {
        let mut transcript = Transcript::default();
        if let Err(e) = self.session(case, settle, &mut transcript) {
            transcript.error = Some(e);
        }
        transcript
    }

    fn session(
        &mut self,
        case: &Case,
        settle: Option<usize>,
        transcript: &mut Transcript,
    ) -> Result<(), String> {
        let lines = &mut transcript.lines;
        let deadline = Instant::now() + CASE_TIMEOUT;
        let mut stream = self.connect()?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut next = |lines: &mut Vec<Vec<u8>>| next_json(&mut reader, deadline, lines);
        next(lines).map_err(|e| format!("no greeting: {e}"))?;
        if let Some(request) = case.nego.request() {
            stream.write_all(request).map_err(|e| e.to_string())?;
            while is_event(next(lines)?.as_ref()) {}
        }
        transcript.case_start = lines.len();
        for (i, chunk) in case.chunks.iter().enumerate() {
            if i > 0 {
                std::thread::sleep(CHUNK_PAUSE);
            }
            stream
                .write_all(chunk)
                .map_err(|e| format!("writing chunk {i}: {e}"))?;
        }
        let mut answers = 0;
        while settle.is_some_and(|n| answers < n) {
            let value = next(lines).map_err(|e| {
                format!(
                    "{e} (after {answers} of the {} answers QEMU gave before the terminator)",
                    settle.unwrap_or_default()
                )
            })?;
            if !is_event(value.as_ref()) {
                answers += 1;
            }
        }
        match case.end {
            End::Marker => {
                stream
                    .write_all(TERMINATOR)
                    .map_err(|e| format!("writing the terminator: {e}"))?;
                loop {
                    let value = next(lines)?;
                    if value.as_ref().and_then(|v| v.get("id")) == Some(&Value::from(END_ID)) {
                        return Ok(());
                    }
                }
            }
            End::Eof => loop {
                match next(lines) {
                    Ok(_) => {}
                    Err(e) if e == CLOSED => return Ok(()),
                    Err(e) => return Err(e),
                }
            },
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CLOSED: &str = "connection closed";

/// Reads one line into `lines`; its JSON value if it parses.
fn next_json(
    reader: &mut BufReader<UnixStream>,
    deadline: Instant,
    lines: &mut Vec<Vec<u8>>,
) -> Result<Option<Value>, String> {
    match read_line(reader, deadline) {
        Ok(Some(line)) => {
            let value = serde_json::from_slice(&line).ok();
            lines.push(line);
            Ok(value)
        }
        Ok(None) => Err(CLOSED.to_owned()),
        Err(e) => Err(format!("reading: {e}")),
    }
}

/// One line including its terminator; `None` at EOF.
fn read_line(reader: &mut BufReader<UnixStream>, deadline: Instant) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no complete answer within {CASE_TIMEOUT:?} (partial line {:?})",
                    shown(&line)
                ),
            ));
        }
        reader.get_ref().set_read_timeout(Some(left))?;
        match reader.read_until(b'\n', &mut line) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(_) if line.ends_with(b"\n") => return Ok(Some(line)),
            Ok(0) => return Ok(Some(line)),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether `value` is an event.
pub(super) fn is_event(value: Option<&Value>) -> bool {
    value.is_some_and(|v| v.get("event").is_some())
}

/// What one server answered: raw lines, and why reading stopped early if it did.
#[derive(Debug, Default)]
pub(super) struct Transcript {
    /// Every line read, the greeting first.
    pub(super) lines: Vec<Vec<u8>>,
    /// Index of the first line read after the case's input was sent.
    pub(super) case_start: usize,
    /// Why reading stopped early, if it did.
    pub(super) error: Option<String>,
}

/// How many answers (events aside) QEMU gave to `case` before its terminator
/// was read: all of them but the terminator's answer and the messages the
/// terminator's `\x01` ends (the stray byte, and a number or keyword the case
/// left waiting for a following byte; counted with our lexer, which the
/// parse-error cases hold to QEMU's). `None` when the case does not end with
/// the terminator or QEMU's transcript is incomplete.
pub(super) fn answers_before_terminator(case: &Case, qemu: &Transcript) -> Option<usize> {
    if case.end != End::Marker || qemu.error.is_some() {
        return None;
    }
    let answers = qemu.lines[qemu.case_start..]
        .iter()
        .filter(|line| !is_event(serde_json::from_slice(line).ok().as_ref()))
        .count();
    let input: Vec<u8> = case.chunks.concat();
    // Parsing and dropping 1024-deep messages recurses: the monitor thread
    // gets 8 MiB of stack, and so does this one.
    let ended = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let mut splitter = monitor_core::stream::Splitter::new();
            splitter.feed_all(&input);
            splitter.feed_all(&TERMINATOR[..1]).len()
        })
        .expect("spawn the lexer thread")
        .join()
        .expect("lex the case");
    answers.checked_sub(1 + ended)
}
