//! Large messages parsed off the monitor thread.
//!
//! Building the value of a message of tens of MiB, and writing the `id`
//! its answer echoes, takes the monitor thread tens of milliseconds each:
//! eight clients sending such messages at once stalled every other client
//! for seconds. A message of [`super::HEAVY`] bytes or more is therefore
//! handed, unparsed, to one worker thread; its session reads nothing more
//! until the result comes back (which keeps the order), and the monitor
//! thread serves everyone else meanwhile. It then runs the command and
//! copies the written `id`. The large buffers are freed on the worker too.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};

use mio::Token;
use parking_lot::Mutex;

use super::Shared;
use crate::session::Parsed;
use crate::stream::RawMessage;

/// A message parsed for the connection `token` of session `session`.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) token: Token,
    pub(super) session: u64,
    pub(super) parsed: Parsed,
}

pub(crate) enum Job {
    Parse {
        token: Token,
        session: u64,
        raw: RawMessage,
    },
    /// Something large to free.
    Free(Box<dyn Send>),
}

/// Frees large buffers on the worker thread (or at once without one).
#[derive(Debug, Default)]
pub(crate) struct Freer(Option<Arc<Worker>>);

impl Freer {
    /// Frees `value` off this thread.
    pub(crate) fn free(&self, value: impl Send + 'static) {
        if let Some(jobs) = self.0.as_ref().and_then(|worker| worker.jobs()) {
            // Freed right here when the worker has gone.
            let _ = jobs.send(Job::Free(Box::new(value)));
        }
    }
}

/// The worker thread, started on first use (a monitor that never sees a
/// large message never starts it), and what it finished.
pub(super) struct Offload(Arc<Worker>);

/// What the monitor thread and the connections' [`Freer`]s share.
struct Worker {
    /// The worker's queue once started; `None` inside when it could not
    /// be started (then everything runs on the monitor thread).
    jobs: OnceLock<Option<Sender<Job>>>,
    done: Arc<Mutex<VecDeque<Done>>>,
    shared: Arc<Shared>,
}

impl Offload {
    pub(super) fn new(shared: Arc<Shared>) -> Offload {
        Offload(Arc::new(Worker {
            jobs: OnceLock::new(),
            done: Arc::new(Mutex::new(VecDeque::new())),
            shared,
        }))
    }

    /// Parses `raw` on the worker; [`take_done`](Self::take_done) returns
    /// it once the monitor thread has been woken.
    pub(super) fn parse(&mut self, token: Token, session: u64, raw: RawMessage) {
        let job = Job::Parse {
            token,
            session,
            raw,
        };
        if let Err(mpsc::SendError(job)) = self.send(job) {
            run(job, &self.0.done, &self.0.shared);
        }
    }

    /// Frees `value` on the worker (a large free is a page-by-page unmap).
    pub(super) fn free(&mut self, value: impl Send + 'static) {
        // Freed right here when the worker cannot take it.
        let _ = self.send(Job::Free(Box::new(value)));
    }

    /// A handle that frees on the worker, for a connection; it starts
    /// nothing until it has something to free.
    pub(super) fn freer(&self) -> Freer {
        Freer(Some(Arc::clone(&self.0)))
    }

    /// The messages parsed since the last call, in the order they were
    /// handed out.
    pub(super) fn take_done(&self) -> VecDeque<Done> {
        std::mem::take(&mut *self.0.done.lock())
    }

    fn send(&mut self, job: Job) -> Result<(), mpsc::SendError<Job>> {
        match self.0.jobs() {
            Some(jobs) => jobs.send(job),
            None => Err(mpsc::SendError(job)),
        }
    }
}

impl Worker {
    /// The worker's queue, starting the worker on first use; `None` when
    /// it could not be started.
    fn jobs(&self) -> Option<&Sender<Job>> {
        self.jobs.get_or_init(|| self.start()).as_ref()
    }

