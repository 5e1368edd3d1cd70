//! Names edition 2024 reserves, written as raw identifiers, become plain
//! QMP names.

use monitor_core::{qmp_command, CommandError, Schema};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
struct Generator {
    r#gen: u32,
    r#async: bool,
}

/// `gen` is a keyword from edition 2024 on.
#[qmp_command(name = "x-gen")]
fn x_gen(r#gen: u32, r#type: Option<String>) -> Result<Generator, CommandError> {
    let _ = r#type;
    Ok(Generator { r#gen, r#async: false })
}

fn main() {
    let registry = monitor_core::Registry::with_inventory().unwrap();
    let schema = serde_json::to_value(registry.schema()).unwrap();
    let text = schema.to_string();
    assert!(text.contains("\"name\":\"gen\""), "{text}");
    assert!(text.contains("\"name\":\"type\""), "{text}");
    assert!(text.contains("\"name\":\"async\""), "{text}");
}
