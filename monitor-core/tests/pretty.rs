//! Pretty QMP listeners (QEMU's `-qmp-pretty`, `-mon ...,pretty=on`): every
//! message a session gets is laid out as QEMU 7.2 lays it out, byte for
//! byte. The expected bytes were captured from `qemu-system-x86_64` 7.2;
//! `matches_a_running_qemu` compares with a live QEMU when one is installed
//! (SKIPPED without, a failure under `CI`).

use monitor_test_util as util;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use monitor_core::{
    Command, CommandError, Event, ListenAddr, ListenOptions, Monitor, MonitorBuilder, Schema,
};
use serde::Serialize;
use util::{socket_path, TIMEOUT};

/// QEMU 7.2's `query-status` answer.
#[derive(Serialize, Schema)]
struct StatusInfo {
    status: String,
    singlestep: bool,
    running: bool,
}

/// A monitor answering the commands used here as QEMU does: `stop` and
/// `cont` emit `STOP` and `RESUME` before their answer, `x-later` answers
/// from another thread (the deferred path).
fn qemu_like(version: (i64, i64, i64, &str)) -> MonitorBuilder {
    let (major, minor, micro, package) = version;
    Monitor::builder()
        .version(major, minor, micro, package)
        .command(Command::typed("stop", |ctx, ()| {
            ctx.emitter().emit(Event::new("STOP"));
            Ok::<_, CommandError>(())
        }))
        .command(Command::typed("cont", |ctx, ()| {
            ctx.emitter().emit(Event::new("RESUME"));
            Ok::<_, CommandError>(())
        }))
        .command(Command::typed("query-status", |_, ()| {
            Ok::<_, CommandError>(StatusInfo {
                status: "running".into(),
                singlestep: false,
                running: true,
            })
        }))
        .command(Command::typed("x-later", |ctx, ()| {
            let done = ctx.defer::<Vec<u64>>();
            std::thread::spawn(move || done.complete(Ok::<_, CommandError>(vec![1, 2])));
            Ok::<_, CommandError>(())
        }))
}

const QEMU_VERSION: (i64, i64, i64, &str) = (7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3");

/// Reads `n` pretty messages: each ends with its closing brace alone on a
/// line (nested ones are indented).
fn read_messages(stream: &mut UnixStream, n: usize) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&got);
        let ends: Vec<usize> = text.match_indices("\n}\r\n").map(|(i, _)| i + 4).collect();
        if ends.len() >= n {
            assert_eq!(ends.len(), n, "more than {n} messages: {text:?}");
            assert_eq!(ends[n - 1], got.len(), "trailing bytes: {text:?}");
            let mut start = 0;
            return ends
                .iter()
                .map(|&end| {
                    let message = text[start..end].to_owned();
                    start = end;
                    message
                })
                .collect();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out; got {text:?}");
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed; got {text:?}"),
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) => panic!("reading: {e}; got {text:?}"),
        }
    }
}

