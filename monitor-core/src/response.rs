//! Responses on the wire: `{"return": ..., "id": ...}` and
//! `{"id": ..., "error": {"class": ..., "desc": ...}}`, one per line, `\r\n`.
//! The `id` is echoed as QEMU echoes it: the same value, with the members
//! of its objects in QEMU's hash-table order (`docs/PROTOCOL.md`, sections
//! 2 and 7).

use crate::error::CommandError;
use crate::order::in_qdict_order;
use crate::reply::Reply;
use crate::value::Value;
use crate::version::VersionInfo;
use crate::wire;

/// The greeting a QMP client gets on connecting, offering `oob` or not.
pub fn greeting(version: &VersionInfo, offer_oob: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"QMP\": {\"version\": ");
    // A VersionInfo always serialises.
    let _ = wire::to_writer(&mut out, version);
    out.extend_from_slice(if offer_oob {
        b", \"capabilities\": [\"oob\"]}}\r\n"
    } else {
        b", \"capabilities\": []}}\r\n"
    });
    out
}

/// Appends a success response (the tests' shorthand for
/// [`write_answer`]).
#[cfg(test)]
pub(crate) fn write_return(out: &mut Vec<u8>, reply: &Reply, id: Option<&Value>) {
    let _ = return_with(out, reply, id.map(IdRef::Value));
}

/// An `id` to echo: as parsed, or already written in QEMU's order (by the
/// thread that parsed a large message, so that the monitor thread only
/// copies it).
#[derive(Debug)]
pub(crate) enum Echo {
    /// The parsed value.
    Value(Value),
    /// Its text, as [`Echo::written`] writes it.
    Written(Vec<u8>),
}

impl Echo {
    /// The text an `id` is echoed as.
    pub(crate) fn written(id: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        write_id(&mut out, id);
        out
    }

    fn as_ref(&self) -> IdRef<'_> {
        match self {
            Echo::Value(v) => IdRef::Value(v),
            Echo::Written(text) => IdRef::Written(text),
        }
    }
}

/// An [`Echo`] borrowed, an `id` value, or a hole for one.
#[derive(Clone, Copy)]
enum IdRef<'a> {
    Value(&'a Value),
    Written(&'a [u8]),
    /// Its text goes into the output at this point, without a copy
    /// (see [`write_answer`]).
    Hole,
}

impl IdRef<'_> {
    /// About how long its text is (exact when written).
    fn len_hint(self) -> usize {
        match self {
            IdRef::Value(_) => 16,
            IdRef::Written(text) => text.len(),
            IdRef::Hole => 0,
        }
    }

    fn write(self, out: &mut Vec<u8>) {
        match self {
            IdRef::Value(v) => write_id(out, v),
            IdRef::Written(text) => out.extend_from_slice(text),
            IdRef::Hole => {}
        }
    }
}

/// A written `id` this long is not copied into the answer: it goes out as
/// a buffer of its own (see [`write_answer`]).
const SPLICE_AT: usize = 64 << 10;

/// Output whose large parts are kept aside rather than copied: each
/// `(at, bytes)` goes into the output at offset `at`, before what follows.
pub(crate) type Splices = Vec<(usize, Vec<u8>)>;

/// `out` with its spliced parts put in place: the bytes a client gets.
pub(crate) fn join(out: &[u8], splices: Splices) -> Vec<u8> {
    let mut all =
        Vec::with_capacity(out.len() + splices.iter().map(|(_, p)| p.len()).sum::<usize>());
    let mut start = 0;
    for (at, part) in splices {
        all.extend_from_slice(&out[start..at]);
        all.extend_from_slice(&part);
        start = at;
    }
    all.extend_from_slice(&out[start..]);
    all
}

/// Appends the answer to a command with its `id`. A long written `id` is
/// not copied: its place in `out` and its text are pushed onto `splices`.
pub(crate) fn write_answer(
    out: &mut Vec<u8>,
    splices: &mut Splices,
    outcome: Result<&Reply, &CommandError>,
    id: Option<Echo>,
) {
    let text = match id {
        Some(Echo::Written(text)) if text.len() >= SPLICE_AT => text,
        other => {
            let id = other.as_ref().map(Echo::as_ref);
            match outcome {
                Ok(reply) => return_with(out, reply, id),
                Err(error) => error_with(out, error, id),
            };
            return;
        }
    };
    let at = match outcome {
        Ok(reply) => return_with(out, reply, Some(IdRef::Hole)),
        Err(error) => error_with(out, error, Some(IdRef::Hole)),
    };
    // A hole always has a place.
    if let Some(at) = at {
        splices.push((at, text));
    }
}

/// Writes a success response; returns where its `id` starts in `out`.
fn return_with(out: &mut Vec<u8>, reply: &Reply, id: Option<IdRef<'_>>) -> Option<usize> {
    // One allocation for a large answer, not a doubling copy.
    out.reserve(reply.as_bytes().len() + id.map_or(0, IdRef::len_hint) + 24);
    out.extend_from_slice(b"{\"return\": ");
    out.extend_from_slice(reply.as_bytes());
    let mut at = None;
    if let Some(id) = id {
        out.extend_from_slice(b", \"id\": ");
        at = Some(out.len());
        id.write(out);
    }
    out.extend_from_slice(b"}\r\n");
    at
}

/// Appends an error response.
pub fn write_error(out: &mut Vec<u8>, error: &CommandError, id: Option<&Value>) {
    let _ = error_with(out, error, id.map(IdRef::Value));
}

/// Writes an error response; returns where its `id` starts in `out`.
fn error_with(out: &mut Vec<u8>, error: &CommandError, id: Option<IdRef<'_>>) -> Option<usize> {
    out.reserve(error.desc().len() + id.map_or(0, IdRef::len_hint) + 64);
    // QEMU's hash order puts `id` before `error` (and after `return`).
    out.push(b'{');
    let mut at = None;
    if let Some(id) = id {
        out.extend_from_slice(b"\"id\": ");
        at = Some(out.len());
        id.write(out);
        out.extend_from_slice(b", ");
    }
    out.extend_from_slice(b"\"error\": {\"class\": \"");
    out.extend_from_slice(error.class().as_str().as_bytes());
    out.extend_from_slice(b"\", \"desc\": ");
    wire::write_str(out, error.desc());
    out.extend_from_slice(b"}}\r\n");
    at
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
    fn the_greeting_and_an_error_are_written_as_qemu_writes_them() {
        let greeting = greeting(&VersionInfo::new(7, 2, 0, ""), true);
        assert_eq!(
            greeting,
            b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n"
        );
        let mut out = Vec::new();
        write_error(&mut out, &CommandError::generic("no"), None);
        assert_eq!(
            out,
            b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\r\n"
        );
    }

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
