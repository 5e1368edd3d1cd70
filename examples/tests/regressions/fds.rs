//! Descriptors and slots under hostile clients.
//!
//! - Defect 4: clients could make the monitor hold descriptors until the
//!   process ran out (`getfd` then said "No file descriptor supplied"), and
//!   a client `accept` could not take was never served. Now a budget (half
//!   of `RLIMIT_NOFILE`) refuses with a true error, and `accept` is tried
//!   again. The limit is set with `ulimit -n` in a shell that then `exec`s
//!   `minimal`: the real limit, read the way the monitor reads it.
//! - Defect 5: a client that passed its own socket and exited kept its
//!   session for good (the monitor held the other end). Now such a
//!   descriptor is refused.
//! - Defect 6: a client that hung up with a command pending kept its slot
//!   until the command finished. Now a full close releases it at once; a
//!   half-close still gets its answers.
//! - Defect 8 (part): `getfd` names and `add-fd` texts were unbounded.
//! - Defect 13 (part): each message's refused descriptors were a warning.

use std::fs::File;
use std::io::{BufReader, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use serde_json::{json, Value as Json};

use super::harness::{
    assert_log_bounded, fd_count, negotiated, read_json, wait_until, Probe, TIMEOUT,
};
use super::util::Minimal;

type Conn = (UnixStream, BufReader<UnixStream>);

/// Connects and reads the greeting: the connection if the monitor greeted
/// it, `None` if it was refused (closed before the greeting, or the
/// connection failed).
fn greeted(socket: &Path) -> Option<Conn> {
    let stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let greeting = read_json(&mut reader)?;
    assert!(greeting.get("QMP").is_some(), "not a greeting: {greeting}");
    Some((stream, reader))
}

/// Waits until a new client is greeted and returns it.
fn served(socket: &Path) -> Conn {
    let mut conn = None;
    let ok = wait_until(TIMEOUT, || {
        conn = greeted(socket);
        conn.is_some()
    });
    assert!(ok, "no new client was greeted within {TIMEOUT:?}");
    conn.expect("greeted")
}

/// Completes `qmp_capabilities` on a greeted connection.
fn negotiate(stream: &UnixStream, reader: &mut BufReader<UnixStream>) {
    let answer = request(stream, reader, &json!({"execute": "qmp_capabilities"}), &[]);
    assert_eq!(answer, json!({"return": {}}));
}

/// Sends `message` with `fds` attached (SCM_RIGHTS).
fn send(stream: &UnixStream, message: &Json, fds: &[BorrowedFd<'_>]) {
    let bytes = message.to_string();
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    let iov = [std::io::IoSlice::new(bytes.as_bytes())];
    let sent = rustix::net::sendmsg(stream, &iov, &mut control, SendFlags::NOSIGNAL)
        .expect("send with descriptors");
    (&*stream)
        .write_all(&bytes.as_bytes()[sent..])
        .expect("send the rest");
}

/// Sends a request (with descriptors) and reads its answer, skipping
/// events.
fn request(
    stream: &UnixStream,
    reader: &mut BufReader<UnixStream>,
    message: &Json,
    fds: &[BorrowedFd<'_>],
) -> Json {
    send(stream, message, fds);
    loop {
        let answer = read_json(reader).expect("an answer before end of file");
        if answer.get("event").is_none() {
            return answer;
        }
    }
}

/// The error text of an answer, or a failure if it succeeded.
fn error_of(answer: &Json) -> String {
    answer["error"]["desc"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {answer}"))
        .to_owned()
}

/// Whether something can be read from `stream` now (without reading it).
fn has_input(stream: &UnixStream) -> bool {
    let mut byte = [0u8; 1];
    let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
    matches!(rustix::net::recv(stream, &mut byte, flags), Ok((n, _)) if n > 0)
}

fn null() -> File {
    File::open("/dev/null").expect("/dev/null")
}

#[test]
fn defect_04_getfd_over_the_descriptor_budget_gets_a_true_error() {
    // 256 descriptors: a budget of 128 for clients. 16 sessions doing 64
    // getfd each would need 1,024.
    let minimal = Minimal::start_with_nofile(256, &["--max-clients", "64"], "warn");
    let pid = minimal.pid();
    let probe = Probe::start(&minimal.socket);
    let baseline = fd_count(pid);
    let mut attackers = Vec::new();
    let mut errors = Vec::new();
    let mut refused = 0;
    for _ in 0..16 {
        let Some(mut conn) = greeted(&minimal.socket) else {
            refused += 1;
            continue;
        };
        negotiate(&conn.0, &mut conn.1);
        for n in 0..64 {
            let file = null();
            let getfd = json!({"execute": "getfd", "arguments": {"fdname": format!("f{n}")}});
            let answer = request(&conn.0, &mut conn.1, &getfd, &[file.as_fd()]);
            if answer.get("error").is_some() {
                errors.push(error_of(&answer));
                break;
            }
        }
        attackers.push(conn);
    }
    assert!(
        !errors.is_empty(),
        "1,024 getfd under a limit of 256 descriptors all succeeded"
    );
    for error in &errors {
        assert_eq!(
            error, "Too many file descriptors: the monitor holds 128, its limit",
            "getfd over the budget must say so"
        );
    }
    // A new client: greeted, or refused and the refusal logged.
    match greeted(&minimal.socket) {
        Some(conn) => attackers.push(conn),
        None => refused += 1,
    }
    if refused > 0 {
        assert!(
            minimal
                .log()
                .contains("descriptors for its clients, its limit"),
            "{refused} clients were closed without a logged reason"
        );
    }
    drop(attackers);
    assert!(
        wait_until(TIMEOUT, || fd_count(pid) == baseline),
        "descriptors did not return to {baseline}: {}",
        fd_count(pid)
    );
    let (stream, mut reader) = served(&minimal.socket);
    negotiate(&stream, &mut reader);
    probe.finish_ok("defect 4: getfd until the descriptor budget is spent");
}

#[test]
fn defect_04_accept_is_retried_after_running_out_of_descriptors() {
    // A budget above the process's limit (as when the VMM itself holds
    // descriptors): `accept` fails with EMFILE.
    let minimal = Minimal::start_with_nofile(
        64,
        &["--fd-budget", "1000", "--max-clients", "1000"],
        "warn",
    );
    let pid = minimal.pid();
    let probe = Probe::start(&minimal.socket);
    let baseline = fd_count(pid);
    // Clients until `accept` fails: the last one waits in the listen
    // queue. A client that was accepted had its greeting written before
    // the next `accept` could fail and log it.
    let mut clients = Vec::new();
    let queued = loop {
        let client = UnixStream::connect(&minimal.socket).expect("connect");
        let greeted_or_failed = wait_until(TIMEOUT, || {
            has_input(&client) || minimal.log().contains("accept on")
        });
        assert!(greeted_or_failed, "neither greeted nor refused by accept");
        if !has_input(&client) {
            break client;
        }
        clients.push(client);
        assert!(
            clients.len() < 64,
            "64 clients under a limit of 64 descriptors"
        );
    };
    queued.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    drop(clients);
    let mut reader = BufReader::new(queued.try_clone().expect("clone"));
    let mut line = String::new();
    let read = std::io::BufRead::read_line(&mut reader, &mut line);
    assert!(
        matches!(read, Ok(n) if n > 0) && line.contains("\"QMP\""),
        "the queued client was not served once descriptors were freed: {read:?} {line:?}"
    );
    drop((queued, reader));
    assert!(
        wait_until(TIMEOUT, || fd_count(pid) == baseline),
        "descriptors did not return to {baseline}: {}",
        fd_count(pid)
    );
    probe.finish_ok("defect 4: out of descriptors at accept");
}

/// A client passes its own socket with `command` and exits; its session
/// must end and its slot (the only one) serve a new client.
fn own_socket_is_refused(command: &str, arguments: Json) {
    let minimal = Minimal::start(&["--max-clients", "1"], "warn");
    let (mut stream, mut reader) = negotiated(&minimal.socket);
    let pid = minimal.pid();
    let with_one_client = fd_count(pid);
    let message = json!({"execute": command, "arguments": arguments});
    let own = stream.try_clone().expect("clone");
    let answer = request(&stream, &mut reader, &message, &[own.as_fd()]);
    stream.flush().expect("flush");
    drop((stream, reader, own));
    let (_stream, _reader) = served(&minimal.socket);
    assert!(
        wait_until(TIMEOUT, || fd_count(pid) == with_one_client),
        "descriptors did not return to {with_one_client}: {}",
        fd_count(pid)
    );
    assert_eq!(
        error_of(&answer),
        "File descriptor refused: a connection to this monitor cannot be passed to it"
    );
}

#[test]
fn defect_05_own_socket_passed_with_getfd_does_not_keep_the_session() {
    own_socket_is_refused("getfd", json!({"fdname": "me"}));
}

#[test]
fn defect_05_own_socket_passed_with_add_fd_does_not_keep_the_session() {
    own_socket_is_refused("add-fd", json!({"opaque": "me"}));
}

#[test]
fn defect_06_a_client_gone_with_a_command_pending_frees_its_slot() {
    // No HEARTBEAT: writing an event to a client that has gone would also
    // release it, but a VMM does not always have events to send.
    let minimal = Minimal::start(&["--max-clients", "4", "-x-heartbeat", "0"], "warn");
    let pid = minimal.pid();
    let mut clients = vec![served(&minimal.socket)];
    let with_one_client = fd_count(pid);
    for _ in 1..4 {
        clients.push(served(&minimal.socket));
    }
    for (stream, mut reader) in clients {
        negotiate(&stream, &mut reader);
        send(
            &stream,
            &json!({"execute": "x-sleep", "arguments": {"ms": 120_000}, "id": 1}),
            &[],
        );
        // Gone: both directions closed, the answer can never be read.
    }
    // A fifth client gets a slot.
    let (stream, mut reader) = served(&minimal.socket);
    assert!(
        wait_until(TIMEOUT, || fd_count(pid) == with_one_client),
        "descriptors did not return to {with_one_client}: {}",
        fd_count(pid)
    );
    // A half-close still gets its answers.
    negotiate(&stream, &mut reader);
    send(
        &stream,
        &json!({"execute": "x-sleep", "arguments": {"ms": 100}, "id": 2}),
        &[],
    );
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let answer = read_json(&mut reader).expect("the answer after a half-close");
    assert_eq!(answer, json!({"return": {}, "id": 2}));
    assert_eq!(read_json(&mut reader), None, "end of file after the answer");
}

#[test]
fn defect_08_overlong_fd_names_and_opaque_texts_are_refused() {
    let minimal = Minimal::start(&[], "warn");
    let pid = minimal.pid();
    let (stream, mut reader) = negotiated(&minimal.socket);
    let baseline = fd_count(pid);
    let name = "n".repeat(257);
    let file = null();
    let getfd = json!({"execute": "getfd", "arguments": {"fdname": name}});
    let answer = request(&stream, &mut reader, &getfd, &[file.as_fd()]);
    assert_eq!(
        error_of(&answer),
        "Parameter 'fdname' expects a name of at most 256 bytes"
    );
    let closefd = json!({"execute": "closefd", "arguments": {"fdname": name}});
    let answer = request(&stream, &mut reader, &closefd, &[]);
    assert!(error_of(&answer).ends_with("not found"), "{answer}");
    let opaque = "o".repeat(1025);
    let add_fd = json!({"execute": "add-fd", "arguments": {"opaque": opaque}});
    let answer = request(&stream, &mut reader, &add_fd, &[file.as_fd()]);
    assert_eq!(
        error_of(&answer),
        "Parameter 'opaque' expects a text of at most 1024 bytes"
    );
    let query = json!({"execute": "query-fdsets"});
    let answer = request(&stream, &mut reader, &query, &[]);
    assert_eq!(answer, json!({"return": []}));
    assert_eq!(fd_count(pid), baseline, "a refused descriptor was kept");
    // At the limits: kept.
    let getfd = json!({"execute": "getfd", "arguments": {"fdname": &name[1..]}});
    let answer = request(&stream, &mut reader, &getfd, &[file.as_fd()]);
    assert_eq!(answer, json!({"return": {}}));
    let add_fd = json!({"execute": "add-fd", "arguments": {"opaque": &opaque[1..]}});
    let answer = request(&stream, &mut reader, &add_fd, &[file.as_fd()]);
    assert_eq!(answer["return"]["fdset-id"], json!(0));
    assert_eq!(fd_count(pid), baseline + 2);
}

/// Defect 13 (part): a client can bring descriptors with every message,
/// and each one the monitor refused was a warning of its own: 1,000
/// messages carrying the client's own socket wrote 1,000 lines. They are
/// rate limited like the other warnings clients cause.
#[test]
fn defect_13_refused_descriptors_leave_a_bounded_log() {
    let minimal = Minimal::start(&[], "warn");
    let started = std::time::Instant::now();
    let (stream, mut reader) = served(&minimal.socket);
    negotiate(&stream, &mut reader);
    for i in 0..1000 {
        let message = json!({"execute": "query-version", "id": i});
        let answer = request(&stream, &mut reader, &message, &[stream.as_fd()]);
        assert_eq!(answer["id"], json!(i), "{answer}");
    }
    let log = minimal.log();
    let refused = log.matches("closed the descriptors it passed").count();
    assert!(refused > 0, "no descriptors were refused:\n{log}");
    // One kind of warning, and the line saying where minimal listens.
    assert_log_bounded(
        &log,
        started,
        1,
        1,
        "1,000 messages with refused descriptors",
    );
}
