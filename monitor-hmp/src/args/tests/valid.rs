//! Lines QEMU 7.2 accepts, and the values they give.

use super::*;

#[test]
fn valid_lines_give_qemus_values() {
    use ArgValue::{Bool, Flag, Float, Int, Size};
    const M: u64 = 1 << 20;
    let fmt = |count, format, size| {
        ArgValue::Format(Format {
            count,
            format,
            size,
        })
    };
    let cases: Vec<OkCase> = vec![
        ("", "", vec![]),
        ("", "   ", vec![]),
        // s F B
        ("a:s", "word", vec![("a", s("word"))]),
        ("a:s", "  \"two words\"  ", vec![("a", s("two words"))]),
        (
            "a:s",
            "\"esc\\n\\r\\\\\\'\\\"\"",
            vec![("a", s("esc\n\r\\'\""))],
        ),
        ("a:s", "\"\"", vec![("a", s(""))]),
        ("a:s", "'quoted'", vec![("a", s("'quoted'"))]),
        ("a:s,b:s", "x\ty", vec![("a", s("x")), ("b", s("y"))]),
        ("a:s?", "", vec![]),
        ("a:s?", "  ", vec![]),
        ("a:F", "/tmp/f", vec![("a", s("/tmp/f"))]),
        ("a:B", "ide1-cd0", vec![("a", s("ide1-cd0"))]),
        ("a:B?", "", vec![]),
        // S
        ("a:S", "  foo   bar  ", vec![("a", s("foo   bar  "))]),
        (
            "a:s,b:S",
            "x \"y\" z",
            vec![("a", s("x")), ("b", s("\"y\" z"))],
        ),
        ("a:S?", "", vec![]),
        // i l M
        ("a:i", "4294967295", vec![("a", Int(4294967295))]),
        ("a:i", "0x10 + 3 * 2", vec![("a", Int(22))]),
        ("a:i?", "", vec![]),
        ("a:l", "-1", vec![("a", Int(-1))]),
        ("a:l", "$pc + 0x10", vec![("a", Int(0x10000))]),
        // `0 -100` is one expression, as in QEMU.
        ("a:l", "0 -100", vec![("a", Int(-100))]),
        (
            "a:l,b:i,c:s",
            "0x1000 4096 f",
            vec![("a", Int(0x1000)), ("b", Int(4096)), ("c", s("f"))],
        ),
        ("a:i,b:i.", "0x60", vec![("a", Int(0x60))]),
        ("a:i,b:i.", "0x60.1", vec![("a", Int(0x60)), ("b", Int(1))]),
        (
            "a:i,b:i.",
            "0x60 . 1",
            vec![("a", Int(0x60)), ("b", Int(1))],
        ),
        ("a:M", "2", vec![("a", Size(2 * M))]),
        ("a:M", "0x10", vec![("a", Size(16 * M))]),
        (
            "a:M",
            "9999999999999999",
            vec![("a", Size(9999999999999999u64.wrapping_mul(M)))],
        ),
        ("a:M?", "", vec![]),
        // o
        ("a:o", "1", vec![("a", Size(M))]),
        ("a:o", "1.5k", vec![("a", Size(1536))]),
        ("a:o", "4096B", vec![("a", Size(4096))]),
        ("a:o", "7E", vec![("a", Size(7 << 60))]),
        (
            "a:o",
            "9223372036854775807b",
            vec![("a", Size(i64::MAX as u64))],
        ),
        (
            "a:o,b:s",
            "1k rest",
            vec![("a", Size(1024)), ("b", s("rest"))],
        ),
        ("a:o?", "", vec![]),
        // T
        ("a:T", "1.5", vec![("a", Float(1.5))]),
        ("a:T", "10ms", vec![("a", Float(0.01))]),
        ("a:T", "5us", vec![("a", Float(5e-6))]),
        ("a:T", "7ns", vec![("a", Float(7e-9))]),
        ("a:T", "0x10", vec![("a", Float(16.0))]),
        ("a:T", "-2e1", vec![("a", Float(-20.0))]),
        ("a:T?", "", vec![]),
        // b
        ("a:b", "on", vec![("a", Bool(true))]),
        ("a:b", "  off  ", vec![("a", Bool(false))]),
        (
            "a:s,b:b",
            "xbzrle  on  ",
            vec![("a", s("xbzrle")), ("b", Bool(true))],
        ),
        ("a:b?", "", vec![]),
        // -x
        (
            "f:-f,d:B",
            "-f cd0",
            vec![("f", Flag(true)), ("d", s("cd0"))],
        ),
        ("f:-f,d:B", "cd0", vec![("f", Flag(false)), ("d", s("cd0"))]),
        // QEMU does not group options: -fx is -f, then the word x.
        ("f:-f,d:B", "-fx", vec![("f", Flag(true)), ("d", s("x"))]),
        (
            "f:-f,d:B",
            "-f\"x\"",
            vec![("f", Flag(true)), ("d", s("x"))],
        ),
        (
            "d:-d,b:-b,i:-i,r:-r,u:s",
            "-b -r uri",
            vec![
                ("d", Flag(false)),
                ("b", Flag(true)),
                ("i", Flag(false)),
                ("r", Flag(true)),
                ("u", s("uri")),
            ],
        ),
        ("a:-a,v:i?", "-a 1", vec![("a", Flag(true)), ("v", Int(1))]),
        // -xs
        (
            "f:F,t:-fs,d:s?",
            "x.png -f png",
            vec![("f", s("x.png")), ("t", s("png"))],
        ),
        (
            "f:F,t:-fs,d:s?",
            "x.png -fpng dev",
            vec![("f", s("x.png")), ("t", s("png")), ("d", s("dev"))],
        ),
        ("f:F,t:-fs,d:s?", "x.png", vec![("f", s("x.png"))]),
        (
            "p:s,w:s,d:-ds,c:s?",
            "vnc pw -d  \"a b\"",
            vec![("p", s("vnc")), ("w", s("pw")), ("d", s("a b"))],
        ),
        // An option of a later parameter found inside a name: QEMU skips
        // -n, then reads "-f" as the device.
        (
            "reuse:-n,device:B,snapshot-file:s?",
            "-f",
            vec![("reuse", Flag(false)), ("device", s("-f"))],
        ),
        // A lone "-" when a later parameter is an option.
        (
            "n:-n,v:-v,d:B?",
            "-v",
            vec![("n", Flag(false)), ("v", Flag(true))],
        ),
        // /
        (
            "f:/,a:l",
            "0",
            vec![("f", fmt(1, 'x', Some(4))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/16xb 0",
            vec![("f", fmt(16, 'x', Some(1))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            " / 0",
            vec![("f", fmt(1, 'x', Some(4))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/4xw 0",
            vec![("f", fmt(4, 'x', Some(4))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/2i 0",
            vec![("f", fmt(2, 'i', None)), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/2ib 0",
            vec![("f", fmt(2, 'i', Some(1))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/bxhdg 0",
            vec![("f", fmt(1, 'd', Some(8))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/L 0",
            vec![("f", fmt(1, 'x', Some(8))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/3 0",
            vec![("f", fmt(3, 'x', Some(4))), ("a", Int(0))],
        ),
        (
            "f:/,a:l",
            "/99999999999 1",
            vec![("f", fmt(1215752191, 'x', Some(4))), ("a", Int(1))],
        ),
        (
            "f:/,a:l",
            "/c 65",
            vec![("f", fmt(1, 'c', Some(4))), ("a", Int(65))],
        ),
        // O
        (
            "device:O",
            "e1000,id=n1,mac=52:54:00:12:34:56",
            vec![(
                "device",
                ArgValue::Opts(vec![
                    ("id".into(), "n1".into()),
                    ("driver".into(), "e1000".into()),
                    ("mac".into(), "52:54:00:12:34:56".into()),
                ]),
            )],
        ),
        (
            "netdev:O",
            "\"user,id=u1,hostfwd=tcp::22-:22\"",
            vec![(
                "netdev",
                ArgValue::Opts(vec![
                    ("id".into(), "u1".into()),
                    ("type".into(), "user".into()),
                    ("hostfwd".into(), "tcp::22-:22".into()),
                ]),
            )],
        ),
        ("device:O", "", vec![]),
        (
            "keys:O",
            "a=1,b",
            vec![(
                "keys",
                ArgValue::Opts(vec![("a".into(), "1".into()), ("b".into(), "on".into())]),
            )],
        ),
        // q
        (
            "a:q",
            "{\"x\": [1, 2]}",
            vec![("a", ArgValue::Json(json!({"x": [1, 2]})))],
        ),
        (
            "a:q,b:s",
            "\"s\" w",
            vec![("a", ArgValue::Json(json!("s"))), ("b", s("w"))],
        ),
        ("a:q?", "", vec![]),
        // A NUL ends the line, as in C.
        ("a:s", "x\0 y", vec![("a", s("x"))]),
    ];
    for (spec, line, want) in cases {
        let args = parse(spec, line).unwrap_or_else(|e| panic!("{spec:?} {line:?}: {e}"));
        let got: Vec<(&str, ArgValue)> = args.iter().map(|(n, v)| (n, v.clone())).collect();
        assert_eq!(got, want, "{spec:?} {line:?}");
    }
}
