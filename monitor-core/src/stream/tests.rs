use super::*;

#[test]
fn string_and_whitespace_runs_stop_where_a_byte_loop_stops() {
    let naive_string = |input: &[u8], quote: u8| {
        input
            .iter()
            .position(|&b| b == quote || b == b'\\' || !(0x20..=0xfd).contains(&b))
            .unwrap_or(input.len())
    };
    // Every special byte at every offset of blocks and tails.
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
        for at in 0..=len {
            for special in [b'"', b'\'', b'\\', 0x00, 0x1f, 0xfe, 0xff, b'\n'] {
                let mut input = vec![b'a'; len];
                if at < len {
                    input[at] = special;
                }
                for quote in [b'"', b'\''] {
                    assert_eq!(
                        string_run(&input, quote),
                        naive_string(&input, quote),
                        "len {len}, {special:#x} at {at}"
                    );
                }
                let mut ws = vec![b' '; len];
                if at < len {
                    ws[at] = special;
                }
                let naive_ws = ws
                    .iter()
                    .position(|&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                    .unwrap_or(len);
                assert_eq!(whitespace_run(&ws), naive_ws);
            }
        }
    }
}

fn descs(frames: &[Frame]) -> Vec<String> {
    frames
        .iter()
        .map(|f| match f {
            Ok(_) => "ok".to_owned(),
            Err(e) => e.to_string(),
        })
        .collect()
}

#[test]
fn token_size_cut_inside_a_string() {
    let limits = Limits {
        max_token_size: 8,
        ..Limits::default()
    };
    let mut s = Splitter::with_limits(limits);
    let frames = s.feed_all(b"\"abcdefghij\"");
    assert_eq!(descs(&frames)[0], "JSON token size limit exceeded");
}

#[test]
fn keyword_needs_a_following_byte() {
    let mut s = Splitter::new();
    assert!(s.feed_all(b"true").is_empty());
    assert_eq!(s.feed_all(b" ").len(), 1);
}

#[test]
fn no_frame_waits_once_the_input_is_used_up() {
    // `}` ends the number (one message) and is a message of its own.
    let mut s = Splitter::new();
    let (used, frame) = s.next_frame(b"1}");
    assert_eq!((used, frame.unwrap().unwrap()), (1, Value::Int(1)));
    let (used, frame) = s.next_frame(b"}");
    assert_eq!(used, 1);
    assert_eq!(
        frame.unwrap().unwrap_err().to_string(),
        "JSON parse error, expecting value"
    );
    assert!(s.next_frame(b"").1.is_none());
    // The same with a control byte after a keyword.
    let mut s = Splitter::new();
    assert_eq!(s.next_frame(b"true\x01"), (4, Some(Ok(Value::Bool(true)))));
    let (used, frame) = s.next_frame(b"\x01");
    assert_eq!(used, 1);
    assert!(frame.unwrap().is_err());
    assert!(s.next_frame(b"").1.is_none());
}

#[test]
fn partial_state_is_reported() {
    let mut s = Splitter::new();
    assert!(!s.is_partial());
    s.feed_all(b"{\"a\"");
    assert!(s.is_partial());
    s.feed_all(b":1}");
    assert!(!s.is_partial());
}

/// Defect 8 of the hostile-client review: what one message leaves behind.
mod memory_tests {
    use super::*;

    /// Each token cost 24 bytes of bookkeeping; now 12.
    #[test]
    fn defect_08_a_token_costs_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Token>(), 12);
    }

    /// A 60 MiB string left 60 MiB in the token buffer of an idle session.
    #[test]
    fn defect_08_a_huge_string_leaves_no_buffer_behind() {
        let mut splitter = Splitter::new();
        let mut message = br#"{"execute": "x", "id": ""#.to_vec();
        message.resize(message.len() + (60 << 20), b's');
        message.extend_from_slice(br#""}"#);
        let frames = splitter.feed_all(&message);
        assert_eq!(frames.len(), 1);
        assert!(frames[0].is_ok());
        drop(frames);
        assert!(
            splitter.buffered_bytes() <= 2 * KEEP_CAPACITY,
            "{} bytes kept",
            splitter.buffered_bytes()
        );
        // And after a huge message cut by the token size limit.
        let mut message = b"[\"".to_vec();
        message.resize(message.len() + (MAX_TOKEN_SIZE + 10), b's');
        let frames = splitter.feed_all(&message);
        assert!(matches!(
            frames[..],
            [Err(ParseError::TokenSizeLimit { .. })]
        ));
        assert!(
            splitter.buffered_bytes() <= 2 * KEEP_CAPACITY,
            "{} bytes kept",
            splitter.buffered_bytes()
        );
    }

    /// Many tokens: the token list is given back too.
    #[test]
    fn defect_08_many_tokens_leave_no_buffer_behind() {
        let mut splitter = Splitter::new();
        let mut message = b"[".to_vec();
        for _ in 0..500_000 {
            message.extend_from_slice(b"1,");
        }
        message.extend_from_slice(b"1]");
        let frames = splitter.feed_all(&message);
        assert!(frames[0].is_ok());
        assert!(splitter.buffered_bytes() <= 2 * KEEP_CAPACITY);
    }
}

