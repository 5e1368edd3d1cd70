//! The commands every QMP server has (QEMU's `control.json`; what each
//! answers: `docs/PROTOCOL.md`, section 14).

use serde::{Deserialize, Serialize};

use crate::args;
use crate::command::Command;
use crate::command::Registration;
use crate::dispatch::Context;
use crate::dispatch::Handler;
use crate::error::CommandError;
use crate::event::{EventDescriptor, EventRegistration, TypedEvent};
use crate::registry::{Registry, RegistryError};
use crate::reply::{Outcome, Reply};
use crate::schema::{schema_of, Member, ObjectInfo, SchemaGen, TypeKey, Variant};
use crate::value::Map;
use crate::version::VersionInfo;
use crate::Schema;

/// `qmp_capabilities`' argument enum (QEMU's `QMPCapability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Capability {
    Oob,
}

impl Capability {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Capability::Oob => "oob",
        }
    }
}

/// `qmp_capabilities`' arguments.
#[derive(Debug, Deserialize, Schema)]
pub(crate) struct CapabilitiesArgs {
    pub(crate) enable: Option<Vec<Capability>>,
}

/// `query-commands` and `query-events` entries: `{"name": str}`.
#[derive(Debug, Serialize, Schema)]
pub(crate) struct NameInfo {
    pub(crate) name: String,
}

/// The result of `query-qmp-schema`, described as QEMU describes it.
pub(crate) struct SchemaInfoType;

impl Schema for SchemaInfoType {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            let metas = [
                "builtin",
                "enum",
                "array",
                "object",
                "alternate",
                "command",
                "event",
            ];
            let meta =
                schema_gen.enumeration_keyed(TypeKey::Named("SchemaMetaType".into()), &metas);
            let str_t = schema_gen.describe::<String>();
            let strs = schema_gen.describe::<Vec<String>>();
            let any = schema_gen.builtin("any", "value");
            let bool_t = schema_gen.describe::<bool>();
            let obj = |schema_gen: &mut SchemaGen, key: &str, members: Vec<Member>| {
                schema_gen.object_keyed(TypeKey::Named(key.into()), |_| ObjectInfo::new(members))
            };
            let json_types = [
                "string", "number", "int", "boolean", "null", "object", "array", "value",
            ];
            let json_type =
                schema_gen.enumeration_keyed(TypeKey::Named("JSONType".into()), &json_types);
            let builtin = obj(
                schema_gen,
                "SchemaInfoBuiltin",
                vec![Member::new("json-type", json_type)],
            );
            let enum_member = obj(
                schema_gen,
                "SchemaInfoEnumMember",
                vec![
                    Member::new("name", str_t.clone()),
                    Member::optional("features", strs.clone()),
                ],
            );
            let enum_members = schema_gen.array(enum_member);
            let mut values = Member::new("values", strs.clone());
            values.features.push("deprecated".into());
            let enumeration = obj(
                schema_gen,
                "SchemaInfoEnum",
                vec![Member::new("members", enum_members), values],
            );
            let array = obj(
                schema_gen,
                "SchemaInfoArray",
                vec![Member::new("element-type", str_t.clone())],
            );
            let member = obj(
                schema_gen,
                "SchemaInfoObjectMember",
                vec![
                    Member::new("name", str_t.clone()),
                    Member::new("type", str_t.clone()),
                    Member::optional("default", any),
                    Member::optional("features", strs.clone()),
                ],
            );
            let members = schema_gen.array(member);
            let variant = obj(
                schema_gen,
                "SchemaInfoObjectVariant",
                vec![
                    Member::new("case", str_t.clone()),
                    Member::new("type", str_t.clone()),
                ],
            );
            let variants = schema_gen.array(variant);
            let object = obj(
                schema_gen,
                "SchemaInfoObject",
                vec![
                    Member::new("members", members),
                    Member::optional("tag", str_t.clone()),
                    Member::optional("variants", variants),
                ],
            );
            let alt_member = obj(
                schema_gen,
                "SchemaInfoAlternateMember",
                vec![Member::new("type", str_t.clone())],
            );
            let alt_members = schema_gen.array(alt_member);
            let alternate = obj(
                schema_gen,
                "SchemaInfoAlternate",
                vec![Member::new("members", alt_members)],
            );
            let command = obj(
                schema_gen,
                "SchemaInfoCommand",
                vec![
                    Member::new("arg-type", str_t.clone()),
                    Member::new("ret-type", str_t.clone()),
                    Member::optional("allow-oob", bool_t),
                ],
            );
            let event = obj(
                schema_gen,
                "SchemaInfoEvent",
                vec![Member::new("arg-type", str_t.clone())],
            );
            let cases = [
                builtin,
                enumeration,
                array,
                object,
                alternate,
                command,
                event,
            ];
            ObjectInfo {
                members: vec![
                    Member::new("name", str_t),
                    Member::new("meta-type", meta),
                    Member::optional("features", strs),
                ],
                tag: Some("meta-type".into()),
                variants: metas
                    .iter()
                    .zip(cases)
                    .map(|(case, type_name)| Variant {
                        case: (*case).to_owned(),
                        type_name,
                    })
                    .collect(),
            }
        })
    }
}

