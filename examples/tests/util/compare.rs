//! Comparing two transcripts of a case: each line normalised (events
//! dropped unless kept, versions, command lists and timestamps masked),
//! then compared as JSON values, and also by the wire text of their
//! strings and numbers and the order of their object members, so that
//! `100` against `1e2`, or `{"b": 1, "a": 2}` against `{"a": 2, "b": 1}`,
//! differ. A difference is reported with its context.

use std::fmt::Write as _;

use serde_json::Value;

use super::case::Case;
use super::server::Transcript;

/// Lines of context shown around the first difference.
const CONTEXT: usize = 6;
/// Characters of one line or of the input shown in a report.
const SHOWN: usize = 400;

/// A line reduced to what must match QEMU.
#[derive(Debug)]
struct Line {
    /// The line as received.
    raw: Vec<u8>,
    /// Parsed and normalised, if it is JSON serde_json can read.
    json: Option<Value>,
    /// Wire text of every string and number, sorted, when the line was not
    /// normalised: catches what `Value` equality hides (`100` vs `1e2`,
    /// `\u00E9` vs `\u00e9` vs a raw `é`).
    scalars: Option<Vec<String>>,
    /// Wire text of every object member name, in order, when the line was
    /// not normalised: catches what `Value` equality hides (member order).
    keys: Option<Vec<String>>,
}

impl PartialEq for Line {
    fn eq(&self, other: &Line) -> bool {
        match (&self.json, &other.json) {
            (Some(a), Some(b)) => {
                a == b
                    && self.raw.ends_with(b"\r\n") == other.raw.ends_with(b"\r\n")
                    && self.raw.is_ascii() == other.raw.is_ascii()
                    && (self.scalars.is_none()
                        || other.scalars.is_none()
                        || self.scalars == other.scalars)
                    && (self.keys.is_none() || other.keys.is_none() || self.keys == other.keys)
            }
            _ => self.raw == other.raw,
        }
    }
}

/// Drops events (unless kept), masks the greeting's version, the results of
/// `query-version` and `query-commands`, and kept events' timestamps.
fn normalise(case: &Case, transcript: &Transcript) -> Vec<Line> {
    let mut out = Vec::new();
    for (i, raw) in transcript.lines.iter().enumerate() {
        let Some(mut value) = parse_line(raw) else {
            out.push(Line {
                raw: raw.clone(),
                json: None,
                scalars: None,
                keys: None,
            });
            continue;
        };
        let mut masked = false;
        if i == 0 {
            if let Some(qmp) = value.get_mut("QMP").and_then(Value::as_object_mut) {
                masked = qmp.remove("version").is_some();
            }
        } else if let Some(name) = value.get("event").cloned() {
            if !case.keep_events.iter().any(|kept| name == *kept) {
                continue;
            }
            if let Some(ts) = value.get_mut("timestamp") {
                *ts = Value::from("<timestamp>");
                masked = true;
            }
        } else if let Some(ret) = value.get_mut("return") {
            let placeholder = if ret.get("qemu").is_some() && ret.get("package").is_some() {
                Some("<query-version>")
            } else if ret.as_array().is_some_and(|items| {
                !items.is_empty() && items.iter().all(|item| item.get("name").is_some())
            }) {
                Some("<query-commands>")
            } else {
                None
            };
            if let Some(placeholder) = placeholder {
                *ret = Value::from(placeholder);
                masked = true;
            }
        }
        out.push(Line {
            raw: raw.clone(),
            json: Some(value),
            scalars: (!masked).then(|| scalars(raw).0),
            keys: (!masked).then(|| scalars(raw).1),
        });
    }
    out
}

