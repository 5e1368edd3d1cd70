use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd(a_b: u32, #[arg(name = "a-b")] c: u32) {
    let _ = (a_b, c);
}

fn main() {}
