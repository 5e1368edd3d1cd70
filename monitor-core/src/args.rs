//! Typed command arguments with QEMU's validation messages.
//!
//! [`from_arguments`] deserialises a request's `arguments` object into any
//! `serde::Deserialize` type and reports problems the way QEMU's QAPI input
//! visitor does: `Parameter 'x' is missing`, `Parameter 'x' is unexpected`,
//! `Invalid parameter type for 'x', expected: integer`,
//! `Parameter 'x' does not accept value 'y'`, with nested names dotted
//! (`a.b`) and indexed (`a[0]`).
//!
//! Struct members are visited in declaration order and unexpected members
//! are reported after the declared ones, as QEMU's generated visitors do.
//! One known difference: when a request has several problems, a bad type in
//! a present member is reported before a missing member declared earlier
//! (serde reports missing members only after visiting the present ones).
//!
//! Every message and the order of the checks: `docs/PROTOCOL.md`, section 6.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::error::CommandError;
use crate::order;
use crate::value::{Map, Value};

/// Deserialises command arguments with QEMU's error messages.
///
/// # Errors
///
/// A `GenericError` worded as QEMU words it.
///
/// # Examples
///
/// ```
/// use monitor_core::{args::from_arguments, Map, Value};
///
/// #[derive(serde::Deserialize)]
/// struct Args { path: String, #[allow(dead_code)] depth: Option<u8> }
///
/// let err = from_arguments::<Args>(Map::new()).err().unwrap();
/// assert_eq!(err.desc(), "Parameter 'path' is missing");
///
/// let mut map = Map::new();
/// map.insert("path".into(), "/".into());
/// map.insert("depth".into(), Value::Int(300));
/// let err = from_arguments::<Args>(map).err().unwrap();
/// assert_eq!(err.desc(), "Parameter 'depth' expects uint8_t");
///
/// let mut map = Map::new();
/// map.insert("path".into(), "/".into());
/// assert_eq!(from_arguments::<Args>(map).unwrap().path, "/");
/// ```
pub fn from_arguments<T: DeserializeOwned>(arguments: Map) -> Result<T, CommandError> {
    let de = ValueDeserializer {
        value: Value::Object(arguments),
        path: &Path::Root,
    };
    T::deserialize(de).map_err(|e| CommandError::generic(e.into_message(&Path::Root)))
}

/// Checks that a command without arguments got none (QEMU's
/// `visit_check_struct` on an empty struct).
///
/// # Errors
///
/// `Parameter 'x' is unexpected` for the first member present.
pub fn expect_none(arguments: &Map) -> Result<(), CommandError> {
    if arguments.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = arguments.keys().map(String::as_str).collect();
    match order::first_leftover(&keys, |_| false) {
        Some(key) => Err(CommandError::generic(format!(
            "Parameter '{key}' is unexpected"
        ))),
        None => Ok(()),
    }
}

/// A request's arguments taken member by member, in declaration order, as
/// `#[qmp_command]` does for argument parameters: errors come in QEMU's
/// order (the first declared member that is missing or badly typed, then
/// the member QEMU would name as unexpected).
///
/// # Examples
///
/// ```
/// use monitor_core::{args::Arguments, Map, Value};
///
/// let mut map = Map::new();
/// map.insert("cpu-index".into(), Value::Int(2));
/// map.insert("bogus".into(), Value::Null);
/// let mut args = Arguments::new(map);
/// assert_eq!(args.member::<Option<i64>>("cpu-index").unwrap(), Some(2));
/// assert_eq!(args.member::<Option<String>>("path").unwrap(), None);
/// assert_eq!(args.finish().unwrap_err().desc(), "Parameter 'bogus' is unexpected");
/// ```
#[derive(Debug)]
pub struct Arguments {
    map: Map,
    keys: Vec<String>,
}

impl Arguments {
    /// Wraps a request's `arguments`.
    pub fn new(map: Map) -> Self {
        let keys = map.keys().cloned().collect();
        Arguments { map, keys }
    }

    /// Takes and deserialises one member. An absent member is `None` for
    /// `Option<T>` and `Parameter 'x' is missing` otherwise.
    ///
    /// # Errors
    ///
    /// QEMU's message for a missing or badly typed member.
    pub fn member<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, CommandError> {
        let path = Path::Key(&Path::Root, name);
        let result = match self.map.shift_remove(name) {
            Some(value) => T::deserialize(ValueDeserializer { value, path: &path }),
            None => T::deserialize(Absent { path: &path }),
        };
        result.map_err(|e| CommandError::generic(e.into_message(&path)))
    }

    /// Gives the arguments back whole (for an `#[args]` struct).
    pub fn into_map(self) -> Map {
        self.map
    }

