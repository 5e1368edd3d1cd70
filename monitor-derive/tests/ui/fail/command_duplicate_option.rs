use monitor_core::qmp_command;

#[qmp_command(name = "x-a", allow_oob, name = "x-b")]
fn x_cmd() {}

fn main() {}
