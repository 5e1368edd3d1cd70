use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd(#[arg(name = "a")] #[arg(name = "b")] x: u32) {
    let _ = x;
}

fn main() {}
