use monitor_core::Schema;

#[derive(Schema)]
enum Address {
    Inet { host: String },
    Unix { path: String },
}

fn main() {}
