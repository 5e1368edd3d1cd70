//! Schema introspection in QEMU's `SchemaInfo` format.
//!
//! Every argument, result and event type describes itself through
//! [`Schema`] (derived with `#[derive(Schema)]` from `monitor-derive`). A
//! [`SchemaGen`] collects the descriptions into the list `query-qmp-schema`
//! returns: builtins, enums, arrays, objects, alternates, commands, events.
//! As in QEMU, type names other than builtins are opaque numbers ("0" is the
//! empty object); array types are named `[element]`.
//!
//! The public path is the facade `monitor_core::schema` (the trait itself
//! is at the crate root, beside its derive).

use std::any::TypeId;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// Schema hook: describes a type for introspection and returns its name.
pub type SchemaHook = fn(&mut SchemaGen) -> String;

/// The schema hook of any [`Schema`] type.
pub fn schema_of<T: Schema + ?Sized>(schema_gen: &mut SchemaGen) -> String {
    schema_gen.describe::<T>()
}

/// A type that can describe itself for introspection.
pub trait Schema {
    /// Adds this type (and the types it uses) to `schema_gen`; returns its name.
    fn schema(schema_gen: &mut SchemaGen) -> String;

    /// Whether a struct member of this type may be absent (`Option<T>`).
    fn optional() -> bool {
        false
    }
}

/// One member of an object type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member name on the wire.
    pub name: String,
    /// Its type name.
    pub type_name: String,
    /// Optional members carry `"default": null`.
    pub optional: bool,
    /// Feature flags (e.g. `deprecated`).
    pub features: Vec<String>,
}

impl Member {
    /// A required member.
    pub fn new(name: impl Into<String>, type_name: String) -> Self {
        Member {
            name: name.into(),
            type_name,
            optional: false,
            features: Vec::new(),
        }
    }

    /// An optional member.
    pub fn optional(name: impl Into<String>, type_name: String) -> Self {
        Member {
            optional: true,
            ..Member::new(name, type_name)
        }
    }
}

/// A branch of a flat union: when the tag has value `case`, the members of
/// `type_name` apply too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The tag value.
    pub case: String,
    /// The object type of this branch.
    pub type_name: String,
}

/// The body of an object type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectInfo {
    /// Common members (for a flat union, including the tag).
    pub members: Vec<Member>,
    /// The tag member of a flat union.
    pub tag: Option<String>,
    /// The branches of a flat union.
    pub variants: Vec<Variant>,
}

impl ObjectInfo {
    /// A plain object.
    pub fn new(members: Vec<Member>) -> Self {
        ObjectInfo {
            members,
            ..Self::default()
        }
    }
}

/// One `SchemaInfo` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaInfo {
    /// `int`, `str`, `bool`, `number`, `null`, `any`.
    Builtin {
        /// Name.
        name: String,
        /// JSON type: `int`, `string`, `boolean`, `number`, `null`, `value`.
        json_type: &'static str,
    },
    /// An enumeration.
    Enum {
        /// Name.
        name: String,
        /// The values.
        values: Vec<String>,
    },
    /// An array.
    Array {
        /// Name (`[element]`).
        name: String,
        /// The element type.
        element: String,
    },
    /// An object (possibly a flat union).
    Object {
        /// Name.
        name: String,
        /// Members, tag, variants.
        info: ObjectInfo,
    },
    /// One of several types, told apart by JSON type.
    Alternate {
        /// Name.
        name: String,
        /// The alternatives.
        members: Vec<String>,
    },
    /// A command.
    Command {
        /// Name.
        name: String,
        /// Argument object type.
        arg_type: String,
        /// Result type.
        ret_type: String,
        /// May run with `exec-oob`.
        allow_oob: bool,
        /// Feature flags.
        features: Vec<String>,
    },
    /// An event.
    Event {
        /// Name.
        name: String,
        /// Data object type.
        arg_type: String,
        /// Feature flags.
        features: Vec<String>,
    },
}

