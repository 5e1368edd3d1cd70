use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd(callback: impl Fn()) {
    callback();
}

fn main() {}
