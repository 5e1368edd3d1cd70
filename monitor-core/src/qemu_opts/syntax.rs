//! QEMU's `key=value,...` option syntax (`util/qemu-option.c`): an
//! implied first key, `,,` for a comma inside a value, short-form flags
//! (`server`, `nowait`), `id=` taken apart, and each value checked against
//! the option list's types.

use super::OptionError;

/// The type QEMU gives a key (`QEMU_OPT_BOOL`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    Bool,
    Number,
    Size,
    Str,
}

/// QEMU 7.2's `qemu_chardev_opts` (`chardev/char.c`, Linux build): every
/// key `-chardev` and the legacy specs accept, with its type. Which of
/// them this module uses, ignores or refuses is decided in `chardev.rs`.
pub(super) const CHARDEV_KEYS: &[(&str, Type)] = &[
    ("backend", Type::Str),
    ("path", Type::Str),
    ("host", Type::Str),
    ("port", Type::Str),
    ("fd", Type::Str),
    ("localaddr", Type::Str),
    ("localport", Type::Str),
    ("to", Type::Number),
    ("ipv4", Type::Bool),
    ("ipv6", Type::Bool),
    ("wait", Type::Bool),
    ("server", Type::Bool),
    ("delay", Type::Bool),
    ("nodelay", Type::Bool),
    ("reconnect", Type::Number),
    ("telnet", Type::Bool),
    ("tn3270", Type::Bool),
    ("tls-creds", Type::Str),
    ("tls-authz", Type::Str),
    ("websocket", Type::Bool),
    ("width", Type::Number),
    ("height", Type::Number),
    ("cols", Type::Number),
    ("rows", Type::Number),
    ("mux", Type::Bool),
    ("signal", Type::Bool),
    ("name", Type::Str),
    ("debug", Type::Number),
    ("size", Type::Size),
    ("chardev", Type::Str),
    ("append", Type::Bool),
    ("logfile", Type::Str),
    ("logappend", Type::Bool),
    ("mouse", Type::Bool),
    ("clipboard", Type::Bool),
    ("tight", Type::Bool),
    ("abstract", Type::Bool),
];

/// QEMU 7.2's `qemu_mon_opts` (`softmmu/vl.c`).
pub(super) const MON_KEYS: &[(&str, Type)] = &[
    ("mode", Type::Str),
    ("chardev", Type::Str),
    ("pretty", Type::Bool),
];

/// One parsed option value: its `id=` apart, the other keys in order
/// (a key given twice is there twice; the last one counts, as in QEMU).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Opts {
    pub(super) id: Option<String>,
    list: Vec<(String, String)>,
}

impl Opts {
    /// Empty options with this id.
    pub(super) fn with_id(id: Option<String>) -> Opts {
        Opts {
            id,
            list: Vec::new(),
        }
    }

    /// Sets a key (after whatever was set before).
    pub(super) fn set(&mut self, key: &str, value: &str) {
        self.list.push((key.to_owned(), value.to_owned()));
    }

    /// The last value given for `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.list
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean key, `default` when absent. Values were checked when
    /// parsed; one that was not (set by this module) counts as `default`.
    pub(super) fn flag(&self, key: &str, default: bool) -> bool {
        self.get(key).and_then(parse_bool).unwrap_or(default)
    }

    /// Parses `params` into these options (`opts_do_parse`): `firstname`
    /// names a first element without `=`; `id=` elements are skipped;
    /// each key is checked against `keys`. With `warn`, short-form flags
    /// add QEMU's deprecation warning to `warnings`.
    pub(super) fn parse(
        &mut self,
        option: &str,
        params: &str,
        mut firstname: Option<&str>,
        keys: &[(&str, Type)],
        warn: Option<&mut Vec<String>>,
    ) -> Result<(), OptionError> {
        let mut warnings = warn;
        let mut rest = params;
        while !rest.is_empty() {
            let (element, next) = element(rest, firstname);
            rest = next;
            firstname = None;
            if let (Some(prefix), Some(warnings)) = (element.flag, warnings.as_deref_mut()) {
                if !is_help(&element.name) {
                    warnings.push(flag_warning(option, prefix, &element.name, &element.value));
                }
            }
            if element.name == "id" {
                continue;
            }
            validate(option, &element.name, &element.value, keys)?;
            self.list.push((element.name, element.value));
        }
        Ok(())
    }
}

/// The first `id=` value of `params` (`opts_parse_id`: no implied first
/// key, so a leading `null` is a flag here, not an id).
pub(super) fn parse_id(params: &str) -> Option<String> {
    let mut rest = params;
    while !rest.is_empty() {
        let (element, next) = element(rest, None);
        if element.name == "id" {
            return Some(element.value);
        }
        rest = next;
    }
    None
}

