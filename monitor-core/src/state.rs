//! VMM state that handlers reach by type.
//!
//! The VMM registers values with [`MonitorBuilder::state`] (or an `Arc` it
//! keeps itself with [`MonitorBuilder::shared_state`]); a handler takes
//! `&T` (borrowed for the call) or [`State<T>`] (an owned `Arc`, for work
//! that outlives the call: an `async fn`, a thread answering through a
//! `Completion`). What a `#[qmp_command]` takes is checked when the monitor
//! is spawned, so a missing registration fails at start-up, naming the
//! command and the type.
//!
//! [`MonitorBuilder::state`]: crate::MonitorBuilder::state
//! [`MonitorBuilder::shared_state`]: crate::MonitorBuilder::shared_state

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::CommandError;

/// VMM state registered with the builder, looked up by type.
///
/// # Examples
///
/// ```
/// use monitor_core::StateMap;
///
/// struct Vm { vcpus: u32 }
///
/// let mut state = StateMap::default();
/// state.insert(Vm { vcpus: 2 });
/// assert_eq!(state.get::<Vm>().unwrap().vcpus, 2);
/// assert!(state.get::<u64>().is_err());
/// ```
#[derive(Default, Clone)]
pub struct StateMap {
    items: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl StateMap {
    /// Adds (or replaces) the state of type `T`.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.items.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Adds (or replaces) the state of type `T`, sharing an `Arc` the VMM
    /// keeps too: handlers taking `&T` or `State<T>` see the same value.
    pub fn insert_arc<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.items.insert(TypeId::of::<T>(), value);
    }

    /// The state of type `T`.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered.
    pub fn get<T: Any + Send + Sync>(&self) -> Result<&T, CommandError> {
        self.items
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref())
            .ok_or_else(not_registered::<T>)
    }

    /// The state of type `T` as an owned handle.
    ///
    /// # Errors
    ///
    /// A `GenericError` naming `T` when no such state was registered.
    pub fn handle<T: Any + Send + Sync>(&self) -> Result<State<T>, CommandError> {
        let any = self
            .items
            .get(&TypeId::of::<T>())
            .ok_or_else(not_registered::<T>)?;
        Arc::clone(any)
            .downcast::<T>()
            .map(State)
            .map_err(|_| not_registered::<T>())
    }

    /// Whether state of the given type is registered.
    pub fn contains(&self, requirement: &StateRequirement) -> bool {
        self.items.contains_key(&(requirement.type_id)())
    }
}

fn not_registered<T>() -> CommandError {
    CommandError::generic(format!(
        "Monitor state of type {} was never registered",
        std::any::type_name::<T>()
    ))
}

impl fmt::Debug for StateMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateMap")
            .field("len", &self.items.len())
            .finish()
    }
}

/// An owned handle on registered VMM state: an `Arc<T>` a handler can move
/// into a future or a thread.
///
/// As a `#[qmp_command]` parameter, `State<T>` is an extractor like `&T`.
/// It dereferences to `T` and clones cheaply.
///
/// # Examples
///
/// A command that answers from a worker thread keeps the VMM alive there:
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use monitor_core::{pending::Completion, qmp_command, State};
///
/// struct Vm { ticks: AtomicU64 }
///
/// /// Count on a worker thread, answer from it.
/// #[qmp_command(name = "x-tick")]
/// fn x_tick(vm: State<Vm>, done: Completion<u64>) {
///     std::thread::spawn(move || {
///         done.ok(vm.ticks.fetch_add(1, Ordering::Relaxed) + 1);
///     });
/// }
/// ```
pub struct State<T: ?Sized>(Arc<T>);

impl<T: ?Sized> State<T> {
    /// Wraps an `Arc`.
    pub fn new(value: Arc<T>) -> Self {
        State(value)
    }

    /// The `Arc` inside.
    pub fn into_inner(self) -> Arc<T> {
        self.0
    }
}

impl<T: ?Sized> Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> Clone for State<T> {
    fn clone(&self) -> Self {
        State(Arc::clone(&self.0))
    }
}

impl<T: ?Sized> AsRef<T> for State<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&self.0).finish()
    }
}

/// A state type a command needs, checked when the monitor is spawned.
///
/// `#[qmp_command]` records one per `&T` or `State<T>` parameter; a
/// command built at run time adds its own with
/// [`Command::requires_state`](crate::Command::requires_state).
///
/// # Examples
///
/// ```
/// use monitor_core::{StateMap, StateRequirement};
///
/// struct Vm;
/// let needs_vm = StateRequirement::of::<Vm>();
/// assert!(needs_vm.type_name().ends_with("Vm"));
/// let mut state = StateMap::default();
/// assert!(!state.contains(&needs_vm));
/// state.insert(Vm);
/// assert!(state.contains(&needs_vm));
/// ```
#[derive(Clone, Copy)]
pub struct StateRequirement {
    type_id: fn() -> TypeId,
    type_name: fn() -> &'static str,
}

impl StateRequirement {
    /// The requirement of state type `T`.
    pub const fn of<T: Any + Send + Sync>() -> Self {
        StateRequirement {
            type_id: TypeId::of::<T>,
            type_name: std::any::type_name::<T>,
        }
    }

    /// The type's name, as `std::any::type_name` gives it.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }
}

impl fmt::Debug for StateRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_name())
    }
}

impl PartialEq for StateRequirement {
    fn eq(&self, other: &Self) -> bool {
        (self.type_id)() == (other.type_id)()
    }
}

impl Eq for StateRequirement {}
