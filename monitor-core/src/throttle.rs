//! Event rate limiting, as QEMU does it (`monitor_qapi_event_queue`;
//! `docs/PROTOCOL.md`, section 13).
//!
//! Some events can fire in bursts (a guest writing its RTC in a loop, a
//! balloon resizing); QEMU sends each of them at most once per *period* and
//! per *key*, for all monitors together. A [`Policy`] says which event names
//! are throttled, for how long, and which top-level member of the event's
//! `data` (if any) splits the name into independent keys. The rules for one
//! (name, key):
//!
//! 1. The first event is sent at once and opens a period: a timer is armed
//!    for `now + period`.
//! 2. Events arriving while the timer is armed replace each other: only the
//!    latest is kept, unchanged (its own payload, so its own timestamp).
//! 3. When the timer fires, the kept event (if any) is sent and the timer
//!    re-armed for `now + period`, `now` being when it fired (as QEMU reads
//!    its clock in the timer callback); if nothing is kept, the state is
//!    freed, so memory does not grow with the number of keys ever seen.
//! 4. Events whose name has no rule pass at once and create no state.
//!
//! A keyed rule whose member is absent from an event's data (or an event
//! without data) throttles that event under the key `None`, shared by every
//! such event of that name; QEMU asserts instead, which a library must not.
//!
//! [`Throttle`] holds the state. It touches no clock and no socket: the
//! monitor's poll loop passes the time to [`Throttle::offer`] and
//! [`Throttle::expire`], and sleeps at most until [`Throttle::next_deadline`].
//! An event offered after a deadline but before `expire` ran is kept, as in
//! QEMU when its main loop runs the timer late; `expire` then sends it.
//!
//! The policy can change at run time ([`Throttle::set_rule`],
//! [`Throttle::remove_rule`], [`Throttle::set_policy`],
//! [`Throttle::set_enabled`]):
//! - a new period applies from the next period (armed timers keep their
//!   deadline);
//! - a rule that disappears, or whose key member changes, and throttling
//!   turned off, drop the states concerned and return their kept events at
//!   once, in the order they were offered, for the caller to send.
//!
//! # Examples
//!
//! ```
//! use std::time::{Duration, Instant};
//! use monitor_core::throttle::{PendingEvent, Policy, Throttle};
//! use monitor_core::Event;
//!
//! let rtc = |offset: i64| {
//!     let event = Event::new("RTC_CHANGE").with_data(&serde_json::json!({"offset": offset}));
//!     PendingEvent::from(&event.unwrap())
//! };
//! let mut throttle = Throttle::new(Policy::qemu()); // RTC_CHANGE: 1 s
//! let t0 = Instant::now(); // any instant: the throttle never reads a clock
//! let ms = |n| t0 + Duration::from_millis(n);
//!
//! // The first event is sent at once and opens a one-second period.
//! assert!(throttle.offer(rtc(1), ms(0)).is_some());
//! assert_eq!(throttle.next_deadline(), Some(ms(1000)));
//!
//! // Within the period, events coalesce: only the latest is kept.
//! assert!(throttle.offer(rtc(2), ms(10)).is_none());
//! assert!(throttle.offer(rtc(3), ms(20)).is_none());
//!
//! // Nothing is due before the deadline...
//! let mut out = Vec::new();
//! throttle.expire(ms(999), &mut out);
//! assert!(out.is_empty());
//!
//! // ...then the kept event goes out and a new period opens.
//! throttle.expire(ms(1000), &mut out);
//! assert_eq!(out.len(), 1);
//! assert!(out[0].line().ends_with(b"\"data\": {\"offset\": 3}}\r\n"));
//! assert_eq!(throttle.next_deadline(), Some(ms(2000)));
//!
//! // A period that ends with nothing kept frees the state.
//! out.clear();
//! throttle.expire(ms(2000), &mut out);
//! assert!(out.is_empty() && throttle.is_empty());
//! assert!(throttle.offer(rtc(4), ms(2001)).is_some());
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod key;
mod policy;

pub use key::{key_from_data, key_from_value, Error};
pub use policy::{Policy, Rule};

/// An event on its way to the sessions: its name, its serialised data (to
/// find the throttle key) and its wire line (sent as is).
///
/// # Examples
///
/// ```
/// use monitor_core::{throttle::PendingEvent, Event};
///
/// let event = Event::new("VSERPORT_CHANGE")
///     .with_data(&serde_json::json!({"id": "channel0", "open": true}))
///     .unwrap();
/// let pending = PendingEvent::from(&event);
/// assert_eq!(pending.name(), "VSERPORT_CHANGE");
/// assert_eq!(pending.data(), Some(&br#"{"id": "channel0", "open": true}"#[..]));
/// assert_eq!(&pending.line()[..], &event.to_line()[..]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PendingEvent {
    name: Cow<'static, str>,
    data: Option<Box<[u8]>>,
    line: Arc<[u8]>,
}

