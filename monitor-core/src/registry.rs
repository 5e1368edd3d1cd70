//! The command and event table a monitor serves, and why an entry is
//! refused. Commands come from two places: `inventory` registrations made
//! at compile time (what `#[qmp_command]` generates, or
//! [`submit!`](crate::submit)), and descriptors inserted through the
//! builder or at run time. Names are unique: a duplicate is a start-up
//! error naming both definitions.

use std::collections::HashMap;
use std::sync::Arc;

use thiserror::Error;

use crate::command::Command;
use crate::event::EventDescriptor;
use crate::schema::{SchemaGen, SchemaInfo};
use crate::state::StateMap;

/// Errors building the registry.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// Two events share a name.
    #[error("event `{name}` is declared twice: by {first} and by {second}")]
    DuplicateEvent {
        /// The name.
        name: String,
        /// The declaration kept.
        first: String,
        /// The declaration refused.
        second: String,
    },
    /// A command added while the monitor runs takes state nobody
    /// registered.
    #[error("command `{command}` takes state of type {type_name}, which was never registered")]
    MissingState {
        /// The command.
        command: String,
        /// The state type.
        type_name: &'static str,
    },
    /// Two commands share a name.
    #[error("command `{name}` is defined twice: by {first} and by {second}")]
    Duplicate {
        /// The name.
        name: String,
        /// The definition kept.
        first: String,
        /// The definition refused.
        second: String,
    },
}

/// The command table: name to command, in registration order.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_name: HashMap<String, Arc<Command>>,
    order: Vec<String>,
    events: Vec<EventDescriptor>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares an event.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DuplicateEvent`] if the name is taken.
    pub fn insert_event(&mut self, event: EventDescriptor) -> Result<(), RegistryError> {
        if let Some(existing) = self.events.iter().find(|e| e.name == event.name) {
            return Err(RegistryError::DuplicateEvent {
                name: event.name.clone(),
                first: existing.origin.clone(),
                second: event.origin,
            });
        }
        self.events.push(event);
        Ok(())
    }

    /// Declared events, in declaration order.
    pub fn events(&self) -> impl Iterator<Item = &EventDescriptor> {
        self.events.iter()
    }

    /// The `query-qmp-schema` entries of every command and event.
    ///
    /// Commands without schema hooks take an object QEMU cannot describe:
    /// their argument type is `any`-valued and so is their result.
    pub fn schema(&self) -> Vec<SchemaInfo> {
        let mut schema_gen = SchemaGen::new();
        for name in &self.order {
            let Some(c) = self.by_name.get(name) else {
                continue;
            };
            let arg = match c.arg_type {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.builtin("any", "value"),
            };
            let ret = match c.ret_type {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.builtin("any", "value"),
            };
            schema_gen.command(&c.name, arg, ret, c.allow_oob, c.features.clone());
        }
        for e in &self.events {
            let arg = match e.data {
                Some(hook) => hook(&mut schema_gen),
                None => schema_gen.empty_object(),
            };
            schema_gen.event(&e.name, arg, e.features.clone());
        }
        schema_gen.into_entries()
    }

    /// Adds a command.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Duplicate`] if the name is taken.
    pub fn insert(&mut self, command: Command) -> Result<(), RegistryError> {
        if let Some(existing) = self.by_name.get(&command.name) {
            return Err(RegistryError::Duplicate {
                name: command.name.clone(),
                first: existing.origin.clone(),
                second: command.origin,
            });
        }
        self.order.push(command.name.clone());
        self.by_name.insert(command.name.clone(), Arc::new(command));
        Ok(())
    }

    /// The first command whose required state is not in `state`, with the
    /// missing type's name.
    pub fn missing_state(&self, state: &StateMap) -> Option<(&str, &'static str)> {
        self.order.iter().find_map(|name| {
            let command = self.by_name.get(name)?;
            let missing = command.states.iter().find(|r| !state.contains(r))?;
            Some((command.name.as_str(), missing.type_name()))
        })
    }

    /// Looks a command up by exact name.
    pub fn get(&self, name: &str) -> Option<&Arc<Command>> {
        self.by_name.get(name)
    }

    /// Command names in registration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CommandError;

    #[test]
    fn duplicate_names_both_origins() {
        let mut r = Registry::new();
        r.insert(Command::typed("x", |_, ()| Ok::<_, CommandError>(())).origin("a.rs"))
            .unwrap();
        let err = r
            .insert(Command::typed("x", |_, ()| Ok::<_, CommandError>(())).origin("b.rs"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "command `x` is defined twice: by a.rs and by b.rs"
        );
    }
}
