use monitor_core::qmp_command;

#[qmp_command]
struct Command;

fn main() {}
