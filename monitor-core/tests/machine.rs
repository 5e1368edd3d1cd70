//! The machine model: every command `MachineModel::install` registers
//! answers from what the VMM declared, in QEMU 7.2's shapes and words
//! (what libvirt 9.0 asks is listed in docs/DESIGN.md, section 13; the
//! shapes and texts were checked against `qemu-system-x86_64 -machine
//! none`).

use monitor_test_util as util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use monitor_core::client::{Client, ClientError};
use monitor_core::machine::{
    ChardevInfo, CommandLineOption, CommandLineParameter, CommandLineParameterType, MachineModel,
    MachineType, ModelError, ObjectProperty, QomObject, QomType, TpmModel,
};
use monitor_core::{Command, CommandError, Error, Monitor, QEMU_7_2};
use parking_lot::Mutex;
use serde_json::{json, Value};

/// What the tests change while the monitor runs.
struct Live {
    realized: Arc<AtomicBool>,
    chardevs: Arc<Mutex<Vec<ChardevInfo>>>,
}

/// A small VMM: KVM present but not in use, TCG, two machine types, a
/// serial device, a backend object, a tree with a live property.
fn model() -> (MachineModel, Live) {
    let realized = Arc::new(AtomicBool::new(false));
    let chardevs = Arc::new(Mutex::new(vec![ChardevInfo::new(
        "charserial0",
        "pty:/dev/pts/7",
    )]));
    let flag = Arc::clone(&realized);
    let list = Arc::clone(&chardevs);
    let model = MachineModel::new("x86_64")
        .kvm(false, true)
        .tcg(true)
        .machine(MachineType {
            default_ram_id: Some("ram".into()),
            ..MachineType::new("none", 1)
        })
        .machine(MachineType {
            alias: Some("pc".into()),
            is_default: true,
            default_cpu_type: Some("qemu64-x86_64-cpu".into()),
            default_ram_id: Some("pc.ram".into()),
            hotpluggable_cpus: true,
            ..MachineType::new("pc-i440fx-7.2", 255)
        })
        .qom_type(QomType::new("isa-device", "device").abstract_type())
        .qom_type(
            QomType::new("isa-serial", "isa-device")
                .property(
                    ObjectProperty::new("chardev", "str")
                        .description("ID of a chardev to use as a backend"),
                )
                .property(ObjectProperty::new("iobase", "uint32").default_value(4294967295u32))
                .property(ObjectProperty::new("legacy-iobase", "str")),
        )
        .qom_type(
            QomType::new("memory-backend-file", "object")
                .property(ObjectProperty::new("size", "int")),
        )
        .object("/machine", QomObject::new("pc-i440fx-7.2-machine"))
        .object(
            "/machine/peripheral/serial0",
            QomObject::new("isa-serial")
                .property("realized", "bool", move || {
                    flag.load(Ordering::SeqCst).into()
                })
                .constant("chardev", "str", "charserial0"),
        )
        .tpm_model(TpmModel::TpmCrb)
        .command_line_option(
            CommandLineOption::new("sandbox").parameter(
                CommandLineParameter::new("enable", CommandLineParameterType::Boolean)
                    .help("enable seccomp"),
            ),
        )
        .command_line_option(CommandLineOption::new("machine"))
        .chardevs(move || list.lock().clone());
    (model, Live { realized, chardevs })
}

fn start(model: &MachineModel) -> (Monitor, Client) {
    let path = util::socket_path("machine");
    let builder = Monitor::builder()
        .qemu_compat(QEMU_7_2, "testvmm", "9.9.9")
        .listen_unix(&path);
    let monitor = model.install(builder).spawn().unwrap();
    let mut client = Client::connect_unix(&path).unwrap();
    client.negotiate().unwrap();
    (monitor, client)
}

