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
