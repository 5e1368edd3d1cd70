//! `-monitor stdio` on a terminal, as an operator has it: `minimal` runs
//! with stdin, stdout and stderr on a pseudo-terminal, which the test reads
//! through the master side (a small screen model shows what the operator
//! would see) and whose settings it reads through a slave descriptor of its
//! own.
//!
//! While the console runs the terminal is in QEMU's raw mode, so TAB
//! completes at once, a line appears once and the arrows recall history;
//! after `quit`, SIGTERM or Ctrl-D its settings are what they were. On a
//! pipe, lines still run.
//!
//! Every wait is for a condition, with a deadline.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use monitor_core::client::Client;
use rustix::fs::{Mode, OFlags};
use rustix::process::{kill_process, Pid, Signal};
use rustix::pty::{self, OpenptFlags};
use rustix::termios::{
    self, ControlModes, InputModes, LocalModes, OptionalActions, OutputModes, SpecialCodeIndex,
    Termios,
};
use serde_json::json;

/// Failure guard for each wait; never what decides that something happened.
const TIMEOUT: Duration = Duration::from_secs(20);
/// What the console shows when it starts (`minimal` is version 0.1.0).
const BANNER: &str = "QEMU 0.1.0 monitor - type 'help' for more information";
const PROMPT: &str = "(qemu) ";

/// The settings raw mode changes, comparable.
#[derive(Debug, PartialEq, Eq)]
struct Modes {
    input: InputModes,
    output: OutputModes,
    control: ControlModes,
    local: LocalModes,
    vmin: u8,
    vtime: u8,
}

impl Modes {
    fn of(t: &Termios) -> Modes {
        Modes {
            input: t.input_modes,
            output: t.output_modes,
            control: t.control_modes,
            local: t.local_modes,
            vmin: t.special_codes[SpecialCodeIndex::VMIN],
            vtime: t.special_codes[SpecialCodeIndex::VTIME],
        }
    }

    fn is_raw(&self) -> bool {
        !self.local.intersects(LocalModes::ICANON | LocalModes::ECHO)
    }
}

/// A fresh socket path.
fn temp_socket() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("stdio-console-{}-{n}.qmp", std::process::id()))
}

/// Copies what `reader` gives into a channel, chunk by chunk, until it
/// ends (a pty master ends with EIO once no slave is open).
fn read_into_channel(mut reader: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Polls `child` until it exits, or fails at the deadline.
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("poll minimal") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "minimal still runs after {TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigterm(child: &Child) {
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    kill_process(pid, Signal::TERM).expect("send SIGTERM");
}

/// `minimal -qmp ... -monitor stdio` on a pseudo-terminal.
struct Terminal {
    child: Child,
    /// The side the operator types on and reads from.
    master: File,
    /// Kept open to read the terminal's settings (and so that the master
    /// does not read EIO before the test is done).
    slave: OwnedFd,
    /// The settings before `minimal` started.
    original: Modes,
    output: Receiver<Vec<u8>>,
    screen: Screen,
    /// Every byte received, for failure messages.
    received: Vec<u8>,
    qmp: PathBuf,
}

impl Terminal {
    /// Starts `minimal` on a new pseudo-terminal whose settings are the
    /// default ones with a twist (IUTF8 flipped, VTIME 3), so that a
    /// restore to some fixed settings instead of the saved ones shows.
    fn start() -> Terminal {
        let master = pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
            .expect("open a pseudo-terminal");
        pty::grantpt(&master).expect("grantpt");
        pty::unlockpt(&master).expect("unlockpt");
        let name = pty::ptsname(&master, Vec::new()).expect("ptsname");
        // NOCTTY: the terminal must not become the test's controlling one.
        let slave = rustix::fs::open(
            name.as_c_str(),
            OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .expect("open the slave side");
        let mut settings = termios::tcgetattr(&slave).expect("tcgetattr");
        settings.input_modes ^= InputModes::IUTF8;
        settings.special_codes[SpecialCodeIndex::VTIME] = 3;
        termios::tcsetattr(&slave, OptionalActions::Now, &settings).expect("tcsetattr");
        let original = Modes::of(&termios::tcgetattr(&slave).expect("tcgetattr"));
        assert!(!original.is_raw(), "a new terminal edits lines");

        let qmp = temp_socket();
        let stdio = || Stdio::from(slave.try_clone().expect("dup the slave"));
        let child = Command::new(env!("CARGO_BIN_EXE_minimal"))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(["-monitor", "stdio"])
            .env("MONITOR_LOG", "warn")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .expect("start minimal");
        let master = File::from(master);
        let output = read_into_channel(master.try_clone().expect("dup the master"));
        Terminal {
            child,
            master,
            slave,
            original,
            output,
            screen: Screen::default(),
            received: Vec::new(),
            qmp,
        }
    }

    /// Starts `minimal` and waits for the console's first prompt.
    fn start_console() -> Terminal {
        let mut t = Terminal::start();
        t.wait_screen("the banner and the prompt", |s| {
            s.lines_from(BANNER) == [BANNER, PROMPT.trim_end()] && s.cursor_line() == PROMPT
        });
        t
    }

    /// What the operator types.
    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).expect("write to the terminal");
    }

    /// Reads the terminal until `ready` holds for the screen.
    fn wait_screen(&mut self, what: &str, ready: impl Fn(&Screen) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !ready(&self.screen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => {
                    self.screen.feed(&bytes);
                    self.received.extend_from_slice(&bytes);
                }
                Err(e) => panic!(
                    "waiting for {what}: {e} (deadline {TIMEOUT:?}); the screen:\n{}\nthe bytes: {}",
                    self.screen.text(),
                    self.received.escape_ascii()
                ),
            }
        }
    }

    /// The terminal's settings now.
    fn modes(&self) -> Modes {
        Modes::of(&termios::tcgetattr(&self.slave).expect("tcgetattr"))
    }

    /// Polls the settings until `ready` holds for them.
    fn wait_modes(&self, what: &str, ready: impl Fn(&Modes) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let modes = self.modes();
            if ready(&modes) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {what}: the terminal is {modes:?} after {TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.qmp);
    }
}

