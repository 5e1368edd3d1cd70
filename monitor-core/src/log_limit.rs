//! Rate limits for the warnings clients can cause at will.
//!
//! A client that connects and leaves in a loop, or a crowd over the client
//! limit, would otherwise write one warning per connection: thousands of
//! lines a second that bury everything else in the log. Each kind of such
//! warning is allowed [`BURST`] lines per [`INTERVAL`]; the rest of the
//! interval's messages of that kind are counted, and one summary line
//! (`KIND: N more messages like this suppressed in the last 10 s`) is
//! logged when the interval ends (the monitor loop wakes for it) or, at
//! the latest, before the next allowed line of that kind.

use std::time::{Duration, Instant};

/// Lines of one kind logged per interval before the rest are suppressed.
pub(crate) const BURST: u32 = 10;
/// How long an interval lasts: its first line starts it.
pub(crate) const INTERVAL: Duration = Duration::from_secs(10);

/// The kinds of rate-limited warnings; each has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `session N: closing the connection: REASON`.
    Closing,
    /// `refused a client of ADDR: REASON`.
    Refused,
    /// `session N: closed the descriptors it passed: REASON`, and `session
    /// N: more than 16 descriptors in one message; ...`: a client can send
    /// descriptors in every message.
    Descriptors,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Closing, Kind::Refused, Kind::Descriptors];

    /// How the summary line names the messages it stands for.
    fn describe(self) -> &'static str {
        match self {
            Kind::Closing => "closing a connection",
            Kind::Refused => "refused a client",
            Kind::Descriptors => "closed descriptors a client passed",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One kind's current interval.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    /// When the interval ends; none before the first line.
    ends: Option<Instant>,
    /// Lines logged in it.
    logged: u32,
    /// Lines suppressed in it.
    suppressed: u64,
}

/// Per-kind budgets of warnings, owned by the monitor loop.
#[derive(Debug, Default)]
pub(crate) struct LogLimit {
    windows: [Window; Kind::ALL.len()],
}

impl LogLimit {
    /// Whether a warning of `kind` may be logged now. Logs the summary of
    /// an ended interval first, so that it comes before the new line.
    pub(crate) fn allow(&mut self, kind: Kind, now: Instant) -> bool {
        self.flush_one(kind, now);
        let w = &mut self.windows[kind.index()];
        let ends = *w.ends.get_or_insert(now + INTERVAL);
        debug_assert!(ends > now);
        if w.logged < BURST {
            w.logged += 1;
            true
        } else {
            w.suppressed += 1;
            false
        }
    }

    /// Ends the intervals that are over, logging their summaries.
    pub(crate) fn flush(&mut self, now: Instant) {
        for kind in Kind::ALL {
            self.flush_one(kind, now);
        }
    }

    /// Logs every summary now, whether or not its interval is over (at
    /// shutdown).
    pub(crate) fn finish(&mut self) {
        for kind in Kind::ALL {
            let w = std::mem::take(&mut self.windows[kind.index()]);
            summarise(kind, w.suppressed);
        }
    }

    /// When the loop must wake to log a summary: the end of the earliest
    /// interval that suppressed something.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.windows
            .iter()
            .filter(|w| w.suppressed > 0)
            .filter_map(|w| w.ends)
            .min()
    }

    fn flush_one(&mut self, kind: Kind, now: Instant) {
        let w = &mut self.windows[kind.index()];
        if w.ends.is_some_and(|ends| ends <= now) {
            let ended = std::mem::take(w);
            summarise(kind, ended.suppressed);
        }
    }
}

fn summarise(kind: Kind, suppressed: u64) {
    if suppressed > 0 {
        log::warn!(
            "{}: {suppressed} more messages like this suppressed in the last {} s",
            kind.describe(),
            INTERVAL.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_silence_until_the_interval_ends() {
        let mut limit = LogLimit::default();
        let t0 = Instant::now();
        let allowed = (0..100).filter(|_| limit.allow(Kind::Closing, t0)).count();
        assert_eq!(allowed, BURST as usize);
        assert_eq!(limit.next_deadline(), Some(t0 + INTERVAL));
        // Another kind has its own budget.
        assert!(limit.allow(Kind::Refused, t0));
        // Still inside the interval.
        assert!(!limit.allow(Kind::Closing, t0 + INTERVAL / 2));
        // The interval is over: its summary is logged, a new one starts.
        limit.flush(t0 + INTERVAL);
        assert_eq!(limit.next_deadline(), None);
        assert!(limit.allow(Kind::Closing, t0 + INTERVAL));
    }

    #[test]
    fn the_next_allowed_line_ends_an_old_interval_without_a_flush() {
        let mut limit = LogLimit::default();
        let t0 = Instant::now();
        for _ in 0..=BURST {
            limit.allow(Kind::Refused, t0);
        }
        assert!(limit.allow(Kind::Refused, t0 + INTERVAL * 3));
        assert_eq!(limit.windows[Kind::Refused.index()].suppressed, 0);
    }

    #[test]
    fn no_deadline_while_nothing_is_suppressed() {
        let mut limit = LogLimit::default();
        assert!(limit.allow(Kind::Closing, Instant::now()));
        assert_eq!(limit.next_deadline(), None);
        limit.finish();
    }
}
