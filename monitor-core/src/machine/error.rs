//! Mistakes in a model's declaration.

use thiserror::Error;

/// A model declaration the model refuses: at [`MonitorBuilder::spawn`](crate::MonitorBuilder::spawn)
/// (through [`MachineModel::validate`](super::MachineModel::validate)) for what was declared before, at
/// once for run-time changes.
///
/// # Examples
///
/// ```
/// use monitor_core::machine::{MachineModel, ModelError, QomType};
///
/// let model = MachineModel::new("x86_64").qom_type(QomType::new("isa-serial", "isa-device"));
/// assert_eq!(
///     model.validate(),
///     Err(ModelError::UnknownParent { name: "isa-serial".into(), parent: "isa-device".into() })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    /// Object paths are absolute (`/machine/peripheral/serial0`).
    #[error("QOM path `{0}` is not absolute")]
    RelativePath(String),
    /// An object was declared at a path that has one.
    #[error("a QOM object is already declared at `{0}`")]
    ObjectExists(String),
    /// No object at the path to remove.
    #[error("no QOM object at `{0}`")]
    NoObject(String),
    /// The root `/` is always there.
    #[error("the QOM root `/` cannot be removed")]
    RemoveRoot,
    /// An object's type is not in the type table.
    #[error("QOM object `{path}` has type `{type_name}`, which is not declared")]
    UnknownObjectType {
        /// The object's path.
        path: String,
        /// Its type.
        type_name: String,
    },
    /// Two types (declared or built in) share a name.
    #[error("QOM type `{0}` is declared twice (or is a built-in type)")]
    DuplicateType(String),
    /// A declared type without a parent (only `object` has none).
    #[error("QOM type `{0}` has no parent")]
    NoParent(String),
    /// A type's parent is not in the type table.
    #[error("QOM type `{name}` has parent `{parent}`, which is not declared")]
    UnknownParent {
        /// The type.
        name: String,
        /// Its missing parent.
        parent: String,
    },
    /// A type is its own ancestor.
    #[error("QOM type `{0}` is its own ancestor")]
    Cycle(String),
    /// Two machine types share a name or alias.
    #[error("machine type name `{0}` is declared twice")]
    DuplicateMachine(String),
    /// More than one machine type is the default.
    #[error("machine types `{0}` and `{1}` are both the default")]
    SeveralDefaults(String, String),
    /// A migration capability was declared twice.
    #[error("migration capability `{0}` is declared twice")]
    DuplicateCapability(String),
}