impl PendingEvent {
    /// An event named `name` whose wire line is `line`, without data.
    pub fn new(name: impl Into<Cow<'static, str>>, line: impl Into<Arc<[u8]>>) -> Self {
        PendingEvent {
            name: name.into(),
            data: None,
            line: line.into(),
        }
    }

    /// Attaches the serialised data object (a JSON object text).
    pub fn with_data(mut self, data: impl Into<Box<[u8]>>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The serialised data, if any.
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The wire line.
    pub fn line(&self) -> &Arc<[u8]> {
        &self.line
    }

    /// Takes the wire line.
    pub fn into_line(self) -> Arc<[u8]> {
        self.line
    }
}

impl fmt::Debug for PendingEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingEvent")
            .field("name", &self.name)
            .field("line", &String::from_utf8_lossy(&self.line))
            .finish()
    }
}

/// A timer: its deadline, then a sequence number (unique; arming order).
type Timer = (Instant, u64);

/// The throttle state of one (name, key).
#[derive(Debug)]
struct State {
    timer: Timer,
    /// The latest event offered during the period, with its offer number.
    kept: Option<(u64, PendingEvent)>,
}

/// The throttle states of a monitor, shared by all its sessions.
///
/// `Throttle::default()` applies [`Policy::qemu`]. See the
/// [module documentation](self) for the rules and an example.
#[derive(Debug, Default)]
pub struct Throttle {
    policy: Policy,
    disabled: bool,
    /// Event name, then key, to state.
    states: HashMap<Cow<'static, str>, HashMap<Option<String>, State>>,
    /// Armed timers, earliest first.
    timers: BTreeMap<Timer, (Cow<'static, str>, Option<String>)>,
    /// Numbers timers and kept events.
    seq: u64,
}

impl Throttle {
    /// A throttle applying `policy`, with no state.
    pub fn new(policy: Policy) -> Self {
        Throttle {
            policy,
            disabled: false,
            states: HashMap::new(),
            timers: BTreeMap::new(),
            seq: 0,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether throttling is on (see [`Throttle::set_enabled`]).
    pub fn is_enabled(&self) -> bool {
        !self.disabled
    }

    /// Offers an event emitted at `now`: returns it if it must be sent now,
    /// or keeps it (dropping the one kept before for the same name and key)
    /// to send when its period ends.
    pub fn offer(&mut self, event: PendingEvent, now: Instant) -> Option<PendingEvent> {
        if self.disabled {
            return Some(event);
        }
        let Some(rule) = self.policy.get(&event.name) else {
            return Some(event);
        };
        let key = match (rule.key(), event.data()) {
            (Some(member), Some(data)) => key_from_data(data, member).unwrap_or_else(|e| {
                log::warn!("event {}: no throttle key: {e}", event.name);
                None
            }),
            _ => None,
        };
        let period = rule.period();
        let seq = self.next_seq();
        if let Some(state) = self
            .states
            .get_mut(&*event.name)
            .and_then(|keys| keys.get_mut(&key))
        {
            state.kept = Some((seq, event));
            return None;
        }
        let timer = (deadline(now, period), seq);
        self.timers.insert(timer, (event.name.clone(), key.clone()));
        self.states
            .entry(event.name.clone())
            .or_default()
            .insert(key, State { timer, kept: None });
        Some(event)
    }

    /// Whether an event named `name` offered now would come straight
    /// back, with nothing held to go out before it: no period is running
    /// and no rule applies to it (or throttling is off). Then
    /// [`offer`](Self::offer) and [`expire`](Self::expire) need not be
    /// called, nor the time read.
    pub fn passes_at_once(&self, name: &str) -> bool {
        self.timers.is_empty() && (self.disabled || self.policy.get(name).is_none())
    }

    /// The next time a period ends, if any is running.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first_key_value().map(|(&(at, _), _)| at)
    }

    /// Ends the periods whose deadline is at or before `now`, in deadline
    /// order: appends their kept events to `out` and re-arms their timers
    /// for `now` plus the period, or frees the states that kept nothing.
    pub fn expire(&mut self, now: Instant, out: &mut Vec<PendingEvent>) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (name, key) = entry.remove();
            let period = self.policy.get(&name).map(Rule::period);
            let Some(keys) = self.states.get_mut(&name) else {
                continue;
            };
            let Some(state) = keys.get_mut(&key) else {
                continue;
            };
            match (state.kept.take(), period) {
                (Some((_, event)), Some(period)) => {
                    out.push(event);
                    self.seq += 1;
                    state.timer = (deadline(now, period), self.seq);
                    self.timers.insert(state.timer, (name, key));
                }
                (kept, _) => {
                    // Nothing kept (or no rule left, which set_rule prevents).
                    out.extend(kept.map(|(_, event)| event));
                    keys.remove(&key);
                    if keys.is_empty() {
                        self.states.remove(&name);
                    }
                }
            }
        }
    }

