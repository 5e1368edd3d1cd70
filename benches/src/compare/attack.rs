//! Latency under attack: a probe client makes sequential `query-version`
//! round trips while another client attacks the same server, either with
//! huge QMP messages or with a TAB storm on a human monitor. What counts
//! is how long the probe waits: a monitor thread that serves the attacker
//! in one go, instead of in turns, stalls every other client.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::measure::{session, QUERY_VERSION, WARM_UP};
use super::qmp::{is_event, IO_TIMEOUT};

/// The fewest probe round trips a measurement takes: the attack is
/// repeated until the probe has made at least this many.
pub const MIN_PROBES: usize = 100;

/// After this long the attack is not repeated any more, whatever the
/// probe's count (a server so slow that the probe barely gets through).
pub const ATTACK_LIMIT: Duration = Duration::from_secs(60);

/// What the human monitor prints after Ctrl-C: the last output of a
/// [`tab_storm`], and nothing else prints `^C`.
pub const STORM_END: &[u8] = b"^C\r\n(qemu) ";

/// The prompt that ends the console's banner.
const PROMPT: &[u8] = b"(qemu) ";

/// What the attacking client does, again and again while the probe runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// A QMP client sends one message of this many bytes (see
    /// [`big_message`]) and reads its answer, an error.
    Message(usize),
    /// A human-monitor client sends this many TABs and a Ctrl-C (see
    /// [`tab_storm`]) without reading, until the socket takes no more
    /// (the console has stopped reading it); then it reads everything the
    /// console prints while it sends the rest, up to Ctrl-C's [`STORM_END`].
    TabStorm(usize),
}

/// `query-version` with an unknown argument holding a string of `a`,
/// `bytes` long in all with its line ending: read whole, then refused
/// (`Parameter 'x' is unexpected`).
///
/// # Examples
///
/// ```
/// let m = benches::compare::attack::big_message(100);
/// assert_eq!(m.len(), 100);
/// assert!(m.starts_with(b"{\"execute\": \"query-version\", \"arguments\": {\"x\": \"aaa"));
/// assert!(m.ends_with(b"aaa\"}}\r\n"));
/// ```
pub fn big_message(bytes: usize) -> Vec<u8> {
    let head = b"{\"execute\": \"query-version\", \"arguments\": {\"x\": \"";
    let tail = b"\"}}\r\n";
    let mut out = Vec::with_capacity(bytes.max(head.len() + tail.len()));
    out.extend_from_slice(head);
    out.resize(bytes.saturating_sub(tail.len()).max(head.len()), b'a');
    out.extend_from_slice(tail);
    out
}

/// `tabs` TABs on an empty console line (each lists the commands and
/// redraws the prompt), then Ctrl-C, which ends with [`STORM_END`].
///
/// # Examples
///
/// ```
/// assert_eq!(benches::compare::attack::tab_storm(3), b"\t\t\t\x03");
/// ```
pub fn tab_storm(tabs: usize) -> Vec<u8> {
    let mut out = vec![b'\t'; tabs];
    out.push(0x03);
    out
}

/// The probe's round trips, in milliseconds, made while `attack` ran on
/// the server of QMP socket `qmp` (a TAB storm goes to the human monitor
/// on `hmp`). The attack runs at least `reps` times, and again until the
/// probe has made [`MIN_PROBES`] round trips (for at most
/// [`ATTACK_LIMIT`]); the probe stops when the attack does.
///
/// # Errors
///
/// The probe or the attacker failed, or a TAB storm has no `hmp`.
pub fn probe_under(
    qmp: &Path,
    hmp: Option<&Path>,
    attack: Attack,
    reps: usize,
) -> io::Result<Vec<f64>> {
    let mut probe = session(qmp)?;
    for _ in 0..WARM_UP {
        probe.call(QUERY_VERSION)?;
    }
    let mut attacker = match attack {
        Attack::Message(bytes) => Attacker::Qmp(session(qmp)?, big_message(bytes)),
        Attack::TabStorm(tabs) => {
            let hmp = hmp.ok_or_else(|| io::Error::other("no human monitor to attack"))?;
            Attacker::Console(console(hmp)?, tab_storm(tabs))
        }
    };
    let probes = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(2));
    let thread = {
        let (probes, done, stop, barrier) = (
            Arc::clone(&probes),
            Arc::clone(&done),
            Arc::clone(&stop),
            Arc::clone(&barrier),
        );
        std::thread::spawn(move || {
            barrier.wait();
            let start = Instant::now();
            let mut n = 0;
            let result = loop {
                if let Err(e) = attacker.once() {
                    break Err(e);
                }
                n += 1;
                let enough = n >= reps && probes.load(Ordering::Acquire) >= MIN_PROBES;
                if enough || stop.load(Ordering::Acquire) || start.elapsed() > ATTACK_LIMIT {
                    break Ok(());
                }
            };
            done.store(true, Ordering::Release);
            result
        })
    };
    barrier.wait();
    let mut samples = Vec::new();
    let mut failed = None;
    while !done.load(Ordering::Acquire) {
        let t = Instant::now();
        if let Err(e) = probe.call(QUERY_VERSION) {
            failed = Some(e);
            stop.store(true, Ordering::Release);
            break;
        }
        samples.push(t.elapsed().as_secs_f64() * 1e3);
        probes.fetch_add(1, Ordering::AcqRel);
    }
    let attacked = thread
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the attacker panicked")));
    if let Some(e) = failed {
        return Err(io::Error::other(format!("the probe failed: {e}")));
    }
    attacked.map_err(|e| io::Error::other(format!("the attacker failed: {e}")))?;
    if samples.is_empty() {
        return Err(io::Error::other("the probe made no round trip"));
    }
    Ok(samples)
}

