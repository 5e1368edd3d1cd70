//! What the server calls when a client comes and goes
//! (`MonitorBuilder::on_connect`, `on_disconnect`).

use std::sync::Arc;

use crate::dispatch::SessionInfo;

/// A session hook: called on the monitor thread.
pub(crate) type SessionHook = Arc<dyn Fn(&SessionInfo) + Send + Sync>;

/// What the server calls when a client comes and goes.
#[derive(Clone, Default)]
pub(crate) struct SessionHooks {
    pub(crate) connect: Option<SessionHook>,
    pub(crate) disconnect: Option<SessionHook>,
}

impl std::fmt::Debug for SessionHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHooks")
            .field("connect", &self.connect.is_some())
            .field("disconnect", &self.disconnect.is_some())
            .finish()
    }
}

/// Runs a session hook; a panicking hook is logged, not fatal.
pub(crate) fn run_hook(hook: &SessionHook, info: &SessionInfo) {
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(info)));
    if ran.is_err() {
        log::error!("session {}: a session hook panicked", info.id);
    }
}
