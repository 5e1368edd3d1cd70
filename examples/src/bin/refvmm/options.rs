//! refvmm's command line: QEMU's options, as far as this machine has what
//! they describe. Options shared with `minimal` are in
//! `examples::qemu_cmdline`; monitors and character devices in
//! `monitor_core::qemu_opts`.

use std::path::PathBuf;

use examples::cli::{self, CliError};
use examples::qemu_cmdline::{expect_bool, opts, rest, unsupported, Common, MachineTypes};
use monitor_core::qemu_opts::Parser;

/// The machine types refvmm declares: `pc` (its PC-like machine, the
/// default) and `none` (no guest, only the monitor, as libvirt's
/// capability probe asks for).
pub const MACHINES: MachineTypes = MachineTypes {
    program: "refvmm",
    types: &["pc", "none"],
    kvm: true,
};

/// The largest `-smp`.
const MAX_VCPUS: usize = 64;

/// A device given with `-device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// `isa-serial`: COM1, on the chardev named `chardev`.
    IsaSerial {
        /// The chardev's id.
        chardev: Option<String>,
        /// The device's id.
        id: Option<String>,
    },
    /// `virtio-balloon`, `virtio-balloon-pci`, `virtio-balloon-device`: the
    /// balloon, which is always on virtio-mmio here.
    Balloon {
        /// The device's id.
        id: Option<String>,
    },
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub struct Options {
    pub common: Common,
    pub mem: u64,
    /// `-m` was given (libvirt always gives it).
    pub mem_given: bool,
    pub smp: usize,
    pub uuid: String,
    pub paused: bool,
    pub no_reboot: bool,
    pub no_shutdown: bool,
    pub devices: Vec<DeviceSpec>,
    /// `-object memory-backend-ram,id=ID,size=N`: (id, size).
    pub ram_backends: Vec<(String, u64)>,
    pub kernel: Option<PathBuf>,
    pub append: Option<String>,
    pub initrd: Option<PathBuf>,
    /// `-chardev`, `-mon`, `-qmp`, `-qmp-pretty`, `-monitor`, `-serial`.
    pub monitors: Parser,
    pub access: cli::Access,
}

fn number(option: &str, key: &str, v: &str) -> Result<usize, CliError> {
    v.parse().map_err(|_| CliError::Number {
        option: format!("{option} {key}"),
        value: v.to_owned(),
    })
}

/// `-smp [cpus=]N[,sockets=S][,dies=D][,cores=C][,threads=T][,maxcpus=M]`:
/// the vCPU count, whose topology must multiply out to it (no hot-plug).
fn parse_smp(v: &str) -> Result<usize, CliError> {
    let option = "-smp";
    let mut o = opts(option, "cpus", v)?;
    let mut get = |key: &str| -> Result<Option<usize>, CliError> {
        o.take(key).map(|v| number(option, key, &v)).transpose()
    };
    let cpus = get("cpus")?;
    let topology: Vec<Option<usize>> = ["sockets", "dies", "cores", "threads"]
        .iter()
        .map(|k| get(k))
        .collect::<Result<_, _>>()?;
    let maxcpus = get("maxcpus")?;
    rest(option, o, "refvmm")?;
    let product: Option<usize> = if topology.iter().any(Option::is_some) {
        let product = topology
            .iter()
            .try_fold(1usize, |acc, t| acc.checked_mul(t.unwrap_or(1)))
            .ok_or_else(|| unsupported(option, "Invalid CPU topology: the product overflows"))?;
        Some(product)
    } else {
        None
    };
    let cpus = cpus.or(product).or(maxcpus).unwrap_or(1);
    if let Some(p) = product {
        if p != cpus {
            return Err(unsupported(
                option,
                format!("Invalid CPU topology: product of the hierarchy must match maxcpus: {p} != {cpus}"),
            ));
        }
    }
    if maxcpus.is_some_and(|m| m != cpus) {
        return Err(unsupported(
            option,
            "refvmm has no CPU hot-plug: maxcpus must equal cpus",
        ));
    }
    if !(1..=MAX_VCPUS).contains(&cpus) {
        return Err(unsupported(
            option,
            format!("{cpus} vCPUs: refvmm takes 1 to {MAX_VCPUS}"),
        ));
    }
    Ok(cpus)
}

/// `-m [size=]SIZE[,slots=N,maxmem=SIZE]`: no memory hot-plug here.
fn parse_mem(v: &str) -> Result<u64, CliError> {
    let mut o = opts("-m", "size", v)?;
    let size = o.take("size").ok_or_else(|| CliError::Size(v.to_owned()))?;
    rest("-m", o, "refvmm")?;
    cli::parse_size_mib(&size)
}

/// `-uuid`: QEMU's 8-4-4-4-12 hexadecimal form.
fn parse_uuid(v: &str) -> Result<String, CliError> {
    let groups: Vec<&str> = v.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(unsupported(
            "-uuid",
            format!("Fail to parse UUID string. Wrong format: {v}"),
        ))
    }
}

