//! QEMU's JSON parser: turns one balanced message's tokens into a [`Value`].
//!
//! The messages (`expecting value`, `duplicate key`, ...) and the Unicode
//! rules (modified UTF-8, noncharacters rejected, `\u0000` allowed) follow
//! QEMU 7.2's `qobject/json-parser.c` and `util/unicode.c`; the first error
//! wins. The rules and their texts: `docs/PROTOCOL.md`, section 9.

use crate::value::{Map, Value};

/// Token kinds, as QEMU's `JSONTokenType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    LCurly,
    RCurly,
    LSquare,
    RSquare,
    Colon,
    Comma,
    Integer,
    Float,
    Keyword,
    String,
}

/// A token of a message; its text lives in the message's text (the
/// splitter's buffer). Twelve bytes: a message holds up to 2 Mi of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    start: u32,
    end: u32,
}

impl Token {
    /// A token of `kind` whose text is at `start..end` in the message's.
    pub(crate) fn new(kind: TokenKind, start: u32, end: u32) -> Token {
        Token { kind, start, end }
    }

    /// Where its text is in the message's text.
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Parses the tokens of one message. The error is QEMU's message without
/// the `JSON parse error, ` prefix.
pub(crate) fn parse(tokens: &[Token], text: &[u8]) -> Result<Value, String> {
    let mut parser = Parser {
        tokens,
        text,
        pos: 0,
    };
    parser.value()
}

struct Parser<'a> {
    tokens: &'a [Token],
    text: &'a [u8],
    pos: usize,
}

