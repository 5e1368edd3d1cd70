//! Bytes to keys: control characters, escape sequences and UTF-8, any of
//! which may arrive split across reads. Bytes that are not valid UTF-8 are
//! kept, each as its escape character (see [`raw`](super::raw)).
//!
//! The keys are QEMU 7.2's (`util/readline.c`, `readline_handle_byte`) plus
//! a few that QEMU ignores; see the console module for the list.

/// One key, as the line editor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A character to insert.
    Char(char),
    /// CR, LF, or CR LF: run the line.
    Enter,
    /// TAB: complete.
    Tab,
    /// DEL (0x7f) or BS (0x08).
    Backspace,
    /// `ESC [ 3 ~`: delete the character under the cursor.
    Delete,
    /// Ctrl-D: delete the character under the cursor, or end the session on
    /// an empty line.
    CtrlD,
    /// Left arrow, Ctrl-B.
    Left,
    /// Right arrow, Ctrl-F.
    Right,
    /// Home, Ctrl-A.
    Home,
    /// End, Ctrl-E.
    End,
    /// Up arrow, Ctrl-P: older history entry.
    Up,
    /// Down arrow, Ctrl-N: newer history entry.
    Down,
    /// Ctrl-K: delete to the end of the line.
    KillToEnd,
    /// Ctrl-U: delete to the start of the line.
    KillToStart,
    /// Ctrl-W: delete the word before the cursor.
    KillWordBack,
    /// Ctrl-C: abandon the line.
    Interrupt,
    /// Ctrl-L: clear the screen and redraw the line.
    ClearScreen,
}

use super::raw;

/// Where the decoder is within an escape sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    /// After ESC.
    Esc,
    /// After `ESC [` (or the 8-bit CSI, 0x9b): the first numeric parameter
    /// so far, and whether a `;` ended it.
    Csi {
        param: u32,
        first_done: bool,
    },
    /// After `ESC O`.
    Ss3,
}

/// A partial UTF-8 character.
#[derive(Debug, Clone, Copy, Default)]
struct Utf8 {
    bytes: [u8; 4],
    len: u8,
    need: u8,
}

/// Turns a byte stream into [`Key`]s, one byte at a time; the state carries
/// over between reads, so a sequence may be split anywhere.
#[derive(Debug)]
pub(crate) struct Decoder {
    state: State,
    utf8: Utf8,
    /// The previous byte was CR: an LF right after it is part of the same
    /// Enter.
    after_cr: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Normal,
            utf8: Utf8::default(),
            after_cr: false,
        }
    }
}

/// The keys one byte completes: none or one, except that a UTF-8
/// sequence cut short gives back each of its bytes before the key of the
/// byte that cut it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keys {
    keys: [Option<Key>; 4],
    len: usize,
    next: usize,
}

impl Keys {
    fn push(&mut self, key: Key) {
        if let Some(slot) = self.keys.get_mut(self.len) {
            *slot = Some(key);
            self.len += 1;
        }
    }

    fn with(mut self, key: Option<Key>) -> Self {
        if let Some(key) = key {
            self.push(key);
        }
        self
    }
}

impl From<Option<Key>> for Keys {
    fn from(key: Option<Key>) -> Self {
        Keys::default().with(key)
    }
}

impl Iterator for Keys {
    type Item = Key;

    fn next(&mut self) -> Option<Key> {
        if self.next == self.len {
            return None;
        }
        self.next += 1;
        self.keys[self.next - 1]
    }
}