    /// Sets the rule of `name` (a zero period removes it, as
    /// [`Throttle::remove_rule`]). If only the period changes, armed timers
    /// keep their deadline and the new period applies from the next one; if
    /// the key member changes, the name's states are dropped and their kept
    /// events returned, to be sent now.
    #[must_use = "the returned events must be sent"]
    pub fn set_rule(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        rule: Rule,
    ) -> Vec<PendingEvent> {
        let name = name.into();
        let mut flushed = Vec::new();
        if self.policy.get(&name).map(Rule::key) != Some(rule.key()) || rule.period().is_zero() {
            self.drop_states(&name, &mut flushed);
        }
        self.policy.set(name, rule);
        sorted(flushed)
    }

    /// Removes the rule of `name`: its states are dropped and their kept
    /// events returned, in the order they were offered, to be sent now.
    #[must_use = "the returned events must be sent"]
    pub fn remove_rule(&mut self, name: &str) -> Vec<PendingEvent> {
        let mut flushed = Vec::new();
        self.drop_states(name, &mut flushed);
        self.policy.remove(name);
        sorted(flushed)
    }

    /// Replaces the whole policy. Names whose rule disappears or changes key
    /// member are flushed as by [`Throttle::remove_rule`]; the others keep
    /// their state, a new period applying from the next one.
    #[must_use = "the returned events must be sent"]
    pub fn set_policy(&mut self, policy: Policy) -> Vec<PendingEvent> {
        let stale: Vec<_> = self
            .states
            .keys()
            .filter(|name| self.policy.get(name).map(Rule::key) != policy.get(name).map(Rule::key))
            .cloned()
            .collect();
        let mut flushed = Vec::new();
        for name in stale {
            self.drop_states(&name, &mut flushed);
        }
        self.policy = policy;
        sorted(flushed)
    }

    /// Turns throttling on or off (the policy is kept). Off, every event
    /// passes at once; turning it off drops every state and returns the kept
    /// events, in the order they were offered, to be sent now.
    #[must_use = "the returned events must be sent"]
    pub fn set_enabled(&mut self, enabled: bool) -> Vec<PendingEvent> {
        self.disabled = !enabled;
        let mut flushed = Vec::new();
        if !enabled {
            let names: Vec<_> = self.states.keys().cloned().collect();
            for name in names {
                self.drop_states(&name, &mut flushed);
            }
        }
        sorted(flushed)
    }

    /// How many (name, key) states are alive (each has an armed timer).
    pub fn len(&self) -> usize {
        self.timers.len()
    }

    /// Whether no state is alive (no timer armed, nothing kept).
    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    /// How many events are kept, waiting for their period to end.
    pub fn kept(&self) -> usize {
        self.states
            .values()
            .flat_map(HashMap::values)
            .filter(|state| state.kept.is_some())
            .count()
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Drops the states of `name`, collecting their kept events.
    fn drop_states(&mut self, name: &str, out: &mut Vec<(u64, PendingEvent)>) {
        for (_, state) in self.states.remove(name).into_iter().flatten() {
            self.timers.remove(&state.timer);
            out.extend(state.kept);
        }
    }
}

/// Kept events in the order they were offered.
fn sorted(mut kept: Vec<(u64, PendingEvent)>) -> Vec<PendingEvent> {
    kept.sort_unstable_by_key(|&(seq, _)| seq);
    kept.into_iter().map(|(_, event)| event).collect()
}

/// `now + period`, which [`Rule::MAX_PERIOD`] keeps representable.
fn deadline(now: Instant, period: Duration) -> Instant {
    // Only an Instant within 136 years of its platform's limit overflows;
    // then the period ends at once rather than panicking.
    now.checked_add(period).unwrap_or(now)
}

#[cfg(test)]
mod tests;
