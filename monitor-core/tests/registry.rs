//! The registry: inventory registrations are found, names are unique.

use monitor_core::__private::Registration;
use monitor_core::{Command, CommandError, Context, Map, Monitor, Outcome, Registry, Reply};

fn x_inventory_probe(_ctx: &Context<'_>, _args: Map) -> Outcome {
    Reply::new("found")
}

monitor_core::submit! {
    Registration::new("x-inventory-probe", x_inventory_probe, concat!(module_path!(), "::x_inventory_probe"))
}

#[test]
fn inventory_registrations_are_found_at_run_time() {
    let registry = Registry::with_inventory().unwrap();
    assert!(registry.get("x-inventory-probe").is_some());
    assert!(registry.get("query-version").is_some());
}

#[test]
fn a_command_named_like_a_builtin_is_a_startup_error_naming_both() {
    let dir = std::env::temp_dir().join(format!("registry-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = Monitor::builder()
        .command(
            Command::typed("query-version", |_, ()| Ok::<_, CommandError>(()))
                .origin("my_vmm::query_version"),
        )
        .listen_unix(dir.join("q.sock"))
        .spawn()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "command `query-version` is defined twice: by the built-in `query-version` and by my_vmm::query_version"
    );
}

#[test]
fn a_duplicate_of_an_inventory_command_names_its_origin() {
    let mut registry = Registry::with_inventory().unwrap();
    let err = registry
        .insert(
            Command::typed("x-inventory-probe", |_, ()| Ok::<_, CommandError>(())).origin("here"),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("registry::x_inventory_probe"),
        "{err}"
    );
}
