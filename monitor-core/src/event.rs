//! Events: built once, serialised once, delivered to every negotiated session.
//!
//! An [`Emitter`] is a cheap handle (Clone + Send + Sync) any thread may use;
//! emission never blocks on I/O: the line is queued and the monitor thread is
//! woken to copy it into each session's output buffer between responses.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::command::Reply;
use crate::error::CommandError;
use crate::throttle::{PendingEvent, Policy, Rule, Throttle};
use crate::wire;

/// Events waiting for the monitor thread, at most this many (the oldest are
/// dropped beyond it, with a warning).
pub const EVENT_QUEUE_LIMIT: usize = 1 << 16;

/// Wall-clock time split as QEMU sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Microseconds within the second.
    pub microseconds: i64,
}

impl Timestamp {
    /// Now, from the host's real-time clock (`-1`/`-1` if it is before 1970,
    /// which the QMP specification allows).
    pub fn now() -> Self {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp {
                seconds: d.as_secs() as i64,
                microseconds: i64::from(d.subsec_micros()),
            },
            Err(_) => Timestamp {
                seconds: -1,
                microseconds: -1,
            },
        }
    }
}

/// An event: a name and optional data, stamped when built.
///
/// # Examples
///
/// ```
/// use monitor_core::Event;
///
/// let stop = Event::new("STOP");
/// let shutdown = Event::new("SHUTDOWN")
///     .with_data(&serde_json::json!({"guest": false, "reason": "host-qmp-quit"}))
///     .unwrap();
/// assert_eq!(shutdown.name(), "SHUTDOWN");
/// assert!(stop.data().is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    name: Cow<'static, str>,
    data: Option<Reply>,
    timestamp: Timestamp,
}

impl Event {
    /// An event without data, stamped now.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Event {
            name: name.into(),
            data: None,
            timestamp: Timestamp::now(),
        }
    }

    /// Attaches data (serialised now, once).
    ///
    /// # Errors
    ///
    /// When `data` cannot be serialised.
    pub fn with_data<T: Serialize + ?Sized>(mut self, data: &T) -> Result<Self, CommandError> {
        self.data = Some(Reply::new(data)?);
        Ok(self)
    }

    /// Replaces the timestamp (tests, replay).
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The serialised data, if any.
    pub fn data(&self) -> Option<&Reply> {
        self.data.as_ref()
    }

    /// When it was built.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The wire line: `{"timestamp": ..., "event": ..., "data": ...}\r\n`.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(b"{\"timestamp\": {\"seconds\": ");
        out.extend_from_slice(self.timestamp.seconds.to_string().as_bytes());
        out.extend_from_slice(b", \"microseconds\": ");
        out.extend_from_slice(self.timestamp.microseconds.to_string().as_bytes());
        out.extend_from_slice(b"}, \"event\": ");
        wire::write_str(&mut out, &self.name);
        if let Some(data) = &self.data {
            out.extend_from_slice(b", \"data\": ");
            out.extend_from_slice(data.as_bytes());
        }
        out.extend_from_slice(b"}\r\n");
        out
    }
}

/// An event type with a fixed name, checked at compile time
/// (`#[derive(Event)]` implements it).
///
/// # Examples
///
/// ```
/// use monitor_core::{Emitter, TypedEvent};
///
/// #[derive(serde::Serialize)]
/// struct RtcChange { offset: i64 }
///
/// impl TypedEvent for RtcChange {
///     const NAME: &'static str = "RTC_CHANGE";
/// }
///
/// let emitter = Emitter::new();
/// emitter.emit(RtcChange { offset: 3 });
/// let line = String::from_utf8(emitter.take_pending()[0].to_vec()).unwrap();
/// assert!(line.ends_with("\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 3}}\r\n"));
/// ```
pub trait TypedEvent: Serialize {
    /// The event name on the wire.
    const NAME: &'static str;
}

/// Anything [`Emitter::emit`] takes: an [`Event`] or a [`TypedEvent`].
pub trait IntoEvent {
    /// Builds the event (stamped now).
    fn into_event(self) -> Event;
}

impl IntoEvent for Event {
    fn into_event(self) -> Event {
        self
    }
}

impl<T: TypedEvent> IntoEvent for T {
    fn into_event(self) -> Event {
        let event = Event::new(T::NAME);
        match Reply::new(&self) {
            // A unit struct serialises as null: an event without data.
            Ok(data) if data.as_bytes() == b"{}" && is_unit(&self) => event,
            Ok(data) => Event {
                data: Some(data),
                ..event
            },
            Err(e) => {
                log::error!("event {}: cannot serialise its data: {e}", T::NAME);
                event
            }
        }
    }
}

/// Whether a value serialises as JSON `null` (a unit struct).
fn is_unit<T: Serialize + ?Sized>(value: &T) -> bool {
    let mut out = Vec::new();
    wire::to_writer(&mut out, value).is_ok() && out == b"null"
}

/// Something to call when events are queued (the server's waker).
pub(crate) type Notify = Arc<dyn Fn() + Send + Sync>;

/// An event waiting for the monitor thread.
#[derive(Debug)]
struct Queued {
    event: PendingEvent,
    /// Already past the throttle (flushed by a policy change).
    bypass: bool,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<VecDeque<Queued>>,
    pending: AtomicBool,
    notify: Mutex<Option<Notify>>,
    /// Rate limiting, shared by every client (QEMU's table by default).
    throttle: Mutex<Throttle>,
}

