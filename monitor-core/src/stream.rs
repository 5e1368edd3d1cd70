//! Incremental JSON stream framing, the way QEMU's lexer and streamer do it.
//!
//! Bytes arrive in arbitrary chunks; the [`Splitter`] cuts them into tokens,
//! counts braces and brackets, and hands every balanced top-level text to the
//! parser. The result is a sequence of [`Frame`]s: a parsed [`Value`] or a
//! [`ParseError`] carrying QEMU's exact description.
//!
//! Behaviour taken from QEMU 7.2's `qobject/json-lexer.c`,
//! `json-streamer.c` and `json-parser.c` (checked against a running QEMU
//! by `examples/tests/differential.rs` and `differential_fuzz.rs`):
//! - the dialect: RFC 8259 plus single-quoted strings and the `\'` escape;
//! - the limits: 64 MiB of token text per message, 2 Mi tokens, nesting 1024;
//! - the recovery: after a lexical error the lexer skips input up to a
//!   structural character, a control character other than tab, or 0xFE/0xFF;
//!   after any error the message so far is dropped and parsing starts afresh.
//!
//! Memory is bounded by the limits: at most one message's tokens are held,
//! its text lexed in place, and 12 bytes of bookkeeping per token.
//!
//! The rules and QEMU's texts: `docs/PROTOCOL.md`, sections 1, 9 and 10.

use std::collections::VecDeque;

use thiserror::Error;

use crate::parse::{self, Token, TokenKind};
use crate::value::Value;

/// QEMU's `MAX_TOKEN_SIZE`: bytes of token text in one message (and in one token).
pub const MAX_TOKEN_SIZE: usize = 64 << 20;
/// QEMU's `MAX_TOKEN_COUNT`: tokens in one message.
pub const MAX_TOKEN_COUNT: usize = 2 << 20;
/// QEMU's `MAX_NESTING`: objects and arrays open at once (1024 is accepted).
pub const MAX_NESTING: usize = 1024;

/// Limits on one message; the defaults are QEMU's.
///
/// # Examples
///
/// ```
/// use monitor_core::stream::{Limits, Splitter};
///
/// let mut splitter = Splitter::with_limits(Limits { max_nesting: 2, ..Limits::default() });
/// let frames = splitter.feed_all(b"[[[]]]");
/// assert_eq!(
///     frames[0].as_ref().unwrap_err().to_string(),
///     "JSON nesting depth limit exceeded"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of token text per message (at most `u32::MAX`: a larger value
    /// is taken as that).
    pub max_token_size: usize,
    /// Tokens per message.
    pub max_token_count: usize,
    /// Open objects plus arrays.
    pub max_nesting: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_size: MAX_TOKEN_SIZE,
            max_token_count: MAX_TOKEN_COUNT,
            max_nesting: MAX_NESTING,
        }
    }
}

/// Why a message could not be framed or parsed. `Display` is QEMU's `desc`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// A byte the lexer could not accept; `token` is the text so far.
    #[error("JSON parse error, stray '{token}'")]
    Stray {
        /// The offending token text (cut at a NUL byte, as C does).
        token: String,
        /// Stream offset of the byte that ended the token.
        offset: u64,
    },
    /// A message or a single token exceeded the token size limit.
    #[error("JSON token size limit exceeded")]
    TokenSizeLimit {
        /// Stream offset where the limit was hit.
        offset: u64,
    },
    /// A message had too many tokens.
    #[error("JSON token count limit exceeded")]
    TokenCountLimit {
        /// Stream offset where the limit was hit.
        offset: u64,
    },
    /// A message nested deeper than the limit.
    #[error("JSON nesting depth limit exceeded")]
    NestingLimit {
        /// Stream offset where the limit was hit.
        offset: u64,
    },
    /// The tokens of a balanced message do not form a JSON value.
    #[error("JSON parse error, {message}")]
    Syntax {
        /// QEMU's parser message, e.g. `expecting value`.
        message: String,
        /// Stream offset of the token that completed the message.
        offset: u64,
    },
}

