use monitor_core::qmp_command;

#[qmp_command]
fn x_write(data: &[u8]) {
    let _ = data;
}

fn main() {}