    /// Starts the worker; it stops when the last sender (the `Offload`'s
    /// and the connections' `Freer`s) is dropped.
    fn start(&self) -> Option<Sender<Job>> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let done = Arc::clone(&self.done);
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("monitor-offload".to_owned())
            .spawn(move || {
                for job in queue {
                    run(job, &done, &shared);
                }
            });
        match spawned {
            Ok(_) => Some(jobs),
            Err(e) => {
                log::warn!("cannot start the thread that parses large messages: {e}; parsing them on the monitor thread");
                None
            }
        }
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("started", &self.jobs.get().is_some_and(Option::is_some))
            .field("done", &self.done.lock().len())
            .finish()
    }
}

impl std::fmt::Debug for Offload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn run(job: Job, done: &Mutex<VecDeque<Done>>, shared: &Shared) {
    let (token, session, raw) = match job {
        Job::Parse {
            token,
            session,
            raw,
        } => (token, session, raw),
        Job::Free(value) => return drop(value),
    };
    // The parser is fuzzed; should it panic all the same, the client gets
    // an error and the worker lives on.
    let parsed = catch_unwind(AssertUnwindSafe(|| Parsed::from_raw(raw))).unwrap_or_else(|_| {
        log::error!("session {session}: parsing a large message panicked");
        Parsed::failed()
    });
    done.lock().push_back(Done {
        token,
        session,
        parsed,
    });
    shared.wake();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Dispatcher, Session};
    use crate::{Emitter, Registry, StateMap};

    /// What a session answers to `input` (after negotiation), parsing
    /// messages of `offload_at` bytes or more through `Parsed::from_raw`.
    fn answers(input: &[u8], offload_at: Option<usize>) -> Vec<u8> {
        let registry = Registry::with_inventory().unwrap();
        let dispatcher = Dispatcher::new(registry, StateMap::default(), Emitter::new());
        let mut session = Session::new(1, "test", true);
        let mut out = Vec::new();
        session.feed(&dispatcher, br#"{"execute": "qmp_capabilities"}"#, &mut out);
        out.clear();
        session.set_offload(offload_at);
        let mut rest = input;
        let mut all = Vec::new();
        while !rest.is_empty() || session.is_parsing() {
            let (used, _) = session.step(&dispatcher, rest, &mut out);
            rest = &rest[used..];
            if let Some(raw) = session.take_raw() {
                assert!(session.is_parsing() && !session.wants_input());
                session.deliver(&dispatcher, Parsed::from_raw(raw), &mut out);
            }
            all.extend(crate::response::join(&out, session.take_splices()));
            out.clear();
        }
        all
    }

    #[test]
    fn messages_parsed_elsewhere_are_answered_byte_for_byte_alike() {
        let long = "x".repeat(100 << 10);
        let input = format!(
            r#"{{"execute": "query-version", "id": "{long}"}}
               {{"execute": "nope", "id": {{"b": ["{long}"], "a": 1}}}}
               {{"id": "{long}"}}
               {{"execute": "query-version", "arguments": {{"x": "{long}"}}, "id": 7}}
               ["{long}": 1]
               {{"execute": "query-version", "id": 8}}"#
        );
        let inline = answers(input.as_bytes(), None);
        assert_eq!(inline.split(|&b| b == b'\n').count(), 7, "six answers");
        for at in [1 << 10, 1] {
            let offloaded = answers(input.as_bytes(), Some(at));
            let same = offloaded
                .iter()
                .zip(&inline)
                .take_while(|(a, b)| a == b)
                .count();
            assert!(
                offloaded == inline,
                "offloaded at {at}: {} bytes, inline {}; they differ from byte {same}: {:?}",
                offloaded.len(),
                inline.len(),
                String::from_utf8_lossy(
                    &offloaded[same.saturating_sub(40)..(same + 40).min(offloaded.len())]
                )
            );
        }
    }
}
