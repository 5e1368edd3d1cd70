//! The README's embedding example, verbatim, in an edition-2024 crate.

use monitor_core::{client::Client, qmp_command, CommandError, Monitor, Schema};
use serde::Serialize;

#[derive(Serialize, Schema)]
struct Sum { sum: i64 }

/// Add two numbers.
#[qmp_command(name = "x-add")]
fn x_add(a: i64, b: i64) -> Result<Sum, CommandError> {
    Ok(Sum { sum: a + b })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("ui-2024-readme-{}.sock", std::process::id()));
    let monitor = Monitor::builder()
        .version(1, 2, 0, "my-vmm")
        .listen_unix(&path)
        .spawn()?;

    let mut client = Client::connect_unix(&path)?;
    client.negotiate()?;
    let sum = client.execute("x-add", serde_json::json!({"a": 2, "b": 3}))?;
    assert_eq!(sum["sum"], 5);
    let err = client.execute("x-add", serde_json::json!({"a": 2})).unwrap_err();
    assert_eq!(err.to_string(), "GenericError: Parameter 'b' is missing");
    monitor.shutdown();
    Ok(())
}
