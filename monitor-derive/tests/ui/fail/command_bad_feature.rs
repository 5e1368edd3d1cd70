use monitor_core::qmp_command;

#[qmp_command(features = ["unstable", 3])]
fn x_cmd() {}

fn main() {}
