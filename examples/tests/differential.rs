//! Differential tests: the same bytes go to QEMU 7.2 and to `minimal`, and the
//! answers must match line for line (events dropped, versions and command
//! lists masked). The cases cover capabilities negotiation, request
//! validation, command dispatch, JSON parse errors and recovery, strings and
//! numbers, `id` echo, framing across writes, out-of-band execution and
//! `quit`. `differential_fuzz.rs` adds generated cases. The rules the
//! cases check are stated in `docs/PROTOCOL.md`.
//!
//! Needs `qemu-system-x86_64` on `PATH`; without it the tests are skipped,
//! except under `CI` where that is a failure.
//!
//! `cargo test -p examples --test differential -- --nocapture`

mod util;

use util::{run_group, Case, Nego};

/// A request for a command neither server has, echoing `id` (raw JSON text).
fn unknown_with_id(id: &str) -> String {
    format!(r#"{{"execute":"no-such-cmd","id":{id}}}"#)
}

/// `depth` nested empty arrays.
fn nested_arrays(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn negotiation_matches_qemu() {
    use Nego::{None as Fresh, Oob, Plain};
    let cases = vec![
        Case::new(
            "known_command_before_negotiation_with_id",
            Fresh,
            r#"{"execute":"query-version","id":1}"#,
        ),
        Case::new(
            "known_command_before_negotiation_without_id",
            Fresh,
            r#"{"execute":"query-version"}"#,
        ),
        Case::new(
            "unknown_command_before_negotiation",
            Fresh,
            r#"{"execute":"no-such-cmd","id":"x"}"#,
        ),
        Case::new(
            "quit_before_negotiation_is_not_found",
            Fresh,
            r#"{"execute":"quit","id":1}"#,
        ),
        Case::new(
            "capabilities_without_arguments_then_command",
            Fresh,
            r#"{"execute":"qmp_capabilities","id":1}{"execute":"query-commands","id":2}"#,
        ),
        Case::new(
            "capabilities_with_empty_arguments",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{},"id":1}"#,
        ),
        Case::new(
            "capabilities_with_empty_enable",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":[]},"id":1}"#,
        ),
        Case::new(
            "capabilities_enabling_oob_twice_in_list",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["oob","oob"]},"id":1}"#,
        ),
        Case::new(
            "capabilities_twice_in_one_write",
            Fresh,
            r#"{"execute":"qmp_capabilities","id":1}{"execute":"qmp_capabilities","id":2}"#,
        ),
        Case::new(
            "capabilities_after_oob_negotiation",
            Oob,
            r#"{"execute":"qmp_capabilities","id":2}"#,
        ),
        Case::new(
            "capabilities_enabling_oob_after_plain_negotiation",
            Plain,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":2}"#,
        ),
        Case::new(
            "capabilities_bad_argument_before_negotiation_keeps_mode",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"foo":1},"id":1}{"execute":"query-version","id":2}"#,
        ),
        Case::new(
            "capabilities_bad_argument_after_negotiation",
            Oob,
            r#"{"execute":"qmp_capabilities","arguments":{"foo":1},"id":1}"#,
        ),
        Case::new(
            "capabilities_enable_string",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":"oob"},"id":1}"#,
        ),
        Case::new(
            "capabilities_enable_null",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":null},"id":1}"#,
        ),
        Case::new(
            "capabilities_enable_number_element",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":[1]},"id":1}"#,
        ),
        Case::new(
            "capabilities_enable_bogus_element",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["bogus"]},"id":1}"#,
        ),
        Case::new(
            "capabilities_enable_missing_value",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":},"id":1}"#,
        ),
        Case::new(
            "capabilities_arguments_null",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":null,"id":1}"#,
        ),
        Case::new(
            "failed_capabilities_then_successful_one",
            Fresh,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["bogus"]},"id":1}{"execute":"qmp_capabilities","id":2}{"execute":"query-version","id":3}"#,
        ),
        Case::new(
            "exec_oob_before_negotiation",
            Fresh,
            r#"{"exec-oob":"query-version","id":1}"#,
        ),
        Case::new(
            "exec_oob_capabilities_before_negotiation",
            Fresh,
            r#"{"exec-oob":"qmp_capabilities","id":1}"#,
        ),
        Case::new(
            "exec_oob_after_plain_negotiation",
            Plain,
            r#"{"exec-oob":"query-version","id":1}"#,
        ),
        Case::new(
            "exec_oob_non_string_after_plain_negotiation",
            Plain,
            r#"{"exec-oob":1,"id":1}"#,
        ),
        Case::new(
            "malformed_request_before_negotiation",
            Fresh,
            "{\"id\":1}[]\n{\"execute\":1}",
        ),
        Case::new(
            "parse_error_before_negotiation",
            Fresh,
            r#"{"execute":"qmp_capabilities",}"#,
        ),
    ];
    run_group("negotiation", cases);
}

