// One `#[args]` struct holds all the arguments; extractors may sit beside it.
use monitor_core::Registry;
use monitor_core::schema::SchemaInfo;
use monitor_core::{qmp_command, CommandError, Schema, SessionInfo};
use serde::Deserialize;

#[derive(Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct BlockResize {
    node_name: String,
    size: u64,
    #[serde(default)]
    force: bool,
}

#[qmp_command(name = "block_resize")]
fn block_resize(session: &SessionInfo, #[args] args: BlockResize) -> Result<(), CommandError> {
    let _ = (session, args.node_name, args.size, args.force);
    Ok(())
}

fn main() {
    let registry = Registry::with_inventory().unwrap();
    assert!(registry.get("block_resize").is_some());
    let schema = registry.schema();
    let arg_type = schema
        .iter()
        .find_map(|e| match e {
            SchemaInfo::Command { name, arg_type, .. } if name == "block_resize" => Some(arg_type),
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
    assert_eq!(names, [("node-name", false), ("size", false), ("force", true)]);
}