    /// Checks that no member is left over.
    ///
    /// # Errors
    ///
    /// `Parameter 'x' is unexpected`, naming the member QEMU would name.
    pub fn finish(self) -> Result<(), CommandError> {
        let keys: Vec<&str> = self.keys.iter().map(String::as_str).collect();
        match order::first_leftover(&keys, |k| !self.map.contains_key(k)) {
            Some(key) => Err(CommandError::generic(format!(
                "Parameter '{key}' is unexpected"
            ))),
            None => Ok(()),
        }
    }
}

/// An absent member: `None` for options, missing for anything else.
struct Absent<'p> {
    path: &'p Path<'p>,
}

impl<'de> de::Deserializer<'de> for Absent<'_> {
    type Error = ArgError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ArgError> {
        Err(ArgError::Final(format!(
            "Parameter '{}' is missing",
            self.path.full_name()
        )))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        visitor.visit_none()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Where a value sits in the arguments, for error messages.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    /// QEMU's `full_name`: `a.b[0].c`.
    fn full_name(&self) -> String {
        match self {
            Path::Root => "<anonymous>".to_owned(),
            Path::Key(Path::Root, k) => (*k).to_owned(),
            Path::Key(parent, k) => format!("{}.{}", parent.full_name(), k),
            Path::Index(parent, i) => format!("{}[{}]", parent.full_name(), i),
        }
    }

    /// The plain `name` QEMU passes to enum and range checks (`null` for
    /// list elements).
    fn name(&self) -> String {
        match self {
            Path::Key(_, k) => (*k).to_owned(),
            _ => "null".to_owned(),
        }
    }
}

/// Errors while deserialising; turned into a message with the path where
/// they surface.
#[derive(Debug)]
pub(crate) enum ArgError {
    /// Complete QEMU message.
    Final(String),
    /// A struct member is missing (path added by the struct).
    Missing(String),
    /// An enum value is not accepted (path added by the value).
    UnknownVariant(String),
    /// Anything a `Deserialize` impl said by itself.
    Custom(String),
}

impl ArgError {
    fn into_message(self, path: &Path<'_>) -> String {
        match self {
            ArgError::Final(m) => m,
            ArgError::Missing(field) => {
                let name = Path::Key(path, &field).full_name();
                format!("Parameter '{name}' is missing")
            }
            ArgError::UnknownVariant(v) => {
                format!("Parameter '{}' does not accept value '{}'", path.name(), v)
            }
            ArgError::Custom(m) => m,
        }
    }

    fn at(self, path: &Path<'_>) -> ArgError {
        match self {
            ArgError::Final(_) | ArgError::Custom(_) => self,
            other => ArgError::Final(other.into_message(path)),
        }
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgError::Final(m) | ArgError::Custom(m) => f.write_str(m),
            ArgError::Missing(m) => write!(f, "missing {m}"),
            ArgError::UnknownVariant(v) => write!(f, "unknown value {v}"),
        }
    }
}

impl std::error::Error for ArgError {}

impl de::Error for ArgError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ArgError::Custom(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        ArgError::Missing(field.to_owned())
    }

    fn unknown_variant(variant: &str, _expected: &'static [&'static str]) -> Self {
        ArgError::UnknownVariant(variant.to_owned())
    }
}

/// A visitor's `expecting` text.
struct Expecting<'a, V>(&'a V);

impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
}

struct ValueDeserializer<'p> {
    value: Value,
    path: &'p Path<'p>,
}

impl ValueDeserializer<'_> {
    fn wrong_type(&self, expected: &str) -> ArgError {
        ArgError::Final(format!(
            "Invalid parameter type for '{}', expected: {}",
            self.path.full_name(),
            expected
        ))
    }

    fn out_of_range(&self, ty: &str) -> ArgError {
        ArgError::Final(format!("Parameter '{}' expects {}", self.path.name(), ty))
    }

    /// QEMU's `visit_type_intN`: wrong type from the int64 visitor, range
    /// checked against the C type (`int8_t`, ...) under the plain name.
    fn signed(&self, min: i64, max: i64, ty: &str) -> Result<i64, ArgError> {
        match self.value {
            Value::Int(i) if (min..=max).contains(&i) => Ok(i),
            Value::Int(_) => Err(self.out_of_range(ty)),
            _ => Err(self.wrong_type("integer")),
        }
    }

    /// QEMU's uint64 visitor: negative integers are accepted (wrapped) for
    /// backward compatibility; anything else "expects uint64". Smaller types
    /// are then range checked against the C type.
    fn unsigned(&self, max: u64, ty: &str) -> Result<u64, ArgError> {
        let v = match self.value {
            Value::Uint(u) => u,
            Value::Int(i) => i as u64,
            _ => {
                return Err(ArgError::Final(format!(
                    "Parameter '{}' expects uint64",
                    self.path.full_name()
                )))
            }
        };
        if v > max {
            return Err(self.out_of_range(ty));
        }
        Ok(v)
    }
}

