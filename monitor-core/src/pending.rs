//! Commands that answer later: completion handles, futures, cancellation.
//!
//! A handler may *defer* its answer:
//! - callback style: [`Context::defer`](crate::Context::defer) gives a
//!   [`Completion`] (Send + 'static) that any thread resolves exactly once;
//!   a handle dropped without an answer resolves to a `GenericError`;
//! - async style: [`Context::spawn`](crate::Context::spawn) hands over a
//!   future that the monitor thread polls, woken through the mio waker.
//!
//! When the client goes away its pending commands are cancelled: handles see
//! [`Completion::is_cancelled`], futures are dropped, and a late answer is
//! discarded by the monitor.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::CommandError;
use crate::reply::{Outcome, Reply};

/// A future polled on the monitor thread.
pub type LocalFuture = Pin<Box<dyn Future<Output = Outcome>>>;

/// Something to call when work is posted (the server's waker).
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// A deferred answer, identified by session and request token.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) session: u64,
    pub(crate) token: u64,
    pub(crate) outcome: Outcome,
}

/// Where other threads post answers and wake-ups for the monitor thread.
#[derive(Default)]
pub(crate) struct Mailbox {
    finished: Mutex<Vec<Finished>>,
    woken: Mutex<Vec<(u64, u64)>>,
    notify: Mutex<Option<Notify>>,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("finished", &self.finished.lock().len())
            .field("woken", &self.woken.lock().len())
            .finish()
    }
}

impl Mailbox {
    fn notify(&self) {
        let notify = self.notify.lock().clone();
        if let Some(notify) = notify {
            notify();
        }
    }

    pub(crate) fn post(&self, finished: Finished) {
        self.finished.lock().push(finished);
        self.notify();
    }

    pub(crate) fn wake(&self, session: u64, token: u64) {
        self.woken.lock().push((session, token));
        self.notify();
    }

    pub(crate) fn take_finished(&self) -> Vec<Finished> {
        std::mem::take(&mut *self.finished.lock())
    }

    pub(crate) fn take_woken(&self) -> Vec<(u64, u64)> {
        std::mem::take(&mut *self.woken.lock())
    }

    /// Takes what was posted for one session, leaving the rest.
    pub(crate) fn take_for(&self, session: u64) -> (Vec<Finished>, Vec<(u64, u64)>) {
        let finished = {
            let mut all = self.finished.lock();
            let (mine, rest) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|f| f.session == session);
            *all = rest;
            mine
        };
        let woken = {
            let mut all = self.woken.lock();
            let (mine, rest) = std::mem::take(&mut *all)
                .into_iter()
                .partition(|&(s, _)| s == session);
            *all = rest;
            mine
        };
        (finished, woken)
    }

    pub(crate) fn set_notify(&self, notify: Option<Notify>) {
        *self.notify.lock() = notify;
    }
}

/// Wakes the monitor thread to poll one future again.
pub(crate) struct TaskWaker {
    pub(crate) session: u64,
    pub(crate) token: u64,
    pub(crate) mailbox: Arc<Mailbox>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.mailbox.wake(self.session, self.token);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mailbox.wake(self.session, self.token);
    }
}

/// Polls a future once with a waker that reposts (session, token).
pub(crate) fn poll_once(
    future: &mut LocalFuture,
    session: u64,
    token: u64,
    mailbox: &Arc<Mailbox>,
) -> Poll<Outcome> {
    let waker = Waker::from(Arc::new(TaskWaker {
        session,
        token,
        mailbox: Arc::clone(mailbox),
    }));
    let mut cx = TaskContext::from_waker(&waker);
    future.as_mut().poll(&mut cx)
}

/// The answer to one deferred command, to be given exactly once, from any
/// thread. Dropping it unanswered answers with a `GenericError`.
///
/// # Examples
///
/// ```
/// use monitor_core::{qmp_command, CommandError};
/// use monitor_core::pending::Completion;
/// # fn main() {}
///
/// /// Answer after `ms` milliseconds, from another thread.
/// #[qmp_command(name = "x-doc-sleep")]
/// fn x_doc_sleep(ms: u64, done: Completion<()>) {
///     std::thread::spawn(move || {
///         std::thread::sleep(std::time::Duration::from_millis(ms));
///         if !done.is_cancelled() {
///             done.complete(Ok::<(), CommandError>(()));
///         }
///     });
/// }
/// ```
pub struct Completion<T = ()> {
    inner: Option<Inner>,
    _result: PhantomData<fn(T)>,
}

