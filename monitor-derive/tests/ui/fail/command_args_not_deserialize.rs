use monitor_core::{qmp_command, Schema};

#[derive(Schema)]
struct Args {
    x: i64,
}

#[qmp_command]
fn x_cmd(#[args] args: Args) {
    let _ = args.x;
}

fn main() {}
