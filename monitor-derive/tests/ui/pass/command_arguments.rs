// Individual arguments: kebab-case names, `Option` is optional,
// `#[arg(name = "...")]` renames, raw identifiers lose their `r#`.
use monitor_core::Registry;
use monitor_core::schema::SchemaInfo;
use monitor_core::{qmp_command, CommandError};

#[qmp_command(name = "x-set-cpu")]
fn x_set_cpu(
    cpu_index: i64,
    enabled: Option<bool>,
    #[arg(name = "node_id")] node: Option<u32>,
    r#type: String,
    tags: Vec<String>,
) -> Result<(), CommandError> {
    let _ = (cpu_index, enabled, node, r#type, tags);
    Ok(())
}

// The default name is the function name with `_` turned into `-`.
#[qmp_command]
fn x_no_arguments() {}

fn main() {
    let registry = Registry::with_inventory().unwrap();
    assert!(registry.get("x-set-cpu").is_some());
    assert!(registry.get("x-no-arguments").is_some());

    let schema = registry.schema();
    let arg_type = schema
        .iter()
        .find_map(|e| match e {
            SchemaInfo::Command { name, arg_type, .. } if name == "x-set-cpu" => Some(arg_type),
            _ => None,
        })
        .unwrap();
    let members = schema
        .iter()
        .find_map(|e| match e {
            SchemaInfo::Object { name, info } if name == arg_type => Some(&info.members),
            _ => None,
        })
        .unwrap();
    let names: Vec<(&str, bool)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.optional))
        .collect();
    assert_eq!(
        names,
        [
            ("cpu-index", false),
            ("enabled", true),
            ("node_id", true),
            ("type", false),
            ("tags", false),
        ]
    );
}
