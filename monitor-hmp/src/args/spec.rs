//! [`ArgsType`]: an `args_type` string such as `"force:-f,device:B"`,
//! parsed once into its parameters.

use std::fmt;
use std::str::FromStr;

use super::error::SpecError;

/// What a parameter's type code asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParamKind {
    /// `s`: a word, or a double-quoted string with `\n \r \\ \' \"`.
    Word,
    /// `S`: the rest of the line, verbatim.
    Rest,
    /// `F`: a file name (read as `s`).
    Filename,
    /// `B`: a block device name (read as `s`).
    BlockDevice,
    /// `i`: an expression whose value fits in 32 bits (unsigned).
    Int32,
    /// `l`: a 64-bit expression.
    Int64,
    /// `M`: an expression counted in MiB, stored in bytes.
    SizeMiB,
    /// `o`: a size with an optional `B K M G T P E` suffix (default MiB).
    Size,
    /// `T`: seconds as a float, with an optional `ms`, `us` or `ns`.
    Seconds,
    /// `b`: `on` or `off`.
    Bool,
    /// `-x`: the option `-x`; with `value`, `-xs` takes a string after it.
    Flag {
        /// The option letter.
        letter: char,
        /// Whether a string follows the option.
        value: bool,
    },
    /// `O`: a `QemuOpts` string (`driver,id=x,prop=value`); the
    /// parameter's name is the options list. A bare first word stands for
    /// `driver` (list `device`), `type` (`netdev`), `qom-type` (`object`)
    /// or `backend` (`chardev`); in other lists it is a flag (`name=on`).
    /// QEMU 7.2 itself only has `device:O` and `netdev:O`, and answers
    /// `unknown type 'O'` for other names; any name is accepted here.
    Opts,
    /// `q`: a JSON value. QEMU 7.2's HMP has no `q` (its QMP tables of the
    /// 1.x era did); this is an extension.
    Json,
    /// `/`: the `/fmt` of `x`, `xp`, `print`: count, format, size.
    Format,
}

/// Whether a parameter may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// Must be given (flags, `O` and `/` are optional by nature anyway).
    Required,
    /// `?`: may be left out at the end of the line.
    Optional,
    /// `.` (only `i`, `l`, `M`): present only when the next character is
    /// a `.`, as in `i 0x60.1`.
    Dotted,
}

/// One parameter of an [`ArgsType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    name: String,
    kind: ParamKind,
    presence: Presence,
    /// Byte offset in the spec right after a flag's letter; QEMU looks for
    /// later options with a plain substring search from there.
    pub(crate) tail: usize,
}

impl Param {
    /// The name (the key of the value in [`Args`](super::Args)).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type.
    pub fn kind(&self) -> ParamKind {
        self.kind
    }

    /// `?`, `.` or neither.
    pub fn presence(&self) -> Presence {
        self.presence
    }

    /// Whether the parameter may be absent from a valid line.
    pub fn is_optional(&self) -> bool {
        self.presence != Presence::Required
            || matches!(
                self.kind,
                ParamKind::Flag { .. } | ParamKind::Opts | ParamKind::Format
            )
    }
}

impl fmt::Display for Param {
    /// The parameter as written in an `args_type` string: `force:-f`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.name)?;
        match self.kind {
            ParamKind::Flag { letter, value } => {
                write!(f, "-{letter}{}", if value { "s" } else { "" })?;
            }
            kind => {
                let code = match kind {
                    ParamKind::Word => 's',
                    ParamKind::Rest => 'S',
                    ParamKind::Filename => 'F',
                    ParamKind::BlockDevice => 'B',
                    ParamKind::Int32 => 'i',
                    ParamKind::Int64 => 'l',
                    ParamKind::SizeMiB => 'M',
                    ParamKind::Size => 'o',
                    ParamKind::Seconds => 'T',
                    ParamKind::Bool => 'b',
                    ParamKind::Opts => 'O',
                    ParamKind::Json => 'q',
                    ParamKind::Format | ParamKind::Flag { .. } => '/',
                };
                write!(f, "{code}")?;
            }
        }
        match self.presence {
            Presence::Required => Ok(()),
            Presence::Optional => f.write_str("?"),
            Presence::Dotted => f.write_str("."),
        }
    }
}

/// A command's `args_type`: the parameters its HMP line takes, in order.
///
/// Parse it once with [`ArgsType::parse`]; match lines with
/// [`parse_line`](ArgsType::parse_line).
///
/// # Examples
///
/// ```
/// use monitor_hmp::args::{ArgsType, ParamKind, Presence};
///
/// let spec = ArgsType::parse("force:-f,device:B,speed:o?").unwrap();
/// let names: Vec<_> = spec.params().iter().map(|p| p.name()).collect();
/// assert_eq!(names, ["force", "device", "speed"]);
/// assert_eq!(spec.params()[0].kind(), ParamKind::Flag { letter: 'f', value: false });
/// assert_eq!(spec.params()[2].presence(), Presence::Optional);
/// assert_eq!(spec.to_string(), "force:-f,device:B,speed:o?");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsType {
    spec: String,
    params: Vec<Param>,
}

