//! The machine's run state, [`Status`], named as QEMU's `query-status`
//! names it.

use std::fmt;

/// The machine's run state, named as QEMU's `query-status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Built, not yet started (`-S`), or reset while not running.
    Prelaunch,
    /// The vCPUs run.
    Running,
    /// Stopped by [`Machine::pause`](super::Machine::pause).
    Paused,
    /// The guest powered off, or [`Machine::shutdown`](super::Machine::shutdown) was called.
    Shutdown,
    /// A vCPU hit an error KVM could not handle.
    InternalError,
}

impl Status {
    /// QEMU's name: `prelaunch`, `running`, `paused`, `shutdown`, `internal-error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Prelaunch => "prelaunch",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Shutdown => "shutdown",
            Status::InternalError => "internal-error",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
