//! What clients send: reading each client's share of the turn, framing
//! and running what it sent, and the answers that come later (deferred
//! commands, messages parsed by the worker).

use std::io;

use mio::Token;

use super::connection::{Connection, Peer, Received};
use super::{Closing, Server, CONSOLE_TURN_OUTPUT, HEAVY};
use crate::session::Session;

impl Server {
    pub(super) fn has_work(&self, c: &Connection) -> bool {
        !c.is_paused(self.config.pause_threshold) && (c.readable || c.input_pos < c.input.len())
    }

    /// Runs the next heavy message the worker has parsed, if no heavy
    /// message ran this turn. Returns whether it was a `quit`.
    pub(super) fn deliver_parsed(&mut self) -> bool {
        self.parsed.extend(self.offload.take_done());
        while !self.heavy_done {
            let Some(done) = self.parsed.pop_front() else {
                break;
            };
            let token = done.token;
            let alive = self
                .conns
                .get(&token)
                .is_some_and(|c| c.peer.info().id == done.session);
            if !alive {
                // The client left while its message was parsed.
                self.offload.free(done);
                continue;
            }
            self.heavy_done = done.parsed.weight() >= HEAVY;
            let quit = self.with_session(token, |server, session| {
                session.deliver(&server.dispatcher, done.parsed, &mut server.scratch)
            });
            if let Some(conn) = self.conns.get_mut(&token) {
                if let Err(e) = conn.flush(&self.log) {
                    self.drop_conn(token, Closing::io("write", &e));
                }
            }
            if quit {
                return true;
            }
        }
        false
    }

    /// Routes deferred answers and future wake-ups to their sessions.
    pub(super) fn deliver_deferred(&mut self) {
        let mailbox = std::sync::Arc::clone(self.dispatcher.mailbox());
        let finished = mailbox.take_finished();
        let woken = mailbox.take_woken();
        if finished.is_empty() && woken.is_empty() {
            return;
        }
        let mut touched = Vec::new();
        for f in finished {
            let Some(&token) = self.by_session.get(&f.session) else {
                log::debug!("session {}: answer after disconnect dropped", f.session);
                continue;
            };
            self.with_session(token, |server, session| {
                session.finish(&server.dispatcher, f.token, f.outcome, &mut server.scratch)
            });
            touched.push(token);
        }
        for (session, task) in woken {
            if let Some(&token) = self.by_session.get(&session) {
                self.with_session(token, |server, session| {
                    session.poll(&server.dispatcher, task, &mut server.scratch)
                });
                touched.push(token);
            }
        }
        for token in touched {
            if let Some(conn) = self.conns.get_mut(&token) {
                if let Err(e) = conn.flush(&self.log) {
                    self.drop_conn(token, Closing::io("write", &e));
                }
            }
        }
    }

    /// Runs `f` on one connection's QMP session (the connection taken out
    /// of the map), then queues the events it caused and its output, in
    /// that order. Returns whether it ran `quit`.
    pub(super) fn with_session(
        &mut self,
        token: Token,
        f: impl FnOnce(&mut Self, &mut Session) -> crate::session::Effects,
    ) -> bool {
        let Some(mut conn) = self.conns.remove(&token) else {
            return false;
        };
        let effects = match conn.peer.session_mut() {
            Some(session) => f(self, session),
            None => crate::session::Effects::default(),
        };
        self.queue_answers(&mut conn);
        self.conns.insert(token, conn);
        effects.quit
    }

    /// Queues what a QMP session wrote to `scratch` after the events it
    /// caused (as in QEMU: SHUTDOWN before quit's reply).
    fn queue_answers(&mut self, conn: &mut Connection) {
        self.pull_events();
        if conn.peer.is_negotiated() {
            // Events from now on (none emitted before).
            conn.start_events(self.log.end());
        }
        let Some(session) = conn.peer.session_mut() else {
            return;
        };
        let splices = session.take_splices();
        conn.queue_spliced(&mut self.scratch, splices, self.log.end());
    }

    /// Reads and handles one turn's worth of a client (at most `budget`
    /// bytes read), writes what it can, and closes it if it is done.
    /// Returns whether a `quit` was executed.
    pub(super) fn service(&mut self, token: Token, budget: usize) -> bool {
        let Some(mut conn) = self.conns.remove(&token) else {
            return false;
        };
        let (quit, result) = self.serve(&mut conn, token, budget);
        let result = result.and_then(|()| {
            conn.flush(&self.log)
                .map(drop)
                .map_err(|e| Closing::io("write", &e))
        });
        match self.verdict(&conn, result) {
            Some(reason) => self.close(conn, reason),
            None => {
                self.conns.insert(token, conn);
            }
        }
        quit
    }

