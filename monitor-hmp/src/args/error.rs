//! Errors of the `args_type` language: [`SpecError`] for a malformed
//! `args_type` string, [`ArgError`] for a command line that does not match
//! one.
//!
//! [`ArgError`]'s `Display` is QEMU 7.2's text, as `human-monitor-command`
//! returns it, without the trailing newline. QEMU prints a few details
//! (bad string quoting, `QemuOpts` errors) on its own stdout or stderr
//! rather than on the monitor; [`ArgError::monitor_text`] and
//! [`ArgError::stdio_text`] say exactly what goes where.

use thiserror::Error;

/// A malformed `args_type` string. Offsets are bytes into that string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A parameter has no `:` between its name and its type.
    #[error("parameter at byte {offset} has no ':' before its type")]
    MissingColon {
        /// Where the parameter starts.
        offset: usize,
    },
    /// A parameter has an empty name.
    #[error("parameter at byte {offset} has an empty name")]
    EmptyName {
        /// Where the parameter starts.
        offset: usize,
    },
    /// Nothing follows the `:`.
    #[error("missing type code at byte {offset}")]
    MissingType {
        /// Where the type code should be.
        offset: usize,
    },
    /// A type code QEMU does not know.
    #[error("unknown type code '{code}' at byte {offset}")]
    UnknownType {
        /// The code.
        code: char,
        /// Where it is.
        offset: usize,
    },
    /// `-` is not followed by an ASCII letter or digit.
    #[error("option at byte {offset} needs an ASCII letter or digit after '-'")]
    BadOptionLetter {
        /// Where the letter should be.
        offset: usize,
    },
    /// Something other than `,` follows a type code and its modifiers.
    #[error("unexpected '{found}' at byte {offset}")]
    Unexpected {
        /// What was found.
        found: char,
        /// Where.
        offset: usize,
    },
    /// Two parameters have the same name.
    #[error("parameter '{name}' is declared twice")]
    Duplicate {
        /// The name.
        name: String,
    },
}

/// How QEMU's `get_str` rejected a quoted string. QEMU prints these on its
/// standard output, not on the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StrError {
    /// No closing `"`.
    #[error("unterminated string")]
    Unterminated,
    /// A backslash before something other than `n r \ ' "`; `None` when
    /// the line ends after the backslash.
    #[error("unsupported escape code: '\\{}'", .0.map_or(String::new(), |c| c_char(c).to_string()))]
    UnsupportedEscape(Option<char>),
}

/// A `QemuOpts` string (type `O`) that QEMU rejects. QEMU prints these on
/// its standard error, not on the monitor.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OptsError {
    /// `id=` is not an identifier.
    #[error("Parameter 'id' expects an identifier")]
    BadId,
}

impl OptsError {
    /// The hint QEMU prints on the line after the message.
    pub fn hint(&self) -> &'static str {
        match self {
            OptsError::BadId => {
                "Identifiers consist of letters, digits, '-', '.', '_', starting with a letter."
            }
        }
    }
}

