//! Throttle keys: one member of an event's data, as a canonical string.

use std::fmt::{self, Write as _};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// Errors of the throttle module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event data is not a JSON object.
    #[error("the event data is not a JSON object")]
    Data(#[source] serde_json::Error),
}

/// The throttle key of serialised event data: the value of its top-level
/// member `member`, `None` if absent (the last one if repeated, as QEMU's
/// parser keeps). See [`key_from_value`] for the canonical form.
///
/// # Errors
///
/// [`Error::Data`] when `data` is not a JSON object.
///
/// # Examples
///
/// ```
/// use monitor_core::throttle::key_from_data;
///
/// let data = br#"{"id": "channel0", "open": true}"#;
/// assert_eq!(key_from_data(data, "id").unwrap().as_deref(), Some("channel0"));
/// assert_eq!(key_from_data(data, "open").unwrap().as_deref(), Some("true"));
/// assert_eq!(key_from_data(data, "node-name").unwrap(), None);
/// assert!(key_from_data(b"[1]", "id").is_err());
/// ```
pub fn key_from_data(data: &[u8], member: &str) -> Result<Option<String>, Error> {
    let mut de = serde_json::Deserializer::from_slice(data);
    let value = Member(member).deserialize(&mut de).map_err(Error::Data)?;
    de.end().map_err(Error::Data)?;
    Ok(value.as_ref().map(canonical))
}

/// The throttle key of event data as a value: its top-level member
/// `member` as a string, `None` if absent or if `data` is not an object.
///
/// A string gives its text; any other value its compact JSON with object
/// members sorted by name, so equal values give equal keys whatever their
/// member order. (A string `"1"` and the number `1` thus share a key; a
/// member has one type in a schema, so they never meet.)
///
/// # Examples
///
/// ```
/// use monitor_core::throttle::key_from_value;
/// use serde_json::json;
///
/// let data = json!({"node-name": "disk0", "pos": {"y": 2, "x": [1, "a"]}});
/// assert_eq!(key_from_value(&data, "node-name").as_deref(), Some("disk0"));
/// assert_eq!(key_from_value(&data, "pos").as_deref(), Some(r#"{"x":[1,"a"],"y":2}"#));
/// ```
pub fn key_from_value(data: &serde_json::Value, member: &str) -> Option<String> {
    data.as_object()?.get(member).map(canonical)
}

fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            write_canonical(other, &mut out);
            out
        }
    }
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (name, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", serde_json::Value::from(name.as_str()));
                write_canonical(item, out);
            }
            out.push('}');
        }
        // Scalars: serde_json's compact form (writing to a String cannot fail).
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// Reads one member of a JSON object, skipping the others unparsed.
struct Member<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for Member<'_> {
    type Value = Option<serde_json::Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Member<'_> {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(IsName(self.0))? {
            if wanted {
                found = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a member name is the one wanted (compared without allocating).
struct IsName<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for IsName<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for IsName<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_of_a_string_member_is_its_text() {
        let data = br#"{"id": "tab\t\u00e9\"", "open": true}"#;
        assert_eq!(
            key_from_data(data, "id").unwrap().as_deref(),
            Some("tab\t\u{e9}\"")
        );
    }

    #[test]
    fn key_of_other_values_is_canonical_compact_json() {
        let data = br#"{"n": 12, "f": 1.5, "b": false, "z": null,
                        "a": [1, {"y": 1, "x": "s"}], "o": {"b": 2, "a": {"d": 1, "c": 0}}}"#;
        let key = |member| key_from_data(data, member).unwrap();
        assert_eq!(key("n").as_deref(), Some("12"));
        assert_eq!(key("f").as_deref(), Some("1.5"));
        assert_eq!(key("b").as_deref(), Some("false"));
        assert_eq!(key("z").as_deref(), Some("null"));
        assert_eq!(key("a").as_deref(), Some(r#"[1,{"x":"s","y":1}]"#));
        assert_eq!(key("o").as_deref(), Some(r#"{"a":{"c":0,"d":1},"b":2}"#));
        let reordered = br#"{"o": {"a": {"c": 0, "d": 1}, "b": 2}}"#;
        assert_eq!(key_from_data(reordered, "o").unwrap(), key("o"));
    }

    #[test]
    fn key_of_an_absent_member_is_none() {
        assert_eq!(key_from_data(b"{}", "id").unwrap(), None);
        assert_eq!(key_from_data(br#"{"x": {"id": 1}}"#, "id").unwrap(), None);
    }

    #[test]
    fn key_of_a_repeated_member_is_the_last() {
        let data = br#"{"id": "first", "id": "last"}"#;
        assert_eq!(key_from_data(data, "id").unwrap().as_deref(), Some("last"));
    }

    #[test]
    fn key_from_data_rejects_what_is_not_an_object() {
        for data in [&b"[]"[..], b"\"id\"", b"{\"id\": ", b"{} {}", b""] {
            let err = key_from_data(data, "id").unwrap_err();
            assert_eq!(err.to_string(), "the event data is not a JSON object");
        }
    }

    #[test]
    fn key_from_value_agrees_with_key_from_data() {
        let data = json!({"id": "x", "n": [1, {"b": 1, "a": 2}], "s": "1"});
        let bytes = crate::Reply::new(&data).unwrap();
        for member in ["id", "n", "s", "absent"] {
            assert_eq!(
                key_from_value(&data, member),
                key_from_data(bytes.as_bytes(), member).unwrap(),
                "{member}"
            );
        }
        assert_eq!(key_from_value(&json!([1]), "id"), None);
    }
}
