//! Long-running jobs: QEMU's "answer now, report progress through a query
//! command, announce the end with an event" pattern (`dump-guest-memory`
//! with `detach`, `query-dump`, `DUMP_COMPLETED`).
//!
//! A [`Jobs`] table lives in VMM state; a command starts a job and returns
//! at once; the worker thread updates the job's status through its
//! [`JobHandle`]; a query command reads [`Jobs::get`]; finishing stores the
//! final status and emits the completion event.
//!
//! # Examples
//!
//! ```
//! use monitor_core::job::Jobs;
//! use monitor_core::{Emitter, TypedEvent};
//! use serde::Serialize;
//!
//! #[derive(Clone, Debug, PartialEq, Serialize)]
//! struct DumpStatus { status: &'static str, completed: u64, total: u64 }
//!
//! #[derive(Serialize)]
//! struct DumpCompleted { result: DumpStatus }
//! impl TypedEvent for DumpCompleted { const NAME: &'static str = "DUMP_COMPLETED"; }
//!
//! let emitter = Emitter::new();
//! let events = emitter.receiver().unwrap();
//! let jobs = Jobs::new(emitter.clone());
//! let job = jobs.start("dump", DumpStatus { status: "active", completed: 0, total: 2 }).unwrap();
//! assert!(jobs.start("dump", DumpStatus { status: "active", completed: 0, total: 2 }).is_err());
//! let worker = std::thread::spawn(move || {
//!     job.update(|s| s.completed = 1);
//!     job.finish(|s| { s.completed = 2; s.status = "completed"; DumpCompleted { result: s.clone() } });
//! });
//! worker.join().unwrap();
//! assert_eq!(jobs.get("dump").unwrap().status, "completed");
//! assert_eq!(events.take_pending().len(), 1);
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::CommandError;
use crate::event::{Emitter, TypedEvent};

#[derive(Debug)]
struct Entry<S> {
    status: S,
    running: bool,
}

/// A table of jobs by id, with a status of type `S` each.
#[derive(Debug)]
pub struct Jobs<S> {
    table: Arc<Mutex<HashMap<String, Entry<S>>>>,
    emitter: Emitter,
}

impl<S> Clone for Jobs<S> {
    fn clone(&self) -> Self {
        Jobs {
            table: Arc::clone(&self.table),
            emitter: self.emitter.clone(),
        }
    }
}

impl<S: Clone> Jobs<S> {
    /// An empty table emitting through `emitter`.
    pub fn new(emitter: Emitter) -> Self {
        Jobs {
            table: Arc::new(Mutex::new(HashMap::new())),
            emitter,
        }
    }

    /// Starts job `id` (a finished job of the same id is replaced).
    ///
    /// # Errors
    ///
    /// A `GenericError` if a job with this id is still running.
    pub fn start(&self, id: &str, status: S) -> Result<JobHandle<S>, CommandError> {
        let mut table = self.table.lock();
        if table.get(id).is_some_and(|e| e.running) {
            return Err(CommandError::generic(format!(
                "Job '{id}' is already running"
            )));
        }
        table.insert(
            id.to_owned(),
            Entry {
                status,
                running: true,
            },
        );
        Ok(JobHandle {
            id: id.to_owned(),
            jobs: self.clone(),
            finished: false,
        })
    }

    /// The status of job `id`, running or finished.
    pub fn get(&self, id: &str) -> Option<S> {
        self.table.lock().get(id).map(|e| e.status.clone())
    }

    /// Whether job `id` is running.
    pub fn is_running(&self, id: &str) -> bool {
        self.table.lock().get(id).is_some_and(|e| e.running)
    }
}

/// The worker's side of one job (Send if `S` is).
#[derive(Debug)]
pub struct JobHandle<S: Clone> {
    id: String,
    jobs: Jobs<S>,
    finished: bool,
}

impl<S: Clone> JobHandle<S> {
    /// Changes the status (progress).
    pub fn update(&self, f: impl FnOnce(&mut S)) {
        if let Some(e) = self.jobs.table.lock().get_mut(&self.id) {
            f(&mut e.status);
        }
    }

    /// Sets the final status and emits the event built from it.
    pub fn finish<E: TypedEvent>(mut self, f: impl FnOnce(&mut S) -> E) {
        let event = {
            let mut table = self.jobs.table.lock();
            let Some(e) = table.get_mut(&self.id) else {
                return;
            };
            e.running = false;
            f(&mut e.status)
        };
        self.finished = true;
        self.jobs.emitter.emit(event);
    }
}

impl<S: Clone> Drop for JobHandle<S> {
    fn drop(&mut self) {
        if !self.finished {
            // A worker that died leaves a finished (not running) job behind.
            if let Some(e) = self.jobs.table.lock().get_mut(&self.id) {
                e.running = false;
            }
            log::warn!("job {} ended without finishing", self.id);
        }
    }
}