struct Inner {
    session: u64,
    token: u64,
    command: Arc<str>,
    cancelled: Arc<AtomicBool>,
    mailbox: Arc<Mailbox>,
}

impl<T> std::fmt::Debug for Completion<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(i) => f
                .debug_struct("Completion")
                .field("command", &i.command)
                .field("session", &i.session)
                .field("cancelled", &i.cancelled.load(Ordering::Relaxed))
                .finish(),
            None => f.write_str("Completion(answered)"),
        }
    }
}

impl<T: Serialize> Completion<T> {
    pub(crate) fn new(
        session: u64,
        token: u64,
        command: Arc<str>,
        cancelled: Arc<AtomicBool>,
        mailbox: Arc<Mailbox>,
    ) -> Self {
        Completion {
            inner: Some(Inner {
                session,
                token,
                command,
                cancelled,
                mailbox,
            }),
            _result: PhantomData,
        }
    }

    /// Answers the command with a value (`complete(Ok(value))` without
    /// naming an error type).
    pub fn ok(self, value: T) {
        self.complete(Ok::<T, CommandError>(value));
    }

    /// Answers the command with a value or an error.
    pub fn complete<E: Into<CommandError>>(mut self, result: Result<T, E>) {
        if let Some(inner) = self.inner.take() {
            let outcome = result.map_err(Into::into).and_then(|v| Reply::new(&v));
            inner.mailbox.post(Finished {
                session: inner.session,
                token: inner.token,
                outcome,
            });
        }
    }

    /// Whether the client went away (the answer would be discarded).
    pub fn is_cancelled(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.cancelled.load(Ordering::Acquire))
    }

    /// The command being answered.
    pub fn command(&self) -> &str {
        self.inner.as_ref().map_or("", |i| &i.command)
    }
}

impl<T> Drop for Completion<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let desc = format!(
                "The command {} was dropped without an answer",
                inner.command
            );
            inner.mailbox.post(Finished {
                session: inner.session,
                token: inner.token,
                outcome: Err(CommandError::generic(desc)),
            });
        }
    }
}

/// A one-shot channel from any thread to a future on the monitor thread.
///
/// # Examples
///
/// ```
/// let (tx, rx) = monitor_core::pending::oneshot::<u32>();
/// std::thread::spawn(move || tx.send(7));
/// // In an async command: `let seven = rx.await;` (None if the sender was dropped).
/// # drop(rx);
/// ```
pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Mutex::new(Slot {
        value: None,
        closed: false,
        waker: None,
    }));
    (
        Sender {
            slot: Arc::clone(&slot),
        },
        Receiver { slot },
    )
}

struct Slot<T> {
    value: Option<T>,
    closed: bool,
    waker: Option<Waker>,
}

/// The sending half of [`oneshot`].
pub struct Sender<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender")
    }
}

impl<T> Sender<T> {
    /// Sends the value and wakes the receiver.
    pub fn send(self, value: T) {
        let waker = {
            let mut slot = self.slot.lock();
            slot.value = Some(value);
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.slot.lock();
            slot.closed = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The receiving half of [`oneshot`]: a future of `Option<T>` (`None` when
/// the sender was dropped without sending).
pub struct Receiver<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Receiver")
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        let mut slot = self.slot.lock();
        if let Some(v) = slot.value.take() {
            return Poll::Ready(Some(v));
        }
        if slot.closed {
            return Poll::Ready(None);
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// How a handler deferred its answer.
pub(crate) enum Deferred {
    Callback(Arc<AtomicBool>),
    Future(LocalFuture),
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deferred::Callback(_) => f.write_str("Deferred::Callback"),
            Deferred::Future(_) => f.write_str("Deferred::Future"),
        }
    }
}
