//! What refvmm is, told to management software (libvirt) through
//! `monitor_core::machine`: its machine types, CPU and device types, the
//! object tree of this run (the vCPUs, the devices given with `-device`,
//! the RTC), its character devices and the options it takes. Every entry
//! is something refvmm has; nothing is listed for show.

use std::sync::{Arc, Mutex};

use monitor_core::machine::{
    ChardevInfo, CommandLineOption, CommandLineParameter, CommandLineParameterType, MachineModel,
    MachineType, ObjectProperty, QomObject, QomType,
};

use crate::options::{DeviceSpec, Options};
use crate::rtc;

/// The character devices of this run; filled in once they exist (the pty
/// has its name, the monitor sockets their addresses).
pub type Chardevs = Arc<Mutex<Vec<ChardevInfo>>>;

/// The CPU type of refvmm's vCPUs: the host's CPU as KVM offers it.
const CPU_TYPE: &str = "host-x86_64-cpu";

/// refvmm's model for this command line.
pub fn model(o: &Options, vcpus: usize, chardevs: &Chardevs) -> MachineModel {
    let no_guest = o.common.machine.as_deref() == Some("none");
    let mut model = MachineModel::new("x86_64")
        // Guests run on KVM only; there is no TCG, so libvirt never probes
        // `accel=tcg`.
        .kvm(true, true)
        .machine(MachineType {
            is_default: true,
            default_cpu_type: Some(CPU_TYPE.into()),
            default_ram_id: Some("pc.ram".into()),
            ..MachineType::new("pc", 64)
        })
        .machine(MachineType::new("none", 1))
        // The CPU: named as QEMU names the host CPU model. refvmm gives
        // the guest KVM's CPUID unfiltered, so no requested feature is
        // ever unavailable.
        .qom_type(QomType::new("x86_64-cpu", "device").abstract_type())
        .qom_type(
            QomType::new("max-x86_64-cpu", "x86_64-cpu")
                .property(ObjectProperty::new("unavailable-features", "strList")),
        )
        .qom_type(QomType::new(CPU_TYPE, "max-x86_64-cpu"))
        // The devices -device can name.
        .qom_type(QomType::new("isa-device", "device").abstract_type())
        .qom_type(
            QomType::new("isa-serial", "isa-device")
                .property(ObjectProperty::new("chardev", "str"))
                .property(ObjectProperty::new("index", "uint32"))
                .property(ObjectProperty::new("iobase", "uint32")),
        )
        .qom_type(QomType::new("mc146818rtc", "isa-device"))
        // refvmm's balloon is virtio-mmio inside, whichever bus is named.
        // It has no statistics queue: polling is off (interval 0) and
        // every statistic is -1, QEMU's "not reported".
        .qom_type(balloon_type("virtio-balloon-pci"))
        .qom_type(balloon_type("virtio-balloon"))
        .object(
            "/machine",
            QomObject::new(if no_guest {
                "none-machine"
            } else {
                "pc-machine"
            }),
        );
    if !no_guest {
        for index in 0..vcpus {
            model = model.object(
                &format!("/machine/unattached/device[{index}]"),
                QomObject::new(CPU_TYPE).constant(
                    "unavailable-features",
                    "strList",
                    serde_json::json!([]),
                ),
            );
        }
        model = model.object(&rtc::qom_path(vcpus), QomObject::new("mc146818rtc"));
        for device in &o.devices {
            match device {
                DeviceSpec::IsaSerial {
                    id: Some(id),
                    chardev,
                } => {
                    let chardev = chardev.clone().unwrap_or_default();
                    model = model.object(
                        &format!("/machine/peripheral/{id}"),
                        QomObject::new("isa-serial").constant("chardev", "str", chardev),
                    );
                }
                DeviceSpec::Balloon { id: Some(id) } => {
                    model = model.object(
                        &format!("/machine/peripheral/{id}"),
                        QomObject::new("virtio-balloon-pci")
                            .constant("guest-stats-polling-interval", "int", 0)
                            .constant("guest-stats", "guest-stats", no_balloon_stats()),
                    );
                }
                _ => {}
            }
        }
    }
    let shared = Arc::clone(chardevs);
    model = model.chardevs(move || shared.lock().map(|c| c.clone()).unwrap_or_default());
    for option in options() {
        model = model.command_line_option(option);
    }
    model
}

fn balloon_type(name: &str) -> QomType {
    QomType::new(name, "device")
        .property(ObjectProperty::new("guest-stats-polling-interval", "int"))
        .property(ObjectProperty::new("guest-stats", "guest-stats"))
}

/// QEMU's `guest-stats` of a balloon that has received none.
fn no_balloon_stats() -> serde_json::Value {
    let names = [
        "stat-swap-in",
        "stat-swap-out",
        "stat-major-faults",
        "stat-minor-faults",
        "stat-free-memory",
        "stat-total-memory",
        "stat-available-memory",
        "stat-disk-caches",
        "stat-htlb-pgalloc",
        "stat-htlb-pgfail",
    ];
    let stats: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| ((*n).to_owned(), serde_json::json!(-1)))
        .collect();
    serde_json::json!({"stats": stats, "last-update": 0})
}

/// The options refvmm takes with `key=value` parameters, and the
/// parameters it handles, as `query-command-line-options` lists them.
fn options() -> Vec<CommandLineOption> {
    use CommandLineParameterType::{Boolean, String as Text};
    let option = |name: &str, params: &[(&str, CommandLineParameterType)]| {
        params
            .iter()
            .fold(CommandLineOption::new(name), |o, (p, t)| {
                o.parameter(CommandLineParameter::new(*p, *t))
            })
    };
    vec![
        option(
            "machine",
            &[
                ("type", Text),
                ("accel", Text),
                ("usb", Boolean),
                ("dump-guest-core", Boolean),
                ("graphics", Boolean),
                ("memory-backend", Text),
            ],
        ),
        option(
            "name",
            &[
                ("guest", Text),
                ("process", Text),
                ("debug-threads", Boolean),
            ],
        ),
        option("msg", &[("timestamp", Boolean)]),
        option("overcommit", &[("mem-lock", Boolean), ("cpu-pm", Boolean)]),
        option("rtc", &[("base", Text), ("clock", Text)]),
        option(
            "boot",
            &[
                ("order", Text),
                ("once", Text),
                ("menu", Boolean),
                ("strict", Boolean),
            ],
        ),
    ]
}
