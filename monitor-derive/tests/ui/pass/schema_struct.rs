// Struct schemas honour serde: rename_all, rename, skip, skip_serializing_if,
// default, flatten; newtypes and unit structs.
use monitor_core::schema::{Member, SchemaGen, SchemaInfo};
use monitor_core::Schema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
struct CpuInfo {
    cpu_index: i64,
    #[serde(rename = "qom_path")]
    qom_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    thread_id: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    props: Vec<String>,
    #[serde(default)]
    halted: bool,
    #[serde(skip)]
    cache: u64,
    #[serde(flatten)]
    common: Common,
}

#[derive(Serialize, Deserialize, Schema)]
struct Common {
    arch: String,
}

#[derive(Serialize, Schema)]
struct Newtype(u32);

#[derive(Serialize, Schema)]
struct Empty;

#[derive(Serialize, Schema)]
#[serde(transparent)]
struct Transparent {
    inner: Option<String>,
}

#[derive(Serialize, Deserialize, Default, Schema)]
#[serde(default)]
struct AllDefault {
    a: i64,
}

fn members(schema_gen: &SchemaGen, name: &str) -> Vec<(String, bool)> {
    match schema_gen.find(name) {
        Some(SchemaInfo::Object { info, .. }) => info
            .members
            .iter()
            .map(|m: &Member| (m.name.clone(), m.optional))
            .collect(),
        other => panic!("{name}: {other:?}"),
    }
}

fn main() {
    let mut schema_gen = SchemaGen::new();
    let cpu = schema_gen.describe::<CpuInfo>();
    let expected: Vec<(String, bool)> = [
        ("cpu-index", false),
        ("qom_path", false),
        ("thread-id", true),
        ("props", true),
        ("halted", true),
        ("arch", false),
    ]
    .iter()
    .map(|(n, o)| (n.to_string(), *o))
    .collect();
    assert_eq!(members(&schema_gen, &cpu), expected);

    assert_eq!(schema_gen.describe::<Newtype>(), "int");
    assert_eq!(schema_gen.describe::<Empty>(), "0");
    assert_eq!(schema_gen.describe::<Transparent>(), "str");
    assert!(<Transparent as Schema>::optional());
    let all = schema_gen.describe::<AllDefault>();
    assert_eq!(members(&schema_gen, &all), [("a".to_string(), true)]);

    let _ = CpuInfo {
        cpu_index: 0,
        qom_path: String::new(),
        thread_id: None,
        props: Vec::new(),
        halted: false,
        cache: 0,
        common: Common {
            arch: String::new(),
        },
    };
}
