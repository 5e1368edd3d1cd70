//! The descriptor commands (`getfd`, `closefd`, `add-fd`, `remove-fd`,
//! `query-fdsets`) answer as QEMU 7.2 does: with real descriptors passed,
//! descriptor numbers aside (they are per process), and byte for byte on
//! the error paths where none is passed.
//!
//! What happens to fd sets when the last client goes is not compared: QEMU
//! closes them then (`monitor_fdsets_cleanup`), and a standalone probe
//! shows it, but in one loaded full-suite run its sets were still there
//! after 30 s of reconnecting, for a reason not established. `fd_passing.rs`
//! checks our side.
//!
//! Needs `qemu-system-x86_64` on `PATH`; skipped without it, except in CI.

mod util;

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use monitor_core::client::{Client, ClientError};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The answer as a value, with every descriptor number masked.
fn masked(result: Result<Value, ClientError>) -> Value {
    fn mask(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, member) in map.iter_mut() {
                    if key == "fd" && member.is_i64() {
                        *member = json!("<fd>");
                    } else {
                        mask(member);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(mask),
            _ => {}
        }
    }
    let mut v = match result {
        Ok(v) => json!({ "return": v }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    mask(&mut v);
    v
}

fn connect(socket: &Path) -> Client {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        // QEMU serves one client at a time: retry while the last one is
        // still being let go.
        match Client::connect_unix(socket) {
            Ok(mut client) => {
                client.set_timeout(TIMEOUT);
                client.negotiate().expect("negotiate");
                return client;
            }
            Err(e) => assert!(Instant::now() < deadline, "cannot connect: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One scripted conversation; the answers, masked.
fn script(socket: &Path) -> Vec<Value> {
    let read = File::open("/dev/null").expect("/dev/null");
    let write = File::options()
        .write(true)
        .open("/dev/null")
        .expect("/dev/null");
    let (r, w): (BorrowedFd<'_>, BorrowedFd<'_>) = (read.as_fd(), write.as_fd());
    let mut out = Vec::new();
    let mut client = connect(socket);
    let mut run = |client: &mut Client, cmd: &str, args: Value, fds: &[BorrowedFd<'_>]| {
        let result = if fds.is_empty() {
            client.execute(cmd, args)
        } else {
            client.execute_with_fds(cmd, args, fds)
        };
        out.push(json!([cmd, masked(result)]));
    };
    run(&mut client, "getfd", json!({"fdname": "1a"}), &[w]);
    run(&mut client, "getfd", json!({"fdname": "a"}), &[w]);
    run(&mut client, "getfd", json!({"fdname": "a"}), &[r, w]);
    run(&mut client, "closefd", json!({"fdname": "a"}), &[]);
    run(&mut client, "closefd", json!({"fdname": "a"}), &[]);
    run(&mut client, "add-fd", json!({"opaque": "first"}), &[w]);
    run(&mut client, "add-fd", json!({"fdset-id": 3}), &[r]);
    run(
        &mut client,
        "add-fd",
        json!({"fdset-id": 3, "opaque": "x"}),
        &[w],
    );
    run(&mut client, "add-fd", json!({}), &[w]);
    run(&mut client, "add-fd", json!({"fdset-id": -1}), &[w]);
    run(&mut client, "query-fdsets", json!({}), &[]);
    run(
        &mut client,
        "remove-fd",
        json!({"fdset-id": 3, "fd": 999}),
        &[],
    );
    run(&mut client, "remove-fd", json!({"fdset-id": 1}), &[]);
    run(&mut client, "query-fdsets", json!({}), &[]);
    // A descriptor sent alone, then a command that takes it.
    client.send_with_fds(b" ", &[w]).expect("send a descriptor");
    run(&mut client, "query-fdsets", json!({}), &[]);
    run(&mut client, "add-fd", json!({"fdset-id": 0}), &[]);
    run(&mut client, "query-fdsets", json!({}), &[]);
    out
}

#[test]
fn descriptor_passing_matches_qemu() {
    let Some(pair) = util::Pair::start() else {
        return;
    };
    let (qemu_socket, our_socket) = pair.sockets();
    let qemu = script(qemu_socket);
    let ours = script(our_socket);
    for (i, (q, o)) in qemu.iter().zip(&ours).enumerate() {
        assert_eq!(o, q, "answer {i}: ours (left) differs from QEMU's (right)");
    }
    assert_eq!(ours.len(), qemu.len());
}

/// The descriptor commands where no descriptor was passed (byte for byte,
/// through the differential harness).
#[test]
fn fd_commands_without_descriptors_match_qemu() {
    use util::{run_group, Case, Nego::Plain};
    let cases = vec![
        Case::new(
            "getfd_without_a_descriptor",
            Plain,
            r#"{"execute":"getfd","arguments":{"fdname":"a"},"id":1}"#,
        ),
        Case::new(
            "getfd_without_fdname",
            Plain,
            r#"{"execute":"getfd","id":1}"#,
        ),
        Case::new(
            "getfd_with_an_unexpected_member",
            Plain,
            r#"{"execute":"getfd","arguments":{"fdname":"a","x":1},"id":1}"#,
        ),
        Case::new(
            "getfd_with_a_numeric_fdname",
            Plain,
            r#"{"execute":"getfd","arguments":{"fdname":3},"id":1}"#,
        ),
        Case::new(
            "closefd_of_an_unknown_name",
            Plain,
            r#"{"execute":"closefd","arguments":{"fdname":"nope"},"id":1}"#,
        ),
        Case::new(
            "add_fd_without_a_descriptor",
            Plain,
            r#"{"execute":"add-fd","arguments":{"fdset-id":1,"opaque":"x"},"id":1}"#,
        ),
        Case::new(
            "add_fd_with_a_string_fdset_id",
            Plain,
            r#"{"execute":"add-fd","arguments":{"fdset-id":"1"},"id":1}"#,
        ),
        Case::new(
            "remove_fd_of_an_unknown_set",
            Plain,
            r#"{"execute":"remove-fd","arguments":{"fdset-id":9},"id":1}"#,
        ),
        Case::new(
            "remove_fd_of_an_unknown_descriptor",
            Plain,
            r#"{"execute":"remove-fd","arguments":{"fdset-id":9,"fd":-1},"id":1}"#,
        ),
        Case::new(
            "remove_fd_without_fdset_id",
            Plain,
            r#"{"execute":"remove-fd","arguments":{"fd":3},"id":1}"#,
        ),
        Case::new(
            "query_fdsets_when_empty",
            Plain,
            r#"{"execute":"query-fdsets","id":1}"#,
        ),
        Case::new(
            "query_fdsets_with_an_argument",
            Plain,
            r#"{"execute":"query-fdsets","arguments":{"x":1},"id":1}"#,
        ),
    ];
    run_group("fd_commands", cases);
}
