//! JSON values as QEMU's parser builds them.
//!
//! QEMU keeps integers that fit `i64` as signed, larger non-negative ones as
//! `u64`, and everything else as a double; this type keeps the same three
//! kinds so that an `id` is echoed exactly as QEMU would echo it.

use indexmap::IndexMap;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON object: member names to values, in input order.
pub type Map = IndexMap<String, Value>;

/// A JSON value as received on the wire.
///
/// # Examples
///
/// ```
/// use monitor_core::{stream::Splitter, Value};
///
/// let mut splitter = Splitter::new();
/// let frames = splitter.feed_all(br#"{"id": 18446744073709551615}"#);
/// let value = frames.into_iter().next().unwrap().unwrap();
/// let id = value.as_object().unwrap().get("id").unwrap();
/// assert_eq!(id, &Value::Uint(u64::MAX));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX` that fits `u64`.
    Uint(u64),
    /// Any other number (QEMU's `strtod` result; may be infinite).
    Double(f64),
    /// A string (may contain U+0000, which QEMU accepts as `\u0000`).
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map),
}

impl Value {
    /// The object's members, if this is an object.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Uint(u) => serializer.serialize_u64(*u),
            Value::Double(d) => serializer.serialize_f64(*d),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    out.serialize_entry(k, v)?;
                }
                out.end()
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
