//! Side-by-side comparison of this monitor with QEMU 7.2 and the socket
//! floor, over unix sockets, interleaved round by round.
//!
//! `cargo build --release --workspace && cargo run --release -p benches --bin compare`
//!
//! Prints a markdown table (medians over rounds, and the ratios the targets
//! are stated in) and writes an SVG chart. See `benches/README.md`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use benches::compare::attack::{self, Attack};
use benches::compare::measure::{self, QUERY_STATUS, QUERY_VERSION};
use benches::compare::procfs::resident;
use benches::compare::report::{size, Fanout, Metric, Results};
use benches::compare::stats::percentile;
use benches::compare::target::{Kind, Setup, Target};
use benches::compare::{floor, idle, sys};

/// What refvmm's firmware prints once it runs (`examples/firmware`).
const BANNER: &str = "refvmm firmware: booted in long mode";

/// The most events one run emits (`x-bench-events` takes at most a million).
const MAX_EVENTS: u64 = 1_000_000;

const USAGE: &str = "\
usage: compare [options]
  --rounds N       rounds, each measuring every server in turn (default 5)
  --quick          small counts and 1 round (a smoke test, not a figure)
  --requests N     sequential round trips per measurement (default 2000)
  --events N       events per event measurement (default 1000000, at most 1000000,
                   what x-bench-events takes; QEMU: N/25, at most 2000, STOP/RESUME events)
  --idle N         idle clients for the memory figure (default 1000)
  --fanout N       clients of the shared fan-out figure, 10 of which read (default 1000;
                   a burst of 100000 events)
  --only LIST      servers to run, comma-separated: floor,minimal,refvmm,qemu-none,qemu-pc
  --svg PATH       where to write the chart (default target/compare.svg)
  --minimal PATH   the minimal binary (default: next to this one)
  --refvmm PATH    the refvmm binary (default: next to this one)
  --qemu PATH      qemu-system-x86_64 (default: found in PATH)";

/// How much each measurement does.
#[derive(Debug, Clone)]
struct Plan {
    rounds: usize,
    requests: usize,
    in_flight: usize,
    per_client: usize,
    events: u64,
    qemu_events: u64,
    idle: usize,
    /// The shared fan-out: clients in all, readers among them, events.
    fanout: Fanout,
    /// How long the idle wake-ups are counted.
    wakeup_window: Duration,
    /// How long the CPU of a running guest is counted.
    cpu_window: Duration,
    /// Bytes of each huge message of the first attack.
    message: usize,
    /// TABs per storm of the second attack.
    tabs: usize,
    /// Times each attack runs at least.
    attacks: usize,
    only: Option<Vec<String>>,
    svg: PathBuf,
    minimal: Option<PathBuf>,
    refvmm: Option<PathBuf>,
    qemu: Option<PathBuf>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            rounds: 5,
            requests: 2000,
            in_flight: 20_000,
            per_client: 5000,
            events: MAX_EVENTS,
            qemu_events: 2000,
            idle: 1000,
            fanout: Fanout {
                clients: 1000,
                readers: 10,
                events: 100_000,
            },
            wakeup_window: Duration::from_secs(10),
            cpu_window: Duration::from_secs(10),
            message: 60 << 20,
            tabs: 1 << 20,
            attacks: 2,
            only: None,
            svg: PathBuf::from("target/compare.svg"),
            minimal: None,
            refvmm: None,
            qemu: None,
        }
    }
}

