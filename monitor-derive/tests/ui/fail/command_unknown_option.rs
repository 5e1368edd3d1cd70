use monitor_core::qmp_command;

#[qmp_command(bogus)]
fn x_cmd() {}

fn main() {}
