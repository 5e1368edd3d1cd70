//! Bytes that are not UTF-8, carried through text as characters of their
//! own.
//!
//! QEMU's line editor keeps bytes: `q\xb4` is a command named `q\xb4`,
//! unknown, and echoed as it came. The console works on characters, so
//! each byte that is not part of a valid UTF-8 character becomes one
//! escape character, U+EF80 + (byte - 0x80) (a private-use block, as
//! OPTU-8 does), and is written back as the byte itself. A real character
//! of that block typed by the operator is escaped byte by byte too, so
//! what is written back is always exactly what was typed.

/// The first escape character (for byte 0x80).
const FIRST: u32 = 0xEF80;

/// The escape character standing for `byte` (0x80 to 0xff).
pub(crate) fn escape(byte: u8) -> char {
    debug_assert!(byte >= 0x80, "ASCII is never escaped");
    char::from_u32(FIRST + u32::from(byte - 0x80)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The byte an escape character stands for.
pub(crate) fn unescape(c: char) -> Option<u8> {
    let offset = u32::from(c).checked_sub(FIRST)?;
    u8::try_from(offset)
        .ok()
        .filter(|&b| b < 0x80)
        .map(|b| b + 0x80)
}

/// Appends `c`: an escape character as its byte, anything else as UTF-8.
pub(crate) fn push(out: &mut Vec<u8>, c: char) {
    if c.is_ascii() {
        out.push(c as u8);
    } else if let Some(byte) = unescape(c) {
        out.push(byte);
    } else {
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_high_byte_round_trips() {
        for byte in 0x80..=0xffu8 {
            let c = escape(byte);
            assert_eq!(unescape(c), Some(byte));
            let mut out = Vec::new();
            push(&mut out, c);
            assert_eq!(out, [byte]);
        }
    }

    #[test]
    fn other_characters_are_written_as_utf8() {
        let mut out = Vec::new();
        for c in ['a', 'é', '\u{EF7F}', '\u{F000}', '😀'] {
            assert_eq!(unescape(c), None);
            push(&mut out, c);
        }
        assert_eq!(out, "aé\u{EF7F}\u{F000}😀".as_bytes());
    }
}