/// Timestamps differ between runs: their digits become `N`.
fn mask_times(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = ["\"seconds\": ", "\"microseconds\": "]
        .iter()
        .filter_map(|key| rest.find(key).map(|i| (i, key.len())))
        .min()
    {
        let (i, len) = at;
        out.push_str(&rest[..i + len]);
        rest = rest[i + len..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('N');
    }
    out.push_str(rest);
    out
}

/// What QEMU answered (captured), request by request: the request, then
/// the messages it brings, timestamps masked.
fn transcript() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (
            r#"{"execute":"qmp_capabilities"}"#,
            vec!["{\r\n    \"return\": {\r\n    }\r\n}\r\n"],
        ),
        (
            r#"{"execute":"qmp_capabilities","id":1}"#,
            vec![
                "{\r\n    \"id\": 1,\r\n    \"error\": {\r\n        \"class\": \"CommandNotFound\",\r\n        \
                 \"desc\": \"Capabilities negotiation is already complete, command ignored\"\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"nope","id":"x"}"#,
            vec![
                "{\r\n    \"id\": \"x\",\r\n    \"error\": {\r\n        \"class\": \"CommandNotFound\",\r\n        \
                 \"desc\": \"The command nope has not been found\"\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":}"#,
            vec![
                "{\r\n    \"error\": {\r\n        \"class\": \"GenericError\",\r\n        \
                 \"desc\": \"JSON parse error, expecting value\"\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"query-version"}"#,
            vec![
                "{\r\n    \"return\": {\r\n        \"qemu\": {\r\n            \"micro\": 22,\r\n            \
                 \"minor\": 2,\r\n            \"major\": 7\r\n        },\r\n        \
                 \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"stop"}"#,
            vec![
                "{\r\n    \"timestamp\": {\r\n        \"seconds\": N,\r\n        \"microseconds\": N\r\n    \
                 },\r\n    \"event\": \"STOP\"\r\n}\r\n",
                "{\r\n    \"return\": {\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"cont"}"#,
            vec![
                "{\r\n    \"timestamp\": {\r\n        \"seconds\": N,\r\n        \"microseconds\": N\r\n    \
                 },\r\n    \"event\": \"RESUME\"\r\n}\r\n",
                "{\r\n    \"return\": {\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"query-status","id":[1,{},[],{"a":[]}]}"#,
            vec![
                "{\r\n    \"return\": {\r\n        \"status\": \"running\",\r\n        \
                 \"singlestep\": false,\r\n        \"running\": true\r\n    },\r\n    \
                 \"id\": [\r\n        1,\r\n        {\r\n        },\r\n        [\r\n        ],\r\n        \
                 {\r\n            \"a\": [\r\n            ]\r\n        }\r\n    ]\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"nope","id":1.5}"#,
            vec![
                "{\r\n    \"id\": 1.5,\r\n    \"error\": {\r\n        \"class\": \"CommandNotFound\",\r\n        \
                 \"desc\": \"The command nope has not been found\"\r\n    }\r\n}\r\n",
            ],
        ),
        (
            r#"{"execute":"nope","id":"a\"b\n\u00e9, :{}[]"}"#,
            vec![
                "{\r\n    \"id\": \"a\\\"b\\n\\u00E9, :{}[]\",\r\n    \"error\": {\r\n        \
                 \"class\": \"CommandNotFound\",\r\n        \
                 \"desc\": \"The command nope has not been found\"\r\n    }\r\n}\r\n",
            ],
        ),
    ]
}

/// QEMU 7.2's greeting with `pretty=on` (captured).
const GREETING: &str = "{\r\n    \"QMP\": {\r\n        \"version\": {\r\n            \"qemu\": {\r\n                \
     \"micro\": 22,\r\n                \"minor\": 2,\r\n                \"major\": 7\r\n            },\r\n            \
     \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"\r\n        },\r\n        \
     \"capabilities\": [\r\n            \"oob\"\r\n        ]\r\n    }\r\n}\r\n";

/// Sends each request and collects what it brings, timestamps masked.
fn replay(stream: &mut UnixStream, requests: &[(&str, usize)]) -> Vec<Vec<String>> {
    requests
        .iter()
        .map(|(request, n)| {
            stream.write_all(request.as_bytes()).expect("send");
            read_messages(stream, *n)
                .iter()
                .map(|m| mask_times(m))
                .collect()
        })
        .collect()
}

fn pretty() -> ListenOptions {
    ListenOptions {
        pretty: true,
        ..ListenOptions::default()
    }
}

#[test]
fn every_message_is_laid_out_as_qemu_does() {
    let path = socket_path("pretty");
    let monitor = qemu_like(QEMU_VERSION)
        .listen_with(ListenAddr::Unix(path.clone()), pretty())
        .spawn()
        .expect("spawn");
    let mut stream = UnixStream::connect(&path).expect("connect");
    assert_eq!(read_messages(&mut stream, 1), [GREETING]);
    let expected = transcript();
    let requests: Vec<(&str, usize)> = expected.iter().map(|(r, m)| (*r, m.len())).collect();
    let got = replay(&mut stream, &requests);
    for ((request, want), got) in expected.iter().zip(&got) {
        assert_eq!(got, want, "answer to {request}");
    }
    // A deferred answer goes through the same layout.
    stream
        .write_all(br#"{"execute":"x-later","id":2}"#)
        .expect("send");
    assert_eq!(
        read_messages(&mut stream, 1),
        ["{\r\n    \"return\": [\r\n        1,\r\n        2\r\n    ],\r\n    \"id\": 2\r\n}\r\n"]
    );
    monitor.shutdown();
}

#[test]
fn compact_and_pretty_listeners_side_by_side() {
    let compact_path = socket_path("compact");
    let (listener, pretty_path) = {
        let path = socket_path("pretty-fd");
        (UnixListener::bind(&path).expect("bind"), path)
    };
    let monitor = qemu_like(QEMU_VERSION)
        .listen_unix(&compact_path)
        .listen_with(OwnedFd::from(listener), pretty())
        .spawn()
        .expect("spawn");
    let mut compact = monitor_core::client::Client::connect_unix(&compact_path).expect("compact");
    compact.set_timeout(TIMEOUT);
    compact.negotiate().expect("negotiate");
    let mut pretty = UnixStream::connect(&pretty_path).expect("connect");
    assert_eq!(read_messages(&mut pretty, 1), [GREETING]);
    let _ = replay(&mut pretty, &[(r#"{"execute":"qmp_capabilities"}"#, 1)]);
    // An event emitted outside any command reaches both, each in its own
    // layout.
    monitor
        .emitter()
        .emit(Event::new("X_EVENT").with_data(&[1]).expect("data"));
    let event = compact.wait_event("X_EVENT").expect("compact event");
    assert_eq!(event["data"], serde_json::json!([1]));
    let got = read_messages(&mut pretty, 1);
    assert_eq!(
        mask_times(&got[0]),
        "{\r\n    \"timestamp\": {\r\n        \"seconds\": N,\r\n        \"microseconds\": N\r\n    },\r\n    \
         \"event\": \"X_EVENT\",\r\n    \"data\": [\r\n        1\r\n    ]\r\n}\r\n"
    );
    monitor.shutdown();
    monitor.wait().expect("clean exit");
    let _ = std::fs::remove_file(&pretty_path);
}

/// QEMU with a pretty QMP socket, killed on drop.
struct Qemu {
    child: Child,
    socket: PathBuf,
}

impl Qemu {
    fn start() -> Option<Qemu> {
        const QEMU: &str = "qemu-system-x86_64";
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(QEMU))
                .find(|candidate| candidate.is_file())
        });
        let Some(program) = found else {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{QEMU} not found on PATH; the pretty differential test must run in CI");
            }
            eprintln!("SKIPPED: {QEMU} not found; pretty output not compared with QEMU");
            return None;
        };
        let socket = socket_path("qemu-pretty");
        let child = Process::new(program)
            .args([
                "-machine",
                "none",
                "-accel",
                "tcg",
                "-display",
                "none",
                "-nodefaults",
            ])
            .arg("-qmp-pretty")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start QEMU");
        Some(Qemu { child, socket })
    }

    /// Connects, retrying until QEMU has created its socket.
    fn connect(&mut self) -> UnixStream {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match UnixStream::connect(&self.socket) {
                Ok(stream) => return stream,
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        panic!("QEMU exited: {status}");
                    }
                    assert!(Instant::now() < deadline, "QEMU does not listen: {e}");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The version in a (pretty) greeting.
fn version_of(greeting: &str) -> (i64, i64, i64, String) {
    let value: serde_json::Value = serde_json::from_str(greeting).expect("the greeting is JSON");
    let v = &value["QMP"]["version"];
    let n = |k: &str| v["qemu"][k].as_i64().expect("a number");
    let package = v["package"].as_str().expect("a string").to_owned();
    (n("major"), n("minor"), n("micro"), package)
}

#[test]
fn matches_a_running_qemu() {
    let Some(mut qemu) = Qemu::start() else {
        return;
    };
    let mut theirs = qemu.connect();
    let their_greeting = read_messages(&mut theirs, 1).remove(0);
    let (major, minor, micro, package) = version_of(&their_greeting);
    // Served from an inherited descriptor, as libvirt would pass it.
    let path = socket_path("ours-pretty");
    let listener = UnixListener::bind(&path).expect("bind");
    let monitor = qemu_like((major, minor, micro, &package))
        .listen_with(OwnedFd::from(listener), pretty())
        .spawn()
        .expect("spawn");
    let mut ours = UnixStream::connect(&path).expect("connect");
    assert_eq!(read_messages(&mut ours, 1), [their_greeting]);
    let requests: Vec<(&str, usize)> = transcript().iter().map(|(r, m)| (*r, m.len())).collect();
    let want = replay(&mut theirs, &requests);
    let got = replay(&mut ours, &requests);
    for (((request, _), want), got) in requests.iter().zip(&want).zip(&got) {
        assert_eq!(got, want, "answer to {request}");
    }
    monitor.shutdown();
    monitor.wait().expect("clean exit");
    remove(&path);
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
