//! QMP error classes and the error a command answers with.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

/// QEMU's `QapiErrorClass`: the only classes a QMP error may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorClass {
    /// Everything that is not one of the others.
    GenericError,
    /// The command does not exist (or is not available in this mode).
    CommandNotFound,
    /// The device exists but is not active (e.g. no balloon driver).
    DeviceNotActive,
    /// The named device does not exist.
    DeviceNotFound,
    /// KVM lacks a capability the command needs.
    KVMMissingCap,
}

impl ErrorClass {
    /// The class name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
            ErrorClass::DeviceNotActive => "DeviceNotActive",
            ErrorClass::DeviceNotFound => "DeviceNotFound",
            ErrorClass::KVMMissingCap => "KVMMissingCap",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error a command answers with: `{"error": {"class": ..., "desc": ...}}`.
///
/// # Examples
///
/// ```
/// use monitor_core::{CommandError, ErrorClass};
///
/// let e = CommandError::new(ErrorClass::DeviceNotFound, "Device 'x' not found");
/// assert_eq!(e.class(), ErrorClass::DeviceNotFound);
/// assert_eq!(e.to_string(), "Device 'x' not found");
/// assert_eq!(CommandError::generic("boom").class(), ErrorClass::GenericError);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[error("{desc}")]
pub struct CommandError {
    class: ErrorClass,
    desc: String,
}

impl CommandError {
    /// An error of the given class.
    pub fn new(class: ErrorClass, desc: impl Into<String>) -> Self {
        CommandError {
            class,
            desc: desc.into(),
        }
    }

    /// A `GenericError`.
    pub fn generic(desc: impl Into<String>) -> Self {
        Self::new(ErrorClass::GenericError, desc)
    }

    /// A `CommandNotFound`.
    pub fn command_not_found(desc: impl Into<String>) -> Self {
        Self::new(ErrorClass::CommandNotFound, desc)
    }

    /// The class.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The human-readable description.
    pub fn desc(&self) -> &str {
        &self.desc
    }
}

impl From<crate::stream::ParseError> for CommandError {
    fn from(e: crate::stream::ParseError) -> Self {
        CommandError::generic(e.to_string())
    }
}

/// An I/O error answers as QEMU's `error_setg_errno` does: the system's
/// message, without Rust's `(os error N)` suffix.
///
/// # Examples
///
/// ```
/// use monitor_core::{CommandError, ErrorClass};
///
/// fn open_log(path: &str) -> Result<std::fs::File, CommandError> {
///     Ok(std::fs::File::open(path)?)
/// }
/// let err = open_log("/nonexistent/log").unwrap_err();
/// assert_eq!(err.class(), ErrorClass::GenericError);
/// assert_eq!(err.desc(), "No such file or directory");
/// ```
impl From<std::io::Error> for CommandError {
    fn from(e: std::io::Error) -> Self {
        CommandError::generic(io_text(&e))
    }
}

/// `Err("...")?` answers a `GenericError` with that text.
///
/// # Examples
///
/// ```
/// use monitor_core::CommandError;
///
/// fn check(size: u64) -> Result<(), CommandError> {
///     if size == 0 {
///         return Err("Parameter 'size' expects a positive number".into());
///     }
///     Ok(())
/// }
/// assert_eq!(check(0).unwrap_err().desc(), "Parameter 'size' expects a positive number");
/// ```
impl From<&str> for CommandError {
    fn from(desc: &str) -> Self {
        CommandError::generic(desc)
    }
}

/// A `GenericError` with that text.
impl From<String> for CommandError {
    fn from(desc: String) -> Self {
        CommandError::generic(desc)
    }
}

/// Any boxed error answers a `GenericError` with its message and its
/// sources' (`outer: inner: innermost`), so a handler can return
/// `Result<T, Box<dyn Error + Send + Sync>>` and use `?` on anything.
///
/// # Examples
///
/// ```
/// use monitor_core::{qmp_command, CommandError};
///
/// /// Parse a number the client sends as text.
/// #[qmp_command(name = "x-parse")]
/// fn x_parse(text: String) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
///     Ok(text.parse::<u64>()?)
/// }
///
/// let boxed: Box<dyn std::error::Error + Send + Sync> = "x".parse::<u64>().unwrap_err().into();
/// assert_eq!(CommandError::from(boxed).desc(), "invalid digit found in string");
/// ```
impl From<Box<dyn std::error::Error + Send + Sync>> for CommandError {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        match e.downcast::<CommandError>() {
            Ok(own) => *own,
            Err(e) => CommandError::from_error(&*e),
        }
    }
}