impl ArgsType {
    /// Parses an `args_type` string: `name:type` pairs separated by `,`
    /// (a trailing `,` is allowed, `""` means no arguments).
    ///
    /// Types: `s S F B i l M o T b O q /` and `-x` / `-xs`. Modifiers: `?`
    /// (optional) after `s S F B i l M o T q b`, `.` after `i l M`.
    /// QEMU's HMP ignores `?` after `b`; the 1.x QMP tables used it, so it
    /// is accepted here and means optional.
    ///
    /// QEMU reads these strings leniently (a missing `:` ends the list);
    /// this parser rejects anything QEMU's tables would not contain.
    ///
    /// # Errors
    ///
    /// [`SpecError`] with the byte offset of the problem.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_hmp::args::{ArgsType, SpecError};
    ///
    /// assert_eq!(ArgsType::parse("val:l,size:i,filename:s").unwrap().params().len(), 3);
    /// assert_eq!(
    ///     ArgsType::parse("a:s,b:z"),
    ///     Err(SpecError::UnknownType { code: 'z', offset: 6 })
    /// );
    /// ```
    pub fn parse(spec: &str) -> Result<ArgsType, SpecError> {
        let b = spec.as_bytes();
        let mut params: Vec<Param> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            let colon = spec[i..]
                .find([':', ','])
                .map(|n| i + n)
                .filter(|&n| b[n] == b':')
                .ok_or(SpecError::MissingColon { offset: start })?;
            if colon == start {
                return Err(SpecError::EmptyName { offset: start });
            }
            let name = &spec[start..colon];
            i = colon + 1;
            let code = spec[i..]
                .chars()
                .next()
                .filter(|&c| c != ',')
                .ok_or(SpecError::MissingType { offset: i })?;
            let mut tail = 0;
            let kind = match code {
                's' => ParamKind::Word,
                'S' => ParamKind::Rest,
                'F' => ParamKind::Filename,
                'B' => ParamKind::BlockDevice,
                'i' => ParamKind::Int32,
                'l' => ParamKind::Int64,
                'M' => ParamKind::SizeMiB,
                'o' => ParamKind::Size,
                'T' => ParamKind::Seconds,
                'b' => ParamKind::Bool,
                'O' => ParamKind::Opts,
                'q' => ParamKind::Json,
                '/' => ParamKind::Format,
                '-' => {
                    let letter = b.get(i + 1).copied().filter(u8::is_ascii_alphanumeric);
                    let letter = letter.ok_or(SpecError::BadOptionLetter { offset: i + 1 })?;
                    i += 1;
                    tail = i + 1;
                    let value = b.get(i + 1) == Some(&b's');
                    if value {
                        i += 1;
                    }
                    ParamKind::Flag {
                        letter: char::from(letter),
                        value,
                    }
                }
                code => return Err(SpecError::UnknownType { code, offset: i }),
            };
            i += 1;
            let presence = match (b.get(i), kind) {
                (
                    Some(b'?'),
                    ParamKind::Word
                    | ParamKind::Rest
                    | ParamKind::Filename
                    | ParamKind::BlockDevice
                    | ParamKind::Int32
                    | ParamKind::Int64
                    | ParamKind::SizeMiB
                    | ParamKind::Size
                    | ParamKind::Seconds
                    | ParamKind::Bool
                    | ParamKind::Json,
                ) => Presence::Optional,
                (Some(b'.'), ParamKind::Int32 | ParamKind::Int64 | ParamKind::SizeMiB) => {
                    Presence::Dotted
                }
                _ => Presence::Required,
            };
            if presence != Presence::Required {
                i += 1;
            }
            match spec[i..].chars().next() {
                None => {}
                Some(',') => i += 1,
                Some(found) => return Err(SpecError::Unexpected { found, offset: i }),
            }
            if params.iter().any(|p| p.name == name) {
                return Err(SpecError::Duplicate {
                    name: name.to_owned(),
                });
            }
            params.push(Param {
                name: name.to_owned(),
                kind,
                presence,
                tail,
            });
        }
        Ok(ArgsType {
            spec: spec.to_owned(),
            params,
        })
    }

    /// The parameters, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The string this was parsed from.
    pub fn as_str(&self) -> &str {
        &self.spec
    }

    /// QEMU's `is_valid_option`: whether `-c` (`c` the byte after `-` on
    /// the line, NUL at the end) occurs in the spec after `param`'s letter.
    pub(crate) fn later_option(&self, param: &Param, c: u8) -> bool {
        let rest = &self.spec.as_bytes()[param.tail.min(self.spec.len())..];
        if c == 0 {
            rest.contains(&b'-')
        } else {
            rest.windows(2).any(|w| w == [b'-', c])
        }
    }
}

