//! QEMU's pretty output (`-qmp-pretty`, `-mon ...,pretty=on`), made from
//! the compact lines the rest of the crate writes.
//!
//! QEMU 7.2's `qobject/json-writer.c` in pretty mode puts every member of a
//! container on its own line, indented four spaces per level, and the
//! closing bracket on a line of its own at the outer level, even for an
//! empty container (`{` newline `}`). The monitor then appends `\n` and
//! turns every `\n` into `\r\n`. Reformatting the compact text, rather than
//! giving every writer a second mode, keeps one place that knows the
//! layout: responses carry handler results already serialised, and events
//! are serialised once for every client.

/// Spaces per nesting level (`json-writer.c`: `container->len * 4`).
const INDENT: usize = 4;
/// The monitor's line end (`monitor_puts` turns `\n` into `\r\n`).
const NEWLINE: &[u8] = b"\r\n";

/// Rewrites compact QMP output (messages as [`to_writer`](super::to_writer)
/// and the responses write them, each ending in `\r\n`) the way QEMU writes
/// them with `pretty=on`, appending to `out`.
///
/// Strings are copied as they are (their escapes included), so only the
/// layout changes. Whitespace between tokens is dropped and each message
/// ends with `\r\n`. Text outside a message that is not JSON (there is
/// none in QMP output) is copied up to its line end unchanged.
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// monitor_core::wire::to_pretty(b"{\"return\": {}}\r\n", &mut out);
/// assert_eq!(out, b"{\r\n    \"return\": {\r\n    }\r\n}\r\n");
///
/// out.clear();
/// monitor_core::wire::to_pretty(b"{\"a\": [1, \"x, y\"], \"b\": []}\r\n", &mut out);
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "{\r\n    \"a\": [\r\n        1,\r\n        \"x, y\"\r\n    ],\r\n    \"b\": [\r\n    ]\r\n}\r\n"
/// );
/// ```
pub fn to_pretty(compact: &[u8], out: &mut Vec<u8>) {
    out.reserve(compact.len() * 2);
    let mut depth = 0usize;
    // The next value (or key) starts a line: it follows `{`, `[` or `,`.
    let mut line_pending = false;
    let mut i = 0;
    while i < compact.len() {
        let b = compact[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'{' | b'[' => {
                start_value(out, depth, &mut line_pending);
                out.push(b);
                depth += 1;
                line_pending = true;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                // QEMU breaks the line before every closing bracket, so an
                // empty container takes two lines too.
                depth -= 1;
                newline(out, depth);
                out.push(b);
                line_pending = false;
                i += 1;
                if depth == 0 {
                    out.extend_from_slice(NEWLINE);
                }
            }
            b',' if depth > 0 => {
                out.push(b',');
                line_pending = true;
                i += 1;
            }
            b':' if depth > 0 => {
                out.extend_from_slice(b": ");
                i += 1;
            }
            b'"' if depth > 0 => {
                start_value(out, depth, &mut line_pending);
                let end = string_end(compact, i);
                out.extend_from_slice(&compact[i..end]);
                i = end;
            }
            _ if depth > 0 => {
                // A number, `true`, `false`, `null`, or QEMU's `inf`/`nan`.
                start_value(out, depth, &mut line_pending);
                let end = compact[i..]
                    .iter()
                    .position(|c| b",:]}\" \t\r\n".contains(c))
                    .map_or(compact.len(), |p| i + p);
                out.extend_from_slice(&compact[i..end]);
                i = end.max(i + 1);
            }
            _ => {
                // Not a message: nothing to lay out.
                let end = compact[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(compact.len(), |p| i + p + 1);
                out.extend_from_slice(&compact[i..end]);
                i = end;
            }
        }
    }
}

/// Starts the line of a value or key if one is due.
fn start_value(out: &mut Vec<u8>, depth: usize, line_pending: &mut bool) {
    if std::mem::take(line_pending) {
        newline(out, depth);
    }
}

fn newline(out: &mut Vec<u8>, depth: usize) {
    out.extend_from_slice(NEWLINE);
    out.resize(out.len() + depth * INDENT, b' ');
}

/// The index after the string literal starting at `start` (its `"`); the
/// end of the input if it is not closed.
fn string_end(text: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(compact: &str) -> String {
        let mut out = Vec::new();
        to_pretty(compact.as_bytes(), &mut out);
        String::from_utf8(out).expect("ASCII in, ASCII out")
    }

    // Expected bytes below were captured from QEMU 7.2
    // (`qemu-system-x86_64 -machine none -qmp-pretty unix:...`).

    #[test]
    fn greeting_as_qemu() {
        assert_eq!(
            pretty(
                "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \
                 \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"
            ),
            "{\r\n    \"QMP\": {\r\n        \"version\": {\r\n            \"qemu\": {\r\n                \
             \"micro\": 22,\r\n                \"minor\": 2,\r\n                \"major\": 7\r\n            \
             },\r\n            \"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"\r\n        },\r\n        \
             \"capabilities\": [\r\n            \"oob\"\r\n        ]\r\n    }\r\n}\r\n"
        );
    }

    #[test]
    fn empty_return_as_qemu() {
        assert_eq!(
            pretty("{\"return\": {}}\r\n"),
            "{\r\n    \"return\": {\r\n    }\r\n}\r\n"
        );
        assert_eq!(
            pretty("{\"return\": []}\r\n"),
            "{\r\n    \"return\": [\r\n    ]\r\n}\r\n"
        );
    }

    #[test]
    fn error_with_id_as_qemu() {
        assert_eq!(
            pretty(
                "{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", \
                 \"desc\": \"The command nope has not been found\"}}\r\n"
            ),
            "{\r\n    \"id\": \"x\",\r\n    \"error\": {\r\n        \"class\": \"CommandNotFound\",\r\n        \
             \"desc\": \"The command nope has not been found\"\r\n    }\r\n}\r\n"
        );
    }

    #[test]
    fn event_then_return_as_qemu() {
        assert_eq!(
            pretty(
                "{\"timestamp\": {\"seconds\": 1796171389, \"microseconds\": 668280}, \"event\": \"STOP\"}\r\n\
                 {\"return\": {}}\r\n"
            ),
            "{\r\n    \"timestamp\": {\r\n        \"seconds\": 1796171389,\r\n        \
             \"microseconds\": 668280\r\n    },\r\n    \"event\": \"STOP\"\r\n}\r\n\
             {\r\n    \"return\": {\r\n    }\r\n}\r\n"
        );
    }

    #[test]
    fn nested_ids_as_qemu() {
        // query-status with `"id": [1, {}, [], {"a": []}]`.
        assert_eq!(
            pretty(
                "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \
                 \"id\": [1, {}, [], {\"a\": []}]}\r\n"
            ),
            "{\r\n    \"return\": {\r\n        \"status\": \"running\",\r\n        \
             \"singlestep\": false,\r\n        \"running\": true\r\n    },\r\n    \
             \"id\": [\r\n        1,\r\n        {\r\n        },\r\n        [\r\n        ],\r\n        \
             {\r\n            \"a\": [\r\n            ]\r\n        }\r\n    ]\r\n}\r\n"
        );
    }

    #[test]
    fn strings_keep_their_text_and_escapes() {
        assert_eq!(
            pretty(
                "{\"id\": \"a\\\"b\\n\\u00E9, :{}[]\", \"error\": {\"class\": \"CommandNotFound\", \
                 \"desc\": \"The command nope has not been found\"}}\r\n"
            ),
            "{\r\n    \"id\": \"a\\\"b\\n\\u00E9, :{}[]\",\r\n    \"error\": {\r\n        \
             \"class\": \"CommandNotFound\",\r\n        \
             \"desc\": \"The command nope has not been found\"\r\n    }\r\n}\r\n"
        );
        assert_eq!(
            pretty("{\"return\": \"7.2.22\\r\\n\"}\r\n"),
            "{\r\n    \"return\": \"7.2.22\\r\\n\"\r\n}\r\n"
        );
    }

    #[test]
    fn numbers_and_non_json_scalars_are_copied() {
        assert_eq!(
            pretty("{\"id\": 1.5, \"x\": [-1e+300, inf, null]}\r\n"),
            "{\r\n    \"id\": 1.5,\r\n    \"x\": [\r\n        -1e+300,\r\n        inf,\r\n        \
             null\r\n    ]\r\n}\r\n"
        );
    }

    #[test]
    fn text_outside_messages_passes_through() {
        assert_eq!(pretty("oops\r\n{}\r\n"), "oops\r\n{\r\n}\r\n");
        assert_eq!(pretty(""), "");
    }

    #[test]
    fn compact_and_pretty_hold_the_same_value() {
        let value = serde_json::json!({"a": [1, {"b": null}, [], {}], "c": "d, e: [f]", "g": 2.5});
        let mut compact = Vec::new();
        super::super::to_writer(&mut compact, &value).expect("serialisable");
        compact.extend_from_slice(b"\r\n");
        let mut out = Vec::new();
        to_pretty(&compact, &mut out);
        let back: serde_json::Value = serde_json::from_slice(&out).expect("pretty output is JSON");
        assert_eq!(back, value);
        assert!(out.ends_with(b"}\r\n"));
    }
}
