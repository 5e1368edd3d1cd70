//! Request validation: the shape checks of QEMU's `qmp_dispatch_check_obj`.
//!
//! QEMU walks the request's members in its hash table's order and reports
//! the first problem; [`qdict_order`] reproduces that order so the same
//! input gets the same single error. The checks and their texts:
//! `docs/PROTOCOL.md`, section 4.

use crate::error::CommandError;
use crate::value::{Map, Value};

/// A well-formed request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The command name (`execute` or `exec-oob`).
    pub command: String,
    /// Whether it came as `exec-oob`.
    pub oob: bool,
    /// The arguments (`{}` when absent).
    pub arguments: Map,
    /// The `id`, echoed verbatim in the response.
    pub id: Option<Value>,
}

/// A request rejected before dispatch, with the `id` to echo (if any).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The error to answer with.
    pub error: CommandError,
    /// The request's `id`, if it was an object with one.
    pub id: Option<Value>,
}

/// QEMU's `qmp_is_oob`: `exec-oob` without `execute` (checked before
/// validation, to decide whether the request bypasses the in-band queue).
pub fn is_oob(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.contains_key("exec-oob") && !m.contains_key("execute"))
}

/// Validates a parsed message as a request.
///
/// `oob_enabled` is whether the session negotiated the `oob` capability.
///
/// # Errors
///
/// Returns QEMU's `GenericError` for the first problem found, with the
/// request's `id` when it had one.
pub fn check(value: Value, oob_enabled: bool) -> Result<Request, Rejected> {
    let Value::Object(mut map) = value else {
        return Err(Rejected {
            error: CommandError::generic("QMP input must be a JSON object"),
            id: None,
        });
    };
    if let Some(exec_key) = well_formed(&map, oob_enabled) {
        return Ok(take_apart(map, exec_key));
    }
    let id = map.get("id").cloned();
    let reject = |desc: String, id: Option<Value>| Rejected {
        error: CommandError::generic(desc),
        id,
    };
    // A faulty request: QEMU's member order says which fault is named.
    let mut exec_key: Option<&'static str> = None;
    for index in qdict_order(map.keys().map(String::as_str)) {
        let Some((name, member)) = map.get_index(index) else {
            continue;
        };
        match name.as_str() {
            "execute" | "exec-oob" if name == "execute" || oob_enabled => {
                if !matches!(member, Value::String(_)) {
                    return Err(reject(
                        format!("QMP input member '{name}' must be a string"),
                        id,
                    ));
                }
                if let Some(first) = exec_key {
                    return Err(reject(
                        format!("QMP input member '{name}' clashes with '{first}'"),
                        id,
                    ));
                }
                exec_key = Some(if name == "execute" {
                    "execute"
                } else {
                    "exec-oob"
                });
            }
            "arguments" => {
                if !matches!(member, Value::Object(_)) {
                    return Err(reject(
                        "QMP input member 'arguments' must be an object".into(),
                        id,
                    ));
                }
            }
            "id" => {}
            _ => {
                return Err(reject(
                    format!("QMP input member '{name}' is unexpected"),
                    id,
                ))
            }
        }
    }
    let Some(exec_key) = exec_key else {
        return Err(reject("QMP input lacks member 'execute'".into(), id));
    };
    let oob = exec_key == "exec-oob";
    let command = match map.swap_remove(exec_key) {
        Some(Value::String(s)) => s,
        _ => return Err(reject("QMP input lacks member 'execute'".into(), id)),
    };
    let arguments = match map.swap_remove("arguments") {
        Some(Value::Object(args)) => args,
        _ => Map::new(),
    };
    Ok(Request {
        command,
        oob,
        arguments,
        id,
    })
}

/// The request a well-formed message (see [`well_formed`]) makes, its
/// members moved out without a lookup.
fn take_apart(map: Map, exec_key: &str) -> Request {
    let mut request = Request {
        command: String::new(),
        oob: exec_key == "exec-oob",
        arguments: Map::new(),
        id: None,
    };
    for (name, member) in map {
        match (name.as_str(), member) {
            ("arguments", Value::Object(arguments)) => request.arguments = arguments,
            ("id", id) => request.id = Some(id),
            (_, Value::String(command)) => request.command = command,
            _ => {}
        }
    }
    request
}

/// The execute key of a request with nothing to complain about: one
/// string `execute` (or `exec-oob` with `oob` negotiated), an object
/// `arguments` if any, an `id` if any, and nothing else.
fn well_formed(map: &Map, oob_enabled: bool) -> Option<&'static str> {
    let mut exec_key = None;
    for (name, member) in map {
        match (name.as_str(), member) {
            ("execute", Value::String(_)) if exec_key.is_none() => exec_key = Some("execute"),
            ("exec-oob", Value::String(_)) if oob_enabled && exec_key.is_none() => {
                exec_key = Some("exec-oob");
            }
            ("arguments", Value::Object(_)) | ("id", _) => {}
            _ => return None,
        }
    }
    exec_key
}

pub use crate::order::qdict_order;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::Splitter;

    fn req(text: &str, oob: bool) -> Result<Request, Rejected> {
        let v = Splitter::new().feed_all(text.as_bytes()).remove(0).unwrap();
        check(v, oob)
    }

    fn desc(text: &str, oob: bool) -> String {
        req(text, oob).unwrap_err().error.desc().to_owned()
    }

    #[test]
    fn a_rejected_request_keeps_its_id() {
        let rejected = req(r#"{"execute": 1, "id": 7}"#, false).unwrap_err();
        assert_eq!(
            rejected.error.desc(),
            "QMP input member 'execute' must be a string"
        );
        assert_eq!(rejected.id, Some(7.into()));
    }

    #[test]
    fn execute_is_checked_before_arguments_and_extras() {
        // Observed on QEMU 7.2.
        assert_eq!(
            desc(r#"{"execute":1, "arguments":2, "foo": 3}"#, true),
            "QMP input member 'execute' must be a string"
        );
        assert_eq!(
            desc(r#"{"foo":1, "execute":"x"}"#, true),
            "QMP input member 'foo' is unexpected"
        );
        assert_eq!(
            desc(r#"{"execute":"x", "exec-oob":"y"}"#, true),
            "QMP input member 'execute' clashes with 'exec-oob'"
        );
    }

    #[test]
    fn exec_oob_without_capability_is_unexpected() {
        assert_eq!(
            desc(r#"{"exec-oob":"x"}"#, false),
            "QMP input member 'exec-oob' is unexpected"
        );
    }

    #[test]
    fn missing_execute_is_reported_last() {
        assert_eq!(
            desc(r#"{"id": 1}"#, false),
            "QMP input lacks member 'execute'"
        );
        assert_eq!(
            req(r#"{"id": 1}"#, false).unwrap_err().id,
            Some(Value::Int(1))
        );
    }

    #[test]
    fn absent_arguments_are_empty() {
        let r = req(r#"{"execute":"x"}"#, false).unwrap();
        assert!(r.arguments.is_empty());
        assert_eq!(r.command, "x");
        assert!(!r.oob);
    }
}
