//! QEMU's process options: `-daemonize` and `-pidfile`.
//!
//! libvirt's capability probe runs the emulator with `-daemonize -pidfile
//! PATH` and waits for the process to exit 0 *and* for end-of-file on its
//! stderr; then it reads the pidfile and connects to the QMP socket. So
//! the parent must exit only once the daemon's listeners are bound and the
//! pidfile is written, and a daemon that fails before that must make the
//! parent exit non-zero with the reason on stderr.
//!
//! QEMU forks. A fork copies one thread of a multi-threaded process and
//! needs `unsafe`; instead the parent runs the same binary again (without
//! `-daemonize`, in a process group of its own, stdin on `/dev/null`),
//! with its stdout and stderr on pipes to the parent:
//!
//! - the daemon says [`Daemon::ready`] once everything is set up: it
//!   writes one line on its stdout, then points stdout and stderr at
//!   `/dev/null`, which closes both pipes;
//! - the parent copies what the daemon writes on stderr to its own stderr
//!   (QEMU's messages, such as `char device redirected to ...`); it exits
//!   0 when the daemon was ready and both pipes reached end-of-file, or
//!   with the daemon's status (1 if it had none) when the daemon exited
//!   before it was ready.
//!
//! No thread exists in the parent before the daemon is started, and the
//! daemon is a fresh process: the "no thread may exist at the fork" rule
//! holds by construction.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use thiserror::Error;

/// Set in the daemon's environment: it is the daemon half.
const DAEMON_ENV: &str = "EXAMPLES_DAEMON_CHILD";
/// What the daemon writes on its stdout when it is ready.
const READY_LINE: &str = "ready";

/// Errors of the process options.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The daemon could not be started.
    #[error("cannot start the daemon")]
    Spawn(#[source] io::Error),
    /// The pidfile could not be written.
    #[error("cannot write pidfile {}", path.display())]
    Pidfile {
        /// The pidfile.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another process holds the pidfile's lock (QEMU's words).
    #[error("cannot create PID file: Cannot lock pid file: {source}")]
    PidfileInUse {
        /// Why the lock was refused.
        #[source]
        source: io::Error,
    },
    /// The daemon's stdio could not be redirected.
    #[error("cannot detach the daemon's stdio")]
    Detach(#[source] io::Error),
}

/// Runs the parent half of `-daemonize` when `args` (without the program
/// name) contain it: starts the daemon and returns the parent's exit code
/// once the daemon is ready or has failed. Returns `None` when there is
/// nothing to do here (no `-daemonize`, or this is the daemon itself).
///
/// # Examples
///
/// ```no_run
/// let args: Vec<String> = std::env::args().skip(1).collect();
/// if let Some(code) = examples::daemon::parent(&args) {
///     std::process::exit(if code == std::process::ExitCode::SUCCESS { 0 } else { 1 });
/// }
/// ```
pub fn parent(args: &[String]) -> Option<ExitCode> {
    if std::env::var_os(DAEMON_ENV).is_some() || !args.iter().any(|a| a == "-daemonize") {
        return None;
    }
    Some(match run_parent(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", crate::cli::error_chain(&e));
            ExitCode::from(1)
        }
    })
}

fn run_parent(args: &[String]) -> Result<ExitCode, DaemonError> {
    let exe = std::env::current_exe().map_err(DaemonError::Spawn)?;
    let rest: Vec<OsString> = args
        .iter()
        .filter(|a| *a != "-daemonize")
        .map(OsString::from)
        .collect();
    let mut child = Command::new(exe)
        .args(rest)
        .env(DAEMON_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(DaemonError::Spawn)?;
    let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(DaemonError::Spawn(io::Error::other("no pipes")));
    };
    // The daemon's messages reach whoever started us, until it detaches.
    let copier = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut out = io::stderr();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut line = String::new();
    let ready = BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == READY_LINE;
    // End-of-file on the daemon's stderr: it detached, or it is gone.
    let _ = copier.join();
    if ready {
        return Ok(ExitCode::SUCCESS);
    }
    let status = child.wait().map_err(DaemonError::Spawn)?;
    let code = status
        .code()
        .and_then(|c| u8::try_from(c).ok())
        .unwrap_or(1);
    Ok(ExitCode::from(if code == 0 { 1 } else { code }))
}

/// The daemon half, or a process that was not daemonized.
#[derive(Debug)]
pub struct Daemon {
    daemonized: bool,
}

impl Daemon {
    /// What this process is: the daemon started by [`parent`], or a
    /// process in the foreground.
    pub fn current() -> Self {
        Daemon {
            daemonized: std::env::var_os(DAEMON_ENV).is_some(),
        }
    }

    /// Whether this is the daemon.
    pub fn is_daemon(&self) -> bool {
        self.daemonized
    }

    /// Tells the parent that the daemon is set up (listeners bound, pidfile
    /// written), then detaches: stdout and stderr go to `/dev/null`, so the
    /// parent sees end-of-file and exits 0. Does nothing in the foreground.
    ///
    /// # Errors
    ///
    /// [`DaemonError::Detach`].
    pub fn ready(&self) -> Result<(), DaemonError> {
        if !self.daemonized {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        writeln!(out, "{READY_LINE}")
            .and_then(|()| out.flush())
            .map_err(DaemonError::Detach)?;
        let null = OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .map_err(DaemonError::Detach)?;
        rustix::stdio::dup2_stdout(&null).map_err(|e| DaemonError::Detach(e.into()))?;
        rustix::stdio::dup2_stderr(&null).map_err(|e| DaemonError::Detach(e.into()))?;
        Ok(())
    }
}

/// A pidfile (`-pidfile PATH`): this process's ID, under an exclusive
/// lock held while the process lives (as QEMU's `qemu_write_pidfile`), and
/// removed when dropped.
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("pidfile-doc-{}", std::process::id()));
/// let pidfile = examples::daemon::Pidfile::create(&path).unwrap();
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n", std::process::id()));
/// // A second holder is refused while the first lives.
/// assert!(examples::daemon::Pidfile::create(&path).is_err());
/// drop(pidfile);
/// assert!(!path.exists());
/// ```
#[derive(Debug)]
pub struct Pidfile {
    path: PathBuf,
    /// Holds the lock.
    _file: File,
}

impl Pidfile {
    /// Locks and writes the pidfile.
    ///
    /// # Errors
    ///
    /// [`DaemonError::PidfileInUse`] when another process (or another
    /// `Pidfile` of this one) holds it, [`DaemonError::Pidfile`] when it
    /// cannot be written.
    pub fn create(path: &Path) -> Result<Self, DaemonError> {
        let failed = |source: io::Error| DaemonError::Pidfile {
            path: path.to_owned(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(failed)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| DaemonError::PidfileInUse { source: e.into() })?;
        file.set_len(0).map_err(failed)?;
        writeln!(file, "{}", std::process::id()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        Ok(Pidfile {
            path: path.to_owned(),
            _file: file,
        })
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
