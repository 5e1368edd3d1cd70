//! What the fuzz targets share: the checks every output must pass, and a
//! session driver that releases deferred answers as the input says.

use monitor_core::session::{Dispatcher, Session};

/// Asserts `out` is whole response lines: ASCII, each `\r\n` terminated and
/// one JSON object, none reporting a panicking handler (the dispatcher turns
/// a panic into an error, which would hide it from the fuzzer).
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
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("invalid JSON ({e}): {line:?}"));
        assert!(v.is_object(), "not an object: {line}");
        if let Some(desc) = v["error"]["desc"].as_str() {
            let panicked =
                desc.starts_with("The command ") && desc.ends_with(" has failed unexpectedly");
            assert!(!panicked, "a handler panicked: {line}");
        }
    }
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