fn parse(args: &[String]) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let mut rounds = None;
    let mut i = 0;
    let value = |i: &mut usize| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{} needs a value", args[*i - 1]))
    };
    let number = |s: String| -> Result<u64, String> {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("not a positive number: {s}"))
    };
    while i < args.len() {
        match args[i].as_str() {
            "--rounds" => rounds = Some(number(value(&mut i)?)? as usize),
            "--quick" => {
                plan.requests = 200;
                plan.in_flight = 1000;
                plan.per_client = 200;
                plan.events = 2000;
                plan.qemu_events = 100;
                plan.idle = 50;
                plan.fanout = Fanout {
                    clients: 50,
                    readers: 5,
                    events: 5000,
                };
                plan.wakeup_window = Duration::from_secs(2);
                plan.cpu_window = Duration::from_secs(3);
                plan.message = 4 << 20;
                plan.tabs = 64 << 10;
                plan.attacks = 1;
                plan.rounds = 1;
            }
            "--requests" => plan.requests = number(value(&mut i)?)? as usize,
            "--events" => {
                plan.events = number(value(&mut i)?)?.min(MAX_EVENTS);
                plan.qemu_events = (plan.events / 25).clamp(2, 2000);
            }
            "--idle" => plan.idle = number(value(&mut i)?)? as usize,
            "--fanout" => {
                plan.fanout.clients = number(value(&mut i)?)? as usize;
                plan.fanout.readers = plan.fanout.readers.min(plan.fanout.clients);
            }
            "--only" => {
                let list = value(&mut i)?;
                let keys: Vec<String> = list.split(',').map(str::to_owned).collect();
                if let Some(bad) = keys
                    .iter()
                    .find(|k| !Kind::ALL.iter().any(|kind| kind.key() == k.as_str()))
                {
                    return Err(format!("unknown server: {bad}"));
                }
                plan.only = Some(keys);
            }
            "--svg" => plan.svg = PathBuf::from(value(&mut i)?),
            "--minimal" => plan.minimal = Some(PathBuf::from(value(&mut i)?)),
            "--refvmm" => plan.refvmm = Some(PathBuf::from(value(&mut i)?)),
            "--qemu" => plan.qemu = Some(PathBuf::from(value(&mut i)?)),
            other => return Err(format!("unknown option: {other}")),
        }
        i += 1;
    }
    if let Some(r) = rounds {
        plan.rounds = r;
    }
    Ok(plan)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-floor") {
        return serve_floor(args.get(1));
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let plan = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("compare: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&plan) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(1)
        }
    }
}

/// The floor as a child process (so it is measured like the others).
fn serve_floor(path: Option<&String>) -> ExitCode {
    let Some(path) = path else {
        eprintln!("compare: --serve-floor needs a socket path");
        return ExitCode::from(2);
    };
    let _ = std::fs::remove_file(path);
    let result = std::os::unix::net::UnixListener::bind(path).and_then(floor::serve);
    if let Err(e) = result {
        eprintln!("compare: floor on {path}: {e}");
    }
    ExitCode::from(1)
}

/// A program next to this executable (where `cargo build --release` puts
/// the workspace's binaries).
fn sibling(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join(name);
    p.is_file().then_some(p)
}

fn in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Which servers run, with their program, and notes on those that do not.
fn programs(plan: &Plan, notes: &mut Vec<String>) -> io::Result<Vec<(Kind, PathBuf)>> {
    let wanted = |k: Kind| {
        plan.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|s| s == k.key()))
    };
    let qemu = plan.qemu.clone().or_else(|| in_path("qemu-system-x86_64"));
    let kvm = Path::new("/dev/kvm").exists();
    let mut out = Vec::new();
    for kind in Kind::ALL.into_iter().filter(|k| wanted(*k)) {
        let program = match kind {
            Kind::Floor => Some(std::env::current_exe()?),
            Kind::Minimal => plan.minimal.clone().or_else(|| sibling("minimal")),
            Kind::Refvmm if !kvm => {
                notes.push("refvmm skipped: /dev/kvm is absent.".into());
                continue;
            }
            Kind::Refvmm => plan.refvmm.clone().or_else(|| sibling("refvmm")),
            Kind::QemuNone | Kind::QemuPc => qemu.clone(),
        };
        match program {
            Some(p) => out.push((kind, p)),
            None if kind.is_qemu() => notes.push(format!(
                "{} skipped: qemu-system-x86_64 is not installed (or pass --qemu PATH).",
                kind.label()
            )),
            None => notes.push(format!(
                "{} skipped: no `{}` next to this binary; run `cargo build --release --workspace` first (or pass --{} PATH).",
                kind.label(),
                kind.key(),
                kind.key()
            )),
        }
    }
    Ok(out)
}

