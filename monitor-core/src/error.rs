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
