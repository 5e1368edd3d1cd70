use monitor_core::Schema;

struct Inner;

#[derive(Schema)]
struct Outer {
    inner: Inner,
}

fn main() {}
