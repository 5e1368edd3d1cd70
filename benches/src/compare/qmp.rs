//! A bare QMP client for measuring: raw lines over a unix socket, no JSON
//! parsing on the hot path, every read bounded by a timeout.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long any single read or write may block before the measurement is
/// declared failed (a wedged server, never a slow one).
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest line accepted from a server.
const MAX_LINE: usize = 1 << 20;

/// `qmp_capabilities`, as every client sends it.
pub const NEGOTIATE: &[u8] = b"{\"execute\": \"qmp_capabilities\"}\r\n";

/// A connected client with its read buffer.
///
/// # Examples
///
/// ```
/// use benches::compare::{floor, qmp::Conn};
///
/// let dir = std::env::temp_dir().join(format!("qmp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("floor.sock");
/// let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
/// std::thread::spawn(move || floor::serve(listener));
/// let mut conn = Conn::connect(&path).unwrap();
/// conn.negotiate().unwrap();
/// conn.call(b"{\"execute\": \"query-status\"}\r\n").unwrap();
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of `buf[start..end]` known to hold no newline.
    scanned: usize,
}

impl Conn {
    /// Connects (once) and sets the I/O timeouts.
    ///
    /// # Errors
    ///
    /// The connection or the timeout setup failed.
    pub fn connect(path: &Path) -> io::Result<Conn> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(Conn {
            stream,
            buf: vec![0; 64 << 10],
            start: 0,
            end: 0,
            scanned: 0,
        })
    }

    /// Connects, retrying while the server is not listening yet, until
    /// `deadline`.
    ///
    /// # Errors
    ///
    /// The last connection error, once the deadline has passed.
    pub fn connect_until(path: &Path, deadline: Instant) -> io::Result<Conn> {
        loop {
            match Conn::connect(path) {
                Ok(c) => return Ok(c),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Reads the greeting, sends `qmp_capabilities` and reads its answer.
    ///
    /// # Errors
    ///
    /// I/O failed, or the server did not greet or accept the negotiation.
    pub fn negotiate(&mut self) -> io::Result<()> {
        let greeting = self.read_line()?;
        if !greeting.starts_with(b"{\"QMP\"") {
            return Err(invalid("no greeting", greeting));
        }
        self.call(NEGOTIATE)
    }

    /// Sends bytes as they are.
    ///
    /// # Errors
    ///
    /// The write failed or timed out.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one request and reads up to its answer (skipping events).
    ///
    /// # Errors
    ///
    /// I/O failed, or the answer was an error.
    pub fn call(&mut self, request: &[u8]) -> io::Result<()> {
        self.send(request)?;
        self.read_answer()
    }

    /// Reads lines until one that is not an event; fails on an error answer.
    ///
    /// # Errors
    ///
    /// I/O failed, or the answer was an error.
    pub fn read_answer(&mut self) -> io::Result<()> {
        loop {
            let line = self.read_line()?;
            if is_event(line) {
                continue;
            }
            if line.starts_with(b"{\"return\"") {
                return Ok(());
            }
            return Err(invalid("the server answered", line));
        }
    }

    /// The next line, without its line ending.
    ///
    /// # Errors
    ///
    /// The read failed or timed out, the server closed the connection, or
    /// a line exceeded 1 MiB.
    pub fn read_line(&mut self) -> io::Result<&[u8]> {
        loop {
            let from = self.start + self.scanned;
            if let Some(i) = self.buf[from..self.end].iter().position(|&b| b == b'\n') {
                let begin = self.start;
                let mut stop = from + i;
                self.start = stop + 1;
                self.scanned = 0;
                if stop > begin && self.buf[stop - 1] == b'\r' {
                    stop -= 1;
                }
                return Ok(&self.buf[begin..stop]);
            }
            self.scanned = self.end - self.start;
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                if self.buf.len() >= MAX_LINE {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let n = self.stream.read(&mut self.buf[self.end..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.end += n;
        }
    }
}

/// Whether a line is an event (QEMU and this monitor put the timestamp
/// first).
pub fn is_event(line: &[u8]) -> bool {
    line.starts_with(b"{\"timestamp\"")
}

/// The event's name, if the line is an event.
///
/// # Examples
///
/// ```
/// let line = br#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#;
/// assert_eq!(benches::compare::qmp::event_name(line), Some(&b"STOP"[..]));
/// ```
pub fn event_name(line: &[u8]) -> Option<&[u8]> {
    if !is_event(line) {
        return None;
    }
    let key = b"\"event\": \"";
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let len = line[at..].iter().position(|&b| b == b'"')?;
    Some(&line[at..at + len])
}

fn invalid(what: &str, line: &[u8]) -> io::Error {
    let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {shown}"))
}