impl Decoder {
    /// Takes one byte; returns the keys it completes.
    pub(crate) fn feed(&mut self, byte: u8) -> Keys {
        let after_cr = std::mem::take(&mut self.after_cr);
        match self.state {
            State::Normal => self.normal(byte, after_cr),
            State::Esc => {
                self.state = State::Normal;
                match byte {
                    b'[' => {
                        self.state = State::Csi {
                            param: 0,
                            first_done: false,
                        };
                        Keys::default()
                    }
                    b'O' => {
                        self.state = State::Ss3;
                        Keys::default()
                    }
                    // A control character is not swallowed: ESC then Enter
                    // still runs the line.
                    0x00..=0x1f | 0x7f => self.normal(byte, after_cr),
                    // ESC x: QEMU drops both.
                    _ => Keys::default(),
                }
            }
            State::Csi { param, first_done } => match byte {
                b'0'..=b'9' if !first_done => {
                    let param = param
                        .saturating_mul(10)
                        .saturating_add(u32::from(byte - b'0'));
                    self.state = State::Csi { param, first_done };
                    Keys::default()
                }
                // Further parameters and intermediates.
                0x20..=0x3f => {
                    self.state = State::Csi {
                        param,
                        first_done: first_done || byte == b';',
                    };
                    Keys::default()
                }
                0x40..=0x7e => {
                    self.state = State::Normal;
                    csi_key(byte, param).into()
                }
                _ => {
                    self.state = State::Normal;
                    self.normal(byte, after_cr)
                }
            },
            State::Ss3 => {
                self.state = State::Normal;
                match byte {
                    0x40..=0x7e => ss3_key(byte).into(),
                    0x00..=0x1f | 0x7f..=0xff => self.normal(byte, after_cr),
                    _ => Keys::default(),
                }
            }
        }
    }

    fn normal(&mut self, byte: u8, after_cr: bool) -> Keys {
        let mut keys = Keys::default();
        if self.utf8.need > 0 {
            if byte & 0xc0 == 0x80 {
                return self.continue_utf8(byte);
            }
            // A character cut short: its bytes, as they came.
            let cut = std::mem::take(&mut self.utf8);
            for &b in &cut.bytes[..usize::from(cut.len)] {
                keys.push(Key::Char(raw::escape(b)));
            }
        }
        let key = match byte {
            b'\r' => {
                self.after_cr = true;
                Some(Key::Enter)
            }
            b'\n' if after_cr => None,
            b'\n' => Some(Key::Enter),
            0x01 => Some(Key::Home),
            0x02 => Some(Key::Left),
            0x03 => Some(Key::Interrupt),
            0x04 => Some(Key::CtrlD),
            0x05 => Some(Key::End),
            0x06 => Some(Key::Right),
            0x08 | 0x7f => Some(Key::Backspace),
            b'\t' => Some(Key::Tab),
            0x0b => Some(Key::KillToEnd),
            0x0c => Some(Key::ClearScreen),
            0x0e => Some(Key::Down),
            0x10 => Some(Key::Up),
            0x15 => Some(Key::KillToStart),
            0x17 => Some(Key::KillWordBack),
            0x1b => {
                self.state = State::Esc;
                None
            }
            0x00..=0x1f => None,
            0x20..=0x7e => Some(Key::Char(char::from(byte))),
            // The 8-bit CSI, outside a UTF-8 character (as QEMU).
            0x9b => {
                self.state = State::Csi {
                    param: 0,
                    first_done: false,
                };
                None
            }
            0xc2..=0xdf => self.start_utf8(byte, 1),
            0xe0..=0xef => self.start_utf8(byte, 2),
            0xf0..=0xf4 => self.start_utf8(byte, 3),
            // A stray continuation byte or an invalid lead byte: kept, as
            // QEMU keeps every byte.
            _ => Some(Key::Char(raw::escape(byte))),
        };
        keys.with(key)
    }

    fn start_utf8(&mut self, byte: u8, need: u8) -> Option<Key> {
        self.utf8 = Utf8 {
            bytes: [byte, 0, 0, 0],
            len: 1,
            need,
        };
        None
    }

    fn continue_utf8(&mut self, byte: u8) -> Keys {
        let u = &mut self.utf8;
        u.bytes[usize::from(u.len)] = byte;
        u.len += 1;
        u.need -= 1;
        if u.need > 0 {
            return Keys::default();
        }
        let complete = std::mem::take(u);
        let bytes = &complete.bytes[..usize::from(complete.len)];
        // Overlong forms, surrogates and the escape characters themselves
        // are kept byte by byte.
        let c = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.chars().next())
            .filter(|&c| raw::unescape(c).is_none());
        match c {
            Some(c) => Some(Key::Char(c)).into(),
            None => {
                let mut keys = Keys::default();
                for &b in bytes {
                    keys.push(Key::Char(raw::escape(b)));
                }
                keys
            }
        }
    }
}

