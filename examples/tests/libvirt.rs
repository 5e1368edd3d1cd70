//! An unmodified libvirtd (Debian 12's libvirt 9.0, QEMU driver) manages
//! refvmm end to end through virsh: the capability probe, start, the pty
//! console, suspend and resume, dominfo and domstats, HMP through
//! `qemu-monitor-command`, the balloon, reset, reboot, shutdown, destroy,
//! and a libvirtd restart with the domain running.
//!
//! libvirtd runs privately (`examples/libvirt/libvirt-env`: a mount
//! namespace over its directories, as root, without systemd). The test
//! prints SKIPPED where that cannot be (not root, libvirt not installed,
//! no /dev/kvm) and fails instead under `CI`.

mod util;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use util::vmm::{kvm_available, output_within, BANNER};

/// virsh steps and state changes wait at most this long.
const STEP: Duration = Duration::from_secs(60);

fn env_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("libvirt/libvirt-env")
}

/// Whether libvirtd can run here; says SKIPPED (or fails under CI) if not.
fn libvirt_available() -> bool {
    let root = rustix::process::geteuid().is_root();
    let installed =
        Path::new("/usr/sbin/libvirtd").exists() && Path::new("/usr/bin/virsh").exists();
    if root && installed {
        return kvm_available();
    }
    let why = if root {
        "libvirt is not installed (apt-get install libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)"
    } else {
        "libvirtd needs root"
    };
    assert!(
        std::env::var("CI").unwrap_or_default().is_empty(),
        "{why}: CI must run the libvirt test"
    );
    eprintln!("SKIPPED: {why}; libvirt test not run");
    false
}

/// The private libvirtd, stopped (by PID) when dropped.
struct Libvirt {
    dir: PathBuf,
}

