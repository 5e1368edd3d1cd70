use monitor_core::Schema;

#[derive(Schema)]
#[serde(rename_all = "kebab_case")]
struct CpuInfo {
    cpu_index: i64,
}

fn main() {}