fn call(client: &mut Client, command: &str, arguments: Value) -> Value {
    client
        .execute(command, arguments)
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

fn fail(client: &mut Client, command: &str, arguments: Value) -> (String, String) {
    match client.execute(command, arguments) {
        Err(ClientError::Command { class, desc }) => (class, desc),
        other => panic!("{command}: expected an error, got {other:?}"),
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

#[test]
fn kvm_target_and_machines() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(&mut client, "query-kvm", json!({})),
        json!({"enabled": false, "present": true})
    );
    model.set_kvm(true, true);
    assert_eq!(
        call(&mut client, "query-kvm", json!({})),
        json!({"enabled": true, "present": true})
    );
    assert_eq!(
        call(&mut client, "query-target", json!({})),
        json!({"arch": "x86_64"})
    );
    // As QEMU writes them: alias, is-default, default-cpu-type only when set.
    assert_eq!(
        call(&mut client, "query-machines", json!({})),
        json!([
            {"name": "none", "cpu-max": 1, "hotpluggable-cpus": false,
             "numa-mem-supported": false, "deprecated": false, "default-ram-id": "ram"},
            {"name": "pc-i440fx-7.2", "alias": "pc", "is-default": true, "cpu-max": 255,
             "hotpluggable-cpus": true, "numa-mem-supported": false, "deprecated": false,
             "default-cpu-type": "qemu64-x86_64-cpu", "default-ram-id": "pc.ram"}
        ])
    );
}

#[test]
fn qom_list_types_lists_what_is_declared() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(
            &mut client,
            "qom-list-types",
            json!({"implements": "accel"})
        ),
        json!([
            {"name": "accel", "parent": "object"},
            {"name": "kvm-accel", "parent": "accel"},
            {"name": "tcg-accel", "parent": "accel"}
        ])
    );
    assert_eq!(
        call(
            &mut client,
            "qom-list-types",
            json!({"implements": "machine"})
        ),
        json!([
            {"name": "none-machine", "parent": "machine"},
            {"name": "pc-i440fx-7.2-machine", "parent": "machine"}
        ])
    );
    // Abstract types only on request, marked; ancestry through parents.
    assert_eq!(
        call(
            &mut client,
            "qom-list-types",
            json!({"implements": "device", "abstract": true})
        ),
        json!([
            {"name": "device", "abstract": true, "parent": "object"},
            {"name": "isa-device", "abstract": true, "parent": "device"},
            {"name": "isa-serial", "parent": "isa-device"}
        ])
    );
    assert_eq!(
        call(&mut client, "qom-list-types", json!({"implements": "nope"})),
        json!([])
    );
    let all = call(&mut client, "qom-list-types", json!({}));
    let all = names(&all);
    assert!(all.contains(&"memory-backend-file"), "{all:?}");
    assert!(!all.contains(&"object") && !all.contains(&"isa-device"));
}

#[test]
fn tcg_accel_only_when_declared() {
    let model = MachineModel::new("x86_64").kvm(true, true);
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(
            &mut client,
            "qom-list-types",
            json!({"implements": "accel"})
        ),
        json!([{"name": "accel", "parent": "object"}, {"name": "kvm-accel", "parent": "accel"}])
    );
    let model = MachineModel::new("x86_64").kvm(false, false).tcg(true);
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(
            &mut client,
            "qom-list-types",
            json!({"implements": "accel"})
        ),
        json!([{"name": "accel", "parent": "object"}, {"name": "tcg-accel", "parent": "accel"}])
    );
}

#[test]
fn device_list_properties() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    // Inherited object/device properties and legacy- ones are left out.
    assert_eq!(
        call(
            &mut client,
            "device-list-properties",
            json!({"typename": "isa-serial"})
        ),
        json!([
            {"name": "chardev", "type": "str", "description": "ID of a chardev to use as a backend"},
            {"name": "iobase", "type": "uint32", "default-value": 4294967295u32}
        ])
    );
    assert_eq!(
        fail(
            &mut client,
            "device-list-properties",
            json!({"typename": "virtio-net-ccw"})
        ),
        (
            "DeviceNotFound".into(),
            "Device 'virtio-net-ccw' not found".into()
        )
    );
    for typename in ["none-machine", "isa-device", "memory-backend-file"] {
        assert_eq!(
            fail(
                &mut client,
                "device-list-properties",
                json!({"typename": typename})
            ),
            (
                "GenericError".into(),
                "Parameter 'typename' expects a non-abstract device type".into()
            ),
            "{typename}"
        );
    }
}