/// As for `Box<dyn Error + Send + Sync>`.
impl From<Box<dyn std::error::Error>> for CommandError {
    fn from(e: Box<dyn std::error::Error>) -> Self {
        match e.downcast::<CommandError>() {
            Ok(own) => *own,
            Err(e) => CommandError::from_error(&*e),
        }
    }
}

impl CommandError {
    /// A `GenericError` from any error: its message and those of its
    /// sources, joined with `": "` as QEMU chains `error_prepend` texts
    /// (an I/O error without Rust's `(os error N)` suffix).
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::CommandError;
    ///
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("cannot load the kernel")]
    /// struct LoadError(#[source] std::io::Error);
    ///
    /// let e = LoadError(std::io::Error::from_raw_os_error(2));
    /// assert_eq!(
    ///     CommandError::from_error(&e).desc(),
    ///     "cannot load the kernel: No such file or directory"
    /// );
    /// ```
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        Self::with_class(ErrorClass::GenericError, error)
    }

    /// Like [`from_error`](Self::from_error), with a class of your choice.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{CommandError, ErrorClass};
    ///
    /// let missing = std::io::Error::from_raw_os_error(2);
    /// let e = CommandError::with_class(ErrorClass::DeviceNotFound, &missing);
    /// assert_eq!(e.class(), ErrorClass::DeviceNotFound);
    /// assert_eq!(e.desc(), "No such file or directory");
    /// ```
    pub fn with_class(class: ErrorClass, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut desc = String::new();
        let mut next = Some(error);
        while let Some(e) = next {
            let text = match e.downcast_ref::<std::io::Error>() {
                Some(io) => io_text(io),
                None => e.to_string(),
            };
            // thiserror's `#[error(transparent)]` and `{0}` wrappers repeat
            // their source's text: say it once.
            if !desc.ends_with(&text) {
                if !desc.is_empty() {
                    desc.push_str(": ");
                }
                desc.push_str(&text);
            }
            next = e.source();
        }
        CommandError::new(class, desc)
    }
}

/// The message of an I/O error without Rust's ` (os error N)` suffix.
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match e.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .map(str::to_owned)
            .unwrap_or(text),
        None => text,
    }
}

/// Turns any `Result` into one a handler returns, choosing the class.
///
/// `?` converts `std::io::Error`, `String`, `&str` and boxed errors by
/// itself; for other error types, or to pick a class other than
/// `GenericError`, use these.
///
/// # Examples
///
/// ```
/// use monitor_core::{CommandError, ErrorClass, ResultExt};
///
/// fn balloon_target(text: &str) -> Result<u64, CommandError> {
///     text.parse::<u64>().context_err("Parameter 'value' expects a number")
/// }
/// fn open_device(path: &str) -> Result<std::fs::File, CommandError> {
///     std::fs::File::open(path).class_err(ErrorClass::DeviceNotFound)
/// }
/// assert_eq!(
///     balloon_target("x").unwrap_err().desc(),
///     "Parameter 'value' expects a number: invalid digit found in string"
/// );
/// assert_eq!(open_device("/nonexistent").unwrap_err().class(), ErrorClass::DeviceNotFound);
/// assert_eq!("7".parse::<u8>().generic_err(), Ok(7));
/// ```
pub trait ResultExt<T> {
    /// The error as a `GenericError`, with its source chain.
    ///
    /// # Errors
    ///
    /// The converted error.
    fn generic_err(self) -> Result<T, CommandError>;

    /// The error with class `class`, with its source chain.
    ///
    /// # Errors
    ///
    /// The converted error.
    fn class_err(self, class: ErrorClass) -> Result<T, CommandError>;

    /// The error as a `GenericError` with `context: ` before its text.
    ///
    /// # Errors
    ///
    /// The converted error.
    fn context_err(self, context: &str) -> Result<T, CommandError>;
}

/// Errors that [`ResultExt`] converts: any `std::error::Error`.
pub trait IntoErrorText {
    /// The text, sources included.
    fn error_text(&self) -> String;
}

impl<E: std::error::Error + 'static> IntoErrorText for E {
    fn error_text(&self) -> String {
        CommandError::from_error(self).desc
    }
}

impl<T, E: IntoErrorText> ResultExt<T> for Result<T, E> {
    fn generic_err(self) -> Result<T, CommandError> {
        self.class_err(ErrorClass::GenericError)
    }

    fn class_err(self, class: ErrorClass) -> Result<T, CommandError> {
        self.map_err(|e| CommandError::new(class, e.error_text()))
    }

    fn context_err(self, context: &str) -> Result<T, CommandError> {
        self.map_err(|e| CommandError::generic(format!("{context}: {}", e.error_text())))
    }
}
