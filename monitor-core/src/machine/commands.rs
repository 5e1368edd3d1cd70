//! The commands [`MachineModel::install`] registers, each answered from the
//! model at call time.

use super::declare::{ChardevInfo, CommandLineOption, IoThreadInfo, ObjectProperty, TpmModel};
use super::tree::Got;
use super::wire::{
    BlockDeviceInfo, BlockInfo, BlockStats, BlockstatsArgs, CommandLineOptionsArgs, JobInfo,
    KvmInfo, MachineInfo, MigrateSetCapabilitiesArgs, MigrationCapabilityStatus,
    NamedBlockNodesArgs, ObjectTypeInfo, QomGetArgs, QomListArgs, QomListTypesArgs, TargetInfo,
    TypenameArgs,
};
use super::{Declared, MachineModel};
use crate::command::Command;
use crate::error::CommandError;

/// A command whose answer reads the model under its lock.
fn query<A, R>(
    model: &MachineModel,
    name: &str,
    doc: &str,
    answer: impl Fn(&Declared, A) -> Result<R, CommandError> + Send + Sync + 'static,
) -> Command
where
    A: serde::de::DeserializeOwned + crate::Schema,
    R: serde::Serialize + crate::Schema,
{
    let model = model.clone();
    Command::typed(name, move |_, args: A| answer(&model.inner.read(), args))
        .origin(format!("`{name}` of monitor_core::machine"))
        .doc(doc)
}

pub(super) fn commands(model: &MachineModel) -> Vec<Command> {
    vec![
        query(
            model,
            "query-kvm",
            "Whether KVM is present and in use.",
            |d, ()| Ok::<KvmInfo, _>(d.kvm),
        ),
        query(
            model,
            "query-target",
            "The target architecture.",
            |d, ()| {
                Ok(TargetInfo {
                    arch: d.arch.clone(),
                })
            },
        ),
        query(
            model,
            "query-machines",
            "The machine types the VMM runs.",
            |d, ()| Ok(d.machines.iter().map(machine_info).collect::<Vec<_>>()),
        ),
        query(
            model,
            "qom-list-types",
            "The QOM types, filtered by ancestor and abstractness.",
            |d, args: QomListTypesArgs| {
                Ok::<Vec<ObjectTypeInfo>, _>(d.type_table().list(
                    args.implements.as_deref(),
                    args.include_abstract.unwrap_or(false),
                ))
            },
        ),
        query(
            model,
            "qom-list-properties",
            "The properties of a QOM type; none for an unknown type.",
            |d, args: TypenameArgs| {
                Ok::<Vec<ObjectProperty>, _>(d.type_table().qom_properties(&args.typename))
            },
        ),
        query(
            model,
            "device-list-properties",
            "The properties device_add takes for a device type.",
            |d, args: TypenameArgs| d.type_table().device_properties(&args.typename),
        ),
        query(
            model,
            "qom-list",
            "The properties and children of a QOM object.",
            |d, args: QomListArgs| d.tree.list(&args.path),
        ),
        qom_get(model),
        chardevs(model),
        query(
            model,
            "query-block",
            "The block devices (the model declares none).",
            |d, ()| Ok::<Vec<BlockInfo>, _>(d.block.clone()),
        ),
        query(
            model,
            "query-named-block-nodes",
            "The named block nodes (the model declares no block devices).",
            |d, _: NamedBlockNodesArgs| Ok::<Vec<BlockDeviceInfo>, _>(d.block_nodes.clone()),
        ),
        query(
            model,
            "query-blockstats",
            "Block statistics (the model declares no block devices).",
            |d, _: BlockstatsArgs| Ok::<Vec<BlockStats>, _>(d.block_stats.clone()),
        ),
        query(
            model,
            "query-iothreads",
            "The declared I/O threads.",
            |d, ()| Ok::<Vec<IoThreadInfo>, _>(d.iothreads.clone()),
        ),
        query(
            model,
            "query-jobs",
            "The running jobs (the model runs none).",
            |d, ()| Ok::<Vec<JobInfo>, _>(d.jobs.clone()),
        ),
        query(
            model,
            "query-tpm-models",
            "The TPM models the VMM emulates.",
            |d, ()| Ok::<Vec<TpmModel>, _>(d.tpm_models.clone()),
        ),
        query(
            model,
            "query-migrate-capabilities",
            "The declared migration capabilities and their states.",
            |d, ()| {
                Ok::<Vec<MigrationCapabilityStatus>, _>(
                    d.migration
                        .iter()
                        .map(|(capability, state)| MigrationCapabilityStatus {
                            capability: capability.clone(),
                            state: *state,
                        })
                        .collect(),
                )
            },
        ),
        migrate_set_capabilities(model),
        query(
            model,
            "query-command-line-options",
            "The command-line options the VMM takes.",
            |d, args: CommandLineOptionsArgs| command_line_options(&d.options, args.option),
        ),
    ]
}