fn parse_device(v: &str) -> Result<DeviceSpec, CliError> {
    let option = "-device";
    let mut o = opts(option, "driver", v)?;
    let driver = o.take("driver").unwrap_or_default();
    let id = o.take("id");
    let device = match driver.as_str() {
        "isa-serial" => {
            if let Some(index) = o.take("index") {
                if index != "0" {
                    return Err(unsupported(
                        option,
                        "refvmm has one serial port: index=0 (COM1)",
                    ));
                }
            }
            o.take("iobase")
                .filter(|b| b != "0x3f8" && b != "1016")
                .map_or(Ok(()), |_| {
                    Err(unsupported(
                        option,
                        "refvmm's serial port is at iobase 0x3f8",
                    ))
                })?;
            DeviceSpec::IsaSerial {
                chardev: o.take("chardev"),
                id,
            }
        }
        // QEMU's names for the balloon on each bus; refvmm's is on
        // virtio-mmio, so the PCI address libvirt picks is not used.
        "virtio-balloon" | "virtio-balloon-pci" | "virtio-balloon-device" => {
            o.take("bus");
            o.take("addr");
            DeviceSpec::Balloon { id }
        }
        _ => {
            return Err(CliError::UnknownDevice {
                spec: v.to_owned(),
                model: driver,
            })
        }
    };
    rest(option, o, "refvmm")?;
    Ok(device)
}

/// `-object`: `secret` (taken, unused: refvmm has nothing encrypted) and
/// `memory-backend-ram` (the guest's RAM, named by `-machine
/// memory-backend=`); others are refused.
fn parse_object(v: &str, backends: &mut Vec<(String, u64)>) -> Result<(), CliError> {
    let option = "-object";
    let mut o = opts(option, "qom-type", v)?;
    let qom_type = o.take("qom-type").unwrap_or_default();
    match qom_type.as_str() {
        "secret" => {
            for key in ["id", "format", "file", "data", "keyid", "iv"] {
                o.take(key);
            }
        }
        "memory-backend-ram" => {
            let id = o.take("id").unwrap_or_default();
            let size = o
                .take("size")
                .ok_or_else(|| unsupported(option, "memory-backend-ram needs size="))?;
            let bytes = size
                .parse::<u64>()
                .ok()
                .map_or_else(|| cli::parse_size_mib(&size), Ok)?;
            if let Some(v) = o.take("share") {
                expect_bool(option, "share", &v, Some(false))?;
            }
            backends.push((id, bytes));
        }
        other => {
            return Err(unsupported(
                option,
                format!("object type '{other}' is not supported by refvmm"),
            ))
        }
    }
    rest(option, o, "refvmm")
}

