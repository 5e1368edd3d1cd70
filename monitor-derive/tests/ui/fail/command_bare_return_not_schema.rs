use monitor_core::qmp_command;
use serde::Serialize;

#[derive(Serialize)]
struct Status {
    running: bool,
}

#[qmp_command]
fn x_status() -> Status {
    Status { running: true }
}

fn main() {}
