//! The reference VMM: a small hypervisor on /dev/kvm that boots its own
//! firmware (or a Linux kernel) and is managed entirely through the monitor
//! (QMP and HMP).
//!
//! `refvmm -qmp unix:/tmp/refvmm.qmp,server=on,wait=off -monitor stdio -serial file:/tmp/serial.log`
//! `refvmm -kernel vmlinux -append 'console=ttyS0' -serial stdio`

mod balloon;
mod commands;
mod dumps;
mod hmp;
mod hmp_memory;
mod model;
mod options;
mod rtc;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use examples::cli::{self, CliError};
use examples::daemon::{Daemon, Pidfile};
use examples::pty::{Pty, PtyOutput};
use examples::qemu_cmdline::unsupported;
use examples::signals::HostSignals;
use examples::vmm::devices::{BALLOON_GSI, BALLOON_MMIO_BASE};
use examples::vmm::linux::{KernelBoot, LinuxError};
use examples::vmm::{Machine, MachineConfig, MachineEvent};
use monitor_core::machine::ChardevInfo;
use monitor_core::qemu_opts::{Backend, Chardev, MonitorOptions, SocketAddress};
use monitor_core::{Emitter, Monitor, Shutdown, ShutdownCause, QEMU_7_2};

use commands::{Reset, Vm};
use options::{DeviceSpec, Options};

