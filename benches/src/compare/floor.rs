//! The floor: the least a QMP server can do over a unix socket. It greets,
//! then answers every request line with a fixed `{"return": {}}` (so
//! `qmp_capabilities` is accepted), framed with `\r\n` as QEMU does. No
//! parsing, no dispatch, no events: what is left is the socket round trip
//! and the client's own cost.
//!
//! One thread per connection, each answering a whole read at once (one
//! write for all the lines it held), the cheapest scheme on a few cores.

use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

/// The floor's greeting (QEMU's layout).
pub const GREETING: &[u8] = b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 0}, \"package\": \"floor\"}, \"capabilities\": []}}\r\n";

/// The one answer it gives.
pub const REPLY: &[u8] = b"{\"return\": {}}\r\n";

/// Stack of each connection's thread (it holds one buffer on the heap).
const STACK: usize = 64 << 10;

/// Accepts clients for ever, one thread each.
///
/// # Errors
///
/// Accepting failed for a reason other than an interrupted call.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
/// use std::os::unix::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("floor-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path).unwrap();
/// std::thread::spawn(move || benches::compare::floor::serve(listener));
/// let mut s = UnixStream::connect(&path).unwrap();
/// let mut r = BufReader::new(s.try_clone().unwrap());
/// let mut line = String::new();
/// r.read_line(&mut line).unwrap();
/// assert!(line.starts_with("{\"QMP\""));
/// s.write_all(b"{\"execute\": \"qmp_capabilities\"}\r\n").unwrap();
/// line.clear();
/// r.read_line(&mut line).unwrap();
/// assert_eq!(line, "{\"return\": {}}\r\n");
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn serve(listener: UnixListener) -> io::Result<()> {
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        std::thread::Builder::new()
            .name("floor".into())
            .stack_size(STACK)
            .spawn(move || {
                let _ = echo(stream);
            })?;
    }
}

/// Serves one connection until the client goes away: the greeting, then
/// one [`REPLY`] per newline received.
///
/// # Errors
///
/// A read or write failed.
pub fn echo(mut stream: UnixStream) -> io::Result<()> {
    stream.write_all(GREETING)?;
    let mut buf = vec![0u8; 64 << 10];
    let mut out = Vec::with_capacity(64 << 10);
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
        for _ in 0..lines {
            out.extend_from_slice(REPLY);
        }
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
    }
}
