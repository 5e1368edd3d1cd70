use monitor_core::qmp_command;

#[qmp_command(name = "a b")]
fn x_cmd() {}

fn main() {}
