use monitor_core::qmp_command;

#[qmp_command]
fn x_cmd<T: Default>(value: u32) -> u32 {
    let _ = T::default();
    value
}

fn main() {}