/// QEMU's `id_wellformed`: a letter, then letters, digits, `-`, `.`, `_`.
pub(super) fn id_wellformed(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// QEMU's `qapi_bool_parse`.
pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "on" | "yes" | "true" | "y" => Some(true),
        "off" | "no" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// One element of a list: a key and its value, and, for a short-form
/// flag, the prefix it was written with (`""` or `"no"`).
struct Element {
    name: String,
    value: String,
    flag: Option<&'static str>,
}

/// QEMU's `get_opt_name_value`: one element and the rest after its comma.
fn element<'a>(params: &'a str, firstname: Option<&str>) -> (Element, &'a str) {
    let len = params.find(['=', ',']).unwrap_or(params.len());
    let (element, rest) = if params[len..].starts_with('=') {
        let (value, rest) = value(&params[len + 1..]);
        let name = params[..len].to_owned();
        (
            Element {
                name,
                value,
                flag: None,
            },
            rest,
        )
    } else if let Some(first) = firstname {
        let (value, rest) = value(params);
        let name = first.to_owned();
        (
            Element {
                name,
                value,
                flag: None,
            },
            rest,
        )
    } else {
        let name = &params[..len];
        let element = match name.strip_prefix("no") {
            Some(name) => Element {
                name: name.to_owned(),
                value: "off".to_owned(),
                flag: Some("no"),
            },
            None => Element {
                name: name.to_owned(),
                value: "on".to_owned(),
                flag: Some(""),
            },
        };
        (element, &params[len..])
    };
    (element, rest.strip_prefix(',').unwrap_or(rest))
}

/// QEMU's `get_opt_value`: up to a single comma; `,,` is a comma.
fn value(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut rest = s;
    loop {
        match rest.find(',') {
            None => {
                value.push_str(rest);
                return (value, "");
            }
            Some(i) if rest[i + 1..].starts_with(',') => {
                value.push_str(&rest[..=i]);
                rest = &rest[i + 2..];
            }
            Some(i) => {
                value.push_str(&rest[..i]);
                return (value, &rest[i..]);
            }
        }
    }
}

fn is_help(name: &str) -> bool {
    name == "help" || name == "?"
}

/// QEMU's warning (two lines) for a short-form flag.
fn flag_warning(option: &str, prefix: &str, name: &str, value: &str) -> String {
    let advice = if name == "delay" {
        // QEMU's special case: the flag `delay` is `nodelay=off`.
        format!("nodelay={}", if prefix.is_empty() { "off" } else { "on" })
    } else {
        format!("{name}={value}")
    };
    format!(
        "{option}: warning: short-form boolean option '{prefix}{name}' deprecated\n\
         Please use {advice} instead"
    )
}

/// QEMU's `opt_validate`: the key must be listed; its value must parse
/// as the key's type.
fn validate(
    option: &str,
    name: &str,
    value: &str,
    keys: &[(&str, Type)],
) -> Result<(), OptionError> {
    let Some(&(_, ty)) = keys.iter().find(|(k, _)| *k == name) else {
        return Err(OptionError::InvalidParameter {
            option: option.to_owned(),
            name: name.to_owned(),
        });
    };
    let option = || option.to_owned();
    let name = || name.to_owned();
    match ty {
        Type::Str => Ok(()),
        Type::Bool => parse_bool(value)
            .map(drop)
            .ok_or_else(|| OptionError::ExpectsBool {
                option: option(),
                name: name(),
            }),
        Type::Number => match strtou64(value) {
            Ok(_) => Ok(()),
            Err(Overflow) => Err(OptionError::TooLarge {
                option: option(),
                name: name(),
                value: value.to_owned(),
            }),
            Err(Invalid) => Err(OptionError::ExpectsNumber {
                option: option(),
                name: name(),
            }),
        },
        Type::Size if is_size(value) => Ok(()),
        Type::Size => Err(OptionError::ExpectsSize {
            option: option(),
            name: name(),
        }),
    }
}

/// Why a number does not parse.
#[derive(Debug, PartialEq, Eq)]
enum NumberError {
    Invalid,
    Overflow,
}
use NumberError::{Invalid, Overflow};

/// QEMU's `qemu_strtou64(value, NULL, 0, ...)`: C `strtoull` with base 0
/// (leading space, a sign, `0x` hex, `0` octal), the whole string.
fn strtou64(value: &str) -> Result<u64, NumberError> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (16, hex)
    } else if s.len() > 1 && s.starts_with('0') {
        (8, &s[1..])
    } else {
        (10, s)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(Invalid);
    }
    let n = u64::from_str_radix(digits, radix).map_err(|_| Overflow)?;
    Ok(if negative { n.wrapping_neg() } else { n })
}

