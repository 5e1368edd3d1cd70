//! Events: built once, serialised once, delivered to every negotiated session.
//!
//! An [`Emitter`] is a cheap handle (Clone + Send + Sync) any thread may use;
//! emission never blocks on I/O: the line is queued and the monitor thread is
//! woken to copy it into each session's output buffer between responses.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

use crate::error::CommandError;
use crate::reply::Reply;
use crate::schema::SchemaHook;
use crate::throttle::{PendingEvent, Policy, Rule, Throttle};
use crate::wire;

/// Bytes of event lines waiting for the monitor thread, at most this much
/// (128 MiB: a burst of a million events of 130 bytes each). An event that
/// would pass it is dropped, and the monitor thread logs how many were
/// dropped when it next takes the queue. The monitor thread takes the
/// queue every turn, so only a burst emitted while it is busy (from a
/// handler, or while one runs) can get there.
pub const EVENT_QUEUE_BYTES: usize = 128 << 20;

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
        self.write_line(&mut out);
        out
    }

    /// Appends [`to_line`](Self::to_line) to `out`.
    fn write_line(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"timestamp\": {\"seconds\": ");
        write_int(out, self.timestamp.seconds);
        out.extend_from_slice(b", \"microseconds\": ");
        write_int(out, self.timestamp.microseconds);
        out.extend_from_slice(b"}, \"event\": ");
        wire::write_str(out, &self.name);
        if let Some(data) = &self.data {
            out.extend_from_slice(b", \"data\": ");
            out.extend_from_slice(data.as_bytes());
        }
        out.extend_from_slice(b"}\r\n");
    }

    /// At least the length of its line (the name may grow when escaped).
    fn min_line_len(&self) -> usize {
        64 + self.name.len() + self.data.as_ref().map_or(0, |d| d.as_bytes().len())
    }
}

/// Appends `v` in decimal, without going through `fmt`.
fn write_int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    let mut n = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        // n % 10 < 10: the cast cannot truncate.
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
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
/// let events = emitter.receiver().unwrap();
/// emitter.emit(RtcChange { offset: 3 });
/// let line = String::from_utf8(events.take_pending()[0].to_vec()).unwrap();
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

/// Event lines waiting for the monitor thread, laid end to end.
#[derive(Default)]
struct Queue {
    /// Complete lines (each ends with CR LF), oldest first.
    bytes: Vec<u8>,
    /// Events dropped because the queue was full, since the last take.
    dropped: u64,
}

impl Queue {
    /// Writes `event`'s line straight into the queue, if it fits under
    /// [`EVENT_QUEUE_BYTES`]; returns whether it was queued.
    fn push_event(&mut self, event: &Event) -> bool {
        let start = self.bytes.len();
        if start + event.min_line_len() > EVENT_QUEUE_BYTES {
            self.dropped += 1;
            return false;
        }
        event.write_line(&mut self.bytes);
        if self.bytes.len() > EVENT_QUEUE_BYTES {
            self.bytes.truncate(start);
            self.dropped += 1;
            return false;
        }
        true
    }

    /// Appends the lines that fit under [`EVENT_QUEUE_BYTES`]; returns
    /// whether any was queued.
    fn push(&mut self, lines: impl IntoIterator<Item = PendingEvent>) -> bool {
        let mut any = false;
        for event in lines {
            let line = event.line();
            if self.bytes.len() + line.len() > EVENT_QUEUE_BYTES {
                self.dropped += 1;
                continue;
            }
            self.bytes.extend_from_slice(line);
            any = true;
        }
        any
    }
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    pending: AtomicBool,
    /// The [`EventReceiver`] is out (a monitor holds it while it runs).
    received: AtomicBool,
    notify: Mutex<Option<Notify>>,
    /// Rate limiting, shared by every client (QEMU's table by default).
    /// Locked before `queue` when both are.
    throttle: Mutex<Throttle>,
}