/// The handle that emits events, from any thread.
///
/// Emission serialises the event once and queues it; the monitor thread
/// passes it through the [`throttle`](crate::throttle) (QEMU's table by
/// default: RTC_CHANGE, BALLOON_CHANGE, ... at most once a second) and
/// copies the line to every negotiated session.
///
/// # Examples
///
/// ```
/// use monitor_core::{Emitter, Event};
///
/// let emitter = Emitter::new();
/// emitter.emit(Event::new("STOP"));
/// let lines = emitter.take_pending();
/// assert!(lines[0].ends_with(b"\"event\": \"STOP\"}\r\n"));
///
/// // Throttled: the second RTC_CHANGE within a second is held back.
/// emitter.emit(Event::new("RTC_CHANGE"));
/// emitter.emit(Event::new("RTC_CHANGE"));
/// assert_eq!(emitter.take_pending().len(), 1);
/// assert!(emitter.next_deadline().is_some());
/// ```
#[derive(Clone, Default)]
pub struct Emitter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("pending", &self.inner.queue.lock().len())
            .finish()
    }
}

impl Emitter {
    /// A detached emitter (a monitor attaches its own when spawned).
    pub fn new() -> Self {
        Self::default()
    }

    /// An emitter with a throttle policy other than QEMU's.
    pub fn with_policy(policy: Policy) -> Self {
        let emitter = Self::default();
        *emitter.inner.throttle.lock() = Throttle::new(policy);
        emitter
    }

    /// Queues an event for every negotiated session. Never blocks on I/O.
    pub fn emit(&self, event: impl IntoEvent) {
        let event = PendingEvent::from_event(&event.into_event());
        self.queue(std::iter::once(Queued {
            event,
            bypass: false,
        }));
    }

    fn queue(&self, items: impl IntoIterator<Item = Queued>) {
        let mut any = false;
        {
            let mut queue = self.inner.queue.lock();
            for item in items {
                if queue.len() >= EVENT_QUEUE_LIMIT {
                    queue.pop_front();
                    log::warn!("event queue full; dropped the oldest event");
                }
                queue.push_back(item);
                any = true;
            }
        }
        if !any {
            return;
        }
        // One wake-up per batch: if events were already pending, the
        // monitor has been woken and has not taken them yet (it clears the
        // flag under the queue lock, before it drains), so it will take
        // these too. A burst of N events costs one wake, not N.
        if self.inner.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let notify = self.inner.notify.lock().clone();
        if let Some(notify) = notify {
            notify();
        }
    }

    /// Whether events are waiting (cheap).
    pub fn has_pending(&self) -> bool {
        self.inner.pending.load(Ordering::Acquire)
    }

    /// The next time a throttled event is due (the monitor's poll timeout).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.inner.throttle.lock().next_deadline()
    }

    /// Takes every event line due now, oldest first: queued events that
    /// pass the throttle, then throttled ones whose period ended.
    pub fn take_pending(&self) -> Vec<Arc<[u8]>> {
        self.take_due(Instant::now())
    }

    /// [`take_pending`](Self::take_pending) with the time given.
    pub fn take_due(&self, now: Instant) -> Vec<Arc<[u8]>> {
        let queued: Vec<Queued> = {
            let mut queue = self.inner.queue.lock();
            self.inner.pending.store(false, Ordering::Release);
            queue.drain(..).collect()
        };
        let mut throttle = self.inner.throttle.lock();
        let mut expired = Vec::new();
        // Timers that ended before these events arrived go first.
        throttle.expire(now, &mut expired);
        let mut lines: Vec<Arc<[u8]>> = expired.into_iter().map(PendingEvent::into_line).collect();
        for q in queued {
            let due = if q.bypass {
                Some(q.event)
            } else {
                throttle.offer(q.event, now)
            };
            lines.extend(due.map(PendingEvent::into_line));
        }
        lines
    }

    /// Sets the throttle rule of one event (a zero period removes it);
    /// events it held back are sent now.
    pub fn set_throttle_rule(&self, name: impl Into<Cow<'static, str>>, rule: Rule) {
        let flushed = self.inner.throttle.lock().set_rule(name, rule);
        self.requeue(flushed);
    }

    /// Stops throttling one event; events it held back are sent now.
    pub fn remove_throttle_rule(&self, name: &str) {
        let flushed = self.inner.throttle.lock().remove_rule(name);
        self.requeue(flushed);
    }

    /// Replaces the whole throttle policy.
    pub fn set_throttle_policy(&self, policy: Policy) {
        let flushed = self.inner.throttle.lock().set_policy(policy);
        self.requeue(flushed);
    }

    /// Turns throttling off (everything held back is sent now) or on.
    pub fn set_throttling(&self, enabled: bool) {
        let flushed = self.inner.throttle.lock().set_enabled(enabled);
        self.requeue(flushed);
    }

    /// Events the throttle holds back right now (for tests and metrics).
    pub fn throttled(&self) -> usize {
        self.inner.throttle.lock().kept()
    }

    /// The throttle policy in force.
    pub fn throttle_policy(&self) -> Policy {
        self.inner.throttle.lock().policy().clone()
    }

    fn requeue(&self, flushed: Vec<PendingEvent>) {
        self.queue(flushed.into_iter().map(|event| Queued {
            event,
            bypass: true,
        }));
    }

    pub(crate) fn set_notify(&self, notify: Option<Notify>) {
        *self.inner.notify.lock() = notify.clone();
        // Events emitted before there was anyone to wake: later emits do
        // not wake while these are pending, so wake for them now.
        if let Some(notify) = notify {
            if self.has_pending() {
                notify();
            }
        }
    }
}