fn run(plan: &Plan) -> io::Result<()> {
    let mut notes = Vec::new();
    let programs = programs(plan, &mut notes)?;
    let dir = std::env::temp_dir().join(format!("compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(plan, &programs, &dir, &mut notes);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    plan: &Plan,
    programs: &[(Kind, PathBuf)],
    dir: &Path,
    notes: &mut Vec<String>,
) -> io::Result<()> {
    // Both ends of every idle client, QEMU's listening sockets, and slack.
    let most = plan.idle.max(plan.fanout.clients);
    let want = 3 * most as u64 + 256;
    let (soft, hard) = sys::open_files()?;
    let now = sys::raise_open_files(want)?;
    let mut idle = plan.idle;
    let mut fanout = plan.fanout;
    if now < want {
        let allowed = ((now.saturating_sub(256)) / 3) as usize;
        idle = idle.min(allowed);
        fanout.clients = fanout.clients.min(allowed);
        fanout.readers = fanout.readers.min(fanout.clients);
        notes.push(format!(
            "open-file limit {now} (hard {hard}) allows {allowed} clients: {idle} idle clients, \
             not {}; {} fan-out clients, not {}.",
            plan.idle, fanout.clients, plan.fanout.clients
        ));
    } else if now != soft {
        notes.push(format!(
            "open-file limit raised from {soft} to {now} (hard {hard})."
        ));
    }
    let mut targets = Vec::new();
    for (kind, program) in programs {
        // QEMU serves one client per socket: 8 for the 8-client figures.
        // Not more: its main loop polls every listening socket on each
        // turn, and 1,000 of them would slow every other figure down.
        let sockets = if kind.is_qemu() { 8 } else { 1 };
        eprintln!("compare: starting {} ({})", kind.label(), program.display());
        match Target::start(*kind, program, dir, sockets) {
            Ok(t) => targets.push(t),
            Err(e) => notes.push(format!("{} skipped: {e}", kind.label())),
        }
    }
    let mut results = Results::new(targets.iter().map(|t| t.kind).collect(), idle);
    results.fanout = fanout;
    results.message_bytes = plan.message;
    let big = measure::padded_status(512);
    std::fs::create_dir_all(dir.join("fresh"))?;
    for round in 1..=plan.rounds {
        eprintln!("compare: round {round} of {}", plan.rounds);
        for step in Step::ALL {
            for t in &mut targets {
                if !t.alive() {
                    let reason = format!("the process exited: {}", t.stderr_text());
                    for m in step.metrics() {
                        results.fail(*m, t.kind, reason.clone());
                    }
                    continue;
                }
                let program =
                    &programs[programs.iter().position(|(k, _)| *k == t.kind).unwrap_or(0)].1;
                let ctx = Ctx {
                    plan,
                    big: &big,
                    idle,
                    fanout,
                    program,
                    dir: &dir.join("fresh"),
                };
                if let Err(e) = step.run(t, &ctx, &mut results) {
                    for m in step.metrics() {
                        results.fail(*m, t.kind, e.to_string());
                    }
                }
            }
        }
    }
    drop(targets);
    println!("{}", header(plan, idle, fanout));
    println!("{}", results.markdown());
    println!("Targets (medians of this run):\n");
    println!("{}", results.targets_check());
    notes.extend(
        results
            .failures()
            .into_iter()
            .map(|f| format!("failed: {f}")),
    );
    if !notes.is_empty() {
        println!("Notes:\n");
        for n in notes.iter() {
            println!("- {n}");
        }
        println!();
    }
    if let Some(parent) = plan.svg.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)?;
        }
    }
    let title = format!(
        "QMP over unix sockets: medians of {} rounds (compare)",
        plan.rounds
    );
    std::fs::write(&plan.svg, results.svg(&title))?;
    println!("Chart written to {}.", plan.svg.display());
    Ok(())
}