#[test]
fn qom_list_properties_of_an_unknown_type_is_empty_not_device_not_found() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    // QEMU says DeviceNotFound; libvirtd 9.0 crashes on that answer.
    assert_eq!(
        call(
            &mut client,
            "qom-list-properties",
            json!({"typename": "memory-backend-memfd"})
        ),
        json!([])
    );
    // Ancestors' properties first, `type` from `object` before all.
    let serial = call(
        &mut client,
        "qom-list-properties",
        json!({"typename": "isa-serial"}),
    );
    assert_eq!(
        names(&serial),
        [
            "type",
            "parent_bus",
            "realized",
            "hotplugged",
            "hotpluggable",
            "chardev",
            "iobase",
            "legacy-iobase"
        ]
    );
    assert_eq!(
        call(
            &mut client,
            "qom-list-properties",
            json!({"typename": "none-machine"})
        ),
        json!([{"name": "type", "type": "string"}])
    );
}

#[test]
fn qom_list_and_qom_get_read_live_values() {
    let (model, live) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(
            &mut client,
            "qom-list",
            json!({"path": "/machine/peripheral"})
        ),
        json!([{"name": "type", "type": "string"}, {"name": "serial0", "type": "child<isa-serial>"}])
    );
    assert_eq!(
        call(&mut client, "qom-list", json!({"path": "/machine"})),
        json!([{"name": "type", "type": "string"}, {"name": "peripheral", "type": "child<container>"}])
    );
    assert_eq!(
        call(
            &mut client,
            "qom-list",
            json!({"path": "/machine/peripheral/serial0"})
        ),
        json!([
            {"name": "type", "type": "string"},
            {"name": "realized", "type": "bool"},
            {"name": "chardev", "type": "str"}
        ])
    );
    let get = |client: &mut Client, path: &str, property: &str| {
        call(
            client,
            "qom-get",
            json!({"path": path, "property": property}),
        )
    };
    let serial = "/machine/peripheral/serial0";
    assert_eq!(get(&mut client, serial, "realized"), json!(false));
    live.realized.store(true, Ordering::SeqCst);
    assert_eq!(get(&mut client, serial, "realized"), json!(true));
    assert_eq!(get(&mut client, serial, "chardev"), json!("charserial0"));
    assert_eq!(get(&mut client, serial, "type"), json!("isa-serial"));
    assert_eq!(
        get(&mut client, "/machine", "type"),
        json!("pc-i440fx-7.2-machine")
    );
    assert_eq!(
        get(&mut client, "/machine", "peripheral"),
        json!("/machine/peripheral")
    );
    assert_eq!(
        get(&mut client, "/machine/peripheral", "type"),
        json!("container")
    );
    // QEMU's partial paths and its redundant slashes.
    assert_eq!(get(&mut client, "serial0", "type"), json!("isa-serial"));
    assert_eq!(
        get(&mut client, "//machine/", "type"),
        json!("pc-i440fx-7.2-machine")
    );

    assert_eq!(
        fail(&mut client, "qom-list", json!({"path": "/nope"})),
        ("DeviceNotFound".into(), "Device '/nope' not found".into())
    );
    assert_eq!(
        fail(
            &mut client,
            "qom-get",
            json!({"path": "/nope", "property": "type"})
        ),
        ("DeviceNotFound".into(), "Device '/nope' not found".into())
    );
    assert_eq!(
        fail(
            &mut client,
            "qom-get",
            json!({"path": "/machine", "property": "nope"})
        ),
        (
            "GenericError".into(),
            "Property 'pc-i440fx-7.2-machine.nope' not found".into()
        )
    );
    assert_eq!(
        fail(&mut client, "qom-list", json!({"path": ""})),
        ("GenericError".into(), "Path '' is ambiguous".into())
    );
}

