//! The connection: messages framed across writes, and `quit`, which
//! answers and closes it.

use super::util::{run_group, Case, Nego};

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
