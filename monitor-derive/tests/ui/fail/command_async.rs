use monitor_core::qmp_command;

struct Vm;

/// Async commands cannot borrow state: the future outlives the call.
#[qmp_command]
async fn x_cmd(vm: &Vm) {
    let _ = vm;
}

fn main() {}