/// The key of `ESC [ <param> <final>`; modifiers (`ESC [ 1 ; 5 D`) are
/// ignored.
fn csi_key(last: u8, param: u32) -> Option<Key> {
    match last {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        b'~' => match param {
            1 | 7 => Some(Key::Home),
            3 => Some(Key::Delete),
            4 | 8 => Some(Key::End),
            _ => None,
        },
        _ => None,
    }
}

/// The key of `ESC O <final>` (application cursor mode).
fn ss3_key(last: u8) -> Option<Key> {
    match last {
        b'A' => Some(Key::Up),
        b'B' => Some(Key::Down),
        b'C' => Some(Key::Right),
        b'D' => Some(Key::Left),
        b'H' => Some(Key::Home),
        b'F' => Some(Key::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(chunks: &[&[u8]]) -> Vec<Key> {
        let mut decoder = Decoder::default();
        chunks
            .iter()
            .flat_map(|c| c.iter())
            .flat_map(|&b| decoder.feed(b))
            .collect()
    }

    fn keys_of(bytes: &[u8]) -> Vec<Key> {
        keys(&[bytes])
    }

    #[test]
    fn printable_ascii_is_inserted() {
        assert_eq!(
            keys_of(b"a Z~"),
            [
                Key::Char('a'),
                Key::Char(' '),
                Key::Char('Z'),
                Key::Char('~')
            ]
        );
    }

    #[test]
    fn arrows_home_end_and_delete_are_recognised_in_every_form() {
        let cases: &[(&[u8], Key)] = &[
            (b"\x1b[A", Key::Up),
            (b"\x1b[B", Key::Down),
            (b"\x1b[C", Key::Right),
            (b"\x1b[D", Key::Left),
            (b"\x1bOA", Key::Up),
            (b"\x1bOB", Key::Down),
            (b"\x1bOC", Key::Right),
            (b"\x1bOD", Key::Left),
            (b"\x9bA", Key::Up),
            (b"\x1b[H", Key::Home),
            (b"\x1b[F", Key::End),
            (b"\x1bOH", Key::Home),
            (b"\x1bOF", Key::End),
            (b"\x1b[1~", Key::Home),
            (b"\x1b[7~", Key::Home),
            (b"\x1b[4~", Key::End),
            (b"\x1b[8~", Key::End),
            (b"\x1b[3~", Key::Delete),
            (b"\x1b[1;5D", Key::Left),
            (b"\x1b[1;2C", Key::Right),
        ];
        for (bytes, key) in cases {
            assert_eq!(keys_of(bytes), [*key], "{bytes:?}");
        }
    }

    #[test]
    fn control_keys_are_recognised() {
        let cases: &[(u8, Key)] = &[
            (0x01, Key::Home),
            (0x02, Key::Left),
            (0x03, Key::Interrupt),
            (0x04, Key::CtrlD),
            (0x05, Key::End),
            (0x06, Key::Right),
            (0x08, Key::Backspace),
            (0x7f, Key::Backspace),
            (b'\t', Key::Tab),
            (0x0b, Key::KillToEnd),
            (0x0c, Key::ClearScreen),
            (0x0e, Key::Down),
            (0x10, Key::Up),
            (0x15, Key::KillToStart),
            (0x17, Key::KillWordBack),
            (b'\r', Key::Enter),
            (b'\n', Key::Enter),
        ];
        for (byte, key) in cases {
            assert_eq!(keys_of(&[*byte]), [*key], "{byte:#04x}");
        }
        assert_eq!(keys_of(b"\x00\x07\x1a\x1f"), []);
    }

    #[test]
    fn escape_sequences_split_anywhere_give_the_same_keys() {
        let input: &[u8] = b"a\x1b[A\x1b[3~\x1bOH\x1b[1;5D\xc3\xa9\xe2\x82\xac\r\nb";
        let whole = keys_of(input);
        assert_eq!(
            whole,
            [
                Key::Char('a'),
                Key::Up,
                Key::Delete,
                Key::Home,
                Key::Left,
                Key::Char('é'),
                Key::Char('€'),
                Key::Enter,
                Key::Char('b'),
            ]
        );
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(keys(&bytewise), whole);
        for cut in 0..=input.len() {
            let (a, b) = input.split_at(cut);
            assert_eq!(keys(&[a, b]), whole, "split at {cut}");
        }
    }

    #[test]
    fn cr_lf_is_one_enter_but_lf_cr_and_cr_cr_are_two() {
        assert_eq!(keys_of(b"\r\n"), [Key::Enter]);
        assert_eq!(keys(&[b"\r", b"\n"]), [Key::Enter]);
        assert_eq!(keys_of(b"\n\r"), [Key::Enter, Key::Enter]);
        assert_eq!(keys_of(b"\r\r"), [Key::Enter, Key::Enter]);
        assert_eq!(keys_of(b"\r\x00"), [Key::Enter]);
        assert_eq!(keys_of(b"\ra\n"), [Key::Enter, Key::Char('a'), Key::Enter]);
    }

    #[test]
    fn unknown_sequences_are_swallowed_whole() {
        assert_eq!(keys_of(b"\x1b[12~x"), [Key::Char('x')]);
        assert_eq!(keys_of(b"\x1b[200~x"), [Key::Char('x')]);
        assert_eq!(keys_of(b"\x1bOxy"), [Key::Char('y')]);
        assert_eq!(keys_of(b"\x1bxy"), [Key::Char('y')]);
        assert_eq!(keys_of(b"\x1b[Zy"), [Key::Char('y')]);
    }

    #[test]
    fn a_control_character_ends_an_escape_sequence_and_still_counts() {
        assert_eq!(keys_of(b"\x1b\r"), [Key::Enter]);
        assert_eq!(keys_of(b"\x1b[1\r"), [Key::Enter]);
        assert_eq!(keys_of(b"\x1bO\t"), [Key::Tab]);
        assert_eq!(keys_of(b"\x1b[\x1b[D"), [Key::Left]);
    }

    #[test]
    fn huge_csi_parameters_saturate() {
        assert_eq!(keys_of(b"\x1b[99999999999999999999~a"), [Key::Char('a')]);
    }

    #[test]
    fn utf8_is_decoded_and_invalid_bytes_are_kept() {
        assert_eq!(
            keys_of("é€😀".as_bytes()),
            [Key::Char('é'), Key::Char('€'), Key::Char('😀')]
        );
        let raw = |b: u8| Key::Char(raw::escape(b));
        // A stray continuation byte, an invalid lead byte, an overlong form.
        assert_eq!(
            keys_of(b"\x80\xff\xc0\xafa"),
            [raw(0x80), raw(0xff), raw(0xc0), raw(0xaf), Key::Char('a')]
        );
        // An incomplete character followed by ASCII, or by Enter.
        assert_eq!(
            keys_of(b"\xe2\x82a"),
            [raw(0xe2), raw(0x82), Key::Char('a')]
        );
        assert_eq!(keys_of(b"q\xb4\r"), [Key::Char('q'), raw(0xb4), Key::Enter]);
        assert_eq!(keys_of(b"\xc3\r"), [raw(0xc3), Key::Enter]);
        // A surrogate.
        assert_eq!(
            keys_of(b"\xed\xa0\x80b"),
            [raw(0xed), raw(0xa0), raw(0x80), Key::Char('b')]
        );
        // An escape character typed for real stays three bytes.
        assert_eq!(
            keys_of("\u{EFB4}".as_bytes()),
            [raw(0xee), raw(0xbe), raw(0xb4)]
        );
        // 0x9b inside a character is a continuation byte, not CSI.
        assert_eq!(keys_of("ě".as_bytes()), [Key::Char('ě')]);
    }
}
