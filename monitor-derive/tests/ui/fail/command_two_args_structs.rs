use monitor_core::{qmp_command, Schema};
use serde::Deserialize;

#[derive(Deserialize, Schema)]
struct A {
    a: u32,
}

#[derive(Deserialize, Schema)]
struct B {
    b: u32,
}

#[qmp_command]
fn x_cmd(#[args] a: A, #[args] b: B) {
    let _ = (a.a, b.b);
}

fn main() {}