const PREMATURE_EOI: &str = "premature EOI";

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token> {
        self.tokens.get(self.pos).copied()
    }

    fn pop(&mut self) -> Option<Token> {
        let token = self.peek();
        if token.is_some() {
            self.pos += 1;
        }
        token
    }

    fn text_of(&self, token: Token) -> &'a [u8] {
        &self.text[token.range()]
    }

    fn value(&mut self) -> Result<Value, String> {
        let token = self.peek().ok_or(PREMATURE_EOI)?;
        match token.kind {
            TokenKind::LCurly => self.object(),
            TokenKind::LSquare => self.array(),
            TokenKind::Integer | TokenKind::Float | TokenKind::String => {
                self.pos += 1;
                self.literal(token)
            }
            TokenKind::Keyword => {
                self.pos += 1;
                match self.text_of(token) {
                    b"true" => Ok(Value::Bool(true)),
                    b"false" => Ok(Value::Bool(false)),
                    b"null" => Ok(Value::Null),
                    other => Err(format!(
                        "invalid keyword '{}'",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            _ => Err("expecting value".to_owned()),
        }
    }

    fn object(&mut self) -> Result<Value, String> {
        self.pos += 1; // '{'
        let mut map = Map::new();
        let peek = self.peek().ok_or(PREMATURE_EOI)?;
        if peek.kind == TokenKind::RCurly {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        self.pair(&mut map)?;
        loop {
            let token = self.pop().ok_or(PREMATURE_EOI)?;
            match token.kind {
                TokenKind::RCurly => return Ok(Value::Object(map)),
                TokenKind::Comma => self.pair(&mut map)?,
                _ => return Err("expected separator in dict".to_owned()),
            }
        }
    }

    fn pair(&mut self, map: &mut Map) -> Result<(), String> {
        self.peek().ok_or(PREMATURE_EOI)?;
        let key = match self.value()? {
            Value::String(key) => key,
            _ => return Err("key is not a string in object".to_owned()),
        };
        let colon = self.pop().ok_or(PREMATURE_EOI)?;
        if colon.kind != TokenKind::Colon {
            return Err("missing : in object pair".to_owned());
        }
        let value = self.value()?;
        // One lookup: the key is hashed once.
        match map.entry(key) {
            indexmap::map::Entry::Occupied(_) => Err("duplicate key".to_owned()),
            indexmap::map::Entry::Vacant(slot) => {
                slot.insert(value);
                Ok(())
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        let peek = self.peek().ok_or(PREMATURE_EOI)?;
        if peek.kind == TokenKind::RSquare {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        items.push(self.value()?);
        loop {
            let token = self.pop().ok_or(PREMATURE_EOI)?;
            match token.kind {
                TokenKind::RSquare => return Ok(Value::Array(items)),
                TokenKind::Comma => items.push(self.value()?),
                _ => return Err("expected separator in list".to_owned()),
            }
        }
    }

    fn literal(&self, token: Token) -> Result<Value, String> {
        let text = self.text_of(token);
        match token.kind {
            TokenKind::String => parse_string(text).map(Value::String),
            TokenKind::Integer => {
                // The lexer only lets ASCII digits and '-' through.
                let s = std::str::from_utf8(text).map_err(|_| "invalid number".to_owned())?;
                if let Ok(i) = s.parse::<i64>() {
                    Ok(Value::Int(i))
                } else if let Ok(u) = s.parse::<u64>() {
                    Ok(Value::Uint(u))
                } else {
                    Ok(Value::Double(parse_double(s)))
                }
            }
            _ => {
                let s = std::str::from_utf8(text).map_err(|_| "invalid number".to_owned())?;
                Ok(Value::Double(parse_double(s)))
            }
        }
    }
}

/// `strtod` on a lexer-validated number: Rust's parser rounds the same way
/// and overflows to infinity the same way.
fn parse_double(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(f64::NAN)
}

/// QEMU's `is_valid_codepoint`: no surrogates, no noncharacters.
fn is_valid_codepoint(cp: i64) -> bool {
    if !(0..=0x10FFFF).contains(&cp) {
        return false;
    }
    if (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE {
        return false;
    }
    !(0xD800..=0xDFFF).contains(&cp)
}

/// QEMU's `mod_utf8_codepoint`: decodes one code point from the start of
/// `s` (which never contains NUL here). Returns the code point (or `None` for
/// an invalid sequence) and the number of bytes used.
fn mod_utf8_codepoint(s: &[u8]) -> (Option<u32>, usize) {
    const MIN_CP: [i64; 6] = [0x80, 0x80, 0x800, 0x10000, 0x200000, 0x4000000];
    let byte = s[0];
    if byte < 0x80 {
        return (Some(u32::from(byte)), 1);
    }
    if byte >= 0xFE || byte & 0x40 == 0 {
        return (None, 1);
    }
    let len = byte.leading_ones() as usize;
    let mut cp = i64::from(byte & (0xFF >> (len + 1)));
    let mut used = 1;
    for _ in 1..len {
        match s.get(used) {
            Some(&b) if b & 0xC0 == 0x80 => {
                cp = (cp << 6) | i64::from(b & 0x3F);
                used += 1;
            }
            _ => return (None, used),
        }
    }
    if !is_valid_codepoint(cp) || (cp < MIN_CP[len - 1] && !(cp == 0 && len == 2)) {
        return (None, used);
    }
    (u32::try_from(cp).ok(), used)
}

/// Decodes bytes the way QEMU's JSON writer does: invalid sequences become
/// U+FFFD (and `\xC0\x80` is U+0000).
pub(crate) fn decode_lossy(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let (cp, used) = mod_utf8_codepoint(&bytes[i..]);
        out.push(cp.and_then(char::from_u32).unwrap_or('\u{FFFD}'));
        i += used;
    }
    out
}

fn hex4(s: &[u8]) -> Option<u32> {
    let digits = s.get(..4)?;
    let mut cp = 0;
    for &d in digits {
        cp = cp << 4 | (d as char).to_digit(16)?;
    }
    Some(cp)
}

/// QEMU's `parse_string`: the token text includes its quotes.
fn parse_string(token: &[u8]) -> Result<String, String> {
    let body = &token[1..token.len() - 1];
    // The fast path: nothing to decode. ASCII is UTF-8, and `is_ascii`
    // checks a word at a time where a lossy decode goes by chunks.
    if body.is_ascii() && !body.contains(&b'\\') {
        return Ok(String::from_utf8(body.to_vec())
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
    }
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\\' => {
                let begin = i;
                let Some(&esc) = body.get(i + 1) else {
                    return Err("invalid escape sequence in string".to_owned());
                };
                i += 2;
                match esc {
                    b'"' => out.push('"'),
                    b'\'' => out.push('\''),
                    b'\\' => out.push('\\'),
                    b'/' => out.push('/'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        // C reads past the closing quote here; the token text
                        // (quote included) ends at a NUL in C, so we use it.
                        let rest = &token[1 + i..];
                        let mut cp = hex4(rest).map(i64::from).unwrap_or(-1);
                        i += 4;
                        if (0xD800..=0xDBFF).contains(&cp) && rest.get(4..6) == Some(b"\\u") {
                            let trailing = hex4(&rest[6..]).map(i64::from).unwrap_or(-1);
                            if (0xDC00..=0xDFFF).contains(&trailing) {
                                cp = (0x10000 + ((cp & 0x3FF) << 10)) | (trailing & 0x3FF);
                                i += 6;
                            } else {
                                cp = -1;
                            }
                        }
                        match u32::try_from(cp).ok().filter(|_| is_valid_codepoint(cp)) {
                            Some(cp) => out.push(char::from_u32(cp).unwrap_or('\u{FFFD}')),
                            None => {
                                let seq = &token[1 + begin..(1 + i).min(token.len())];
                                // QEMU's JSON writer decodes the message's
                                // bytes as modified UTF-8 (`\xC0\x80` is
                                // U+0000, each bad byte U+FFFD).
                                return Err(format!(
                                    "{} is not a valid Unicode character",
                                    decode_lossy(seq)
                                ));
                            }
                        }
                    }
                    _ => return Err("invalid escape sequence in string".to_owned()),
                }
            }
            _ => {
                let (cp, used) = mod_utf8_codepoint(&body[i..]);
                match cp.and_then(char::from_u32) {
                    Some(c) => out.push(c),
                    None => return Err("invalid UTF-8 sequence in string".to_owned()),
                }
                i += used;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_nul_is_accepted_as_u0000() {
        assert_eq!(parse_string(b"\"a\xC0\x80b\"").unwrap(), "a\0b");
    }

    #[test]
    fn overlong_slash_is_rejected() {
        assert_eq!(
            parse_string(b"\"\xC0\xAF\"").unwrap_err(),
            "invalid UTF-8 sequence in string"
        );
    }

    #[test]
    fn surrogate_pair_is_combined() {
        assert_eq!(parse_string(br#""\uD83D\uDE00""#).unwrap(), "\u{1F600}");
    }

    #[test]
    fn short_unicode_escape_names_what_c_read() {
        assert_eq!(
            parse_string(br#""\u12""#).unwrap_err(),
            "\\u12\" is not a valid Unicode character"
        );
    }

    #[test]
    fn bad_unicode_escape_names_its_bytes_as_qemu_writes_them() {
        // QEMU 7.2: `JSON parse error, \\ute\u0000 is not a valid Unicode character`.
        assert_eq!(
            parse_string(b"\"\\ute\xC0\x80\"").unwrap_err(),
            "\\ute\u{0} is not a valid Unicode character"
        );
        assert_eq!(
            parse_string(b"\"\\u1\xC3ab\"").unwrap_err(),
            "\\u1\u{FFFD}ab is not a valid Unicode character"
        );
    }

    #[test]
    fn noncharacter_escape_is_rejected() {
        assert_eq!(
            parse_string(br#""\uFDD0""#).unwrap_err(),
            "\\uFDD0 is not a valid Unicode character"
        );
    }

    #[test]
    fn lossy_decode_replaces_bad_bytes() {
        assert_eq!(decode_lossy(b"\xFFa\xC3"), "\u{FFFD}a\u{FFFD}");
    }
}
