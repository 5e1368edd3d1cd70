//! What a request's `id` can be and how it comes back: strings and
//! numbers in every wire form, and any JSON value echoed.

use super::nested_arrays;
use super::util::{run_group, Case, Nego};

/// A request for a command neither server has, echoing `id` (raw JSON text).
fn unknown_with_id(id: &str) -> String {
    format!(r#"{{"execute":"no-such-cmd","id":{id}}}"#)
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
