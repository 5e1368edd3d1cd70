//! The QOM object tree: `qom-list`, `qom-get`.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use super::declare::ObjectProperty;
use super::ModelError;
use crate::error::{CommandError, ErrorClass};

/// Reads a property's current value.
pub(crate) type Reader = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// An object of the QOM tree: its type and its properties, read when asked.
///
/// Children are not properties here: an object at `/a/b` is listed by
/// `qom-list /a` as the property `b` of type `child<TYPE>`, as QEMU does.
///
/// # Examples
///
/// ```
/// use std::sync::{atomic::{AtomicBool, Ordering}, Arc};
/// use monitor_core::machine::QomObject;
///
/// let realized = Arc::new(AtomicBool::new(true));
/// let flag = Arc::clone(&realized);
/// let cpu = QomObject::new("max-x86_64-cpu")
///     .property("realized", "bool", move || flag.load(Ordering::Relaxed).into())
///     .constant("hotpluggable", "bool", false);
/// assert_eq!(cpu.type_name(), "max-x86_64-cpu");
/// ```
#[derive(Clone)]
pub struct QomObject {
    type_name: String,
    properties: Vec<(String, String, Reader)>,
}

impl fmt::Debug for QomObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QomObject")
            .field("type_name", &self.type_name)
            .field(
                "properties",
                &self.properties.iter().map(|p| &p.0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl QomObject {
    /// An object of type `type_name` with only the `type` property.
    pub fn new(type_name: impl Into<String>) -> Self {
        QomObject {
            type_name: type_name.into(),
            properties: Vec::new(),
        }
    }

    /// A property whose value `read` gives each time `qom-get` asks (on the
    /// monitor thread: keep it short, and do not call into the model).
    pub fn property(
        mut self,
        name: impl Into<String>,
        type_name: impl Into<String>,
        read: impl Fn() -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.properties
            .push((name.into(), type_name.into(), Arc::new(read)));
        self
    }

    /// A property whose value never changes.
    pub fn constant(
        self,
        name: impl Into<String>,
        type_name: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        let value = value.into();
        self.property(name, type_name, move || value.clone())
    }

    /// The object's type.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }
}

#[derive(Debug, Clone)]
struct Node {
    object: QomObject,
    /// Made to hold a declared descendant (QEMU's `container_get`), until
    /// an object is declared at its path.
    implicit: bool,
}

/// What `qom-get` reads: a value at hand or a reader to call once the
/// model's lock is released.
pub(crate) enum Got {
    Value(serde_json::Value),
    Read(Reader),
}

/// The object tree, by normalised absolute path; `/` is always there.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: IndexMap<String, Node>,
}

impl Default for Tree {
    fn default() -> Self {
        let mut nodes = IndexMap::new();
        nodes.insert(
            "/".to_owned(),
            Node {
                object: QomObject::new("container"),
                implicit: true,
            },
        );
        Tree { nodes }
    }
}

fn components(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

fn join(components: &[&str]) -> String {
    format!("/{}", components.join("/"))
}

fn parent_of(path: &str) -> Option<String> {
    let c = components(path);
    (!c.is_empty()).then(|| join(&c[..c.len() - 1]))
}

fn device_not_found(path: &str) -> CommandError {
    CommandError::new(
        ErrorClass::DeviceNotFound,
        format!("Device '{path}' not found"),
    )
}

impl Tree {
    /// Declares `object` at the absolute `path`; missing ancestors become
    /// containers, as QEMU's `container_get` makes them.
    pub(crate) fn insert(&mut self, path: &str, object: QomObject) -> Result<(), ModelError> {
        if !path.starts_with('/') {
            return Err(ModelError::RelativePath(path.to_owned()));
        }
        let c = components(path);
        for depth in 1..c.len() {
            self.nodes.entry(join(&c[..depth])).or_insert_with(|| Node {
                object: QomObject::new("container"),
                implicit: true,
            });
        }
        let path = join(&c);
        match self.nodes.get_mut(&path) {
            Some(node) if node.implicit => {
                node.object = object;
                node.implicit = false;
            }
            Some(_) => return Err(ModelError::ObjectExists(path)),
            None => {
                self.nodes.insert(
                    path,
                    Node {
                        object,
                        implicit: false,
                    },
                );
            }
        }
        Ok(())
    }

    /// Removes the object at `path` and its descendants.
    pub(crate) fn remove(&mut self, path: &str) -> Result<(), ModelError> {
        let c = components(path);
        if c.is_empty() {
            return Err(ModelError::RemoveRoot);
        }
        let path = join(&c);
        if self.nodes.shift_remove(&path).is_none() {
            return Err(ModelError::NoObject(path));
        }
        let prefix = format!("{path}/");
        self.nodes.retain(|p, _| !p.starts_with(&prefix));
        Ok(())
    }

    /// Every object's path and type.
    pub(crate) fn objects(&self) -> impl Iterator<Item = (&str, &str)> {
        self.nodes
            .iter()
            .map(|(p, n)| (p.as_str(), n.object.type_name.as_str()))
    }

    /// QEMU's `object_resolve_path`: an absolute path, or a partial one
    /// matching the end of exactly one object's path.
    fn resolve(&self, path: &str) -> Result<(&String, &Node), CommandError> {
        let c = components(path);
        if path.starts_with('/') {
            return self
                .nodes
                .get_key_value(&join(&c))
                .ok_or_else(|| device_not_found(path));
        }
        let mut matches = self
            .nodes
            .iter()
            .filter(|(p, _)| components(p).ends_with(&c));
        match (matches.next(), matches.next()) {
            (Some(found), None) => Ok(found),
            (None, _) => Err(device_not_found(path)),
            (Some(_), Some(_)) => Err(CommandError::generic(format!("Path '{path}' is ambiguous"))),
        }
    }

    fn children<'a>(&'a self, path: &'a str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        self.nodes
            .iter()
            .filter(move |(p, _)| parent_of(p).as_deref() == Some(path))
            .map(|(p, n)| (p.rsplit('/').next().unwrap_or_default(), n))
    }

    /// `qom-list`: `type`, the object's properties, its children.
    pub(crate) fn list(&self, path: &str) -> Result<Vec<ObjectProperty>, CommandError> {
        let (path, node) = self.resolve(path)?;
        let mut out = vec![ObjectProperty::new("type", "string")];
        out.extend(
            node.object
                .properties
                .iter()
                .map(|(name, t, _)| ObjectProperty::new(name, t)),
        );
        out.extend(self.children(path).map(|(name, child)| {
            ObjectProperty::new(name, format!("child<{}>", child.object.type_name))
        }));
        Ok(out)
    }

    /// `qom-get`: the property's value, or the reader that gives it.
    pub(crate) fn get(&self, path: &str, property: &str) -> Result<Got, CommandError> {
        let (path, node) = self.resolve(path)?;
        if property == "type" {
            return Ok(Got::Value(node.object.type_name.clone().into()));
        }
        if let Some((_, _, read)) = node.object.properties.iter().find(|p| p.0 == property) {
            return Ok(Got::Read(Arc::clone(read)));
        }
        if let Some((name, _)) = self.children(path).find(|(name, _)| *name == property) {
            // A child property reads as the child's path.
            let child = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            return Ok(Got::Value(child.into()));
        }
        Err(CommandError::generic(format!(
            "Property '{}.{property}' not found",
            node.object.type_name
        )))
    }
}
