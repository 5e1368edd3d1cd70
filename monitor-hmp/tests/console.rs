//! The console over real sockets, and against QEMU 7.2 byte for byte.
//!
//! Reads wait for the bytes they expect; the read timeout and the deadline
//! only turn a hang into a failure.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_core::console::{Console, ConsoleEffects};
use monitor_core::session::Dispatcher;
use monitor_core::SessionInfo;
use monitor_core::{Emitter, Exit, ListenAddr, Monitor, Registry, StateMap};
use monitor_hmp::console::{HmpConsoleFactory, LineRunner};

/// How long any wait may take before it is a failure.
const TIMEOUT: Duration = Duration::from_secs(30);

const BANNER: &str = "QEMU 7.2.22 monitor - type 'help' for more information";

/// A few commands, answered as QEMU 7.2 answers them.
struct TestRunner;

/// QEMU 7.2's commands starting with `q`, and its `info` commands starting
/// with `st`: what the tests complete.
const COMMANDS: &[&str] = &[
    "help", "info", "q", "qemu-io", "qom-get", "qom-list", "qom-set", "quit",
];
const INFO: &[&str] = &["stats", "status"];

impl LineRunner for TestRunner {
    fn run(&self, _: &Dispatcher, _: &SessionInfo, line: &str) -> (String, ConsoleEffects) {
        let none = ConsoleEffects::default();
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["info", "status"] => ("VM status: running\n".into(), none),
            ["info"] => (
                "info stats target [names] [provider] -- show statistics\n\
                 info status  -- show the current VM status (running|paused)\n"
                    .into(),
                none,
            ),
            ["help"] => (
                "help|? [cmd] -- show the help\nquit|q  -- quit the emulator\n".into(),
                none,
            ),
            ["quit" | "q"] => (
                String::new(),
                ConsoleEffects {
                    quit: true,
                    close: false,
                },
            ),
            [name, ..] => (format!("unknown command: '{name}'\n"), none),
            [] => (String::new(), none),
        }
    }

    fn complete(&self, _: &Dispatcher, line: &str) -> Vec<String> {
        let (list, word) = match line.strip_prefix("info ") {
            Some(word) => (INFO, word),
            None => (COMMANDS, line),
        };
        list.iter()
            .filter(|c| c.starts_with(word))
            .map(|c| c.to_string())
            .collect()
    }

    fn banner(&self, _: &Dispatcher) -> String {
        BANNER.into()
    }
}

fn socket_path(tag: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("hmp-{tag}-{}-{n}.sock", std::process::id()))
}

fn spawn_monitor(tag: &str) -> (Monitor, PathBuf) {
    let path = socket_path(tag);
    let factory = Arc::new(HmpConsoleFactory::new(Arc::new(TestRunner)));
    let monitor = Monitor::builder()
        .listen_console(ListenAddr::Unix(path.clone()), factory)
        .spawn()
        .expect("the monitor starts");
    (monitor, path)
}

/// One side of a terminal session: what was read and not yet expected.
struct Term {
    stream: UnixStream,
    unread: Vec<u8>,
}

impl Term {
    fn connect(path: &Path) -> Self {
        Self::new(UnixStream::connect(path).expect("connect"))
    }

