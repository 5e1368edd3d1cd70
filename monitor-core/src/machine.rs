//! A model of the VMM, declared by the VMM, and the QEMU commands libvirt
//! asks about a machine, answered from it.
//!
//! libvirt manages a QEMU by asking it what it is: `query-kvm`,
//! `qom-list-types`, `query-machines`, `device-list-properties`,
//! `qom-list`/`qom-get` over the object tree, `query-chardev`, the block,
//! job and migration queries. A VMM that answers "everything exists" makes
//! libvirt use what is not there. Here the VMM declares what it has
//! ([`MachineModel`]), and [`MachineModel::install`] registers those
//! commands, each answered from the declaration (the accelerators listed
//! by `qom-list-types` are the ones declared present, the devices are the
//! declared types, the tree is the declared objects with values read when
//! asked).
//!
//! Opt-in: nothing here is registered unless `install` is called. The
//! commands it registers must not exist already; a VMM that had its own
//! `query-kvm`, `query-chardev` or `query-target` drops them, or `spawn`
//! fails with [`RegistryError::Duplicate`](crate::RegistryError::Duplicate).
//!
//! Registered: `query-kvm`, `query-target`, `query-machines`,
//! `qom-list-types`, `qom-list-properties`, `device-list-properties`,
//! `qom-list`, `qom-get`, `query-chardev`, `query-block`,
//! `query-named-block-nodes`, `query-blockstats`, `query-iothreads`,
//! `query-jobs`, `query-tpm-models`, `query-migrate-capabilities`,
//! `migrate-set-capabilities`, `query-command-line-options`.
//!
//! # Example
//!
//! ```
//! use monitor_core::client::Client;
//! use monitor_core::machine::{MachineModel, MachineType, ObjectProperty, QomObject, QomType};
//! use monitor_core::{Monitor, QEMU_7_2};
//! use serde_json::json;
//!
//! let model = MachineModel::new("x86_64")
//!     .kvm(true, true)
//!     .machine(MachineType { is_default: true, ..MachineType::new("microvm", 8) })
//!     .qom_type(QomType::new("isa-serial", "device").property(ObjectProperty::new("chardev", "str")))
//!     .object("/machine", QomObject::new("microvm-machine"))
//!     .object("/machine/peripheral/serial0", QomObject::new("isa-serial"));
//!
//! let path = std::env::temp_dir().join(format!("machine-doc-{}.sock", std::process::id()));
//! let builder = Monitor::builder().qemu_compat(QEMU_7_2, "my-vmm", "0.1.0").listen_unix(&path);
//! let monitor = model.install(builder).spawn()?;
//!
//! let mut client = Client::connect_unix(&path)?;
//! client.negotiate()?;
//! assert_eq!(client.execute("query-kvm", json!({}))?, json!({"enabled": true, "present": true}));
//! let types = client.execute("qom-list-types", json!({"implements": "accel"}))?;
//! assert_eq!(types, json!([{"name": "accel", "parent": "object"}, {"name": "kvm-accel", "parent": "accel"}]));
//! let peripherals = client.execute("qom-list", json!({"path": "/machine/peripheral"}))?;
//! assert_eq!(peripherals[1], json!({"name": "serial0", "type": "child<isa-serial>"}));
//! monitor.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use indexmap::IndexMap;
use parking_lot::RwLock;

use crate::monitor::MonitorBuilder;

mod commands;
mod declare;
mod error;
mod qom;
mod tree;
mod wire;

pub use declare::{
    ChardevInfo, CommandLineOption, CommandLineParameter, CommandLineParameterType, IoThreadInfo,
    MachineType, ObjectProperty, QomType, TpmModel,
};
pub use error::ModelError;
pub use tree::QomObject;

type ChardevSource = Arc<dyn Fn() -> Vec<ChardevInfo> + Send + Sync>;

/// Everything declared, behind the model's lock.
#[derive(Default)]
struct Declared {
    arch: String,
    kvm: wire::KvmInfo,
    tcg: bool,
    machines: Vec<MachineType>,
    types: Vec<QomType>,
    tree: tree::Tree,
    /// The first mistake of a builder-time [`MachineModel::object`].
    tree_error: Option<ModelError>,
    chardevs: Option<ChardevSource>,
    iothreads: Vec<IoThreadInfo>,
    tpm_models: Vec<TpmModel>,
    migration: IndexMap<String, bool>,
    migration_duplicate: Option<String>,
    options: Vec<CommandLineOption>,
    // Nothing declares these yet: a VMM built on this model has no block
    // devices and runs no jobs, and the commands answer these lists.
    block: Vec<wire::BlockInfo>,
    block_nodes: Vec<wire::BlockDeviceInfo>,
    block_stats: Vec<wire::BlockStats>,
    jobs: Vec<wire::JobInfo>,
}

