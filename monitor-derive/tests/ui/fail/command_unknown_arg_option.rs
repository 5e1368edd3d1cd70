use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd(#[arg(nam = "x")] a: u32) {
    let _ = a;
}

fn main() {}
