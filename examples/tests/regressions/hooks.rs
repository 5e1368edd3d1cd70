//! Defects 12 and 2 (the examples' part): the examples' test commands as
//! hostile clients use them: `x-sleep` cost a thread per call and took
//! `ms: -1` as "forever"; `x-fd-write` blocked the monitor thread on a
//! full pipe; `x-bench-events` bounded `count` but not `count` times the
//! event's size. Defect 13: every abrupt disconnect logged a warning.

use std::io::{BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Instant;

use monitor_core::client::Client;
use rustix::fs::{FileType, Mode, OFlags};
use serde_json::{json, Value as Json};

use super::harness::{
    assert_log_bounded, connect_retrying, fd_count, negotiated, peak_rss_mib, read_answer,
    read_json, wait_until, Probe, TIMEOUT,
};
use super::util::Minimal;

/// The process's thread count (`Threads:` in `/proc/PID/status`).
fn threads(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Threads: in /proc/PID/status")
}

/// [`negotiated`] with the `oob` capability: the monitor goes on reading
/// while a command is pending, and so sees the client leave.
fn negotiated_oob(socket: &Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = connect_retrying(socket);
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    read_json(&mut reader).expect("greeting");
    let mut writer = stream;
    writer
        .write_all(br#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]}}"#)
        .expect("negotiate");
    let answer = read_json(&mut reader).expect("capabilities answer");
    assert_eq!(answer, json!({"return": {}}));
    (writer, reader)
}

#[test]
fn defect_12_sleeps_of_clients_that_left_cost_no_threads() {
    let minimal = Minimal::spawn_with(&["--max-clients", "1024"], "warn");
    let pid = minimal.pid();
    let probe = Probe::start(&minimal.socket);
    // The heartbeat's thread is the last `minimal` starts: once a HEARTBEAT
    // has come, the thread count is the steady one.
    let (watcher, mut heartbeats) = negotiated(&minimal.socket);
    let beat = std::iter::from_fn(|| read_json(&mut heartbeats))
        .find(|message| message["event"] == "HEARTBEAT");
    assert!(beat.is_some(), "no HEARTBEAT within {TIMEOUT:?}");
    drop((watcher, heartbeats));
    let baseline = threads(pid);
    for i in 0..2000 {
        let (mut writer, mut reader) = negotiated_oob(&minimal.socket);
        writer
            .write_all(
                json!({"execute": "x-sleep", "arguments": {"ms": 60000}, "id": i})
                    .to_string()
                    .as_bytes(),
            )
            .expect("send x-sleep");
        // The monitor closes the connection once it has read to the end
        // (with `oob` it reads on while a command runs): the sleep was
        // dispatched, then cancelled.
        writer.shutdown(Shutdown::Write).expect("shutdown");
        // Events (the heartbeat) may come first; no answer may.
        let left = std::iter::from_fn(|| read_json(&mut reader))
            .find(|message| message.get("event").is_none());
        assert_eq!(left, None, "client {i}");
        drop((writer, reader));
    }
    let peak = threads(pid);
    assert!(
        wait_until(TIMEOUT, || threads(pid) <= baseline),
        "{} threads {TIMEOUT:?} after 2000 clients left their 60 s sleeps \
         (baseline {baseline}, {peak} right after)",
        threads(pid)
    );
    probe.finish_ok("2000 x-sleep 60000 from clients that leave");
}

/// Sends one command and returns its answer (events skipped), failing
/// the test if none comes within [`TIMEOUT`].
fn execute(
    writer: &mut UnixStream,
    reader: &mut BufReader<UnixStream>,
    command: &str,
    arguments: Json,
) -> Json {
    let request = json!({"execute": command, "arguments": arguments, "id": command});
    writer
        .write_all(request.to_string().as_bytes())
        .expect("send");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "{request}: no answer in {TIMEOUT:?}"
        );
        let message = read_json(reader).expect("an answer before the connection closes");
        if message.get("event").is_none() {
            assert_eq!(message["id"], command, "{message}");
            return message;
        }
    }
}

#[test]
fn defect_12_negative_and_huge_sleeps_are_refused() {
    let minimal = Minimal::spawn_with(&[], "warn");
    let (mut writer, mut reader) = negotiated(&minimal.socket);
    let expected = "Parameter 'ms' expects an integer in the range of 0 to 3600000";
    for ms in [json!(-1), json!(3_600_001), json!(u64::MAX)] {
        let answer = execute(&mut writer, &mut reader, "x-sleep", json!({ "ms": ms }));
        assert_eq!(answer["error"]["desc"], expected, "ms: {ms}: {answer}");
    }
    let answer = execute(&mut writer, &mut reader, "x-sleep", json!({"ms": "x"}));
    assert_eq!(
        answer["error"]["desc"], "Parameter 'ms' expects uint64",
        "{answer}"
    );
    let answer = execute(&mut writer, &mut reader, "x-sleep", json!({"ms": 0}));
    assert_eq!(answer["return"], json!({}), "a sleep of 0 answers");
}

/// A fifo in the temporary directory, removed when dropped.
struct Fifo(PathBuf);

