use monitor_core::Schema;

#[derive(Schema)]
struct Wrapper<T> {
    value: T,
}

fn main() {}
