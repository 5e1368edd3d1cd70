//! Arguments and answers of the machine commands, shaped as QEMU 7.2's
//! QAPI types (member names, optional members), since libvirt reads them
//! from `query-qmp-schema` too (`query-named-block-nodes/arg-type/flat`,
//! `query-iothreads/ret-type/poll-max-ns`).

use serde::{Deserialize, Serialize};

use crate::Schema;

/// `query-kvm`'s answer (`KvmInfo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Schema)]
pub(crate) struct KvmInfo {
    pub(crate) enabled: bool,
    pub(crate) present: bool,
}

/// `query-target`'s answer (`TargetInfo`).
#[derive(Debug, Clone, Serialize, Schema)]
pub(crate) struct TargetInfo {
    pub(crate) arch: String,
}

/// A `query-machines` entry (`MachineInfo`): `alias`, `is-default`,
/// `default-cpu-type` and `default-ram-id` only when set, as QEMU writes it.
#[derive(Debug, Clone, Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct MachineInfo {
    pub(crate) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) is_default: Option<bool>,
    pub(crate) cpu_max: i64,
    pub(crate) hotpluggable_cpus: bool,
    pub(crate) numa_mem_supported: bool,
    pub(crate) deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) default_cpu_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) default_ram_id: Option<String>,
}

/// `qom-list-types`' arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct QomListTypesArgs {
    pub(crate) implements: Option<String>,
    #[serde(rename = "abstract")]
    pub(crate) include_abstract: Option<bool>,
}

/// A `qom-list-types` entry (`ObjectTypeInfo`): `abstract` only when true,
/// `parent` for every type but `object`, as QEMU writes it.
#[derive(Debug, Clone, Serialize, Schema)]
pub(crate) struct ObjectTypeInfo {
    pub(crate) name: String,
    #[serde(rename = "abstract", skip_serializing_if = "Option::is_none")]
    pub(crate) is_abstract: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parent: Option<String>,
}

/// `device-list-properties` and `qom-list-properties` arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct TypenameArgs {
    pub(crate) typename: String,
}

/// `qom-list`'s arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct QomListArgs {
    pub(crate) path: String,
}

/// `qom-get`'s arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct QomGetArgs {
    pub(crate) path: String,
    pub(crate) property: String,
}

/// `query-named-block-nodes`' arguments: libvirt checks the schema for
/// `flat` and sends `flat: true`.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct NamedBlockNodesArgs {
    #[allow(dead_code)] // accepted for the schema; no nodes to flatten
    pub(crate) flat: Option<bool>,
}

/// `query-blockstats`' arguments (libvirt sends `query-nodes: true`).
#[derive(Debug, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct BlockstatsArgs {
    #[allow(dead_code)] // accepted for the schema; no nodes to report
    pub(crate) query_nodes: Option<bool>,
}

// The block and job entries below are the members of QEMU's types that a
// device without a medium has. No declaration makes them yet (the model
// declares no block devices and runs no block jobs); they exist so that the
// answers come from the model's lists and the schema names QEMU's members.

/// A `query-block` entry (QEMU's `BlockInfo`, without `inserted`).
#[derive(Debug, Clone, Serialize, Schema)]
pub(crate) struct BlockInfo {
    pub(crate) device: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) qdev: Option<String>,
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    pub(crate) removable: bool,
    pub(crate) locked: bool,
}

/// A `query-named-block-nodes` entry (the identifying members of QEMU's
/// `BlockDeviceInfo`).
#[derive(Debug, Clone, Serialize, Schema)]
pub(crate) struct BlockDeviceInfo {
    #[serde(rename = "node-name", skip_serializing_if = "Option::is_none")]
    pub(crate) node_name: Option<String>,
    pub(crate) file: String,
    pub(crate) ro: bool,
    pub(crate) drv: String,
}

/// A `query-blockstats` entry (the identifying members of QEMU's
/// `BlockStats`).
#[derive(Debug, Clone, Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct BlockStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) device: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) qdev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) node_name: Option<String>,
}

/// A `query-jobs` entry (QEMU's `JobInfo`).
#[derive(Debug, Clone, Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct JobInfo {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    pub(crate) status: String,
    pub(crate) current_progress: i64,
    pub(crate) total_progress: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
}

/// A `query-migrate-capabilities` entry and a `migrate-set-capabilities`
/// element (`MigrationCapabilityStatus`).
#[derive(Debug, Clone, Serialize, Deserialize, Schema)]
pub(crate) struct MigrationCapabilityStatus {
    // QEMU's type is the `MigrationCapability` enum; the values a VMM
    // declares are known only at run time, and a schema hook is a plain
    // function, so it is described as `str` and checked by the handler
    // with the enum's message.
    pub(crate) capability: String,
    pub(crate) state: bool,
}

/// `migrate-set-capabilities`' arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct MigrateSetCapabilitiesArgs {
    pub(crate) capabilities: Vec<MigrationCapabilityStatus>,
}

/// `query-command-line-options`' arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct CommandLineOptionsArgs {
    pub(crate) option: Option<String>,
}
