//! The schema entries of the built-in commands have the same shape as real
//! QEMU 7.2's, once opaque type names are resolved into their structure.

mod util;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use monitor_core::client::Client;
use serde_json::{json, Value};

fn fetch_schema(socket: &Path) -> HashMap<String, Value> {
    let mut client = Client::connect_unix(socket).expect("connect");
    client.set_timeout(Duration::from_secs(30));
    client.negotiate().expect("negotiate");
    let schema = client
        .execute("query-qmp-schema", json!({}))
        .expect("query-qmp-schema");
    schema
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| (e["name"].as_str().expect("a name").to_owned(), e.clone()))
        .collect()
}

/// A type's structure with every type name replaced by what it names.
fn resolve(types: &HashMap<String, Value>, name: &str, depth: usize) -> Value {
    assert!(depth < 32, "type {name} nests too deeply (a cycle?)");
    let t = types
        .get(name)
        .unwrap_or_else(|| panic!("type {name} does not exist"));
    let sub = |n: &Value| resolve(types, n.as_str().expect("a type name"), depth + 1);
    match t["meta-type"].as_str().expect("a meta-type") {
        "builtin" => json!({"builtin": t["json-type"]}),
        "enum" => json!({"enum": t["values"]}),
        "array" => json!({"array": sub(&t["element-type"])}),
        "alternate" => {
            let members: Vec<Value> = t["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| sub(&m["type"]))
                .collect();
            json!({ "alternate": members })
        }
        "object" => {
            let members: Vec<Value> = t["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| json!({"name": m["name"], "type": sub(&m["type"]), "optional": m.get("default").is_some()}))
                .collect();
            let variants: Vec<Value> = t["variants"]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .map(|v| json!({"case": v["case"], "type": sub(&v["type"])}))
                        .collect()
                })
                .unwrap_or_default();
            json!({"object": members, "tag": t["tag"], "variants": variants})
        }
        other => panic!("{name} is a {other}"),
    }
}

fn command_shape(types: &HashMap<String, Value>, command: &str) -> Value {
    let c = types
        .get(command)
        .unwrap_or_else(|| panic!("no command {command}"));
    json!({
        "arg-type": resolve(types, c["arg-type"].as_str().expect("arg-type"), 0),
        "ret-type": resolve(types, c["ret-type"].as_str().expect("ret-type"), 0),
        "allow-oob": c.get("allow-oob").cloned().unwrap_or(Value::Bool(false)),
        "features": c.get("features").cloned().unwrap_or(json!([])),
    })
}

#[test]
fn builtin_command_schemas_have_qemus_shape() {
    let Some(pair) = util::Pair::start() else {
        return;
    };
    let (qemu_socket, our_socket) = pair.sockets();
    let qemu = fetch_schema(qemu_socket);
    let ours = fetch_schema(our_socket);
    for command in [
        "qmp_capabilities",
        "query-version",
        "query-commands",
        "quit",
        "getfd",
        "closefd",
        "add-fd",
        "remove-fd",
        "query-fdsets",
    ] {
        assert_eq!(
            command_shape(&ours, command),
            command_shape(&qemu, command),
            "{command}: our shape (left) differs from QEMU's (right)"
        );
    }
    // The empty object is "0" in both.
    assert_eq!(qemu["0"], ours["0"]);
    // SHUTDOWN's data has QEMU's members (its reason enum may list fewer values).
    let shape = |types: &HashMap<String, Value>| {
        let arg = resolve(
            types,
            types["SHUTDOWN"]["arg-type"].as_str().expect("arg-type"),
            0,
        );
        let names: Vec<Value> = arg["object"]
            .as_array()
            .expect("object")
            .iter()
            .map(|m| m["name"].clone())
            .collect();
        names
    };
    assert_eq!(shape(&ours), shape(&qemu));
}