const USAGE: &str = "\
usage: refvmm [options]          (QEMU's options, as libvirt passes them)
  -machine pc|none[,accel=kvm,usb=off,dump-guest-core=off,memory-backend=ID]
                     the PC-like machine (default), or none: only the monitor
  -accel kvm         the only accelerator
  -cpu host|max      the host's CPU, as KVM has it
  -m [size=]SIZE     guest RAM (MiB, or with K/M/G/T; default 128)
  -smp N[,sockets=S,cores=C,threads=T]   vCPUs (default 1; vCPU 0 runs the firmware)
  -kernel PATH       boot this Linux kernel (vmlinux or bzImage) instead of the firmware
  -append STRING     the kernel command line (default: see refvmm's README)
  -initrd PATH       the kernel's initial ramdisk
  -name [guest=]NAME[,debug-threads=on]   the VM name (query-name, info name)
  -uuid UUID         the VM UUID (query-uuid)
  -S                 start paused (status prelaunch); `cont` boots
  -qmp SPEC | -qmp-pretty SPEC        a QMP monitor (SPEC: unix:PATH,server=on,wait=off
                                      | tcp:HOST:PORT,server=on,wait=off)   (repeatable)
  -monitor stdio | SPEC               a human monitor                       (repeatable)
  -chardev socket,id=ID,path=P|host=H,port=N|fd=N,server=on,wait=off
  -chardev pty,id=ID | stdio,id=ID | file,id=ID,path=P | null,id=ID
  -mon chardev=ID[,mode=control|readline][,pretty=on]
  -serial stdio | pty | file:PATH | unix:PATH,server=on,wait=off | null | chardev:ID
                     COM1 (default stdio; none with -nodefaults)
  -device isa-serial,chardev=ID      COM1 on a chardev (JSON form too)
  -device virtio-balloon[-pci][,id=ID]   a virtio balloon (virtio-mmio at 0xd0000000, GSI 5)
  -object secret,... | memory-backend-ram,id=ID,size=N   (JSON form too)
  -no-reboot         shut down instead of rebooting when the guest resets
  -no-shutdown       when the guest powers off, stop and stay (system_reset, cont)
  -daemonize         detach once the monitors listen; -pidfile PATH writes the PID
  -nodefaults -no-user-config -nographic -display none -no-acpi -rtc base=utc
  -boot strict=on -overcommit mem-lock=off -audiodev driver=none -msg timestamp=on
                     accepted as QEMU takes them, for what they say of this machine
  --allow-uid UID    serve only this user on unix monitor sockets (repeatable)
  --max-clients N    clients per monitor listener (default 128)
  --negotiation-timeout SECONDS   to complete qmp_capabilities (default 30; 0: none)
  --max-fds N        descriptors a QMP session may hold named (default 64)
  --fd-budget N      descriptors the monitors hold for all clients (default: half of ulimit -n)
  --help             this text";

const FIRMWARE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/firmware.bin"));

/// The kernel to boot, if `-kernel` was given: its command line is
/// `-append`'s, else [`DEFAULT_CMDLINE`](examples::vmm::linux::DEFAULT_CMDLINE);
/// devices that the kernel must be told about add theirs with
/// [`KernelBoot::append_cmdline`].
fn kernel_boot(o: &Options) -> Result<Option<KernelBoot>, LinuxError> {
    let Some(path) = &o.kernel else {
        return Ok(None);
    };
    let mut kernel = KernelBoot::from_files(path, o.initrd.as_deref())?;
    if let Some(append) = &o.append {
        kernel.cmdline.clone_from(append);
    }
    Ok(Some(kernel))
}

/// A serial backend that serves one unix-socket client at a time; output
/// is dropped while nobody is connected.
struct SocketSerial(Arc<Mutex<Option<UnixStream>>>);

impl Write for SocketSerial {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut client) = self.0.lock() {
            if let Some(s) = client.as_mut() {
                if s.write_all(buf).is_err() {
                    *client = None;
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// COM1's backend: what it writes to, how `query-chardev`-like commands
/// name it, and where its input comes from.
struct Serial {
    out: Box<dyn Write + Send>,
    label: String,
    input: SerialInput,
    /// A unix socket file to remove at exit.
    socket: Option<PathBuf>,
}

enum SerialInput {
    None,
    Stdin,
    Pty(Pty),
}

/// COM1's chardev: `-device isa-serial,chardev=ID`, else the first
/// `-serial`, else stdio unless `-nodefaults` (QEMU's default serial port).
fn serial_chardev<'a>(
    o: &Options,
    monitors: &'a MonitorOptions,
) -> Result<Option<&'a Chardev>, CliError> {
    let device = o.devices.iter().find_map(|d| match d {
        DeviceSpec::IsaSerial { chardev, .. } => Some(chardev),
        DeviceSpec::Balloon { .. } => None,
    });
    let legacy = monitors.serials().next();
    match (device, legacy) {
        (Some(_), Some(_)) => Err(unsupported("-device isa-serial", "refvmm has one serial port, and -serial already takes it")),
        (Some(None), None) => Err(unsupported("-device isa-serial", "Property 'isa-serial.chardev' is required")),
        (Some(Some(id)), None) => match monitors.chardev(id) {
            Some(c) if !monitors.in_use(id) => Ok(Some(c)),
            Some(_) => Err(unsupported(&format!("-device isa-serial,chardev={id}"), format!("Property 'isa-serial.chardev' can't take value '{id}': Device '{id}' is in use"),
            )),
            None => Err(unsupported(&format!("-device isa-serial,chardev={id}"), format!("Property 'isa-serial.chardev' can't find value '{id}'"),
            )),
        },
        (None, Some(port)) => Ok(port),
        (None, None) => Ok(None),
    }
}

fn serial_backend(chardev: Option<&Chardev>, default_stdio: bool) -> io::Result<Serial> {
    let serial = |out: Box<dyn Write + Send>, label: String| Serial {
        out,
        label,
        input: SerialInput::None,
        socket: None,
    };
    let Some(chardev) = chardev else {
        return Ok(if default_stdio {
            Serial {
                input: SerialInput::Stdin,
                ..serial(Box::new(io::stdout()), "stdio".into())
            }
        } else {
            serial(Box::new(io::sink()), "null".into())
        });
    };
    Ok(match &chardev.backend {
        Backend::Stdio { .. } => Serial {
            input: SerialInput::Stdin,
            ..serial(Box::new(io::stdout()), "stdio".into())
        },
        Backend::Null => serial(Box::new(io::sink()), "null".into()),
        Backend::File { path, append } => {
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .append(*append)
                .truncate(!*append)
                .open(path)?;
            serial(Box::new(f), format!("file:{}", path.display()))
        }
        Backend::Pty => {
            let pty = Pty::open()?;
            pty.set_nonblocking()?;
            // QEMU's words; libvirt and people read the path here.
            eprintln!(
                "char device redirected to {} (label {})",
                pty.path(),
                chardev.id
            );
            let reader = pty.try_clone()?;
            Serial {
                input: SerialInput::Pty(reader),
                ..serial(
                    Box::new(PtyOutput(pty.try_clone()?)),
                    format!("pty:{}", pty.path()),
                )
            }
        }
        Backend::Socket(socket) => match (&socket.address, socket.server) {
            (SocketAddress::Unix(p), true) => {
                let _ = std::fs::remove_file(p);
                let listener = UnixListener::bind(p)?;
                let slot = Arc::new(Mutex::new(None));
                let accept_slot = Arc::clone(&slot);
                std::thread::spawn(move || {
                    for stream in listener.incoming().flatten() {
                        if let Ok(mut s) = accept_slot.lock() {
                            *s = Some(stream);
                        }
                    }
                });
                Serial {
                    socket: Some(p.clone()),
                    ..serial(
                        Box::new(SocketSerial(slot)),
                        format!("unix:{},server=on", p.display()),
                    )
                }
            }
            _ => {
                return Err(io::Error::other(format!(
                    "chardev '{}': refvmm's serial port takes a unix socket server only",
                    chardev.id
                )))
            }
        },
        _ => {
            return Err(io::Error::other(format!(
                "chardev '{}': backend not supported for the serial port",
                chardev.id
            )))
        }
    })
}

/// What a guest's power-off (or reset under `-no-reboot`) does.
#[derive(Debug, Clone, Copy)]
struct Exits {
    /// `-no-reboot`: a guest reset shuts the machine down instead.
    no_reboot: bool,
    /// `-no-shutdown`: a shut-down machine stays, stopped, until
    /// `system_reset` and `cont` (or `quit`).
    no_shutdown: bool,
}

impl Exits {
    /// After `SHUTDOWN`: QEMU's shutdown action `pause` stops the VM (the
    /// vCPUs already are) and says `STOP`; `poweroff` ends the process.
    fn after_shutdown(self, emitter: &Emitter, monitor: &Monitor) {
        if self.no_shutdown {
            emitter.emit(commands::Stop);
        } else {
            monitor.shutdown();
        }
    }
}

/// Turns what the guest does into events, and exits the process when the
/// guest powers off (or resets under -no-reboot), as QEMU does; under
/// `-no-shutdown` the process stays, the machine stopped in `shutdown`.
fn watch_machine(
    machine: Arc<Machine>,
    emitter: Emitter,
    monitor: Arc<Monitor>,
    exits: Exits,
    rtc_sets: rtc::RtcSets,
) {
    let Some(events) = machine.take_events() else {
        return;
    };
    let rtc_path = rtc::qom_path(machine.vcpu_count());
    std::thread::spawn(move || {
        for event in events {
            match event {
                MachineEvent::ResetRequested { .. } if exits.no_reboot => {
                    emitter.emit(Shutdown {
                        guest: true,
                        reason: ShutdownCause::GuestReset,
                    });
                    let _ = machine.shutdown();
                    exits.after_shutdown(&emitter, &monitor);
                }
                MachineEvent::ResetRequested { .. } => {
                    emitter.emit(Reset {
                        guest: true,
                        reason: "guest-reset",
                    });
                    if let Err(e) = machine.reset() {
                        log::error!("guest reset failed: {e}");
                    }
                }
                MachineEvent::PoweredOff { .. } => {
                    emitter.emit(Shutdown {
                        guest: true,
                        reason: ShutdownCause::GuestShutdown,
                    });
                    exits.after_shutdown(&emitter, &monitor);
                }
                MachineEvent::RtcChange { offset } => {
                    rtc_sets.count();
                    emitter.emit(rtc::RtcChange {
                        offset,
                        qom_path: rtc_path.clone(),
                    });
                }
                MachineEvent::BalloonChange { actual } => {
                    emitter.emit(balloon::BalloonChange { actual });
                }
                MachineEvent::InternalError { vcpu, message } => {
                    log::error!("vCPU {vcpu}: {message}");
                }
            }
        }
    });
}

fn main() -> ExitCode {
    cli::main("refvmm", USAGE, options::parse, run)
}

fn run(mut o: Options) -> Result<(), Box<dyn std::error::Error>> {
    cli::set_msg_timestamp(o.common.msg_timestamp);
    let daemon = Daemon::current();
    let monitors = std::mem::take(&mut o.monitors).finish()?;
    for warning in monitors.warnings() {
        cli::report("refvmm", warning);
    }
    let hmp = monitor_hmp::Hmp::new();
    let (builder, served) = examples::monitors::serve(Monitor::builder(), &monitors, &hmp)?;
    let no_guest = o.common.machine.as_deref() == Some("none");
    let chardev = serial_chardev(&o, &monitors)?;
    let serial_stdio = chardev.is_some_and(|c| matches!(c.backend, Backend::Stdio { .. }));
    o.common
        .check(daemon.is_daemon(), served.hmp_stdio || serial_stdio)?;
    // QEMU's default serial port is on the terminal, unless -nodefaults;
    // a daemon has no terminal.
    let default_serial = !o.common.nodefaults && !no_guest && !daemon.is_daemon();
    if served.hmp_stdio && chardev.is_none() && default_serial {
        return Err("cannot use stdio by multiple character devices (add -serial file:PATH, -serial null or -nodefaults)".into());
    }
    let balloon = o
        .devices
        .iter()
        .any(|d| matches!(d, DeviceSpec::Balloon { .. }));
    let (machine, serial_label, serial_input, serial_socket) = if no_guest {
        if balloon || chardev.is_some() || o.kernel.is_some() {
            return Err("-machine none has no guest: no devices, no -kernel".into());
        }
        (None, "none".to_owned(), SerialInput::None, None)
    } else {
        let serial = serial_backend(chardev, default_serial)?;
        let mut config = MachineConfig::new(FIRMWARE, serial.out);
        config.mem_size = o.mem;
        config.vcpus = o.smp;
        config.balloon = balloon;
        config.kernel = kernel_boot(&o)?;
        if let (Some(kernel), true) = (config.kernel.as_mut(), balloon) {
            // Linux finds virtio-mmio devices only on its command line.
            kernel.append_cmdline(&format!(
                "virtio_mmio.device=4K@{BALLOON_MMIO_BASE:#x}:{BALLOON_GSI}"
            ));
        }
        let machine = Arc::new(Machine::new(config)?);
        (Some(machine), serial.label, serial.input, serial.socket)
    };
    let rtc_sets = rtc::RtcSets::default();
    // query-chardev: COM1's chardev (named by its id, as libvirt looks it
    // up) and the monitors' sockets.
    let chardevs = model::Chardevs::default();
    if let Ok(mut list) = chardevs.lock() {
        if let (Some(c), false) = (chardev, no_guest) {
            list.push(ChardevInfo::new(c.id.clone(), serial_label));
        }
        for (id, filename) in &served.chardevs {
            list.push(ChardevInfo::new(id.clone(), filename.clone()));
        }
    }
    let vcpus = machine.as_ref().map_or(0, |m| m.vcpu_count());
    let builder = model::model(&o, vcpus, &chardevs).install(builder);
    let mut builder = hmp
        .install(builder)
        // The QMP that refvmm speaks is QEMU 7.2's; its own name and
        // version are the package.
        .qemu_compat(QEMU_7_2, "refvmm", env!("CARGO_PKG_VERSION"))
        .state(Vm {
            machine: machine.clone(),
            name: o.common.name.clone(),
            uuid: o.uuid.clone(),
        })
        .state(rtc_sets.clone());
    let quit_machine = machine.clone();
    builder = builder.on_quit(move || {
        if let Some(m) = quit_machine {
            let _ = m.shutdown();
        }
    });
    builder = o.access.apply(builder);
    let emitter = builder.emitter().clone();
    // Before anything listens: no signal ends the process by default.
    let signals = HostSignals::catch()?;
    let monitor = Arc::new(builder.spawn()?);
    for line in &served.lines {
        eprintln!("refvmm: {line}");
    }
    let pidfile = o
        .common
        .pidfile
        .as_deref()
        .map(Pidfile::create)
        .transpose()?;
    // Before the terminal turns raw, so that no signal leaves it raw.
    let signal_machine = machine.clone();
    signals.exit_monitor("refvmm", Arc::clone(&monitor), move || {
        if let Some(m) = signal_machine {
            let _ = m.shutdown();
        }
    })?;
    // -daemonize: the parent exits 0 now, with the socket listening and
    // the pidfile written.
    daemon.ready()?;
    // Restores the terminal when dropped: on every return from here,
    // after `quit`, a guest power-off, a signal or an error.
    let _terminal = if served.hmp_stdio {
        Some(monitor_hmp::stdio::attach(&monitor, hmp.console())?)
    } else {
        None
    };
    if let Some(machine) = &machine {
        watch_machine(
            Arc::clone(machine),
            emitter,
            Arc::clone(&monitor),
            Exits {
                no_reboot: o.no_reboot,
                no_shutdown: o.no_shutdown,
            },
            rtc_sets,
        );
        match serial_input {
            SerialInput::Stdin => forward_input(Arc::clone(machine), io::stdin()),
            SerialInput::Pty(pty) => forward_input(Arc::clone(machine), pty),
            SerialInput::None => {}
        }
        machine.start(o.paused)?;
    }
    monitor.wait()?;
    if let Some(machine) = &machine {
        let _ = machine.shutdown();
    }
    if let Some(path) = serial_socket {
        let _ = std::fs::remove_file(path);
    }
    drop(pidfile);
    Ok(())
}

/// What the operator types (on the terminal or the pty) goes to the
/// guest's UART.
fn forward_input(machine: Arc<Machine>, mut input: impl io::Read + Send + 'static) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                // A pty nobody has opened yet, or that was closed: wait for
                // the next reader.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(5) => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    continue;
                }
                Err(_) => break,
            };
            let mut rest = &buf[..n];
            // The UART's FIFO takes what it can; the rest waits its turn,
            // for a second at most (a guest that never reads loses input).
            let mut tries = 0;
            while !rest.is_empty() && tries < 100 {
                let taken = machine.serial_input(rest);
                rest = &rest[taken..];
                if taken == 0 {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
    });
}
