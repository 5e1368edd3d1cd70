use monitor_core::{qmp_command, Schema};

#[derive(Schema)]
struct Point {
    x: i64,
}

#[qmp_command]
fn x_cmd(point: Point) {
    let _ = point.x;
}

fn main() {}