impl Declared {
    /// Built-ins, then generated accelerator and machine types, then the
    /// declared ones; a declared type replaces a generated one of its name
    /// (to give `none-machine` properties).
    fn type_table(&self) -> qom::TypeTable {
        let mut types = qom::builtin_types();
        let mut generated = Vec::new();
        if self.kvm.present {
            generated.push(QomType::new("kvm-accel", "accel"));
        }
        if self.tcg {
            generated.push(QomType::new("tcg-accel", "accel"));
        }
        generated.extend(
            self.machines
                .iter()
                .map(|m| QomType::new(m.qom_type(), "machine")),
        );
        generated.retain(|g| !self.types.iter().any(|t| t.name == g.name));
        types.extend(generated);
        types.extend(self.types.iter().cloned());
        qom::TypeTable::new(types)
    }

    fn check_object_types(&self, table: &qom::TypeTable) -> Result<(), ModelError> {
        for (path, type_name) in self.tree.objects() {
            if table.find(type_name).is_none() {
                return Err(ModelError::UnknownObjectType {
                    path: path.to_owned(),
                    type_name: type_name.to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// What a VMM declares about itself, and the commands answered from it.
///
/// A cheap handle: clones share the model, so the VMM keeps one to change
/// it while the monitor runs ([`add_object`](Self::add_object) on
/// hot-plug). [`install`](Self::install) also registers it as monitor
/// state, so the VMM's own commands can take `&MachineModel`.
///
/// The builder methods declare; [`validate`](Self::validate), which
/// `spawn` runs, checks the whole declaration.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::{ChardevInfo, MachineModel, MachineType};
///
/// let model = MachineModel::new("x86_64")
///     .kvm(false, true)
///     .tcg(true)
///     .machine(MachineType { is_default: true, ..MachineType::new("refvmm", 1) })
///     .chardevs(|| vec![ChardevInfo::new("charserial0", "pty:/dev/pts/4")]);
/// assert_eq!(model.validate(), Ok(()));
/// ```
#[derive(Clone)]
pub struct MachineModel {
    inner: Arc<RwLock<Declared>>,
}

impl std::fmt::Debug for MachineModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.inner.read();
        f.debug_struct("MachineModel")
            .field("arch", &d.arch)
            .field("machines", &d.machines.len())
            .field("types", &d.types.len())
            .finish_non_exhaustive()
    }
}

impl MachineModel {
    /// A model of a VMM for `target_arch` (QEMU's name: `x86_64`,
    /// `aarch64`) with no accelerator, machine type, type, object or
    /// chardev, and the `events` migration capability (off): libvirt sets
    /// `events` on every start. No migration ever runs, so no MIGRATION
    /// event is emitted whatever its state.
    pub fn new(target_arch: impl Into<String>) -> Self {
        let mut declared = Declared {
            arch: target_arch.into(),
            ..Declared::default()
        };
        declared.migration.insert("events".into(), false);
        MachineModel {
            inner: Arc::new(RwLock::new(declared)),
        }
    }

    fn with(self, f: impl FnOnce(&mut Declared)) -> Self {
        f(&mut self.inner.write());
        self
    }

    /// KVM: whether it is the accelerator in use and whether the host has
    /// it (`query-kvm`); when present, `qom-list-types` lists `kvm-accel`.
    pub fn kvm(self, enabled: bool, present: bool) -> Self {
        self.with(|d| d.kvm = wire::KvmInfo { enabled, present })
    }

    /// Whether the VMM can run without KVM (QEMU's TCG): only then does
    /// `qom-list-types` list `tcg-accel`, which makes libvirt probe a
    /// second time with `accel=tcg`.
    pub fn tcg(self, available: bool) -> Self {
        self.with(|d| d.tcg = available)
    }

    /// Declares a machine type (`query-machines`; QOM type `NAME-machine`).
    pub fn machine(self, machine: MachineType) -> Self {
        self.with(|d| d.machines.push(machine))
    }

    /// Declares a QOM type.
    pub fn qom_type(self, qom_type: QomType) -> Self {
        self.with(|d| d.types.push(qom_type))
    }

    /// Declares an object of the QOM tree at an absolute path; missing
    /// ancestors become `container` objects until declared. Mistakes are
    /// reported by [`validate`](Self::validate).
    pub fn object(self, path: &str, object: QomObject) -> Self {
        let path = path.to_owned();
        self.with(move |d| {
            if let Err(e) = d.tree.insert(&path, object) {
                d.tree_error.get_or_insert(e);
            }
        })
    }

    /// Where `query-chardev` gets the chardevs, each time it is asked.
    pub fn chardevs(self, list: impl Fn() -> Vec<ChardevInfo> + Send + Sync + 'static) -> Self {
        self.with(|d| d.chardevs = Some(Arc::new(list)))
    }

    /// Declares an I/O thread (`query-iothreads`).
    pub fn iothread(self, iothread: IoThreadInfo) -> Self {
        self.with(|d| d.iothreads.push(iothread))
    }

    /// Declares a TPM model the VMM emulates (`query-tpm-models`).
    pub fn tpm_model(self, model: TpmModel) -> Self {
        self.with(|d| d.tpm_models.push(model))
    }

    /// Replaces the declared migration capabilities (all off at first).
    /// Leaving out `events` is allowed, but libvirt's
    /// `migrate-set-capabilities` of it then fails and so does the start.
    pub fn migration_capabilities<I, S>(self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.with(|d| {
            d.migration.clear();
            for name in names {
                let name = name.into();
                if d.migration.insert(name.clone(), false).is_some() {
                    d.migration_duplicate.get_or_insert(name);
                }
            }
        })
    }

    /// Declares a command-line option (`query-command-line-options`).
    pub fn command_line_option(self, option: CommandLineOption) -> Self {
        self.with(|d| d.options.push(option))
    }

    /// Adds an object to the tree while the monitor runs (a hot-plugged
    /// device under `/machine/peripheral`).
    ///
    /// # Errors
    ///
    /// [`ModelError::RelativePath`], [`ModelError::ObjectExists`], or
    /// [`ModelError::UnknownObjectType`] when its type is not declared.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::machine::{MachineModel, ModelError, QomObject, QomType};
    ///
    /// let model = MachineModel::new("x86_64").qom_type(QomType::new("virtio-rng-pci", "device"));
    /// model.add_object("/machine/peripheral/rng0", QomObject::new("virtio-rng-pci"))?;
    /// assert!(model.add_object("/machine/peripheral/x", QomObject::new("nope")).is_err());
    /// model.remove_object("/machine/peripheral/rng0")?;
    /// # Ok::<(), ModelError>(())
    /// ```
    pub fn add_object(&self, path: &str, object: QomObject) -> Result<(), ModelError> {
        let mut d = self.inner.write();
        let table = d.type_table();
        if table.find(object.type_name()).is_none() {
            return Err(ModelError::UnknownObjectType {
                path: path.to_owned(),
                type_name: object.type_name().to_owned(),
            });
        }
        d.tree.insert(path, object)
    }

    /// Removes an object and its descendants from the tree (`device_del`).
    ///
    /// # Errors
    ///
    /// [`ModelError::NoObject`], or [`ModelError::RemoveRoot`] for `/`.
    pub fn remove_object(&self, path: &str) -> Result<(), ModelError> {
        self.inner.write().tree.remove(path)
    }

    /// Sets KVM's state while the monitor runs (`query-kvm`).
    pub fn set_kvm(&self, enabled: bool, present: bool) {
        self.inner.write().kvm = wire::KvmInfo { enabled, present };
    }

    /// The state of a declared migration capability (`None`: undeclared).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::machine::MachineModel;
    ///
    /// let model = MachineModel::new("x86_64");
    /// assert_eq!(model.migration_capability("events"), Some(false));
    /// assert_eq!(model.migration_capability("xbzrle"), None);
    /// ```
    pub fn migration_capability(&self, name: &str) -> Option<bool> {
        self.inner.read().migration.get(name).copied()
    }

    /// Checks the whole declaration: types (parents exist, no cycles, no
    /// name twice), objects (absolute paths, declared types, one object a
    /// path), machine types (names and aliases unique, one default at
    /// most), migration capabilities (unique). `spawn` runs it.
    ///
    /// # Errors
    ///
    /// The first [`ModelError`] found.
    pub fn validate(&self) -> Result<(), ModelError> {
        let d = self.inner.read();
        if let Some(e) = &d.tree_error {
            return Err(e.clone());
        }
        if let Some(name) = &d.migration_duplicate {
            return Err(ModelError::DuplicateCapability(name.clone()));
        }
        let table = d.type_table();
        table.check()?;
        d.check_object_types(&table)?;
        let mut names: Vec<&str> = Vec::new();
        let mut default: Option<&str> = None;
        for m in &d.machines {
            for name in std::iter::once(m.name.as_str()).chain(m.alias.as_deref()) {
                if names.contains(&name) {
                    return Err(ModelError::DuplicateMachine(name.to_owned()));
                }
                names.push(name);
            }
            if m.is_default {
                if let Some(first) = default {
                    return Err(ModelError::SeveralDefaults(first.into(), m.name.clone()));
                }
                default = Some(&m.name);
            }
        }
        Ok(())
    }

    /// Registers the machine commands on `builder`, the model as state
    /// (`&MachineModel` in the VMM's handlers), and [`validate`](Self::validate)
    /// as a start-up check: `spawn` fails with
    /// [`Error::Check`](crate::Error::Check) on a bad declaration, and with
    /// [`Error::Registry`](crate::Error::Registry) if the VMM registered
    /// one of these commands itself.
    pub fn install(&self, builder: MonitorBuilder) -> MonitorBuilder {
        let model = self.clone();
        let mut builder = builder
            .state(self.clone())
            .startup_check("the machine model", move |_| {
                model.validate().map_err(Into::into)
            });
        for command in commands::commands(self) {
            builder = builder.command(command);
        }
        builder
    }
}