/// Everything a splitter gives for `input` fed in `chunks`: each frame
/// (as text, to compare doubles and errors alike), its weight, and the
/// bytes consumed with it.
fn run_through(input: &[u8], cuts: &[usize], fast: bool, limits: Limits) -> Vec<String> {
    let mut splitter = Splitter::with_limits(limits);
    splitter.set_fast(fast);
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let mut rest = &input[from..cut.max(from)];
        from = cut.max(from);
        while !rest.is_empty() {
            let (used, frame) = splitter.next_frame(rest);
            rest = &rest[used..];
            if let Some(frame) = frame {
                out.push(format!("{frame:?} w{} u{used}", splitter.last_weight()));
            }
        }
    }
    out.push(format!("partial {}", splitter.is_partial()));
    out
}

/// The fast path gives what the lexer gives, frame for frame, weight for
/// weight, byte for byte consumed, however the input is cut, for
/// messages made of the pieces it takes and of those it declines.
#[test]
fn the_fast_path_agrees_with_the_lexer() {
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        " ",
        "\t",
        "\r\n",
        "\"execute\"",
        "\"id\"",
        "\"a\"",
        "\"query-status\"",
        "\"\"",
        "\"é\"",
        "\"a\\\"b\"",
        "'sq'",
        "0",
        "1",
        "-1",
        "12",
        "01",
        "-0",
        "1.5",
        "1e3",
        "123456789012345678",
        "1234567890123456789",
        "true",
        "false",
        "null",
        "nul",
        "truex",
        "x",
        "\u{1}",
        "\u{ff}",
        "-",
    ];
    let mut seed: u64 = 0x5eed_f457;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let tight = Limits {
        max_token_size: 40,
        max_token_count: 12,
        max_nesting: 3,
    };
    for case in 0..20_000 {
        let mut input = String::new();
        // Mostly well-formed requests, then noise around them.
        if next(2) == 0 {
            input.push_str(r#"{"execute": "query-status", "id": "#);
            input.push_str(PIECES[next(PIECES.len())]);
            input.push_str(if next(4) == 0 { "" } else { "}" });
        }
        for _ in 0..next(16) {
            input.push_str(PIECES[next(PIECES.len())]);
        }
        if next(3) == 0 {
            input.push_str(r#"{"a": [1, {"b": null}], "c": true}"#);
        }
        let bytes = input.as_bytes();
        let cuts: Vec<usize> = (0..next(3)).map(|_| next(bytes.len() + 1)).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let limits = if case % 5 == 0 {
            tight
        } else {
            Limits::default()
        };
        assert_eq!(
            run_through(bytes, &cuts, true, limits),
            run_through(bytes, &cuts, false, limits),
            "case {case}: {input:?} cut at {cuts:?}"
        );
    }
}

#[test]
fn a_simple_request_takes_the_fast_path() {
    let input = br#"{"execute": "query-status", "id": [1, -2, true, null, {}]}"#;
    let fast = fast::object(input, &Limits::default()).expect("a simple request");
    assert_eq!(fast.used, input.len());
    let mut splitter = Splitter::new();
    splitter.set_fast(false);
    let slow = splitter.feed_all(input).remove(0).expect("a request");
    assert_eq!(fast.value, slow);
    // Declined: an escape, a float, a message not yet whole.
    for declined in [
        &br#"{"a": "\n"}"#[..],
        br#"{"a": 1.5}"#,
        br#"{"a": 1"#,
        br#"{"a": 1, "a": 2}"#,
    ] {
        assert!(fast::object(declined, &Limits::default()).is_none());
    }
}
