//! The version a monitor reports (`query-version` and the greeting).

use serde::{Deserialize, Serialize};

use crate::introspect::{Member, ObjectInfo, Schema, SchemaGen};

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