impl SchemaInfo {
    /// The entry's name.
    pub fn name(&self) -> &str {
        match self {
            SchemaInfo::Builtin { name, .. }
            | SchemaInfo::Enum { name, .. }
            | SchemaInfo::Array { name, .. }
            | SchemaInfo::Object { name, .. }
            | SchemaInfo::Alternate { name, .. }
            | SchemaInfo::Command { name, .. }
            | SchemaInfo::Event { name, .. } => name,
        }
    }
}

impl Serialize for SchemaInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", self.name())?;
        match self {
            SchemaInfo::Builtin { json_type, .. } => {
                map.serialize_entry("meta-type", "builtin")?;
                map.serialize_entry("json-type", json_type)?;
            }
            SchemaInfo::Enum { values, .. } => {
                map.serialize_entry("meta-type", "enum")?;
                let members: Vec<BTreeMap<&str, &str>> = values
                    .iter()
                    .map(|v| BTreeMap::from([("name", v.as_str())]))
                    .collect();
                map.serialize_entry("members", &members)?;
                map.serialize_entry("values", values)?;
            }
            SchemaInfo::Array { element, .. } => {
                map.serialize_entry("meta-type", "array")?;
                map.serialize_entry("element-type", element)?;
            }
            SchemaInfo::Object { info, .. } => {
                map.serialize_entry("meta-type", "object")?;
                map.serialize_entry("members", &MembersSer(&info.members))?;
                if let Some(tag) = &info.tag {
                    map.serialize_entry("tag", tag)?;
                    let variants: Vec<BTreeMap<&str, &str>> = info
                        .variants
                        .iter()
                        .map(|v| {
                            BTreeMap::from([
                                ("case", v.case.as_str()),
                                ("type", v.type_name.as_str()),
                            ])
                        })
                        .collect();
                    map.serialize_entry("variants", &variants)?;
                }
            }
            SchemaInfo::Alternate { members, .. } => {
                map.serialize_entry("meta-type", "alternate")?;
                let members: Vec<BTreeMap<&str, &str>> = members
                    .iter()
                    .map(|t| BTreeMap::from([("type", t.as_str())]))
                    .collect();
                map.serialize_entry("members", &members)?;
            }
            SchemaInfo::Command {
                arg_type,
                ret_type,
                allow_oob,
                features,
                ..
            } => {
                map.serialize_entry("meta-type", "command")?;
                map.serialize_entry("arg-type", arg_type)?;
                map.serialize_entry("ret-type", ret_type)?;
                if *allow_oob {
                    map.serialize_entry("allow-oob", &true)?;
                }
                if !features.is_empty() {
                    map.serialize_entry("features", features)?;
                }
            }
            SchemaInfo::Event {
                arg_type, features, ..
            } => {
                map.serialize_entry("meta-type", "event")?;
                map.serialize_entry("arg-type", arg_type)?;
                if !features.is_empty() {
                    map.serialize_entry("features", features)?;
                }
            }
        }
        map.end()
    }
}

struct MembersSer<'a>(&'a [Member]);

impl Serialize for MembersSer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for m in self.0 {
            seq.serialize_element(&MemberSer(m))?;
        }
        seq.end()
    }
}

struct MemberSer<'a>(&'a Member);

impl Serialize for MemberSer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &m.name)?;
        map.serialize_entry("type", &m.type_name)?;
        if m.optional {
            map.serialize_entry("default", &())?;
        }
        if !m.features.is_empty() {
            map.serialize_entry("features", &m.features)?;
        }
        map.end()
    }
}

/// What identifies a described type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeKey {
    /// A Rust type.
    Type(TypeId),
    /// A type without a Rust counterpart (a union branch, generated
    /// argument objects), named by its maker.
    Named(String),
}

/// Collects schema entries, numbering types as QEMU does.
#[derive(Debug, Default)]
pub struct SchemaGen {
    entries: Vec<SchemaInfo>,
    names: HashMap<TypeKey, String>,
    next: usize,
}

/// The name of the empty object type (arguments of commands without any,
/// result of commands without one).
pub const EMPTY_OBJECT: &str = "0";

impl SchemaGen {
    /// An empty generator; the empty object is type "0".
    pub fn new() -> Self {
        let mut schema_gen = SchemaGen::default();
        schema_gen.empty_object();
        schema_gen
    }

