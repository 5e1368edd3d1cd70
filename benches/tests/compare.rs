//! The comparison binary cannot rot: a quick run against the floor, its
//! option errors, and the event and memory measurements against an
//! in-process monitor (the real servers are other packages' binaries,
//! which `cargo test` does not build).

use std::path::PathBuf;
use std::process::Command;

use benches::compare::attack::{self, Attack};
use benches::compare::measure;
use benches::compare::target::EventSource;
use monitor_core::{Command as QmpCommand, CommandError, Event, Monitor, Schema};
use serde::Deserialize;

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("compare-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn quick_run_against_the_floor_prints_the_table_and_writes_the_chart() {
    let dir = temp("quick");
    let svg = dir.join("chart.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(["--quick", "--only", "floor", "--svg"])
        .arg(&svg)
        .output()
        .expect("run compare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| Measurement | floor |"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| query-status round trip p50"))
        .expect("a query-status row");
    let value: f64 = row
        .split('|')
        .nth(2)
        .expect("a cell")
        .trim()
        .parse()
        .expect("a number");
    assert!(value > 0.0, "{row}");
    assert!(!stdout.contains("failed"), "{stdout}");
    let chart = std::fs::read_to_string(&svg).expect("the chart");
    assert!(chart.starts_with("<svg ") && chart.contains("floor"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_option_exits_2_with_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_compare"))
        .arg("--bogus")
        .output()
        .expect("run compare");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown option: --bogus") && err.contains("usage:"),
        "{err}"
    );
}

#[derive(Deserialize, Schema)]
struct BenchArgs {
    count: u64,
}

fn bench_monitor(path: &std::path::Path) -> Monitor {
    Monitor::builder()
        .command(QmpCommand::typed(
            "x-bench-events",
            |ctx, args: BenchArgs| {
                for _ in 0..args.count {
                    ctx.emitter().emit(Event::new("BENCH"));
                }
                Ok::<_, CommandError>(())
            },
        ))
        .listen_unix(path)
        .spawn()
        .expect("monitor")
}

#[test]
fn event_rate_waits_for_every_event_on_every_client() {
    let dir = temp("events");
    let path = dir.join("m.sock");
    let monitor = bench_monitor(&path);
    let sockets = vec![path];
    for clients in [1, 3] {
        let rate = measure::events(&sockets, EventSource::Bench, clients, 500).expect("events");
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
    let (before, with) = measure::idle_resident(&sockets, std::process::id(), 20).expect("rss");
    assert!(before > 0 && with > 0);
    let latencies = measure::round_trips(&sockets[0], measure::QUERY_VERSION, 20).expect("rtt");
    assert_eq!(latencies.len(), 20);
    let rate = measure::in_flight(&sockets[0], measure::QUERY_VERSION, 100, 16).expect("pipe");
    assert!(rate > 0.0);
    monitor.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fanout_and_attack_measurements_run_against_a_monitor() {
    let dir = temp("fanout");
    let path = dir.join("m.sock");
    let monitor = bench_monitor(&path);
    // 20 clients that never read, 3 that read all 500 events; the peak is
    // at least what was resident before.
    let before = benches::compare::procfs::resident(std::process::id()).unwrap();
    let peak = measure::fanout_peak(&path, std::process::id(), 20, 3, 500).expect("fanout");
    assert!(peak >= before, "{peak} < {before}");
    // Each 1 MiB message is read whole and refused; the probe went on.
    let samples =
        attack::probe_under(&path, None, Attack::Message(1 << 20), 2).expect("probe under attack");
    assert!(samples.len() >= attack::MIN_PROBES, "{}", samples.len());
    assert!(samples.iter().all(|ms| ms.is_finite() && *ms > 0.0));
    // A TAB storm needs a human monitor.
    let err = attack::probe_under(&path, None, Attack::TabStorm(10), 1).unwrap_err();
    assert!(err.to_string().contains("no human monitor"), "{err}");
    monitor.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
