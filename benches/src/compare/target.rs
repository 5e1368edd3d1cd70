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

    /// The command line after the program, for the sockets given, as the
    /// long-running servers are started ([`Setup::Bench`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::compare::target::Kind;
    /// use std::path::PathBuf;
    ///
    /// let args = Kind::Minimal.args(&[PathBuf::from("/tmp/m.sock")]);
    /// assert_eq!(args[args.len() - 1], "unix:/tmp/m.sock,server=on,wait=off");
    /// ```
    pub fn args(self, sockets: &[PathBuf]) -> Vec<String> {
        self.args_for(sockets, &Setup::Bench)
    }

    /// The command line after the program, for the sockets given, started
    /// as `setup` says.
    ///
    /// # Examples
    ///
    /// ```
    /// use benches::compare::target::{Kind, Setup};
    /// use std::path::PathBuf;
    ///
    /// let qmp = [PathBuf::from("/tmp/r.sock")];
    /// let args = Kind::Refvmm.args_for(&qmp, &Setup::GuestRunning(PathBuf::from("/tmp/r.serial")));
    /// assert!(!args.contains(&"-S".to_owned()));
    /// assert!(args.contains(&"file:/tmp/r.serial".to_owned()));
    /// let args = Kind::Minimal.args_for(&qmp, &Setup::Quiet);
    /// assert!(args.windows(2).any(|w| w == ["-x-heartbeat", "0"]));
    /// ```
    pub fn args_for(self, sockets: &[PathBuf], setup: &Setup) -> Vec<String> {
        let mut args: Vec<String> = match self {
            Kind::Floor => vec!["--serve-floor".into(), sockets[0].display().to_string()],
            // The idle-client figures connect far more clients than the
            // default limit of 128 per listener.
            Kind::Minimal => vec!["--max-clients".into(), MAX_CLIENTS.into()],
            Kind::Refvmm => {
                let mut v: Vec<String> = match setup {
                    Setup::GuestRunning(serial) => {
                        vec!["-serial".into(), format!("file:{}", serial.display())]
                    }
                    _ => vec!["-S".into(), "-serial".into(), "null".into()],
                };
                v.extend(["--max-clients".into(), MAX_CLIENTS.into()]);
                v
            }
            Kind::QemuNone => qemu(&["-machine", "none"]),
            Kind::QemuPc => match setup {
                Setup::GuestRunning(_) => qemu(&["-M", "pc"]),
                _ => qemu(&["-M", "pc", "-S"]),
            },
        };
        if self == Kind::Floor {
            return args;
        }
        match setup {
            Setup::Quiet if self == Kind::Minimal => {
                args.extend(["-x-heartbeat".into(), "0".into()]);
            }
            Setup::HumanMonitor(path) => {
                args.push("-monitor".into());
                args.push(format!("unix:{},server=on,wait=off", path.display()));
            }
            _ => {}
        }
        for s in sockets {
            args.push("-qmp".into());
            args.push(format!("unix:{},server=on,wait=off", s.display()));
        }
        args
    }
}

/// How a server is started, besides its QMP sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// As the long-running servers: ours with room for 100,000 clients,
    /// `refvmm` paused before boot (`-S`) with its serial port on `null`,
    /// `minimal` with its `HEARTBEAT` event every second.
    Bench,
    /// Nothing periodic of the example's own: `minimal` without its
    /// heartbeat (`-x-heartbeat 0`); the others as [`Setup::Bench`]
    /// (`refvmm` has no such event).
    Quiet,
    /// A human monitor too, on this socket (`-monitor unix:PATH,...`).
    HumanMonitor(PathBuf),
    /// The guest runs: `refvmm` without `-S`, its serial port written to
    /// this file (QEMU `pc` without `-S`); no effect on the others, which
    /// have no guest.
    GuestRunning(PathBuf),
}

impl Setup {
    /// The socket or file this setup adds, if any.
    pub fn file(&self) -> Option<&PathBuf> {
        match self {
            Setup::Bench | Setup::Quiet => None,
            Setup::HumanMonitor(p) | Setup::GuestRunning(p) => Some(p),
        }
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
    /// How it was started.
    pub setup: Setup,
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
        Target::start_as(kind, program, dir, sockets, Setup::Bench)
    }

    /// [`start`](Self::start) as `setup` says; with a human monitor, waits
    /// for its socket too. The setup's socket or file is removed on drop.
    ///
    /// # Errors
    ///
    /// As [`start`](Self::start).
    pub fn start_as(
        kind: Kind,
        program: &Path,
        dir: &Path,
        sockets: usize,
        setup: Setup,
    ) -> io::Result<Target> {
        let paths: Vec<PathBuf> = (0..sockets.max(1))
            .map(|i| dir.join(format!("{}-{i}.sock", kind.key())))
            .collect();
        for p in paths.iter().chain(setup.file()) {
            let _ = std::fs::remove_file(p);
        }
        let stderr = dir.join(format!("{}.stderr", kind.key()));
        let mut command = Command::new(program);
        super::sys::kill_with_parent(&mut command);
        let child = command
            .args(kind.args_for(&paths, &setup))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?)
            .spawn()?;
        let mut target = Target {
            kind,
            sockets: paths,
            setup,
            child,
            stderr,
        };
        let mut wait: Vec<PathBuf> = vec![target.sockets[target.sockets.len() - 1].clone()];
        if let Setup::HumanMonitor(hmp) = &target.setup {
            wait.push(hmp.clone());
        }
        let deadline = Instant::now() + START_LIMIT;
        while !wait.iter().all(|p| p.exists()) {
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

    /// Waits until the guest's serial output (the file of
    /// [`Setup::GuestRunning`]) contains `text`, polling it every 10 ms:
    /// there is nothing to block on.
    ///
    /// # Errors
    ///
    /// Not started with a serial file, the process exited, or `text` did
    /// not appear within [`START_LIMIT`] (the output so far is quoted).
    pub fn wait_serial(&mut self, text: &str) -> io::Result<()> {
        let Setup::GuestRunning(serial) = &self.setup else {
            return Err(io::Error::other(
                "no serial output: the guest was not started",
            ));
        };
        let serial = serial.clone();
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let seen = std::fs::read_to_string(&serial).unwrap_or_default();
            if seen.contains(text) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "exited ({status}) before the guest printed {text:?}: {}",
                    self.stderr_text()
                )));
            }
            if Instant::now() >= deadline {
                let shown: String = seen.chars().take(200).collect();
                return Err(io::Error::other(format!(
                    "the guest did not print {text:?} within {START_LIMIT:?}; serial: {shown:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
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
        for p in self.sockets.iter().chain(self.setup.file()) {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_file(&self.stderr);
    }
}
