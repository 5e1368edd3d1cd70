//! Requests once negotiated: how a request is validated, how a command is
//! dispatched, and `exec-oob`.

use super::util::{run_group, Case, Nego};

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
