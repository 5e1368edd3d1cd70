//! What the fuzz targets share: the checks every output must pass, and a
//! session driver that releases deferred answers as the input says.

use monitor_core::session::{Dispatcher, Session};

/// Asserts `out` is whole response lines: ASCII, each `\r\n` terminated and
/// one JSON object, none reporting a panicking handler (the dispatcher turns
/// a panic into an error, which would hide it from the fuzzer). The one
/// thing allowed that is not JSON is QEMU's: an `id` holding a number too
/// large for a double is echoed as `inf` or `-inf` (see [`parse_response`]).
pub fn check_output(out: &[u8]) {
    assert!(
        out.is_ascii(),
        "non-ASCII output: {:?}",
        String::from_utf8_lossy(out)
    );
    let text = std::str::from_utf8(out).expect("ASCII is UTF-8");
    assert!(
        text.is_empty() || text.ends_with("\r\n"),
        "unterminated output: {text:?}"
    );
    for line in text.split_terminator("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "a bare line break in {line:?}"
        );
        let v = parse_response(line);
        assert!(v.is_object(), "not an object: {line}");
        if let Some(desc) = v["error"]["desc"].as_str() {
            let panicked =
                desc.starts_with("The command ") && desc.ends_with(" has failed unexpectedly");
            assert!(!panicked, "a handler panicked: {line}");
        }
    }
}

/// Stands in for a non-finite number while a line is checked.
const NON_FINITE: &str = "\"\\u0000non-finite\"";

/// Parses one response line. A line that is not JSON is accepted only if
/// it becomes JSON once its bare `inf`/`-inf` tokens (outside strings) are
/// replaced, and all of them were in its `id`: QEMU 7.2 echoes an `id` of
/// `1e400` as `inf`, and this library does the same on purpose
/// (`wire::write_value`, docs/PROTOCOL.md). Panics otherwise.
pub fn parse_response(line: &str) -> serde_json::Value {
    let error = match serde_json::from_str(line) {
        Ok(v) => return v,
        Err(e) => e,
    };
    let invalid = || -> ! { panic!("invalid JSON ({error}): {line:?}") };
    let bytes = line.as_bytes();
    let mut patched = Vec::with_capacity(line.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            if b == b'\\' {
                // The escape and the byte it escapes, whatever that is.
                patched.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                i += 2;
                continue;
            }
            in_string = b != b'"';
        } else if b == b'"' {
            in_string = true;
        } else if let Some(token) = [&b"-inf"[..], b"inf"]
            .into_iter()
            .find(|t| bytes[i..].starts_with(t))
        {
            patched.extend_from_slice(NON_FINITE.as_bytes());
            i += token.len();
            continue;
        }
        patched.push(b);
        i += 1;
    }
    // Nothing replaced leaves the line as it was, which did not parse.
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&patched) else {
        invalid()
    };
    let mut without_id = v.clone();
    let id = without_id.as_object_mut().and_then(|o| o.remove("id"));
    if id.is_none() || without_id.to_string().contains(NON_FINITE) {
        invalid()
    }
    v
}

/// Feeds `input[*pos..]` to the session for as long as it takes input.
pub fn step_all(
    d: &Dispatcher,
    session: &mut Session,
    input: &[u8],
    pos: &mut usize,
    out: &mut Vec<u8>,
) {
    loop {
        let (used, handled) = session.step(d, &input[*pos..], out);
        *pos += used;
        if handled.is_none() && (used == 0 || *pos == input.len()) {
            return;
        }
    }
}

/// Takes one byte from the front of `data`.
pub fn take_byte(data: &mut &[u8]) -> Option<u8> {
    let (&b, rest) = data.split_first()?;
    *data = rest;
    Some(b)
}

/// Takes up to `n` bytes from the front of `data`.
pub fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, rest) = data.split_at(n.min(data.len()));
    *data = rest;
    head
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn a_non_finite_id_is_the_only_non_json_allowed() {
        let ok = [
            r#"{"return": {}, "id": 1}"#,
            r#"{"return": "inf", "id": inf}"#,
            r#"{"id": -inf, "error": {"class": "GenericError", "desc": "x"}}"#,
            r#"{"return": {}, "id": [inf, {"a": "\"inf"}]}"#,
        ];
        for line in ok {
            parse_response(line);
        }
        let bad = [
            r#"{"return": inf, "id": 1}"#,
            r#"{"return": inf}"#,
            r#"{"return": {}, "id": infinity}"#,
            r#"{"return": {}, "id": nan}"#,
            r#"{"return": {}"#,
        ];
        for line in bad {
            let caught = std::panic::catch_unwind(|| parse_response(line));
            assert!(caught.is_err(), "{line} was accepted");
        }
    }
}
