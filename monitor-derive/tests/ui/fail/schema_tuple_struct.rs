use monitor_core::Schema;

#[derive(Schema)]
struct Pair(i64, i64);

fn main() {}
