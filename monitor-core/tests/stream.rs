//! Stream framing: every case is fed whole, byte by byte, and in random
//! splits, and must give the same frames each way. The rules:
//! `docs/PROTOCOL.md`, sections 1, 9 and 10.

use monitor_core::stream::{Frame, Limits, Splitter, MAX_NESTING, MAX_TOKEN_COUNT, MAX_TOKEN_SIZE};
use monitor_core::Value;

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Frames rendered as comparable strings: `ok <wire json>` or the error desc.
fn render(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Ok(v) => {
                let mut out = Vec::new();
                monitor_core::wire::write_value(&mut out, v);
                format!("ok {}", String::from_utf8_lossy(&out))
            }
            Err(e) => e.to_string(),
        })
        .collect()
}

fn feed_chunks(input: &[u8], limits: Limits, mut cut: impl FnMut(usize) -> usize) -> Vec<String> {
    let mut s = Splitter::with_limits(limits);
    let mut frames = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let n = cut(input.len() - pos).clamp(1, input.len() - pos);
        frames.extend(s.feed_all(&input[pos..pos + n]));
        pos += n;
    }
    render(&frames)
}

/// Feeds `input` whole, byte by byte and in 20 random splits; asserts all
/// agree and returns the frames.
fn frames_with(input: &[u8], limits: Limits) -> Vec<String> {
    let whole = feed_chunks(input, limits, |rest| rest);
    if input.len() <= 1 << 16 {
        let bytewise = feed_chunks(input, limits, |_| 1);
        assert_eq!(
            whole,
            bytewise,
            "byte by byte differs for {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ input.len() as u64);
    let rounds = if input.len() > 1 << 20 { 3 } else { 20 };
    for _ in 0..rounds {
        let max = (input.len() / 3).max(2) as u64;
        let split = feed_chunks(input, limits, |_| (rng.next() % max) as usize + 1);
        assert_eq!(
            whole,
            split,
            "random split differs for {:?}",
            String::from_utf8_lossy(input)
        );
    }
    whole
}

fn frames(input: &[u8]) -> Vec<String> {
    frames_with(input, Limits::default())
}

fn parse_err(e: &str) -> String {
    format!("JSON parse error, {e}")
}

#[test]
fn messages_are_split_at_balance_not_at_newlines() {
    assert_eq!(
        frames(b"{\"a\":\n1}{\"b\": [2, 3]}  \n{}"),
        vec![r#"ok {"a": 1}"#, r#"ok {"b": [2, 3]}"#, "ok {}"]
    );
}

#[test]
fn incomplete_message_waits_across_newlines() {
    assert!(frames(b"{\"execute\": \"query-version\"\n\n\n").is_empty());
}

#[test]
fn single_quoted_strings_and_apostrophe_escape() {
    assert_eq!(
        frames(br#"{'a': 'it\'s "x"', "b": "\'"}"#),
        vec![r#"ok {"a": "it's \"x\"", "b": "'"}"#]
    );
}

#[test]
fn numbers_follow_qemu() {
    let input = br#"[0, -0, 1.5e3, 1e2, -0.25, 18446744073709551615, -9223372036854775808, 18446744073709551616, 0.1, 1e400]"#;
    assert_eq!(
        frames(input),
        vec![
            "ok [0, 0, 1500, 100, -0.25, 18446744073709551615, -9223372036854775808, 1.8446744073709552e+19, 0.10000000000000001, inf]"
        ]
    );
}

#[test]
fn escapes_and_unicode() {
    assert_eq!(
        frames(br#"["\u0000", "\uD83D\uDE00", "\u00e9", "\b\f\n\r\t\/\\"]"#),
        vec![r#"ok ["\u0000", "\uD83D\uDE00", "\u00E9", "\b\f\n\r\t/\\"]"#]
    );
    assert_eq!(frames(b"[\"\xC3\xA9\"]"), vec![r#"ok ["\u00E9"]"#]);
}

#[test]
fn string_errors() {
    assert_eq!(
        frames(br#"["\q"]"#),
        vec![parse_err("invalid escape sequence in string")]
    );
    assert_eq!(
        frames(b"[\"\xC3\x28\"]"),
        vec![parse_err("invalid UTF-8 sequence in string")]
    );
    assert_eq!(
        frames(br#"["\uD800"]"#),
        vec![parse_err("\\uD800 is not a valid Unicode character")]
    );
    assert_eq!(
        frames(br#"["\uFFFF"]"#),
        vec![parse_err("\\uFFFF is not a valid Unicode character")]
    );
}

#[test]
fn syntax_errors_carry_qemu_messages() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{"execute": }"#, "expecting value"),
        (b"{]", "expecting value"),
        (br#"{"a": 1,}"#, "expecting value"),
        (b"}", "expecting value"),
        (b"]", "expecting value"),
        (br#"{"a" 1}"#, "missing : in object pair"),
        (br#"{"a": 1 "b": 2}"#, "expected separator in dict"),
        (b"[1 2]", "expected separator in list"),
        (b"{1: 2}", "key is not a string in object"),
        (br#"{"a": 1, "a": 2}"#, "duplicate key"),
        (b"[nul]", "invalid keyword 'nul'"),
    ];
    for (input, message) in cases {
        assert_eq!(
            frames(input),
            vec![parse_err(message)],
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn lexical_errors_then_recovery() {
    // Observed on QEMU 7.2: a stray token, then the lone '}' fails again.
    assert_eq!(
        frames(br#"{"id":01}"#),
        vec![parse_err("stray '01'"), parse_err("expecting value")]
    );
    assert_eq!(
        frames(b"hello world\n"),
        vec![
            parse_err("invalid keyword 'hello'"),
            parse_err("invalid keyword 'world'")
        ]
    );
    assert_eq!(
        frames(b"True\n{}"),
        vec![parse_err("stray 'T'"), "ok {}".to_owned()]
    );
    assert_eq!(
        frames(b"/* c */ {}"),
        vec![parse_err("stray '/'"), "ok {}".to_owned()]
    );
    assert_eq!(
        frames(b"[\"abc\n\"]"),
        vec![parse_err("stray '\"abc\n'"), parse_err("expecting value")]
    );
}

#[test]
fn control_character_discards_partial_message_with_one_error() {
    assert_eq!(
        frames(b"{\"execute\": \x01{\"execute\": \"x\"}"),
        vec![
            parse_err("stray '\u{1}'"),
            r#"ok {"execute": "x"}"#.to_owned()
        ]
    );
    assert_eq!(
        frames(b"{\"execute\": [1, \xFF{}"),
        vec![parse_err("stray '\u{FFFD}'"), "ok {}".to_owned()]
    );
    // A NUL byte prints as an empty token, as C's %s does.
    assert_eq!(
        frames(b"\x00{}"),
        vec![parse_err("stray ''"), "ok {}".to_owned()]
    );
}

#[test]
fn nesting_1024_is_accepted_and_1025_rejected() {
    let nested = |depth: usize| {
        let mut v = vec![b'['; depth];
        v.extend(std::iter::repeat_n(b']', depth));
        v
    };
    let ok = frames(&nested(MAX_NESTING));
    assert_eq!(ok.len(), 1);
    assert!(ok[0].starts_with("ok [[[["), "{}", &ok[0][..20]);
    let bad = frames(&nested(MAX_NESTING + 1));
    assert_eq!(bad[0], "JSON nesting depth limit exceeded");
    // Every surplus ']' then fails on its own, as in QEMU 7.2.
    assert_eq!(bad.len(), 1 + MAX_NESTING + 1);
    assert!(bad[1..].iter().all(|e| *e == parse_err("expecting value")));
}

#[test]
fn token_size_limit_per_message() {
    // One string just over 64 MiB: cut by the lexer with one error, and the
    // rest of the input is lexed afresh.
    let mut input = b"[\"".to_vec();
    input.resize(MAX_TOKEN_SIZE + 10, b'a');
    input.extend_from_slice(b"\"\n{}");
    let out = frames(&input);
    assert_eq!(out[0], "JSON token size limit exceeded");
    assert_eq!(out.last().map(String::as_str), Some("ok {}"));
}

#[test]
fn big_legal_message_is_accepted() {
    let mut input = b"{\"id\": \"".to_vec();
    input.resize(8 + (1 << 20), b'x');
    input.extend_from_slice(b"\"}");
    let out = frames(&input);
    assert_eq!(out.len(), 1);
    assert!(out[0].starts_with("ok {\"id\": \"xxx"));
}

#[test]
fn token_count_limit() {
    // 2 Mi tokens: '[' plus "1," pairs.
    let mut input = b"[".to_vec();
    for _ in 0..MAX_TOKEN_COUNT / 2 {
        input.extend_from_slice(b"1,");
    }
    input.extend_from_slice(b"1]");
    let out = frames_with(&input, Limits::default());
    assert_eq!(out[0], "JSON token count limit exceeded");
}

#[test]
fn memory_is_bounded_by_the_limits_not_the_input() {
    let limits = Limits {
        max_token_size: 1024,
        max_token_count: 64,
        max_nesting: 8,
    };
    let mut s = Splitter::with_limits(limits);
    // 8 MiB of an endless string, then of an endless array: errors, no growth.
    let chunk = vec![b'a'; 64 << 10];
    s.feed_all(b"\"");
    let mut errors = 0;
    for _ in 0..128 {
        errors += s.feed_all(&chunk).len();
        assert!(
            s.buffered_bytes() <= 4 * 1024,
            "buffered {}",
            s.buffered_bytes()
        );
    }
    assert!(errors > 1000);
    let mut s = Splitter::with_limits(limits);
    s.feed_all(b"[");
    for _ in 0..128 {
        s.feed_all(&b"1,".repeat(32 << 10));
        assert!(
            s.buffered_bytes() <= 4 * 1024,
            "buffered {}",
            s.buffered_bytes()
        );
    }
}

#[test]
fn next_frame_lets_the_caller_stop_mid_chunk() {
    let mut s = Splitter::new();
    let input = b"{\"a\": 1}{\"b\": 2}";
    let (used, frame) = s.next_frame(input);
    assert_eq!(used, 8);
    assert!(matches!(frame, Some(Ok(Value::Object(_)))));
    let (used2, frame) = s.next_frame(&input[used..]);
    assert_eq!(used + used2, input.len());
    assert!(frame.is_some());
}

#[test]
fn errors_carry_stream_offsets() {
    let mut s = Splitter::new();
    let frames = s.feed_all(b"{}  X");
    let err = frames[1].as_ref().unwrap_err();
    assert_eq!(err.offset(), 5);
}
