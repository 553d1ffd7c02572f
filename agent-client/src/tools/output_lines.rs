//! Program output as the lines a terminal shows: what `session_read` gives
//! the model. A shell redraws the line being edited with a carriage return
//! and cursor moves (bash after a paste: `\r`, then `ESC[C` over the
//! prompt); with escapes merely stripped the model would read the command
//! twice. Here a carriage return goes back to the start of the line, text
//! overwrites what it lands on, and the cursor moves and erases within a
//! line are applied; other escape sequences (colours, titles) are dropped.
//! Columns count characters (a wide character counts as one).

/// The widest line kept (a cursor move past it is cut to it).
const MAX_COLS: usize = 4096;

/// Tab stops are every 8 columns.
const TAB: usize = 8;

/// `bytes` rendered as lines, joined by `\n` (a last line without its
/// newline is kept).
pub fn render(bytes: &[u8]) -> String {
    let mut lines = Lines::default();
    vte::Parser::new().advance(&mut lines, bytes);
    lines.finish()
}

/// The lines done so far, the line being written and the cursor in it.
#[derive(Default)]
struct Lines {
    done: String,
    line: Vec<char>,
    col: usize,
}

impl Lines {
    fn finish(mut self) -> String {
        self.end_line(false);
        self.done
    }

    /// Move the line to the finished text.
    fn end_line(&mut self, newline: bool) {
        let text: String = self.line.drain(..).collect();
        self.done.push_str(text.trim_end_matches(' '));
        if newline {
            self.done.push('\n');
        }
        self.col = 0;
    }

    /// Grow the line with blanks up to `col`.
    fn pad_to(&mut self, col: usize) {
        if self.line.len() < col {
            self.line.resize(col, ' ');
        }
    }
}

/// The first parameter of a CSI sequence, `default` when absent or 0.
fn param(params: &vte::Params, default: usize) -> usize {
    match params.iter().next().and_then(|p| p.first()).copied() {
        Some(0) | None => default,
        Some(n) => usize::from(n),
    }
}

impl vte::Perform for Lines {
    fn print(&mut self, c: char) {
        if self.col >= MAX_COLS {
            return;
        }
        self.pad_to(self.col);
        if self.col < self.line.len() {
            self.line[self.col] = c;
        } else {
            self.line.push(c);
        }
        self.col += 1;
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' => self.end_line(true),
            b'\r' => self.col = 0,
            0x08 => self.col = self.col.saturating_sub(1),
            b'\t' => self.col = ((self.col / TAB + 1) * TAB).min(MAX_COLS),
            _ => {}
        }
    }

    fn csi_dispatch(
        &mut self,
        params: &vte::Params,
        intermediates: &[u8],
        _ignore: bool,
        action: char,
    ) {
        if !intermediates.is_empty() {
            return;
        }
        let n = param(params, 1);
        match action {
            // Cursor forward, back, to a column.
            'C' => self.col = (self.col + n).min(MAX_COLS),
            'D' => self.col = self.col.saturating_sub(n),
            'G' => self.col = (n - 1).min(MAX_COLS),
            // Erase in line: to its end, to its start, all of it.
            'K' => match param(params, 0) {
                0 => self.line.truncate(self.col),
                1 => {
                    let upto = (self.col + 1).min(self.line.len());
                    self.line[..upto].fill(' ');
                }
                _ => self.line.clear(),
            },
            // Delete, insert and erase characters at the cursor.
            'P' if self.col < self.line.len() => {
                let end = (self.col + n).min(self.line.len());
                self.line.drain(self.col..end);
            }
            '@' => {
                self.pad_to(self.col);
                let n = n.min(MAX_COLS);
                self.line
                    .splice(self.col..self.col, std::iter::repeat_n(' ', n));
                self.line.truncate(MAX_COLS);
            }
            'X' => {
                let end = (self.col + n).min(self.line.len());
                if self.col < end {
                    self.line[self.col..end].fill(' ');
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn a_redrawn_line_shows_once() {
        // bash after a paste: the line again over the prompt.
        let bytes = b"$ echo hi\r\x1b[C\x1b[Cecho hi\r\nhi\r\n$ ";
        assert_eq!(render(bytes), "$ echo hi\nhi\n$");
        assert_eq!(render(b"abc\rxy\x1b[Cz\n"), "xycz\n");
    }

    #[test]
    fn erases_deletes_and_inserts_apply_within_the_line() {
        assert_eq!(render(b"hello\x08\x08\x1b[K!\n"), "hel!\n");
        assert_eq!(render(b"abcdef\r\x1b[2P\n"), "cdef\n");
        assert_eq!(render(b"abc\r\x1b[2@xy\n"), "xyabc\n");
        assert_eq!(render(b"abcdef\x1b[3G\x1b[2X\n"), "ab  ef\n");
        assert_eq!(render(b"old\x1b[2K\rnew"), "new");
        assert_eq!(render(b"a\tb\x1b[31mred\x1b[0m\n"), "a       bred\n");
    }
}
