//! Output encoding exactly as QEMU writes it.
//!
//! Compact JSON with `": "` and `", "` separators, ASCII only (`\uXXXX` with
//! uppercase hex, surrogate pairs beyond the BMP), doubles printed like C's
//! `%.17g`, one object per line ending in `\r\n`. A listener may ask for
//! QEMU's pretty layout instead ([`to_pretty`]). The rules:
//! `docs/PROTOCOL.md`, section 11.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

use crate::value::Value;

mod pretty;

pub use pretty::to_pretty;

/// serde_json formatter producing QEMU's output format.
#[derive(Debug, Clone, Copy, Default)]
pub struct QmpFormatter;

fn write_escaped_char<W: ?Sized + io::Write>(w: &mut W, c: char) -> io::Result<()> {
    let cp = c as u32;
    if cp > 0xFFFF {
        let v = cp - 0x10000;
        write!(
            w,
            "\\u{:04X}\\u{:04X}",
            0xD800 + (v >> 10),
            0xDC00 + (v & 0x3FF)
        )
    } else {
        write!(w, "\\u{cp:04X}")
    }
}

impl Formatter for QmpFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        let mut buf = Vec::with_capacity(24);
        format_g17(value, &mut buf);
        w.write_all(&buf)
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        // The common case, checked a byte at a time without decoding.
        if !bytes.iter().any(|&b| b >= 0x7F) {
            return w.write_all(bytes);
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if (c as u32) < 0x7F {
                continue;
            }
            w.write_all(&bytes[start..i])?;
            write_escaped_char(w, c)?;
            start = i + c.len_utf8();
        }
        w.write_all(&bytes[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        let s: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\b",
            CharEscape::FormFeed => b"\\f",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::AsciiControl(b) => return write!(w, "\\u{:04X}", b),
        };
        w.write_all(s)
    }
}

/// Serialises `value` in QEMU's format, appending to `out`.
///
/// # Errors
///
/// Fails when the value's `Serialize` implementation fails (for example a
/// map with non-string keys).
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// monitor_core::wire::to_writer(&mut out, &serde_json::json!({"a": [1, "é"]})).unwrap();
/// assert_eq!(out, br#"{"a": [1, "\u00E9"]}"#);
/// ```
pub fn to_writer<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::with_formatter(out, QmpFormatter);
    value.serialize(&mut ser)
}

/// Writes a [`Value`] exactly as QEMU echoes it, non-finite doubles included
/// (QEMU prints `inf` there, which is not JSON, but it is what it sends).
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Double(d) if !d.is_finite() => format_g17(*d, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_str(out, k);
                out.extend_from_slice(b": ");
                write_value(out, v);
            }
            out.push(b'}');
        }
        other => {
            // Scalars cannot fail to serialise.
            let _ = to_writer(out, other);
        }
    }
}

/// Writes a JSON string literal in QEMU's format.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = to_writer(out, s);
}

/// C's `printf("%.17g", value)`, which QEMU uses for every double.
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// monitor_core::wire::format_g17(0.1, &mut out);
/// assert_eq!(out, b"0.10000000000000001");
/// ```
pub fn format_g17(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if value.is_infinite() {
        out.extend_from_slice(if value < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        });
        return;
    }
    const P: i32 = 17;
    let sci = format!("{:.*e}", (P - 1) as usize, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    if negative {
        out.push(b'-');
    }
    if !(-4..P).contains(&exp) {
        out.push(digits[0]);
        let frac = trim_zeros(&digits[1..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let point = exp as usize + 1;
        out.extend_from_slice(&digits[..point]);
        let frac = trim_zeros(&digits[point..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(&digits));
    }
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
    &digits[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(v: f64) -> String {
        let mut out = Vec::new();
        format_g17(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn g17_matches_c() {
        assert_eq!(g(1500.0), "1500");
        assert_eq!(g(-0.25), "-0.25");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(1.5e-5), "1.5e-05");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(1e300), "1.0000000000000001e+300");
        assert_eq!(g(18446744073709551616.0), "1.8446744073709552e+19");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(-0.0), "-0");
    }

    #[test]
    fn non_ascii_is_escaped_uppercase() {
        let mut out = Vec::new();
        to_writer(&mut out, "\u{e9}\u{1F600}\u{7f}\u{1}/").unwrap();
        assert_eq!(out, br#""\u00E9\uD83D\uDE00\u007F\u0001/""#);
    }

    #[test]
    fn separators_are_qemus() {
        let mut out = Vec::new();
        to_writer(&mut out, &serde_json::json!({"a": [1, 2], "b": {}})).unwrap();
        assert_eq!(out, br#"{"a": [1, 2], "b": {}}"#);
    }
}