#[test]
fn request_validation_matches_qemu() {
    use Nego::{Oob, Plain};
    let mut cases = Vec::new();
    for (name, input) in [
        ("null", "null\n"),
        ("number", "42\n"),
        ("string", "\"s\"\n"),
        ("array", "[]\n"),
        (
            "array_of_object",
            "[{\"execute\":\"query-version\",\"id\":1}]",
        ),
        ("true", "true\n"),
        ("false", "false\n"),
    ] {
        cases.push(Case::new(
            format!("top_level_{name}_is_not_an_object"),
            Oob,
            input,
        ));
    }
    for (name, input) in [
        ("execute_number", r#"{"execute":1,"id":1}"#),
        ("execute_null", r#"{"execute":null,"id":1}"#),
        ("execute_object", r#"{"execute":{},"id":1}"#),
        (
            "execute_array_without_id",
            r#"{"execute":["query-version"]}"#,
        ),
        (
            "arguments_null",
            r#"{"execute":"query-version","arguments":null,"id":1}"#,
        ),
        (
            "arguments_array",
            r#"{"execute":"query-version","arguments":[],"id":1}"#,
        ),
        (
            "arguments_string",
            r#"{"execute":"query-version","arguments":"x","id":1}"#,
        ),
        (
            "extra_member",
            r#"{"execute":"query-version","extra":1,"id":1}"#,
        ),
        (
            "capitalised_execute",
            r#"{"Execute":"query-version","id":1}"#,
        ),
        ("empty_object", "{}"),
        ("only_id", r#"{"id":1}"#),
        ("only_arguments", r#"{"arguments":{},"id":1}"#),
        (
            "unknown_command_with_extra",
            r#"{"execute":"no-such-cmd","extra":1,"id":1}"#,
        ),
        (
            "order_execute_arguments_foo",
            r#"{"execute":1,"arguments":2,"foo":3}"#,
        ),
        (
            "order_foo_arguments_execute",
            r#"{"foo":3,"arguments":2,"execute":1}"#,
        ),
        (
            "order_arguments_execute",
            r#"{"arguments":2,"execute":1,"id":1}"#,
        ),
        (
            "order_execute_arguments",
            r#"{"execute":1,"arguments":2,"id":1}"#,
        ),
        ("order_foo_execute", r#"{"foo":1,"execute":1,"id":1}"#),
        (
            "order_two_extras",
            r#"{"zzz":1,"aaa":2,"execute":"query-version","id":1}"#,
        ),
        (
            "order_two_extras_reversed",
            r#"{"aaa":2,"zzz":1,"execute":"query-version","id":1}"#,
        ),
        (
            "order_arguments_then_extra",
            r#"{"arguments":[],"extra":1,"execute":"x","id":1}"#,
        ),
        ("id_then_bad_execute", r#"{"id":"first","execute":true}"#),
    ] {
        cases.push(Case::new(format!("request_{name}"), Oob, input));
    }
    cases.extend([
        Case::new(
            "clash_execute_then_exec_oob",
            Oob,
            r#"{"execute":"query-version","exec-oob":"query-version","id":1}"#,
        ),
        Case::new(
            "clash_exec_oob_then_execute",
            Oob,
            r#"{"exec-oob":"query-version","execute":"query-version","id":1}"#,
        ),
        Case::new(
            "clash_with_non_string_exec_oob",
            Oob,
            r#"{"execute":"query-version","exec-oob":1,"id":1}"#,
        ),
        Case::new(
            "exec_oob_with_execute_when_oob_disabled",
            Plain,
            r#"{"execute":"query-version","exec-oob":"query-version","id":1}"#,
        ),
        Case::new(
            "several_malformed_requests_in_one_write",
            Oob,
            "{}{\"id\":1}{\"execute\":2,\"id\":2}null\n{\"execute\":\"query-version\",\"id\":3}",
        ),
    ]);
    run_group("request validation", cases);
}

#[test]
fn command_dispatch_matches_qemu() {
    use Nego::Oob;
    let cases = vec![
        Case::new(
            "unknown_command",
            Oob,
            r#"{"execute":"no-such-cmd","id":1}"#,
        ),
        Case::new(
            "unknown_command_without_id",
            Oob,
            r#"{"execute":"no-such-cmd"}"#,
        ),
        Case::new("empty_command_name", Oob, r#"{"execute":"","id":1}"#),
        Case::new(
            "command_names_are_case_sensitive",
            Oob,
            r#"{"execute":"Query-Version","id":1}"#,
        ),
        Case::new(
            "command_name_with_spaces",
            Oob,
            r#"{"execute":" query-version ","id":1}"#,
        ),
        Case::new(
            "unknown_command_name_non_ascii",
            Oob,
            r#"{"execute":"caf\u00e9\ud83d\ude00","id":1}"#,
        ),
        Case::new(
            "unknown_command_name_with_nul",
            Oob,
            r#"{"execute":"a\u0000b","id":1}"#,
        ),
        Case::new(
            "unknown_command_name_with_quote_and_newline",
            Oob,
            r#"{"execute":"a'b\"c\nd","id":1}"#,
        ),
        Case::new(
            "unknown_command_with_bad_arguments",
            Oob,
            r#"{"execute":"no-such-cmd","arguments":{"x":1},"id":1}"#,
        ),
        Case::new(
            "query_version",
            Oob,
            r#"{"execute":"query-version","id":1}"#,
        ),
        Case::new(
            "query_version_without_id",
            Oob,
            r#"{"execute":"query-version"}"#,
        ),
        Case::new(
            "query_version_empty_arguments",
            Oob,
            r#"{"execute":"query-version","arguments":{},"id":1}"#,
        ),
        Case::new(
            "query_version_unexpected_argument",
            Oob,
            r#"{"execute":"query-version","arguments":{"x":1},"id":1}"#,
        ),
        Case::new(
            "query_version_unexpected_null_argument",
            Oob,
            r#"{"execute":"query-version","arguments":{"x":null},"id":1}"#,
        ),
        Case::new(
            "query_version_two_unexpected_arguments",
            Oob,
            r#"{"execute":"query-version","arguments":{"a":1,"b":2},"id":1}"#,
        ),
        Case::new(
            "query_version_two_unexpected_arguments_reversed",
            Oob,
            r#"{"execute":"query-version","arguments":{"b":2,"a":1},"id":1}"#,
        ),
        Case::new(
            "query_version_unexpected_arguments_x_y",
            Oob,
            r#"{"execute":"query-version","arguments":{"x":1,"y":2},"id":1}"#,
        ),
        Case::new(
            "query_version_three_unexpected_arguments",
            Oob,
            r#"{"execute":"query-version","arguments":{"foo":1,"bar":2,"baz":3},"id":1}"#,
        ),
        // Past 7 members GLib's table grows, rehashing in place.
        Case::new(
            "query_commands_twelve_unexpected_arguments",
            Oob,
            r#"{"execute":"query-commands","arguments":{"b":1,"z":1,"d":1,"k0":1,"\u00e9":1,"g":1,"c":1,"k3":1,"foo":1,"enable2":1,"bar":1,"e":1}}"#,
        ),
        Case::new(
            "add_fd_forty_unexpected_arguments",
            Oob,
            format!(
                r#"{{"execute":"add-fd","arguments":{{"opaque":"o",{}}},"id":1}}"#,
                (0..40)
                    .map(|i| format!(r#""k{i}":1"#))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ),
        Case::new(
            "query_commands",
            Oob,
            r#"{"execute":"query-commands","id":1}"#,
        ),
        Case::new(
            "query_commands_unexpected_argument",
            Oob,
            r#"{"execute":"query-commands","arguments":{"x":1},"id":1}"#,
        ),
        Case::new(
            "quit_unexpected_argument",
            Oob,
            r#"{"execute":"quit","arguments":{"x":1},"id":1}"#,
        ),
        Case::new(
            "quit_arguments_not_an_object",
            Oob,
            r#"{"execute":"quit","arguments":[],"id":1}"#,
        ),
        Case::new(
            "capabilities_unexpected_argument_wins_over_already_complete",
            Oob,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["oob"],"x":1},"id":1}"#,
        ),
        Case::new(
            "capabilities_bad_enable_after_negotiation",
            Oob,
            r#"{"execute":"qmp_capabilities","arguments":{"enable":["bogus"]},"id":1}"#,
        ),
    ];
    run_group("command dispatch", cases);
}

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
fn strings_and_numbers_match_qemu() {
    use Nego::Oob;
    let mut cases = Vec::new();
    for (name, id) in [
        ("single_quoted", r#"'single'"#),
        ("single_quoted_with_double_quote", r#"'say "hi"'"#),
        ("single_quoted_with_escaped_quote", r#"'it\'s'"#),
        ("double_quoted_with_escaped_single_quote", r#""it\'s""#),
        ("double_quoted_with_single_quote", r#""it's""#),
        ("single_quoted_empty", "''"),
        ("all_simple_escapes", r#""\"\\\/\b\f\n\r\t""#),
        ("unicode_escape_nul", r#""a\u0000b""#),
        ("unicode_escape_lowercase_hex", r#""\u00e9\u00C9""#),
        ("unicode_escape_ffff", r#""\uFFFF""#),
        ("unicode_escape_fffe", r#""\ufffe""#),
        ("surrogate_pair", r#""\ud83d\ude00""#),
        ("surrogate_pair_uppercase", r#""\uD83D\uDE00""#),
        ("raw_utf8_two_byte", "\"caf\u{e9}\""),
        ("raw_utf8_three_byte", "\"\u{20ac}\u{fffd}\""),
        ("raw_utf8_four_byte", "\"\u{1f600}\""),
        ("control_chars_escaped", r#""\u0001\u001f\u007f""#),
        ("number_1_5e3", "1.5e3"),
        ("number_1e2", "1e2"),
        ("number_1E2", "1E2"),
        ("number_1e_plus_2", "1e+2"),
        ("number_negative_quarter", "-0.25"),
        ("number_negative_zero", "-0"),
        ("number_negative_zero_float", "-0.0"),
        ("number_zero", "0"),
        ("number_u64_max", "18446744073709551615"),
        ("number_i64_min", "-9223372036854775808"),
        ("number_i64_max", "9223372036854775807"),
        ("number_i64_max_plus_one", "9223372036854775808"),
        ("number_u64_max_plus_one", "18446744073709551616"),
        ("number_i64_min_minus_one", "-9223372036854775809"),
        ("number_huge_integer", "123456789012345678901234567890"),
        ("number_0_1", "0.1"),
        ("number_third", "0.3333333333333333"),
        ("number_1e400", "1e400"),
        ("number_negative_1e400", "-1e400"),
        ("number_1e_minus_400", "1e-400"),
        ("number_smallest_subnormal", "5e-324"),
        ("number_1e21", "1e21"),
        ("number_1e_minus_7", "1e-7"),
        ("number_1_5", "1.5"),
        ("number_100_0", "100.0"),
    ] {
        cases.push(Case::new(format!("id_{name}"), Oob, unknown_with_id(id)));
    }
    run_group("strings and numbers", cases);
}

#[test]
fn id_echo_matches_qemu() {
    use Nego::{None as Fresh, Oob};
    let mut cases = Vec::new();
    let long = format!("\"{}\"", "x".repeat(4096));
    let deep_mixed = r#"{"a":[{"b":{"c":[1,"two",null,true,{"d":[]}]}}],"e":{}}"#;
    for (name, id) in [
        ("null", "null"),
        ("true", "true"),
        ("false", "false"),
        ("zero", "0"),
        ("negative", "-1"),
        ("beyond_i64", "18446744073709551615"),
        ("float", "2.5"),
        ("empty_string", r#""""#),
        ("string_with_nul", r#""a\u0000b""#),
        ("string_non_ascii", r#""\u00e9\ud83d\ude00""#),
        ("string_long", long.as_str()),
        ("empty_array", "[]"),
        ("empty_object", "{}"),
        ("mixed_array", r#"[1,"a",null,true,false,-2.5,[],{}]"#),
        ("object_with_members", r#"{"b":1,"a":[2,3],"c":{"d":"e"}}"#),
        ("nested", deep_mixed),
        ("nested_arrays_100", nested_arrays(100).as_str()),
    ] {
        cases.push(Case::new(
            format!("id_{name}_echoed_on_error"),
            Oob,
            unknown_with_id(id),
        ));
        cases.push(Case::new(
            format!("id_{name}_echoed_on_success"),
            Oob,
            format!(r#"{{"execute":"query-version","id":{id}}}"#),
        ));
    }
    cases.extend([
        Case::new(
            "id_null_echoed_before_negotiation",
            Fresh,
            r#"{"execute":"query-version","id":null}"#,
        ),
        Case::new(
            "id_echoed_on_capabilities",
            Fresh,
            r#"{"execute":"qmp_capabilities","id":{"x":[null]}}"#,
        ),
        Case::new(
            "id_echoed_on_validation_error",
            Oob,
            r#"{"execute":"query-version","extra":1,"id":[1,{"a":null}]}"#,
        ),
        Case::new(
            "id_first_member",
            Oob,
            r#"{"id":"first","execute":"query-version"}"#,
        ),
        Case::new(
            "id_between_members",
            Oob,
            r#"{"execute":"no-such-cmd","id":"mid","arguments":{}}"#,
        ),
        // QEMU writes back the QDict it parsed: members in its hash order.
        Case::new(
            "id_object_members_in_qemu_order",
            Oob,
            r#"{"execute": "query-fdsets", "id": {"b": 1, "a": 2}}"#,
        ),
        Case::new(
            "id_nested_objects_in_qemu_order",
            Oob,
            r#"{"execute":"no-such-cmd","id":[{"z":{"y":1,"x":2,"":3},"b":[{"d":1,"c":2}]},{"k9":1,"k10":2,"k11":3}]}"#,
        ),
        Case::new(
            "id_object_unicode_and_nul_keys_in_qemu_order",
            Oob,
            r#"{"execute":"query-fdsets","id":{"\u00e9x":1,"\u0000":2,"a\u0000":3,"\ud83d\ude00":4,"":5}}"#,
        ),
    ]);
    run_group("id echo", cases);
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

#[test]
fn framing_matches_qemu() {
    use Nego::Oob;
    let by_byte: Vec<Vec<u8>> =
        br#"{"execute":"no-such","id":7}"#.iter().map(|b| vec![*b]).collect();
    let by_byte: Vec<&[u8]> = by_byte.iter().map(Vec::as_slice).collect();
    let cases = vec![
        Case::new(
            "three_requests_in_one_write",
            Oob,
            r#"{"execute":"query-version","id":1}{"execute":"no-such-cmd","id":2}{"execute":"query-commands","id":3}"#,
        ),
        Case::new(
            "requests_separated_by_whitespace",
            Oob,
            "{\"execute\":\"no-such-cmd\",\"id\":1}\r\n \t{\"execute\":\"no-such-cmd\",\"id\":2}\n\n",
        ),
        Case::new(
            "whitespace_inside_request",
            Oob,
            " \t\r\n{ \"execute\" :\t\"no-such-cmd\" ,\r\n\"id\" : [ 1 , 2 ] }\n",
        ),
        Case::new(
            "number_then_object_without_separator",
            Oob,
            r#"42{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::new(
            "keyword_then_object_without_separator",
            Oob,
            r#"null{"execute":"no-such-cmd","id":2}"#,
        ),
        Case::split(
            "message_split_over_three_writes",
            Oob,
            &[b"{\"exec", b"ute\":\"query-", b"version\",\"id\":1}"],
        ),
        Case::split(
            "message_split_in_strings",
            Oob,
            &[b"{\"execute\":\"no-su", b"ch\",\"id\":\"ab", b"cd\"}"],
        ),
        Case::split(
            "message_split_in_number",
            Oob,
            &[b"{\"execute\":\"no-such\",\"id\":123", b"456}"],
        ),
        Case::split(
            "message_split_in_float_exponent",
            Oob,
            &[b"{\"execute\":\"no-such\",\"id\":1.5e", b"3}"],
        ),
        Case::split(
            "message_split_in_keyword",
            Oob,
            &[b"{\"execute\":\"no-such\",\"id\":tr", b"ue}"],
        ),
        Case::split(
            "message_split_in_escape",
            Oob,
            &[b"{\"execute\":\"no-such\",\"id\":\"\\u00", b"e9\\", b"n\"}"],
        ),
        Case::split(
            "message_split_in_utf8_character",
            Oob,
            &[b"{\"execute\":\"no-such\",\"id\":\"\xc3", b"\xa9\"}"],
        ),
        Case::split(
            "partial_message_newline_then_rest",
            Oob,
            &[b"{\"execute\":\"query-version\",\n", b"\"id\":1}"],
        ),
        Case::split(
            "two_messages_split_across_writes",
            Oob,
            &[
                b"{\"execute\":\"no-such\",\"id\":1}{\"execute\"",
                b":\"no-such\",\"id\":2}",
            ],
        ),
        Case::split("message_byte_by_byte", Oob, &by_byte),
        Case::split(
            "split_scalar_then_newline",
            Oob,
            &[b"12", b"34\n"],
        ),
    ];
    run_group("framing", cases);
}

#[test]
fn oob_matches_qemu() {
    use Nego::Oob;
    let cases = vec![
        Case::new(
            "exec_oob_of_in_band_command",
            Oob,
            r#"{"exec-oob":"query-version","id":1}"#,
        ),
        Case::new(
            "exec_oob_of_in_band_command_without_id",
            Oob,
            r#"{"exec-oob":"query-commands"}"#,
        ),
        Case::new(
            "exec_oob_of_capabilities",
            Oob,
            r#"{"exec-oob":"qmp_capabilities","id":1}"#,
        ),
        Case::new(
            "exec_oob_unknown_command",
            Oob,
            r#"{"exec-oob":"no-such","id":1}"#,
        ),
        Case::new("exec_oob_empty_name", Oob, r#"{"exec-oob":"","id":1}"#),
        Case::new("exec_oob_number", Oob, r#"{"exec-oob":1,"id":1}"#),
        Case::new("exec_oob_null", Oob, r#"{"exec-oob":null,"id":1}"#),
        Case::new(
            "exec_oob_with_bad_arguments",
            Oob,
            r#"{"exec-oob":"query-version","arguments":{"x":1},"id":1}"#,
        ),
        Case::new(
            "exec_oob_with_arguments_not_object",
            Oob,
            r#"{"exec-oob":"query-version","arguments":1,"id":1}"#,
        ),
        Case::new(
            "exec_oob_with_extra_member",
            Oob,
            r#"{"exec-oob":"query-version","extra":1,"id":1}"#,
        ),
        Case::new(
            "exec_oob_clash_with_execute_first",
            Oob,
            r#"{"execute":"no-such","exec-oob":"no-such","id":1}"#,
        ),
        Case::new(
            "exec_oob_clash_with_exec_oob_first",
            Oob,
            r#"{"exec-oob":"no-such","execute":"no-such","id":1}"#,
        ),
    ];
    run_group("oob", cases);
}

#[test]
fn quit_matches_qemu() {
    let cases = vec![Case::new(
        "quit_emits_shutdown_answers_and_closes",
        Nego::Oob,
        r#"{"execute":"quit","id":"bye"}"#,
    )
    .until_eof()
    .keep_event("SHUTDOWN")];
    run_group("quit", cases);
}