impl ParseError {
    /// Offset in the stream (bytes fed since creation) where the error was found.
    pub fn offset(&self) -> u64 {
        match self {
            ParseError::Stray { offset, .. }
            | ParseError::TokenSizeLimit { offset }
            | ParseError::TokenCountLimit { offset }
            | ParseError::NestingLimit { offset }
            | ParseError::Syntax { offset, .. } => *offset,
        }
    }
}

/// One complete top-level text: a value, or the error that replaced it.
pub type Frame = Result<Value, ParseError>;

/// A complete message whose parse was left to the caller (see
/// [`Splitter::set_offload`]): its tokens and text, taken whole from the
/// splitter so that another thread can build the value.
#[derive(Debug)]
pub(crate) struct RawMessage {
    tokens: Vec<Token>,
    text: Vec<u8>,
    /// Stream offset of the token that completed it.
    offset: u64,
}

impl RawMessage {
    /// Builds the value, as [`Splitter::next_frame`] would have; returns
    /// it with its weight (see [`Splitter::last_weight`]).
    pub(crate) fn parse(self) -> (Frame, usize) {
        build(&self.tokens, &self.text, self.offset)
    }
}

/// What [`Splitter::next_item`] hands out.
#[derive(Debug)]
pub(crate) enum Item {
    /// A parsed message, or an error.
    Frame(Frame),
    /// A message at least as large as the offload threshold, not parsed.
    Raw(RawMessage),
}

/// Parses a message's tokens; the frame and its weight.
fn build(tokens: &[Token], text: &[u8], offset: u64) -> (Frame, usize) {
    let frame =
        parse::parse(tokens, text).map_err(|message| ParseError::Syntax { message, offset });
    let weight = match frame {
        Ok(_) => text.len() + tokens.len() * std::mem::size_of::<Value>(),
        Err(_) => 0,
    };
    (frame, weight)
}

/// Buffers whose capacity passes this are shrunk when a message or token
/// ends, so one large message does not pin its memory for the session.
const KEEP_CAPACITY: usize = 1 << 20;
/// A message whose text (or tokens) grow past this gets room for the
/// largest message at once (see `Splitter::reserve_text`).
const GROW_ALL_AT: usize = 1 << 20;

/// Lexer states, as QEMU's `json_lexer_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Recovery,
    DqString,
    DqEscape,
    SqString,
    SqEscape,
    Zero,
    ExpDigits,
    ExpSign,
    ExpE,
    Mantissa,
    MantissaDigits,
    Digits,
    Sign,
    Keyword,
}

/// What the lexer does with one byte.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Consume the byte into the token and move on.
    Go(State),
    /// Consume the byte; it completes a token.
    Token(TokenKind),
    /// The token ended before this byte; emit it and look at the byte again.
    TokenBefore(TokenKind),
    /// Consume the byte; the token is a lexical error.
    Error,
    /// Whitespace between tokens.
    Skip,
    /// In recovery: drop the byte.
    Drop,
    /// In recovery: a resynchronisation point; look at the byte again.
    Resync,
}

