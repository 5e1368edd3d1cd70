//! Responses on the wire: `{"return": ..., "id": ...}` and
//! `{"id": ..., "error": {"class": ..., "desc": ...}}`, one per line, `\r\n`.
//! The `id` is echoed as QEMU echoes it: the same value, with the members
//! of its objects in QEMU's hash-table order.

use crate::command::Reply;
use crate::error::CommandError;
use crate::order::in_qdict_order;
use crate::value::Value;
use crate::wire;

/// Appends a success response.
///
/// # Examples
///
/// ```
/// use monitor_core::{response, Reply, Value};
///
/// let mut out = Vec::new();
/// response::write_return(&mut out, &Reply::empty(), Some(&Value::Int(1)));
/// assert_eq!(out, b"{\"return\": {}, \"id\": 1}\r\n");
/// ```
pub fn write_return(out: &mut Vec<u8>, reply: &Reply, id: Option<&Value>) {
    out.extend_from_slice(b"{\"return\": ");
    out.extend_from_slice(reply.as_bytes());
    if let Some(id) = id {
        out.extend_from_slice(b", \"id\": ");
        write_id(out, id);
    }
    out.extend_from_slice(b"}\r\n");
}

/// Appends an error response.
///
/// # Examples
///
/// ```
/// use monitor_core::{response, CommandError};
///
/// let mut out = Vec::new();
/// response::write_error(&mut out, &CommandError::generic("no"), None);
/// assert_eq!(out, b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\r\n");
/// ```
pub fn write_error(out: &mut Vec<u8>, error: &CommandError, id: Option<&Value>) {
    // QEMU's hash order puts `id` before `error` (and after `return`).
    out.push(b'{');
    if let Some(id) = id {
        out.extend_from_slice(b"\"id\": ");
        write_id(out, id);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(b"\"error\": {\"class\": \"");
    out.extend_from_slice(error.class().as_str().as_bytes());
    out.extend_from_slice(b"\", \"desc\": ");
    wire::write_str(out, error.desc());
    out.extend_from_slice(b"}}\r\n");
}

/// The `id` as QEMU echoes it: the value it parsed, written back with the
/// members of every object in QEMU's `QDict` order, not the client's.
fn write_id(out: &mut Vec<u8>, id: &Value) {
    wire::write_value(out, &in_qdict_order(id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_echoed_in_qemu_s_member_order() {
        // QEMU 7.2 answers `"id": {"b": 1, "a": 2}` with `{"a": 2, "b": 1}`.
        let id = Value::Object(
            [
                ("b".to_owned(), Value::Int(1)),
                ("a".to_owned(), Value::Int(2)),
            ]
            .into_iter()
            .collect(),
        );
        let mut out = Vec::new();
        write_return(&mut out, &Reply::empty(), Some(&id));
        assert_eq!(out, b"{\"return\": {}, \"id\": {\"a\": 2, \"b\": 1}}\r\n");
        out.clear();
        write_error(&mut out, &CommandError::generic("x"), Some(&id));
        assert!(out.starts_with(b"{\"id\": {\"a\": 2, \"b\": 1}, "));
    }

    #[test]
    fn error_with_id_puts_id_first_as_qemu_does() {
        let mut out = Vec::new();
        write_error(&mut out, &CommandError::generic("x"), Some(&Value::Null));
        assert_eq!(
            out,
            b"{\"id\": null, \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\r\n"
        );
    }
}