/// What went wrong, without the command name. The `Display` of the
/// variants that QEMU prefixes with the command name omits it; the full
/// text is [`ArgError`]'s `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ArgErrorKind {
    /// An expression ended early (`x`, `p 1 +`).
    #[error("unexpected end of expression")]
    UnexpectedEnd,
    /// `(` without `)`.
    #[error("')' expected")]
    CloseParenExpected,
    /// `'` at the end of the line.
    #[error("character constant expected")]
    CharConstantExpected,
    /// `'a` or `'ab'`.
    #[error("missing terminating ' character")]
    MissingQuote,
    /// `$name` is not a register of the current CPU (or there is no CPU).
    #[error("unknown register")]
    UnknownRegister(String),
    /// A character that cannot start a number.
    #[error("invalid char '{}' in expression", c_char(*.0))]
    InvalidChar(char),
    /// A literal beyond 64 bits.
    #[error("number too large")]
    NumberTooLarge,
    /// `/ 0` or `% 0`.
    #[error("division by zero")]
    DivisionByZero,
    /// A string (`s`, `S`) is missing or badly quoted.
    #[error("string expected")]
    StringExpected(Option<StrError>),
    /// A file name (`F`) is missing or badly quoted.
    #[error("filename expected")]
    FilenameExpected(Option<StrError>),
    /// A block device name (`B`) is missing or badly quoted.
    #[error("block device name expected")]
    BlockDeviceExpected(Option<StrError>),
    /// An option that takes a value (`-ds`) has none.
    #[error("value expected for -{letter}")]
    ValueExpected {
        /// The option letter.
        letter: char,
        /// Why the string was rejected, if one was there.
        cause: Option<StrError>,
    },
    /// `-x` is not an option of the command; `None` for a lone `-` at the
    /// end of the line (QEMU then prints a NUL, which ends its message
    /// without a newline).
    #[error("unsupported option -{}", .0.map_or(String::new(), |c| c_char(c).to_string()))]
    UnsupportedOption(Option<char>),
    /// An `i` value needs more than 32 bits (negative values included).
    #[error("integer is for 32-bit values")]
    Not32Bit,
    /// A `/fmt` has a character that is no count, format or size.
    #[error("invalid char in format: '{}'", c_char(*.0))]
    InvalidFormatChar(char),
    /// An `M` value is negative.
    #[error("enter a positive value")]
    NotPositive,
    /// An `o` value is not a size, or above `i64::MAX`.
    #[error("invalid size")]
    InvalidSize,
    /// A `T` value is not a number.
    #[error("Number expected")]
    NumberExpected,
    /// A `T` value is infinite or NaN.
    #[error("Bad number")]
    BadNumber,
    /// A `T` value has a suffix other than `ms`, `us`, `ns`.
    #[error("Unknown unit suffix")]
    UnknownUnitSuffix,
    /// A `b` value is neither `on` nor `off`.
    #[error("Expected 'on' or 'off'")]
    ExpectedOnOff,
    /// The quoting of an `O` value is broken (QEMU: stdout only).
    #[error("{0}")]
    OptsString(StrError),
    /// `QemuOpts` rejected an `O` value (QEMU: stderr only).
    #[error("{0}")]
    Opts(OptsError),
    /// A `q` value is missing (not in QEMU 7.2's HMP).
    #[error("JSON value expected")]
    JsonExpected,
    /// A `q` value is not JSON (not in QEMU 7.2's HMP).
    #[error("invalid JSON value: {0}")]
    InvalidJson(String),
    /// Something is left after the last argument.
    #[error("extraneous characters at the end of line")]
    Extraneous,
}

impl ArgErrorKind {
    /// Whether QEMU writes `<command>: ` before the message.
    fn prefixed(&self) -> bool {
        matches!(
            self,
            ArgErrorKind::StringExpected(_)
                | ArgErrorKind::FilenameExpected(_)
                | ArgErrorKind::BlockDeviceExpected(_)
                | ArgErrorKind::ValueExpected { .. }
                | ArgErrorKind::UnsupportedOption(_)
                | ArgErrorKind::JsonExpected
                | ArgErrorKind::InvalidJson(_)
                | ArgErrorKind::Extraneous
        )
    }

    /// The detail QEMU prints on its own stdout/stderr, if any.
    fn stdio_detail(&self) -> Option<String> {
        match self {
            ArgErrorKind::StringExpected(Some(e))
            | ArgErrorKind::FilenameExpected(Some(e))
            | ArgErrorKind::BlockDeviceExpected(Some(e))
            | ArgErrorKind::ValueExpected { cause: Some(e), .. }
            | ArgErrorKind::OptsString(e) => Some(format!("{e}\n")),
            ArgErrorKind::Opts(e) => Some(format!("{e}\n{}\n", e.hint())),
            _ => None,
        }
    }

