//! The fast path for the messages clients send all the time: a small
//! object, whole in the input, made only of the simplest tokens (ASCII
//! strings without escapes, short integers, `true`, `false`, `null`,
//! punctuation, and whitespace between them). Such a message is parsed
//! straight from the input, without the byte-at-a-time lexer, its token
//! buffer or its parser.
//!
//! Anything else (an escape, a float, a non-ASCII byte, a duplicate key,
//! a message not yet complete, a limit within reach) makes the fast path
//! decline before it has consumed anything, and the lexer takes the
//! message as it always did: the fast path only ever returns what the
//! slow one would (`tests.rs` checks both on the same inputs).

use super::{whitespace_run, Limits};
use crate::value::{Map, Value};

/// The longest message the fast path looks at.
pub(super) const FAST_MAX: usize = 4096;
/// The deepest nesting it takes.
const FAST_DEPTH: usize = 32;
/// The most digits of an integer it takes (always an `i64`).
const FAST_DIGITS: usize = 18;

/// A message parsed by the fast path.
#[derive(Debug)]
pub(super) struct Fast {
    /// Bytes of input it took, from its `{` to its `}`.
    pub(super) used: usize,
    pub(super) value: Value,
    /// Bytes of token text (what the lexer would have kept: whitespace
    /// excluded).
    pub(super) text: usize,
    pub(super) tokens: usize,
}

/// Parses the object at the start of `input` if it is simple and whole,
/// within `limits` by a margin; `None` otherwise (nothing consumed).
pub(super) fn object(input: &[u8], limits: &Limits) -> Option<Fast> {
    let input = &input[..input.len().min(FAST_MAX)];
    if input.first() != Some(&b'{') {
        return None;
    }
    let mut p = Scan {
        input,
        at: 0,
        text: 0,
        tokens: 0,
    };
    let value = p.value(0)?;
    // Well within every limit the lexer checks, so that none of its
    // errors could have fired.
    let within = p.tokens < limits.max_token_count
        && p.text + p.tokens < limits.max_token_size
        && FAST_DEPTH < limits.max_nesting;
    within.then_some(Fast {
        used: p.at,
        value,
        text: p.text,
        tokens: p.tokens,
    })
}

struct Scan<'a> {
    input: &'a [u8],
    at: usize,
    text: usize,
    tokens: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        self.at += whitespace_run(&self.input[self.at..]);
    }

    /// Whether the byte at `at` ends a number or keyword in any lexer
    /// state (whitespace, `,`, `}`, `]`); false at the end of the input.
    fn ends_token(&self, at: usize) -> bool {
        matches!(
            self.input.get(at),
            Some(b' ' | b'\t' | b'\r' | b'\n' | b',' | b'}' | b']')
        )
    }

    /// A one-byte token.
    fn punct(&mut self, b: u8) -> Option<()> {
        (self.peek()? == b).then(|| {
            self.at += 1;
            self.token(1);
        })
    }

    fn token(&mut self, len: usize) {
        self.text += len;
        self.tokens += 1;
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'{' if depth < FAST_DEPTH => self.object(depth + 1),
            b'[' if depth < FAST_DEPTH => self.array(depth + 1),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.integer(),
            b't' => self.keyword(b"true", Value::Bool(true)),
            b'f' => self.keyword(b"false", Value::Bool(false)),
            b'n' => self.keyword(b"null", Value::Null),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.punct(b'{')?;
        let mut map = Map::new();
        self.skip_whitespace();
        if self.punct(b'}').is_some() {
            return Some(Value::Object(map));
        }
        loop {
            self.skip_whitespace();
            let key = self.string()?;
            self.skip_whitespace();
            self.punct(b':')?;
            self.skip_whitespace();
            let value = self.value(depth)?;
            match map.entry(key) {
                indexmap::map::Entry::Occupied(_) => return None,
                indexmap::map::Entry::Vacant(slot) => {
                    slot.insert(value);
                }
            }
            self.skip_whitespace();
            if self.punct(b'}').is_some() {
                return Some(Value::Object(map));
            }
            self.punct(b',')?;
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.punct(b'[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.punct(b']').is_some() {
            return Some(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth)?);
            self.skip_whitespace();
            if self.punct(b']').is_some() {
                return Some(Value::Array(items));
            }
            self.punct(b',')?;
        }
    }

    /// A double-quoted string of printable ASCII without escapes.
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.at + 1;
        let len = self.input[start..]
            .iter()
            .position(|&b| !matches!(b, 0x20..=0x7e) || b == b'"' || b == b'\\')?;
        if self.input[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        self.token(len + 2);
        // Printable ASCII: valid UTF-8.
        String::from_utf8(self.input[start..start + len].to_vec()).ok()
    }

    /// `-?(0|[1-9][0-9]*)` of at most [`FAST_DIGITS`] digits, followed by
    /// a byte that ends it in any state (whitespace, `,`, `}`, `]`).
    fn integer(&mut self) -> Option<Value> {
        let start = self.at;
        let negative = self.peek()? == b'-';
        let digits_at = start + usize::from(negative);
        let digits = self.input[digits_at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > FAST_DIGITS {
            return None;
        }
        if self.input[digits_at] == b'0' && (digits > 1 || negative) {
            return None;
        }
        let end = digits_at + digits;
        if !self.ends_token(end) {
            return None;
        }
        let mut n: i64 = 0;
        for &d in &self.input[digits_at..end] {
            n = n * 10 + i64::from(d - b'0');
        }
        self.at = end;
        self.token(end - start);
        Some(Value::Int(if negative { -n } else { n }))
    }

    /// `word`, followed by a byte that ends a keyword.
    fn keyword(&mut self, word: &[u8], value: Value) -> Option<Value> {
        let end = self.at + word.len();
        if self.input.get(self.at..end)? != word || !self.ends_token(end) {
            return None;
        }
        self.at = end;
        self.token(word.len());
        Some(value)
    }
}
