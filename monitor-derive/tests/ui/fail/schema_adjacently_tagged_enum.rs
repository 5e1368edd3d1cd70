use monitor_core::Schema;

#[derive(Schema)]
#[serde(tag = "type", content = "data")]
enum Address {
    Inet { host: String },
    Unix { path: String },
}

fn main() {}