/// QEMU's `qemu_strtosz`, approximately: a decimal number (with an
/// optional fraction) or a `0x` hex integer, then an optional suffix.
fn is_size(value: &str) -> bool {
    let number = value.trim_end_matches([
        'b', 'B', 'k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P', 'e', 'E',
    ]);
    if value.len() - number.len() > 1 {
        return false;
    }
    if let Some(hex) = number
        .strip_prefix("0x")
        .or_else(|| number.strip_prefix("0X"))
    {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && fraction.chars().all(|c| c.is_ascii_digit())
}

/// QEMU's `qemu_strtoi(value, NULL, 10, ...)` for `fd=`: the number, or
/// whether the failure was out of range (QEMU then adds strerror(ERANGE)).
pub(super) fn strtoi(value: &str) -> Result<i32, bool> {
    let s = value.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let digits = &body[..end];
    if digits.is_empty() {
        return Err(false);
    }
    // strtoll saturates; anything past i32 is ERANGE, reported even when
    // characters follow the digits (errno is what QEMU prints).
    let magnitude: i64 = digits.parse().unwrap_or(i64::MAX);
    let n = if negative { -magnitude } else { magnitude };
    let n = i32::try_from(n).map_err(|_| true)?;
    if end != body.len() {
        return Err(false);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(params: &str, firstname: Option<&str>) -> Result<Opts, OptionError> {
        let mut opts = Opts::with_id(parse_id(params));
        opts.parse("-x", params, firstname, CHARDEV_KEYS, None)?;
        Ok(opts)
    }

    #[test]
    fn commas_are_doubled_inside_values() {
        let opts = parse("socket,path=/tmp/a,,b,,,server=on", Some("backend")).unwrap();
        assert_eq!(opts.get("path"), Some("/tmp/a,b,"));
        assert_eq!(opts.get("backend"), Some("socket"));
        assert!(opts.flag("server", false));
        // The implied key takes the doubled comma too; the id is looked
        // for without an implied key, so QEMU finds `id=a` there as well.
        let opts = parse("null,,id=a", Some("backend")).unwrap();
        assert_eq!(opts.get("backend"), Some("null,id=a"));
        assert_eq!(opts.id.as_deref(), Some("a"));
    }

    #[test]
    fn the_first_id_counts_and_later_keys_win() {
        let opts = parse("null,id=a,id=b,backend=file,backend=pty", Some("backend")).unwrap();
        assert_eq!(opts.id.as_deref(), Some("a"));
        assert_eq!(opts.get("backend"), Some("pty"));
    }

    #[test]
    fn flags_and_their_warnings() {
        let mut warnings = Vec::new();
        let mut opts = Opts::default();
        opts.parse(
            "-o",
            "nowait,server,delay,nodelay",
            None,
            CHARDEV_KEYS,
            Some(&mut warnings),
        )
        .unwrap();
        assert!(!opts.flag("wait", true));
        assert!(opts.flag("server", false));
        // `nodelay` as a flag is delay=off, as in QEMU.
        assert!(!opts.flag("delay", true));
        assert_eq!(
            warnings,
            [
                "-o: warning: short-form boolean option 'nowait' deprecated\nPlease use wait=off instead",
                "-o: warning: short-form boolean option 'server' deprecated\nPlease use server=on instead",
                "-o: warning: short-form boolean option 'delay' deprecated\nPlease use nodelay=off instead",
                "-o: warning: short-form boolean option 'nodelay' deprecated\nPlease use nodelay=on instead",
            ]
        );
    }

    #[test]
    fn empty_elements() {
        // A trailing comma is nothing; `=x` is a key with no name.
        assert!(parse("null,id=a,", Some("backend")).is_ok());
        assert_eq!(
            parse("null,id=a,=x", Some("backend"))
                .unwrap_err()
                .to_string(),
            "-x: Invalid parameter ''"
        );
    }

    #[test]
    fn numbers_as_strtoull_reads_them() {
        assert_eq!(strtou64("10"), Ok(10));
        assert_eq!(strtou64("0x10"), Ok(16));
        assert_eq!(strtou64("010"), Ok(8));
        assert_eq!(strtou64(" 5"), Ok(5));
        assert_eq!(strtou64("-1"), Ok(u64::MAX));
        assert_eq!(strtou64("0"), Ok(0));
        assert_eq!(strtou64(""), Err(Invalid));
        assert_eq!(strtou64("1x"), Err(Invalid));
        assert_eq!(strtou64("08"), Err(Invalid));
        assert_eq!(strtou64("99999999999999999999999"), Err(Overflow));
    }

    #[test]
    fn sizes() {
        for ok in ["0", "1.5k", "4G", "0x10", "12B"] {
            assert!(is_size(ok), "{ok}");
        }
        for bad in ["", "-1", "k", "1kk", "1.", "zz", "0x"] {
            assert!(!is_size(bad), "{bad}");
        }
    }

    #[test]
    fn fd_numbers_as_strtoi_reads_them() {
        assert_eq!(strtoi("25"), Ok(25));
        assert_eq!(strtoi("+3"), Ok(3));
        assert_eq!(strtoi("-1"), Ok(-1));
        assert_eq!(strtoi(""), Err(false));
        assert_eq!(strtoi("abc"), Err(false));
        assert_eq!(strtoi(" 3x"), Err(false));
        assert_eq!(strtoi("99999999999"), Err(true));
        assert_eq!(strtoi("99999999999x"), Err(true));
        assert_eq!(strtoi("999999999999999999999999"), Err(true));
    }

    #[test]
    fn identifiers() {
        assert!(id_wellformed("charmonitor"));
        assert!(id_wellformed("a.b-c_1"));
        assert!(!id_wellformed(""));
        assert!(!id_wellformed("1a"));
        assert!(!id_wellformed("a,b"));
        assert!(!id_wellformed("é"));
    }
}
