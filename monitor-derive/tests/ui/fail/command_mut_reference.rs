use monitor_core::qmp_command;

struct Vm {
    running: bool,
}

#[qmp_command]
fn x_stop(vm: &mut Vm) {
    vm.running = false;
}

fn main() {}
