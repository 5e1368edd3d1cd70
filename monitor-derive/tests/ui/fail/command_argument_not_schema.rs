use monitor_core::qmp_command;
use serde::Deserialize;

#[derive(Deserialize)]
struct Point {
    x: i64,
}

#[qmp_command]
fn x_cmd(point: Point) {
    let _ = point.x;
}

fn main() {}