#[test]
fn tab_completes_in_place_lines_appear_once_and_up_recalls() {
    let mut t = Terminal::start_console();
    let modes = t.modes();
    assert!(modes.is_raw(), "ICANON and ECHO are off: {modes:?}");
    assert!(
        modes.local.contains(LocalModes::ISIG),
        "Ctrl-C still signals"
    );
    assert!(
        !modes.input.contains(InputModes::ICRNL),
        "Enter arrives as \\r"
    );
    assert!(modes.output.contains(OutputModes::OPOST));
    assert_eq!((modes.vmin, modes.vtime), (1, 0));

    // On a terminal that edits lines, nothing would reach the console
    // before Enter: these waits would time out.
    t.type_keys(b"info sta");
    t.wait_screen("`info sta` echoed once", |s| {
        s.cursor_line() == "(qemu) info sta"
    });
    t.type_keys(b"\t");
    t.wait_screen("`info status ` completed in place", |s| {
        s.cursor_line() == "(qemu) info status " && s.col() == "(qemu) info status ".len()
    });
    assert_eq!(
        t.screen.lines_from(BANNER),
        [BANNER, "(qemu) info status"],
        "TAB lists nothing and starts no line"
    );

    t.type_keys(b"\r");
    t.wait_screen("the answer and a new prompt", |s| {
        s.text().contains("VM status: running") && s.cursor_line() == PROMPT
    });
    assert_eq!(
        t.screen.lines_from(BANNER),
        [
            BANNER,
            "(qemu) info status",
            "VM status: running",
            PROMPT.trim_end()
        ],
        "the command line appears once"
    );

    t.type_keys(b"\x1b[A");
    t.wait_screen("the previous line recalled", |s| {
        s.cursor_line().trim_end() == "(qemu) info status"
    });
    t.type_keys(b"\r");
    t.wait_screen("the recalled line run", |s| {
        s.text().matches("VM status: running").count() == 2 && s.cursor_line() == PROMPT
    });
    assert_eq!(
        t.screen.lines_from(BANNER)[3..],
        [
            "(qemu) info status",
            "VM status: running",
            PROMPT.trim_end()
        ]
    );

    t.type_keys(b"quit\r");
    let status = wait_exit(&mut t.child);
    assert!(status.success(), "minimal exits 0 after quit: {status}");
    assert_eq!(t.modes(), t.original, "the settings are back after quit");
    // Everything the console sent reached the terminal before the exit.
    t.wait_screen("`quit` and its line end", |s| {
        s.lines_from(BANNER).last().map(String::as_str) == Some("(qemu) quit")
            && s.cursor_line().is_empty()
    });
}

#[test]
fn sigterm_sends_shutdown_restores_the_terminal_and_exits_0() {
    let mut t = Terminal::start_console();
    assert!(t.modes().is_raw());
    let mut client = Client::connect_unix(&t.qmp).expect("connect to QMP");
    client.negotiate().expect("negotiate");
    // Half a line typed: the terminal is raw in the middle of editing.
    t.type_keys(b"info");
    t.wait_screen("`info` echoed", |s| s.cursor_line() == "(qemu) info");

    sigterm(&t.child);
    let event = client.wait_event("SHUTDOWN").expect("SHUTDOWN");
    assert_eq!(
        event["data"],
        json!({"guest": false, "reason": "host-signal"})
    );
    let status = wait_exit(&mut t.child);
    assert_eq!(status.code(), Some(0), "minimal exits 0 on SIGTERM");
    assert_eq!(t.modes(), t.original, "the settings are back after SIGTERM");
    t.wait_screen("QEMU's message", |s| {
        s.text().contains("minimal: terminating on signal 15")
    });
}

