use monitor_core::qmp_command;

#[qmp_command(name = "")]
fn x_cmd() {}

fn main() {}
