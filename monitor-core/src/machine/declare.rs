//! What a VMM declares about itself, in the shapes QEMU 7.2 answers with.
//!
//! Most of these types are both the declaration and the wire entry: a
//! [`ChardevInfo`] the VMM gives is what `query-chardev` lists. Member names
//! and optional members are QEMU's (`qapi/*.json` of QEMU 7.2), because
//! libvirt reads them from `query-qmp-schema` as well as from the answers.

use serde::{Deserialize, Serialize};

use crate::Schema;

/// A machine type the VMM runs (`-machine NAME`): listed by
/// `query-machines` and, as the QOM type `NAME-machine`, by
/// `qom-list-types`.
///
/// Fields are QEMU's `MachineInfo`; [`MachineType::new`] fills the rest
/// with QEMU's values for a machine without those features.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::MachineType;
///
/// let pc = MachineType {
///     alias: Some("pc".into()),
///     is_default: true,
///     default_cpu_type: Some("qemu64-x86_64-cpu".into()),
///     default_ram_id: Some("pc.ram".into()),
///     ..MachineType::new("pc-i440fx-7.2", 255)
/// };
/// assert_eq!(pc.qom_type(), "pc-i440fx-7.2-machine");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineType {
    /// The machine type's name (`pc-i440fx-7.2`, `none`).
    pub name: String,
    /// Another name it answers to (`pc`).
    pub alias: Option<String>,
    /// Whether it is what `-machine` defaults to (at most one is).
    pub is_default: bool,
    /// The most vCPUs it takes.
    pub cpu_max: i64,
    /// The QOM type of its default CPU (`qemu64-x86_64-cpu`).
    pub default_cpu_type: Option<String>,
    /// The id of its default RAM backend (`pc.ram`).
    pub default_ram_id: Option<String>,
    /// Whether vCPUs can be hot-plugged.
    pub hotpluggable_cpus: bool,
    /// Whether `-numa node,mem=` is supported.
    pub numa_mem_supported: bool,
    /// Whether the machine type is deprecated.
    pub deprecated: bool,
}

impl MachineType {
    /// A machine type taking up to `cpu_max` vCPUs, without alias,
    /// default CPU or RAM id, not the default, no CPU hot-plug, no NUMA
    /// memory, not deprecated (QEMU's `none` machine is
    /// `MachineType { default_ram_id: Some("ram".into()), ..MachineType::new("none", 1) }`).
    pub fn new(name: impl Into<String>, cpu_max: i64) -> Self {
        MachineType {
            name: name.into(),
            alias: None,
            is_default: false,
            cpu_max,
            default_cpu_type: None,
            default_ram_id: None,
            hotpluggable_cpus: false,
            numa_mem_supported: false,
            deprecated: false,
        }
    }

    /// Its QOM type name, `NAME-machine` (QEMU's `MACHINE_TYPE_NAME`).
    pub fn qom_type(&self) -> String {
        format!("{}-machine", self.name)
    }
}

/// One property of a QOM type or object: QEMU's `ObjectPropertyInfo`, what
/// `qom-list-properties`, `device-list-properties` and `qom-list` answer.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::ObjectProperty;
///
/// let p = ObjectProperty::new("chardev", "str").description("ID of a chardev to use as a backend");
/// assert_eq!(
///     serde_json::to_value(&p).unwrap(),
///     serde_json::json!({"name": "chardev", "type": "str", "description": "ID of a chardev to use as a backend"})
/// );
/// let irq = ObjectProperty::new("irq", "uint32").default_value(4294967295u32);
/// assert_eq!(serde_json::to_value(&irq).unwrap()["default-value"], 4294967295u32);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Schema)]
pub struct ObjectProperty {
    /// The property name.
    pub name: String,
    /// QEMU's type name of its value (`str`, `bool`, `uint32`,
    /// `link<bus>`, `child<isa-serial>`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its default value, if it has one.
    #[serde(rename = "default-value", skip_serializing_if = "Option::is_none")]
    pub default_value: Option<serde_json::Value>,
}

impl ObjectProperty {
    /// A property without description or default.
    pub fn new(name: impl Into<String>, type_name: impl Into<String>) -> Self {
        ObjectProperty {
            name: name.into(),
            type_name: type_name.into(),
            description: None,
            default_value: None,
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the default value.
    pub fn default_value(mut self, value: impl Into<serde_json::Value>) -> Self {
        self.default_value = Some(value.into());
        self
    }
}

/// A QOM type (a device model, a backend object, a CPU model): listed by
/// `qom-list-types`, its properties by `qom-list-properties` and, for a
/// concrete type descending from `device`, by `device-list-properties`.
///
/// Properties are inherited through `parent` as in QEMU: a type lists its
/// ancestors' properties first. The model has QEMU's base types built in:
/// `object` (abstract, the root, with the `type` property), `container`,
/// `machine` (abstract), `device` (abstract; `parent_bus`, `realized`,
/// `hotplugged`, `hotpluggable`) and `accel`.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::{ObjectProperty, QomType};
///
/// let serial = QomType::new("isa-serial", "device")
///     .property(ObjectProperty::new("chardev", "str"))
///     .property(ObjectProperty::new("iobase", "uint32").default_value(4294967295u32));
/// assert!(!serial.is_abstract);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct QomType {
    /// The type name.
    pub name: String,
    /// The parent type (`None` only for the built-in root `object`).
    pub parent: Option<String>,
    /// Whether it cannot be instantiated (listed only with `abstract: true`).
    pub is_abstract: bool,
    /// Its own properties (not its ancestors').
    pub properties: Vec<ObjectProperty>,
}

impl QomType {
    /// A concrete type without properties of its own.
    pub fn new(name: impl Into<String>, parent: impl Into<String>) -> Self {
        QomType {
            name: name.into(),
            parent: Some(parent.into()),
            is_abstract: false,
            properties: Vec::new(),
        }
    }

