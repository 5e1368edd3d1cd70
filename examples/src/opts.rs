//! QEMU's `key=value` option syntax, and the JSON form `-object` and
//! `-device` also take.
//!
//! `-machine pc,usb=off` is `{"type": "pc", "usb": "off"}`: the first item
//! may leave out its key (the option's *implied* key: `type` for
//! `-machine`, `driver` for `-device`, `qom-type` for `-object`), a `,,`
//! stands for one comma inside a value, and a key without `=` is `on`.
//! `-device '{"driver":"isa-serial","chardev":"charserial0"}'` is the same
//! thing as JSON, which libvirt sends when the emulator advertises it.

use std::collections::BTreeMap;

use thiserror::Error;

/// Why an option value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OptsError {
    /// A key appears twice.
    #[error("{option}: parameter '{key}' given twice")]
    Duplicate {
        /// The option, e.g. `-machine`.
        option: String,
        /// The key.
        key: String,
    },
    /// A key is empty, or the value is empty.
    #[error("{option}: invalid parameter list '{value}'")]
    Syntax {
        /// The option.
        option: String,
        /// What was given.
        value: String,
    },
    /// The JSON form is not a JSON object of scalars.
    #[error("{option}: {reason}")]
    Json {
        /// The option.
        option: String,
        /// Why.
        reason: String,
    },
}

/// One option's parameters, as strings (JSON numbers and booleans are
/// written as QEMU's key=value form would have them).
///
/// # Examples
///
/// ```
/// use examples::opts::Opts;
///
/// let o = Opts::parse("-machine", "type", "pc,usb=off,dump-guest-core=off").unwrap();
/// assert_eq!(o.get("type"), Some("pc"));
/// assert_eq!(o.get("usb"), Some("off"));
/// let d = Opts::parse("-device", "driver", r#"{"driver":"isa-serial","chardev":"c0","index":0}"#).unwrap();
/// assert_eq!(d.get("driver"), Some("isa-serial"));
/// assert_eq!(d.get("index"), Some("0"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opts {
    map: BTreeMap<String, String>,
}

impl Opts {
    /// Parses the value of `option`; `implied` is the key of a first item
    /// given without one (`None`: every item needs a key).
    ///
    /// # Errors
    ///
    /// [`OptsError`] for a malformed list or JSON.
    pub fn parse(option: &str, implied: &str, value: &str) -> Result<Self, OptsError> {
        if value.trim_start().starts_with('{') {
            return Self::parse_json(option, value);
        }
        let mut map = BTreeMap::new();
        for (index, item) in split_items(value).into_iter().enumerate() {
            let (key, val) = match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None if index == 0 && !implied.is_empty() => (implied.to_owned(), item.clone()),
                None => (item.clone(), "on".to_owned()),
            };
            if key.is_empty() {
                return Err(OptsError::Syntax {
                    option: option.to_owned(),
                    value: value.to_owned(),
                });
            }
            if map.insert(key.clone(), val).is_some() {
                return Err(OptsError::Duplicate {
                    option: option.to_owned(),
                    key,
                });
            }
        }
        Ok(Opts { map })
    }

    fn parse_json(option: &str, value: &str) -> Result<Self, OptsError> {
        let err = |reason: String| OptsError::Json {
            option: option.to_owned(),
            reason,
        };
        let parsed: serde_json::Value =
            serde_json::from_str(value).map_err(|e| err(format!("invalid JSON: {e}")))?;
        let serde_json::Value::Object(object) = parsed else {
            return Err(err("expected a JSON object".into()));
        };
        let mut map = BTreeMap::new();
        for (key, v) in object {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(true) => "on".to_owned(),
                serde_json::Value::Bool(false) => "off".to_owned(),
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(err(format!("parameter '{key}' is not a scalar: {other}"))),
            };
            map.insert(key, text);
        }
        Ok(Opts { map })
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Takes a parameter out (so that what is left can be refused).
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.map.remove(key)
    }

    /// The parameters not taken yet.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Whether every parameter was taken.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Splits at single commas; `,,` is a literal comma.
fn split_items(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ',' {
            if chars.peek() == Some(&',') {
                chars.next();
                current.push(',');
            } else {
                items.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    items.push(current);
    items.retain(|i| !i.is_empty());
    items
}

/// QEMU's boolean words.
///
/// # Examples
///
/// ```
/// assert_eq!(examples::opts::on_off("on"), Some(true));
/// assert_eq!(examples::opts::on_off("no"), Some(false));
/// assert_eq!(examples::opts::on_off("maybe"), None);
/// ```
pub fn on_off(value: &str) -> Option<bool> {
    match value {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_escape_and_flags_are_on() {
        let o = Opts::parse("-name", "guest", "a,,b,debug-threads").unwrap();
        assert_eq!(o.get("guest"), Some("a,b"));
        assert_eq!(o.get("debug-threads"), Some("on"));
    }

    #[test]
    fn duplicates_and_json_mistakes_are_errors() {
        assert!(matches!(
            Opts::parse("-m", "size", "128,size=64"),
            Err(OptsError::Duplicate { .. })
        ));
        assert!(Opts::parse("-device", "driver", "{\"driver\": [1]}").is_err());
        assert!(Opts::parse("-device", "driver", "{bad").is_err());
        assert!(Opts::parse("-rtc", "", "=utc").is_err());
    }

    #[test]
    fn libvirts_object_lines_parse() {
        let o = Opts::parse(
            "-object",
            "qom-type",
            r#"{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/k.aes"}"#,
        )
        .unwrap();
        assert_eq!(o.get("qom-type"), Some("secret"));
        let o = Opts::parse(
            "-object",
            "qom-type",
            "memory-backend-ram,id=pc.ram,size=134217728",
        )
        .unwrap();
        assert_eq!(o.get("size"), Some("134217728"));
    }
}
