//! Harness for the differential suite: runs QEMU 7.2 and `minimal` side by
//! side, replays the same bytes to each on a fresh connection, and compares
//! the normalised answers.
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
//!
//! Lines are compared as JSON values, and also by the wire text of their
//! strings and numbers and the order of their object members, so that `100`
//! against `1e2`, or `{"b": 1, "a": 2}` against `{"a": 2, "b": 1}`, differ.

#![allow(dead_code)] // each test file uses a different part

pub mod rng;
pub mod vmm;

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The reference implementation.
const QEMU: &str = "qemu-system-x86_64";
/// How long a server may take to start accepting connections.
const STARTUP: Duration = Duration::from_secs(20);
/// Failure guard for one case on one server; never used to decide completion.
const CASE_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause between the chunks of a split message.
const CHUNK_PAUSE: Duration = Duration::from_millis(20);
/// Lines of context shown around the first difference.
const CONTEXT: usize = 6;
/// Characters of one line or of the input shown in a report.
const SHOWN: usize = 400;

/// Set to print every QEMU transcript (with `--nocapture`).
const SHOW_VAR: &str = "DIFFERENTIAL_SHOW";

/// The id of the terminator's request.
const END_ID: &str = "__end__";
/// Resets the parser (one `stray '\u0001'` error) and asks for an answer with `END_ID`.
const TERMINATOR: &[u8] = b"\x01{\"execute\":\"query-version\",\"id\":\"__end__\"}";

/// How a case negotiates capabilities before sending its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nego {
    /// Stay in capabilities negotiation mode.
    None,
    /// `qmp_capabilities` without arguments: command mode, OOB disabled.
    Plain,
    /// `qmp_capabilities` enabling `oob`.
    Oob,
}

impl Nego {
    fn request(self) -> Option<&'static [u8]> {
        match self {
            Nego::None => None,
            Nego::Plain => Some(br#"{"execute":"qmp_capabilities"}"#),
            Nego::Oob => Some(br#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"#),
        }
    }
}

/// When a case's transcript is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Send the terminator and read up to its answer.
    Marker,
    /// Read until the server closes the connection (`quit`).
    Eof,
}

/// One input replayed to both servers.
#[derive(Debug, Clone)]
pub struct Case {
    /// Unique name, shown in failures.
    pub name: String,
    /// Negotiation done before the input.
    pub nego: Nego,
    /// The input, written chunk by chunk with a short pause in between.
    pub chunks: Vec<Vec<u8>>,
    /// How the transcript ends.
    pub end: End,
    /// Events compared (timestamp masked) instead of dropped.
    pub keep_events: Vec<&'static str>,
    /// Answers compared as a multiset, not in order.
    pub unordered: bool,
}

impl Case {
    /// A case written in one go.
    pub fn new(name: impl Into<String>, nego: Nego, input: impl AsRef<[u8]>) -> Self {
        Case::split(name, nego, &[input.as_ref()])
    }

    /// A case written in several chunks.
    pub fn split(name: impl Into<String>, nego: Nego, chunks: &[&[u8]]) -> Self {
        Case {
            name: name.into(),
            nego,
            chunks: chunks.iter().map(|c| c.to_vec()).collect(),
            end: End::Marker,
            keep_events: Vec::new(),
            unordered: false,
        }
    }

    /// Compares the answers whatever their order: with `oob` enabled, QEMU
    /// answers an `exec-oob` request from its I/O thread while earlier
    /// in-band requests wait for the main loop, so which comes first is a
    /// race there.
    pub fn unordered(mut self) -> Self {
        self.unordered = true;
        self
    }

    /// Reads until EOF instead of sending the terminator.
    pub fn until_eof(mut self) -> Self {
        self.end = End::Eof;
        self
    }

    /// Compares events named `name` (timestamps masked) instead of dropping them.
    pub fn keep_event(mut self, name: &'static str) -> Self {
        self.keep_events.push(name);
        self
    }
}