/// The handle that emits events, from any thread.
///
/// Emission serialises the event once, passes it through the
/// [`throttle`](crate::throttle) (QEMU's table by default: RTC_CHANGE,
/// BALLOON_CHANGE, ... at most once a second) and queues its line; the
/// monitor thread appends the queue to one event log that every
/// negotiated session reads from (no copy per client).
///
/// # Examples
///
/// ```
/// use monitor_core::{Emitter, Event};
///
/// let emitter = Emitter::new();
/// let events = emitter.receiver().unwrap();
/// emitter.emit(Event::new("STOP"));
/// let lines = events.take_pending();
/// assert!(lines[0].ends_with(b"\"event\": \"STOP\"}\r\n"));
///
/// // Throttled: the second RTC_CHANGE within a second is held back.
/// emitter.emit(Event::new("RTC_CHANGE"));
/// emitter.emit(Event::new("RTC_CHANGE"));
/// assert_eq!(events.take_pending().len(), 1);
/// assert!(emitter.next_deadline().is_some());
/// ```
#[derive(Clone, Default)]
pub struct Emitter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("pending_bytes", &self.inner.queue.lock().bytes.len())
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
        let event = event.into_event();
        let mut throttle = self.inner.throttle.lock();
        let queued = if throttle.passes_at_once(event.name()) {
            // Nothing to hold back and nothing held: the line goes
            // straight into the queue, with no copy and no clock read.
            self.inner.queue.lock().push_event(&event)
        } else {
            let now = Instant::now();
            let mut due = Vec::with_capacity(1);
            // Periods that ended before this event go out before it.
            throttle.expire(now, &mut due);
            due.extend(throttle.offer(PendingEvent::from(&event), now));
            self.inner.queue.lock().push(due)
        };
        drop(throttle);
        if queued {
            self.wake();
        }
    }

    /// Queues lines already past the throttle.
    fn queue(&self, lines: Vec<PendingEvent>) {
        let queued = {
            let _throttle = self.inner.throttle.lock();
            self.inner.queue.lock().push(lines)
        };
        if queued {
            self.wake();
        }
    }

    /// Wakes the monitor thread for queued events.
    fn wake(&self) {
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

    /// The one [`EventReceiver`] of this emitter, unless it is out: a
    /// monitor holds it from [`spawn`](crate::MonitorBuilder::spawn) until
    /// it stops, so no one else can take the events its clients are owed.
    /// Dropping the receiver gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::{Emitter, Event};
    ///
    /// let emitter = Emitter::new();
    /// let events = emitter.receiver().expect("nobody holds it");
    /// assert!(emitter.receiver().is_none(), "one receiver at a time");
    /// emitter.emit(Event::new("STOP"));
    /// assert_eq!(events.take_pending().len(), 1);
    /// ```
    pub fn receiver(&self) -> Option<EventReceiver> {
        if self.inner.received.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(EventReceiver {
            inner: Arc::clone(&self.inner),
        })
    }

    /// Sets the throttle rule of one event (a zero period removes it);
    /// events it held back are sent now.
    pub fn set_throttle_rule(&self, name: impl Into<Cow<'static, str>>, rule: Rule) {
        let flushed = self.inner.throttle.lock().set_rule(name, rule);
        self.queue(flushed);
    }

    /// Stops throttling one event; events it held back are sent now.
    pub fn remove_throttle_rule(&self, name: &str) {
        let flushed = self.inner.throttle.lock().remove_rule(name);
        self.queue(flushed);
    }

    /// Replaces the whole throttle policy.
    pub fn set_throttle_policy(&self, policy: Policy) {
        let flushed = self.inner.throttle.lock().set_policy(policy);
        self.queue(flushed);
    }

    /// Turns throttling off (everything held back is sent now) or on.
    pub fn set_throttling(&self, enabled: bool) {
        let flushed = self.inner.throttle.lock().set_enabled(enabled);
        self.queue(flushed);
    }

    /// Events the throttle holds back right now (for tests and metrics).
    pub fn throttled(&self) -> usize {
        self.inner.throttle.lock().kept()
    }

    /// The throttle policy in force.
    pub fn throttle_policy(&self) -> Policy {
        self.inner.throttle.lock().policy().clone()
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

/// An event as the throttle takes it: its line, built once, and its data.
///
/// # Examples
///
/// ```
/// use monitor_core::{throttle::PendingEvent, Event};
///
/// let event = Event::new("STOP");
/// let pending = PendingEvent::from(&event);
/// assert_eq!(pending.name(), "STOP");
/// assert_eq!(pending.data(), None);
/// ```
impl From<&Event> for PendingEvent {
    fn from(event: &Event) -> Self {
        let pending = PendingEvent::new(event.name().to_owned(), event.to_line());
        match event.data() {
            Some(data) => pending.with_data(data.as_bytes()),
            None => pending,
        }
    }
}

/// Where an [`Emitter`]'s events come out: the event lines due, each
/// once, for a transport of your own over [`Session`](crate::session::Session)s
/// or for a test. An emitter has one ([`Emitter::receiver`]); a running
/// monitor holds its emitter's.
pub struct EventReceiver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventReceiver")
            .field("pending_bytes", &self.inner.queue.lock().bytes.len())
            .finish()
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        self.inner.received.store(false, Ordering::Release);
    }
}