fn step(state: State, b: u8) -> Step {
    use State::*;
    match state {
        Start => match b {
            b'"' => Step::Go(DqString),
            b'\'' => Step::Go(SqString),
            b'0' => Step::Go(Zero),
            b'1'..=b'9' => Step::Go(Digits),
            b'-' => Step::Go(Sign),
            b'{' => Step::Token(TokenKind::LCurly),
            b'}' => Step::Token(TokenKind::RCurly),
            b'[' => Step::Token(TokenKind::LSquare),
            b']' => Step::Token(TokenKind::RSquare),
            b',' => Step::Token(TokenKind::Comma),
            b':' => Step::Token(TokenKind::Colon),
            b'a'..=b'z' => Step::Go(Keyword),
            b' ' | b'\t' | b'\r' | b'\n' => Step::Skip,
            _ => Step::Error,
        },
        Recovery => match b {
            b'\t' => Step::Drop,
            0..=0x1f | 0xfe | 0xff => Step::Resync,
            b'[' | b']' | b'{' | b'}' | b':' | b',' => Step::Resync,
            _ => Step::Drop,
        },
        DqEscape => match b {
            0x20..=0xfd => Step::Go(DqString),
            _ => Step::Error,
        },
        DqString => match b {
            b'\\' => Step::Go(DqEscape),
            b'"' => Step::Token(TokenKind::String),
            0x20..=0xfd => Step::Go(DqString),
            _ => Step::Error,
        },
        SqEscape => match b {
            0x20..=0xfd => Step::Go(SqString),
            _ => Step::Error,
        },
        SqString => match b {
            b'\\' => Step::Go(SqEscape),
            b'\'' => Step::Token(TokenKind::String),
            0x20..=0xfd => Step::Go(SqString),
            _ => Step::Error,
        },
        Zero => match b {
            b'0'..=b'9' => Step::Error,
            b'.' => Step::Go(Mantissa),
            _ => Step::TokenBefore(TokenKind::Integer),
        },
        ExpDigits => match b {
            b'0'..=b'9' => Step::Go(ExpDigits),
            _ => Step::TokenBefore(TokenKind::Float),
        },
        ExpSign => match b {
            b'0'..=b'9' => Step::Go(ExpDigits),
            _ => Step::Error,
        },
        ExpE => match b {
            b'-' | b'+' => Step::Go(ExpSign),
            b'0'..=b'9' => Step::Go(ExpDigits),
            _ => Step::Error,
        },
        MantissaDigits => match b {
            b'0'..=b'9' => Step::Go(MantissaDigits),
            b'e' | b'E' => Step::Go(ExpE),
            _ => Step::TokenBefore(TokenKind::Float),
        },
        Mantissa => match b {
            b'0'..=b'9' => Step::Go(MantissaDigits),
            _ => Step::Error,
        },
        Digits => match b {
            b'0'..=b'9' => Step::Go(Digits),
            b'e' | b'E' => Step::Go(ExpE),
            b'.' => Step::Go(Mantissa),
            _ => Step::TokenBefore(TokenKind::Integer),
        },
        Sign => match b {
            b'0' => Step::Go(Zero),
            b'1'..=b'9' => Step::Go(Digits),
            _ => Step::Error,
        },
        Keyword => match b {
            b'a'..=b'z' => Step::Go(Keyword),
            _ => Step::TokenBefore(TokenKind::Keyword),
        },
    }
}

/// Length of the run of plain string bytes at the start of `input`.
fn string_run(input: &[u8], quote: u8) -> usize {
    let special = |b: u8| b == quote || b == b'\\' || !(0x20..=0xfd).contains(&b);
    // Whole blocks first: a test without an early exit inside the block
    // compiles to vector code, where `position` goes a byte at a time.
    let mut plain = 0;
    for block in input.chunks_exact(16) {
        if block.iter().fold(false, |any, &b| any | special(b)) {
            break;
        }
        plain += 16;
    }
    plain
        + input[plain..]
            .iter()
            .position(|&b| special(b))
            .unwrap_or(input.len() - plain)
}

/// Length of the run of JSON whitespace at the start of `input`.
fn whitespace_run(input: &[u8]) -> usize {
    input
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(input.len())
}

/// The incremental splitter: feed it bytes, take [`Frame`]s out.
///
/// # Examples
///
/// ```
/// use monitor_core::stream::Splitter;
///
/// let mut splitter = Splitter::new();
/// assert!(splitter.feed_all(br#"{"execute": "#).is_empty()); // incomplete: waits
/// let frames = splitter.feed_all(br#""query-version"}{"#);
/// assert_eq!(frames.len(), 1);
/// assert!(frames[0].is_ok());
///
/// // A control character discards the partial message with one error.
/// let frames = splitter.feed_all(b"\x01");
/// assert_eq!(frames[0].as_ref().unwrap_err().to_string(), "JSON parse error, stray '\u{1}'");
/// ```
#[derive(Debug)]
pub struct Splitter {
    limits: Limits,
    state: State,
    /// Text of the tokens of the message being collected, then of the
    /// token being lexed (from `token_start`): lexed in place, never
    /// copied.
    text: Vec<u8>,
    token_start: usize,
    tokens: Vec<Token>,
    brace_count: i64,
    bracket_count: i64,
    /// QEMU's `token_size`: bytes of token text queued for this message.
    token_size: usize,
    /// Bytes consumed since creation.
    offset: u64,
    /// Frames completed, with their weight (see `last_weight`), and
    /// messages left unparsed.
    ready: VecDeque<Ready>,
    /// The weight of the frame `next_frame` returned last.
    last_weight: usize,
    /// Messages with this much text or more are handed out unparsed by
    /// `next_item` (see `set_offload`).
    offload_at: Option<usize>,
    /// Simple whole messages skip the lexer (see `fast`); off only to
    /// test that both paths agree.
    fast: bool,
}