/// The attacking client and what it sends.
enum Attacker {
    Qmp(super::qmp::Conn, Vec<u8>),
    Console(UnixStream, Vec<u8>),
}

impl Attacker {
    fn once(&mut self) -> io::Result<()> {
        match self {
            Attacker::Qmp(conn, message) => {
                conn.send(message)?;
                loop {
                    let line = conn.read_line()?;
                    if is_event(line) {
                        continue;
                    }
                    if line.starts_with(b"{\"error\"") || line.starts_with(b"{\"return\"") {
                        return Ok(());
                    }
                    let shown: String = String::from_utf8_lossy(line).chars().take(200).collect();
                    return Err(io::Error::other(format!("the server answered: {shown}")));
                }
            }
            Attacker::Console(stream, storm) => storm_once(stream, storm).map(drop),
        }
    }
}

/// Connects to a human monitor and reads its banner up to the prompt.
///
/// # Errors
///
/// Connecting or reading failed, or the console closed first.
pub fn console(path: &Path) -> io::Result<UnixStream> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.ends_with(PROMPT) {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        seen.extend_from_slice(&buf[..n]);
    }
    Ok(stream)
}

/// One storm: `storm` written without reading until the socket takes no
/// more (or all of it is written), then the rest written by a second
/// thread while this one reads up to [`STORM_END`]. Returns the bytes the
/// console printed.
///
/// # Errors
///
/// A read or write failed or timed out, or the console closed.
pub fn storm_once(stream: &mut UnixStream, storm: &[u8]) -> io::Result<u64> {
    stream.set_nonblocking(true)?;
    let mut sent = 0;
    while sent < storm.len() {
        match stream.write(&storm[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => {
                let _ = stream.set_nonblocking(false);
                return Err(e);
            }
        }
    }
    stream.set_nonblocking(false)?;
    let writer = if sent < storm.len() {
        let mut w = stream.try_clone()?;
        let rest = storm[sent..].to_vec();
        Some(std::thread::spawn(move || w.write_all(&rest)))
    } else {
        None
    };
    let read = read_to_storm_end(stream);
    if let Some(w) = writer {
        match w.join() {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::other("the storm's writer panicked")),
        }
    }
    read
}

/// Reads until the output ends with [`STORM_END`]; returns the bytes read.
fn read_to_storm_end(stream: &mut UnixStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut tail: Vec<u8> = Vec::with_capacity(2 * STORM_END.len());
    let mut total = 0u64;
    while !tail.ends_with(STORM_END) {
        let n = match stream.read(&mut buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        let from = n.saturating_sub(STORM_END.len());
        tail.extend_from_slice(&buf[from..n]);
        let keep = tail.len().saturating_sub(STORM_END.len());
        tail.drain(..keep);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A console that prints 20 bytes per TAB, `^C` and a prompt on
    /// Ctrl-C, writing each read's output before reading again (so it
    /// stops reading when its client does).
    fn fake_console(listener: UnixListener) {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(b"banner\r\n(qemu) ").unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mut out = Vec::new();
            for &b in &buf[..n] {
                match b {
                    b'\t' => {
                        out.extend_from_slice(&[b'x'; 11]);
                        out.extend_from_slice(b"\r\n(qemu) ");
                    }
                    0x03 => out.extend_from_slice(STORM_END),
                    _ => {}
                }
            }
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }

    #[test]
    fn a_storm_larger_than_the_socket_is_sent_and_read_whole() {
        let dir = std::env::temp_dir().join(format!("attack-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || fake_console(listener));
        let mut stream = console(&path).unwrap();
        // 512 KiB of TABs: more than a socket holds, so the client must
        // switch to reading while the rest is sent.
        let tabs = 512 << 10;
        let printed = storm_once(&mut stream, &tab_storm(tabs)).unwrap();
        assert_eq!(printed, tabs as u64 * 20 + STORM_END.len() as u64);
        // A second storm on the same console ends at its own Ctrl-C.
        let printed = storm_once(&mut stream, &tab_storm(10)).unwrap();
        assert_eq!(printed, 200 + STORM_END.len() as u64);
        drop(stream);
        server.join().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn big_message_is_the_size_asked() {
        for size in [60 << 20, 4096, 10] {
            let m = big_message(size);
            // The smallest is the message around an empty string.
            assert_eq!(m.len(), size.max(54), "{size}");
            assert_eq!(m.iter().filter(|&&b| b == b'\n').count(), 1);
        }
    }
}