impl fmt::Display for ArgsType {
    /// The original `args_type` string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

impl FromStr for ArgsType {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArgsType::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every distinct `args_type` of QEMU 7.2's `hmp-commands.hx` and
    /// `hmp-commands-info.hx` (read out of the 7.2 binary), plus those of
    /// the 0.13-1.x `qmp-commands.hx` seeds.
    const REAL: &[&str] = &[
        "",
        "name:S?",
        "device:B",
        "device:B,size:o",
        "device:B,speed:o?,base:s?",
        "device:B,speed:o",
        "force:-f,device:B",
        "id:B",
        "device:B,force:-f,target:F,arg:s?,read-only-mode:s?",
        "filename:F,format:-fs,device:s?,head:i?",
        "filename:F",
        "name:s,option:b,vcpu:i?",
        "items:s",
        "name:s?",
        "name:s",
        "option:s?",
        "device:s?",
        "fmt:/,addr:l",
        "addr:l",
        "fmt:/,val:l",
        "fmt:/,addr:i,index:i.",
        "fmt:/,addr:i,val:i",
        "keys:s,hold-time:i?",
        "op:s?",
        "start:i,size:i",
        "device:O",
        "id:s",
        "index:i",
        "dx_str:s,dy_str:s,dz_str:s?",
        "button_state:i",
        "path:F,audiodev:s,freq:i?,bits:i?,nchannels:i?",
        "n:i",
        "val:l,size:i,filename:s",
        "bootdevice:s",
        "device:s,data:s",
        "device:s,size:i",
        "interfaces:s?,id:s?",
        "detach:-d,blk:-b,inc:-i,resume:-r,uri:s",
        "state:s",
        "uri:s",
        "capability:s,state:b",
        "parameter:s,value:s",
        "protocol:s,hostname:s,port:i?,tls-port:i?,cert-subject:s?",
        "paging:-p,detach:-d,windmp:-w,zlib:-z,lzo:-l,snappy:-s,filename:F,begin:l?,length:l?",
        "reuse:-n,device:B,snapshot-file:s?,format:s?",
        "device:B,name:s",
        "device:B,name:s,id:s?",
        "reuse:-n,full:-f,device:B,target:s,format:s?",
        "reuse:-n,full:-f,compress:-c,device:B,target:s,format:s?",
        "node:-n,pci_addr:s,opts:s",
        "advisory_non_fatal:-a,correctable:-c,id:s,error_status:s,header0:i?,header1:i?,header2:i?,header3:i?,prefix0:i?,prefix1:i?,prefix2:i?,prefix3:i?",
        "netdev:O",
        "object:S",
        "arg1:s,arg2:s?",
        "value:M",
        "name:s,up:b",
        "action:s",
        "all:-a,writable:-w,uri:s",
        "writable:-w,device:B,name:s?",
        "force:-f,name:s",
        "broadcast:-b,cpu_index:i,bank:i,status:l,mcg_status:l,addr:l,misc:l",
        "fdname:s",
        "device:B,bps:l,bps_rd:l,bps_wr:l,iops:l,iops_rd:l,iops_wr:l",
        "protocol:s,password:s,display:-ds,connected:s?",
        "protocol:s,time:s,display:-ds",
        "args:s",
        "id:s,args:s",
        "qdev:-d,device:B,command:s",
        "path:s?",
        "path:s,property:s",
        "json:-j,path:s,property:s,value:S",
        "icount:l",
        "dirty_ring:-r,dirty_bitmap:-b,second:l,sample_pages_per_GB:l?",
        "dirty_rate:l,cpu_index:l?",
        "cpu_index:l?",
        "item:s?",
        "nodes:-n,verbose:-v,device:B?",
        "cpustate_all:-a,vcpu:i?",
        "apic-id:i?",
        "flatview:-f,dispatch_tree:-d,owner:-o,disabled:-D",
        "mean:-m,no_coalesce:-n,max:i?",
        "name:s?,vcpu:i?",
        "name:s,tbl_id:i?",
        "name:s,type:i?",
        "target:s,names:s?,provider:s?",
        "path:s",
        "path:s,queue:i",
        "path:s,queue:i,index:i?",
        // The seeds (QMP tables of QEMU 0.13 to 1.x).
        "value:o",
        "value:T",
        "sync:s,device:B,target:s,speed:i?,mode:s?,format:s?,",
        "command-line:s,cpu-index:i?",
        "qom-type:s,id:s,props:q?",
        "protocol:s,fdname:s,skipauth:b?,tls:b?",
        "path:s,property:s,value:q",
        "paging:b,protocol:s,begin:i?,end:i?,format:s?",
        "options:q",
        "keys:O,hold-time:i?",
        "implements:s?,abstract:b?",
        "id:s,backend:q",
        "fdset-id:i?,opaque:s?",
        "device:s?,node-name:s?,size:o",
        "device:B,bps:l,bps_rd:l,bps_wr:l,iops:l,iops_rd:l,iops_wr:l,bps_max:l?,bps_rd_max:l?,bps_wr_max:l?,iops_max:l?,iops_rd_max:l?,iops_wr_max:l?,iops_size:l?",
        "device:B,base:s?,top:s,speed:o?",
        "capabilities:O",
        "addr:q",
        "actions:q",
        "val:l,size:i,filename:s,cpu:i?",
    ];

