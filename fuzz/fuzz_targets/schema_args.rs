//! Arbitrary JSON arguments against typed commands (`#[qmp_command]` with
//! individual arguments and with an `#[args]` struct): every call is
//! answered with exactly one well-formed line, a value or QEMU-style error,
//! and argument checking never panics.
//!
//! Input: a byte choosing the command, then JSON in QEMU's dialect whose
//! first object is the `arguments`.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use monitor_core::session::{Dispatcher, Session};
use monitor_core::stream::Splitter;
use monitor_core::{qmp_command, CommandError, Emitter, Registry, Schema, StateMap, Value};
use monitor_fuzz::{check_output, take_byte};
use serde::{Deserialize, Serialize};

// Read by argument checking only.
#[allow(dead_code)]
#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct Geometry {
    width: u32,
    height: u32,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Backend {
    File { path: String },
    Socket { host: String, port: u16 },
    Null,
}

// Read by argument checking only.
#[allow(dead_code)]
#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct AddDisplayArgs {
    id: String,
    geometry: Geometry,
    backend: Backend,
    #[serde(default)]
    read_only: bool,
    tags: Option<Vec<String>>,
    scale: Option<f64>,
}

#[derive(Serialize, Schema)]
struct Added {
    id: String,
}

/// An #[args] struct with nested objects, a union, defaults and options.
#[qmp_command(name = "x-add-display")]
fn x_add_display(#[args] args: AddDisplayArgs) -> Result<Added, CommandError> {
    Ok(Added { id: args.id })
}

/// Individual arguments, renamed and optional.
#[qmp_command(name = "x-memsave")]
fn x_memsave(
    val: u64,
    size: u64,
    filename: String,
    cpu_index: Option<i64>,
    #[arg(name = "x-fast")] fast: Option<bool>,
) -> Result<u64, CommandError> {
    let _ = (filename, cpu_index, fast);
    Ok(val.wrapping_add(size))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
enum RunState {
    Running,
    Paused,
    GuestPanicked,
}

#[derive(Serialize, Schema)]
struct Scalars {
    a: u8,
    b: i16,
    c: u32,
    d: i64,
    e: f64,
    f: bool,
    state: RunState,
    g: Option<u16>,
}

/// Every scalar width, an enum and a float, echoed back.
#[qmp_command(name = "x-scalars")]
#[allow(clippy::too_many_arguments)]
fn x_scalars(
    a: u8,
    b: i16,
    c: u32,
    d: i64,
    e: f64,
    f: bool,
    state: RunState,
    g: Option<u16>,
) -> Scalars {
    Scalars {
        a,
        b,
        c,
        d,
        e,
        f,
        state,
        g,
    }
}

/// Containers: nested lists, a map, an optional string list.
#[qmp_command(name = "x-containers")]
fn x_containers(
    rows: Vec<Vec<i64>>,
    names: Option<HashMap<String, String>>,
    any: Option<serde_json::Value>,
) -> usize {
    rows.len() + names.map_or(0, |n| n.len()) + usize::from(any.is_some())
}

const COMMANDS: &[&str] = &[
    "x-add-display",
    "x-memsave",
    "x-scalars",
    "x-containers",
    "qmp_capabilities",
    "query-version",
];

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(choice) = take_byte(&mut data) else {
        return;
    };
    let Some(arguments) = Splitter::new()
        .feed_all(data)
        .into_iter()
        .find_map(|f| f.ok().filter(|v| matches!(v, Value::Object(_))))
    else {
        return;
    };
    let d = Dispatcher::new(
        Registry::with_inventory().expect("registry"),
        StateMap::default(),
        Emitter::new(),
    );
    let mut session = Session::new(1, "fuzz", true);
    let mut out = Vec::new();
    session.feed(&d, br#"{"execute": "qmp_capabilities"}"#, &mut out);
    assert_eq!(out, b"{\"return\": {}}\r\n");
    out.clear();
    let name = COMMANDS[usize::from(choice) % COMMANDS.len()];
    let mut request = format!(r#"{{"execute": "{name}", "id": 1, "arguments": "#).into_bytes();
    monitor_core::wire::write_value(&mut request, &arguments);
    request.push(b'}');
    session.feed(&d, &request, &mut out);
    check_output(&out);
    // A value that does not print as JSON (an infinite double prints as
    // `inf`, as in QEMU) makes the request itself invalid.
    if Splitter::new()
        .feed_all(&request)
        .iter()
        .filter(|f| f.is_ok())
        .count()
        != 1
    {
        return;
    }
    let text = std::str::from_utf8(&out).expect("checked ASCII");
    assert_eq!(text.matches("\r\n").count(), 1, "one answer: {text:?}");
    let answer: serde_json::Value = serde_json::from_str(text.trim_end()).expect("checked JSON");
    assert_eq!(answer["id"], 1, "{text}");
    assert!(
        answer.get("return").is_some() != answer.get("error").is_some(),
        "{text}"
    );
});
