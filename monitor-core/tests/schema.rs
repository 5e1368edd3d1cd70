//! Introspection: every type reference in `query-qmp-schema` resolves, and a
//! valid and an invalid call of every command are judged by the dispatcher
//! exactly as the schema says.
#![allow(dead_code)]

use std::collections::HashMap;

use monitor_core::session::{Dispatcher, Session};
use monitor_core::{
    qmp_command, CommandError, Emitter, Event, Registry, Schema, SessionInfo, StateMap,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

// ---- commands and events covering the schema features ----

#[derive(Debug, Clone, Copy, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
enum RunState {
    Running,
    Paused,
    GuestPanicked,
}

#[derive(Serialize, Schema)]
struct StatusInfo {
    running: bool,
    status: RunState,
}

struct Vm {
    state: RunState,
}

/// Query the run state.
#[qmp_command(name = "x-query-status")]
fn x_query_status(vm: &Vm) -> Result<StatusInfo, CommandError> {
    Ok(StatusInfo {
        running: matches!(vm.state, RunState::Running),
        status: vm.state,
    })
}

#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct Geometry {
    width: u32,
    height: u32,
}

#[derive(Debug, Deserialize, Schema)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Backend {
    File { path: String },
    Socket { host: String, port: u16 },
    Null,
}

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

/// Add a display (an #[args] struct with nested objects and a union).
#[qmp_command(name = "x-add-display", features = ["unstable"])]
fn x_add_display(#[args] args: AddDisplayArgs) -> Result<Added, CommandError> {
    Ok(Added { id: args.id })
}

/// Individual arguments, renamed and optional.
#[qmp_command(name = "x-memsave", deprecated)]
fn x_memsave(
    val: u64,
    size: u64,
    filename: String,
    cpu_index: Option<i64>,
    #[arg(name = "x-fast")] fast: Option<bool>,
) -> Result<(), CommandError> {
    let _ = (val, size, filename, cpu_index, fast);
    Ok(())
}

#[derive(Serialize, Schema)]
#[serde(untagged)]
enum Either {
    Number(i64),
    Text(String),
}

/// A bare result, an alternate.
#[qmp_command(name = "x-either", allow_oob)]
fn x_either(session: &SessionInfo) -> Either {
    Either::Number(session.id as i64)
}

/// Send an event.
#[qmp_command(name = "x-fire")]
fn x_fire(emitter: &monitor_core::Emitter, offset: i64) {
    emitter.emit(RtcChange { offset });
}

#[derive(Serialize, Schema, Event)]
#[event(name = "RTC_CHANGE")]
struct RtcChange {
    offset: i64,
}

#[derive(Serialize, Schema, Event)]
struct Powerdown;

// ---- the checks ----

fn dispatcher() -> Dispatcher {
    let mut state = StateMap::default();
    state.insert(Vm {
        state: RunState::Paused,
    });
    Dispatcher::new(Registry::with_inventory().unwrap(), state, Emitter::new())
}

