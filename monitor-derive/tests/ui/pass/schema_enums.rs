// Enum schemas: unit enums (QAPI enums), internally tagged enums (flat
// unions) and untagged enums (alternates).
use monitor_core::schema::{SchemaGen, SchemaInfo};
use monitor_core::Schema;
use serde::Serialize;

#[derive(Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
enum RunState {
    Running,
    Paused,
    #[serde(rename = "guest-panicked")]
    GuestPanic,
    #[serde(skip)]
    #[allow(dead_code)]
    Internal,
}

#[derive(Serialize, Schema)]
#[serde(tag = "type", rename_all = "lowercase")]
enum SocketAddress {
    Inet { host: String, port: String },
    Unix { path: String },
    Fd(FdAddress),
    Vsock,
}

#[derive(Serialize, Schema)]
struct FdAddress {
    str: String,
}

#[derive(Serialize, Schema)]
#[serde(untagged)]
enum StrOrNull {
    S(String),
    N,
}

fn main() {
    let mut schema_gen = SchemaGen::new();

    let run_state = schema_gen.describe::<RunState>();
    match schema_gen.find(&run_state) {
        Some(SchemaInfo::Enum { values, .. }) => {
            assert_eq!(values, &["running", "paused", "guest-panicked"]);
        }
        other => panic!("{other:?}"),
    }

    let addr = schema_gen.describe::<SocketAddress>();
    match schema_gen.find(&addr) {
        Some(SchemaInfo::Object { info, .. }) => {
            assert_eq!(info.tag.as_deref(), Some("type"));
            let cases: Vec<&str> = info.variants.iter().map(|v| v.case.as_str()).collect();
            assert_eq!(cases, ["inet", "unix", "fd", "vsock"]);
            assert_eq!(info.members.len(), 1);
            assert_eq!(info.members[0].name, "type");
        }
        other => panic!("{other:?}"),
    }

    let alt = schema_gen.describe::<StrOrNull>();
    match schema_gen.find(&alt) {
        Some(SchemaInfo::Alternate { members, .. }) => {
            assert_eq!(members, &["str", "null"]);
        }
        other => panic!("{other:?}"),
    }

    let _ = (
        RunState::Running,
        RunState::Paused,
        RunState::GuestPanic,
        SocketAddress::Inet {
            host: String::new(),
            port: String::new(),
        },
        SocketAddress::Unix {
            path: String::new(),
        },
        SocketAddress::Fd(FdAddress { str: String::new() }),
        SocketAddress::Vsock,
        StrOrNull::S(String::new()),
        StrOrNull::N,
    );
}