impl Libvirt {
    fn start() -> Libvirt {
        let dir = std::env::temp_dir().join(format!("libvirt-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = output_within(Command::new(env_script()).arg("up").arg(&dir));
        let libvirt = Libvirt { dir };
        assert!(
            out.status.success(),
            "libvirtd did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        libvirt
    }

    /// Runs `virsh ARGS` in the namespace; returns its stdout.
    fn virsh(&self, args: &[&str]) -> String {
        let out = self.try_virsh(args);
        assert!(
            out.0,
            "virsh {args:?} failed: {}\nlibvirtd errors:\n{}",
            out.2,
            self.log_errors()
        );
        out.1
    }

    fn try_virsh(&self, args: &[&str]) -> (bool, String, String) {
        let out = output_within(
            Command::new(env_script())
                .arg("run")
                .arg(&self.dir)
                .args(["virsh", "-c", "qemu:///system"])
                .args(args),
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `virsh domstate --reason`, trimmed: "running (booted)".
    fn state(&self, domain: &str) -> String {
        self.virsh(&["domstate", "--reason", domain])
            .trim()
            .to_owned()
    }

    /// Waits until the domain's state is `want`: "running (booted)", or
    /// "running" for any reason.
    fn wait_state(&self, domain: &str, want: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let state = self.state(domain);
            if state == want || (!want.contains('(') && state.starts_with(&format!("{want} ("))) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{domain} is '{state}', not '{want}'\nlibvirtd errors:\n{}",
                self.log_errors()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn restart(&self) {
        let out = output_within(Command::new(env_script()).arg("restart").arg(&self.dir));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log/libvirtd.log")).unwrap_or_default()
    }

    /// libvirtd's errors, less those about what this private setup lacks
    /// on purpose (no cgroups, D-Bus, dnsmasq, firmware tables).
    fn log_errors(&self) -> String {
        const EXPECTED: [&str; 9] = [
            "cgroup",
            "dbus",
            "DBus",
            "dnsmasq",
            "dmidecode",
            "/dev/mem",
            "udev",
            "virNetDevBridge",
            "firewall",
        ];
        self.log()
            .lines()
            .filter(|l| l.contains(" error : "))
            .filter(|l| !EXPECTED.iter().any(|e| l.contains(e)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Defines a domain from XML written to the private directory.
    fn define(&self, name: &str, xml: &str) {
        let path = self.dir.join(format!("{name}.xml"));
        std::fs::write(&path, xml).unwrap();
        self.virsh(&["define", path.to_str().unwrap()]);
    }
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        let _ = output_within(Command::new(env_script()).arg("down").arg(&self.dir));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A balloon as the domain XML asks for one.
#[derive(Clone, Copy)]
enum Balloon {
    /// `<memballoon model='none'/>`.
    None,
    /// `<memballoon model='virtio'/>`.
    Virtio,
    /// No `<memballoon>` element: libvirt adds its default, a virtio one.
    Default,
}

fn domain_xml(name: &str, uuid: &str, balloon: bool) -> String {
    let balloon = if balloon {
        Balloon::Virtio
    } else {
        Balloon::None
    };
    domain_xml_with(name, uuid, 1, true, balloon)
}

fn domain_xml_with(name: &str, uuid: &str, vcpus: u32, serial: bool, balloon: Balloon) -> String {
    let balloon = match balloon {
        Balloon::None => "<memballoon model='none'/>",
        Balloon::Virtio => "<memballoon model='virtio'/>",
        Balloon::Default => "",
    };
    let serial = if serial { "<serial type='pty'/>" } else { "" };
    format!(
        "<domain type='kvm'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>{vcpus}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <cpu mode='host-passthrough'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>{}</emulator>
    <controller type='usb' model='none'/>
    {serial}
    {balloon}
  </devices>
</domain>",
        env!("CARGO_BIN_EXE_refvmm")
    )
}

/// Reads the domain's pty console until `want` appears.
fn read_console(pty: &str, want: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(pty)
        .unwrap_or_else(|e| panic!("open {pty}: {e}"));
    let deadline = Instant::now() + STEP;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains(want) {
        assert!(Instant::now() < deadline, "no {want:?} on {pty}: {text:?}");
        match file.read(&mut buf) {
            Ok(n) if n > 0 => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    text
}

#[test]
fn libvirt_manages_refvmm() {
    if !libvirt_available() {
        return;
    }
    let lv = Libvirt::start();

    // define runs the capability probe.
    lv.define(
        "rvm",
        &domain_xml("rvm", "6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a02", false),
    );
    assert_eq!(lv.state("rvm"), "shut off (unknown)");
    let log = lv.log();
    let failed = log
        .lines()
        .filter(|l| l.contains("Failed to probe capabilities"))
        .count();
    assert_eq!(failed, 0, "{}", lv.log_errors());

    lv.virsh(&["start", "rvm"]);
    lv.wait_state("rvm", "running (booted)");
    let pty = lv.virsh(&["ttyconsole", "rvm"]).trim().to_owned();
    assert!(pty.starts_with("/dev/pts/"), "{pty}");
    read_console(&pty, "heartbeat");

    lv.virsh(&["suspend", "rvm"]);
    lv.wait_state("rvm", "paused (user)");
    lv.virsh(&["resume", "rvm"]);
    lv.wait_state("rvm", "running (unpaused)");

    let info = lv.virsh(&["dominfo", "rvm"]);
    assert!(info.contains("State:          running"), "{info}");
    assert!(info.contains("CPU(s):         1"), "{info}");
    let stats = lv.virsh(&["domstats", "rvm"]);
    assert!(stats.contains("state.state=1"), "{stats}");
    let hmp = lv.virsh(&["qemu-monitor-command", "--hmp", "rvm", "info status"]);
    assert_eq!(hmp.trim(), "VM status: running");

    // Reset, then reboot (the guest powers off; -no-shutdown keeps the
    // process, libvirt resets and continues it).
    lv.virsh(&["reset", "rvm"]);
    lv.wait_state("rvm", "running (unpaused)");
    read_console(&pty, BANNER);
    // libvirt keeps the reason it had ("unpaused" here) across the fake
    // reboot, as it does with QEMU.
    lv.virsh(&["reboot", "rvm"]);
    read_console(&pty, BANNER);
    lv.wait_state("rvm", "running");
    let before = lv.state("rvm");

    // libvirtd restarts; the domain runs on and is found again, in the
    // same state.
    lv.restart();
    lv.wait_state("rvm", &before);
    let hmp = lv.virsh(&["qemu-monitor-command", "--hmp", "rvm", "info status"]);
    assert_eq!(hmp.trim(), "VM status: running");

    lv.virsh(&["shutdown", "rvm"]);
    lv.wait_state("rvm", "shut off (shutdown)");
    lv.virsh(&["start", "rvm"]);
    lv.wait_state("rvm", "running (booted)");
    lv.virsh(&["destroy", "rvm"]);
    lv.wait_state("rvm", "shut off (destroyed)");

    // A domain with a balloon: setmem goes through `balloon`.
    lv.define(
        "rvmb",
        &domain_xml("rvmb", "6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a03", true),
    );
    lv.virsh(&["start", "rvmb"]);
    lv.wait_state("rvmb", "running (booted)");
    lv.virsh(&["setmem", "rvmb", "65536"]);
    let deadline = Instant::now() + STEP;
    loop {
        let stats = lv.virsh(&["dommemstat", "rvmb"]);
        if stats.contains("actual 65536") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the balloon did not reach 64 MiB: {stats}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    lv.virsh(&["destroy", "rvmb"]);
    lv.wait_state("rvmb", "shut off (destroyed)");

    // Two vCPUs, with and without a serial port, with libvirt's default
    // balloon: each starts, runs and shuts down cleanly.
    for (name, uuid, serial) in [
        ("rvm2s", "6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a04", true),
        ("rvm2", "6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a05", false),
    ] {
        lv.define(
            name,
            &domain_xml_with(name, uuid, 2, serial, Balloon::Default),
        );
        lv.virsh(&["start", name]);
        lv.wait_state(name, "running (booted)");
        let info = lv.virsh(&["dominfo", name]);
        assert!(info.contains("CPU(s):         2"), "{info}");
        let vcpus = lv.virsh(&["vcpuinfo", name]);
        assert_eq!(
            vcpus.matches("State:          running").count(),
            2,
            "{vcpus}"
        );
        assert!(lv
            .virsh(&["dumpxml", name])
            .contains("<memballoon model='virtio'"));
        lv.virsh(&["shutdown", name]);
        lv.wait_state(name, "shut off (shutdown)");
    }

    let errors = lv.log_errors();
    assert!(errors.is_empty(), "libvirtd logged errors:\n{errors}");
}
