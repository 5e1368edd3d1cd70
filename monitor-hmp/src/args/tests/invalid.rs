//! Lines QEMU 7.2 rejects, and its messages.

use super::*;

#[test]
fn invalid_lines_give_qemus_messages() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (command, args_type, line, message)
        ("x", "fmt:/,addr:l", "", "unexpected end of expression"),
        ("x", "fmt:/,addr:l", "/16xb", "unexpected end of expression"),
        ("x", "fmt:/,addr:l", "/16q 0", "invalid char in format: 'q'"),
        ("x", "fmt:/,addr:l", "/-1 0", "invalid char in format: '-'"),
        (
            "print|p",
            "fmt:/,val:l",
            "/x1 1",
            "invalid char in format: '1'",
        ),
        (
            "x",
            "fmt:/,addr:l",
            "/xé 0",
            "invalid char in format: '\u{fffd}'",
        ),
        (
            "x",
            "fmt:/,addr:l",
            "/16xb zz",
            "invalid char 'z' in expression",
        ),
        (
            "x",
            "fmt:/,addr:l",
            "0 1",
            "x: extraneous characters at the end of line",
        ),
        (
            "x",
            "fmt:/,addr:l",
            "0x",
            "x: extraneous characters at the end of line",
        ),
        (
            "print|p",
            "fmt:/,val:l",
            "08",
            "print|p: extraneous characters at the end of line",
        ),
        ("x", "fmt:/,addr:l", "1+", "unexpected end of expression"),
        ("x", "fmt:/,addr:l", "(1", "')' expected"),
        ("x", "fmt:/,addr:l", "'", "character constant expected"),
        ("x", "fmt:/,addr:l", "'a", "missing terminating ' character"),
        ("x", "fmt:/,addr:l", "$foo", "unknown register"),
        ("x", "fmt:/,addr:l", "1/0", "division by zero"),
        (
            "x",
            "fmt:/,addr:l",
            "99999999999999999999999",
            "number too large",
        ),
        (
            "print|p",
            "fmt:/,val:l",
            "é",
            "invalid char '\u{fffd}' in expression",
        ),
        // i
        (
            "cpu",
            "index:i",
            "-1",
            "'cpu' has failed: integer is for 32-bit values",
        ),
        (
            "cpu",
            "index:i",
            "4294967296",
            "'cpu' has failed: integer is for 32-bit values",
        ),
        ("cpu", "index:i", "", "unexpected end of expression"),
        ("cpu", "index:i", "x", "invalid char 'x' in expression"),
        (
            "cpu",
            "index:i",
            "1 2",
            "cpu: extraneous characters at the end of line",
        ),
        (
            "trace-events",
            "name:s?,vcpu:i?",
            "foo -1",
            "'trace-events' has failed: integer is for 32-bit values",
        ),
        (
            "i",
            "fmt:/,addr:i,index:i.",
            "0x60 .",
            "unexpected end of expression",
        ),
        (
            "i",
            "fmt:/,addr:i,index:i.",
            "0x60 1",
            "i: extraneous characters at the end of line",
        ),
        (
            "memsave",
            "val:l,size:i,filename:s",
            "0 -100 f",
            "invalid char 'f' in expression",
        ),
        (
            "memsave",
            "val:l,size:i,filename:s",
            "0 10",
            "memsave: string expected",
        ),
        (
            "registers",
            "cpustate_all:-a,vcpu:i?",
            "-a -a",
            "invalid char 'a' in expression",
        ),
        (
            "registers",
            "cpustate_all:-a,vcpu:i?",
            "1 -a",
            "invalid char 'a' in expression",
        ),
        // M
        ("balloon", "value:M", "", "unexpected end of expression"),
        ("balloon", "value:M", "-1", "enter a positive value"),
        // o
        (
            "block_resize",
            "device:B,size:o",
            "",
            "block_resize: block device name expected",
        ),
        ("block_resize", "device:B,size:o", "foo", "invalid size"),
        ("block_resize", "device:B,size:o", "foo -1", "invalid size"),
        ("block_resize", "device:B,size:o", "foo .5k", "invalid size"),
        ("block_resize", "device:B,size:o", "foo 8E", "invalid size"),
        (
            "block_resize",
            "device:B,size:o",
            "foo 0.5b",
            "invalid size",
        ),
        (
            "block_resize",
            "device:B,size:o",
            "foo 1x",
            "block_resize: extraneous characters at the end of line",
        ),
        (
            "block_resize",
            "device:B,size:o",
            "foo 1e3",
            "block_resize: extraneous characters at the end of line",
        ),
        // T
        ("t", "v:T", "", "Number expected"),
        ("t", "v:T", "x", "Number expected"),
        ("t", "v:T", "inf", "Bad number"),
        ("t", "v:T", "nan", "Bad number"),
        ("t", "v:T", "1e999", "Bad number"),
        ("t", "v:T", "1s", "Unknown unit suffix"),
        ("t", "v:T", "1xs", "Unknown unit suffix"),
        ("t", "v:T", "1msx", "Unknown unit suffix"),
        ("t", "v:T", "1m", "Unknown unit suffix"),
        // b
        ("set_link", "name:s,up:b", "x", "Expected 'on' or 'off'"),
        ("set_link", "name:s,up:b", "x onn", "Expected 'on' or 'off'"),
        ("set_link", "name:s,up:b", "x On", "Expected 'on' or 'off'"),
        (
            "set_link",
            "name:s,up:b",
            "x \"on\"",
            "Expected 'on' or 'off'",
        ),
        (
            "set_link",
            "name:s,up:b",
            "x off y",
            "set_link: extraneous characters at the end of line",
        ),
        ("set_link", "name:s,up:b", "", "set_link: string expected"),
        // s F B S
        (
            "qom-get",
            "path:s,property:s",
            "/machine \"type",
            "qom-get: string expected",
        ),
        (
            "qom-get",
            "path:s,property:s",
            "/machine \"ty\\pe\"",
            "qom-get: string expected",
        ),
        (
            "qom-get",
            "path:s,property:s",
            "\"a\\",
            "qom-get: string expected",
        ),
        (
            "qom-list",
            "path:s?",
            "\"/mach\"ine",
            "qom-list: extraneous characters at the end of line",
        ),
        ("logfile", "filename:F", "", "logfile: filename expected"),
        ("logfile", "filename:F", "\"x", "logfile: filename expected"),
        (
            "drive_del",
            "id:B",
            "",
            "drive_del: block device name expected",
        ),
        (
            "object_add",
            "object:S",
            "   ",
            "object_add: string expected",
        ),
        // -x
        (
            "eject",
            "force:-f,device:B",
            "-f",
            "eject: block device name expected",
        ),
        (
            "eject",
            "force:-f,device:B",
            "-x foo",
            "eject: unsupported option -x",
        ),
        (
            "eject",
            "force:-f,device:B",
            "-ff foo",
            "eject: extraneous characters at the end of line",
        ),
        (
            "eject",
            "force:-f,device:B",
            "-f -f foo",
            "eject: extraneous characters at the end of line",
        ),
        (
            "eject",
            "force:-f,device:B",
            "--f foo",
            "eject: unsupported option --",
        ),
        (
            "eject",
            "force:-f,device:B",
            "- foo",
            "eject: unsupported option - ",
        ),
        (
            "eject",
            "force:-f,device:B",
            "-",
            "eject: unsupported option -",
        ),
        (
            "eject",
            "force:-f,device:B",
            "-é",
            "eject: unsupported option -\u{fffd}",
        ),
        (
            "migrate",
            "detach:-d,blk:-b,inc:-i,resume:-r,uri:s",
            "-d -b -i -r",
            "migrate: string expected",
        ),
        (
            "migrate",
            "detach:-d,blk:-b,inc:-i,resume:-r,uri:s",
            "-dbir x",
            "migrate: extraneous characters at the end of line",
        ),
        (
            "migrate",
            "detach:-d,blk:-b,inc:-i,resume:-r,uri:s",
            "-q x",
            "migrate: unsupported option -q",
        ),
        (
            "migrate",
            "detach:-d,blk:-b,inc:-i,resume:-r,uri:s",
            "-b -d",
            "migrate: unsupported option -d",
        ),
        (
            "mtree",
            "flatview:-f,dispatch_tree:-d,owner:-o,disabled:-D",
            "-D -f",
            "mtree: extraneous characters at the end of line",
        ),
        // -xs
        (
            "set_password",
            "protocol:s,password:s,display:-ds,connected:s?",
            "vnc pw -d",
            "set_password: value expected for -d",
        ),
        (
            "set_password",
            "protocol:s,password:s,display:-ds,connected:s?",
            "vnc pw -d \"abc",
            "set_password: value expected for -d",
        ),
        (
            "set_password",
            "protocol:s,password:s,display:-ds,connected:s?",
            "vnc pw -x",
            "set_password: unsupported option -x",
        ),
        (
            "set_password",
            "protocol:s,password:s,display:-ds,connected:s?",
            "vnc pw -d foo bar baz",
            "set_password: extraneous characters at the end of line",
        ),
        (
            "screendump",
            "filename:F,format:-fs,device:s?,head:i?",
            "-f png x.png",
            "invalid char 'x' in expression",
        ),
        (
            "screendump",
            "filename:F,format:-fs,device:s?,head:i?",
            "-f \"a b",
            "screendump: string expected",
        ),
        // O (QEMU prints these on stdout/stderr: the monitor text is empty)
        (
            "device_add",
            "device:O",
            "\"unterminated",
            "unterminated string",
        ),
        (
            "device_add",
            "device:O",
            "id=1x",
            "Parameter 'id' expects an identifier",
        ),
        (
            "netdev_add",
            "netdev:O",
            "user,id=9",
            "Parameter 'id' expects an identifier",
        ),
        (
            "device_add",
            "device:O",
            "e1000,id=",
            "Parameter 'id' expects an identifier",
        ),
        (
            "device_add",
            "device:O",
            "a b",
            "device_add: extraneous characters at the end of line",
        ),
        // q (extension)
        ("qom-set", "v:q", "", "qom-set: JSON value expected"),
        (
            "qom-set",
            "v:q",
            "{\"a\":",
            "qom-set: invalid JSON value: EOF while parsing a value at line 1 column 5",
        ),
        (
            "qom-set",
            "v:q",
            "nul",
            "qom-set: invalid JSON value: EOF while parsing a value at line 1 column 3",
        ),
        (
            "qom-set",
            "v:q",
            "[1]x",
            "qom-set: invalid JSON value: unexpected 'x' after the value",
        ),
    ];
    for &(command, spec, line, want) in cases {
        let spec_parsed = ArgsType::parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        let err = spec_parsed
            .parse_line(command, line, &cpu)
            .expect_err(&format!("{command} {line:?} should fail"));
        assert_eq!(err.to_string(), want, "{command} {line:?}");
        assert_eq!(err.command(), command);
    }
}

