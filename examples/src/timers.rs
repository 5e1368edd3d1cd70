//! Deferred commands answered at a deadline, all from one thread.
//!
//! A command that answers "later" must not cost a thread per call: a
//! client can send thousands of them. [`Timers`] keeps every pending
//! answer in one heap ordered by deadline, served by one thread that
//! sleeps until the nearest. Answers whose client went away are dropped
//! as soon as the monitor reports a disconnect ([`Timers::sweep`], from
//! `MonitorBuilder::on_disconnect`), so they hold nothing until their
//! deadline.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use monitor_core::pending::Completion;

/// One pending answer.
struct Entry {
    at: Instant,
    /// Arrival order, so equal deadlines answer first come, first served.
    seq: u64,
    done: Completion<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    /// Reversed: the heap's top is the earliest deadline.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Entry>,
    next_seq: u64,
    /// A client left: drop the cancelled answers.
    sweep: bool,
    /// The [`Timers`] handle was dropped: the thread ends.
    stop: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    changed: Condvar,
}

impl Shared {
    /// The queue; a panic elsewhere while holding it leaves it usable (it
    /// is consistent between any two statements).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Answers [`Completion`]s at deadlines, from one thread.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use examples::timers::Timers;
/// use monitor_core::{pending::Completion, qmp_command, CommandError, Monitor};
///
/// /// Answer after `ms` milliseconds.
/// #[qmp_command(name = "x-doc-later")]
/// fn x_doc_later(ms: u32, timers: &Timers, done: Completion<()>) {
///     timers.answer_at(Instant::now() + Duration::from_millis(ms.into()), done);
/// }
///
/// let timers = Arc::new(Timers::start()?);
/// let sweeper = Arc::clone(&timers);
/// let builder = Monitor::builder()
///     .shared_state(timers)
///     .on_disconnect(move |_| sweeper.sweep());
/// # let _ = builder;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Timers {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("pending", &self.pending())
            .finish()
    }
}

impl Timers {
    /// Starts the thread.
    ///
    /// # Errors
    ///
    /// The operating system refused a thread.
    pub fn start() -> std::io::Result<Timers> {
        let shared = Arc::new(Shared::default());
        let serving = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("timers".into())
            .spawn(move || serve(&serving))?;
        Ok(Timers { shared })
    }

    /// Answers `done` with success at `at` (at once if that has passed),
    /// unless its client leaves first.
    pub fn answer_at(&self, at: Instant, done: Completion<()>) {
        let mut queue = self.shared.lock();
        let seq = queue.next_seq;
        queue.next_seq += 1;
        queue.heap.push(Entry { at, seq, done });
        drop(queue);
        self.shared.changed.notify_one();
    }

    /// Drops the answers whose client went away (they would be discarded
    /// anyway); call it when a client disconnects.
    pub fn sweep(&self) {
        self.shared.lock().sweep = true;
        self.shared.changed.notify_one();
    }

    /// Answers not given yet (including cancelled ones not swept yet).
    pub fn pending(&self) -> usize {
        self.shared.lock().heap.len()
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_one();
    }
}

/// The thread: answers what is due, sleeps until the next deadline or a
/// change.
fn serve(shared: &Shared) {
    let mut queue = shared.lock();
    loop {
        if queue.stop {
            return;
        }
        if std::mem::take(&mut queue.sweep) {
            queue.heap.retain(|e| !e.done.is_cancelled());
        }
        let now = Instant::now();
        let mut due = Vec::new();
        while queue.heap.peek().is_some_and(|e| e.at <= now) {
            due.extend(queue.heap.pop());
        }
        if !due.is_empty() {
            // Answer without holding the queue.
            drop(queue);
            for entry in due {
                entry.done.ok(());
            }
            queue = shared.lock();
            continue;
        }
        queue = match queue.heap.peek().map(|e| e.at) {
            Some(at) => {
                let wait = at.saturating_duration_since(now);
                shared
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}
