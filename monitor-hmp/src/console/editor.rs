//! The line being edited, its history, and QEMU's way of redrawing it.
//!
//! The editor only knows characters and a cursor; [`LineEditor::render`]
//! brings the terminal up to date the way QEMU's `readline_update` does:
//! when the text changed, move the cursor back to the start of the line
//! (`ESC [ D` per character), print the whole line, clear the rest
//! (`ESC [ K`), then move to the cursor (`ESC [ C` or `ESC [ D` per
//! character). Only the cursor moved: only the moves.

use std::collections::VecDeque;

/// The longest line, in characters (QEMU's `READLINE_CMD_BUF_SIZE`, 4095
/// bytes there); further characters are ignored.
pub(crate) const MAX_LINE: usize = 4095;

/// History entries kept per console (QEMU's `READLINE_MAX_CMDS`).
pub(crate) const HISTORY_LEN: usize = 64;

const LEFT: &[u8] = b"\x1b[D";
const RIGHT: &[u8] = b"\x1b[C";
const CLEAR_TO_END: &[u8] = b"\x1b[K";

/// Past lines, oldest first, without duplicates.
#[derive(Debug, Default)]
struct History {
    entries: VecDeque<String>,
    /// The entry on display while browsing with up/down.
    browsing: Option<usize>,
}

impl History {
    /// Adds a line run, as QEMU's `readline_hist_add`: an empty line is not
    /// kept; a line already present moves to the end; the oldest entry goes
    /// when the history is full. Browsing ends.
    fn add(&mut self, line: &str) {
        self.browsing = None;
        if line.is_empty() {
            return;
        }
        if let Some(i) = self.entries.iter().position(|e| e == line) {
            self.entries.remove(i);
        } else if self.entries.len() == HISTORY_LEN {
            self.entries.pop_front();
        }
        self.entries.push_back(line.to_owned());
    }

    /// The entry before the one on display (the newest when not browsing).
    fn older(&mut self) -> Option<&str> {
        let index = self.browsing.unwrap_or(self.entries.len()).checked_sub(1)?;
        self.browsing = Some(index);
        self.entries.get(index).map(String::as_str)
    }

    /// The entry after the one on display, or `Some("")` past the newest;
    /// `None` when not browsing.
    fn newer(&mut self) -> Option<&str> {
        let next = self.browsing? + 1;
        if next < self.entries.len() {
            self.browsing = Some(next);
            self.entries.get(next).map(String::as_str)
        } else {
            self.browsing = None;
            Some("")
        }
    }
}

/// One console's line, cursor and history, and what the terminal shows.
#[derive(Debug, Default)]
pub(crate) struct LineEditor {
    line: Vec<char>,
    cursor: usize,
    /// The line as last drawn after the prompt, and where the cursor was
    /// left (QEMU's `last_cmd_buf`, `last_cmd_buf_index`).
    shown: Vec<char>,
    shown_cursor: usize,
    history: History,
}

impl LineEditor {
    /// Inserts a character at the cursor, unless the line is full.
    pub(crate) fn insert(&mut self, c: char) {
        if self.line.len() < MAX_LINE {
            self.line.insert(self.cursor, c);
            self.cursor += 1;
        }
    }

    /// Deletes the character before the cursor.
    pub(crate) fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.line.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub(crate) fn delete(&mut self) {
        if self.cursor < self.line.len() {
            self.line.remove(self.cursor);
        }
    }