    /// Alternates handling what is buffered and reading more, until the
    /// client pauses, has nothing more to read, or its budget is spent.
    /// Returns whether a `quit` was executed, and a read failure.
    fn serve(
        &mut self,
        conn: &mut Connection,
        token: Token,
        mut budget: usize,
    ) -> (bool, Result<(), Closing>) {
        let mut console_room = CONSOLE_TURN_OUTPUT;
        loop {
            if self.feed_console(conn, &mut console_room) || self.run_buffered(conn, token) {
                return (true, Ok(()));
            }
            if conn.is_paused(self.config.pause_threshold) {
                return (false, Ok(()));
            }
            if console_room == 0 && conn.input_pos < conn.input.len() {
                // The console's turn is over; the rest waits for the next.
                return (false, Ok(()));
            }
            if conn.input_pos == conn.input.len() {
                conn.input.clear();
                conn.input_pos = 0;
            }
            if !conn.readable || conn.read_closed || budget == 0 {
                return (false, Ok(()));
            }
            match self.read_some(conn, budget) {
                Ok(n) => budget = budget.saturating_sub(n),
                Err(reason) => return (false, Err(reason)),
            }
        }
    }

    /// Gives a console the keys it has room for: its output under the
    /// pause threshold, and `turn_room` more bytes of it this turn (which
    /// it uses up); what it leaves stays in `input` for later. Returns
    /// whether it ran `quit`.
    fn feed_console(&mut self, conn: &mut Connection, turn_room: &mut usize) -> bool {
        let threshold = self.config.pause_threshold;
        let unsent = conn.pending_output();
        let Peer::Console { console, .. } = &mut conn.peer else {
            return false;
        };
        if conn.input_pos >= conn.input.len() || unsent > threshold || *turn_room == 0 {
            return false;
        }
        let left = conn.input.len() - conn.input_pos;
        let before = conn.output.len();
        let done = console.input(
            &self.dispatcher,
            &conn.input[conn.input_pos..],
            &mut conn.output,
            (threshold - unsent).min(*turn_room),
        );
        *turn_room = turn_room.saturating_sub(conn.output.len().saturating_sub(before));
        let ends = done.effects.quit || done.effects.close;
        // A console that quits or closes reads no further: the rest is
        // dropped with the connection.
        conn.input_pos += if ends { left } else { done.used.min(left) };
        conn.closing |= done.effects.close;
        done.effects.quit
    }

    /// Frames and runs what is buffered, message by message, until the
    /// client pauses; queues each answer after the events it caused.
    /// Returns whether a `quit` was executed.
    fn run_buffered(&mut self, conn: &mut Connection, token: Token) -> bool {
        while conn.input_pos < conn.input.len() && !conn.is_paused(self.config.pause_threshold) {
            let Peer::Qmp(session) = &mut conn.peer else {
                return false;
            };
            let (used, effects) = session.step(
                &self.dispatcher,
                &conn.input[conn.input_pos..],
                &mut self.scratch,
            );
            conn.input_pos += used;
            if let Some(raw) = session.take_raw() {
                // Read on once it is back (see `deliver_parsed`).
                self.offload.parse(token, session.info().id, raw);
            }
            let Some(effects) = effects else {
                continue;
            };
            self.turn_messages += 1;
            // A message from another connection than the last counts
            // twice: on its own it is a sign of several clients at work.
            if self.last_talker.replace(token).is_some_and(|t| t != token) {
                self.turn_messages += 1;
            }
            self.queue_answers(conn);
            if effects.quit {
                return true;
            }
        }
        false
    }

    /// One read of at most `budget` bytes into `input`; the bytes read.
    fn read_some(&mut self, conn: &mut Connection, budget: usize) -> Result<usize, Closing> {
        // Into the loop's buffer, zeroed once, then copied: growing
        // `input` by a zeroed chunk per read cost a 64 KiB memset each.
        let chunk = budget.min(self.read_buf.len());
        match conn.receive(
            &mut self.read_buf[..chunk],
            &self.listen_addrs,
            &mut self.log_limit,
        ) {
            Ok(Received { bytes: 0, .. }) => {
                conn.read_closed = true;
                conn.readable = false;
                Ok(0)
            }
            Ok(Received { bytes: n, fds }) => {
                conn.input.extend_from_slice(&self.read_buf[..n]);
                // A short read emptied the socket, and new data raises a
                // new edge: skip the read that would only say WouldBlock
                // (one system call per request). Not so once the peer's
                // end was reported (read on to the end), nor after a read
                // that brought descriptors: the kernel ends a read after
                // such a message even when more follows, which raises no
                // new edge.
                if n < chunk && !conn.hup_seen && !fds {
                    conn.readable = false;
                }
                Ok(n)
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock => {
                    conn.readable = false;
                    Ok(0)
                }
                io::ErrorKind::Interrupted => Ok(0),
                _ => Err(Closing::io("read", &e)),
            },
        }
    }

    /// Whether the client is to be closed after its turn: a failure, or
    /// it has closed its end (or a console asked to close) and nothing
    /// it sent is left to handle or to answer.
    fn verdict(&self, conn: &Connection, result: Result<(), Closing>) -> Option<Closing> {
        match result {
            // Responses never disconnect a client: reading pauses instead.
            Err(reason) => Some(reason),
            Ok(())
                if (conn.read_closed || conn.closing)
                    && conn.input_pos >= conn.input.len()
                    && !conn.peer.is_parsing()
                    && !conn.has_output(self.log.end()) =>
            {
                Some(Closing::disconnected())
            }
            Ok(()) => None,
        }
    }
}