pub fn parse(args: &[String]) -> Result<Options, CliError> {
    let mut o = Options {
        common: Common::default(),
        mem: 128 << 20,
        mem_given: false,
        smp: 1,
        uuid: "00000000-0000-0000-0000-000000000000".into(),
        paused: false,
        no_reboot: false,
        no_shutdown: false,
        devices: Vec::new(),
        ram_backends: Vec::new(),
        kernel: None,
        append: None,
        initrd: None,
        monitors: Parser::new(),
        access: cli::Access::default(),
    };
    let mut i = 0;
    while i < args.len() {
        let option = args[i].as_str();
        match option {
            "-m" => {
                o.mem = parse_mem(cli::value(args, &mut i, option)?)?;
                o.mem_given = true;
            }
            "-smp" => o.smp = parse_smp(cli::value(args, &mut i, option)?)?,
            "-uuid" => o.uuid = parse_uuid(cli::value(args, &mut i, option)?)?,
            "-S" => o.paused = true,
            "-no-reboot" => o.no_reboot = true,
            "-no-shutdown" => o.no_shutdown = true,
            // refvmm has no ACPI tables at all; its power button is a port
            // the firmware polls.
            "-no-acpi" => {}
            "-usb" => {
                return Err(unsupported(
                    option,
                    "refvmm has no USB controller (libvirt: <controller type='usb' model='none'/>)",
                ))
            }
            "-cpu" => {
                let mut c = opts(option, "model", cli::value(args, &mut i, option)?)?;
                let model = c.take("model").unwrap_or_default();
                // vCPUs get the CPUID KVM supports on this host.
                if model != "host" && model != "max" {
                    return Err(unsupported(option, format!("CPU model '{model}' is not supported: refvmm gives the guest the host's CPU (-cpu host)")));
                }
                rest(option, c, "refvmm")?;
            }
            "-rtc" => {
                let mut r = opts(option, "", cli::value(args, &mut i, option)?)?;
                if let Some(base) = r.take("base") {
                    if base != "utc" {
                        return Err(unsupported(
                            option,
                            format!("base={base}: refvmm's RTC keeps UTC"),
                        ));
                    }
                }
                if let Some(clock) = r.take("clock") {
                    if clock != "host" {
                        return Err(unsupported(
                            option,
                            format!("clock={clock}: refvmm's RTC follows the host clock"),
                        ));
                    }
                }
                rest(option, r, "refvmm")?;
            }
            "-boot" => {
                let mut b = opts(option, "order", cli::value(args, &mut i, option)?)?;
                // One boot device, the firmware (or -kernel): an order,
                // a menu or strictness change nothing.
                for key in ["order", "once", "strict"] {
                    b.take(key);
                }
                if let Some(v) = b.take("menu") {
                    expect_bool(option, "menu", &v, Some(false))?;
                }
                rest(option, b, "refvmm")?;
            }
            "-device" => o
                .devices
                .push(parse_device(cli::value(args, &mut i, option)?)?),
            "-object" => parse_object(cli::value(args, &mut i, option)?, &mut o.ram_backends)?,
            "-kernel" => o.kernel = Some(cli::value(args, &mut i, option)?.into()),
            "-append" => o.append = Some(cli::value(args, &mut i, option)?.to_owned()),
            "-initrd" => o.initrd = Some(cli::value(args, &mut i, option)?.into()),
            _ if Parser::handles(option) => {
                let v = cli::value(args, &mut i, option)?;
                o.monitors.option(option, v)?;
            }
            _ if o.common.parse(args, &mut i, MACHINES)? => {}
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
    if let Some(id) = &o.common.memory_backend {
        match o.ram_backends.iter().find(|(b, _)| b == id) {
            Some((_, size)) if !o.mem_given || *size == o.mem => o.mem = *size,
            Some((_, size)) => {
                return Err(unsupported(
                    "-machine",
                    format!(
                        "memory-backend '{id}' has {size} bytes but -m asks for {}",
                        o.mem
                    ),
                ))
            }
            None => {
                return Err(unsupported(
                    "-machine",
                    format!("memory-backend '{id}' not found"),
                ))
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn libvirts_machine_options_parse() {
        let o = parse(&args(
            "-name guest=lvq,debug-threads=on -S -machine pc,usb=off,dump-guest-core=off -accel kvm \
             -m 128 -overcommit mem-lock=off -smp 1,sockets=1,cores=1,threads=1 \
             -uuid 6f1e6b0c-1d2e-4c6f-9a55-0a4a2b9d1a01 -display none -no-user-config -nodefaults \
             -rtc base=utc -no-shutdown -no-acpi -boot strict=on -msg timestamp=on",
        ))
        .unwrap();
        assert_eq!(o.common.name.as_deref(), Some("lvq"));
        assert_eq!(o.common.machine.as_deref(), Some("pc"));
        assert_eq!(o.mem, 128 << 20);
        assert_eq!(o.smp, 1);
        assert!(o.paused && o.no_shutdown && o.common.nodefaults);
    }

    #[test]
    fn qemus_memory_and_smp_forms() {
        assert_eq!(parse(&args("-m size=256M")).unwrap().mem, 256 << 20);
        assert_eq!(parse(&args("-m 1G")).unwrap().mem, 1 << 30);
        assert!(parse(&args("-m 128,maxmem=1G")).is_err());
        assert_eq!(parse(&args("-smp sockets=2,cores=2")).unwrap().smp, 4);
        assert!(parse(&args("-smp 3,sockets=2,cores=2")).is_err());
        assert!(parse(&args("-smp 2,maxcpus=4")).is_err());
        assert!(parse(&args(
            "-smp sockets=4294967296,cores=4294967296,threads=4294967296"
        ))
        .is_err());
    }

    #[test]
    fn what_refvmm_cannot_honour_is_refused() {
        for line in [
            "-usb",
            "-cpu qemu64",
            "-accel tcg",
            "-machine q35",
            "-machine pc,usb=on",
            "-rtc base=localtime",
            "-overcommit mem-lock=on",
            "-display gtk",
            "-audiodev id=a,driver=pa",
            "-object iothread,id=t",
            "-device e1000",
            "-device isa-serial,index=1",
            "-uuid not-a-uuid",
            "-machine pc,memory-backend=pc.ram",
        ] {
            assert!(parse(&args(line)).is_err(), "{line}");
        }
    }

    #[test]
    fn json_devices_objects_and_the_ram_backend() {
        let o = parse(&args(
            r#"-object {"qom-type":"secret","id":"masterKey0","format":"raw","file":"/k.aes"} -device {"driver":"isa-serial","chardev":"charserial0","id":"serial0","index":0} -device virtio-balloon-pci,id=balloon0,bus=pci.0,addr=0x2 -object {"qom-type":"memory-backend-ram","id":"pc.ram","size":134217728} -machine pc,memory-backend=pc.ram -m 128"#,
        ))
        .unwrap();
        assert_eq!(
            o.devices,
            [
                DeviceSpec::IsaSerial {
                    chardev: Some("charserial0".into()),
                    id: Some("serial0".into())
                },
                DeviceSpec::Balloon {
                    id: Some("balloon0".into())
                }
            ]
        );
        assert_eq!(o.mem, 128 << 20);
    }
}