#[test]
fn monitor_and_stdio_texts_say_where_qemu_prints() {
    // (args_type, line, monitor text, stdio text)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        ("a:s", "", "cmd: string expected\n", None),
        ("a:s", "\"x", "cmd: string expected\n", Some("unterminated string\n")),
        ("a:s", "\"\\q\"", "cmd: string expected\n", Some("unsupported escape code: '\\q'\n")),
        ("a:-ds", "-d \"x", "cmd: value expected for -d\n", Some("unterminated string\n")),
        ("f:-f,a:s", "-", "cmd: unsupported option -", None),
        ("device:O", "\"x", "", Some("unterminated string\n")),
        (
            "device:O",
            "e1000,id=9",
            "",
            Some("Parameter 'id' expects an identifier\nIdentifiers consist of letters, digits, '-', '.', '_', starting with a letter.\n"),
        ),
        ("a:i", "-1", "'cmd' has failed: integer is for 32-bit values\n", None),
    ];
    for &(spec, line, monitor, stdio) in cases {
        let err = parse(spec, line).unwrap_err();
        assert_eq!(err.monitor_text(), monitor, "{spec:?} {line:?}");
        assert_eq!(err.stdio_text().as_deref(), stdio, "{spec:?} {line:?}");
    }
}

#[test]
fn incomplete_lines_are_told_from_wrong_ones() {
    let incomplete = [
        ("a:l", ""),
        ("a:l", "1 +"),
        ("a:l", "(1"),
        ("a:s", "  "),
        ("a:s", "\"abc"),
        ("f:-f,a:s", "-"),
        ("a:-ds", "-d"),
        ("a:b", ""),
    ];
    for (spec, line) in incomplete {
        assert!(
            parse(spec, line).unwrap_err().is_incomplete(),
            "{spec:?} {line:?}"
        );
    }
    let wrong = [
        ("a:l", "x"),
        ("a:l", "1 2"),
        ("a:i", "-1"),
        ("a:l", "1/0"),
        ("a:l", "$foo"),
        ("a:b", "yes"),
        ("a:s", "\"\\q\""),
    ];
    for (spec, line) in wrong {
        assert!(
            !parse(spec, line).unwrap_err().is_incomplete(),
            "{spec:?} {line:?}"
        );
    }
}

