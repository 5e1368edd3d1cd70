use monitor_core::Schema;

#[derive(Schema)]
#[serde(tag = "type")]
enum Shape {
    Point(i64, i64),
}

fn main() {}