fn machine_info(m: &super::MachineType) -> MachineInfo {
    MachineInfo {
        name: m.name.clone(),
        alias: m.alias.clone(),
        is_default: m.is_default.then_some(true),
        cpu_max: m.cpu_max,
        hotpluggable_cpus: m.hotpluggable_cpus,
        numa_mem_supported: m.numa_mem_supported,
        deprecated: m.deprecated,
        default_cpu_type: m.default_cpu_type.clone(),
        default_ram_id: m.default_ram_id.clone(),
    }
}

fn qom_get(model: &MachineModel) -> Command {
    let model = model.clone();
    Command::typed("qom-get", move |_, args: QomGetArgs| {
        let got = model.inner.read().tree.get(&args.path, &args.property)?;
        // The reader runs without the model's lock: it may be slow or
        // look at the VMM's own locks, and must not block hot-plug.
        Ok::<serde_json::Value, CommandError>(match got {
            Got::Value(value) => value,
            Got::Read(read) => read(),
        })
    })
    .origin("`qom-get` of monitor_core::machine")
    .doc("The value of a QOM object's property.")
}

fn chardevs(model: &MachineModel) -> Command {
    let model = model.clone();
    Command::typed("query-chardev", move |_, ()| {
        let source = model.inner.read().chardevs.clone();
        // Called without the model's lock, as qom-get's readers are.
        Ok::<Vec<ChardevInfo>, CommandError>(source.map(|list| list()).unwrap_or_default())
    })
    .origin("`query-chardev` of monitor_core::machine")
    .doc("The character devices.")
}

fn migrate_set_capabilities(model: &MachineModel) -> Command {
    let model = model.clone();
    Command::typed(
        "migrate-set-capabilities",
        move |_, args: MigrateSetCapabilitiesArgs| {
            let mut d = model.inner.write();
            // All or nothing, as QEMU: an undeclared capability refuses
            // the whole list, with the message QEMU's enum parser gives
            // for a value outside `MigrationCapability`.
            if let Some(bad) = args
                .capabilities
                .iter()
                .find(|c| !d.migration.contains_key(&c.capability))
            {
                return Err(CommandError::generic(format!(
                    "Parameter 'capability' does not accept value '{}'",
                    bad.capability
                )));
            }
            for c in args.capabilities {
                d.migration.insert(c.capability, c.state);
            }
            Ok(())
        },
    )
    .origin("`migrate-set-capabilities` of monitor_core::machine")
    .doc("Set declared migration capabilities (no migration ever runs).")
}

fn command_line_options(
    options: &[CommandLineOption],
    option: Option<String>,
) -> Result<Vec<CommandLineOption>, CommandError> {
    let Some(name) = option else {
        return Ok(options.to_vec());
    };
    let found: Vec<CommandLineOption> = options
        .iter()
        .filter(|o| o.option == name)
        .cloned()
        .collect();
    if found.is_empty() {
        return Err(CommandError::generic(format!(
            "invalid option name: {name}"
        )));
    }
    Ok(found)
}
