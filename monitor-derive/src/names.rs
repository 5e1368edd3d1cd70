//! The names QMP gives commands, arguments, features and events.

/// Whether `name` is one: letters, digits, `_`, `-`, `.`; not empty.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}