#[test]
fn objects_added_and_removed_at_run_time() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    model
        .add_object("/machine/peripheral/serial1", QomObject::new("isa-serial"))
        .unwrap();
    let listed = call(
        &mut client,
        "qom-list",
        json!({"path": "/machine/peripheral"}),
    );
    assert_eq!(names(&listed), ["type", "serial0", "serial1"]);
    assert_eq!(
        model.add_object("/machine/peripheral/serial1", QomObject::new("isa-serial")),
        Err(ModelError::ObjectExists(
            "/machine/peripheral/serial1".into()
        ))
    );
    assert_eq!(
        model.add_object("/machine/peripheral/x", QomObject::new("virtio-rng-pci")),
        Err(ModelError::UnknownObjectType {
            path: "/machine/peripheral/x".into(),
            type_name: "virtio-rng-pci".into()
        })
    );
    model.remove_object("/machine/peripheral/serial0").unwrap();
    let listed = call(
        &mut client,
        "qom-list",
        json!({"path": "/machine/peripheral"}),
    );
    assert_eq!(names(&listed), ["type", "serial1"]);
}

#[test]
fn chardevs_are_read_when_asked() {
    let (model, live) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(&mut client, "query-chardev", json!({})),
        json!([{"label": "charserial0", "filename": "pty:/dev/pts/7", "frontend-open": true}])
    );
    live.chardevs.lock().push(ChardevInfo::new(
        "charmonitor",
        "unix:/run/m.sock,server=on",
    ));
    let listed = call(&mut client, "query-chardev", json!({}));
    assert_eq!(listed[1]["label"], "charmonitor");
    let (_monitor, mut client) = start(&MachineModel::new("x86_64"));
    assert_eq!(call(&mut client, "query-chardev", json!({})), json!([]));
}

#[test]
fn block_iothreads_jobs_and_tpm_answer_the_declared_lists() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    for (command, arguments) in [
        ("query-block", json!({})),
        ("query-named-block-nodes", json!({})),
        ("query-named-block-nodes", json!({"flat": true})),
        ("query-blockstats", json!({})),
        ("query-blockstats", json!({"query-nodes": true})),
        ("query-iothreads", json!({})),
        ("query-jobs", json!({})),
    ] {
        assert_eq!(
            call(&mut client, command, arguments.clone()),
            json!([]),
            "{command} {arguments}"
        );
    }
    assert_eq!(
        fail(&mut client, "query-named-block-nodes", json!({"flat": 1})),
        (
            "GenericError".into(),
            "Invalid parameter type for 'flat', expected: boolean".into()
        )
    );
    assert_eq!(
        call(&mut client, "query-tpm-models", json!({})),
        json!(["tpm-crb"])
    );
}

#[test]
fn migration_capabilities() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(&mut client, "query-migrate-capabilities", json!({})),
        json!([{"capability": "events", "state": false}])
    );
    // What libvirt sends on every start.
    call(
        &mut client,
        "migrate-set-capabilities",
        json!({"capabilities": [{"capability": "events", "state": true}]}),
    );
    assert_eq!(
        call(&mut client, "query-migrate-capabilities", json!({})),
        json!([{"capability": "events", "state": true}])
    );
    assert_eq!(model.migration_capability("events"), Some(true));
    // All or nothing: the undeclared one refuses the whole list.
    assert_eq!(
        fail(
            &mut client,
            "migrate-set-capabilities",
            json!({"capabilities": [{"capability": "events", "state": false},
                                    {"capability": "xbzrle", "state": true}]})
        ),
        (
            "GenericError".into(),
            "Parameter 'capability' does not accept value 'xbzrle'".into()
        )
    );
    assert_eq!(model.migration_capability("events"), Some(true));
    assert_eq!(
        fail(
            &mut client,
            "migrate-set-capabilities",
            json!({"capabilities": [{"capability": "events"}]})
        ),
        (
            "GenericError".into(),
            "Parameter 'capabilities[0].state' is missing".into()
        )
    );
    call(
        &mut client,
        "migrate-set-capabilities",
        json!({"capabilities": []}),
    );
}