    pub(crate) fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub(crate) fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.line.len());
    }

    pub(crate) fn home(&mut self) {
        self.cursor = 0;
    }

    pub(crate) fn end(&mut self) {
        self.cursor = self.line.len();
    }

    /// Deletes from the cursor to the end of the line.
    pub(crate) fn kill_to_end(&mut self) {
        self.line.truncate(self.cursor);
    }

    /// Deletes from the start of the line to the cursor.
    pub(crate) fn kill_to_start(&mut self) {
        self.line.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Deletes the word before the cursor and the blanks after it (QEMU's
    /// `readline_backword`).
    pub(crate) fn kill_word_back(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.line[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.line[start - 1].is_whitespace() {
            start -= 1;
        }
        self.line.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Shows the previous history entry, cursor at its end.
    pub(crate) fn up(&mut self) {
        if let Some(entry) = self.history.older() {
            self.line = entry.chars().collect();
            self.cursor = self.line.len();
        }
    }

    /// Shows the next history entry, or an empty line past the newest.
    pub(crate) fn down(&mut self) {
        if let Some(entry) = self.history.newer() {
            self.line = entry.chars().collect();
            self.cursor = self.line.len();
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// The text before the cursor.
    pub(crate) fn before_cursor(&self) -> String {
        self.line[..self.cursor].iter().collect()
    }

    /// Where the word before the cursor starts: after the last blank.
    pub(crate) fn word_start(&self) -> usize {
        self.line[..self.cursor]
            .iter()
            .rposition(|c| c.is_whitespace())
            .map_or(0, |i| i + 1)
    }

    /// Replaces the text from `start` to the cursor with `text` (as far as
    /// the line has room); the cursor ends after it.
    pub(crate) fn replace_before_cursor(&mut self, start: usize, text: &str) {
        self.line.drain(start..self.cursor);
        self.cursor = start;
        for c in text.chars() {
            self.insert(c);
        }
    }

    /// Ends the line: returns it, adds it to the history and starts an empty
    /// one. The caller prints the newline and the next prompt.
    pub(crate) fn take_line(&mut self) -> String {
        let line: String = self.line.drain(..).collect();
        self.cursor = 0;
        self.history.add(&line);
        self.prompt_shown();
        line
    }

    /// Abandons the line, keeping it out of the history.
    pub(crate) fn discard_line(&mut self) {
        self.line.clear();
        self.cursor = 0;
        self.history.browsing = None;
        self.prompt_shown();
    }

    /// The prompt was just printed: nothing of the line is on screen.
    pub(crate) fn prompt_shown(&mut self) {
        self.shown.clear();
        self.shown_cursor = 0;
    }

    /// Brings the terminal up to date with the line and cursor.
    pub(crate) fn render(&mut self, out: &mut Vec<u8>) {
        if self.line != self.shown {
            repeat(out, LEFT, self.shown_cursor);
            for &c in &self.line {
                super::raw::push(out, c);
            }
            out.extend_from_slice(CLEAR_TO_END);
            self.shown.clone_from(&self.line);
            self.shown_cursor = self.line.len();
        }
        if self.cursor > self.shown_cursor {
            repeat(out, RIGHT, self.cursor - self.shown_cursor);
        } else {
            repeat(out, LEFT, self.shown_cursor - self.cursor);
        }
        self.shown_cursor = self.cursor;
    }

    /// The history, oldest first.
    #[cfg(test)]
    pub(crate) fn history(&self) -> Vec<&str> {
        self.history.entries.iter().map(String::as_str).collect()
    }

    /// The line and the cursor position.
    #[cfg(test)]
    pub(crate) fn state(&self) -> (String, usize) {
        (self.line.iter().collect(), self.cursor)
    }
}

/// Appends `seq` `n` times (by doubling: a full line's moves are 4,095).
fn repeat(out: &mut Vec<u8>, seq: &[u8], n: usize) {
    out.extend_from_slice(&seq.repeat(n));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> LineEditor {
        let mut e = LineEditor::default();
        text.chars().for_each(|c| e.insert(c));
        e
    }

    fn render(e: &mut LineEditor) -> String {
        let mut out = Vec::new();
        e.render(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn typing_redraws_the_whole_line_as_qemu() {
        // Bytes seen from QEMU 7.2 for "i", "n", "f".
        let mut e = LineEditor::default();
        e.insert('i');
        assert_eq!(render(&mut e), "i\x1b[K");
        e.insert('n');
        assert_eq!(render(&mut e), "\x1b[Din\x1b[K");
        e.insert('f');
        assert_eq!(render(&mut e), "\x1b[D\x1b[Dinf\x1b[K");
        assert_eq!(render(&mut e), "");
    }

    #[test]
    fn cursor_moves_only_move_as_qemu() {
        let mut e = typed("abc");
        render(&mut e);
        e.left();
        assert_eq!(render(&mut e), "\x1b[D");
        e.right();
        assert_eq!(render(&mut e), "\x1b[C");
        e.home();
        assert_eq!(render(&mut e), "\x1b[D\x1b[D\x1b[D");
        e.left();
        assert_eq!(render(&mut e), "");
        e.end();
        assert_eq!(render(&mut e), "\x1b[C\x1b[C\x1b[C");
        e.right();
        assert_eq!(render(&mut e), "");
    }

    #[test]
    fn insertion_in_the_middle_redraws_then_moves_back_as_qemu() {
        // QEMU 7.2: "ab", left, "X" gives "\x1b[D" then "\x1b[DaXb\x1b[K\x1b[D".
        let mut e = typed("ab");
        render(&mut e);
        e.left();
        assert_eq!(render(&mut e), "\x1b[D");
        e.insert('X');
        assert_eq!(render(&mut e), "\x1b[DaXb\x1b[K\x1b[D");
    }

    #[test]
    fn backspace_and_delete_edit_around_the_cursor() {
        let mut e = typed("abc");
        render(&mut e);
        e.backspace();
        assert_eq!(render(&mut e), "\x1b[D\x1b[D\x1b[Dab\x1b[K");
        e.home();
        e.backspace();
        e.delete();
        assert_eq!(e.state(), ("b".to_owned(), 0));
        e.end();
        e.delete();
        assert_eq!(e.state(), ("b".to_owned(), 1));
    }

    #[test]
    fn kills_remove_to_either_end() {
        let mut e = typed("hello world");
        (0..5).for_each(|_| e.left());
        e.kill_to_end();
        assert_eq!(e.state(), ("hello ".to_owned(), 6));
        e.left();
        e.kill_to_start();
        assert_eq!(e.state(), (" ".to_owned(), 0));
    }

    #[test]
    fn kill_word_removes_the_word_and_the_blanks_after_it() {
        let mut e = typed("info  status  ");
        e.kill_word_back();
        assert_eq!(e.state(), ("info  ".to_owned(), 6));
        e.kill_word_back();
        assert_eq!(e.state(), (String::new(), 0));
        e.kill_word_back();
        assert_eq!(e.state(), (String::new(), 0));

        // In the middle, as QEMU: "hello world|nfo" -> "hello |nfo".
        let mut e = typed("hello worldnfo");
        (0..3).for_each(|_| e.left());
        e.kill_word_back();
        assert_eq!(e.state(), ("hello nfo".to_owned(), 6));
    }

    #[test]
    fn history_browses_back_and_forth_and_ends_on_an_empty_line() {
        let mut e = LineEditor::default();
        for line in ["abc", "inf", "c"] {
            line.chars().for_each(|ch| e.insert(ch));
            e.take_line();
        }
        e.down();
        assert_eq!(e.state(), (String::new(), 0));
        e.up();
        assert_eq!(e.state(), ("c".to_owned(), 1));
        e.up();
        e.up();
        assert_eq!(e.state(), ("abc".to_owned(), 3));
        e.up();
        assert_eq!(e.state(), ("abc".to_owned(), 3));
        // An edit of an entry is lost when browsing on, as in QEMU.
        e.insert('X');
        e.down();
        assert_eq!(e.state(), ("inf".to_owned(), 3));
        e.up();
        assert_eq!(e.state(), ("abc".to_owned(), 3));
        e.down();
        e.down();
        e.down();
        assert_eq!(e.state(), (String::new(), 0));
        e.down();
        assert_eq!(e.state(), (String::new(), 0));
    }

    #[test]
    fn history_moves_a_repeated_line_to_the_end_and_skips_empty_lines() {
        let mut e = LineEditor::default();
        for line in ["abc", "info status", "c", "", "info status"] {
            line.chars().for_each(|ch| e.insert(ch));
            e.take_line();
        }
        assert_eq!(e.history(), ["abc", "c", "info status"]);
    }

    #[test]
    fn history_keeps_the_newest_entries() {
        let mut e = LineEditor::default();
        for n in 0..HISTORY_LEN + 5 {
            n.to_string().chars().for_each(|ch| e.insert(ch));
            e.take_line();
        }
        let history = e.history();
        assert_eq!(history.len(), HISTORY_LEN);
        assert_eq!(history[0], "5");
        assert_eq!(history[HISTORY_LEN - 1], (HISTORY_LEN + 4).to_string());
    }

    #[test]
    fn the_line_is_bounded() {
        let mut e = typed(&"x".repeat(MAX_LINE + 10));
        assert_eq!(e.state().1, MAX_LINE);
        e.home();
        e.insert('y');
        assert_eq!(e.state().0.len(), MAX_LINE);
    }

    #[test]
    fn words_and_replacement_before_the_cursor() {
        let mut e = typed("info stXYZ");
        (0..3).for_each(|_| e.left());
        assert_eq!(e.before_cursor(), "info st");
        assert_eq!(e.word_start(), 5);
        e.replace_before_cursor(5, "status");
        assert_eq!(e.state(), ("info statusXYZ".to_owned(), 11));
    }

    #[test]
    fn cursor_moves_count_characters_not_bytes() {
        let mut e = typed("é€");
        assert_eq!(render(&mut e), "é€\x1b[K");
        e.home();
        assert_eq!(render(&mut e), "\x1b[D\x1b[D");
    }
}