/// A line as JSON; QEMU's `inf`, `-inf` and `nan` (which are not JSON, and
/// which it writes for numbers beyond a double) read as the strings
/// `"<inf>"`, `"<-inf>"` and `"<nan>"`, so that the rest of the line is
/// still normalised.
fn parse_line(raw: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice(raw) {
        return Some(value);
    }
    let mut text = Vec::with_capacity(raw.len() + 16);
    let mut in_string = false;
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if in_string {
            text.push(b);
            match b {
                b'\\' if i + 1 < raw.len() => {
                    text.push(raw[i + 1]);
                    i += 1;
                }
                b'"' => in_string = false,
                _ => {}
            }
        } else if let Some(word) = [&b"-inf"[..], b"inf", b"-nan", b"nan"]
            .into_iter()
            .find(|w| raw[i..].starts_with(w))
        {
            text.extend_from_slice(b"\"<");
            text.extend_from_slice(word);
            text.extend_from_slice(b">\"");
            i += word.len() - 1;
        } else {
            in_string = b == b'"';
            text.push(b);
        }
        i += 1;
    }
    serde_json::from_slice(&text).ok()
}

/// The wire text of every string and number in a JSON line, sorted; and of
/// every member name (a string followed by `:`), in order.
fn scalars(raw: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let start = i;
        match raw[i] {
            b'"' => {
                i += 1;
                while i < raw.len() && raw[i] != b'"' {
                    i += if raw[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(raw.len());
            }
            b'-' | b'0'..=b'9' => {
                while i < raw.len()
                    && matches!(raw[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
            }
            _ => {
                i += 1;
                continue;
            }
        }
        let text = String::from_utf8_lossy(&raw[start..i]).into_owned();
        let after = raw[i..].iter().find(|b| !b.is_ascii_whitespace());
        if raw[start] == b'"' && after == Some(&b':') {
            keys.push(text.clone());
        }
        out.push(text);
    }
    out.sort_unstable();
    (out, keys)
}

/// A report when the transcripts differ, `None` when they match.
pub(super) fn compare(case: &Case, qemu: &Transcript, ours: &Transcript) -> Option<String> {
    let (mut a, mut b) = (normalise(case, qemu), normalise(case, ours));
    if case.unordered {
        for lines in [&mut a, &mut b] {
            lines.sort_by_cached_key(|line| match &line.json {
                Some(value) => value.to_string(),
                None => String::from_utf8_lossy(&line.raw).into_owned(),
            });
        }
    }
    if qemu.error.is_none() && ours.error.is_none() && a == b {
        return None;
    }
    let first = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut report = format!("=== case `{}` (negotiation: {:?})\n", case.name, case.nego);
    let sent: Vec<String> = case.chunks.iter().map(|c| shown(c)).collect();
    let _ = writeln!(report, "sent: {}", sent.join(" | "));
    for (who, transcript, lines) in [("qemu", qemu, &a), ("ours", ours, &b)] {
        let _ = writeln!(
            report,
            "{who}: {} lines ({} after normalisation){}",
            transcript.lines.len(),
            lines.len(),
            transcript
                .error
                .as_ref()
                .map(|e| format!(", stopped early: {e}"))
                .unwrap_or_default()
        );
        let from = first.saturating_sub(CONTEXT);
        let to = (first + CONTEXT).min(lines.len());
        if from > 0 {
            let _ = writeln!(report, "  ... {from} equal lines");
        }
        for (n, line) in lines.iter().enumerate().take(to).skip(from) {
            let mark = if n == first { ">" } else { " " };
            let _ = writeln!(report, " {mark}{n:4} {}", shown(&line.raw));
        }
        if to < lines.len() {
            let _ = writeln!(report, "  ... {} more lines", lines.len() - to);
        }
    }
    Some(report)
}

/// Bytes as escaped ASCII, cut to a readable length.
pub(super) fn shown(bytes: &[u8]) -> String {
    let text = bytes.escape_ascii().to_string();
    if text.len() <= SHOWN {
        text
    } else {
        format!("{}... ({} bytes)", &text[..SHOWN], bytes.len())
    }
}
