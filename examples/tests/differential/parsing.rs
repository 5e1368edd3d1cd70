//! The JSON parser: parse errors, the nesting limit, and how the stream
//! recovers after either.

use super::nested_arrays;
use super::util::{run_group, Case, Nego};

#[test]
fn parse_errors_match_qemu() {
    use Nego::Oob;
    let mut cases = Vec::new();
    for (name, input) in [
        ("missing_value", r#"{"execute": }"#),
        ("brace_closed_by_bracket", "{]"),
        (
            "trailing_comma_in_object",
            r#"{"execute":"query-version",}"#,
        ),
        ("trailing_comma_in_array", r#"{"execute":"x","id":[1,]}"#),
        ("leading_comma_in_array", r#"{"execute":"x","id":[,1]}"#),
        ("stray_closing_brace", "}"),
        ("stray_closing_bracket", "]"),
        ("mismatched_nesting", r#"{"a":[}]"#),
        ("invalid_keyword", r#"{"execute":foo}"#),
        ("truncated_keyword", r#"{"execute":"x","id":tru}"#),
        ("keywords_hello_world", "hello world\n"),
        ("capitalised_true", r#"{"execute":"x","id":True}"#),
        (
            "duplicate_key",
            r#"{"execute":"query-version","id":1,"id":2}"#,
        ),
        ("missing_colon", r#"{"execute" "query-version"}"#),
        ("key_without_value", r#"{"execute"}"#),
        ("missing_separator_in_dict", r#"{"execute":"x" "id":1}"#),
        ("missing_separator_in_list", r#"{"execute":"x","id":[1 2]}"#),
        ("key_not_a_string", r#"{1:2}"#),
        ("key_is_keyword", r#"{null:2}"#),
        ("invalid_escape", r#"{"execute":"x","id":"\x"}"#),
        ("short_unicode_escape", r#"{"execute":"x","id":"\u12"}"#),
        ("non_hex_unicode_escape", r#"{"execute":"x","id":"\u12G4"}"#),
        ("lone_high_surrogate", r#"{"execute":"x","id":"\ud800"}"#),
        ("lone_low_surrogate", r#"{"execute":"x","id":"\udc00"}"#),
        (
            "high_surrogate_then_letter",
            r#"{"execute":"x","id":"\ud800\u0041"}"#,
        ),
        (
            "high_surrogate_then_text",
            r#"{"execute":"x","id":"\uD800abc"}"#,
        ),
        ("leading_zero", r#"{"execute":"x","id":01}"#),
        (
            "leading_zeros_then_request",
            "{\"id\":01}{\"execute\":\"no-such-cmd\",\"id\":2}",
        ),
        ("comment_slash", r#"{"execute":"x","id":1} / comment"#),
        (
            "block_comment",
            "/* c */{\"execute\":\"no-such-cmd\",\"id\":1}",
        ),
        (
            "line_comment",
            "// c\n{\"execute\":\"no-such-cmd\",\"id\":1}",
        ),
        ("plus_sign", r#"{"execute":"x","id":+1}"#),
        ("leading_dot", r#"{"execute":"x","id":.5}"#),
        ("trailing_dot", r#"{"execute":"x","id":1.}"#),
        ("bare_minus", r#"{"execute":"x","id":-}"#),
        ("exponent_without_digits", r#"{"execute":"x","id":1e}"#),
        ("hex_number", r#"{"execute":"x","id":0x10}"#),
        ("percent_interpolation", r#"{"execute":"x","id":%d}"#),
        (
            "raw_newline_in_string",
            "{\"execute\":\"x\",\"id\":\"abc\n\"}",
        ),
        ("raw_tab_in_string", "{\"execute\":\"x\",\"id\":\"a\tb\"}"),
        (
            "raw_escape_char_in_string",
            "{\"execute\":\"x\",\"id\":\"a\x1bb\"}",
        ),
        (
            "raw_delete_in_string",
            "{\"execute\":\"x\",\"id\":\"a\x7fb\"}",
        ),
        (
            "control_char_outside_string",
            "{\"execute\":\x02\"x\",\"id\":1}",
        ),
    ] {
        cases.push(Case::new(format!("parse_{name}"), Oob, input));
    }
    for (name, input) in [
        ("byte_ff", &b"{\"execute\":\xff\"x\"}"[..]),
        ("byte_fe", b"{\"execute\":\xfe\"x\"}"),
        ("byte_ff_alone", b"\xff"),
        ("nul_byte", b"{\"execute\":\x00\"x\"}"),
        (
            "nul_byte_in_string",
            b"{\"execute\":\"x\",\"id\":\"a\x00b\"}",
        ),
        (
            "byte_ff_in_string",
            b"{\"execute\":\"x\",\"id\":\"a\xffb\"}",
        ),
        (
            "invalid_utf8_continuation",
            b"{\"execute\":\"x\",\"id\":\"\xc3\x28\"}",
        ),
        (
            "invalid_utf8_truncated",
            b"{\"execute\":\"x\",\"id\":\"\xc3\"}",
        ),
        (
            "invalid_utf8_lone_continuation",
            b"{\"execute\":\"x\",\"id\":\"\x80\"}",
        ),
        (
            "invalid_utf8_overlong_slash",
            b"{\"execute\":\"x\",\"id\":\"\xc0\xaf\"}",
        ),
        (
            "modified_utf8_nul",
            b"{\"execute\":\"x\",\"id\":\"a\xc0\x80b\"}",
        ),
        (
            "utf8_encoded_surrogate",
            b"{\"execute\":\"x\",\"id\":\"\xed\xa0\x80\"}",
        ),
        (
            "utf8_beyond_unicode",
            b"{\"execute\":\"x\",\"id\":\"\xf4\x90\x80\x80\"}",
        ),
        ("utf8_invalid_outside_string", b"{\"execute\":\xc3\xa9}"),
        (
            "unicode_escape_with_modified_utf8_nul",
            b"{\"execute\":\"x\",\"id\":\"\\ute\xc0\x80\"}",
        ),
        (
            "unicode_escape_with_invalid_utf8",
            b"{\"execute\":\"x\",\"id\":\"\\u1\xc3ab\"}",
        ),
    ] {
        cases.push(Case::new(format!("parse_{name}"), Oob, input));
    }
    run_group("parse errors", cases);
}

#[test]
fn limits_and_recovery_match_qemu() {
    use Nego::Oob;
    let depth_1024 = format!(
        r#"{{"execute":"no-such-cmd","id":{}}}"#,
        nested_arrays(1023)
    );
    let depth_1025 = format!(
        r#"{{"execute":"no-such-cmd","id":{}}}"#,
        nested_arrays(1024)
    );
    let mixed_1024 = format!(
        r#"{{"execute":"no-such-cmd","id":{}1{}}}"#,
        "[{\"a\":".repeat(511) + "[",
        "]".to_owned() + &"}]".repeat(511)
    );
    let cases = vec![
        Case::new("nesting_1024_accepted", Oob, depth_1024),
        Case::new("nesting_1025_rejected", Oob, depth_1025),
        Case::new("nesting_1024_mixed_accepted", Oob, mixed_1024),
        Case::new("bare_array_nesting_1025", Oob, nested_arrays(1025)),
        Case::new(
            "lexical_error_then_request",
            Oob,
            r#"{"id":01}{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::new(
            "recovery_skips_to_structural_character",
            Oob,
            r#"{"id":01 garbage "str" 5}{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::new(
            "recovery_skips_keyword_and_string",
            Oob,
            "True abc 'x' {\"execute\":\"no-such-cmd\",\"id\":2}",
        ),
        Case::new(
            "syntax_error_then_request",
            Oob,
            r#"{"execute":}{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::new(
            "stray_closers_then_request",
            Oob,
            r#"]]}{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::new(
            "control_char_discards_partial_message",
            Oob,
            "{\"execute\":\"query-version\",\"id\":1\x01{\"execute\":\"no-such-cmd\",\"id\":2}",
        ),
        Case::new(
            "byte_ff_discards_partial_message",
            Oob,
            &b"{\"execute\":\"query-version\",\"id\":1\xff{\"execute\":\"no-such-cmd\",\"id\":2}"[..],
        ),
        Case::new(
            "control_char_inside_string_discards_message",
            Oob,
            "{\"execute\":\"query-version\",\"id\":\"ab\x01{\"execute\":\"no-such-cmd\",\"id\":2}",
        ),
        Case::new(
            "partial_message_followed_by_newline_gets_no_answer",
            Oob,
            "{\"execute\":\"query-version\",\"id\":1\n",
        ),
        Case::new(
            "partial_message_in_open_string",
            Oob,
            "{\"execute\":\"query-version\",\"id\":\"abc",
        ),
        Case::new(
            "partial_message_in_open_single_quoted_string",
            Oob,
            "{\"execute\":\"query-version\",\"id\":'abc\\'",
        ),
        Case::new(
            "partial_message_in_unicode_escape",
            Oob,
            "{\"execute\":\"query-version\",\"id\":\"\\u12",
        ),
        Case::new(
            "partial_message_after_lexical_error",
            Oob,
            "{\"execute\":\"query-version\",\"id\":01 more",
        ),
        Case::new("top_level_number_without_following_byte", Oob, "42"),
        Case::new("top_level_keyword_without_following_byte", Oob, "true"),
        Case::new(
            "many_errors_then_valid_request",
            Oob,
            "}]:,{]\"x\"\n01\n{\"execute\":\"no-such-cmd\",\"id\":2}",
        ),
        // The last byte ends a number and is a message of its own (a stray
        // `}` or `]`): QEMU answers both at once, before any more input.
        Case::new(
            "control_byte_in_string_then_tail_answered_at_once",
            Oob,
            &b"{\"exe:cute\": \"human-monitor-c\x00ommand\", \"arguments\": {\"command-line\": {\"execute\": {}}}, \"id\": 0.5}"[..],
        ),
        Case::new(
            "nesting_1025_then_scalars_answered_at_once",
            Oob,
            format!("{} 1 \"x\" 0.5]", "[".repeat(1025)),
        ),
        Case::new(
            "nesting_1024_then_object_then_scalars_answered_at_once",
            Oob,
            format!("{}{{\"x\":true}}", "[".repeat(1024)),
        ),
    ];
    run_group("limits and recovery", cases);
}