    /// Marks it abstract.
    pub fn abstract_type(mut self) -> Self {
        self.is_abstract = true;
        self
    }

    /// Adds a property of its own.
    pub fn property(mut self, property: ObjectProperty) -> Self {
        self.properties.push(property);
        self
    }
}

/// A character device: QEMU's `ChardevInfo`, what `query-chardev` lists.
/// libvirt finds a pty's path by `label` (the chardev id) in `filename`
/// (`pty:/dev/pts/N`).
///
/// # Examples
///
/// ```
/// use monitor_core::machine::ChardevInfo;
///
/// let pty = ChardevInfo::new("charserial0", "pty:/dev/pts/3");
/// assert_eq!(
///     serde_json::to_value(&pty).unwrap(),
///     serde_json::json!({"label": "charserial0", "filename": "pty:/dev/pts/3", "frontend-open": true})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub struct ChardevInfo {
    /// The chardev id (`-chardev ...,id=LABEL`).
    pub label: String,
    /// Its backend in QEMU's words (`pty:/dev/pts/3`, `unix:PATH,server=on`).
    pub filename: String,
    /// Whether the device using it has it open.
    pub frontend_open: bool,
}

impl ChardevInfo {
    /// A chardev whose frontend has it open.
    pub fn new(label: impl Into<String>, filename: impl Into<String>) -> Self {
        ChardevInfo {
            label: label.into(),
            filename: filename.into(),
            frontend_open: true,
        }
    }
}

/// An I/O thread: QEMU's `IOThreadInfo`, what `query-iothreads` lists.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::IoThreadInfo;
///
/// let t = IoThreadInfo { id: "iothread1".into(), thread_id: 4242, poll_max_ns: 32768, poll_grow: 0, poll_shrink: 0, aio_max_batch: 0 };
/// assert_eq!(serde_json::to_value(&t).unwrap()["thread-id"], 4242);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub struct IoThreadInfo {
    /// Its id (`-object iothread,id=ID`).
    pub id: String,
    /// The host thread's id.
    pub thread_id: i64,
    /// Most nanoseconds of busy polling (0: none).
    pub poll_max_ns: i64,
    /// How the polling time grows (0: the default).
    pub poll_grow: i64,
    /// How the polling time shrinks (0: the default).
    pub poll_shrink: i64,
    /// Most requests per batch (0: the default).
    pub aio_max_batch: i64,
}

/// A TPM model the VMM emulates: QEMU's `TpmModel`, what
/// `query-tpm-models` lists.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::TpmModel;
///
/// assert_eq!(serde_json::to_value(TpmModel::TpmCrb).unwrap(), "tpm-crb");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub enum TpmModel {
    /// `tpm-tis`.
    TpmTis,
    /// `tpm-crb`.
    TpmCrb,
    /// `tpm-spapr`.
    TpmSpapr,
}

/// A command-line option and its parameters: QEMU's
/// `CommandLineOptionInfo`, what `query-command-line-options` lists.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::{CommandLineOption, CommandLineParameter, CommandLineParameterType};
///
/// let sandbox = CommandLineOption::new("sandbox")
///     .parameter(CommandLineParameter::new("enable", CommandLineParameterType::Boolean));
/// assert_eq!(
///     serde_json::to_value(&sandbox).unwrap(),
///     serde_json::json!({"option": "sandbox", "parameters": [{"name": "enable", "type": "boolean"}]})
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct CommandLineOption {
    /// The option's name, without the dash (`sandbox`, `machine`).
    pub option: String,
    /// The `key=value` parameters it takes.
    pub parameters: Vec<CommandLineParameter>,
}

impl CommandLineOption {
    /// An option without parameters.
    pub fn new(option: impl Into<String>) -> Self {
        CommandLineOption {
            option: option.into(),
            parameters: Vec::new(),
        }
    }

    /// Adds a parameter.
    pub fn parameter(mut self, parameter: CommandLineParameter) -> Self {
        self.parameters.push(parameter);
        self
    }
}

/// A parameter of a [`CommandLineOption`]: QEMU's `CommandLineParameterInfo`.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::{CommandLineParameter, CommandLineParameterType};
///
/// let p = CommandLineParameter::new("usb", CommandLineParameterType::Boolean).help("Set on/off to enable/disable usb");
/// assert_eq!(p.help.as_deref(), Some("Set on/off to enable/disable usb"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct CommandLineParameter {
    /// The parameter's key.
    pub name: String,
    /// Its value's type.
    #[serde(rename = "type")]
    pub type_name: CommandLineParameterType,
    /// Its help text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// Its default value, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl CommandLineParameter {
    /// A parameter without help or default.
    pub fn new(name: impl Into<String>, type_name: CommandLineParameterType) -> Self {
        CommandLineParameter {
            name: name.into(),
            type_name,
            help: None,
            default: None,
        }
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// QEMU's `CommandLineParameterType`.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::CommandLineParameterType;
///
/// assert_eq!(serde_json::to_value(CommandLineParameterType::Size).unwrap(), "size");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
#[serde(rename_all = "lowercase")]
pub enum CommandLineParameterType {
    /// Text.
    String,
    /// `on`/`off`.
    Boolean,
    /// A number.
    Number,
    /// A size with an optional suffix (`512M`).
    Size,
}
