use monitor_core::qmp_command;

#[qmp_command]
fn x_echo(text: &str) -> String {
    text.to_owned()
}

fn main() {}
