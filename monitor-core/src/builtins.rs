//! The commands every QMP server has (QEMU's `control.json`).

use serde::{Deserialize, Serialize};

use crate::args;
use crate::command::{schema_of, Command, Handler, SessionCommand};
use crate::dispatch::Context;
use crate::event::{Event, EventDescriptor};
use crate::reply::{Outcome, Reply};
use crate::schema::{Member, ObjectInfo, Schema, SchemaGen, TypeKey, Variant};
use crate::value::Map;

/// `query-version`'s `qemu` member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionTriple {
    // Declared in the order QEMU writes them on the wire.
    /// Micro version (50+ development, 90+ release candidate).
    pub micro: i64,
    /// Minor version.
    pub minor: i64,
    /// Major version.
    pub major: i64,
}

/// QEMU 7.2.0: the QMP protocol level monitor-core implements, for
/// [`MonitorBuilder::qemu_compat`](crate::MonitorBuilder::qemu_compat).
///
/// Reporting it promises QEMU 7.2's QMP wire behaviour (framing,
/// negotiation, error texts, the shapes of the commands the VMM registers);
/// it does not promise QEMU's devices or commands, which the VMM declares
/// (`query-commands`, `query-qmp-schema`, [`machine`](crate::machine)).
/// libvirt 9.0 refuses a QEMU older than 4.2.
///
/// # Examples
///
/// ```
/// use monitor_core::QEMU_7_2;
///
/// assert_eq!((QEMU_7_2.major, QEMU_7_2.minor, QEMU_7_2.micro), (7, 2, 0));
/// ```
pub const QEMU_7_2: VersionTriple = VersionTriple {
    micro: 0,
    minor: 2,
    major: 7,
};

/// The `query-version` result, also the greeting's `version`.
///
/// # Examples
///
/// ```
/// use monitor_core::VersionInfo;
///
/// let v = VersionInfo::new(7, 2, 0, "my-vmm");
/// assert_eq!(v.qemu.major, 7);
/// assert_eq!(v.package, "my-vmm");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version numbers.
    pub qemu: VersionTriple,
    /// Free-form package name (QEMU upstream: empty).
    pub package: String,
}

impl VersionInfo {
    /// A version.
    pub fn new(major: i64, minor: i64, micro: i64, package: impl Into<String>) -> Self {
        VersionInfo {
            qemu: VersionTriple {
                major,
                minor,
                micro,
            },
            package: package.into(),
        }
    }
}

impl Default for VersionInfo {
    fn default() -> Self {
        let part = |s: &str| s.parse().unwrap_or(0);
        VersionInfo::new(
            part(env!("CARGO_PKG_VERSION_MAJOR")),
            part(env!("CARGO_PKG_VERSION_MINOR")),
            part(env!("CARGO_PKG_VERSION_PATCH")),
            "",
        )
    }
}

impl Schema for VersionInfo {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            let triple = schema_gen.object::<VersionTriple>(|schema_gen| {
                // QEMU's schema order (the wire order differs).
                let int = schema_gen.describe::<i64>();
                ObjectInfo::new(vec![
                    Member::new("major", int.clone()),
                    Member::new("minor", int.clone()),
                    Member::new("micro", int),
                ])
            });
            ObjectInfo::new(vec![
                Member::new("qemu", triple),
                Member::new("package", schema_gen.describe::<String>()),
            ])
        })
    }
}

/// `qmp_capabilities`' argument enum (QEMU's `QMPCapability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

impl Schema for Capability {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.enumeration::<Self>(&["oob"])
    }
}

/// `qmp_capabilities`' arguments.
#[derive(Debug, Deserialize)]
pub(crate) struct CapabilitiesArgs {
    pub(crate) enable: Option<Vec<Capability>>,
}

impl Schema for CapabilitiesArgs {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            ObjectInfo::new(vec![Member::optional(
                "enable",
                schema_gen.describe::<Vec<Capability>>(),
            )])
        })
    }
}

/// `query-commands` and `query-events` entries: `{"name": str}`.
#[derive(Debug, Serialize)]
pub(crate) struct NameInfo<'a> {
    pub(crate) name: &'a str,
}

impl Schema for NameInfo<'static> {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            ObjectInfo::new(vec![Member::new("name", schema_gen.describe::<String>())])
        })
    }
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

/// `SHUTDOWN`'s data.
#[derive(Debug, Serialize)]
pub(crate) struct Shutdown {
    guest: bool,
    reason: &'static str,
}

/// QEMU's `ShutdownCause`.
pub(crate) struct ShutdownCause;

impl Schema for ShutdownCause {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.enumeration::<Self>(&[
            "none",
            "host-error",
            "host-qmp-quit",
            "host-qmp-system-reset",
            "host-signal",
            "host-ui",
            "guest-shutdown",
            "guest-reset",
            "guest-panic",
            "subsystem-reset",
            "snapshot-load",
        ])
    }
}

impl Schema for Shutdown {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            ObjectInfo::new(vec![
                Member::new("guest", schema_gen.describe::<bool>()),
                Member::new("reason", schema_gen.describe::<ShutdownCause>()),
            ])
        })
    }
}

fn query_version(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    Reply::new(ctx.state::<VersionInfo>()?)
}

fn quit(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    let event = Event::new("SHUTDOWN").with_data(&Shutdown {
        guest: false,
        reason: "host-qmp-quit",
    })?;
    ctx.emitter().emit(event);
    ctx.request_quit();
    Ok(Reply::empty())
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
            Handler::Session(SessionCommand::Capabilities),
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
            Handler::Session(SessionCommand::QueryCommands),
            "Return the list of supported QMP commands.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<NameInfo<'static>>>),
        builtin(
            "quit",
            Handler::Fn(quit),
            "Emit SHUTDOWN, answer, and ask the VMM to exit.",
        )
        .schema(schema_of::<()>, schema_of::<()>),
        builtin(
            "query-events",
            Handler::Session(SessionCommand::QueryEvents),
            "Return the list of events the VMM may emit.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<NameInfo<'static>>>),
        builtin(
            "query-qmp-schema",
            Handler::Session(SessionCommand::QuerySchema),
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
