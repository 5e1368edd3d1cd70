//! What every attack test shares: a probing client, the target process's
//! memory and descriptors, and waiting on conditions.

#![allow(dead_code)] // each attack uses a different part

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// How long any single wait may take before it is a failure (never used to
/// decide that something happened).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until `cond` holds, checking every few milliseconds; false if it
/// still does not hold after `timeout`.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A `/proc/PID/status` field in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Peak resident memory of `pid` so far, in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM") / 1024
}

/// Resident memory of `pid` now, in MiB (`VmRSS`).
pub fn rss_mib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS") / 1024
}

/// Open descriptors of `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list the descriptors")
        .count()
}

/// Connects to a QMP socket and completes `qmp_capabilities`; the stream
/// has a read timeout of [`TIMEOUT`].
pub fn negotiated(socket: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = connect_retrying(socket);
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut reader = BufReader::with_capacity(1 << 20, stream.try_clone().expect("clone"));
    let greeting = read_json(&mut reader).expect("greeting");
    assert!(greeting.get("QMP").is_some(), "not a greeting: {greeting}");
    let mut writer = stream;
    writer
        .write_all(br#"{"execute":"qmp_capabilities"}"#)
        .expect("negotiate");
    let answer = read_json(&mut reader).expect("capabilities answer");
    assert_eq!(answer, json!({"return": {}}));
    (writer, reader)
}

/// Connects, retrying while the socket does not exist yet.
pub fn connect_retrying(socket: &Path) -> UnixStream {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match UnixStream::connect(socket) {
            Ok(s) => return s,
            Err(e) if Instant::now() >= deadline => panic!("connect {}: {e}", socket.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Reads one line and parses it; `None` at EOF.
pub fn read_json(reader: &mut BufReader<UnixStream>) -> Option<Json> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => None,
        Ok(_) => Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))),
        Err(e) => panic!("read failed: {e}"),
    }
}

/// Reads messages until one that is not an event (an answer), which it
/// returns; fails at end of file.
pub fn read_answer(reader: &mut BufReader<UnixStream>) -> Json {
    loop {
        let message = read_json(reader).expect("an answer");
        if message.get("event").is_none() {
            return message;
        }
    }
}

/// What a probe saw.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// `query-version` requests answered.
    pub answered: u64,
    /// When each answer arrived.
    pub answered_at: Vec<Instant>,
    /// The slowest answer.
    pub worst: Duration,
    /// What went wrong, if anything (disconnected, wrong answer, no answer
    /// within [`TIMEOUT`]).
    pub failure: Option<String>,
}

/// A well-behaved client that keeps asking `query-version` (one request
/// at a time, answers read at once, events skipped) until stopped.
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ProbeReport>>,
}

impl Probe {
    /// Connects and negotiates (before returning), then probes from a
    /// thread.
    pub fn start(socket: &Path) -> Probe {
        let (mut writer, mut reader) = negotiated(socket);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut report = ProbeReport {
                answered: 0,
                answered_at: Vec::new(),
                worst: Duration::ZERO,
                failure: None,
            };
            let mut seq = 0u64;
            while !stopping.load(Ordering::Relaxed) || report.answered == 0 {
                seq += 1;
                let asked = Instant::now();
                let request = json!({"execute": "query-version", "id": seq});
                if let Err(e) = writer.write_all(request.to_string().as_bytes()) {
                    report.failure = Some(format!("write failed: {e}"));
                    break;
                }
                let mut line = Vec::new();
                let answer = loop {
                    line.clear();
                    match reader.read_until(b'\n', &mut line) {
                        Ok(0) => break Err("disconnected".to_owned()),
                        Ok(_) => {}
                        Err(e) => break Err(format!("no answer: {e}")),
                    }
                    // Events are skipped unparsed: in an event flood the
                    // probe's own parsing would otherwise be what it
                    // measures (the monitor writes events as
                    // `{"timestamp": ...`, answers never start so).
                    if line.starts_with(b"{\"timestamp\"") {
                        continue;
                    }
                    match serde_json::from_slice::<Json>(&line) {
                        Ok(v) => break Ok(v),
                        Err(e) => break Err(format!("{e}: {:?}", String::from_utf8_lossy(&line))),
                    }
                };
                match answer {
                    Ok(v) if v["id"] == json!(seq) && v["return"]["qemu"].is_object() => {
                        report.answered += 1;
                        report.answered_at.push(Instant::now());
                        report.worst = report.worst.max(asked.elapsed());
                    }
                    Ok(v) => {
                        report.failure = Some(format!("unexpected answer {v}"));
                        break;
                    }
                    Err(e) => {
                        report.failure = Some(e);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            report
        });
        Probe {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops probing and returns what it saw (after at least one answer).
    pub fn finish(mut self) -> ProbeReport {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("finished once")
            .join()
            .expect("the probe thread panicked")
    }

    /// [`finish`](Self::finish), failing the test if the probe was ever
    /// refused, disconnected or left unanswered; prints the worst latency
    /// (measured, not judged).
    pub fn finish_ok(self, attack: &str) -> ProbeReport {
        let report = self.finish();
        if let Some(failure) = &report.failure {
            panic!("{attack}: the probing client failed: {failure}");
        }
        eprintln!(
            "{attack}: probe answered {} times, worst {:?}",
            report.answered, report.worst
        );
        report
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Fails unless `log` is within what `kinds` kinds of rate-limited
/// warning may write since `started`: 10 lines and one summary each per
/// 10 s interval (the first starting with its first line), plus `extra`
/// lines; prints the count (`what` names the attack).
pub fn assert_log_bounded(log: &str, started: Instant, kinds: usize, extra: usize, what: &str) {
    let lines = log.lines().count();
    let intervals = started.elapsed().as_secs() as usize / 10 + 2;
    let bound = kinds * 11 * intervals + extra;
    eprintln!("{what}: {lines} log lines (at most {bound})");
    assert!(
        lines <= bound,
        "{lines} log lines for {what}, more than {bound}:\n{}",
        log.lines().take(40).collect::<Vec<_>>().join("\n")
    );
}

/// A fresh path for a socket of this test process.
pub fn temp_socket(tag: &str) -> PathBuf {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-reg-{tag}-{}-{n}.sock", std::process::id()))
}

/// Ends `minimal` (started with `-x-stats`) with SIGTERM and prints the
/// longest turn of its monitor thread, which it reports on exit: how long
/// any client could have waited on the others during `attack` (measured,
/// not judged). Fails if it does not exit cleanly.
pub fn report_longest_turn(minimal: &mut super::util::Minimal, attack: &str) -> Duration {
    use rustix::process::{kill_process, Pid, Signal};
    let pid = Pid::from_raw(minimal.pid() as i32).expect("a child's pid is positive");
    kill_process(pid, Signal::TERM).expect("send SIGTERM");
    let status = minimal
        .wait_exit(TIMEOUT)
        .expect("minimal exits on SIGTERM");
    assert!(status.success(), "{attack}: minimal exited with {status}");
    let log = minimal.log();
    let micros: u64 = log
        .lines()
        .find_map(|l| l.strip_prefix("minimal: longest turn of the monitor thread: "))
        .and_then(|v| v.strip_suffix(" µs")?.parse().ok())
        .unwrap_or_else(|| panic!("{attack}: no longest turn in the log:\n{log}"));
    let turn = Duration::from_micros(micros);
    eprintln!("{attack}: the monitor thread's longest turn {turn:?}");
    turn
}