/// A completed message in `Splitter::ready`.
#[derive(Debug)]
enum Ready {
    Frame(Frame, usize),
    Raw(RawMessage),
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter with QEMU's limits.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A splitter with the given limits.
    pub fn with_limits(mut limits: Limits) -> Self {
        limits.max_token_size = limits.max_token_size.min(u32::MAX as usize);
        Splitter {
            limits,
            state: State::Start,
            text: Vec::new(),
            token_start: 0,
            tokens: Vec::new(),
            brace_count: 0,
            bracket_count: 0,
            token_size: 0,
            offset: 0,
            ready: VecDeque::new(),
            last_weight: 0,
            offload_at: None,
            fast: true,
        }
    }

    /// From now on, [`next_item`](Self::next_item) hands out a message
    /// with `at` bytes of text or more unparsed, for the caller to parse
    /// elsewhere ([`RawMessage::parse`]); `None` parses every message here.
    pub(crate) fn set_offload(&mut self, at: Option<usize>) {
        self.offload_at = at;
    }

    /// The offload threshold (see [`set_offload`](Self::set_offload)).
    pub(crate) fn offload_at(&self) -> Option<usize> {
        self.offload_at
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes the splitter holds for the current message and token (its
    /// memory use is bounded by the limits, whatever the input).
    pub fn buffered_bytes(&self) -> usize {
        self.text.capacity() + self.tokens.capacity() * std::mem::size_of::<Token>()
    }

    /// Whether a message has started and not yet been completed or dropped.
    pub fn is_partial(&self) -> bool {
        !self.tokens.is_empty() || !matches!(self.state, State::Start | State::Recovery)
    }

    /// Feeds bytes until at least one frame is ready or the input is used up.
    ///
    /// Returns how many bytes of `input` were consumed and the next frame, if
    /// any. Call again with the rest of the input until it is used up. A
    /// frame is never left waiting once every byte is consumed: a byte that
    /// completes two messages (the `}` of `1}` ends the number and is a
    /// stray `}`, and QEMU answers both at once) is only consumed by the call
    /// that returns the second. This lets a server stop
    /// reading a client in the middle of a chunk.
    pub fn next_frame(&mut self, input: &[u8]) -> (usize, Option<Frame>) {
        let (used, item) = self.next_item(input);
        let frame = item.map(|item| match item {
            Item::Frame(frame) => frame,
            Item::Raw(raw) => {
                let (frame, weight) = raw.parse();
                self.last_weight = weight;
                frame
            }
        });
        (used, frame)
    }

    /// [`next_frame`](Self::next_frame), but a message over the offload
    /// threshold comes unparsed (see [`set_offload`](Self::set_offload)).
    pub(crate) fn next_item(&mut self, input: &[u8]) -> (usize, Option<Item>) {
        let mut used = 0;
        while self.ready.is_empty() && used < input.len() {
            if let Some(frame) = self.fast_frame(&input[used..]) {
                return (used + frame.used, Some(Item::Frame(Ok(frame.value))));
            }
            used += self.feed_some(&input[used..]);
        }
        let item = self.ready.pop_front().map(|ready| match ready {
            Ready::Frame(frame, weight) => {
                self.last_weight = weight;
                Item::Frame(frame)
            }
            Ready::Raw(raw) => Item::Raw(raw),
        });
        (used, item)
    }

    /// A simple message whole at the start of `input`, parsed without the
    /// lexer, when no message is under way (see `fast`).
    fn fast_frame(&mut self, input: &[u8]) -> Option<fast::Fast> {
        if !self.fast
            || input.first() != Some(&b'{')
            || self.state != State::Start
            || !self.text.is_empty()
            || !self.tokens.is_empty()
        {
            return None;
        }
        let frame = fast::object(input, &self.limits)?;
        if self.offload_at.is_some_and(|at| frame.text >= at) {
            return None;
        }
        self.offset += frame.used as u64;
        self.last_weight = frame.text + frame.tokens * std::mem::size_of::<Value>();
        Some(frame)
    }

    /// Turns the fast path off (tests compare both paths).
    #[cfg(test)]
    pub(crate) fn set_fast(&mut self, on: bool) {
        self.fast = on;
    }

    /// About how many bytes the frame [`next_frame`](Self::next_frame)
    /// returned last takes once parsed: its text plus a value per token (0
    /// for an error). What a session weighs its queue with.
    pub fn last_weight(&self) -> usize {
        self.last_weight
    }

    /// Feeds all of `input` and returns every frame it completed, in order.
    pub fn feed_all(&mut self, input: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        let mut rest = input;
        loop {
            let (used, frame) = self.next_frame(rest);
            rest = &rest[used..];
            match frame {
                Some(frame) => frames.push(frame),
                None if rest.is_empty() => return frames,
                None => {}
            }
        }
    }

    /// Consumes bytes of non-empty `input`; returns how many: at least
    /// one, or none when a frame is ready.
    fn feed_some(&mut self, input: &[u8]) -> usize {
        // Fast path: a run of plain bytes inside a string.
        let quote = match self.state {
            State::DqString => Some(b'"'),
            State::SqString => Some(b'\''),
            _ => None,
        };
        // And a run of whitespace between tokens: skipped, as one byte
        // at a time would (the token is empty in this state).
        if self.state == State::Start && self.token_len() == 0 {
            let run = whitespace_run(input);
            if run > 0 {
                self.offset += run as u64;
                return run;
            }
        }
        if let Some(quote) = quote {
            let room =
                self.limits.max_token_size + 1 - self.token_len().min(self.limits.max_token_size);
            let run = string_run(input, quote).min(room);
            if run > 0 {
                self.reserve_text(run);
                self.text.extend_from_slice(&input[..run]);
                self.offset += run as u64;
                self.check_token_length();
                return run;
            }
        }
        usize::from(self.feed_byte(input[0]))
    }

    /// Lexes one byte; false when it was left unconsumed because the token
    /// it ended completed a frame (see `Step::TokenBefore`).
    fn feed_byte(&mut self, b: u8) -> bool {
        self.offset += 1;
        loop {
            match step(self.state, b) {
                Step::Go(next) => {
                    self.text.push(b);
                    self.state = next;
                    break;
                }
                Step::Token(kind) => {
                    self.text.push(b);
                    self.finish_token(kind);
                    break;
                }
                Step::TokenBefore(kind) => {
                    self.finish_token(kind);
                    if !self.ready.is_empty() {
                        // The byte may complete a second message (`1}`
                        // ends the number and is a stray `}`), which QEMU
                        // answers at once too. Leave it for the next call,
                        // so a frame never waits for more input in `ready`
                        // once the caller has used up its bytes.
                        self.offset -= 1;
                        return false;
                    }
                }
                Step::Error => {
                    self.text.push(b);
                    let token = stray_text(&self.text[self.token_start..]);
                    self.clear_token();
                    self.state = State::Recovery;
                    let offset = self.offset;
                    self.emit_error(ParseError::Stray { token, offset });
                    break;
                }
                Step::Skip | Step::Drop => break,
                Step::Resync => self.state = State::Start,
            }
        }
        self.check_token_length();
        true
    }

    /// QEMU cuts any single token that grows beyond the size limit.
    fn check_token_length(&mut self) {
        if self.token_len() > self.limits.max_token_size {
            self.clear_token();
            self.state = State::Start;
            let offset = self.offset;
            self.emit_error(ParseError::TokenSizeLimit { offset });
        }
    }

    fn finish_token(&mut self, kind: TokenKind) {
        self.state = State::Start;
        match kind {
            TokenKind::LCurly => self.brace_count += 1,
            TokenKind::RCurly => self.brace_count -= 1,
            TokenKind::LSquare => self.bracket_count += 1,
            TokenKind::RSquare => self.bracket_count -= 1,
            _ => {}
        }
        let len = self.token_len();
        let offset = self.offset;
        if self.token_size + len + 1 > self.limits.max_token_size {
            self.clear_token();
            return self.emit_error(ParseError::TokenSizeLimit { offset });
        }
        if self.tokens.len() + 1 > self.limits.max_token_count {
            self.clear_token();
            return self.emit_error(ParseError::TokenCountLimit { offset });
        }
        if self.brace_count + self.bracket_count > self.limits.max_nesting as i64 {
            self.clear_token();
            return self.emit_error(ParseError::NestingLimit { offset });
        }
        let start = self.token_start;
        self.token_start = self.text.len();
        // The text is at most `max_token_size`, which `with_limits` keeps
        // within u32.
        if self.tokens.len() == self.tokens.capacity()
            && self.tokens.len() * std::mem::size_of::<Token>() >= GROW_ALL_AT
        {
            // As for the text (see `reserve_text`): room for the most
            // tokens at once, not a copy at every doubling.
            let most = self.limits.max_token_count.max(self.tokens.len() + 1);
            self.tokens.reserve_exact(most - self.tokens.len());
        }
        self.tokens
            .push(Token::new(kind, start as u32, (start + len) as u32));
        self.token_size += len;
        let open = self.brace_count > 0 || self.bracket_count > 0;
        if open && self.brace_count >= 0 && self.bracket_count >= 0 {
            return;
        }
        if self.offload_at.is_some_and(|at| self.text.len() >= at) {
            // The buffers go with the message; the next one starts small.
            let raw = RawMessage {
                tokens: std::mem::take(&mut self.tokens),
                text: std::mem::take(&mut self.text),
                offset,
            };
            self.reset_message();
            self.ready.push_back(Ready::Raw(raw));
            return;
        }
        let (frame, weight) = build(&self.tokens, &self.text, offset);
        self.reset_message();
        self.ready.push_back(Ready::Frame(frame, weight));
    }

    fn emit_error(&mut self, error: ParseError) {
        self.reset_message();
        self.ready.push_back(Ready::Frame(Err(error), 0));
    }

    fn reset_message(&mut self) {
        self.brace_count = 0;
        self.bracket_count = 0;
        self.token_size = 0;
        self.tokens.clear();
        self.text.clear();
        self.token_start = 0;
        // Keep big buffers from pinning memory after a huge message.
        if self.text.capacity() > KEEP_CAPACITY {
            self.text.shrink_to(1 << 16);
        }
        if self.tokens.capacity() * std::mem::size_of::<Token>() > KEEP_CAPACITY {
            self.tokens.shrink_to(1 << 12);
        }
    }

    /// Bytes of the token being lexed.
    /// Makes room for `more` bytes of text. Once a message passes
    /// [`GROW_ALL_AT`], room for the largest one is reserved at once:
    /// growing by doubling would copy the text again and again (a copy of
    /// 32 MiB on the thread that reads the client), while untouched room
    /// costs address space only.
    fn reserve_text(&mut self, more: usize) {
        let needed = self.text.len() + more;
        if needed <= self.text.capacity() {
            return;
        }
        let most = self.limits.max_token_size + 1;
        if needed >= GROW_ALL_AT && most > needed {
            self.text.reserve_exact(most - self.text.len());
        } else {
            self.text.reserve(more);
        }
    }

    fn token_len(&self) -> usize {
        self.text.len() - self.token_start
    }

    /// Drops the token being lexed, giving back a large buffer.
    fn clear_token(&mut self) {
        self.text.truncate(self.token_start);
        if self.text.capacity() > KEEP_CAPACITY {
            self.text.shrink_to(self.token_start.max(1 << 16));
        }
    }
}

/// The token text as QEMU prints it in `stray '%s'`: cut at NUL, and
/// decoded the way QEMU's JSON writer decodes it (bad bytes become U+FFFD).
fn stray_text(token: &[u8]) -> String {
    let end = token.iter().position(|&b| b == 0).unwrap_or(token.len());
    parse::decode_lossy(&token[..end])
}

mod fast;
#[cfg(test)]
mod tests;