/// Runs `cases` against a fresh QEMU and a fresh `minimal`; panics listing
/// every case whose normalised transcripts differ. With `DIFFERENTIAL_SHOW`
/// set, prints what QEMU answered to each case.
///
/// Returns without running anything (after saying so on stderr) when QEMU is
/// not installed, unless `CI` is set, in which case that is a failure.
pub fn run_group(group: &str, cases: Vec<Case>) {
    let mut names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        panic!("{group}: duplicate case name {}", w[0]);
    }
    let Some(mut pair) = Pair::start() else {
        return;
    };
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(report) = pair.differ(group, case) {
            failures.push(report);
        }
    }
    eprintln!(
        "differential {group}: {} cases, {} differ",
        cases.len(),
        failures.len()
    );
    if !failures.is_empty() {
        panic!(
            "{group}: {} of {} cases differ from QEMU\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("monitor-diff-{}-{n}", std::process::id()));
        // A leftover from a crashed run with a recycled pid.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// QEMU and `minimal`, killed on drop; the directory goes last.
#[derive(Debug)]
pub struct Pair {
    qemu: Server,
    ours: Server,
    _dir: TempDir,
}

impl Pair {
    /// The sockets of QEMU and of `minimal`.
    pub fn sockets(&self) -> (&Path, &Path) {
        (&self.qemu.socket, &self.ours.socket)
    }

    /// Replays `case` to QEMU, then to `minimal`; a report of the first
    /// difference, or `None` when the normalised transcripts match. With
    /// `DIFFERENTIAL_SHOW` set, prints what QEMU answered.
    pub fn differ(&mut self, group: &str, case: &Case) -> Option<String> {
        let qemu = self.qemu.replay(case, None);
        if std::env::var_os(SHOW_VAR).is_some() {
            eprintln!("--- {group} / {}: qemu said", case.name);
            for line in &qemu.lines {
                eprintln!("    {}", shown(line));
            }
        }
        let ours = self
            .ours
            .replay(case, answers_before_terminator(case, &qemu));
        compare(case, &qemu, &ours)
    }

    /// Starts both (or says SKIPPED and returns `None` without QEMU, outside CI).
    pub fn start() -> Option<Pair> {
        let Some(qemu) = find_in_path(QEMU) else {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{QEMU} not found on PATH; the differential suite must run in CI (install QEMU 7.2)");
            }
            eprintln!("SKIPPED: {QEMU} not found; differential suite not run");
            return None;
        };
        let dir = TempDir::new();
        let mut qemu = Server::spawn(
            "qemu",
            &qemu,
            &[
                "-machine",
                "none",
                "-accel",
                "tcg",
                "-display",
                "none",
                "-nodefaults",
            ],
            &dir.0,
        );
        let mut ours = Server::spawn(
            "minimal",
            Path::new(env!("CARGO_BIN_EXE_minimal")),
            &[],
            &dir.0,
        );
        for server in [&mut qemu, &mut ours] {
            if let Err(e) = server.connect() {
                panic!("{e}");
            }
        }
        Some(Pair {
            qemu,
            ours,
            _dir: dir,
        })
    }
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A server process listening on a unix socket.
#[derive(Debug)]
struct Server {
    name: &'static str,
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Server {
    fn spawn(name: &'static str, program: &Path, args: &[&str], dir: &Path) -> Server {
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
    fn connect(&mut self) -> Result<UnixStream, String> {
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
    fn replay(&mut self, case: &Case, settle: Option<usize>) -> Transcript {
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

fn is_event(value: Option<&Value>) -> bool {
    value.is_some_and(|v| v.get("event").is_some())
}

/// What one server answered: raw lines, and why reading stopped early if it did.
#[derive(Debug, Default)]
struct Transcript {
    lines: Vec<Vec<u8>>,
    /// Index of the first line read after the case's input was sent.
    case_start: usize,
    error: Option<String>,
}

/// How many answers (events aside) QEMU gave to `case` before its terminator
/// was read: all of them but the terminator's answer and the messages the
/// terminator's `\x01` ends (the stray byte, and a number or keyword the case
/// left waiting for a following byte; counted with our lexer, which the
/// parse-error cases hold to QEMU's). `None` when the case does not end with
/// the terminator or QEMU's transcript is incomplete.
fn answers_before_terminator(case: &Case, qemu: &Transcript) -> Option<usize> {
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

/// A line reduced to what must match QEMU.
#[derive(Debug)]
struct Line {
    /// The line as received.
    raw: Vec<u8>,
    /// Parsed and normalised, if it is JSON serde_json can read.
    json: Option<Value>,
    /// Wire text of every string and number, sorted, when the line was not
    /// normalised: catches what `Value` equality hides (`100` vs `1e2`,
    /// `\u00E9` vs `\u00e9` vs a raw `é`).
    scalars: Option<Vec<String>>,
    /// Wire text of every object member name, in order, when the line was
    /// not normalised: catches what `Value` equality hides (member order).
    keys: Option<Vec<String>>,
}

impl PartialEq for Line {
    fn eq(&self, other: &Line) -> bool {
        match (&self.json, &other.json) {
            (Some(a), Some(b)) => {
                a == b
                    && self.raw.ends_with(b"\r\n") == other.raw.ends_with(b"\r\n")
                    && self.raw.is_ascii() == other.raw.is_ascii()
                    && (self.scalars.is_none()
                        || other.scalars.is_none()
                        || self.scalars == other.scalars)
                    && (self.keys.is_none() || other.keys.is_none() || self.keys == other.keys)
            }
            _ => self.raw == other.raw,
        }
    }
}

/// Drops events (unless kept), masks the greeting's version, the results of
/// `query-version` and `query-commands`, and kept events' timestamps.
fn normalise(case: &Case, transcript: &Transcript) -> Vec<Line> {
    let mut out = Vec::new();
    for (i, raw) in transcript.lines.iter().enumerate() {
        let Some(mut value) = parse_line(raw) else {
            out.push(Line {
                raw: raw.clone(),
                json: None,
                scalars: None,
                keys: None,
            });
            continue;
        };
        let mut masked = false;
        if i == 0 {
            if let Some(qmp) = value.get_mut("QMP").and_then(Value::as_object_mut) {
                masked = qmp.remove("version").is_some();
            }
        } else if let Some(name) = value.get("event").cloned() {
            if !case.keep_events.iter().any(|kept| name == *kept) {
                continue;
            }
            if let Some(ts) = value.get_mut("timestamp") {
                *ts = Value::from("<timestamp>");
                masked = true;
            }
        } else if let Some(ret) = value.get_mut("return") {
            let placeholder = if ret.get("qemu").is_some() && ret.get("package").is_some() {
                Some("<query-version>")
            } else if ret.as_array().is_some_and(|items| {
                !items.is_empty() && items.iter().all(|item| item.get("name").is_some())
            }) {
                Some("<query-commands>")
            } else {
                None
            };
            if let Some(placeholder) = placeholder {
                *ret = Value::from(placeholder);
                masked = true;
            }
        }
        out.push(Line {
            raw: raw.clone(),
            json: Some(value),
            scalars: (!masked).then(|| scalars(raw).0),
            keys: (!masked).then(|| scalars(raw).1),
        });
    }
    out
}

/// A line as JSON; QEMU's `inf`, `-inf` and `nan` (which are not JSON, and
/// which it writes for numbers beyond a double) read as the strings
/// `"<inf>"`, `"<-inf>"` and `"<nan>"`, so that the rest of the line is
/// still normalised.
fn parse_line(raw: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice(raw) {
        return Some(value);
    }
    let mut text = Vec::with_capacity(raw.len() + 16);
    let mut in_string = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if in_string {
            text.push(b);
            match b {
                b'\\' if i + 1 < raw.len() => {
                    text.push(raw[i + 1]);
                    i += 1;
                }
                b'"' => in_string = false,
                _ => {}
            }
        } else if let Some(word) = [&b"-inf"[..], b"inf", b"-nan", b"nan"]
            .into_iter()
            .find(|w| raw[i..].starts_with(w))
        {
            text.extend_from_slice(b"\"<");
            text.extend_from_slice(word);
            text.extend_from_slice(b">\"");
            i += word.len() - 1;
        } else {
            in_string = b == b'"';
            text.push(b);
        }
        i += 1;
    }
    serde_json::from_slice(&text).ok()
}

/// The wire text of every string and number in a JSON line, sorted; and of
/// every member name (a string followed by `:`), in order.
fn scalars(raw: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let start = i;
        match raw[i] {
            b'"' => {
                i += 1;
                while i < raw.len() && raw[i] != b'"' {
                    i += if raw[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(raw.len());
            }
            b'-' | b'0'..=b'9' => {
                while i < raw.len()
                    && matches!(raw[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
            }
            _ => {
                i += 1;
                continue;
            }
        }
        let text = String::from_utf8_lossy(&raw[start..i]).into_owned();
        let after = raw[i..].iter().find(|b| !b.is_ascii_whitespace());
        if raw[start] == b'"' && after == Some(&b':') {
            keys.push(text.clone());
        }
        out.push(text);
    }
    out.sort_unstable();
    (out, keys)
}

/// A report when the transcripts differ, `None` when they match.
fn compare(case: &Case, qemu: &Transcript, ours: &Transcript) -> Option<String> {
    let (mut a, mut b) = (normalise(case, qemu), normalise(case, ours));
    if case.unordered {
        for lines in [&mut a, &mut b] {
            lines.sort_by_cached_key(|line| match &line.json {
                Some(value) => value.to_string(),
                None => String::from_utf8_lossy(&line.raw).into_owned(),
            });
        }
    }
    if qemu.error.is_none() && ours.error.is_none() && a == b {
        return None;
    }
    let first = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut report = format!("=== case `{}` (negotiation: {:?})\n", case.name, case.nego);
    let sent: Vec<String> = case.chunks.iter().map(|c| shown(c)).collect();
    let _ = writeln!(report, "sent: {}", sent.join(" | "));
    for (who, transcript, lines) in [("qemu", qemu, &a), ("ours", ours, &b)] {
        let _ = writeln!(
            report,
            "{who}: {} lines ({} after normalisation){}",
            transcript.lines.len(),
            lines.len(),
            transcript
                .error
                .as_ref()
                .map(|e| format!(", stopped early: {e}"))
                .unwrap_or_default()
        );
        let from = first.saturating_sub(CONTEXT);
        let to = (first + CONTEXT).min(lines.len());
        if from > 0 {
            let _ = writeln!(report, "  ... {from} equal lines");
        }
        for (n, line) in lines.iter().enumerate().take(to).skip(from) {
            let mark = if n == first { ">" } else { " " };
            let _ = writeln!(report, " {mark}{n:4} {}", shown(&line.raw));
        }
        if to < lines.len() {
            let _ = writeln!(report, "  ... {} more lines", lines.len() - to);
        }
    }
    Some(report)
}

/// Bytes as escaped ASCII, cut to a readable length.
fn shown(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() <= SHOWN {
        text
    } else {
        format!("{}... ({} bytes)", &text[..SHOWN], bytes.len())
    }
}

fn temp_path(tag: &str, ext: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-py-{tag}-{}-{n}.{ext}", std::process::id()))
}

/// The `minimal` example, killed when dropped; its stderr goes to a file
/// that is shown when the test fails.
pub struct Minimal {
    child: Child,
    /// Where it listens.
    pub socket: PathBuf,
    log: PathBuf,
}

impl Minimal {
    /// Starts it on a fresh socket and waits until it accepts connections.
    pub fn spawn() -> Minimal {
        Self::spawn_with(&[], "debug")
    }

    /// [`spawn`](Self::spawn) with more options and a log level
    /// (`MONITOR_LOG`).
    pub fn spawn_with(options: &[&str], log_level: &str) -> Minimal {
        let mut minimal = Self::start(options, log_level);
        minimal.wait_listening();
        minimal
    }

    /// [`spawn_with`](Self::spawn_with) without waiting: no probing
    /// connection is made (so none can still be open when a test counts
    /// the process's descriptors); the first connection must retry until
    /// the socket exists.
    pub fn start(options: &[&str], log_level: &str) -> Minimal {
        Self::launch(
            Command::new(env!("CARGO_BIN_EXE_minimal")),
            options,
            log_level,
        )
    }

    /// [`start`](Self::start) under a soft and hard `RLIMIT_NOFILE` of
    /// `nofile`, set with `ulimit -n` in a shell that then `exec`s
    /// `minimal`: the real limit, read the way the monitor reads it.
    pub fn start_with_nofile(nofile: u32, options: &[&str], log_level: &str) -> Minimal {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(r#"ulimit -n "$1" && shift && exec "$@""#)
            .arg("sh")
            .arg(nofile.to_string())
            .arg(env!("CARGO_BIN_EXE_minimal"));
        Self::launch(shell, options, log_level)
    }

    /// Runs `command` (which runs `minimal`) with `options` and a QMP
    /// socket of its own, its stderr to a log file.
    fn launch(mut command: Command, options: &[&str], log_level: &str) -> Minimal {
        let socket = temp_path("solo", "sock");
        let log = temp_path("solo", "log");
        let child = command
            .args(options)
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .env("MONITOR_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start minimal");
        Minimal { child, socket, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `timeout`) for the process to exit; its status, or
    /// `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll minimal") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll minimal").is_none()
    }

    /// Retries connecting until the socket accepts, or fails at the deadline.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll minimal") {
                panic!("minimal exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "minimal did not listen on {} within {STARTUP:?}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Minimal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- minimal's stderr ---\n{log}");
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.log);
    }
}
