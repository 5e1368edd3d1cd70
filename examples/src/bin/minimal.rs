//! The smallest useful embedding: a QMP monitor with two commands and a
//! heartbeat event. `minimal -qmp unix:/tmp/m.sock,server=on,wait=off`
use std::{process::ExitCode, time::Duration};

use examples::cli::{self, CliError};
use monitor_core::{Command, CommandError, Event, ListenAddr, Monitor};
use serde::Serialize;

const USAGE: &str = "usage: minimal [-name NAME] [-qmp unix:PATH,server=on,wait=off | -qmp tcp:HOST:PORT,server=on,wait=off]...";

#[derive(Serialize)]
struct StatusInfo {
    status: &'static str,
    singlestep: bool,
    running: bool,
}

#[derive(Serialize)]
struct NameInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

fn parse(args: &[String]) -> Result<(Vec<ListenAddr>, Option<String>), CliError> {
    let (mut qmp, mut name, mut i) = (Vec::new(), None, 0);
    while i < args.len() {
        match args[i].as_str() {
            "-qmp" => qmp.push(cli::parse_socket(cli::value(args, &mut i, "-qmp")?)?),
            "-name" => name = Some(cli::value(args, &mut i, "-name")?.to_owned()),
            other => return Err(CliError::Unknown(other.to_owned())),
        }
        i += 1;
    }
    if qmp.is_empty() {
        qmp.push(ListenAddr::Unix(std::env::temp_dir().join("minimal.qmp")));
    }
    Ok((qmp, name))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let (listeners, name) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("minimal: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    examples::logger::init();
    let status = Command::typed("query-status", |_, ()| {
        Ok::<_, CommandError>(StatusInfo {
            status: "running",
            singlestep: false,
            running: true,
        })
    });
    let name_cmd = Command::typed("query-name", move |_, ()| {
        Ok::<_, CommandError>(NameInfo { name: name.clone() })
    });
    let mut builder = Monitor::builder()
        .version(0, 1, 0, "minimal")
        .command(status)
        .command(name_cmd);
    for addr in &listeners {
        eprintln!("minimal: QMP on {addr}");
        builder = builder.listen(addr.clone());
    }
    let monitor = match builder.spawn() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("minimal: {e}");
            return ExitCode::from(1);
        }
    };
    let emitter = monitor.events().clone();
    std::thread::spawn(move || {
        (1u64..).for_each(|count| {
            std::thread::sleep(Duration::from_secs(1));
            if let Ok(event) =
                Event::new("HEARTBEAT").with_data(&serde_json::json!({ "count": count }))
            {
                emitter.emit(event);
            }
        })
    });
    match monitor.wait() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimal: {e}");
            ExitCode::from(1)
        }
    }
}
