//! The toy VMM driven over real sockets, as its author would check it:
//! QMP on unix and TCP, typed and enum arguments and their errors, a
//! struct result, a `Completion`, an `async fn` with state (and its
//! schema), a per-key throttled event, and the human monitor both through
//! `human-monitor-command` and on its console.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_core::ListenAddr;
use monitor_core::client::Client;
use serde_json::{Value, json};
use toy_vmm::{Listeners, Vm};

const TIMEOUT: Duration = Duration::from_secs(30);

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("toy-vmm-{}-{name}", std::process::id()))
}

struct Toy {
    monitor: monitor_core::Monitor,
    qmp: PathBuf,
    hmp: PathBuf,
}

fn start(tag: &str) -> Toy {
    let (qmp, hmp) = (temp(&format!("{tag}.qmp")), temp(&format!("{tag}.hmp")));
    let monitor = toy_vmm::start(
        Arc::new(Vm::new(&["net0", "net1"])),
        Listeners {
            qmp_unix: &qmp,
            qmp_tcp: "127.0.0.1:0".parse().unwrap(),
            hmp_unix: &hmp,
        },
    )
    .unwrap();
    Toy { monitor, qmp, hmp }
}

fn client(path: &PathBuf) -> Client {
    let mut c = Client::connect_unix(path).unwrap();
    c.set_timeout(TIMEOUT);
    c.negotiate().unwrap();
    c
}

