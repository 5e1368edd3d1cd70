//! The smallest useful embedding: a QMP monitor and a human monitor with a
//! few commands and a heartbeat event.
//! `minimal -qmp unix:/tmp/m.sock,server=on,wait=off -monitor stdio`
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use examples::cli::{self, CliError};
use examples::daemon::{Daemon, Pidfile};
use examples::qemu_cmdline::{Common, MachineTypes};
use examples::signals::HostSignals;
use examples::timers::Timers;
use monitor_core::qemu_opts::Parser;
use monitor_core::{
    pending::Completion, qmp_command, stream::Limits, CommandError, Context, Emitter, Event,
    Monitor, Schema,
};
use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
use serde::Serialize;

const USAGE: &str = "\
usage: minimal [options]          (QEMU's options for a machine without a guest)
  -qmp SPEC | -qmp-pretty SPEC    a QMP monitor (SPEC: unix:PATH,server=on,wait=off
                                  | tcp:HOST:PORT,server=on,wait=off)  (repeatable;
                                  default unix:$TMPDIR/minimal.qmp)
  -monitor stdio | SPEC           a human monitor                      (repeatable)
  -chardev socket,id=ID,path=P|host=H,port=N|fd=N,server=on,wait=off | stdio,id=ID
  -mon chardev=ID[,mode=control|readline][,pretty=on]
  -name [guest=]NAME              the name query-name answers
  -machine none[,accel=kvm:tcg]   the only machine: no guest
  -S                              start in prelaunch; `cont` runs
  -daemonize, -pidfile PATH       as QEMU
  -nodefaults -no-user-config -nographic -display none -msg timestamp=on
                                  accepted as QEMU takes them
  -x-max-message SIZE             bytes of token text per message (QEMU's 64M)
  -x-heartbeat SECONDS            HEARTBEAT event period (default 1; 0: none)
  -x-stats                        on exit, print the monitor thread's longest turn
  [--allow-uid UID]... [--max-clients N] [--negotiation-timeout SECONDS] [--max-fds N]
  [--fd-budget N]                 descriptors held for all clients (default: half of ulimit -n)";

/// The one machine type: no guest at all, as QEMU's `none`.
const MACHINES: MachineTypes = MachineTypes {
    program: "minimal",
    types: &["none"],
    kvm: false,
};

/// Whether the (imaginary) guest runs: `stop` and `cont` flip it; before
/// the first `cont` under `-S`, it has never run (`prelaunch`).
struct RunState {
    running: AtomicBool,
    started: AtomicBool,
}

#[derive(Serialize, Schema)]
struct StatusInfo {
    running: bool,
    singlestep: bool,
    status: String,
}

/// Query the run state.
#[qmp_command(name = "query-status")]
fn query_status(run: &RunState) -> Result<StatusInfo, CommandError> {
    let running = run.running.load(Ordering::SeqCst);
    let status = match (running, run.started.load(Ordering::SeqCst)) {
        (true, _) => "running",
        (false, true) => "paused",
        (false, false) => "prelaunch",
    };
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
    if run.running.swap(false, Ordering::SeqCst) {
        emitter.emit(Stop);
    }
}

/// Resume the guest (RESUME).
#[qmp_command(name = "cont")]
fn cont(run: &RunState, emitter: &Emitter) {
    run.started.store(true, Ordering::SeqCst);
    run.running.store(true, Ordering::SeqCst);
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

/// The longest `x-sleep`: one hour.
const MAX_SLEEP_MS: u64 = 3_600_000;

/// Answer after `ms` milliseconds (at most an hour), from the timer thread
/// (a deferred command: the monitor keeps serving meanwhile; a client that
/// leaves takes its sleeps with it).
#[qmp_command(name = "x-sleep")]
fn x_sleep(ms: u64, timers: &Timers, done: Completion<()>) -> Result<(), CommandError> {
    // A negative `ms` arrives wrapped, as QEMU's uint64 visitor takes it:
    // above the maximum too.
    if ms > MAX_SLEEP_MS {
        return Err(CommandError::generic(format!(
            "Parameter 'ms' expects an integer in the range of 0 to {MAX_SLEEP_MS}"
        )));
    }
    timers.answer_at(Instant::now() + Duration::from_millis(ms), done);
    Ok(())
}

/// Answer at once; allowed out of band.
#[qmp_command(name = "x-ping", allow_oob)]
fn x_ping() {}

/// Emit `count` events (named `event`, default BENCH, with `data`) as fast
/// as the emitter allows, through the same path (and throttle) as any
/// event, from a thread of their own; answer when the last is emitted.
#[qmp_command(name = "x-bench-events")]
fn x_bench_events(
    count: u64,
    event: Option<String>,
    data: Option<serde_json::Value>,
    emitter: &Emitter,
    done: Completion<()>,
) {
    examples::bench::spawn_events(emitter, count, event, data, done);
}

#[derive(Serialize, Schema)]
struct FdWriteInfo {
    written: u64,
    size: u64,
}

/// Write `data` through the descriptor the session passed as `fdname`
/// (with `getfd`), which it keeps; answer how much was written and the
/// size of what it refers to afterwards (fstat).
///
/// The write runs on the monitor thread, so it must not block: the
/// descriptor is made non-blocking, as QEMU makes those it serves from its
/// main loop, and the answer says how much the descriptor took (a full
/// pipe takes part or nothing: `Resource temporarily unavailable`).
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
    let flags = fcntl_getfl(&file).map_err(|e| failed(e.into()))?;
    fcntl_setfl(&file, flags | OFlags::NONBLOCK).map_err(|e| failed(e.into()))?;
    let mut file = std::fs::File::from(file);
    let mut written = 0;
    while written < data.len() {
        match file.write(&data.as_bytes()[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && written > 0 => break,
            Err(e) => return Err(failed(e)),
        }
    }
    let size = file.metadata().map_err(failed)?.len();
    Ok(FdWriteInfo {
        written: written as u64,
        size,
    })
}

/// Save guest virtual memory through a vCPU's page tables: `minimal`
/// has no vCPU, so every `cpu-index` (0 when not given) names none, as on
/// QEMU's `-machine none`.
#[qmp_command(name = "memsave")]
fn memsave(
    val: i64,
    size: i64,
    filename: String,
    cpu_index: Option<i64>,
) -> Result<(), CommandError> {
    let _ = (val, size, filename, cpu_index);
    Err(CommandError::generic(
        "Parameter 'cpu-index' expects a CPU number",
    ))
}

/// Save guest physical memory: `minimal` has no RAM, and QEMU's
/// `-machine none` reads unassigned memory as zeros, so the file gets
/// `size` zero bytes (written on the monitor thread, as QEMU does).
#[qmp_command(name = "pmemsave")]
fn pmemsave(val: i64, size: i64, filename: String) -> Result<(), CommandError> {
    let _ = val;
    // QEMU 7.2 overflows its buffer on a negative size; refuse it.
    let size = u64::try_from(size)
        .map_err(|_| CommandError::generic("Parameter 'size' expects a non-negative value"))?;
    let file = std::fs::File::create(&filename).map_err(|e| {
        let text = e.to_string();
        let reason = text.split(" (os error").next().unwrap_or(&text);
        CommandError::generic(format!("Could not open '{filename}': {reason}"))
    })?;
    let mut out = std::io::BufWriter::new(file);
    std::io::copy(&mut std::io::repeat(0).take(size), &mut out)
        .and_then(|_| out.flush())
        .map_err(|_| CommandError::generic("An IO error has occurred"))?;
    Ok(())
}

/// Sent every second, so a client can see events flow.
#[derive(Serialize, Schema, Event)]
#[event(name = "HEARTBEAT")]
struct Heartbeat {
    count: u64,
}

struct Options {
    common: Common,
    paused: bool,
    /// `-chardev`, `-mon`, `-qmp`, `-qmp-pretty`, `-monitor`, in order.
    monitors: Parser,
    /// Bytes of token text per message (`-x-max-message`, as `-m` takes
    /// sizes); QEMU's 64 MiB when not given.
    max_message: Option<usize>,
    /// Seconds between HEARTBEAT events (`-x-heartbeat`; 0: none).
    heartbeat: u64,
    /// Print the monitor's statistics on exit (`-x-stats`).
    stats: bool,
    access: cli::Access,
}

fn parse(args: &[String]) -> Result<Options, CliError> {
    let mut o = Options {
        common: Common::default(),
        paused: false,
        monitors: Parser::new(),
        max_message: None,
        heartbeat: 1,
        stats: false,
        access: cli::Access::default(),
    };
    let mut monitors = false;
    let mut i = 0;
    while i < args.len() {
        let option = args[i].as_str();
        match option {
            "-S" => o.paused = true,
            // No guest, so no serial port to put anywhere.
            "-serial" => {
                return Err(CliError::Unknown(
                    "-serial: minimal has no guest and no serial port".into(),
                ))
            }
            _ if Parser::handles(option) => {
                let value = cli::value(args, &mut i, option)?;
                o.monitors.option(option, value)?;
                monitors = true;
            }
            "-x-max-message" => {
                let spec = cli::value(args, &mut i, "-x-max-message")?;
                let bytes = cli::parse_size_mib(spec)?;
                o.max_message =
                    Some(usize::try_from(bytes).map_err(|_| CliError::Size(spec.to_owned()))?);
            }
            "-x-stats" => o.stats = true,
            "-x-heartbeat" => {
                let secs = cli::value(args, &mut i, "-x-heartbeat")?;
                o.heartbeat = secs.parse().map_err(|_| CliError::Number {
                    option: option.to_owned(),
                    value: secs.to_owned(),
                })?;
            }
            _ if o.common.parse(args, &mut i, MACHINES)? => {}
            _ if o.access.parse(args, &mut i)? => {}
            other => return Err(CliError::Unknown(other.to_owned())),
        }
        i += 1;
    }
    if !monitors {
        let default = std::env::temp_dir().join("minimal.qmp");
        o.monitors.option(
            "-qmp",
            &format!("unix:{},server=on,wait=off", default.display()),
        )?;
    }
    Ok(o)
}

fn main() -> ExitCode {
    cli::main("minimal", USAGE, parse, run)
}

fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    cli::set_msg_timestamp(options.common.msg_timestamp);
    let daemon = Daemon::current();
    let monitors = options.monitors.finish()?;
    for warning in monitors.warnings() {
        cli::report("minimal", warning);
    }
    let hmp = monitor_hmp::Hmp::new();
    let (builder, served) = examples::monitors::serve(Monitor::builder(), &monitors, &hmp)?;
    options.common.check(daemon.is_daemon(), served.hmp_stdio)?;
    let mut builder = hmp
        .install(builder)
        .version(0, 1, 0, "minimal")
        .state(NameInfo {
            name: options.common.name,
        })
        .state(RunState {
            running: AtomicBool::new(!options.paused),
            started: AtomicBool::new(!options.paused),
        });
    // x-sleep's answers; those of a client that leaves go with it.
    let timers = Arc::new(Timers::start()?);
    let sweeper = Arc::clone(&timers);
    builder = builder
        .shared_state(timers)
        .on_disconnect(move |_| sweeper.sweep());
    if let Some(bytes) = options.max_message {
        builder = builder.input_limits(Limits {
            max_token_size: bytes,
            ..Limits::default()
        });
    }
    builder = options.access.apply(builder);
    // Before anything listens: no signal ends the process by default.
    let signals = HostSignals::catch()?;
    let monitor = Arc::new(builder.spawn()?);
    for line in &served.lines {
        eprintln!("minimal: {line}");
    }
    let pidfile = options
        .common
        .pidfile
        .as_deref()
        .map(Pidfile::create)
        .transpose()?;
    // Before the terminal turns raw, so that no signal leaves it raw.
    signals.exit_monitor("minimal", Arc::clone(&monitor), || {})?;
    // -daemonize: the parent exits 0 now.
    daemon.ready()?;
    // Restores the terminal when dropped, whichever way this returns.
    let _terminal = if served.hmp_stdio {
        Some(monitor_hmp::stdio::attach(&monitor, hmp.console())?)
    } else {
        None
    };
    let emitter = monitor.emitter().clone();
    let period = options.heartbeat;
    if period > 0 {
        std::thread::spawn(move || {
            for count in 1.. {
                std::thread::sleep(Duration::from_secs(period));
                emitter.emit(Heartbeat { count });
            }
        });
    }
    // Until `quit`, a signal (see `examples::signals`) or a failure.
    monitor.wait()?;
    if options.stats {
        let stats = monitor.stats();
        eprintln!(
            "minimal: longest turn of the monitor thread: {} µs",
            stats.longest_turn.as_micros()
        );
    }
    drop(pidfile);
    Ok(())
}
