//! The servers compared: what each is, how it is started, and its sockets.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
pub const START_LIMIT: Duration = Duration::from_secs(30);

/// Our servers' client limit per listener in every run (`--max-clients`).
pub const MAX_CLIENTS: &str = "100000";

/// One kind of server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The echo floor in this binary (`compare --serve-floor PATH`).
    Floor,
    /// `minimal`, this project's smallest embedding.
    Minimal,
    /// `refvmm -S`, the reference VMM (KVM), paused before boot.
    Refvmm,
    /// QEMU 7.2 `-machine none`.
    QemuNone,
    /// QEMU 7.2 `-M pc -S`.
    QemuPc,
}

/// Where events come from, for the event figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventSource {
    /// `x-bench-events` emits N `BENCH` events in one command.
    Bench,
    /// A `stop`/`cont` loop: one STOP and one RESUME per pair.
    StopCont,
}

impl Kind {
    /// Every kind, in the order of the table.
    pub const ALL: [Kind; 5] = [
        Kind::Floor,
        Kind::Minimal,
        Kind::Refvmm,
        Kind::QemuNone,
        Kind::QemuPc,
    ];

    /// The column heading.
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::compare::target::Kind;
    /// assert_eq!(Kind::QemuPc.label(), "QEMU pc -S");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::Minimal => "minimal",
            Kind::Refvmm => "refvmm -S",
            Kind::QemuNone => "QEMU none",
            Kind::QemuPc => "QEMU pc -S",
        }
    }

    /// The name `--only` takes.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Floor => "floor",
            Kind::Minimal => "minimal",
            Kind::Refvmm => "refvmm",
            Kind::QemuNone => "qemu-none",
            Kind::QemuPc => "qemu-pc",
        }
    }

    /// Whether it is this project's monitor.
    pub fn is_ours(self) -> bool {
        matches!(self, Kind::Minimal | Kind::Refvmm)
    }

    /// Whether it is QEMU (one client per socket: it gets one socket per
    /// client).
    pub fn is_qemu(self) -> bool {
        matches!(self, Kind::QemuNone | Kind::QemuPc)
    }

    /// How its event figures are made, if they are. The floor has no
    /// events; QEMU `pc -S` is left out because `cont` would boot its
    /// firmware under TCG, which would take a core from every other
    /// measurement.
    pub fn events(self) -> Option<EventSource> {
        match self {
            Kind::Minimal | Kind::Refvmm => Some(EventSource::Bench),
            Kind::QemuNone => Some(EventSource::StopCont),
            Kind::Floor | Kind::QemuPc => None,
        }
    }

    /// The command line after the program, for the sockets given.
    pub fn args(self, sockets: &[PathBuf]) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Kind::Floor => vec!["--serve-floor".into(), sockets[0].display().to_string()],
            // The idle-client figures connect far more clients than the
            // default limit of 128 per listener.
            Kind::Minimal => vec!["--max-clients".into(), MAX_CLIENTS.into()],
            Kind::Refvmm => vec![
                "-S".into(),
                "-serial".into(),
                "null".into(),
                "--max-clients".into(),
                MAX_CLIENTS.into(),
            ],
            Kind::QemuNone => qemu(&["-machine", "none"]),
            Kind::QemuPc => qemu(&["-M", "pc", "-S"]),
        };
        if self != Kind::Floor {
            for s in sockets {
                args.push("-qmp".into());
                args.push(format!("unix:{},server=on,wait=off", s.display()));
            }
        }
        args
    }
}

fn qemu(machine: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = machine.iter().map(|s| (*s).to_owned()).collect();
    for s in ["-accel", "tcg", "-display", "none", "-nodefaults"] {
        v.push(s.to_owned());
    }
    v
}

/// A running server; killed (and its sockets removed) on drop.
#[derive(Debug)]
pub struct Target {
    /// What it is.
    pub kind: Kind,
    /// Its sockets: one for ours and the floor, one per client for QEMU.
    pub sockets: Vec<PathBuf>,
    child: Child,
    stderr: PathBuf,
}

impl Target {
    /// Starts `program` as `kind` with `sockets` sockets in `dir`, and
    /// waits until the last one exists.
    ///
    /// # Errors
    ///
    /// The program could not be started, exited, or did not listen within
    /// [`START_LIMIT`] (its standard error is quoted).
    pub fn start(kind: Kind, program: &Path, dir: &Path, sockets: usize) -> io::Result<Target> {
        let paths: Vec<PathBuf> = (0..sockets.max(1))
            .map(|i| dir.join(format!("{}-{i}.sock", kind.key())))
            .collect();
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        let stderr = dir.join(format!("{}.stderr", kind.key()));
        let mut command = Command::new(program);
        super::sys::kill_with_parent(&mut command);
        let child = command
            .args(kind.args(&paths))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?)
            .spawn()?;
        let mut target = Target {
            kind,
            sockets: paths,
            child,
            stderr,
        };
        let deadline = Instant::now() + START_LIMIT;
        let last = target.sockets[target.sockets.len() - 1].clone();
        while !last.exists() {
            if let Some(status) = target.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited ({status}): {}",
                    program.display(),
                    target.stderr_text()
                )));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::other(format!(
                    "{} did not listen within {START_LIMIT:?}",
                    program.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(target)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The socket client `i` uses.
    pub fn socket(&self, i: usize) -> &Path {
        &self.sockets[i % self.sockets.len()]
    }

    /// What the process wrote to standard error (the first 500 bytes).
    pub fn stderr_text(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        text.chars().take(500).collect::<String>().trim().to_owned()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in &self.sockets {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// The resident set of a process, in bytes (`VmRSS` of
/// `/proc/PID/status`).
///
/// # Errors
///
/// The file could not be read or has no `VmRSS` line.
///
/// # Examples
///
/// ```
/// let rss = benches::compare::target::resident(std::process::id()).unwrap();
/// assert!(rss > 0);
/// ```
pub fn resident(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS line"))
}