#[test]
fn command_line_options() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    assert_eq!(
        call(&mut client, "query-command-line-options", json!({})),
        json!([
            {"option": "sandbox", "parameters": [{"name": "enable", "type": "boolean", "help": "enable seccomp"}]},
            {"option": "machine", "parameters": []}
        ])
    );
    assert_eq!(
        call(
            &mut client,
            "query-command-line-options",
            json!({"option": "machine"})
        ),
        json!([{"option": "machine", "parameters": []}])
    );
    assert_eq!(
        fail(
            &mut client,
            "query-command-line-options",
            json!({"option": "nope"})
        ),
        ("GenericError".into(), "invalid option name: nope".into())
    );
}

#[test]
fn version_reports_the_compat_level() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    let expected =
        json!({"qemu": {"major": 7, "minor": 2, "micro": 0}, "package": "testvmm 9.9.9"});
    assert_eq!(client.greeting()["QMP"]["version"], expected);
    assert_eq!(call(&mut client, "query-version", json!({})), expected);
}

#[test]
fn schema_describes_the_machine_commands() {
    let (model, _) = model();
    let (_monitor, mut client) = start(&model);
    let schema = call(&mut client, "query-qmp-schema", json!({}));
    let entries = schema.as_array().unwrap();
    let entry = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the schema"))
    };
    let members = |type_name: &Value| -> Vec<Value> {
        entry(type_name.as_str().unwrap())["members"]
            .as_array()
            .unwrap()
            .clone()
    };
    let element = |array: &Value| entry(array.as_str().unwrap())["element-type"].clone();

    // libvirt's probe: `query-named-block-nodes/arg-type/flat`.
    let nodes = entry("query-named-block-nodes");
    assert_eq!(
        members(&nodes["arg-type"]),
        [json!({"name": "flat", "type": "bool", "default": null})]
    );
    // `query-iothreads/ret-type/poll-max-ns`.
    let iothread = element(&entry("query-iothreads")["ret-type"]);
    assert!(members(&iothread)
        .iter()
        .any(|m| m["name"] == "poll-max-ns"));
    let machine = element(&entry("query-machines")["ret-type"]);
    let machine = members(&machine);
    let optional: Vec<&str> = machine
        .iter()
        .filter(|m| m.get("default").is_some())
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        optional,
        ["alias", "is-default", "default-cpu-type", "default-ram-id"]
    );
    let types_args = members(&entry("qom-list-types")["arg-type"]);
    assert_eq!(
        types_args,
        [
            json!({"name": "implements", "type": "str", "default": null}),
            json!({"name": "abstract", "type": "bool", "default": null})
        ]
    );
    let property = element(&entry("qom-list-properties")["ret-type"]);
    assert_eq!(
        names(&Value::Array(members(&property))),
        ["name", "type", "description", "default-value"]
    );
    assert_eq!(entry("qom-get")["ret-type"], "any");
    let commands = call(&mut client, "query-commands", json!({}));
    for name in [
        "query-kvm",
        "qom-list",
        "query-jobs",
        "migrate-set-capabilities",
        "query-command-line-options",
    ] {
        assert!(names(&commands).contains(&name), "{name}");
    }
}

#[test]
fn install_refuses_a_duplicate_command_and_a_bad_model() {
    let (model, _) = model();
    let own = Command::typed("query-kvm", |_, ()| Ok::<_, CommandError>(()));
    let err = model
        .install(Monitor::builder().command(own))
        .spawn()
        .unwrap_err();
    assert!(matches!(err, Error::Registry(_)), "{err}");
    assert!(err.to_string().contains("query-kvm"), "{err}");

    let bad = MachineModel::new("x86_64")
        .machine(MachineType {
            is_default: true,
            ..MachineType::new("a", 1)
        })
        .machine(MachineType {
            is_default: true,
            ..MachineType::new("b", 1)
        });
    let err = bad.install(Monitor::builder()).spawn().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the machine model: machine types `a` and `b` are both the default"
    );
    let bad = MachineModel::new("x86_64").object("/machine", QomObject::new("pc-machine"));
    assert_eq!(
        bad.validate(),
        Err(ModelError::UnknownObjectType {
            path: "/machine".into(),
            type_name: "pc-machine".into()
        })
    );
    let bad = MachineModel::new("x86_64").object("machine", QomObject::new("container"));
    assert_eq!(
        bad.validate(),
        Err(ModelError::RelativePath("machine".into()))
    );
}