macro_rules! signed {
    ($method:ident, $visit:ident, $t:ty, $name:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
            let v = self.signed(i64::from(<$t>::MIN), i64::from(<$t>::MAX), $name)?;
            visitor
                .$visit(v as $t)
                .map_err(|e: ArgError| e.at(self.path))
        }
    };
}

macro_rules! unsigned {
    ($method:ident, $visit:ident, $t:ty, $name:literal) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
            let v = self.unsigned(u64::from(<$t>::MAX), $name)?;
            visitor
                .$visit(v as $t)
                .map_err(|e: ArgError| e.at(self.path))
        }
    };
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = ArgError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        let path = self.path;
        // serde reads internally tagged enums (QAPI flat unions) through
        // deserialize_any; QEMU wants an object there.
        if !matches!(self.value, Value::Object(_))
            && Expecting(&visitor)
                .to_string()
                .starts_with("internally tagged enum")
        {
            return Err(self.wrong_type("object"));
        }
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::Uint(u) => visitor.visit_u64(u),
            Value::Double(d) => visitor.visit_f64(d),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(SeqAccess::new(items, path)),
            Value::Object(map) => visitor.visit_map(MapAccess::all(map, path)),
        };
        result.map_err(|e| e.at(path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.value {
            Value::Bool(b) => visitor.visit_bool(b).map_err(|e: ArgError| e.at(self.path)),
            _ => Err(self.wrong_type("boolean")),
        }
    }

    signed!(deserialize_i8, visit_i8, i8, "int8_t");
    signed!(deserialize_i16, visit_i16, i16, "int16_t");
    signed!(deserialize_i32, visit_i32, i32, "int32_t");
    signed!(deserialize_i64, visit_i64, i64, "int64_t");
    unsigned!(deserialize_u8, visit_u8, u8, "uint8_t");
    unsigned!(deserialize_u16, visit_u16, u16, "uint16_t");
    unsigned!(deserialize_u32, visit_u32, u32, "uint32_t");
    unsigned!(deserialize_u64, visit_u64, u64, "uint64");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        let v = match self.value {
            Value::Int(i) => i as f64,
            Value::Uint(u) => u as f64,
            Value::Double(d) => d,
            _ => return Err(self.wrong_type("number")),
        };
        visitor.visit_f64(v).map_err(|e: ArgError| e.at(self.path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.value {
            Value::String(s) => visitor
                .visit_string(s)
                .map_err(|e: ArgError| e.at(self.path)),
            _ => Err(self.wrong_type("string")),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.value {
            Value::String(s) => visitor
                .visit_byte_buf(s.into_bytes())
                .map_err(|e: ArgError| e.at(self.path)),
            _ => Err(self.wrong_type("string")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        // A member that is present is type-checked even when it is null:
        // QEMU answers `{"enable": null}` with "expected: array".
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match &self.value {
            Value::Null => visitor.visit_unit().map_err(|e: ArgError| e.at(self.path)),
            Value::Object(map) if matches!(self.path, Path::Root) => {
                expect_none(map).map_err(|e| ArgError::Final(e.desc().to_owned()))?;
                visitor.visit_unit()
            }
            _ => Err(self.wrong_type("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        let path = self.path;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.value {
            Value::Array(items) => visitor
                .visit_seq(SeqAccess::new(items, self.path))
                .map_err(|e: ArgError| e.at(self.path)),
            _ => Err(self.wrong_type("array")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        match self.value {
            Value::Object(map) => visitor
                .visit_map(MapAccess::all(map, self.path))
                .map_err(|e: ArgError| e.at(self.path)),
            _ => Err(self.wrong_type("object")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        let Value::Object(map) = self.value else {
            return Err(self.wrong_type("object"));
        };
        let path = self.path;
        let mut access = MapAccess::fields(map, fields, path);
        let value = visitor.visit_map(&mut access).map_err(|e| e.at(path))?;
        if let Some(key) = access.leftover_key() {
            let name = Path::Key(path, &key).full_name();
            return Err(ArgError::Final(format!("Parameter '{name}' is unexpected")));
        }
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ArgError> {
        let path = self.path;
        match self.value {
            Value::String(s) => visitor
                .visit_enum(s.into_deserializer())
                .map_err(|e: ArgError| e.at(path)),
            _ => Err(self.wrong_type("string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ArgError> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'p> {
    items: std::vec::IntoIter<Value>,
    index: usize,
    path: &'p Path<'p>,
}

impl<'p> SeqAccess<'p> {
    fn new(items: Vec<Value>, path: &'p Path<'p>) -> Self {
        SeqAccess {
            items: items.into_iter(),
            index: 0,
            path,
        }
    }
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = ArgError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ArgError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.path, self.index);
        self.index += 1;
        seed.deserialize(ValueDeserializer { value, path: &path })
            .map(Some)
            .map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Walks an object: every member (`all`), or the declared fields in
/// declaration order, leaving undeclared members behind (`fields`).
struct MapAccess<'p> {
    pending: std::vec::IntoIter<(String, Value)>,
    leftover: Map,
    /// Every member name, in input order (for QEMU's leftover order).
    all: Vec<String>,
    current: Option<(String, Value)>,
    path: &'p Path<'p>,
}

impl<'p> MapAccess<'p> {
    fn all(map: Map, path: &'p Path<'p>) -> Self {
        let pending: Vec<(String, Value)> = map.into_iter().collect();
        MapAccess {
            pending: pending.into_iter(),
            leftover: Map::new(),
            all: Vec::new(),
            current: None,
            path,
        }
    }

    fn fields(mut map: Map, fields: &'static [&'static str], path: &'p Path<'p>) -> Self {
        let all = map.keys().cloned().collect();
        let pending: Vec<(String, Value)> = fields
            .iter()
            .filter_map(|f| map.shift_remove_entry(*f))
            .collect();
        MapAccess {
            pending: pending.into_iter(),
            leftover: map,
            all,
            current: None,
            path,
        }
    }

    fn leftover_key(&self) -> Option<String> {
        if self.leftover.is_empty() {
            return None;
        }
        let all: Vec<&str> = self.all.iter().map(String::as_str).collect();
        order::first_leftover(&all, |k| !self.leftover.contains_key(k)).map(str::to_owned)
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = ArgError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ArgError> {
        let Some((key, value)) = self.pending.next() else {
            return Ok(None);
        };
        let result = seed.deserialize(key.as_str().into_deserializer()).map(Some);
        self.current = Some((key, value));
        result
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, ArgError> {
        let Some((key, value)) = self.current.take() else {
            return Err(ArgError::Custom("value requested before key".to_owned()));
        };
        let path = Path::Key(self.path, &key);
        seed.deserialize(ValueDeserializer { value, path: &path })
            .map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.pending.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Splitter;
    use serde::Deserialize;

    fn args(text: &str) -> Map {
        match Splitter::new().feed_all(text.as_bytes()).remove(0).unwrap() {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Cap {
        Oob,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Caps {
        enable: Option<Vec<Cap>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        b: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        a: Inner,
        list: Option<Vec<Inner>>,
    }

    fn err<T: DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        from_arguments::<T>(args(text))
            .unwrap_err()
            .desc()
            .to_owned()
    }

    #[test]
    fn qmp_capabilities_messages_match_qemu() {
        assert_eq!(
            err::<Caps>(r#"{"enable": null}"#),
            "Invalid parameter type for 'enable', expected: array"
        );
        assert_eq!(
            err::<Caps>(r#"{"enable": [1]}"#),
            "Invalid parameter type for 'enable[0]', expected: string"
        );
        assert_eq!(
            err::<Caps>(r#"{"enable": ["bogus"]}"#),
            "Parameter 'null' does not accept value 'bogus'"
        );
        assert_eq!(
            err::<Caps>(r#"{"foo": 1}"#),
            "Parameter 'foo' is unexpected"
        );
        assert!(from_arguments::<Caps>(args(r#"{"enable": ["oob"]}"#)).is_ok());
    }

    #[test]
    fn nested_names_are_dotted_and_indexed() {
        assert_eq!(err::<Outer>(r#"{"a": {}}"#), "Parameter 'a.b' is missing");
        assert_eq!(
            err::<Outer>(r#"{"a": {"b": "x"}}"#),
            "Invalid parameter type for 'a.b', expected: integer"
        );
        assert_eq!(
            err::<Outer>(r#"{"a": {"b": 1}, "list": [{"b": 1}, {"c": 1}]}"#),
            "Parameter 'list[1].b' is missing"
        );
        assert_eq!(
            err::<Outer>(r#"{"a": {"b": 1, "z": 1}}"#),
            "Parameter 'a.z' is unexpected"
        );
    }

    #[test]
    fn missing_wins_over_unexpected() {
        // QEMU visits declared members first and checks leftovers at the end.
        assert_eq!(err::<Outer>(r#"{"zzz": 1}"#), "Parameter 'a' is missing");
    }

    #[test]
    fn unit_arguments_reject_members() {
        assert_eq!(err::<()>(r#"{"x": 1}"#), "Parameter 'x' is unexpected");
        from_arguments::<()>(Map::new()).unwrap();
    }

    #[test]
    fn any_value_passes_through() {
        let v: serde_json::Value = from_arguments(args(r#"{"a": [1, "b", null]}"#)).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, "b", null]}));
    }
}
