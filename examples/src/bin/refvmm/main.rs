//! The reference VMM: a small hypervisor on /dev/kvm that boots its own
//! firmware (or a Linux kernel) and is managed entirely through the monitor
//! (QMP and HMP).
//!
//! `refvmm -qmp unix:/tmp/refvmm.qmp,server=on,wait=off -monitor stdio -serial file:/tmp/serial.log`
//! `refvmm -kernel vmlinux -append 'console=ttyS0' -serial stdio`

mod balloon;
mod commands;
mod hmp;
mod hmp_memory;
mod memory;
mod rtc;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use examples::cli::{self, CliError, MonitorSpec, SerialSpec};
use examples::vmm::devices::{BALLOON_GSI, BALLOON_MMIO_BASE};
use examples::vmm::linux::{KernelBoot, LinuxError};
use examples::vmm::{Machine, MachineConfig, MachineEvent};
use monitor_core::{Emitter, ListenAddr, Monitor};

use commands::{shutdown_event, Reset, Vm};

const USAGE: &str = "\
usage: refvmm [options]
  -m SIZE            guest RAM (MiB, or with K/M/G/T; default 128)
  -smp N             vCPUs (default 1; vCPU 0 runs the firmware)
  -kernel PATH       boot this Linux kernel (vmlinux or bzImage) instead of the firmware
  -append STRING     the kernel command line (default: see refvmm's README)
  -initrd PATH       the kernel's initial ramdisk
  -name NAME         the VM name (query-name, info name)
  -uuid UUID         the VM UUID (query-uuid)
  -S                 start paused (status prelaunch); `cont` boots
  -qmp unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off   (repeatable)
  -monitor stdio | unix:... | tcp:...                                    (repeatable)
  -serial stdio | file:PATH | unix:PATH,server=on,wait=off | null       (default stdio)
  -device virtio-balloon[,id=ID]   a virtio balloon (virtio-mmio at 0xd0000000, GSI 5)
  -no-reboot         exit instead of rebooting when the guest resets
  --allow-uid UID    serve only this user on unix monitor sockets (repeatable)
  --max-clients N    clients per monitor listener (default 128)
  --negotiation-timeout SECONDS   to complete qmp_capabilities (default 30; 0: none)
  --max-fds N        descriptors a QMP session may hold named (default 64)
  --help             this text";

const FIRMWARE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/firmware.bin"));

struct Options {
    mem: u64,
    smp: usize,
    name: Option<String>,
    uuid: String,
    paused: bool,
    qmp: Vec<ListenAddr>,
    monitors: Vec<MonitorSpec>,
    serial: SerialSpec,
    no_reboot: bool,
    balloon: bool,
    kernel: Option<PathBuf>,
    append: Option<String>,
    initrd: Option<PathBuf>,
    access: cli::Access,
}

fn parse(args: &[String]) -> Result<Options, CliError> {
    let mut o = Options {
        mem: 128 << 20,
        smp: 1,
        name: None,
        uuid: "00000000-0000-0000-0000-000000000000".into(),
        paused: false,
        qmp: Vec::new(),
        monitors: Vec::new(),
        serial: SerialSpec::Stdio,
        no_reboot: false,
        balloon: false,
        kernel: None,
        append: None,
        initrd: None,
        access: cli::Access::default(),
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-m" => o.mem = cli::parse_size_mib(cli::value(args, &mut i, "-m")?)?,
            "-smp" => {
                let v = cli::value(args, &mut i, "-smp")?;
                o.smp = v
                    .split(',')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| CliError::Unknown(format!("-smp {v}")))?;
            }
            "-name" => o.name = Some(cli::value(args, &mut i, "-name")?.to_owned()),
            "-uuid" => o.uuid = cli::value(args, &mut i, "-uuid")?.to_owned(),
            "-S" => o.paused = true,
            "-qmp" => o
                .qmp
                .push(cli::parse_socket(cli::value(args, &mut i, "-qmp")?)?),
            "-monitor" => o
                .monitors
                .push(cli::parse_monitor(cli::value(args, &mut i, "-monitor")?)?),
            "-serial" => o.serial = cli::parse_serial(cli::value(args, &mut i, "-serial")?)?,
            "-no-reboot" => o.no_reboot = true,
            "-device" => {
                let v = cli::value(args, &mut i, "-device")?;
                let model = v.split(',').next().unwrap_or_default();
                match model {
                    // QEMU's names for the balloon on each bus; ours is
                    // always on virtio-mmio.
                    "virtio-balloon" | "virtio-balloon-pci" | "virtio-balloon-device" => {
                        o.balloon = true;
                    }
                    _ => {
                        return Err(CliError::UnknownDevice {
                            spec: v.to_owned(),
                            model: model.to_owned(),
                        })
                    }
                }
            }
            "-kernel" => o.kernel = Some(cli::value(args, &mut i, "-kernel")?.into()),
            "-append" => o.append = Some(cli::value(args, &mut i, "-append")?.to_owned()),
            "-initrd" => o.initrd = Some(cli::value(args, &mut i, "-initrd")?.into()),
            _ if o.access.parse(args, &mut i)? => {}
            other => return Err(CliError::Unknown(other.to_owned())),
        }
        i += 1;
    }
    if o.kernel.is_none() {
        if o.append.is_some() {
            return Err(CliError::Requires("-append", "-kernel"));
        }
        if o.initrd.is_some() {
            return Err(CliError::Requires("-initrd", "-kernel"));
        }
    }
    Ok(o)
}

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