#[test]
fn ctrl_d_closes_the_console_and_restores_the_terminal() {
    let mut t = Terminal::start_console();
    assert!(t.modes().is_raw());
    t.type_keys(b"\x04");
    // The process goes on (QMP still serves); only the console ended.
    t.wait_modes("the settings back after Ctrl-D", |m| *m == t.original);
    assert!(t.child.try_wait().expect("poll minimal").is_none());
    Client::connect_unix(&t.qmp)
        .and_then(|mut c| c.negotiate())
        .expect("QMP still serves");
    sigterm(&t.child);
    assert_eq!(wait_exit(&mut t.child).code(), Some(0));
    assert_eq!(t.modes(), t.original);
}

#[test]
fn on_a_pipe_lines_run_and_quit_exits() {
    let qmp = temp_socket();
    let mut child = Command::new(env!("CARGO_BIN_EXE_minimal"))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .args(["-monitor", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start minimal");
    let output = read_into_channel(child.stdout.take().expect("stdout"));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"info status\n").expect("write");
    let mut received = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let answer = b"\r\nVM status: running\r\n(qemu) ";
    while !received.windows(answer.len()).any(|w| w == answer) {
        let left = deadline.saturating_duration_since(Instant::now());
        match output.recv_timeout(left) {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(&qmp);
                panic!("no answer: {e}; received {}", received.escape_ascii());
            }
        }
    }
    stdin.write_all(b"quit\n").expect("write");
    let status = wait_exit(&mut child);
    let _ = std::fs::remove_file(&qmp);
    assert!(status.success(), "{status}");
}

/// Just enough of a VT100 to show what the operator sees: printable
/// characters, CR, LF, and cursor moves and line clearing (`ESC [ C`,
/// `ESC [ D`, `ESC [ K`). Other control characters show as `^X`, other
/// sequences are dropped. No wrapping.
#[derive(Debug)]
struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// An unfinished escape sequence or UTF-8 character.
    pending: Vec<u8>,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            lines: vec![Vec::new()],
            row: 0,
            col: 0,
            pending: Vec::new(),
        }
    }
}

impl Screen {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.pending.push(b);
            self.step();
        }
    }

    fn step(&mut self) {
        let p = &self.pending;
        if p[0] == 0x1b {
            let done = match p.get(1) {
                None => false,
                Some(b'[') => p.len() > 2 && (0x40..=0x7e).contains(&p[p.len() - 1]),
                Some(_) => true,
            };
            if done {
                let seq = std::mem::take(&mut self.pending);
                self.escape(&seq);
            }
            return;
        }
        let Ok(s) = std::str::from_utf8(p) else {
            if p.len() >= 4 {
                self.pending.clear();
            }
            return;
        };
        let c = s.chars().next().expect("one character");
        self.pending.clear();
        match c {
            '\r' => self.col = 0,
            '\n' => {
                self.row += 1;
                if self.row == self.lines.len() {
                    self.lines.push(Vec::new());
                }
            }
            c if c < ' ' || c == '\x7f' => {
                self.put('^');
                self.put(char::from((c as u8) ^ 0x40));
            }
            c => self.put(c),
        }
    }

    fn put(&mut self, c: char) {
        let line = &mut self.lines[self.row];
        if line.len() <= self.col {
            line.resize(self.col + 1, ' ');
        }
        line[self.col] = c;
        self.col += 1;
    }

    fn escape(&mut self, seq: &[u8]) {
        if seq.get(1) != Some(&b'[') {
            return;
        }
        let params = String::from_utf8_lossy(&seq[2..seq.len() - 1]);
        let n: usize = params.parse().unwrap_or(1);
        match seq[seq.len() - 1] {
            b'C' => self.col += n,
            b'D' => self.col = self.col.saturating_sub(n),
            b'K' => self.lines[self.row].truncate(self.col),
            _ => {}
        }
    }

    /// Every line, trailing blanks trimmed, joined with `\n`.
    fn text(&self) -> String {
        self.trimmed().join("\n")
    }

    fn trimmed(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_owned())
            .collect()
    }

    /// The lines from the last one equal to `first`, trailing blanks
    /// trimmed and an empty last line left out; none if `first` is not on
    /// the screen.
    fn lines_from(&self, first: &str) -> Vec<String> {
        let mut lines = self.trimmed();
        let Some(start) = lines.iter().rposition(|l| l == first) else {
            return Vec::new();
        };
        if lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.split_off(start)
    }

    /// The line the cursor is on, as shown (blanks included).
    fn cursor_line(&self) -> String {
        self.lines[self.row].iter().collect()
    }

    /// The cursor's column.
    fn col(&self) -> usize {
        self.col
    }
}