    fn new(stream: UnixStream) -> Self {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Term {
            stream,
            unread: Vec::new(),
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// Reads until `needle` appears; returns everything up to and including
    /// it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = find(&self.unread, needle.as_bytes()) {
                let rest = self.unread.split_off(i + needle.len());
                let got = std::mem::replace(&mut self.unread, rest);
                return String::from_utf8(got).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; got {:?}",
                String::from_utf8_lossy(&self.unread)
            );
            if self.fill() == 0 {
                panic!(
                    "connection closed waiting for {needle:?}; got {:?}",
                    String::from_utf8_lossy(&self.unread)
                );
            }
        }
    }

    /// Reads exactly `n` bytes.
    fn exactly(&mut self, n: usize) -> Vec<u8> {
        let deadline = Instant::now() + TIMEOUT;
        while self.unread.len() < n {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} bytes; got {:?}",
                String::from_utf8_lossy(&self.unread)
            );
            if self.fill() == 0 {
                break;
            }
        }
        let rest = self.unread.split_off(n.min(self.unread.len()));
        std::mem::replace(&mut self.unread, rest)
    }

    /// Reads until the peer closes; returns what came before.
    fn expect_eof(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while self.fill() > 0 {
            assert!(Instant::now() < deadline, "the connection stays open");
        }
        String::from_utf8(std::mem::take(&mut self.unread)).unwrap()
    }

    fn fill(&mut self) -> usize {
        let mut buf = [0; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(n) => {
                    self.unread.extend_from_slice(&buf[..n]);
                    return n;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return 0,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!(
                        "nothing more came in {TIMEOUT:?}; got {:?}",
                        String::from_utf8_lossy(&self.unread)
                    )
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn a_line_runs_history_repeats_it_and_tab_completes() {
    let (_monitor, path) = spawn_monitor("run");
    let mut t = Term::connect(&path);
    assert_eq!(t.expect("(qemu) "), format!("{BANNER}\r\n(qemu) "));

    t.send(b"info status\r");
    t.expect("\r\nVM status: running\r\n(qemu) ");

    t.send(b"\x1b[A");
    t.expect("info status\x1b[K");
    t.send(b"\r");
    t.expect("\r\nVM status: running\r\n(qemu) ");

    t.send(b"inf\t");
    t.expect("info \x1b[K");
    t.send(b"\r");
    t.expect("\r\ninfo stats target [names] [provider] -- show statistics\r\n");
    t.expect("info status  -- show the current VM status (running|paused)\r\n(qemu) ");
}

#[test]
fn several_candidates_are_listed_and_the_line_redrawn() {
    let (_monitor, path) = spawn_monitor("list");
    let mut t = Term::connect(&path);
    t.expect("(qemu) ");
    t.send(b"q\t");
    t.expect("\r\nq         qemu-io   qom-get   qom-list  qom-set   quit      \r\n(qemu) q\x1b[K");
    t.send(b"\x7finfo st\t");
    t.expect("\r\nstats     status    \r\n(qemu) info stat\x1b[K");
}

#[test]
fn escape_sequences_split_across_writes_still_work() {
    let (_monitor, path) = spawn_monitor("split");
    let mut t = Term::connect(&path);
    t.expect("(qemu) ");
    t.send(b"info status\r");
    t.expect("(qemu) ");
    for byte in b"\x1b[A" {
        t.send(&[*byte]);
    }
    t.expect("info status\x1b[K");
    // Home, split after ESC and after '[', then Delete: "nfo status".
    t.send(b"\x1b");
    t.send(b"[");
    t.send(b"1~\x1b[");
    t.send(b"3");
    t.send(b"~\r");
    t.expect("\r\nunknown command: 'nfo'\r\n(qemu) ");
}

#[test]
fn ctrl_d_on_an_empty_line_closes_the_connection() {
    let (monitor, path) = spawn_monitor("eof");
    let mut t = Term::connect(&path);
    t.expect("(qemu) ");
    // On a line with text, Ctrl-D deletes the character under the cursor.
    t.send(b"ab\x01\x04");
    t.expect("b\x1b[K\x1b[D");
    t.send(b"\x04\x04");
    assert!(t.expect_eof().ends_with("\r\n"));
    // The monitor goes on serving.
    let mut other = Term::connect(&path);
    other.expect("(qemu) ");
    drop(monitor);
}

#[test]
fn quit_ends_the_monitor() {
    let (monitor, path) = spawn_monitor("quit");
    let mut t = Term::connect(&path);
    t.expect("(qemu) ");
    t.send(b"quit\r");
    assert!(t.expect_eof().ends_with("quit\x1b[K\r\n"));
    assert_eq!(monitor.wait().unwrap(), Exit::Quit);
}

#[test]
fn consoles_keep_their_own_line_and_history() {
    let (_monitor, path) = spawn_monitor("many");
    let mut a = Term::connect(&path);
    let mut b = Term::connect(&path);
    let mut c = Term::connect(&path);
    for t in [&mut a, &mut b, &mut c] {
        t.expect("(qemu) ");
    }

    a.send(b"info st");
    a.expect("info st\x1b[K");
    b.send(b"help\r");
    b.expect("quit|q  -- quit the emulator\r\n(qemu) ");
    a.send(b"atus\r");
    a.expect("\r\nVM status: running\r\n(qemu) ");

    b.send(b"\x1b[A");
    b.expect("help\x1b[K");
    a.send(b"\x1b[A");
    a.expect("info status\x1b[K");
    // Nothing older in b's history; the line stays "help".
    b.send(b"\x1b[A\r");
    b.expect("\r\nhelp|? [cmd] -- show the help\r\n");
    b.expect("(qemu) ");

    // c saw none of it: its history is empty and its line is its own.
    c.send(b"\x1b[Ax\r");
    c.expect("x\x1b[K\r\nunknown command: 'x'\r\n(qemu) ");
    a.send(b"\r");
    a.expect("\r\nVM status: running\r\n(qemu) ");
}

/// QEMU's human monitor on one end of a socket pair (`-monitor stdio`).
struct Qemu {
    child: Child,
    term: Term,
}

impl Qemu {
    /// Starts `qemu-system-x86_64` if it is installed and is version 7.2.
    fn start() -> Option<Qemu> {
        let version = Command::new("qemu-system-x86_64")
            .arg("--version")
            .output()
            .ok()?;
        if !String::from_utf8_lossy(&version.stdout).contains("version 7.2.") {
            return None;
        }
        let (ours, theirs) = UnixStream::pair().unwrap();
        let stdin = OwnedFd::from(theirs.try_clone().unwrap());
        let child = Command::new("qemu-system-x86_64")
            .args(["-machine", "none", "-accel", "tcg", "-display", "none"])
            .args(["-nodefaults", "-monitor", "stdio"])
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(OwnedFd::from(theirs)))
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Qemu {
            child,
            term: Term::new(ours),
        })
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn typed_keys_give_the_same_bytes_as_qemu() {
    let Some(mut qemu) = Qemu::start() else {
        eprintln!("skipped: qemu-system-x86_64 7.2 is not installed");
        return;
    };
    let dispatcher = Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new());
    let session = SessionInfo {
        id: 1,
        listener: "stdio".into(),
        oob: false,
    };
    let mut console = HmpConsoleFactory::new(Arc::new(TestRunner)).console(&session);

    let mut ours = Vec::new();
    console.start(&dispatcher, &mut ours);
    assert_eq!(
        String::from_utf8_lossy(&qemu.term.exactly(ours.len())),
        String::from_utf8_lossy(&ours),
        "on connect"
    );

    // One key per write, as typed; each is compared with what QEMU sent.
    let mut keys: Vec<&[u8]> = Vec::new();
    let text = |s: &'static str| s.as_bytes().chunks(1);
    keys.extend(text("info status"));
    keys.extend([b"\r" as &[u8], b"\x1b[A", b"\r"]);
    keys.extend(text("abc"));
    keys.extend([
        b"\x7f" as &[u8],
        b"\x08",
        b"\x1b[D",
        b"\x1b[C",
        b"\x1b[D",
        b"X",
        b"\x01",
        b"\x05",
        b"\x1b[1~",
        b"\x1b[4~",
        b"\x1bOH",
        b"\x1bOF",
        b"\x1b[D",
        b"\x0c",
        b"\x05",
    ]);
    keys.extend(text(" hello world"));
    keys.extend([
        b"\x1b[D" as &[u8],
        b"\x1b[D",
        b"\x17",
        b"\x01",
        b"\x1b[3~",
        b"\x04",
    ]);
    keys.extend([
        b"\x1b[A" as &[u8],
        b"\x1b[A",
        b"\x1b[B",
        b"\x1b[B",
        b"\x1b[B",
    ]);
    keys.extend([b"z" as &[u8], b"z", b"\r", b"q", b"\t", b"\x7f"]);
    keys.extend(text("inf\tst\t\x17\x17"));
    keys.extend([b"\x1b[A" as &[u8], b"\x1b[A", b"\x1b[A", b"\x1b[B", b"\r"]);
    keys.extend(text("quit\r"));

    for (step, key) in keys.iter().enumerate() {
        let mut ours = Vec::new();
        console.input(&dispatcher, key, &mut ours, usize::MAX);
        qemu.term.send(key);
        let theirs = qemu.term.exactly(ours.len());
        assert_eq!(
            String::from_utf8_lossy(&theirs),
            String::from_utf8_lossy(&ours),
            "key {step} ({:?})",
            String::from_utf8_lossy(key)
        );
    }
    assert_eq!(qemu.term.expect_eof(), "", "QEMU sent more after quit");
}
