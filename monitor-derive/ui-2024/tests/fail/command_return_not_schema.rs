use monitor_core::{qmp_command, CommandError};
use serde::Serialize;

#[derive(Serialize)]
struct Status {
    running: bool,
}

#[qmp_command]
fn x_status() -> Result<Status, CommandError> {
    Ok(Status { running: true })
}

fn main() {}