    /// Whether an error of this kind at the end of the line means "more
    /// input needed" rather than "wrong input".
    fn can_be_incomplete(&self) -> bool {
        !matches!(
            self,
            ArgErrorKind::Not32Bit
                | ArgErrorKind::NotPositive
                | ArgErrorKind::DivisionByZero
                | ArgErrorKind::UnknownRegister(_)
                | ArgErrorKind::BadNumber
                | ArgErrorKind::NumberTooLarge
                | ArgErrorKind::Opts(_)
                | ArgErrorKind::Extraneous
        )
    }
}

/// A command line that does not match its `args_type`.
///
/// `Display` is QEMU 7.2's message, e.g. `x: extraneous characters at the
/// end of line` or `'cpu' has failed: integer is for 32-bit values`. QEMU
/// follows it with `Try "help <cmd>" for more information`, where `<cmd>`
/// is the command as typed; that line is the dispatcher's to print.
///
/// # Examples
///
/// ```
/// use monitor_hmp::args::{ArgsType, NoCpu};
///
/// let spec = ArgsType::parse("index:i").unwrap();
/// let err = spec.parse_line("cpu", "-1", &NoCpu).unwrap_err();
/// assert_eq!(err.to_string(), "'cpu' has failed: integer is for 32-bit values");
/// assert_eq!(err.monitor_text(), "'cpu' has failed: integer is for 32-bit values\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", self.render())]
pub struct ArgError {
    command: String,
    kind: ArgErrorKind,
    offset: usize,
    at_end: bool,
}

impl ArgError {
    pub(crate) fn new(command: &str, kind: ArgErrorKind, offset: usize, at_end: bool) -> Self {
        ArgError {
            command: command.to_owned(),
            kind,
            offset,
            at_end,
        }
    }

    fn render(&self) -> String {
        match &self.kind {
            ArgErrorKind::Not32Bit => format!("'{}' has failed: {}", self.command, self.kind),
            kind if kind.prefixed() => format!("{}: {kind}", self.command),
            kind => kind.to_string(),
        }
    }

    /// The command name used in the message (the table's name, e.g.
    /// `print|p`, `mtree` for `info mtree`).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// What went wrong.
    pub fn kind(&self) -> &ArgErrorKind {
        &self.kind
    }

    /// The byte offset in the argument string where the error was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Whether the line ended before the arguments were complete (as
    /// opposed to containing something wrong): `x`, `p (1`, `eject`.
    pub fn is_incomplete(&self) -> bool {
        self.at_end && self.kind.can_be_incomplete()
    }

    /// Exactly what QEMU 7.2 writes on the monitor, newline included:
    /// usually the message and `\n`; nothing for the errors QEMU reports on
    /// stdout/stderr instead ([`ArgErrorKind::OptsString`],
    /// [`ArgErrorKind::Opts`]); no newline after `unsupported option -` at
    /// the end of a line, whose `%c` prints a NUL that cuts the message.
    pub fn monitor_text(&self) -> String {
        match &self.kind {
            ArgErrorKind::OptsString(_) | ArgErrorKind::Opts(_) => String::new(),
            ArgErrorKind::UnsupportedOption(None) => self.render(),
            _ => format!("{}\n", self.render()),
        }
    }

    /// What QEMU 7.2 prints on its own stdout or stderr for this error, if
    /// anything (e.g. `unterminated string\n`).
    pub fn stdio_text(&self) -> Option<String> {
        self.kind.stdio_detail()
    }
}

/// How QEMU's `%c` shows `c`: one byte, so anything beyond ASCII comes out
/// as an invalid UTF-8 byte, which QMP turns into U+FFFD.
pub(crate) fn c_char(c: char) -> char {
    if c.is_ascii() {
        c
    } else {
        char::REPLACEMENT_CHARACTER
    }
}