fn header(plan: &Plan, idle: usize, fanout: Fanout) -> String {
    format!(
        "Medians over {} interleaved rounds; per round: {} sequential round trips per latency row, \
         {} requests 16 in flight, 4 clients x {} round trips, {} events (ours, x-bench-events) or \
         {} STOP/RESUME events (QEMU, stop/cont), {idle} idle clients, {} events to {} clients \
         ({} reading), wake-ups over {} s, guest CPU over {} s, attacks of {} messages and \
         of storms of {} TABs, each run at least {}x and until the probe made {} round trips. \
         —: not measured.\n",
        plan.rounds,
        plan.requests,
        plan.in_flight,
        plan.per_client,
        plan.events,
        plan.qemu_events,
        fanout.events,
        fanout.clients,
        fanout.readers,
        plan.wakeup_window.as_secs_f64(),
        plan.cpu_window.as_secs_f64(),
        size(plan.message),
        plan.tabs,
        plan.attacks,
        attack::MIN_PROBES,
    )
}

/// What a step needs besides its server.
struct Ctx<'a> {
    plan: &'a Plan,
    big: &'a [u8],
    idle: usize,
    fanout: Fanout,
    /// The server's program, to start a fresh one.
    program: &'a Path,
    /// Where fresh servers put their sockets.
    dir: &'a Path,
}

/// One measurement of a round, run on each server in turn.
#[derive(Debug, Clone, Copy)]
enum Step {
    Version,
    Status,
    Big,
    InFlight,
    Clients,
    Events1,
    Events8,
    Memory,
    FanoutPeak,
    Wakeups,
    GuestCpu,
    ProbeMessage,
    ProbeTabs,
}

impl Step {
    const ALL: [Step; 13] = [
        Step::Version,
        Step::Status,
        Step::Big,
        Step::InFlight,
        Step::Clients,
        Step::Events1,
        Step::Events8,
        Step::Memory,
        Step::FanoutPeak,
        Step::Wakeups,
        Step::GuestCpu,
        Step::ProbeMessage,
        Step::ProbeTabs,
    ];

