use monitor_core::qmp_command;

struct MyErr;

#[qmp_command]
fn x_cmd() -> Result<u32, MyErr> {
    Ok(1)
}

fn main() {}
