//! The measurements, each over fresh connections to one server.
//!
//! Latencies are taken per request with `Instant` around a blocking write
//! and read; rates divide a count by the wall time from the first request
//! sent to the last answer (or event) read.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::qmp::{event_name, Conn, IO_TIMEOUT};
use super::target::EventSource;

/// How long an event measurement may take before it is declared failed
/// (events lost, for example: other lines, such as a heartbeat, keep each
/// read within its timeout).
pub const EVENTS_LIMIT: Duration = Duration::from_secs(60);

/// Requests sent before the timed ones, on each connection.
pub const WARM_UP: usize = 50;

/// `query-version`, as a client sends it.
pub const QUERY_VERSION: &[u8] = b"{\"execute\": \"query-version\"}\r\n";

/// `query-status`, as a client sends it.
pub const QUERY_STATUS: &[u8] = b"{\"execute\": \"query-status\"}\r\n";

/// `query-status` padded to `size` bytes (line ending included) with a
/// string `id`, which the answer echoes.
///
/// # Examples
///
/// ```
/// let r = benches::compare::measure::padded_status(512);
/// assert_eq!(r.len(), 512);
/// assert!(r.starts_with(b"{\"execute\": \"query-status\", \"id\": \"xxx"));
/// ```
pub fn padded_status(size: usize) -> Vec<u8> {
    let head = b"{\"execute\": \"query-status\", \"id\": \"";
    let tail = b"\"}\r\n";
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(head);
    out.resize(size.saturating_sub(tail.len()).max(head.len()), b'x');
    out.extend_from_slice(tail);
    out
}

/// Connects (retrying while the server starts) and negotiates.
///
/// # Errors
///
/// Connecting or negotiating failed.
pub fn session(path: &Path) -> io::Result<Conn> {
    let mut conn = Conn::connect_until(path, Instant::now() + IO_TIMEOUT)?;
    conn.negotiate()?;
    Ok(conn)
}

/// `n` sequential round trips of `request`; each one's latency in
/// microseconds.
///
/// # Errors
///
/// A request failed.
pub fn round_trips(path: &Path, request: &[u8], n: usize) -> io::Result<Vec<f64>> {
    let mut conn = session(path)?;
    for _ in 0..WARM_UP {
        conn.call(request)?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        conn.call(request)?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok(samples)
}

/// `n` requests with `depth` in flight on one connection; requests per
/// second.
///
/// # Errors
///
/// A request failed.
pub fn in_flight(path: &Path, request: &[u8], n: usize, depth: usize) -> io::Result<f64> {
    let mut conn = session(path)?;
    for _ in 0..WARM_UP {
        conn.call(request)?;
    }
    let depth = depth.clamp(1, n.max(1));
    let t = Instant::now();
    let first: Vec<u8> = request.repeat(depth);
    conn.send(&first)?;
    let mut sent = depth;
    for _ in 0..n {
        conn.read_answer()?;
        if sent < n {
            conn.send(request)?;
            sent += 1;
        }
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// `clients` connections, client `i` on `sockets[i % len]`, each making
/// `per_client` sequential round trips at the same time; the aggregate
/// requests per second.
///
/// # Errors
///
/// A client failed.
pub fn concurrent(
    sockets: &[PathBuf],
    request: &[u8],
    clients: usize,
    per_client: usize,
) -> io::Result<f64> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut conn = session(&sockets[i % sockets.len()])?;
        for _ in 0..WARM_UP {
            conn.call(request)?;
        }
        conns.push(conn);
    }
    let threads: Vec<JoinHandle<io::Result<Instant>>> = conns
        .into_iter()
        .map(|mut conn| {
            let barrier = Arc::clone(&barrier);
            let request = request.to_vec();
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..per_client {
                    conn.call(&request)?;
                }
                Ok(Instant::now())
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let end = join_all(threads)?.into_iter().max().unwrap_or(start);
    Ok((clients * per_client) as f64 / (end - start).as_secs_f64())
}

/// Event throughput to `clients` negotiated clients: client 0 drives (one
/// `x-bench-events` of `count` events, or `count / 2` `stop`/`cont` pairs)
/// and every client counts the events it reads. Returns the slowest
/// client's events per second.
///
/// # Errors
///
/// A client failed.
pub fn events(
    sockets: &[PathBuf],
    source: EventSource,
    clients: usize,
    count: u64,
) -> io::Result<f64> {
    let (expected, names): (u64, &'static [&'static [u8]]) = match source {
        EventSource::Bench => (count, &[b"BENCH"]),
        EventSource::StopCont => (count / 2 * 2, &[b"STOP", b"RESUME"]),
    };
    let mut driver = session(&sockets[0])?;
    if source == EventSource::StopCont {
        // From a known state: running. Events this causes reach only the
        // driver, the others are not connected yet.
        driver.call(b"{\"execute\": \"cont\"}\r\n")?;
    }
    let mut conns = vec![driver];
    for i in 1..clients {
        conns.push(session(&sockets[i % sockets.len()])?);
    }
    let barrier = Arc::new(Barrier::new(clients));
    let deadline = Instant::now() + EVENTS_LIMIT;
    let threads: Vec<JoinHandle<io::Result<Finish>>> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut seen = 0u64;
                let start = if i == 0 {
                    let start = Instant::now();
                    drive(&mut conn, source, expected, names, &mut seen)?;
                    Some(start)
                } else {
                    None
                };
                while seen < expected {
                    if Instant::now() > deadline {
                        return Err(io::Error::other(format!(
                            "client {i} got {seen} of {expected} events"
                        )));
                    }
                    let line = conn.read_line()?;
                    if event_name(line).is_some_and(|n| names.contains(&n)) {
                        seen += 1;
                    }
                }
                Ok((start, Instant::now()))
            })
        })
        .collect();
    let done = join_all(threads)?;
    let start = done
        .iter()
        .find_map(|(s, _)| *s)
        .ok_or_else(|| io::Error::other("the driver did not start"))?;
    let end = done.iter().map(|(_, e)| *e).max().unwrap_or(start);
    Ok(expected as f64 / (end - start).as_secs_f64())
}

