//! The smallest useful embedding: a QMP monitor and a human monitor with a
//! few commands and a heartbeat event.
//! `minimal -qmp unix:/tmp/m.sock,server=on,wait=off -monitor stdio`
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::{process::ExitCode, time::Duration};

use examples::cli::{self, CliError, MonitorSpec};
use monitor_core::{
    pending::Completion, qmp_command, stream::Limits, CommandError, Context, Emitter, Event,
    ListenAddr, Monitor, Schema,
};
use serde::Serialize;

const USAGE: &str = "usage: minimal [-name NAME] [-x-max-message SIZE] [-qmp unix:PATH,server=on,wait=off | -qmp tcp:HOST:PORT,server=on,wait=off]... [-monitor stdio | -monitor unix:PATH,server=on,wait=off | -monitor tcp:HOST:PORT,server=on,wait=off]... [--allow-uid UID]... [--max-clients N] [--negotiation-timeout SECONDS] [--max-fds N]";

/// Whether the (imaginary) guest runs: `stop` and `cont` flip it.
struct RunState(AtomicBool);

#[derive(Serialize, Schema)]
struct StatusInfo {
    running: bool,
    singlestep: bool,
    status: String,
}

/// Query the run state.
#[qmp_command(name = "query-status")]
fn query_status(run: &RunState) -> Result<StatusInfo, CommandError> {
    let running = run.0.load(Ordering::SeqCst);
    let status = if running { "running" } else { "paused" };
    Ok(StatusInfo {
        running,
        singlestep: false,
        status: status.into(),
    })
}

#[derive(Serialize, Schema, Event)]
struct Stop;

#[derive(Serialize, Schema, Event)]
struct Resume;

/// Stop the guest (STOP, unless already stopped).
#[qmp_command(name = "stop")]
fn stop(run: &RunState, emitter: &Emitter) {
    if run.0.swap(false, Ordering::SeqCst) {
        emitter.emit(Stop);
    }
}

/// Resume the guest (RESUME).
#[qmp_command(name = "cont")]
fn cont(run: &RunState, emitter: &Emitter) {
    run.0.store(true, Ordering::SeqCst);
    emitter.emit(Resume);
}

#[derive(Serialize, Schema)]
struct NameInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// Return the name given with `-name`.
#[qmp_command(name = "query-name")]
fn query_name(name: &NameInfo) -> Result<&NameInfo, CommandError> {
    Ok(name)
}

/// Answer after `ms` milliseconds, from another thread (an async command:
/// the monitor keeps serving meanwhile).
#[qmp_command(name = "x-sleep")]
fn x_sleep(ms: u64, done: Completion<()>) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        done.complete(Ok::<(), CommandError>(()));
    });
}

/// Answer at once; allowed out of band.
#[qmp_command(name = "x-ping", allow_oob)]
fn x_ping() {}

/// Emit `count` events (named `event`, default BENCH, with `data`) as fast
/// as the emitter allows, through the same path (and throttle) as any event.
#[qmp_command(name = "x-bench-events")]
fn x_bench_events(
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
    emitter: &Emitter,
) -> Result<(), CommandError> {
    examples::bench::emit_events(emitter, count, event, data)
}

#[derive(Serialize, Schema)]
struct FdWriteInfo {
    written: u64,
    size: u64,
}

/// Write `data` through the descriptor the session passed as `fdname`
/// (with `getfd`), which it keeps; answer how much was written and the
/// size of what it refers to afterwards (fstat).
#[qmp_command(name = "x-fd-write")]
fn x_fd_write(
    fdname: String,
    data: String,
    ctx: &Context<'_>,
) -> Result<FdWriteInfo, CommandError> {
    let failed =
        |e: std::io::Error| CommandError::generic(format!("Cannot write to '{fdname}': {e}"));
    let file = ctx
        .with_fd(&fdname, |fd| fd.try_clone_to_owned())?
        .map_err(failed)?;
    let mut file = std::fs::File::from(file);
    file.write_all(data.as_bytes()).map_err(failed)?;
    let size = file.metadata().map_err(failed)?.len();
    Ok(FdWriteInfo {
        written: data.len() as u64,
        size,
    })
}

