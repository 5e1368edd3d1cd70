use monitor_core::{qmp_command, Schema};
use serde::Deserialize;

#[derive(Deserialize, Schema)]
struct Args {
    a: u32,
}

#[qmp_command]
fn x_cmd(#[args] args: &Args) {
    let _ = args.a;
}

fn main() {}
