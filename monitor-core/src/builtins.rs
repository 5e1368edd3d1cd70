//! The commands every QMP server has (QEMU's `control.json`).

use serde::{Deserialize, Serialize};

use crate::args;
use crate::command::{Command, Context, Handler, Outcome, Reply, SessionCommand};
use crate::event::Event;
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

/// `qmp_capabilities`' arguments.
#[derive(Debug, Deserialize)]
pub(crate) struct CapabilitiesArgs {
    pub(crate) enable: Option<Vec<Capability>>,
}

fn query_version(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    Reply::new(ctx.state::<VersionInfo>()?)
}

fn quit(ctx: &Context<'_>, arguments: Map) -> Outcome {
    args::expect_none(&arguments)?;
    #[derive(Serialize)]
    struct Shutdown {
        guest: bool,
        reason: &'static str,
    }
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
        ),
        builtin(
            "query-version",
            Handler::Fn(query_version),
            "Return the current version of the VMM.",
        ),
        builtin(
            "query-commands",
            Handler::Session(SessionCommand::QueryCommands),
            "Return the list of supported QMP commands.",
        ),
        builtin(
            "quit",
            Handler::Fn(quit),
            "Emit SHUTDOWN, answer, and ask the VMM to exit.",
        ),
    ]
}
