//! The VMM's CPUs, as the human monitor needs them: which `cpu-index`
//! values `human-monitor-command` accepts, and which CPU commands such as
//! `memsave` act on.
//!
//! They come from the VMM's own `query-cpus-fast` (each entry's
//! `cpu-index`), so the human monitor never claims a CPU the VMM does not
//! report. A VMM without that command has no CPUs here, like QEMU's
//! `-machine none`.

use monitor_core::session::Dispatcher;
use monitor_core::SessionInfo;
use monitor_core::{CommandError, Map};

/// QEMU's error for a `cpu-index` that names no CPU
/// (`QERR_INVALID_PARAMETER_VALUE`, "a CPU number").
pub(crate) fn not_a_cpu() -> CommandError {
    CommandError::generic("Parameter 'cpu-index' expects a CPU number")
}

/// The `cpu-index` of every CPU `query-cpus-fast` reports, in its order
/// (QEMU's `first_cpu` is the first); empty without the command.
///
/// # Examples
///
/// ```
/// use monitor_core::SessionInfo;
/// use monitor_core::session::Dispatcher;
/// use monitor_core::{Emitter, Registry, StateMap};
///
/// let dispatcher = Dispatcher::new(Registry::new(), StateMap::default(), Emitter::new());
/// let session = SessionInfo { id: 1, listener: "test".into(), oob: false };
/// assert!(monitor_hmp::cpus::indexes(&dispatcher, &session).is_empty());
/// ```
pub fn indexes(dispatcher: &Dispatcher, session: &SessionInfo) -> Vec<i64> {
    if dispatcher.registry().get("query-cpus-fast").is_none() {
        return Vec::new();
    }
    let (outcome, _) = dispatcher.call(session, "query-cpus-fast", Map::new());
    let Ok(reply) = outcome else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Array(cpus)) = serde_json::from_slice(reply.as_bytes()) else {
        return Vec::new();
    };
    cpus.iter()
        .filter_map(|cpu| cpu.get("cpu-index")?.as_i64())
        .collect()
}
