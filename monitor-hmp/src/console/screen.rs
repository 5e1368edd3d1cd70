//! A tiny terminal for the tests: just enough of a VT100 (the sequences the
//! console sends) to show what an operator would see. No wrapping.

#[derive(Debug)]
pub(crate) struct Screen {
    lines: Vec<Vec<char>>,
    row: usize,
    col: usize,
    /// Bytes of an unfinished UTF-8 character or escape sequence.
    pending: Vec<u8>,
}

impl Default for Screen {
    fn default() -> Self {
        Screen {
            lines: vec![Vec::new()],
            row: 0,
            col: 0,
            pending: Vec::new(),
        }
    }
}

impl Screen {
    /// Applies output bytes; sequences may be split between calls.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.pending.push(b);
            self.step();
        }
    }

    fn step(&mut self) {
        let p = &self.pending;
        if p[0] == 0x1b {
            if p.len() < 3 || !is_final(p[p.len() - 1]) {
                return;
            }
            let seq = std::mem::take(&mut self.pending);
            assert_eq!(seq[1], b'[', "unexpected escape {seq:?}");
            self.csi(&seq[2..seq.len() - 1], seq[seq.len() - 1]);
            return;
        }
        let Ok(s) = std::str::from_utf8(p) else {
            assert!(p.len() < 4, "invalid UTF-8 {p:?}");
            return;
        };
        let c = s.chars().next().expect("one character");
        self.pending.clear();
        match c {
            '\r' => self.col = 0,
            '\n' => {
                self.row += 1;
                if self.row == self.lines.len() {
                    self.lines.push(Vec::new());
                }
            }
            c if c < ' ' => panic!("unexpected control character {c:?}"),
            c => {
                let line = &mut self.lines[self.row];
                if line.len() <= self.col {
                    line.resize(self.col + 1, ' ');
                }
                line[self.col] = c;
                self.col += 1;
            }
        }
    }

    fn csi(&mut self, params: &[u8], last: u8) {
        let params = std::str::from_utf8(params).expect("ASCII parameters");
        let n = |i: usize, default: usize| -> usize {
            params
                .split(';')
                .nth(i)
                .and_then(|p| p.parse().ok())
                .unwrap_or(default)
        };
        match last {
            b'C' => self.col += n(0, 1),
            b'D' => {
                self.col = self
                    .col
                    .checked_sub(n(0, 1))
                    .expect("cursor off the left edge")
            }
            b'K' => self.lines[self.row].truncate(self.col),
            b'J' if n(0, 0) == 2 => self.lines.iter_mut().for_each(Vec::clear),
            b'H' => {
                self.row = n(0, 1) - 1;
                self.col = n(1, 1) - 1;
                self.lines.truncate(self.row + 1);
            }
            _ => panic!("unexpected sequence ESC [ {params} {}", char::from(last)),
        }
    }

    /// Every line, trailing blanks trimmed, joined with `\n`.
    pub(crate) fn text(&self) -> String {
        let lines: Vec<String> = self
            .lines
            .iter()
            .map(|l| l.iter().collect::<String>().trim_end().to_owned())
            .collect();
        lines.join("\n")
    }

    /// The line the cursor is on.
    pub(crate) fn line(&self) -> String {
        self.lines[self.row].iter().collect()
    }

    /// The cursor's column.
    pub(crate) fn col(&self) -> usize {
        self.col
    }
}

fn is_final(b: u8) -> bool {
    (0x40..=0x7e).contains(&b)
}