    /// The entries so far.
    pub fn entries(&self) -> &[SchemaInfo] {
        &self.entries
    }

    /// Takes the entries.
    pub fn into_entries(self) -> Vec<SchemaInfo> {
        self.entries
    }

    /// Describes `T`; returns its type name.
    pub fn describe<T: Schema + ?Sized>(&mut self) -> String {
        T::schema(self)
    }

    /// The empty object type.
    pub fn empty_object(&mut self) -> String {
        self.object_keyed(TypeKey::Named("{}".into()), |_| ObjectInfo::default())
    }

    /// A builtin type.
    pub fn builtin(&mut self, name: &'static str, json_type: &'static str) -> String {
        let key = TypeKey::Named(format!("builtin {name}"));
        if let Some(n) = self.names.get(&key) {
            return n.clone();
        }
        self.names.insert(key, name.to_owned());
        self.entries.push(SchemaInfo::Builtin {
            name: name.to_owned(),
            json_type,
        });
        name.to_owned()
    }

    /// An array of `element`.
    pub fn array(&mut self, element: String) -> String {
        let name = format!("[{element}]");
        let key = TypeKey::Named(name.clone());
        if let std::collections::hash_map::Entry::Vacant(slot) = self.names.entry(key) {
            slot.insert(name.clone());
            self.entries.push(SchemaInfo::Array {
                name: name.clone(),
                element,
            });
        }
        name
    }

    fn reserve(&mut self, key: TypeKey) -> Result<String, String> {
        if let Some(n) = self.names.get(&key) {
            return Err(n.clone());
        }
        let name = self.next.to_string();
        self.next += 1;
        self.names.insert(key, name.clone());
        Ok(name)
    }

    /// An object type for the Rust type `T`, built once.
    pub fn object<T: ?Sized + 'static>(
        &mut self,
        build: impl FnOnce(&mut Self) -> ObjectInfo,
    ) -> String {
        self.object_keyed(TypeKey::Type(TypeId::of::<T>()), build)
    }

    /// An object type under any key, built once.
    pub fn object_keyed(
        &mut self,
        key: TypeKey,
        build: impl FnOnce(&mut Self) -> ObjectInfo,
    ) -> String {
        self.in_place(key, ObjectInfo::default(), build, |name, info| {
            SchemaInfo::Object { name, info }
        })
    }

    /// The type `key` names, its entry made by `entry` from what `build`
    /// returns. The entry goes in first, made from `empty`, so that a type
    /// that refers to itself finds its name taken and recursion ends.
    fn in_place<T>(
        &mut self,
        key: TypeKey,
        empty: T,
        build: impl FnOnce(&mut Self) -> T,
        entry: impl Fn(String, T) -> SchemaInfo,
    ) -> String {
        let name = match self.reserve(key) {
            Ok(name) => name,
            Err(existing) => return existing,
        };
        let index = self.entries.len();
        self.entries.push(entry(name.clone(), empty));
        let built = build(self);
        self.entries[index] = entry(name.clone(), built);
        name
    }

    /// An enum type for the Rust type `T`.
    pub fn enumeration<T: ?Sized + 'static>(&mut self, values: &[&str]) -> String {
        self.enumeration_keyed(TypeKey::Type(TypeId::of::<T>()), values)
    }

    /// An enum type under any key.
    pub fn enumeration_keyed(&mut self, key: TypeKey, values: &[&str]) -> String {
        match self.reserve(key) {
            Ok(name) => {
                self.entries.push(SchemaInfo::Enum {
                    name: name.clone(),
                    values: values.iter().map(|v| (*v).to_owned()).collect(),
                });
                name
            }
            Err(existing) => existing,
        }
    }

    /// An alternate type for the Rust type `T`.
    pub fn alternate<T: ?Sized + 'static>(
        &mut self,
        build: impl FnOnce(&mut Self) -> Vec<String>,
    ) -> String {
        let key = TypeKey::Type(TypeId::of::<T>());
        self.in_place(key, Vec::new(), build, |name, members| {
            SchemaInfo::Alternate { name, members }
        })
    }

    /// The members of an object type already described (for `flatten`).
    pub fn members_of(&self, name: &str) -> Vec<Member> {
        self.find(name)
            .and_then(|e| match e {
                SchemaInfo::Object { info, .. } => Some(info.members.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Looks an entry up by name.
    pub fn find(&self, name: &str) -> Option<&SchemaInfo> {
        self.entries.iter().find(|e| e.name() == name)
    }

    /// Adds a command entry.
    pub fn command(
        &mut self,
        name: &str,
        arg_type: String,
        ret_type: String,
        allow_oob: bool,
        features: Vec<String>,
    ) {
        self.entries.push(SchemaInfo::Command {
            name: name.to_owned(),
            arg_type,
            ret_type,
            allow_oob,
            features,
        });
    }

    /// Adds an event entry.
    pub fn event(&mut self, name: &str, arg_type: String, features: Vec<String>) {
        self.entries.push(SchemaInfo::Event {
            name: name.to_owned(),
            arg_type,
            features,
        });
    }
}

macro_rules! builtin {
    ($name:literal, $json:literal: $($t:ty),*) => {$(
        impl Schema for $t {
            fn schema(schema_gen: &mut SchemaGen) -> String {
                schema_gen.builtin($name, $json)
            }
        }
    )*};
}

builtin!("int", "int": i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);
builtin!("number", "number": f32, f64);
builtin!("bool", "boolean": bool);
builtin!("str", "string": String, str, char, std::path::PathBuf, std::path::Path);
builtin!("any", "value": serde_json::Value, crate::value::Value, serde_json::Map<String, serde_json::Value>);

impl Schema for () {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.empty_object()
    }
}

/// QAPI's `null` builtin (serialises as JSON `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
pub struct Null;

impl Schema for Null {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.builtin("null", "null")
    }
}

impl<T: Schema> Schema for Option<T> {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        T::schema(schema_gen)
    }

    fn optional() -> bool {
        true
    }
}

