use monitor_core::qmp_command;

#[qmp_command]
unsafe fn x_cmd() {}

fn main() {}
