//! The QOM type table: `qom-list-types`, `qom-list-properties`,
//! `device-list-properties`.

use super::declare::{ObjectProperty, QomType};
use super::wire::ObjectTypeInfo;
use super::ModelError;
use crate::error::{CommandError, ErrorClass};

/// QEMU's base types, which every model has.
pub(crate) fn builtin_types() -> Vec<QomType> {
    let object = QomType {
        name: "object".into(),
        parent: None,
        is_abstract: true,
        properties: vec![ObjectProperty::new("type", "string")],
    };
    vec![
        object,
        QomType::new("container", "object"),
        QomType::new("machine", "object").abstract_type(),
        QomType::new("device", "object")
            .abstract_type()
            .property(ObjectProperty::new("parent_bus", "link<bus>"))
            .property(ObjectProperty::new("realized", "bool"))
            .property(ObjectProperty::new("hotplugged", "bool"))
            .property(ObjectProperty::new("hotpluggable", "bool")),
        QomType::new("accel", "object"),
    ]
}

/// Properties `device-list-properties` leaves out, as QEMU's
/// `qmp_device_list_properties` does: `object`'s and `device`'s own, which
/// `device_add` cannot set.
const NOT_DEVICE_PROPERTIES: [&str; 5] = [
    "type",
    "realized",
    "hotpluggable",
    "hotplugged",
    "parent_bus",
];

/// Every type of a model: built-ins, generated, declared.
pub(crate) struct TypeTable {
    types: Vec<QomType>,
}

impl TypeTable {
    pub(crate) fn new(types: Vec<QomType>) -> Self {
        TypeTable { types }
    }

    pub(crate) fn find(&self, name: &str) -> Option<&QomType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// `t` and its ancestors, root last; stops at a missing parent or a
    /// cycle (both refused by [`check`](Self::check)).
    fn lineage<'a>(&'a self, t: &'a QomType) -> Vec<&'a QomType> {
        let mut out = vec![t];
        let mut current = t;
        while let Some(parent) = current.parent.as_deref().and_then(|p| self.find(p)) {
            if out.len() > self.types.len() {
                break;
            }
            out.push(parent);
            current = parent;
        }
        out
    }

    /// Whether `t` is `ancestor` or descends from it (QEMU's
    /// `object_class_dynamic_cast`).
    fn is_a(&self, t: &QomType, ancestor: &str) -> bool {
        self.lineage(t).iter().any(|a| a.name == ancestor)
    }

    /// Every type's parent exists, no type is its own ancestor, no name is
    /// taken twice.
    pub(crate) fn check(&self) -> Result<(), ModelError> {
        for (i, t) in self.types.iter().enumerate() {
            if self.types[..i].iter().any(|u| u.name == t.name) {
                return Err(ModelError::DuplicateType(t.name.clone()));
            }
            let Some(parent) = &t.parent else {
                if t.name != "object" {
                    return Err(ModelError::NoParent(t.name.clone()));
                }
                continue;
            };
            if self.find(parent).is_none() {
                return Err(ModelError::UnknownParent {
                    name: t.name.clone(),
                    parent: parent.clone(),
                });
            }
            if self
                .lineage(t)
                .last()
                .and_then(|r| r.parent.as_ref())
                .is_some()
            {
                return Err(ModelError::Cycle(t.name.clone()));
            }
        }
        Ok(())
    }

    /// `qom-list-types`: QEMU's `object_class_get_list(implements,
    /// include_abstract)`, in declaration order.
    pub(crate) fn list(
        &self,
        implements: Option<&str>,
        include_abstract: bool,
    ) -> Vec<ObjectTypeInfo> {
        self.types
            .iter()
            .filter(|t| include_abstract || !t.is_abstract)
            .filter(|t| match implements {
                Some(i) => self.is_a(t, i),
                None => true,
            })
            .map(|t| ObjectTypeInfo {
                name: t.name.clone(),
                is_abstract: t.is_abstract.then_some(true),
                parent: t.parent.clone(),
            })
            .collect()
    }

    /// Properties of `t` and its ancestors, the root's first (QEMU lists
    /// `type` first and a device's own properties last).
    fn properties(&self, t: &QomType) -> Vec<ObjectProperty> {
        self.lineage(t)
            .iter()
            .rev()
            .flat_map(|a| a.properties.iter().cloned())
            .collect()
    }

    /// `qom-list-properties`.
    pub(crate) fn qom_properties(&self, typename: &str) -> Vec<ObjectProperty> {
        // QEMU answers DeviceNotFound ("Class 'X' not found") for a type it
        // does not know, but libvirtd 9.0 dereferences NULL (crashes) on
        // that error from qom-list-properties during its capability probe:
        // a type the VMM does not have has no properties, so the answer is
        // the empty list.
        self.find(typename)
            .map(|t| self.properties(t))
            .unwrap_or_default()
    }

    /// `device-list-properties`, with QEMU's errors.
    pub(crate) fn device_properties(
        &self,
        typename: &str,
    ) -> Result<Vec<ObjectProperty>, CommandError> {
        let t = self.find(typename).ok_or_else(|| {
            CommandError::new(
                ErrorClass::DeviceNotFound,
                format!("Device '{typename}' not found"),
            )
        })?;
        if t.is_abstract || !self.is_a(t, "device") {
            return Err(CommandError::generic(
                "Parameter 'typename' expects a non-abstract device type",
            ));
        }
        Ok(self
            .properties(t)
            .into_iter()
            .filter(|p| !NOT_DEVICE_PROPERTIES.contains(&p.name.as_str()))
            // Legacy properties are string forms of listed ones.
            .filter(|p| !p.name.starts_with("legacy-"))
            .collect())
    }
}