macro_rules! wrapper {
    ($($w:ident),*) => {$(
        impl<T: Schema + ?Sized> Schema for $w<T> {
            fn schema(schema_gen: &mut SchemaGen) -> String {
                T::schema(schema_gen)
            }
        }
    )*};
}

wrapper!(Box, Arc);

impl<T: Schema + ?Sized> Schema for &T {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        T::schema(schema_gen)
    }
}

macro_rules! sequence {
    ($($s:ident),*) => {$(
        impl<T: Schema> Schema for $s<T> {
            fn schema(schema_gen: &mut SchemaGen) -> String {
                let element = T::schema(schema_gen);
                schema_gen.array(element)
            }
        }
    )*};
}

sequence!(Vec, VecDeque, BTreeSet, HashSet);

impl<T: Schema> Schema for [T] {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        let element = T::schema(schema_gen);
        schema_gen.array(element)
    }
}

impl<T: Schema, const N: usize> Schema for [T; N] {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        let element = T::schema(schema_gen);
        schema_gen.array(element)
    }
}

impl<K, V> Schema for BTreeMap<K, V> {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.builtin("any", "value")
    }
}

impl<K, V, S> Schema for HashMap<K, V, S> {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.builtin("any", "value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_named_after_their_element() {
        let mut schema_gen = SchemaGen::new();
        assert_eq!(schema_gen.describe::<Vec<Vec<u8>>>(), "[[int]]");
        assert!(schema_gen.find("[int]").is_some());
        assert!(schema_gen.find("int").is_some());
    }

    #[test]
    fn empty_object_is_zero() {
        let mut schema_gen = SchemaGen::new();
        assert_eq!(schema_gen.describe::<()>(), EMPTY_OBJECT);
        let v = serde_json::to_value(&schema_gen.entries()[0]).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": "0", "meta-type": "object", "members": []})
        );
    }

    #[test]
    fn enum_lists_members_and_values() {
        let mut schema_gen = SchemaGen::new();
        let name = schema_gen.enumeration_keyed(TypeKey::Named("e".into()), &["oob"]);
        let v = serde_json::to_value(schema_gen.find(&name).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name": name, "meta-type": "enum", "members": [{"name": "oob"}], "values": ["oob"]})
        );
    }
}
