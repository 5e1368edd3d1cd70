//! Every command refvmm lists in `query-commands` exists: each is called
//! with arguments built from its own `query-qmp-schema` entry (every
//! required member, with a value of its type) and none answers
//! `CommandNotFound`. What management software reads in `query-commands`
//! it uses, so nothing may be listed that is not implemented.

mod util;

use std::collections::HashMap;

use serde_json::{json, Value};
use util::vmm::{kvm_available, Vmm};

/// A value of schema type `name`, with every required member.
fn value_of(types: &HashMap<String, Value>, name: &str, text: &str, depth: usize) -> Value {
    let Some(t) = types.get(name) else {
        return Value::Null;
    };
    if depth > 8 {
        return Value::Null;
    }
    match t["meta-type"].as_str().unwrap_or_default() {
        "builtin" => match t["json-type"].as_str().unwrap_or_default() {
            "int" => json!(0),
            "number" => json!(0.0),
            "boolean" => json!(false),
            "string" => json!(text),
            "null" => Value::Null,
            _ => json!({}),
        },
        "enum" => t["values"][0].clone(),
        "array" => json!([]),
        "alternate" => value_of(
            types,
            t["members"][0]["type"].as_str().unwrap_or_default(),
            text,
            depth + 1,
        ),
        "object" => {
            let mut object = serde_json::Map::new();
            for member in t["members"].as_array().into_iter().flatten() {
                if member.get("default").is_some() {
                    continue;
                }
                let name = member["name"].as_str().unwrap_or_default();
                let ty = member["type"].as_str().unwrap_or_default();
                object.insert(name.to_owned(), value_of(types, ty, text, depth + 1));
            }
            // A flat union: the tag's first case, with that case's members.
            if let (Some(tag), Some(variants)) = (t["tag"].as_str(), t["variants"].as_array()) {
                if let Some(case) = variants.first() {
                    object.insert(tag.to_owned(), case["case"].clone());
                    if let Value::Object(more) = value_of(
                        types,
                        case["type"].as_str().unwrap_or_default(),
                        text,
                        depth + 1,
                    ) {
                        object.extend(more);
                    }
                }
            }
            Value::Object(object)
        }
        _ => Value::Null,
    }
}

#[test]
fn every_listed_command_is_implemented() {
    if !kvm_available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("refvmm-commands-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("x").display().to_string();
    // -no-shutdown: system_powerdown leaves the process there for the rest.
    let mut vmm = Vmm::start(&["-device", "virtio-balloon", "-no-shutdown"]);
    let mut qmp = vmm.client();
    let schema = qmp.execute("query-qmp-schema", json!({})).unwrap();
    let types: HashMap<String, Value> = schema
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    let commands = qmp.execute("query-commands", json!({})).unwrap();
    let mut names: Vec<String> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert!(names.len() > 40, "{names:?}");
    let mut called = 0;
    for name in names
        .iter()
        .filter(|n| *n != "quit" && *n != "qmp_capabilities")
    {
        let entry = types
            .values()
            .find(|e| e["meta-type"] == "command" && e["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} is listed but not in the schema"));
        let args = value_of(&types, entry["arg-type"].as_str().unwrap(), &text, 0);
        let args = if args.is_object() { args } else { json!({}) };
        if let Err(e) = qmp.execute(name, args.clone()) {
            assert!(
                !e.to_string().starts_with("CommandNotFound"),
                "{name} {args}: {e}"
            );
        }
        called += 1;
    }
    assert_eq!(called, names.len() - 2);
    // In command mode qmp_capabilities is QEMU's CommandNotFound "already
    // complete"; quit ends the process.
    let err = qmp.execute("qmp_capabilities", json!({})).unwrap_err();
    assert!(
        err.to_string()
            .contains("Capabilities negotiation is already complete"),
        "{err}"
    );
    qmp.execute("quit", json!({})).unwrap();
    assert!(vmm.wait_exit().success());
    let _ = std::fs::remove_dir_all(&dir);
}
