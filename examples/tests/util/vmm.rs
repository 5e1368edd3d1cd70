//! The reference VMM as a child process, for the KVM integration tests.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use monitor_core::client::Client;

/// Failure guard for every wait; the guest runs at about a million
/// instructions a second here, so boots take a fraction of a second.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub fn kvm_available() -> bool {
    let ok = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !ok {
        assert!(
            std::env::var("CI").unwrap_or_default().is_empty(),
            "/dev/kvm is required in CI"
        );
        eprintln!("SKIPPED: /dev/kvm not available; refvmm tests not run");
    }
    ok
}

/// A refvmm process with its QMP socket and serial log; killed on drop.
pub struct Vmm {
    pub child: Child,
    pub qmp: PathBuf,
    pub serial: PathBuf,
}

impl Vmm {
    pub fn start(extra: &[&str]) -> Vmm {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir();
        let qmp = dir.join(format!("refvmm-{}-{n}.qmp", std::process::id()));
        let serial = dir.join(format!("refvmm-{}-{n}.serial", std::process::id()));
        let _ = std::fs::remove_file(&serial);
        let child = Command::new(env!("CARGO_BIN_EXE_refvmm"))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start refvmm");
        Vmm { child, qmp, serial }
    }

    pub fn client(&mut self) -> Client {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(mut c) = Client::connect_unix(&self.qmp) {
                c.set_timeout(TIMEOUT);
                c.negotiate().expect("negotiate");
                return c;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("refvmm exited early: {status}");
            }
            assert!(Instant::now() < deadline, "refvmm does not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn serial(&self) -> String {
        std::fs::read_to_string(&self.serial).unwrap_or_default()
    }

    /// Waits until the serial output satisfies `cond` (polling the file:
    /// there is nothing to wait on).
    pub fn wait_serial(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        self.wait_serial_for(TIMEOUT, what, cond)
    }

    /// [`wait_serial`](Self::wait_serial) with another failure guard.
    pub fn wait_serial_for(
        &self,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.serial();
            if cond(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; serial:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll refvmm") {
                return status;
            }
            assert!(Instant::now() < deadline, "refvmm did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Vmm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.serial);
        let _ = std::fs::remove_file(&self.qmp);
    }
}

pub fn heartbeats(serial: &str) -> usize {
    serial
        .lines()
        .filter(|l| l.starts_with("heartbeat "))
        .count()
}

pub const BANNER: &str = "refvmm firmware: booted in long mode";

/// The CPU time (user and system, all threads, those ended included) that
/// process `pid` has used, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // The command name, field 2, is in parentheses and may hold anything:
    // the fields after the last `)` start with field 3 (state).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("a parenthesised command name")
        .1
        .split_whitespace()
        .collect();
    let field = |n: usize| -> u64 { fields[n - 3].parse().expect("a clock tick count") };
    let ticks = field(14) + field(15); // utime, stime
    Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// Runs `command` to completion with stdin on /dev/null and its output
/// captured, failing the test (after killing it) if it runs past
/// [`TIMEOUT`]: a refused option must end the process, not hang the test.
pub fn output_within(command: &mut Command) -> std::process::Output {
    use std::io::Read;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the process");
    let mut pipes = (child.stdout.take(), child.stderr.take());
    let readers = [
        pipes.0.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        pipes.1.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the process") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

/// Sends SIGKILL to a process (a daemon the test did not start itself)
/// when dropped, so that a failing test leaves nothing running.
pub struct KillOnDrop(pub i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.0) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}
