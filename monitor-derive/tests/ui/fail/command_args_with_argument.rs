use monitor_core::{qmp_command, Schema};
use serde::Deserialize;

#[derive(Deserialize, Schema)]
struct Args {
    a: u32,
}

#[qmp_command]
fn x_cmd(#[args] args: Args, b: u32) {
    let _ = (args.a, b);
}

fn main() {}