/// Sent every second, so a client can see events flow.
#[derive(Serialize, Schema, Event)]
#[event(name = "HEARTBEAT")]
struct Heartbeat {
    count: u64,
}

struct Options {
    qmp: Vec<ListenAddr>,
    monitors: Vec<MonitorSpec>,
    name: Option<String>,
    /// Bytes of token text per message (`-x-max-message`, as `-m` takes
    /// sizes); QEMU's 64 MiB when not given.
    max_message: Option<usize>,
    access: cli::Access,
}

fn parse(args: &[String]) -> Result<Options, CliError> {
    let mut o = Options {
        qmp: Vec::new(),
        monitors: Vec::new(),
        name: None,
        max_message: None,
        access: cli::Access::default(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-qmp" => o
                .qmp
                .push(cli::parse_socket(cli::value(args, &mut i, "-qmp")?)?),
            "-monitor" => o
                .monitors
                .push(cli::parse_monitor(cli::value(args, &mut i, "-monitor")?)?),
            "-name" => o.name = Some(cli::value(args, &mut i, "-name")?.to_owned()),
            "-x-max-message" => {
                let spec = cli::value(args, &mut i, "-x-max-message")?;
                let bytes = cli::parse_size_mib(spec)?;
                o.max_message =
                    Some(usize::try_from(bytes).map_err(|_| CliError::Size(spec.to_owned()))?);
            }
            _ if o.access.parse(args, &mut i)? => {}
            other => return Err(CliError::Unknown(other.to_owned())),
        }
        i += 1;
    }
    if o.qmp.is_empty() {
        o.qmp
            .push(ListenAddr::Unix(std::env::temp_dir().join("minimal.qmp")));
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match cli::parse_args("minimal", USAGE, parse) {
        Ok(options) => options,
        Err(code) => return code,
    };
    examples::logger::init();
    let hmp = monitor_hmp::Hmp::new();
    let mut builder = hmp
        .install(Monitor::builder())
        .version(0, 1, 0, "minimal")
        .state(NameInfo { name: options.name })
        .state(RunState(AtomicBool::new(true)));
    if let Some(bytes) = options.max_message {
        builder = builder.input_limits(Limits {
            max_token_size: bytes,
            ..Limits::default()
        });
    }
    builder = cli::listen(builder, "minimal", &options.qmp, &options.monitors, &hmp);
    builder = options.access.apply(builder);
    let monitor = match builder.spawn() {
        Ok(m) => Arc::new(m),
        Err(e) => {
            eprintln!("minimal: {e}");
            return ExitCode::from(1);
        }
    };
    // Before the terminal turns raw, so that no signal leaves it raw.
    if let Err(e) = examples::signals::exit_on_signals("minimal", Arc::clone(&monitor), || {}) {
        eprintln!("minimal: cannot handle signals: {e}");
        return ExitCode::from(1);
    }
    // Restores the terminal when dropped, whichever way main returns.
    let _terminal = if options.monitors.contains(&MonitorSpec::Stdio) {
        match monitor_hmp::stdio::attach(&monitor, hmp.console()) {
            Ok(console) => Some(console),
            Err(e) => {
                eprintln!("minimal: {}", cli::error_chain(&e));
                return ExitCode::from(1);
            }
        }
    } else {
        None
    };
    let emitter = monitor.events().clone();
    std::thread::spawn(move || {
        for count in 1.. {
            std::thread::sleep(Duration::from_secs(1));
            emitter.emit(Heartbeat { count });
        }
    });
    // Until `quit`, a signal (see `examples::signals`) or a failure.
    match monitor.wait() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("minimal: {e}");
            ExitCode::from(1)
        }
    }
}