/// The `SHUTDOWN` event (QEMU's): the VMM is going away. Emit it typed;
/// the monitor declares it.
///
/// # Examples
///
/// ```
/// use monitor_core::{Emitter, Shutdown, ShutdownCause};
///
/// let emitter = Emitter::new();
/// emitter.emit(Shutdown { guest: true, reason: ShutdownCause::GuestShutdown });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Schema)]
pub struct Shutdown {
    /// The guest asked for it (`false`: the host did).
    pub guest: bool,
    /// Why.
    pub reason: ShutdownCause,
}

impl TypedEvent for Shutdown {
    const NAME: &'static str = "SHUTDOWN";
}

/// Why the VMM shuts down or resets (QEMU's `ShutdownCause`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Schema)]
#[serde(rename_all = "kebab-case")]
pub enum ShutdownCause {
    /// No particular cause.
    None,
    /// An error in the host.
    HostError,
    /// QMP's `quit`.
    HostQmpQuit,
    /// QMP's `system_reset`.
    HostQmpSystemReset,
    /// A signal (SIGINT, SIGTERM, SIGHUP).
    HostSignal,
    /// The user interface (a window closed).
    HostUi,
    /// The guest powered off.
    GuestShutdown,
    /// The guest reset itself.
    GuestReset,
    /// The guest panicked.
    GuestPanic,
    /// A reset of part of the machine.
    SubsystemReset,
    /// A snapshot was loaded.
    SnapshotLoad,
}

fn query_version(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    Reply::new(ctx.state::<VersionInfo>()?)
}

fn quit(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    ctx.emitter().emit(Shutdown {
        guest: false,
        reason: ShutdownCause::HostQmpQuit,
    });
    ctx.request_quit();
    Ok(Reply::empty())
}

/// `qmp_capabilities` is the session's own (its state machine runs it
/// before looking for a handler): only a console, which has no
/// negotiation, gets here.
fn capabilities_elsewhere(_ctx: &Context<'_>, _arguments: Map) -> Outcome {
    Err(CommandError::generic(
        "The command qmp_capabilities is only available over QMP",
    ))
}

/// `query-commands`: every command of the registry, in registration order.
fn query_commands(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    let registry = ctx.dispatcher().registry();
    let list: Vec<NameInfo> = registry
        .names()
        .map(|name| NameInfo {
            name: name.to_owned(),
        })
        .collect();
    Reply::new(&list)
}

/// `query-events`: every event declared, in declaration order.
fn query_events(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    let registry = ctx.dispatcher().registry();
    let list: Vec<NameInfo> = registry
        .events()
        .map(|e| NameInfo {
            name: e.name().to_owned(),
        })
        .collect();
    Reply::new(&list)
}

/// `query-qmp-schema`: the registry's commands and events, described.
fn query_qmp_schema(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    Reply::new(&ctx.dispatcher().registry().schema())
}

/// The built-in commands, in QEMU's order.
pub(crate) fn commands() -> Vec<Command> {
    let builtin = |name: &str, handler: Handler, doc: &str| {
        Command::new(name, handler)
            .origin(format!("the built-in `{name}`"))
            .doc(doc)
    };
    vec![
        builtin(
            "qmp_capabilities",
            Handler::Fn(capabilities_elsewhere),
            "Enable QMP capabilities and leave capabilities negotiation mode.",
        )
        .schema(schema_of::<CapabilitiesArgs>, schema_of::<()>),
        builtin(
            "query-version",
            Handler::Fn(query_version),
            "Return the current version of the VMM.",
        )
        .schema(schema_of::<()>, schema_of::<VersionInfo>),
        builtin(
            "query-commands",
            Handler::Fn(query_commands),
            "Return the list of supported QMP commands.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<NameInfo>>),
        builtin(
            "quit",
            Handler::Fn(quit),
            "Emit SHUTDOWN, answer, and ask the VMM to exit.",
        )
        .schema(schema_of::<()>, schema_of::<()>),
        builtin(
            "query-events",
            Handler::Fn(query_events),
            "Return the list of events the VMM may emit.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<NameInfo>>),
        builtin(
            "query-qmp-schema",
            Handler::Fn(query_qmp_schema),
            "Return the QMP wire ABI: every command, event and type.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<SchemaInfoType>>),
    ]
    .into_iter()
    .chain(crate::fd_commands::commands())
    .collect()
}

/// The built-in events.
pub(crate) fn events() -> Vec<EventDescriptor> {
    vec![EventDescriptor::new("SHUTDOWN")
        .data(schema_of::<Shutdown>)
        .origin("the built-in `SHUTDOWN`")]
}

/// Building a registry with the built-ins lives here, with them.
impl Registry {
    /// The built-ins plus every `inventory` registration in the program.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] when two share a name.
    pub fn with_inventory() -> Result<Self, RegistryError> {
        let mut registry = Registry::new();
        for command in commands() {
            registry.insert(command)?;
        }
        let mut registrations: Vec<&Registration> =
            inventory::iter::<Registration>.into_iter().collect();
        registrations.sort_by_key(|r| r.name);
        for r in registrations {
            registry.insert(r.to_command())?;
        }
        for event in events() {
            registry.insert_event(event)?;
        }
        let mut events: Vec<&EventRegistration> =
            inventory::iter::<EventRegistration>.into_iter().collect();
        events.sort_by_key(|r| r.name);
        for e in events {
            registry.insert_event(e.to_descriptor())?;
        }
        Ok(registry)
    }
}
