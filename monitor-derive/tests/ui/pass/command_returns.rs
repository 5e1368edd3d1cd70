// Every supported return shape: unit, a bare type, `Result<T, CommandError>`,
// and `Result<T, E>` with a custom `E: Into<CommandError>`.
use monitor_core::Registry;
use monitor_core::{qmp_command, CommandError, Schema};
use serde::Serialize;

#[derive(Serialize, Schema)]
struct Status {
    running: bool,
}

#[qmp_command(name = "x-unit")]
fn x_unit() {}

#[qmp_command(name = "x-bare")]
fn x_bare() -> Status {
    Status { running: true }
}

#[qmp_command(name = "x-bare-vec")]
fn x_bare_vec() -> Vec<String> {
    Vec::new()
}

#[qmp_command(name = "x-result")]
fn x_result(fail: bool) -> Result<Status, CommandError> {
    if fail {
        return Err(CommandError::generic("failed"));
    }
    Ok(Status { running: false })
}

#[qmp_command(name = "x-result-unit")]
fn x_result_unit() -> Result<(), CommandError> {
    Ok(())
}

#[derive(Debug)]
enum VmError {
    NotRunning,
}

impl From<VmError> for CommandError {
    fn from(e: VmError) -> Self {
        match e {
            VmError::NotRunning => CommandError::generic("The guest is not running"),
        }
    }
}

#[qmp_command(name = "x-custom-error")]
fn x_custom_error(fail: bool) -> Result<i64, VmError> {
    if fail {
        Err(VmError::NotRunning)
    } else {
        Ok(1)
    }
}

// `std::result::Result` spelled out is recognised too.
#[qmp_command(name = "x-full-path-result")]
fn x_full_path_result() -> std::result::Result<String, CommandError> {
    Ok(String::new())
}

fn main() {
    let registry = Registry::with_inventory().unwrap();
    for name in [
        "x-unit",
        "x-bare",
        "x-bare-vec",
        "x-result",
        "x-result-unit",
        "x-custom-error",
        "x-full-path-result",
    ] {
        assert!(registry.get(name).is_some(), "{name}");
    }
}