impl EventReceiver {
    /// Whether events are waiting (cheap).
    pub fn has_pending(&self) -> bool {
        self.inner.pending.load(Ordering::Acquire)
    }

    /// The next time a throttled event is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.inner.throttle.lock().next_deadline()
    }

    /// Takes every event line due now, oldest first: queued events, then
    /// throttled ones whose period ended.
    pub fn take_pending(&self) -> Vec<Arc<[u8]>> {
        self.take_due(Instant::now())
    }

    /// [`take_pending`](Self::take_pending) with the time given.
    pub fn take_due(&self, now: Instant) -> Vec<Arc<[u8]>> {
        let bytes = self.take_bytes(now);
        bytes
            .split_inclusive(|&b| b == b'\n')
            .map(Arc::from)
            .collect()
    }

    /// What [`take_due`](Self::take_due) takes, as the lines laid end to
    /// end (each ends with CR LF): what the server appends to its event log.
    pub(crate) fn take_bytes(&self, now: Instant) -> Vec<u8> {
        let mut expired = Vec::new();
        let mut throttle = self.inner.throttle.lock();
        throttle.expire(now, &mut expired);
        let mut queue = self.inner.queue.lock();
        self.inner.pending.store(false, Ordering::Release);
        queue.push(expired);
        if queue.dropped > 0 {
            log::warn!(
                "event queue full ({} MiB): dropped {} events",
                EVENT_QUEUE_BYTES >> 20,
                queue.dropped
            );
            queue.dropped = 0;
        }
        std::mem::take(&mut queue.bytes)
    }
}

/// An event the monitor declares (listed by `query-events` and the schema).
///
/// # Examples
///
/// ```
/// use monitor_core::{schema::schema_of, EventDescriptor};
///
/// let stop = EventDescriptor::new("STOP");
/// let rtc = EventDescriptor::new("RTC_CHANGE").data(schema_of::<std::collections::BTreeMap<String, i64>>);
/// assert_eq!(stop.name(), "STOP");
/// assert_eq!(rtc.name(), "RTC_CHANGE");
/// ```
#[derive(Debug, Clone)]
pub struct EventDescriptor {
    pub(crate) name: String,
    pub(crate) data: Option<SchemaHook>,
    pub(crate) features: Vec<String>,
    pub(crate) origin: String,
}