impl Drop for Fifo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn defect_12_fd_write_to_a_full_pipe_does_not_stall_the_monitor() {
    let minimal = Minimal::spawn_with(&[], "warn");
    let probe = Probe::start(&minimal.socket);
    let fifo = Fifo(std::env::temp_dir().join(format!("mc-reg-hooks-{}.fifo", std::process::id())));
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo.0,
        FileType::Fifo,
        Mode::RUSR | Mode::WUSR,
        0,
    )
    .expect("mkfifo");
    // Opened first, so that opening the writing end does not wait; read
    // only at the end.
    let reader = rustix::fs::open(&fifo.0, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())
        .expect("open the reading end");
    let pipe = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo.0)
        .expect("open the writing end");
    let mut client = Client::connect_unix(&minimal.socket).expect("connect");
    client.negotiate().expect("negotiate");
    // No HEARTBEAT comes while the monitor thread is stuck: the client's
    // own timeout (10 s) ends the test then.
    client
        .execute_with_fds("getfd", json!({"fdname": "out"}), &[pipe.as_fd()])
        .expect("getfd");
    drop(pipe);
    let data = "x".repeat(1 << 20);
    let first = client
        .execute("x-fd-write", json!({"fdname": "out", "data": data}))
        .expect("a write to a pipe with room answers");
    let written = first["written"].as_u64().expect("written");
    assert!(
        written > 0 && written < data.len() as u64,
        "a pipe takes part of 1 MiB: {first}"
    );
    let err = client
        .execute("x-fd-write", json!({"fdname": "out", "data": data}))
        .expect_err("a full pipe takes nothing");
    assert!(
        err.to_string()
            .starts_with("GenericError: Cannot write to 'out': Resource temporarily unavailable"),
        "{err}"
    );
    probe.finish_ok("x-fd-write to a full pipe");
    // The answer was true: the pipe holds what it says was written.
    let mut reader = std::fs::File::from(reader);
    let mut got = Vec::new();
    let _ = reader.read_to_end(&mut got);
    assert_eq!(got.len() as u64, written);
}

#[test]
fn defect_02_bench_events_are_bounded_in_bytes() {
    let minimal = Minimal::spawn_with(&[], "warn");
    let pid = minimal.pid();
    let probe = Probe::start(&minimal.socket);
    let (mut writer, mut reader) = negotiated(&minimal.socket);
    let blob = "x".repeat(256 << 10);
    let request = json!({
        "execute": "x-bench-events",
        "arguments": {"count": 2000, "data": {"blob": blob}},
        "id": "big",
    });
    writer
        .write_all(request.to_string().as_bytes())
        .expect("send");
    let answer = read_answer(&mut reader);
    assert_eq!(answer["id"], "big");
    let desc = answer["error"]["desc"].as_str().unwrap_or_default();
    assert!(
        desc.starts_with("Parameter 'count' expects at most 511 for events of "),
        "{answer}"
    );
    // docs/LIMITS.md: at most 128 MiB of events per call; refused, it
    // costs nothing like that.
    let peak = peak_rss_mib(pid);
    assert!(peak < 64, "peak RSS {peak} MiB");
    probe.finish_ok("x-bench-events of 2000 x 256 KiB");
}

#[test]
fn defect_13_connect_close_cycles_leave_a_bounded_log() {
    let minimal = Minimal::spawn_with(&[], "warn");
    let pid = minimal.pid();
    let started = Instant::now();
    let baseline_fds = fd_count(pid);
    let mut queries = Vec::new();
    for i in 0..50 {
        queries.extend_from_slice(
            json!({"execute": "query-version", "id": i})
                .to_string()
                .as_bytes(),
        );
    }
    for i in 0..10_000u32 {
        let mut stream = connect_retrying(&minimal.socket);
        // Whatever the monitor makes of a client that is gone already.
        let _ = match i % 3 {
            // The greeting unread.
            0 => Ok(()),
            // A pending command.
            1 => stream.write_all(
                br#"{"execute":"qmp_capabilities"}{"execute":"x-sleep","arguments":{"ms":60000}}"#,
            ),
            // Answers unread.
            _ => stream
                .write_all(br#"{"execute":"qmp_capabilities"}"#)
                .and_then(|()| stream.write_all(&queries)),
        };
        drop(stream);
    }
    // Every one of them closed on the monitor's side.
    assert!(
        wait_until(TIMEOUT, || fd_count(pid) <= baseline_fds),
        "{} descriptors, {baseline_fds} before",
        fd_count(pid)
    );
    // One more client, served, so that its turn comes after the others.
    let probe = Probe::start(&minimal.socket);
    probe.finish_ok("after 10,000 connect/close cycles");
    // Rate limited: 3 kinds of warning.
    assert_log_bounded(&minimal.log(), started, 3, 0, "10,000 connect/close cycles");
}

#[test]
fn defect_13_refused_clients_leave_a_bounded_log() {
    // No connection of its own before the probe's.
    let minimal = Minimal::start(&["--max-clients", "1"], "warn");
    let started = Instant::now();
    // The one client allowed; every other is refused (a warning each).
    let probe = Probe::start(&minimal.socket);
    for _ in 0..10_000 {
        drop(connect_retrying(&minimal.socket));
    }
    probe.finish_ok("10,000 clients over the limit");
    // Once a new client is greeted, every earlier one was accepted and
    // refused, and the probe's place is free.
    assert!(
        wait_until(TIMEOUT, || {
            let stream = connect_retrying(&minimal.socket);
            stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
            let mut reader = BufReader::new(stream);
            read_json(&mut reader).is_some_and(|g| g.get("QMP").is_some())
        }),
        "no client was greeted after the probe left"
    );
    let log = minimal.log();
    let refused = log.matches("refused a client").count();
    assert!(refused > 0, "no client was refused:\n{log}");
    // One kind of warning, and the line saying where minimal listens.
    assert_log_bounded(&log, started, 1, 1, "10,000 refused clients");
}