fn serial_backend(spec: &SerialSpec) -> io::Result<(Box<dyn Write + Send>, String)> {
    Ok(match spec {
        SerialSpec::Stdio => (Box::new(io::stdout()), "stdio".into()),
        SerialSpec::Null => (Box::new(io::sink()), "null".into()),
        SerialSpec::File(p) => {
            let f = OpenOptions::new().create(true).append(true).open(p)?;
            (Box::new(f), format!("file:{}", p.display()))
        }
        SerialSpec::Unix(p) => {
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
            (
                Box::new(SocketSerial(slot)),
                format!("unix:{},server=on", p.display()),
            )
        }
    })
}

/// Turns what the guest does into events, and exits the process when the
/// guest powers off (or resets under -no-reboot), as QEMU does.
fn watch_machine(
    machine: Arc<Machine>,
    emitter: Emitter,
    monitor: Arc<Monitor>,
    no_reboot: bool,
    rtc_sets: rtc::RtcSets,
) {
    let Some(events) = machine.take_events() else {
        return;
    };
    let rtc_path = rtc::qom_path(machine.vcpu_count());
    std::thread::spawn(move || {
        for event in events {
            match event {
                MachineEvent::ResetRequested { .. } if no_reboot => {
                    emitter.emit(shutdown_event(true, "guest-reset"));
                    let _ = machine.shutdown();
                    monitor.shutdown();
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
                    emitter.emit(shutdown_event(true, "guest-shutdown"));
                    monitor.shutdown();
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
    let options = match cli::parse_args("refvmm", USAGE, parse) {
        Ok(options) => options,
        Err(code) => return code,
    };
    examples::logger::init();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("refvmm: {}", cli::error_chain(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

fn run(o: Options) -> Result<(), Box<dyn std::error::Error>> {
    let stdio_monitor = o.monitors.contains(&MonitorSpec::Stdio);
    if stdio_monitor && o.serial == SerialSpec::Stdio {
        return Err("cannot use stdio by multiple character devices (add -serial file:PATH or -serial null)".into());
    }
    let (serial_out, serial_label) = serial_backend(&o.serial)?;
    let mut config = MachineConfig::new(FIRMWARE, serial_out);
    config.mem_size = o.mem;
    config.vcpus = o.smp;
    config.balloon = o.balloon;
    config.kernel = kernel_boot(&o)?;
    if let (Some(kernel), true) = (config.kernel.as_mut(), o.balloon) {
        // Linux finds virtio-mmio devices only on its command line.
        kernel.append_cmdline(&format!(
            "virtio_mmio.device=4K@{BALLOON_MMIO_BASE:#x}:{BALLOON_GSI}"
        ));
    }
    let machine = Arc::new(Machine::new(config)?);
    let hmp = monitor_hmp::Hmp::new();
    let rtc_sets = rtc::RtcSets::default();
    let mut builder = hmp
        .install(Monitor::builder())
        .version(0, 1, 0, "refvmm")
        .state(Vm {
            machine: Arc::clone(&machine),
            name: o.name.clone(),
            uuid: o.uuid.clone(),
            serial: serial_label,
        })
        .state(rtc_sets.clone());
    let quit_machine = Arc::clone(&machine);
    builder = builder.on_quit(move || {
        let _ = quit_machine.shutdown();
    });
    builder = cli::listen(builder, "refvmm", &o.qmp, &o.monitors, &hmp);
    builder = o.access.apply(builder);
    let emitter = builder.emitter();
    let monitor = Arc::new(builder.spawn()?);
    // Before the terminal turns raw, so that no signal leaves it raw.
    let signal_machine = Arc::clone(&machine);
    examples::signals::exit_on_signals("refvmm", Arc::clone(&monitor), move || {
        let _ = signal_machine.shutdown();
    })?;
    // Restores the terminal when dropped: on every return from here,
    // after `quit`, a guest power-off, a signal or an error.
    let _terminal = if stdio_monitor {
        Some(monitor_hmp::stdio::attach(&monitor, hmp.console())?)
    } else {
        None
    };
    watch_machine(
        Arc::clone(&machine),
        emitter,
        Arc::clone(&monitor),
        o.no_reboot,
        rtc_sets,
    );
    if o.serial == SerialSpec::Stdio {
        forward_stdin(Arc::clone(&machine));
    }
    machine.start(o.paused)?;
    monitor.wait()?;
    let _ = machine.shutdown();
    cleanup(&o.serial);
    Ok(())
}

/// `-serial stdio`: what the operator types goes to the guest's UART.
fn forward_stdin(machine: Arc<Machine>) {
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 256];
        while let Ok(n) = io::Read::read(&mut stdin, &mut buf) {
            if n == 0 {
                break;
            }
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

fn cleanup(serial: &SerialSpec) {
    if let SerialSpec::Unix(p) = serial {
        let _ = std::fs::remove_file(Path::new(p));
    }
}