fn call(d: &Dispatcher, session: &mut Session, request: &Value) -> Value {
    let mut out = Vec::new();
    session.feed(d, request.to_string().as_bytes(), &mut out);
    let text = String::from_utf8(out).unwrap();
    let line = text.lines().next().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn schema(d: &Dispatcher) -> (Vec<Value>, HashMap<String, Value>) {
    let mut s = Session::new(1, "test", true);
    call(d, &mut s, &json!({"execute": "qmp_capabilities"}));
    let entries = call(d, &mut s, &json!({"execute": "query-qmp-schema"}))["return"]
        .as_array()
        .expect("schema is an array")
        .clone();
    let by_name = entries
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    (entries, by_name)
}

/// Every type name an entry mentions.
fn references(entry: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["arg-type", "ret-type", "element-type"] {
        if let Some(t) = entry[key].as_str() {
            out.push(t.to_owned());
        }
    }
    for m in entry["members"].as_array().into_iter().flatten() {
        if let Some(t) = m["type"].as_str() {
            out.push(t.to_owned());
        }
    }
    for v in entry["variants"].as_array().into_iter().flatten() {
        out.push(v["type"].as_str().unwrap().to_owned());
    }
    out
}

/// A value the schema says is valid for `ty`.
fn valid(ty: &str, types: &HashMap<String, Value>) -> Value {
    let t = &types[ty];
    match t["meta-type"].as_str().unwrap() {
        "builtin" => match t["json-type"].as_str().unwrap() {
            "int" => json!(1),
            "number" => json!(1.5),
            "string" => json!("s"),
            "boolean" => json!(true),
            "null" => Value::Null,
            _ => json!({"anything": [1]}),
        },
        "enum" => t["values"][0].clone(),
        "array" => json!([valid(t["element-type"].as_str().unwrap(), types)]),
        "alternate" => valid(t["members"][0]["type"].as_str().unwrap(), types),
        "object" => {
            let mut obj = serde_json::Map::new();
            for m in t["members"].as_array().unwrap() {
                let name = m["name"].as_str().unwrap();
                let mty = m["type"].as_str().unwrap();
                obj.insert(name.to_owned(), valid(mty, types));
            }
            if let Some(tag) = t["tag"].as_str() {
                let variant = &t["variants"][0];
                obj.insert(tag.to_owned(), variant["case"].clone());
                if let Value::Object(more) = valid(variant["type"].as_str().unwrap(), types) {
                    obj.extend(more);
                }
            }
            Value::Object(obj)
        }
        other => panic!("{ty} is a {other}, not a data type"),
    }
}

/// A value of the wrong JSON type for `ty`, and QEMU's word for `ty`.
fn wrong(ty: &str, types: &HashMap<String, Value>) -> (Value, &'static str) {
    let t = &types[ty];
    match t["meta-type"].as_str().unwrap() {
        "builtin" => match t["json-type"].as_str().unwrap() {
            "int" => (json!("1"), "integer"),
            "number" => (json!("1"), "number"),
            "string" => (json!(1), "string"),
            "boolean" => (json!(1), "boolean"),
            other => panic!("no wrong value for {other}"),
        },
        "enum" => (json!(1), "string"),
        "array" => (json!({}), "array"),
        "object" => (json!([]), "object"),
        other => panic!("no wrong value for a {other}"),
    }
}

fn is_argument_error(response: &Value) -> bool {
    let desc = response["error"]["desc"].as_str().unwrap_or_default();
    desc.starts_with("Parameter '") || desc.starts_with("Invalid parameter type")
}

#[test]
fn every_type_reference_resolves() {
    let (entries, types) = schema(&dispatcher());
    assert!(entries.len() > 20);
    for entry in &entries {
        for r in references(entry) {
            assert!(
                types.contains_key(&r),
                "{} refers to missing type {r}",
                entry["name"]
            );
        }
    }
    let events: Vec<&str> = entries
        .iter()
        .filter(|e| e["meta-type"] == "event")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for name in ["SHUTDOWN", "RTC_CHANGE", "POWERDOWN"] {
        assert!(events.contains(&name), "{name} missing from {events:?}");
    }
}

#[test]
fn every_command_accepts_what_the_schema_allows_and_rejects_the_rest() {
    let d = dispatcher();
    let (entries, types) = schema(&d);
    let commands: Vec<&Value> = entries
        .iter()
        .filter(|e| e["meta-type"] == "command")
        .collect();
    assert!(commands.len() >= 10);
    for c in commands {
        let name = c["name"].as_str().unwrap();
        let arg_type = c["arg-type"].as_str().unwrap();
        let mut s = Session::new(2, "test", true);
        call(&d, &mut s, &json!({"execute": "qmp_capabilities"}));
        if name == "qmp_capabilities" {
            // Valid before negotiation only; checked on a fresh session.
            s = Session::new(3, "test", true);
        }
        let args = valid(arg_type, &types);
        let r = call(&d, &mut s, &json!({"execute": name, "arguments": args}));
        assert!(
            !is_argument_error(&r),
            "{name}: valid arguments {args} refused: {r}"
        );

        // An unexpected member.
        let mut bad = args.as_object().cloned().unwrap_or_default();
        bad.insert("zzz-unexpected".into(), json!(1));
        let r = call(&d, &mut s, &json!({"execute": name, "arguments": bad}));
        assert_eq!(
            r["error"]["desc"], "Parameter 'zzz-unexpected' is unexpected",
            "{name}: unexpected member accepted: {r}"
        );

        // A wrong type for each member, and each required member missing.
        let members = types[arg_type]["members"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in &members {
            let member = m["name"].as_str().unwrap();
            let mty = m["type"].as_str().unwrap();
            if types[mty]["meta-type"] == "alternate" || types[mty]["json-type"] == "value" {
                continue;
            }
            let (value, word) = wrong(mty, &types);
            let mut bad = args.as_object().cloned().unwrap_or_default();
            bad.insert(member.to_owned(), value);
            let r = call(&d, &mut s, &json!({"execute": name, "arguments": bad}));
            let desc = r["error"]["desc"].as_str().unwrap_or_default();
            // The schema says "int" for every integer size; QEMU words a bad
            // unsigned value its own way.
            assert!(
                desc == format!("Invalid parameter type for '{member}', expected: {word}")
                    || (word == "integer"
                        && desc == format!("Parameter '{member}' expects uint64")),
                "{name}.{member}: {desc}"
            );
            if m.get("default").is_none() && types[arg_type]["tag"].as_str() != Some(member) {
                let mut bad = args.as_object().cloned().unwrap_or_default();
                bad.remove(member);
                let r = call(&d, &mut s, &json!({"execute": name, "arguments": bad}));
                assert_eq!(
                    r["error"]["desc"],
                    format!("Parameter '{member}' is missing"),
                    "{name}.{member}"
                );
            }
        }
    }
}

#[test]
fn command_entries_carry_flags_and_features() {
    let (_, types) = schema(&dispatcher());
    assert_eq!(types["x-either"]["allow-oob"], true);
    assert!(types["x-query-status"].get("allow-oob").is_none());
    assert_eq!(types["x-memsave"]["features"], json!(["deprecated"]));
    assert_eq!(types["x-add-display"]["features"], json!(["unstable"]));
    let args = &types[types["x-memsave"]["arg-type"].as_str().unwrap()];
    let names: Vec<&str> = args["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["val", "size", "filename", "cpu-index", "x-fast"]);
    assert_eq!(args["members"][3]["default"], Value::Null);
    assert!(args["members"][0].get("default").is_none());
    let union = &types[args_member_type(&types, "x-add-display", "backend")];
    assert_eq!(union["tag"], "type");
    assert_eq!(union["variants"].as_array().unwrap().len(), 3);
    let alternate = &types[types["x-either"]["ret-type"].as_str().unwrap()];
    assert_eq!(alternate["meta-type"], "alternate");
}

fn args_member_type<'a>(types: &'a HashMap<String, Value>, command: &str, member: &str) -> &'a str {
    let args = &types[types[command]["arg-type"].as_str().unwrap()];
    args["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == member)
        .and_then(|m| m["type"].as_str())
        .unwrap()
}

#[test]
fn query_events_lists_declared_events() {
    let d = dispatcher();
    let mut s = Session::new(1, "test", true);
    call(&d, &mut s, &json!({"execute": "qmp_capabilities"}));
    let r = call(&d, &mut s, &json!({"execute": "query-events"}));
    let names: Vec<&str> = r["return"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"RTC_CHANGE")
            && names.contains(&"SHUTDOWN")
            && names.contains(&"POWERDOWN")
    );
}

#[test]
fn typed_events_are_emitted_by_name() {
    let d = dispatcher();
    let mut s = Session::new(1, "test", true);
    let events = d.emitter().receiver().expect("nobody holds it");
    call(&d, &mut s, &json!({"execute": "qmp_capabilities"}));
    call(
        &d,
        &mut s,
        &json!({"execute": "x-fire", "arguments": {"offset": -3}}),
    );
    let lines = events.take_pending();
    let event: Value = serde_json::from_slice(&lines[0]).unwrap();
    assert_eq!(event["event"], "RTC_CHANGE");
    assert_eq!(event["data"], json!({"offset": -3}));
    d.emitter().emit(Powerdown);
    let event: Value = serde_json::from_slice(&events.take_pending()[0]).unwrap();
    assert_eq!(event["event"], "POWERDOWN");
    assert!(event.get("data").is_none(), "{event}");
}

#[test]
fn individual_arguments_report_errors_in_declaration_order() {
    let d = dispatcher();
    let mut s = Session::new(1, "test", true);
    call(&d, &mut s, &json!({"execute": "qmp_capabilities"}));
    // `val` missing is found before `size` has the wrong type, as QEMU does.
    let r = call(
        &d,
        &mut s,
        &json!({"execute": "x-memsave", "arguments": {"size": "x", "filename": "f"}}),
    );
    assert_eq!(r["error"]["desc"], "Parameter 'val' is missing");
}

#[test]
fn run_time_registration_appears_in_the_schema_the_same_way() {
    use monitor_core::{client::Client, Command, Monitor};
    use monitor_core::{schema::schema_of, EventDescriptor};

    #[derive(Deserialize, Schema)]
    struct PluginArgs {
        level: u8,
    }

    let path = std::env::temp_dir().join(format!("schema-plugin-{}.sock", std::process::id()));
    // `x-query-status`, declared above, takes a `Vm`: spawn checks it.
    let monitor = Monitor::builder()
        .state(Vm {
            state: RunState::Running,
        })
        .listen_unix(&path)
        .spawn()
        .unwrap();
    monitor
        .register(
            Command::typed("x-plugin", |_, a: PluginArgs| {
                Ok::<_, CommandError>(a.level)
            })
            .features(["unstable"]),
        )
        .unwrap();
    monitor
        .register_event(EventDescriptor::new("PLUGIN_READY").data(schema_of::<StatusInfo>))
        .unwrap();
    let mut client = Client::connect_unix(&path).unwrap();
    client.negotiate().unwrap();
    let entries = client.execute("query-qmp-schema", json!({})).unwrap();
    let types: HashMap<String, Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    let cmd = &types["x-plugin"];
    assert_eq!(cmd["features"], json!(["unstable"]));
    assert_eq!(types[cmd["ret-type"].as_str().unwrap()]["json-type"], "int");
    let args = &types[cmd["arg-type"].as_str().unwrap()];
    assert_eq!(args["members"], json!([{"name": "level", "type": "int"}]));
    assert_eq!(types["PLUGIN_READY"]["meta-type"], "event");
    let err = client
        .execute("x-plugin", json!({"level": 300}))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "GenericError: Parameter 'level' expects uint8_t"
    );
    monitor.shutdown();
}
