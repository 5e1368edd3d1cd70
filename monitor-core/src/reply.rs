//! A command's result as it goes on the wire.

use std::fmt;

use serde::Serialize;

use crate::error::CommandError;

/// A command's successful result, already serialised in QEMU's format.
///
/// # Examples
///
/// ```
/// use monitor_core::Reply;
///
/// assert_eq!(Reply::empty().as_bytes(), b"{}");
/// assert_eq!(Reply::new(&vec![1, 2]).unwrap().as_bytes(), b"[1, 2]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reply(Box<[u8]>);

impl Reply {
    /// Serialises a result (one serialisation, reused for the response).
    ///
    /// # Errors
    ///
    /// A `GenericError` if the value cannot be serialised as JSON.
    pub fn new<T: Serialize + ?Sized>(value: &T) -> Result<Reply, CommandError> {
        let mut out = Vec::with_capacity(64);
        crate::wire::to_writer(&mut out, value)
            .map_err(|e| CommandError::generic(format!("Cannot serialise the result: {e}")))?;
        if out == b"null" {
            // `()` and unit structs: QEMU answers commands without a result with {}.
            return Ok(Reply::empty());
        }
        Ok(Reply(out.into_boxed_slice()))
    }

    /// The `{}` result.
    pub fn empty() -> Reply {
        Reply(Box::from(&b"{}"[..]))
    }

    /// The serialised JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reply")
            .field(&String::from_utf8_lossy(&self.0))
            .finish()
    }
}

/// What a handler returns.
pub type Outcome = Result<Reply, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_result_is_empty_object() {
        assert_eq!(Reply::new(&()).unwrap(), Reply::empty());
    }
}
