//! refvmm started the way libvirt 9.0 starts QEMU: the capability probe's
//! command line (`-daemonize`, `-pidfile`, `-machine none`) and a domain's
//! (an inherited listening monitor socket, a pty serial port, JSON
//! `-device`/`-object`, `-no-shutdown`), verbatim but for the temporary
//! paths. Skipped (with a message) only where /dev/kvm is missing.

mod util;

use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use monitor_core::client::Client;
use rustix::process::{kill_process, Pid, Signal};
use serde_json::json;
use util::vmm::{kvm_available, output_within, KillOnDrop, BANNER, TIMEOUT};

/// The fd number libvirt happened to use; any works.
const MONITOR_FD: i32 = 25;

/// A fresh temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("libvirt-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

/// libvirt 9.0's capability probe, verbatim but for the paths.
fn probe_line(socket: &Path, pidfile: &Path) -> String {
    format!(
        "-S -no-user-config -nodefaults -nographic -machine none,accel=kvm:tcg \
         -qmp unix:{},server=on,wait=off -pidfile {} -daemonize",
        socket.display(),
        pidfile.display()
    )
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn alive(pid: i32) -> bool {
    // A zombie (exited, not yet reaped by us) counts as gone.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn sigterm(pid: i32) {
    kill_process(Pid::from_raw(pid).unwrap(), Signal::TERM).unwrap();
}

fn client(path: &Path) -> Client {
    let mut c = Client::connect_unix(path).expect("connect");
    c.set_timeout(TIMEOUT);
    c.negotiate().expect("negotiate");
    c
}

#[test]
fn the_capability_probe_daemonizes_once_the_socket_accepts() {
    if !kvm_available() {
        return;
    }
    let dir = TempDir::new("probe");
    let (socket, pidfile) = (dir.path("qmp.monitor"), dir.path("qmp.pid"));
    let line = probe_line(&socket, &pidfile);
    let mut parent = Command::new(env!("CARGO_BIN_EXE_refvmm"))
        .args(args(&line))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // libvirt waits for end-of-file on stderr and for the exit status.
    let mut stderr = parent.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let text = rx
        .recv_timeout(TIMEOUT)
        .expect("stderr reaches end-of-file");
    let status = parent.wait().unwrap();
    assert!(status.success(), "{status}: {text}");

    // By then the socket accepts and the pidfile names the live daemon.
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = KillOnDrop(pid);
    assert_ne!(pid, i32::try_from(parent.id()).unwrap());
    assert!(alive(pid), "the daemon {pid} is not running");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe.file_name().unwrap(), "refvmm");
    let mut qmp = client(&socket);
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "prelaunch"
    );
    assert_eq!(
        qmp.execute("query-cpus-fast", json!({})).unwrap(),
        json!([])
    );

    // SIGTERM: SHUTDOWN host-signal, and the socket and pidfile go.
    sigterm(pid);
    let event = qmp.wait_event("SHUTDOWN").unwrap();
    assert_eq!(
        event["data"],
        json!({"guest": false, "reason": "host-signal"})
    );
    wait_until("the daemon to exit", || !alive(pid));
    wait_until("the socket and pidfile to go", || {
        !socket.exists() && !pidfile.exists()
    });
}

#[test]
fn minimal_takes_the_probe_command_line_too() {
    let dir = TempDir::new("probe-minimal");
    let (socket, pidfile) = (dir.path("qmp.monitor"), dir.path("qmp.pid"));
    let line = probe_line(&socket, &pidfile);
    let out = output_within(Command::new(env!("CARGO_BIN_EXE_minimal")).args(args(&line)));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = KillOnDrop(pid);
    let mut qmp = client(&socket);
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "prelaunch"
    );
    qmp.execute("cont", json!({})).unwrap();
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "running"
    );
    sigterm(pid);
    wait_until("minimal's socket and pidfile to go", || {
        !socket.exists() && !pidfile.exists() && !alive(pid)
    });
}

#[test]
fn a_failing_daemon_fails_the_parent_with_the_reason() {
    let dir = TempDir::new("probe-fail");
    // The socket's directory does not exist: binding fails in the daemon.
    let line = format!(
        "-S -nodefaults -machine none -qmp unix:{}/nowhere/qmp.monitor,server=on,wait=off \
         -pidfile {} -daemonize",
        dir.0.display(),
        dir.path("qmp.pid").display()
    );
    let out = output_within(Command::new(env!("CARGO_BIN_EXE_refvmm")).args(args(&line)));
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("nowhere/qmp.monitor"), "{text}");
    assert!(!dir.path("qmp.pid").exists());
}

/// A domain's refvmm, with its pty path from stderr.
struct Domain {
    child: Child,
    socket: PathBuf,
    pty: PathBuf,
    _dir: TempDir,
}