/// When a client started driving (client 0 only) and when it had read
/// every event.
type Finish = (Option<Instant>, Instant);

/// Client 0's part: asks for the events, counting those it reads meanwhile.
fn drive(
    conn: &mut Conn,
    source: EventSource,
    expected: u64,
    names: &[&[u8]],
    seen: &mut u64,
) -> io::Result<()> {
    let requests: Vec<Vec<u8>> = match source {
        EventSource::Bench => vec![format!(
            "{{\"execute\": \"x-bench-events\", \"arguments\": {{\"count\": {expected}}}}}\r\n"
        )
        .into_bytes()],
        EventSource::StopCont => (0..expected / 2)
            .flat_map(|_| {
                [
                    b"{\"execute\": \"stop\"}\r\n".to_vec(),
                    b"{\"execute\": \"cont\"}\r\n".to_vec(),
                ]
            })
            .collect(),
    };
    for request in requests {
        conn.send(&request)?;
        loop {
            let line = conn.read_line()?;
            if let Some(name) = super::qmp::event_name(line) {
                if names.contains(&name) {
                    *seen += 1;
                }
                continue;
            }
            if line.starts_with(b"{\"return\"") {
                break;
            }
            let shown = String::from_utf8_lossy(line).into_owned();
            return Err(io::Error::other(format!("the server answered: {shown}")));
        }
    }
    Ok(())
}

/// The server's resident memory before and with `n` idle negotiated
/// clients (client `i` on `sockets[i % len]`), in bytes.
///
/// # Errors
///
/// A client failed, or the memory could not be read.
pub fn idle_resident(sockets: &[PathBuf], pid: u32, n: usize) -> io::Result<(u64, u64)> {
    let before = super::procfs::resident(pid)?;
    let mut conns = Vec::with_capacity(n);
    for i in 0..n {
        conns.push(session(&sockets[i % sockets.len()])?);
    }
    // Every client has its answer: the server has set each session up.
    let with = super::procfs::resident(pid)?;
    drop(conns);
    Ok((before, with))
}

/// Shared fan-out: `idle` negotiated clients that never read again, then
/// `readers` clients that read everything while one of them asks for a
/// burst of `events` `BENCH` events (`x-bench-events`); the server's peak
/// resident memory (`VmHWM`) afterwards, in bytes. The idle clients stay
/// connected until it is read.
///
/// # Errors
///
/// A client failed, a reader did not get every event within
/// [`EVENTS_LIMIT`], or the memory could not be read.
pub fn fanout_peak(
    socket: &Path,
    pid: u32,
    idle: usize,
    readers: usize,
    events: u64,
) -> io::Result<u64> {
    let mut quiet = Vec::with_capacity(idle);
    for _ in 0..idle {
        quiet.push(session(socket)?);
    }
    let sockets = [socket.to_path_buf()];
    self::events(&sockets, EventSource::Bench, readers.max(1), events)?;
    let peak = super::procfs::peak_resident(pid)?;
    drop(quiet);
    Ok(peak)
}

fn join_all<T>(threads: Vec<JoinHandle<io::Result<T>>>) -> io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(threads.len());
    let mut first_error = None;
    for t in threads {
        match t.join() {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(io::Error::other("a client thread panicked"));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}
