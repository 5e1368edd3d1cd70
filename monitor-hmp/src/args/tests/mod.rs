//! Table-driven tests of [`ArgsType::parse_line`]: every type code and
//! every error path, with QEMU 7.2's observed messages.

use serde_json::json;

use super::*;

mod invalid;
mod valid;

/// x86 registers, enough for the tests.
pub(super) fn cpu(name: &str) -> Option<i64> {
    match name {
        "pc" => Some(0xfff0),
        "eax" => Some(7),
        _ => None,
    }
}

pub(super) fn parse(spec: &str, line: &str) -> Result<Args, ArgError> {
    ArgsType::parse(spec)
        .unwrap_or_else(|e| panic!("{spec:?}: {e}"))
        .parse_line("cmd", line, &cpu)
}

pub(super) fn s(v: &str) -> ArgValue {
    ArgValue::Str(v.to_owned())
}

/// `(spec, line, expected arguments)`.
pub(super) type OkCase = (&'static str, &'static str, Vec<(&'static str, ArgValue)>);

#[test]
fn format_defaults_carry_over_like_qemu() {
    let x = ArgsType::parse("fmt:/,addr:l").unwrap();
    let mut d = FormatDefaults::default();
    let mut fmt = |line: &str| {
        x.parse_line_with("x", line, &NoCpu, &mut d)
            .map(|a| a.format("fmt").unwrap_or_else(|| panic!("{line}")))
    };
    let f = |count, format, size| Format {
        count,
        format,
        size,
    };
    assert_eq!(fmt("0"), Ok(f(1, 'x', Some(4))));
    assert_eq!(fmt("/b 0"), Ok(f(1, 'x', Some(1))));
    assert_eq!(fmt("0"), Ok(f(1, 'x', Some(1))));
    assert_eq!(fmt("/d 0"), Ok(f(1, 'd', Some(1))));
    assert_eq!(fmt("/3i 0"), Ok(f(3, 'i', None)));
    // A plain `x` now disassembles, as `x $pc` did in QEMU after `x/3i`.
    assert_eq!(fmt("0"), Ok(f(1, 'i', None)));
    // `i` left the size alone.
    assert_eq!(fmt("/x 0"), Ok(f(1, 'x', Some(1))));
    // A valid /fmt counts even if the address then fails.
    assert!(fmt("/g zz").is_err());
    assert_eq!(fmt("0"), Ok(f(1, 'x', Some(8))));
    // An invalid one changes nothing.
    assert!(fmt("/cq 0").is_err());
    assert_eq!(fmt("0"), Ok(f(1, 'x', Some(8))));
    assert_eq!(d.format(), 'x');
    assert_eq!(d.size(), 8);
}

#[test]
fn qdict_matches_qemus_dictionary() {
    let spec = ArgsType::parse("f:-f,g:-g,n:-ns,fmt:/,a:l,m:M,device:O,b:b,t:T,q:q").unwrap();
    let args = spec
        .parse_line("cmd", "-f /2ib 5 1 e1000,id=d0 on 1ms [1]", &NoCpu)
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(args.to_qdict()),
        json!({
            "f": true, "count": 2, "format": 105, "size": 1, "a": 5,
            "m": 1048576, "id": "d0", "driver": "e1000", "b": true, "t": 0.001, "q": [1]
        })
    );
    let args = ArgsType::parse("fmt:/")
        .unwrap()
        .parse_line("x", "/i", &NoCpu)
        .unwrap();
    assert_eq!(args.to_qdict()["size"], json!(-1));
}

#[test]
fn accessors_read_their_own_kind_only() {
    let spec = ArgsType::parse("f:-f,s:s,i:i,o:o,b:b,fmt:/").unwrap();
    let args = spec.parse_line("cmd", "-f w 3 1k off", &NoCpu).unwrap();
    assert!(args.flag("f"));
    assert_eq!(args.str("s"), Some("w"));
    assert_eq!(args.int("i"), Some(3));
    assert_eq!(args.size("o"), Some(1024));
    assert_eq!(args.bool("b"), Some(false));
    assert!(args.format("fmt").is_some());
    assert_eq!(
        (args.str("i"), args.int("s"), args.size("b"), args.bool("o")),
        (None, None, None, None)
    );
    assert_eq!(
        (args.format("s"), args.flag("s"), args.flag("zz")),
        (None, false, false)
    );
    assert!(args.contains("s") && !args.contains("zz"));
    assert_eq!((args.len(), args.is_empty()), (6, false));
    assert!(Args::default().is_empty());
}

#[test]
fn warnings_are_collected_not_fatal() {
    let args = parse("device:O", "e1000,noflag").unwrap();
    assert_eq!(
        args.warnings(),
        ["short-form boolean option 'noflag' deprecated\nPlease use flag=off instead"]
    );
    let args = parse("a:o", "0x10k").unwrap();
    assert_eq!(
        args.warnings(),
        ["Using a multiplier suffix on hex numbers is deprecated: 0x10k"]
    );
}

#[test]
fn strings_are_cut_to_qemus_buffer() {
    let long = "y".repeat(3000);
    let args = parse("a:s,b:S", &format!("{long} {long}")).unwrap();
    assert_eq!(args.str("a").map(str::len), Some(1023));
    // S is not copied through the buffer.
    assert_eq!(args.str("b").map(str::len), Some(3000));
}

#[test]
fn odd_input_never_panics() {
    let specs = [
        "fmt:/,addr:l",
        "f:-f,d:-ds,s:s?,S:S?",
        "a:i,b:i.,c:M?,d:o?,e:T?,f:b?",
        "device:O,q:q?",
    ];
    let lines = [
        "",
        "-",
        "--",
        "/",
        "//",
        "\"",
        "\\",
        "'",
        "$",
        "(",
        ")",
        "é",
        "-é",
        "/é",
        "\"é\\é\"",
        "0x",
        "1.",
        ".",
        "1e",
        "0x1p",
        "1.5e",
        "\u{0}",
        "\u{b}1",
        "/99999999999999999999",
        "$a.b_c9(",
        "'é'",
        "1.9999999999999999999999b",
        "nan(x",
        "e1000,,,=,,id=a,",
    ];
    for spec in specs {
        let spec = ArgsType::parse(spec).unwrap();
        for a in lines {
            for b in lines {
                let line = format!("{a} {b}{a}");
                let _ = spec.parse_line("cmd", &line, &cpu);
            }
        }
    }
}
