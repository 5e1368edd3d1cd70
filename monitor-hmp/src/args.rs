//! QEMU's `args_type` language: the little type strings of its HMP command
//! tables (`"force:-f,device:B"`, `"fmt:/,addr:l"`), and the parser that
//! matches a command line against one, with QEMU 7.2's semantics and its
//! exact error messages.
//!
//! An `args_type` is a comma-separated list of `name:type`:
//!
//! | code | reads | value |
//! |---|---|---|
//! | `s` | a word, or a `"quoted string"` with `\n \r \\ \' \"` | [`ArgValue::Str`] |
//! | `S` | the rest of the line, verbatim | [`ArgValue::Str`] |
//! | `F`, `B` | a file name, a block device name (as `s`) | [`ArgValue::Str`] |
//! | `i` | an expression (`$pc + 4*(1+1)`) that fits in 32 bits | [`ArgValue::Int`] |
//! | `l` | a 64-bit expression | [`ArgValue::Int`] |
//! | `M` | an expression in MiB, not negative | [`ArgValue::Size`] (bytes) |
//! | `o` | a size: `10`, `1.5G`, `512k`, `4096B` (default unit MiB) | [`ArgValue::Size`] (bytes) |
//! | `T` | seconds: `1.5`, `10ms`, `5us`, `7ns` | [`ArgValue::Float`] |
//! | `b` | `on` or `off` | [`ArgValue::Bool`] |
//! | `-x` | the option `-x` (`-xs`: with a string after it) | [`ArgValue::Flag`] ([`ArgValue::Str`]) |
//! | `O` | `QemuOpts`: `e1000,id=n1,mac=...` | [`ArgValue::Opts`] |
//! | `q` | a JSON value (extension: not in QEMU 7.2's HMP) | [`ArgValue::Json`] |
//! | `/` | `/16xb`: count, format `o d u x i c`, size `b h w g L` | [`ArgValue::Format`] |
//!
//! `?` after a type makes it optional at the end of the line; `.` after
//! `i`, `l`, `M` makes it present only after a `.` (`i 0x60.1`).
//!
//! Faithful to QEMU 7.2 down to its quirks: options are not grouped
//! (`-fb` is `-f` then the word `b`); an option belonging to a later
//! parameter is noticed by searching the rest of the `args_type` for
//! `-<letter>` (even inside a name like `snapshot-file`); `i` rejects
//! negative numbers; strings are cut to 1023 bytes; `/fmt` defaults carry
//! over from one command to the next ([`FormatDefaults`]).
//!
//! # Examples
//!
//! ```
//! use monitor_hmp::args::{ArgValue, ArgsType, Format, NoCpu};
//!
//! // `x /fmt addr`, with a CPU whose only register is pc.
//! let x = ArgsType::parse("fmt:/,addr:l").unwrap();
//! let regs = |name: &str| (name == "pc").then_some(0xfff0_i64);
//! let args = x.parse_line("x", "/16xb $pc - 0x10", &regs).unwrap();
//! assert_eq!(args.format("fmt"), Some(Format { count: 16, format: 'x', size: Some(1) }));
//! assert_eq!(args.int("addr"), Some(0xffe0));
//!
//! // QEMU's messages, as `human-monitor-command` returns them.
//! let err = x.parse_line("x", "/16q 0", &regs).unwrap_err();
//! assert_eq!(err.to_string(), "invalid char in format: 'q'");
//! let err = x.parse_line("x", "0 1", &regs).unwrap_err();
//! assert_eq!(err.to_string(), "x: extraneous characters at the end of line");
//! let err = x.parse_line("x", "(1", &NoCpu).unwrap_err();
//! assert_eq!(err.to_string(), "')' expected");
//! assert!(err.is_incomplete());
//!
//! // Sizes and on/off.
//! let resize = ArgsType::parse("device:B,size:o").unwrap();
//! let args = resize.parse_line("block_resize", "drive0 1.5G", &NoCpu).unwrap();
//! assert_eq!(args.size("size"), Some(3 << 29));
//! let set_link = ArgsType::parse("name:s,up:b").unwrap();
//! let err = set_link.parse_line("set_link", "net0 yes", &NoCpu).unwrap_err();
//! assert_eq!(err.to_string(), "Expected 'on' or 'off'");
//!
//! // `O`: QemuOpts, with the implied first name of the `device` list.
//! let device_add = ArgsType::parse("device:O").unwrap();
//! let args = device_add.parse_line("device_add", "e1000,id=n1", &NoCpu).unwrap();
//! let opts = vec![("id".into(), "n1".into()), ("driver".into(), "e1000".into())];
//! assert_eq!(args.get("device"), Some(&ArgValue::Opts(opts)));
//! ```
//!
//! After a failed parse QEMU prints `Try "help <cmd>" for more information`
//! with the command as the user typed it; that line is the dispatcher's
//! business, as is everything the command prints when it runs.

mod error;
mod expr;
mod lex;
mod line;
mod opts;
mod spec;
mod value;

#[cfg(test)]
mod tests;

pub use error::{ArgError, ArgErrorKind, OptsError, SpecError, StrError};
pub use spec::{ArgsType, Param, ParamKind, Presence};
pub use value::{ArgValue, Args, Format, FormatDefaults};

/// The CPU registers `$name` reads in expressions (`$pc`, `$eax`, ...).
///
/// QEMU answers `unknown register` both for a name the current CPU does
/// not have and when there is no CPU at all (`-machine none`); return
/// `None` for both. Closures `Fn(&str) -> Option<i64>` implement it.
///
/// # Examples
///
/// ```
/// use monitor_hmp::args::{ArgsType, Registers};
///
/// struct Cpu { pc: u64 }
/// impl Registers for Cpu {
///     fn register(&self, name: &str) -> Option<i64> {
///         (name == "pc").then_some(self.pc as i64)
///     }
/// }
///
/// let spec = ArgsType::parse("addr:l").unwrap();
/// let args = spec.parse_line("gva2gpa", "$pc", &Cpu { pc: 0x1000 }).unwrap();
/// assert_eq!(args.int("addr"), Some(0x1000));
/// ```
pub trait Registers {
    /// The value of register `name` (without the `$`; at most 127 bytes of
    /// `[A-Za-z0-9_.]`, possibly empty), or `None` if unknown.
    fn register(&self, name: &str) -> Option<i64>;
}

impl<F: Fn(&str) -> Option<i64>> Registers for F {
    fn register(&self, name: &str) -> Option<i64> {
        self(name)
    }
}

/// No CPU: every `$register` is unknown, as on QEMU's `-machine none`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCpu;

impl Registers for NoCpu {
    fn register(&self, _name: &str) -> Option<i64> {
        None
    }
}
