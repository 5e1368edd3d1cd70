//! What goes to clients: events appended to the log, each client's share
//! of the turn's writes, and the clients that do not drain.

use std::time::Instant;

use super::connection::{Connection, WRITE_BUDGET};
use super::{Closing, Server, MIN_WRITE_SHARE, TURN_WRITE_BUDGET};

impl Server {
    /// Gives each client its share of the turn's writes.
    pub(super) fn share_writes(&mut self) {
        let end = self.log.end();
        let writers = self.conns.values().filter(|c| c.has_output(end)).count();
        let share = (TURN_WRITE_BUDGET / writers.max(1)).clamp(MIN_WRITE_SHARE, WRITE_BUDGET);
        for conn in self.conns.values_mut() {
            conn.write_budget = share;
        }
    }

    /// Appends the events due now to the event log (one copy for every
    /// client; each reads from it as its socket takes bytes).
    pub(super) fn pull_events(&mut self) {
        let now = Instant::now();
        let timer_due = self.events.next_deadline().is_some_and(|d| d <= now);
        if !self.events.has_pending() && !timer_due {
            return;
        }
        self.log.append(self.events.take_bytes(now));
    }

    /// Writes to every client that has something to write and whose socket
    /// is not known to be full.
    pub(super) fn flush_all(&mut self) {
        let end = self.log.end();
        let mut failed = Vec::new();
        for (token, conn) in &mut self.conns {
            if conn.wants_flush(end) {
                if let Err(e) = conn.flush(&self.log) {
                    failed.push((*token, e));
                }
            }
        }
        for (token, e) in failed {
            self.drop_conn(token, Closing::io("write", &e));
        }
    }

    /// Disconnects the clients that do not drain their events: over the
    /// backlog limit, or over the output limit without taking a byte for
    /// the drain timeout. Then frees the log every client has passed.
    pub(super) fn check_drain(&mut self) {
        let end = self.log.end();
        let now = Instant::now();
        let limit = self.config.output_limit as u64;
        let backlog = self.config.event_backlog_limit as u64;
        let mut over = Vec::new();
        for (token, conn) in &mut self.conns {
            let lag = conn.event_lag(end);
            if lag > backlog {
                over.push((
                    *token,
                    Closing::Loud(format!(
                        "cannot keep up: {lag} bytes of events unread (limit {backlog})"
                    )),
                ));
            } else if lag > limit {
                let since = *conn.lagging_since.get_or_insert(now);
                if now.duration_since(since) >= self.config.drain_timeout {
                    over.push((
                        *token,
                        Closing::Loud(format!(
                            "output limit exceeded ({lag} bytes of events unread, none taken for {:?})",
                            self.config.drain_timeout
                        )),
                    ));
                }
            } else {
                conn.lagging_since = None;
            }
        }
        for (token, reason) in over {
            self.drop_conn(token, reason);
        }
        let oldest = self
            .conns
            .values()
            .filter_map(Connection::oldest_event)
            .min()
            .unwrap_or(end);
        self.log.trim(oldest);
    }

    /// When the first client over the output limit runs out of time.
    pub(super) fn next_drain_deadline(&self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.lagging_since)
            .min()
            .map(|since| since + self.config.drain_timeout)
    }
}
