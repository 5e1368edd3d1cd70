//! [`Minimal`]: the `minimal` example on a QMP socket of its own, for the
//! tests that drive one process directly.

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::STARTUP;

/// A fresh path in the temporary directory, unique to this process.
fn temp_path(tag: &str, ext: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("mc-py-{tag}-{}-{n}.{ext}", std::process::id()))
}

/// The `minimal` example, killed when dropped; its stderr goes to a file
/// that is shown when the test fails.
pub struct Minimal {
    child: Child,
    /// Where it listens.
    pub socket: PathBuf,
    log: PathBuf,
}

impl Minimal {
    /// Starts it on a fresh socket and waits until it accepts connections.
    pub fn spawn() -> Minimal {
        Self::spawn_with(&[], "debug")
    }

    /// [`spawn`](Self::spawn) with more options and a log level
    /// (`MONITOR_LOG`).
    pub fn spawn_with(options: &[&str], log_level: &str) -> Minimal {
        let mut minimal = Self::start(options, log_level);
        minimal.wait_listening();
        minimal
    }

    /// [`spawn_with`](Self::spawn_with) without waiting: no probing
    /// connection is made (so none can still be open when a test counts
    /// the process's descriptors); the first connection must retry until
    /// the socket exists.
    pub fn start(options: &[&str], log_level: &str) -> Minimal {
        Self::launch(
            Command::new(env!("CARGO_BIN_EXE_minimal")),
            options,
            log_level,
        )
    }

    /// [`start`](Self::start) under a soft and hard `RLIMIT_NOFILE` of
    /// `nofile`, set with `ulimit -n` in a shell that then `exec`s
    /// `minimal`: the real limit, read the way the monitor reads it.
    pub fn start_with_nofile(nofile: u32, options: &[&str], log_level: &str) -> Minimal {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(r#"ulimit -n "$1" && shift && exec "$@""#)
            .arg("sh")
            .arg(nofile.to_string())
            .arg(env!("CARGO_BIN_EXE_minimal"));
        Self::launch(shell, options, log_level)
    }

    /// Runs `command` (which runs `minimal`) with `options` and a QMP
    /// socket of its own, its stderr to a log file.
    fn launch(mut command: Command, options: &[&str], log_level: &str) -> Minimal {
        let socket = temp_path("solo", "sock");
        let log = temp_path("solo", "log");
        let child = command
            .args(options)
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", socket.display()))
            .env("MONITOR_LOG", log_level)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start minimal");
        Minimal { child, socket, log }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `timeout`) for the process to exit; its status, or
    /// `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll minimal") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll minimal").is_none()
    }

    /// Retries connecting until the socket accepts, or fails at the deadline.
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("poll minimal") {
                panic!("minimal exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "minimal did not listen on {} within {STARTUP:?}",
                self.socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Minimal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("--- minimal's stderr ---\n{log}");
        }
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(&self.log);
    }
}
