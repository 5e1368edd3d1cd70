//! `QemuOpts` strings, as QEMU 7.2's `qemu_opts_parse_noisily` reads the
//! value of an `O` parameter: `driver,id=x,prop=value,flag,noflag`, with
//! `,,` for a literal comma in a value.
//!
//! The lists `O` parameters name in QEMU (`device`, `netdev`) accept any
//! option, so nothing but `id` is validated here; `help` is not special for
//! them either.

use super::error::OptsError;

/// The option name a bare first element stands for, per `QemuOptsList`.
pub(crate) fn implied_name(list: &str) -> Option<&'static str> {
    match list {
        "device" => Some("driver"),
        "netdev" => Some("type"),
        "object" => Some("qom-type"),
        "chardev" => Some("backend"),
        _ => None,
    }
}

/// One `name=value` element, and where the next one starts.
struct Element {
    name: String,
    value: String,
    /// `Some(prefix)` when the element was a bare flag (`flag`/`noflag`).
    flag_prefix: Option<&'static str>,
    next: usize,
}

/// A value up to a single `,` (`,,` is a literal comma); returns the value
/// and the index of the `,` or of the end.
fn get_opt_value(s: &str, mut i: usize) -> (String, usize) {
    let b = s.as_bytes();
    let mut value = String::new();
    loop {
        let comma = s[i..].find(',').map_or(s.len(), |n| i + n);
        value.push_str(&s[i..comma]);
        if comma < s.len() && b.get(comma + 1) == Some(&b',') {
            value.push(',');
            i = comma + 2;
        } else {
            return (value, comma);
        }
    }
}

/// QEMU's `get_opt_name_value`.
fn get_opt_name_value(s: &str, i: usize, firstname: Option<&str>) -> Element {
    let len = s[i..].find(['=', ',']).unwrap_or(s.len() - i);
    let (name, value, flag_prefix, mut p) = if s.as_bytes().get(i + len) != Some(&b'=') {
        if let Some(first) = firstname {
            let (value, p) = get_opt_value(s, i);
            (first.to_owned(), value, None, p)
        } else {
            let raw = &s[i..i + len];
            match raw.strip_prefix("no") {
                Some(rest) => (rest.to_owned(), "off".to_owned(), Some("no"), i + len),
                None => (raw.to_owned(), "on".to_owned(), Some(""), i + len),
            }
        }
    } else {
        let (value, p) = get_opt_value(s, i + len + 1);
        (s[i..i + len].to_owned(), value, None, p)
    };
    if s.as_bytes().get(p) == Some(&b',') {
        p += 1;
    }
    Element {
        name,
        value,
        flag_prefix,
        next: p,
    }
}

/// QEMU's `id_wellformed`.
fn id_wellformed(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The deprecation warning QEMU 7.2 prints for a short-form boolean.
fn flag_warning(prefix: &str, name: &str, value: &str) -> String {
    let advice = if name == "delay" {
        let on = if prefix.is_empty() { "off" } else { "on" };
        format!("Please use nodelay={on} instead")
    } else {
        format!("Please use {name}={value} instead")
    };
    format!("short-form boolean option '{prefix}{name}' deprecated\n{advice}")
}

/// A `QemuOpts` string, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// The options in the order QEMU's `qemu_opts_to_qdict` puts them:
    /// `id` first, then the others as written, later duplicates kept.
    pub options: Vec<(String, String)>,
    /// The warnings QEMU prints on stderr.
    pub warnings: Vec<String>,
}

/// Reads `params`; `implied` names a bare first element.
pub(crate) fn parse(params: &str, implied: Option<&str>) -> Result<Parsed, OptsError> {
    // First pass (`opts_parse_id`): the first `id`, with no implied name.
    let mut id = None;
    let mut i = 0;
    while i < params.len() {
        let e = get_opt_name_value(params, i, None);
        if e.name == "id" {
            id = Some(e.value);
            break;
        }
        i = e.next;
    }
    if id.as_deref().is_some_and(|id| !id_wellformed(id)) {
        return Err(OptsError::BadId);
    }
    let mut opts: Vec<(String, String)> =
        id.map(|id| vec![("id".to_owned(), id)]).unwrap_or_default();
    let mut warnings = Vec::new();
    let mut firstname = implied;
    let mut i = 0;
    while i < params.len() {
        let e = get_opt_name_value(params, i, firstname);
        firstname = None;
        i = e.next;
        if let Some(prefix) = e.flag_prefix {
            let is_help = prefix.is_empty() && (e.name == "help" || e.name == "?");
            if !is_help {
                warnings.push(flag_warning(prefix, &e.name, &e.value));
            }
        }
        if e.name != "id" {
            opts.push((e.name, e.value));
        }
    }
    Ok(Parsed {
        options: opts,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn elements_split_like_qemu() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a [(&'a str, &'a str)]);
        let cases: &[Case<'_>] = &[
            ("e1000", Some("driver"), &[("driver", "e1000")]),
            (
                "e1000,id=n1,mac=x",
                Some("driver"),
                &[("id", "n1"), ("driver", "e1000"), ("mac", "x")],
            ),
            ("e1000,,x", Some("driver"), &[("driver", "e1000,x")]),
            (
                "e1000,a=b,,c,d=e",
                Some("driver"),
                &[("driver", "e1000"), ("a", "b,c"), ("d", "e")],
            ),
            (",", Some("driver"), &[("driver", "")]),
            ("=x", Some("driver"), &[("", "x")]),
            (
                "e1000,=v",
                Some("driver"),
                &[("driver", "e1000"), ("", "v")],
            ),
            ("id=a,id=b", Some("driver"), &[("id", "a")]),
            ("user,id=n", Some("type"), &[("id", "n"), ("type", "user")]),
            (
                "a=1,flag,noflag,help",
                None,
                &[("a", "1"), ("flag", "on"), ("flag", "off"), ("help", "on")],
            ),
            ("e1000,", Some("driver"), &[("driver", "e1000")]),
            ("a=1,,", None, &[("a", "1,")]),
        ];
        for &(input, implied, want) in cases {
            assert_eq!(
                parse(input, implied).map(|r| r.options),
                Ok(pairs(want)),
                "{input:?}"
            );
        }
    }

    #[test]
    fn a_bare_id_first_names_the_options_on() {
        // opts_parse_id reads the bare word as the flag id=on.
        assert_eq!(
            parse("id", Some("driver")).map(|r| r.options),
            Ok(pairs(&[("id", "on"), ("driver", "id")]))
        );
    }

    #[test]
    fn ids_must_be_identifiers() {
        for bad in ["1x", "", "a b", "a+b", "_a"] {
            assert_eq!(
                parse(&format!("e1000,id={bad}"), Some("driver")),
                Err(OptsError::BadId),
                "{bad:?}"
            );
        }
        assert!(parse("e1000,id=a-b.c_d9", Some("driver")).is_ok());
    }

    #[test]
    fn short_form_booleans_warn_like_qemu() {
        let warnings = parse(
            "e1000,flag,noflag,delay,nodelay,help,?,nohelp",
            Some("driver"),
        )
        .unwrap()
        .warnings;
        assert_eq!(
            warnings,
            [
                "short-form boolean option 'flag' deprecated\nPlease use flag=on instead",
                "short-form boolean option 'noflag' deprecated\nPlease use flag=off instead",
                "short-form boolean option 'delay' deprecated\nPlease use nodelay=off instead",
                "short-form boolean option 'nodelay' deprecated\nPlease use nodelay=on instead",
                "short-form boolean option 'nohelp' deprecated\nPlease use help=off instead",
            ]
        );
    }
}