#[test]
fn error_offsets_point_into_the_line() {
    let cases: &[(&str, &str, usize)] = &[
        ("a:l", "1 2", 2),
        ("a:l", "  zz", 2),
        ("f:-f,a:s", "  -x y", 3),
        ("a:s,b:b", "n  maybe", 3),
        ("a:o", "  -1", 2),
        ("f:/", "/1q", 2),
    ];
    for &(spec, line, offset) in cases {
        assert_eq!(
            parse(spec, line).unwrap_err().offset(),
            offset,
            "{spec:?} {line:?}"
        );
    }
}

/// A size whose exponent overflows makes QEMU step one byte past the
/// number; before a multi-byte character, the next parameter starts
/// inside it. Every type code reads on from there without panicking (the
/// fuzzer once found `b` slicing the line in the middle of a character).
#[test]
fn a_parameter_can_start_inside_a_character() {
    let codes = [
        "s", "S", "F", "B", "i", "l", "M", "o", "T", "b", "O", "q", "/", "-f", "-fs",
    ];
    for code in codes {
        let spec = format!("v:o,w:{code}");
        for line in ["0.1e999é", "0.1e999é on", "0.1e999€ 1", "0.1e999é\"x\""] {
            match parse(&spec, line) {
                Ok(args) => drop(format!("{args:?}")),
                Err(e) => assert!(!e.to_string().is_empty(), "{spec:?} {line:?}"),
            }
        }
    }
    let err = parse("v:o,w:b", "0.1e999é on").unwrap_err();
    assert_eq!(err.to_string(), "Expected 'on' or 'off'");
    // The word is the character's second byte.
    assert_eq!(
        parse("v:o,w:s", "0.1e999é").unwrap().str("w"),
        Some("\u{fffd}")
    );
    assert_eq!(
        parse("v:o,w:S", "0.1e999é x").unwrap().str("w"),
        Some("\u{fffd} x")
    );
}