    #[test]
    fn every_real_args_type_parses_and_round_trips() {
        for spec in REAL {
            let parsed = ArgsType::parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            let rebuilt: Vec<String> = parsed.params().iter().map(ToString::to_string).collect();
            assert_eq!(rebuilt.join(","), spec.trim_end_matches(','), "{spec:?}");
            assert_eq!(parsed.to_string(), *spec);
        }
    }

    #[test]
    fn kinds_and_presence_are_read() {
        let spec = ArgsType::parse("a:-fs,b:i.,c:l?,d:/,e:O,f:b?").unwrap();
        let got: Vec<(ParamKind, Presence, bool)> = spec
            .params()
            .iter()
            .map(|p| (p.kind(), p.presence(), p.is_optional()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    ParamKind::Flag {
                        letter: 'f',
                        value: true
                    },
                    Presence::Required,
                    true
                ),
                (ParamKind::Int32, Presence::Dotted, true),
                (ParamKind::Int64, Presence::Optional, true),
                (ParamKind::Format, Presence::Required, true),
                (ParamKind::Opts, Presence::Required, true),
                (ParamKind::Bool, Presence::Optional, true),
            ]
        );
        assert_eq!("x:s".parse::<ArgsType>().unwrap().params()[0].name(), "x");
    }

    #[test]
    fn malformed_specs_are_rejected_with_offsets() {
        let cases: &[(&str, SpecError)] = &[
            ("abc", SpecError::MissingColon { offset: 0 }),
            ("a:s,b", SpecError::MissingColon { offset: 4 }),
            ("a,b:s", SpecError::MissingColon { offset: 0 }),
            (":s", SpecError::EmptyName { offset: 0 }),
            ("a:", SpecError::MissingType { offset: 2 }),
            ("a:,b:s", SpecError::MissingType { offset: 2 }),
            (
                "a:z",
                SpecError::UnknownType {
                    code: 'z',
                    offset: 2,
                },
            ),
            (
                "a:é",
                SpecError::UnknownType {
                    code: 'é',
                    offset: 2,
                },
            ),
            ("a:-", SpecError::BadOptionLetter { offset: 3 }),
            ("a:-,", SpecError::BadOptionLetter { offset: 3 }),
            (
                "a:s!",
                SpecError::Unexpected {
                    found: '!',
                    offset: 3,
                },
            ),
            (
                "a:O?",
                SpecError::Unexpected {
                    found: '?',
                    offset: 3,
                },
            ),
            (
                "a:/?",
                SpecError::Unexpected {
                    found: '?',
                    offset: 3,
                },
            ),
            (
                "a:s.",
                SpecError::Unexpected {
                    found: '.',
                    offset: 3,
                },
            ),
            (
                "a:-f?",
                SpecError::Unexpected {
                    found: '?',
                    offset: 4,
                },
            ),
            (
                "a:i??",
                SpecError::Unexpected {
                    found: '?',
                    offset: 4,
                },
            ),
            ("a:s,,", SpecError::MissingColon { offset: 4 }),
            ("a:s,a:i", SpecError::Duplicate { name: "a".into() }),
        ];
        for (spec, want) in cases {
            assert_eq!(ArgsType::parse(spec).as_ref().err(), Some(want), "{spec:?}");
        }
        assert_eq!(
            SpecError::UnknownType {
                code: 'z',
                offset: 2
            }
            .to_string(),
            "unknown type code 'z' at byte 2"
        );
    }

    #[test]
    fn later_options_are_found_by_substring_like_qemu() {
        let spec = ArgsType::parse("reuse:-n,device:B,snapshot-file:s?,format:s?").unwrap();
        let reuse = &spec.params()[0];
        // "-f" occurs inside "snapshot-file".
        assert!(spec.later_option(reuse, b'f'));
        assert!(!spec.later_option(reuse, b'x'));
        assert!(spec.later_option(reuse, 0));
        let last = ArgsType::parse("a:-a,b:s").unwrap();
        assert!(!last.later_option(&last.params()[0], 0));
    }
}