#[test]
fn qmp_on_unix_and_tcp_with_typed_arguments() {
    let toy = start("qmp");
    let tcp = toy
        .monitor
        .local_addrs()
        .iter()
        .find_map(|a| match a {
            ListenAddr::Tcp(addr) => Some(*addr),
            _ => None,
        })
        .unwrap();
    let mut over_tcp = Client::connect_tcp(tcp).unwrap();
    over_tcp.negotiate().unwrap();
    assert_eq!(
        over_tcp.greeting()["QMP"]["version"]["package"],
        " (toy-vmm 0.1)"
    );

    let mut c = client(&toy.qmp);
    c.execute("stop", json!({})).unwrap();
    assert_eq!(
        over_tcp.execute("query-status", json!({})).unwrap(),
        json!({"running": false, "status": "paused"})
    );
    c.execute("cont", json!({})).unwrap();

    // An enum argument, an optional one, and QEMU's errors for each.
    c.execute(
        "x-set-link",
        json!({"name": "net1", "state": "down", "reason": "test"}),
    )
    .unwrap();
    let err = c
        .execute("x-set-link", json!({"name": "net1", "state": "sideways"}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Parameter 'state' does not accept value 'sideways'"
    );
    let err = c
        .execute("x-set-link", json!({"name": "eth9", "state": "up"}))
        .unwrap_err();
    assert_eq!(err.to_string(), "DeviceNotFound: Device 'eth9' not found");
    let err = c.execute("x-set-link", json!({"state": "up"})).unwrap_err();
    assert_eq!(err.to_string(), "GenericError: Parameter 'name' is missing");

    // A struct result answered from a thread.
    assert_eq!(
        c.execute("x-settle", json!({})).unwrap(),
        json!({"up": ["net0"]})
    );
    toy.monitor.shutdown();
}

#[test]
fn an_async_command_reads_state_without_blocking_others() {
    let toy = start("async");
    let mut c = client(&toy.qmp);
    let mut other = client(&toy.qmp);
    c.send_raw(br#"{"execute": "x-wait", "arguments": {"ms": 200}, "id": 1}"#)
        .unwrap();
    // Another client is served while x-wait is pending.
    assert_eq!(
        other.execute("query-status", json!({})).unwrap()["running"],
        true
    );
    let answer = c.wait_response(&json!(1)).unwrap();
    assert_eq!(
        answer["return"],
        json!({"running": true, "status": "running"})
    );

    // Its schema says what it answers, not `{}`.
    let schema = c.execute("query-qmp-schema", json!({})).unwrap();
    let entries = schema.as_array().unwrap();
    let find = |name: &str| -> &Value { entries.iter().find(|e| e["name"] == name).unwrap() };
    let ret = find(find("x-wait")["ret-type"].as_str().unwrap());
    let members: Vec<&str> = ret["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["running", "status"]);
    // The enum argument is a QAPI enum.
    let args = find(find("x-set-link")["arg-type"].as_str().unwrap());
    let state = &args["members"][1];
    assert_eq!(state["name"], "state");
    assert_eq!(
        find(state["type"].as_str().unwrap())["values"],
        json!(["up", "down"])
    );
    assert_eq!(args["members"][2]["name"], "reason");
    assert_eq!(args["members"][2]["default"], Value::Null);
    toy.monitor.shutdown();
}

#[test]
fn the_link_event_is_throttled_per_device() {
    let toy = start("events");
    let mut c = client(&toy.qmp);
    for i in 0..6 {
        let state = if i % 2 == 0 { "down" } else { "up" };
        c.execute("x-set-link", json!({"name": "net0", "state": state}))
            .unwrap();
    }
    c.execute("x-set-link", json!({"name": "net1", "state": "down"}))
        .unwrap();
    // net0's first change goes out at once; the next ones are held for a
    // second and only the last is kept. net1 has its own window, so its
    // change overtakes net0's held one.
    let first = c.wait_event("TOY_LINK_CHANGE").unwrap();
    assert_eq!(first["data"], json!({"name": "net0", "state": "down"}));
    let second = c.wait_event("TOY_LINK_CHANGE").unwrap();
    assert_eq!(second["data"], json!({"name": "net1", "state": "down"}));
    let third = c.wait_event("TOY_LINK_CHANGE").unwrap();
    assert_eq!(third["data"], json!({"name": "net0", "state": "up"}));
    toy.monitor.shutdown();
}

/// Reads from a console until `want` has arrived.
fn read_until(stream: &mut UnixStream, want: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(want) {
        assert!(Instant::now() < deadline, "no {want:?} in {text:?}");
        stream
            .set_read_timeout(Some(
                deadline
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ))
            .unwrap();
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "console closed; got {text:?}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

#[test]
fn the_human_monitor_on_its_console_and_through_qmp() {
    let toy = start("hmp");
    let mut console = UnixStream::connect(&toy.hmp).unwrap();
    let greeting = read_until(&mut console, "(toy) ");
    assert!(greeting.starts_with("toy-vmm monitor - type 'help' for more information\r\n"));
    console.write_all(b"set_link net0 off\r").unwrap();
    read_until(&mut console, "(toy) ");
    console.write_all(b"info links\r").unwrap();
    let text = read_until(&mut console, "net1: up\r\n");
    assert!(text.contains("net0: down\r\n"), "{text:?}");

    let mut c = client(&toy.qmp);
    let hmp = |c: &mut Client, line: &str| -> String {
        let text = c
            .execute("human-monitor-command", json!({"command-line": line}))
            .unwrap();
        text.as_str().unwrap().to_owned()
    };
    assert_eq!(hmp(&mut c, "info status"), "VM status: running\r\n");
    assert_eq!(hmp(&mut c, "info version"), "7.2.0 (toy-vmm 0.1)\r\n");
    // The generic commands the toy has a QMP command for are listed; the
    // ones it has not (system_reset) are not.
    let help = hmp(&mut c, "help");
    assert!(help.contains("stop|s  -- stop emulation\r\n"), "{help}");
    assert!(
        help.contains("set_link name on|off -- change the link status"),
        "{help}"
    );
    assert!(!help.contains("system_reset"), "{help}");
    assert_eq!(
        hmp(&mut c, "system_reset"),
        "unknown command: 'system_reset'\r\n"
    );
    toy.monitor.shutdown();
}
