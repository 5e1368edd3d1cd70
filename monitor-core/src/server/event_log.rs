//! The event log: every event line the monitor thread took from the
//! emitter, once, for all clients.
//!
//! Lines are laid end to end in chunks; a position in the log is a byte
//! offset from the first event the monitor ever took. Each negotiated
//! client reads from its own offset as its socket takes bytes, so a
//! burst costs one copy whatever the number of clients, and a client
//! that reads slowly holds the log, not a copy of it. Chunks every
//! client has passed are dropped.

use std::collections::VecDeque;

/// Bytes of lines per chunk (a longer line gets a chunk of its own).
const CHUNK: usize = 1 << 20;

/// Lines laid end to end, from `start` on.
#[derive(Debug)]
struct Chunk {
    start: u64,
    bytes: Vec<u8>,
}

impl Chunk {
    fn end(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

/// Event lines not yet read by every client.
#[derive(Debug, Default)]
pub(crate) struct EventLog {
    chunks: VecDeque<Chunk>,
    /// The offset after the last line.
    end: u64,
}

impl EventLog {
    /// The offset after the last line: where a client that starts
    /// receiving events now starts reading.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// The oldest offset still held.
    pub(crate) fn start(&self) -> u64 {
        self.chunks.front().map_or(self.end, |c| c.start)
    }

    /// Appends complete lines (each ending with LF), split into chunks at
    /// line ends.
    pub(crate) fn append(&mut self, lines: Vec<u8>) {
        if lines.is_empty() {
            return;
        }
        if let Some(last) = self.chunks.back_mut() {
            if last.bytes.len() + lines.len() <= CHUNK {
                last.bytes.extend_from_slice(&lines);
                self.end += lines.len() as u64;
                return;
            }
        }
        if lines.len() <= CHUNK {
            self.push_chunk(lines);
            return;
        }
        let mut rest: &[u8] = &lines;
        while rest.len() > CHUNK {
            // The last line end within the chunk size, or the end of the
            // first line if it is longer than that.
            let cut = match rest[..CHUNK].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1),
            };
            self.push_chunk(rest[..cut].to_vec());
            rest = &rest[cut..];
        }
        if !rest.is_empty() {
            self.push_chunk(rest.to_vec());
        }
    }

    fn push_chunk(&mut self, bytes: Vec<u8>) {
        let start = self.end;
        self.end += bytes.len() as u64;
        self.chunks.push_back(Chunk { start, bytes });
    }

    /// The bytes from `offset` to the end of its chunk (empty at the end of
    /// the log). `offset` must not be below [`start`](Self::start).
    pub(crate) fn slice_from(&self, offset: u64) -> &[u8] {
        let first = self.start();
        debug_assert!(
            offset >= first,
            "offset {offset} below the log start {first}"
        );
        if offset >= self.end {
            return &[];
        }
        // Chunks are contiguous: find the one holding `offset`.
        let index = self.chunks.partition_point(|c| c.end() <= offset);
        let chunk = &self.chunks[index];
        &chunk.bytes[(offset - chunk.start) as usize..]
    }

    /// Drops the chunks that end at or before `offset` (every reader is
    /// past them).
    pub(crate) fn trim(&mut self, offset: u64) {
        while self.chunks.front().is_some_and(|c| c.end() <= offset) {
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, len: usize) -> Vec<u8> {
        let mut l = format!("{n}:").into_bytes();
        l.resize(len - 2, b'x');
        l.extend_from_slice(b"\r\n");
        l
    }

    fn read_all(log: &EventLog, mut offset: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while offset < log.end() {
            let s = log.slice_from(offset);
            out.extend_from_slice(s);
            offset += s.len() as u64;
        }
        out
    }

    #[test]
    fn appends_read_back_in_order_across_chunks() {
        let mut log = EventLog::default();
        let mut all = Vec::new();
        for n in 0..3000 {
            let l = line(n, 1000);
            all.extend_from_slice(&l);
            log.append(l);
        }
        assert_eq!(log.end(), all.len() as u64);
        assert!(log.chunks.len() > 1);
        assert_eq!(read_all(&log, 0), all);
        assert_eq!(read_all(&log, 1500), all[1500..]);
    }

    #[test]
    fn a_large_batch_is_split_at_line_ends() {
        let mut log = EventLog::default();
        let mut batch = Vec::new();
        for n in 0..5000 {
            batch.extend_from_slice(&line(n, 700));
        }
        let copy = batch.clone();
        log.append(batch);
        for chunk in &log.chunks {
            assert!(chunk.bytes.len() <= CHUNK);
            assert!(chunk.bytes.ends_with(b"\r\n"));
        }
        assert_eq!(read_all(&log, 0), copy);
    }

    #[test]
    fn a_line_longer_than_a_chunk_gets_its_own() {
        let mut log = EventLog::default();
        log.append(line(0, 10));
        let long = line(1, 3 * CHUNK + 5);
        log.append(long.clone());
        log.append(line(2, 10));
        let all = [line(0, 10), long, line(2, 10)].concat();
        assert_eq!(read_all(&log, 0), all);
    }

    #[test]
    fn trim_drops_only_chunks_every_reader_passed() {
        let mut log = EventLog::default();
        for n in 0..3000 {
            log.append(line(n, 1000));
        }
        let first_end = log.chunks[0].end();
        log.trim(first_end - 1);
        assert_eq!(log.start(), 0);
        log.trim(first_end);
        assert_eq!(log.start(), first_end);
        log.trim(log.end());
        assert_eq!(log.start(), log.end());
        assert!(log.slice_from(log.end()).is_empty());
    }
}
