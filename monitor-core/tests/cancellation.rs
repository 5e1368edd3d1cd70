//! 10,000 commands left pending by clients that then disconnect: every one
//! is cancelled, and memory and file descriptors return to their starting
//! level. Alone in its test binary, so the process-wide counts are its own.

use monitor_test_util as util;

use util::{wait_until, TIMEOUT};

use std::path::PathBuf;
use std::sync::Arc;

use monitor_core::client::Client;
use monitor_core::pending::Completion;
use monitor_core::{qmp_command, CommandError, Monitor};
use parking_lot::Mutex;
use serde_json::json;

#[derive(Default)]
struct Gate {
    held: Mutex<Vec<Completion<u64>>>,
}

/// Keep the answer pending; allowed out of band, so one client can have many.
#[qmp_command(name = "x-park", allow_oob)]
fn x_park(gate: &Arc<Gate>, done: Completion<u64>) {
    gate.held.lock().push(done);
}

#[qmp_command(name = "x-ping", allow_oob)]
fn x_ping() {}

fn client(path: &PathBuf) -> Client {
    let mut c = Client::connect_unix(path).unwrap();
    c.set_timeout(TIMEOUT);
    c.negotiate().unwrap();
    c
}

/// Disconnects the only client and waits until the monitor has closed its
/// end. The statistics are published once per turn of the event loop, so a
/// client can be served before its session is counted: wait until it is,
/// or a count of zero may be the one from before it connected.
fn leave(monitor: &Monitor, client: Client) {
    wait_until("the client to be counted", || monitor.stats().sessions == 1);
    drop(client);
    wait_until("the client to leave", || monitor.stats().sessions == 0);
}

fn release(gate: &Gate, value: u64) {
    let held: Vec<Completion<u64>> = gate.held.lock().drain(..).collect();
    for c in held {
        c.complete(Ok::<_, CommandError>(value));
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn ten_thousand_pending_commands_of_departed_clients_leak_nothing() {
    let path = std::env::temp_dir().join(format!("mc-cancel-{}.sock", std::process::id()));
    let gate = Arc::new(Gate::default());
    let monitor = Monitor::builder()
        .state(Arc::clone(&gate))
        .listen_unix(&path)
        .spawn()
        .unwrap();
    // Warm up the allocator and the monitor once, so the baseline is steady.
    leave(&monitor, client(&path));
    let fds_before = open_fds();
    let rss_before = rss_bytes();
    const CLIENTS: usize = 100;
    const PER_CLIENT: usize = 100;
    let mut clients: Vec<Client> = (0..CLIENTS).map(|_| client(&path)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        let mut input = Vec::new();
        for j in 0..PER_CLIENT {
            input.extend_from_slice(
                format!(r#"{{"exec-oob": "x-park", "id": {}}}"#, i * PER_CLIENT + j).as_bytes(),
            );
        }
        c.send_raw(&input).unwrap();
    }
    wait_until("10,000 pending commands", || {
        monitor.stats().pending == CLIENTS * PER_CLIENT
    });
    assert_eq!(gate.held.lock().len(), CLIENTS * PER_CLIENT);
    drop(clients);
    wait_until("every session to be gone", || {
        let s = monitor.stats();
        s.sessions == 0 && s.pending == 0
    });
    // The VMM sees the cancellation, and late answers are harmless.
    assert!(gate.held.lock().iter().all(Completion::is_cancelled));
    release(&gate, 1);
    let mut c = client(&path);
    c.execute("x-ping", json!({})).unwrap();
    leave(&monitor, c);
    assert_eq!(open_fds(), fds_before, "file descriptors leaked");
    let grown = rss_bytes().saturating_sub(rss_before);
    assert!(grown < 64 << 20, "resident memory grew by {grown} bytes");
    monitor.shutdown();
}