    fn metrics(self) -> &'static [Metric] {
        match self {
            Step::Version => &[Metric::VersionP50, Metric::VersionP99],
            Step::Status => &[Metric::StatusP50, Metric::StatusP99],
            Step::Big => &[Metric::BigP50, Metric::BigP99],
            Step::InFlight => &[Metric::InFlight],
            Step::Clients => &[Metric::Clients4],
            Step::Events1 => &[Metric::Events1],
            Step::Events8 => &[Metric::Events8],
            Step::Memory => &[Metric::RssIdle, Metric::RssClients, Metric::RssAfter],
            Step::FanoutPeak => &[Metric::FanoutPeak],
            Step::Wakeups => &[Metric::Wakeups],
            Step::GuestCpu => &[Metric::GuestCpu],
            Step::ProbeMessage => &[Metric::ProbeMessage],
            Step::ProbeTabs => &[Metric::ProbeTabs],
        }
    }

    fn run(self, t: &Target, ctx: &Ctx<'_>, results: &mut Results) -> io::Result<()> {
        let plan = ctx.plan;
        let kind = t.kind;
        let latency = |request: &[u8], results: &mut Results| -> io::Result<()> {
            let samples = measure::round_trips(t.socket(0), request, plan.requests)?;
            let [p50, p99] = [50.0, 99.0].map(|p| percentile(&samples, p).unwrap_or(f64::NAN));
            let metrics = self.metrics();
            results.add(metrics[0], kind, p50);
            results.add(metrics[1], kind, p99);
            Ok(())
        };
        match self {
            Step::Version => latency(QUERY_VERSION, results)?,
            Step::Status => latency(QUERY_STATUS, results)?,
            Step::Big => latency(ctx.big, results)?,
            Step::InFlight => {
                let rate = measure::in_flight(t.socket(0), QUERY_STATUS, plan.in_flight, 16)?;
                results.add(Metric::InFlight, kind, rate / 1e3);
            }
            Step::Clients => {
                let rate = measure::concurrent(&t.sockets, QUERY_STATUS, 4, plan.per_client)?;
                results.add(Metric::Clients4, kind, rate / 1e3);
            }
            Step::Events1 | Step::Events8 => {
                let Some(source) = kind.events() else {
                    return Ok(());
                };
                let count = if kind.is_qemu() {
                    plan.qemu_events
                } else {
                    plan.events
                };
                let clients = if matches!(self, Step::Events1) { 1 } else { 8 };
                let rate = measure::events(&t.sockets, source, clients, count)?;
                results.add(self.metrics()[0], kind, rate / 1e3);
            }
            Step::Memory => {
                if kind == Kind::Floor {
                    return Ok(());
                }
                // This instance has been through the event bursts; the
                // idle figures come from a fresh one.
                results.add(Metric::RssAfter, kind, mib(resident(t.pid())?));
                let sockets = if kind.is_qemu() { ctx.idle.max(8) } else { 1 };
                let fresh = Target::start(kind, ctx.program, ctx.dir, sockets)?;
                let (before, with) = measure::idle_resident(&fresh.sockets, fresh.pid(), ctx.idle)?;
                results.add(Metric::RssIdle, kind, mib(before));
                results.add(Metric::RssClients, kind, mib(with));
            }
            Step::FanoutPeak => {
                // QEMU serves one client per socket: 1,000 clients would
                // need 1,000 sockets, and its event figure is not a burst.
                if !kind.is_ours() {
                    return Ok(());
                }
                let f = ctx.fanout;
                let fresh = Target::start(kind, ctx.program, ctx.dir, 1)?;
                let peak = measure::fanout_peak(
                    fresh.socket(0),
                    fresh.pid(),
                    f.clients.saturating_sub(f.readers),
                    f.readers,
                    f.events,
                )?;
                results.add(Metric::FanoutPeak, kind, mib(peak));
            }
            Step::Wakeups => {
                // The floor is no server of interest; QEMU pc -S is left
                // out for time (QEMU none is the reference).
                if !(kind.is_ours() || kind == Kind::QemuNone) {
                    return Ok(());
                }
                let fresh = Target::start_as(kind, ctx.program, ctx.dir, 1, Setup::Quiet)?;
                let rate = idle::wakeups(fresh.pid(), plan.wakeup_window)?;
                results.add(Metric::Wakeups, kind, rate);
            }
            Step::GuestCpu => {
                if kind != Kind::Refvmm {
                    return Ok(());
                }
                let serial = ctx.dir.join("refvmm.serial");
                let mut fresh =
                    Target::start_as(kind, ctx.program, ctx.dir, 1, Setup::GuestRunning(serial))?;
                fresh.wait_serial(BANNER)?;
                let percent = idle::cpu_percent(fresh.pid(), plan.cpu_window)?;
                results.add(Metric::GuestCpu, kind, percent);
            }
            Step::ProbeMessage | Step::ProbeTabs => {
                // QEMU reads its monitors a byte per main-loop turn: a
                // 1 MiB message takes it 5 s here, 60 MiB would take
                // minutes (see the README).
                if !kind.is_ours() {
                    return Ok(());
                }
                let (setup, attack) = match self {
                    Step::ProbeMessage => (Setup::Bench, Attack::Message(plan.message)),
                    _ => (
                        Setup::HumanMonitor(ctx.dir.join(format!("{}-hmp.sock", kind.key()))),
                        Attack::TabStorm(plan.tabs),
                    ),
                };
                let fresh = Target::start_as(kind, ctx.program, ctx.dir, 1, setup)?;
                let hmp = match &fresh.setup {
                    Setup::HumanMonitor(p) => Some(p.as_path()),
                    _ => None,
                };
                let samples = attack::probe_under(fresh.socket(0), hmp, attack, plan.attacks)?;
                let p99 = percentile(&samples, 99.0).unwrap_or(f64::NAN);
                results.add(self.metrics()[0], kind, p99);
            }
        }
        Ok(())
    }
}

/// Bytes in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20)
}
