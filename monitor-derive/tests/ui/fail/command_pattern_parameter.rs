use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd((a, b): (u32, u32)) {
    let _ = (a, b);
}

fn main() {}
