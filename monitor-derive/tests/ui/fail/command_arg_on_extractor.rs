use monitor_core::qmp_command;

struct Vm;

#[qmp_command]
fn x_cmd(#[arg(name = "vm")] vm: &Vm) {
    let _ = vm;
}

fn main() {}