impl Domain {
    /// The minimal domain's command line, as libvirt 9.0 builds it for a
    /// `<domain type='kvm'>` with 128 MiB, one vCPU, machine `pc`, a pty
    /// serial port, no USB and no balloon.
    fn start() -> Domain {
        let dir = TempDir::new("domain");
        let socket = dir.path("monitor.sock");
        let key = dir.path("master-key.aes");
        std::fs::write(&key, [7u8; 32]).unwrap();
        let listener = UnixListener::bind(&socket).unwrap();
        let line = format!(
            r#"-name guest=lvq,debug-threads=on -S -object {{"qom-type":"secret","id":"masterKey0","format":"raw","file":"{key}"}} -machine pc,usb=off,dump-guest-core=off -accel kvm -m 128 -overcommit mem-lock=off -smp 1,sockets=1,cores=1,threads=1 -uuid 6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a01 -display none -no-user-config -nodefaults -chardev socket,id=charmonitor,fd={MONITOR_FD},server=on,wait=off -mon chardev=charmonitor,id=monitor,mode=control -rtc base=utc -no-shutdown -no-acpi -boot strict=on -chardev pty,id=charserial0 -device {{"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0}} -audiodev {{"id":"audio1","driver":"none"}} -msg timestamp=on"#,
            key = key.display()
        );
        let fd = OwnedFd::from(listener);
        let mut command = Command::new(env!("CARGO_BIN_EXE_refvmm"));
        command
            .args(args(&line))
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
            .fd_mappings(vec![FdMapping {
                parent_fd: fd,
                child_fd: MONITOR_FD,
            }])
            .unwrap();
        let mut child = command.spawn().unwrap();
        // "char device redirected to /dev/pts/N (label charserial0)"
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                for line in text.lines() {
                    if let Some(rest) = line.strip_prefix("char device redirected to ") {
                        if let Some(path) = rest.strip_suffix(" (label charserial0)") {
                            let _ = tx.send(PathBuf::from(path));
                        }
                    }
                }
            }
        });
        let pty = rx.recv_timeout(TIMEOUT).expect("the pty's path on stderr");
        Domain {
            child,
            socket,
            pty,
            _dir: dir,
        }
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the pty until `want` has arrived.
fn read_pty_until(pty: &mut std::fs::File, want: &str) -> String {
    let deadline = Instant::now() + TIMEOUT;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(want) {
        assert!(
            Instant::now() < deadline,
            "no {want:?} on the pty: {text:?}"
        );
        match pty.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(10)),
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("reading the pty: {e}"),
        }
    }
    text
}

fn open_pty(path: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(
            rustix::fs::OFlags::NONBLOCK.bits() as i32 | rustix::fs::OFlags::NOCTTY.bits() as i32,
        )
        .open(path)
        .unwrap()
}

#[test]
fn a_domain_serves_its_inherited_socket_and_pty() {
    if !kvm_available() {
        return;
    }
    let mut domain = Domain::start();
    let mut pty = open_pty(&domain.pty);
    // A greeting on the inherited socket, and a second client at once.
    let mut qmp = client(&domain.socket);
    let mut other = client(&domain.socket);
    assert_eq!(
        other.execute("query-status", json!({})).unwrap()["status"],
        "prelaunch"
    );
    drop(other);
    // A client that comes back (libvirtd restarting) is served again.
    let mut again = client(&domain.socket);
    assert_eq!(
        again.execute("query-name", json!({})).unwrap(),
        json!({"name": "lvq"})
    );
    qmp.execute("cont", json!({})).unwrap();
    qmp.wait_event("RESUME").unwrap();
    read_pty_until(&mut pty, BANNER);

    // SIGTERM: SHUTDOWN host-signal, exit 0; the socket is libvirt's and
    // stays.
    sigterm(domain.pid());
    let event = qmp.wait_event("SHUTDOWN").unwrap();
    assert_eq!(
        event["data"],
        json!({"guest": false, "reason": "host-signal"})
    );
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = domain.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "refvmm did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    assert!(domain.socket.exists());
}

#[test]
fn no_shutdown_keeps_the_process_after_the_guest_powers_off() {
    if !kvm_available() {
        return;
    }
    let domain = Domain::start();
    let mut pty = open_pty(&domain.pty);
    let mut qmp = client(&domain.socket);
    qmp.execute("cont", json!({})).unwrap();
    read_pty_until(&mut pty, BANNER);

    qmp.execute("system_powerdown", json!({})).unwrap();
    let event = qmp.wait_event("SHUTDOWN").unwrap();
    assert_eq!(
        event["data"],
        json!({"guest": true, "reason": "guest-shutdown"})
    );
    qmp.wait_event("STOP").unwrap();
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "shutdown"
    );
    assert!(alive(domain.pid()));

    // Reset and cont boot the firmware again.
    qmp.execute("system_reset", json!({})).unwrap();
    qmp.execute("cont", json!({})).unwrap();
    qmp.wait_event("RESUME").unwrap();
    read_pty_until(&mut pty, BANNER);
    assert_eq!(
        qmp.execute("query-status", json!({})).unwrap()["status"],
        "running"
    );
}

#[test]
fn options_refvmm_cannot_honour_fail_at_start() {
    for (line, says) in [
        ("-usb", "-usb: refvmm has no USB controller"),
        ("-cpu qemu64", "-cpu: CPU model 'qemu64' is not supported"),
        ("-machine q35", "-machine: unsupported machine type 'q35'"),
        ("-accel tcg", "-accel: accelerator 'tcg' is not available"),
        ("-device e1000", "'e1000' is not a valid device model name"),
        (
            "-chardev socket,id=m,path=/tmp/x,server=on,wait=off -mon chardev=nope",
            "-mon chardev=nope: chardev \"nope\" not found",
        ),
        ("-qmp unix:/tmp/x", "-qmp unix:/tmp/x"),
    ] {
        let out = output_within(Command::new(env!("CARGO_BIN_EXE_refvmm")).args(args(line)));
        assert_eq!(out.status.code(), Some(1), "{line}");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(says), "{line}: {text}");
    }
}
