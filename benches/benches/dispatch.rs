//! In-process dispatch, bytes in to bytes out: a negotiated [`Session`] fed
//! one request, its response collected. No socket, no monitor thread.
//!
//! - `query-status`: a typed command (derived schema, serde result), as a
//!   VMM would register it;
//! - `query-version`: the built-in.

use criterion::{black_box, Criterion, Throughput};
use monitor_core::session::{Dispatcher, Session};
use monitor_core::{Command, CommandError, Emitter, Registry, Schema, StateMap, VersionInfo};
use serde::Serialize;

#[derive(Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
enum RunState {
    Running,
    #[allow(dead_code)]
    Paused,
}

#[derive(Serialize, Schema)]
struct StatusInfo {
    running: bool,
    singlestep: bool,
    status: RunState,
}

fn query_status() -> Command {
    Command::typed("query-status", |_, ()| {
        Ok::<_, CommandError>(StatusInfo {
            running: true,
            singlestep: false,
            status: RunState::Running,
        })
    })
}

/// A dispatcher with `query-status` and the built-ins, and a session past
/// capabilities negotiation.
fn negotiated() -> (Dispatcher, Session) {
    let mut registry = Registry::with_inventory().expect("built-in registry");
    registry
        .insert(query_status())
        .expect("query-status is new");
    let mut state = StateMap::default();
    state.insert(VersionInfo::new(1, 0, 0, "benches"));
    let dispatcher = Dispatcher::new(registry, state, Emitter::new());
    let mut session = Session::new(1, "bench", true);
    let mut out = Vec::new();
    session.feed(&dispatcher, br#"{"execute": "qmp_capabilities"}"#, &mut out);
    assert_eq!(out, b"{\"return\": {}}\r\n");
    (dispatcher, session)
}

pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(1));
    let cases: [(&str, &[u8], &[u8]); 2] = [
        (
            "query-status",
            br#"{"execute": "query-status", "id": 1}"#,
            b"{\"return\": {\"running\": true, \"singlestep\": false, \"status\": \"running\"}, \"id\": 1}\r\n",
        ),
        (
            "query-version",
            br#"{"execute": "query-version", "id": 1}"#,
            b"{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 1}, \"package\": \"benches\"}, \"id\": 1}\r\n",
        ),
    ];
    for (name, request, expected) in cases {
        let (dispatcher, mut session) = negotiated();
        let mut out = Vec::with_capacity(256);
        session.feed(&dispatcher, request, &mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(expected)
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                session.feed(&dispatcher, black_box(request), &mut out);
                black_box(out.len())
            })
        });
    }
    group.finish();
}