impl EventDescriptor {
    /// An event without data.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        EventDescriptor {
            origin: format!("event `{name}` added at run time"),
            name,
            data: None,
            features: Vec::new(),
        }
    }

    /// The schema hook of its data.
    pub fn data(mut self, hook: SchemaHook) -> Self {
        self.data = Some(hook);
        self
    }

    /// Where it was declared, for duplicate-name errors.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = origin.into();
        self
    }

    /// Adds feature flags.
    pub fn features<I: IntoIterator<Item = S>, S: Into<String>>(mut self, features: I) -> Self {
        self.features.extend(features.into_iter().map(Into::into));
        self
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A compile-time event declaration (what `#[derive(Event)]` submits).
#[derive(Debug)]
pub struct EventRegistration {
    /// Event name.
    pub name: &'static str,
    /// Data schema hook (`None`: no data).
    pub data: Option<SchemaHook>,
    /// Where it is declared.
    pub origin: &'static str,
    /// Feature flags.
    pub features: &'static [&'static str],
}

impl EventRegistration {
    pub(crate) fn to_descriptor(&self) -> EventDescriptor {
        EventDescriptor {
            name: self.name.to_owned(),
            data: self.data,
            features: self.features.iter().map(|f| (*f).to_owned()).collect(),
            origin: self.origin.to_owned(),
        }
    }
}

inventory::collect!(EventRegistration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_to_string_writes_them() {
        for v in [0, 7, -1, 10, 999_999, -1_234_567_890, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_int(&mut out, v);
            assert_eq!(out, v.to_string().into_bytes());
        }
    }

    /// An unthrottled event takes the direct path, a throttled one the
    /// throttle's: their lines are written alike.
    #[test]
    fn both_paths_write_the_same_line() {
        let emitter = Emitter::new();
        let events = emitter.receiver().unwrap();
        let at = Timestamp {
            seconds: 1_700_000_000,
            microseconds: 42,
        };
        let data = serde_json::json!({"offset": -3, "name": "é"});
        let make = |name: &'static str| Event::new(name).at(at).with_data(&data).unwrap();
        emitter.emit(make("X_DIRECT"));
        emitter.emit(make("RTC_CHANGE"));
        let lines = events.take_pending();
        assert_eq!(lines.len(), 2);
        let direct = String::from_utf8(lines[0].to_vec()).unwrap();
        let throttled = String::from_utf8(lines[1].to_vec()).unwrap();
        assert_eq!(direct.replace("X_DIRECT", "RTC_CHANGE"), throttled);
        assert_eq!(lines[0].as_ref(), make("X_DIRECT").to_line().as_slice());
    }

    /// Defect 2 of the hostile-client review: the queue was bounded in
    /// events (65,536 of any size: gigabytes with large data). Now in bytes.
    #[test]
    fn defect_02_the_queue_is_bounded_in_bytes() {
        let emitter = Emitter::new();
        let events = emitter.receiver().unwrap();
        let blob = "b".repeat(256 << 10);
        let data = serde_json::json!({ "blob": blob });
        // 600 events of 256 KiB: 150 MiB, over the 128 MiB bound.
        for _ in 0..600 {
            emitter.emit(Event::new("BIG").with_data(&data).unwrap());
        }
        let bytes = events.take_bytes(Instant::now());
        assert!(bytes.len() <= EVENT_QUEUE_BYTES, "{} bytes", bytes.len());
        let kept = bytes.split_inclusive(|&b| b == b'\n').count();
        assert!(kept < 600 && kept > 400, "{kept} events kept");
        // The oldest are kept, whole lines only.
        assert!(bytes.ends_with(b"}\r\n"));
        // Room again once taken.
        emitter.emit(Event::new("SMALL"));
        assert_eq!(events.take_pending().len(), 1);
    }

    #[test]
    fn pending_event_from_event_keeps_name_data_and_line() {
        let event = Event::new("VSERPORT_CHANGE")
            .with_data(&serde_json::json!({"id": "a\"b", "open": false}))
            .unwrap();
        let pending = PendingEvent::from(&event);
        assert_eq!(pending.name(), "VSERPORT_CHANGE");
        assert_eq!(pending.data(), Some(event.data().unwrap().as_bytes()));
        assert_eq!(&pending.clone().into_line()[..], &event.to_line()[..]);
        assert!(format!("{pending:?}").contains("VSERPORT_CHANGE"));
        let stop = PendingEvent::from(&Event::new("STOP"));
        assert_eq!(stop.data(), None);
    }
}
