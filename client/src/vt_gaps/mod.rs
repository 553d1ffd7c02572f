//! What the `vt100` emulator gets wrong, put right in the output before it
//! parses it, so that what plays output on it (the supervisor's screen
//! model, `hm attach`'s view, hm-agent's `session_read`) shows what a
//! terminal shows:
//!
//! - The DEC special graphics character set, which it does not know:
//!   ncurses draws its boxes with it on xterm-like terminals (`ESC ( 0`,
//!   then `lqqk` for `┌──┐`). [`VtGaps`] follows the character set
//!   designations (G0 and G1, `ESC (`/`ESC )`, shift out and in) and writes
//!   the characters drawn in that set as the Unicode ones a terminal shows.
//! - Setting a scroll region (DECSTBM) puts the cursor home on a VT100,
//!   xterm or tmux; `vt100` puts it on the region's top row. A cursor home
//!   (`ESC [ H`) is added after it (in origin mode both are the region's
//!   top row).
//! - U+FFFD and invalid UTF-8: `vt100` draws nothing for U+FFFD (nor for
//!   the invalid UTF-8 its parser turns into U+FFFD), so `a\u{fffd}b` read
//!   `ab` and what followed was a column left of where a terminal has it.
//!   xterm, VTE terminals and kitty show U+FFFD, and one U+FFFD for each
//!   maximal invalid subsequence (the rule of `String::from_utf8_lossy`).
//!   [`VtGaps`] writes [`STAND_IN`] in their place, a character `vt100`
//!   draws (one column wide, as U+FFFD), and [`restore`] turns it back into
//!   U+FFFD in what is read out of the emulator: everything that reads text
//!   from a `vt100` screen fed through [`VtGaps`] goes through [`restore`].
//!   A program that prints [`STAND_IN`] itself shows U+FFFD there (a
//!   noncharacter, for a program's internal use, never interchanged). A
//!   character whose bytes are cut between two outputs is held back until
//!   its end comes, never taken for invalid.
//! - Insert mode (IRM, `CSI 4 h` to `CSI 4 l`), which `vt100` does not
//!   know: what is written in it pushes the rest of the line right. Each
//!   character drawn in insert mode is written after an insert of as many
//!   blank cells as it is wide (ICH, `CSI n @`), which `vt100` knows. A
//!   full reset (`ESC c`) and a soft reset (DECSTR, `CSI ! p`) end it, and
//!   put the character sets back to ASCII, as on xterm and tmux. One
//!   difference is left: a character that wraps at the right margin in
//!   insert mode overwrites the start of the next line instead of pushing
//!   it right (where the cursor is, only the emulator knows).
//!
//! It follows escape sequences only far enough to tell text from them: a
//! letter inside a sequence or a string (a title) is never translated.

mod scan;

use std::borrow::Cow;

use unicode_width::UnicodeWidthChar;

/// What [`VtGaps`] writes for `vt100` where the output has U+FFFD or
/// invalid UTF-8 (U+FDD0, a noncharacter): [`restore`] turns it back.
pub const STAND_IN: char = '\u{fdd0}';

/// `text` read out of a `vt100` screen fed through [`VtGaps`] as a terminal
/// shows it: U+FFFD where [`VtGaps`] wrote [`STAND_IN`].
pub fn restore(text: &str) -> Cow<'_, str> {
    if text.contains(STAND_IN) {
        Cow::Owned(text.replace(STAND_IN, "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Where the scanner is in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and an intermediate byte other than `(` and `)`.
    EscapeIntermediate,
    /// After `ESC (` (G0) or `ESC )` (G1): the set's final byte comes.
    Designate(usize),
    /// In a control sequence (`ESC [`), up to its final byte.
    Csi(Csi),
    /// In a string (OSC, DCS, SOS, PM, APC), up to BEL or ST.
    Str,
    /// ESC inside a string: ST (`ESC \`), or a new sequence.
    StrEscape,
}

/// What is known of a control sequence before its final byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Csi {
    /// Its parameters are digits and separators only so far (no private
    /// marker, no intermediate byte).
    plain: bool,
    /// `!` came after plain parameters, and nothing since (DECSTR is
    /// `CSI ! p`).
    bang: bool,
    /// The parameter being read.
    param: u16,
    /// A parameter before it was 4 (IRM, to `CSI h` and `CSI l`).
    four: bool,
}

impl Csi {
    const START: Csi = Csi {
        plain: true,
        bang: false,
        param: 0,
        four: false,
    };
}

/// What a byte of the output becomes.
enum Emit {
    /// Itself.
    Same,
    /// Itself, then a cursor home (it ended a DECSTBM).
    ThenHome,
}

/// The Unicode characters of DEC special graphics for `_` to `~`.
const GRAPHICS: [char; 32] = [
    '\u{a0}', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼', '⎺', '⎻',
    '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
];

/// U+FFFD in UTF-8.
const REPLACEMENT: &[u8] = "\u{fffd}".as_bytes();

/// One output's translation: a copy is made only from its first change.
struct Out<'a> {
    src: &'a [u8],
    /// The translation, once it differs from `src`.
    changed: Option<Vec<u8>>,
    /// Where the translation ends in `src` while it is the same (a
    /// character cut off by the end is held back).
    end: usize,
}

impl<'a> Out<'a> {
    fn new(src: &'a [u8]) -> Out<'a> {
        Out {
            src,
            changed: None,
            end: src.len(),
        }
    }

    /// `src[from..to]` unchanged, after what came before.
    fn keep(&mut self, from: usize, to: usize) {
        if let Some(changed) = self.changed.as_mut() {
            changed.extend_from_slice(&self.src[from..to]);
        }
    }

    /// The translation up to `at` in `src`, to write what `src` has from
    /// there on changed.
    fn change(&mut self, at: usize) -> &mut Vec<u8> {
        let src = self.src;
        self.changed.get_or_insert_with(|| src[..at].to_vec())
    }

    /// Nothing of `src` from `at` on (the last thing done).
    fn hold_back(&mut self, at: usize) {
        self.end = at;
    }

    fn finish(self) -> Cow<'a, [u8]> {
        match self.changed {
            Some(changed) => Cow::Owned(changed),
            None => Cow::Borrowed(&self.src[..self.end]),
        }
    }
}

/// Follows a terminal's output and puts right what `vt100` gets wrong (see
/// the module's documentation).
#[derive(Debug, Clone, Default)]
pub struct VtGaps {
    state: State,
    /// Whether G0 and G1 are DEC special graphics.
    graphics: [bool; 2],
    /// Shifted out: G1 is in use (else G0).
    shifted: bool,
    /// Insert mode (IRM) is set.
    insert: bool,
    /// The first bytes of a character the last output ended in.
    partial: Vec<u8>,
}

impl VtGaps {
    /// Forget a sequence or character cut off (the output before it was
    /// skipped); the character sets and insert mode stay.
    pub fn restart(&mut self) {
        self.state = State::Ground;
        self.partial.clear();
    }

    /// Whether the output so far ends inside an escape sequence or a
    /// string (a title), its end still to come.
    pub fn in_sequence(&self) -> bool {
        self.state != State::Ground
    }

    /// The sequences that give a terminal the modes followed here (after
    /// what it draws as it shows, in Unicode): G0 and G1 designated, G1 in
    /// use if shifted out, insert mode set or reset.
    pub fn modes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (set, intro) in self.graphics.iter().zip([b'(', b')']) {
            out.extend_from_slice(&[0x1b, intro, if *set { b'0' } else { b'B' }]);
        }
        out.push(if self.shifted { 0x0e } else { 0x0f });
        out.extend_from_slice(if self.insert { b"\x1b[4h" } else { b"\x1b[4l" });
        out
    }

    /// `bytes` put right (see the module's documentation): what is drawn in
    /// DEC special graphics as UTF-8, a cursor home after each DECSTBM,
    /// [`STAND_IN`] for U+FFFD and invalid UTF-8, an insert before what is
    /// drawn in insert mode; a character cut off at the end is held back
    /// for the next call.
    pub fn translate<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out = Out::new(bytes);
        let mut i = if self.partial.is_empty() {
            0
        } else {
            self.complete(&mut out)
        };
        while i < bytes.len() {
            if self.state == State::Ground {
                // ASCII drawn in ASCII changes nothing (a flood of text is
                // almost all of it), up to a byte that can change the state
                // (ESC, shift out or in) or that is beyond ASCII.
                if self.plain() {
                    let run = scan::plain_ascii(&bytes[i..]);
                    out.keep(i, i + run);
                    i += run;
                }
                if bytes.get(i).is_some_and(|&b| b >= 0x80 || !self.plain()) {
                    // Other text: up to a byte that can change the state.
                    let end = memchr::memchr3(0x1b, 0x0e, 0x0f, &bytes[i..])
                        .map_or(bytes.len(), |n| i + n);
                    self.text(&mut out, i, end);
                    i = end;
                }
                if i == bytes.len() {
                    break;
                }
            }
            let b = bytes[i];
            match self.step(b) {
                Emit::Same => out.keep(i, i + 1),
                Emit::ThenHome => out.change(i).extend_from_slice(&[b, 0x1b, b'[', b'H']),
            }
            i += 1;
        }
        out.finish()
    }

    /// The character the last output ended in, with its end from the start
    /// of this one: how many bytes of this one it took.
    fn complete(&mut self, out: &mut Out) -> usize {
        let src = out.src;
        let had = self.partial.len();
        let mut joined = std::mem::take(&mut self.partial);
        joined.extend_from_slice(&src[..src.len().min(4 - had)]);
        // What was held back is the start of a character: whole if any of
        // it is valid.
        let (valid, invalid) = match std::str::from_utf8(&joined) {
            Ok(text) => (text, None),
            Err(e) => (
                // Valid UTF-8 up to there.
                std::str::from_utf8(&joined[..e.valid_up_to()]).unwrap_or_default(),
                e.error_len(),
            ),
        };
        if let Some(c) = valid.chars().next() {
            self.draw(out.change(0), self.shown(c));
            return c.len_utf8() - had;
        }
        match invalid {
            // Still cut off: this output is shorter than the rest of it.
            None => {
                self.partial = joined;
                out.hold_back(0);
                src.len()
            }
            Some(len) => {
                self.draw(out.change(0), STAND_IN);
                len.saturating_sub(had)
            }
        }
    }

    /// Whether text is drawn as it is (but for U+FFFD and invalid UTF-8):
    /// in ASCII, not in insert mode.
    fn plain(&self) -> bool {
        !self.insert && !self.graphics[usize::from(self.shifted)]
    }

    /// Text from `start` to `end` of the output (no ESC, shift out or in).
    fn text(&mut self, out: &mut Out, start: usize, end: usize) {
        let src = out.src;
        let mut at = start;
        while at < end {
            let (valid, invalid) = match std::str::from_utf8(&src[at..end]) {
                Ok(text) => (text, None),
                Err(e) => (
                    // Valid UTF-8 up to there.
                    std::str::from_utf8(&src[at..at + e.valid_up_to()]).unwrap_or_default(),
                    Some(e.error_len()),
                ),
            };
            self.valid_text(out, at, valid);
            at += valid.len();
            match invalid {
                None => {}
                // Cut off by the end of the output: held back.
                Some(None) if end == src.len() => {
                    self.partial = src[at..].to_vec();
                    out.hold_back(at);
                    return;
                }
                // Invalid (cut off by ESC, shift out or in: all the rest).
                Some(len) => {
                    self.draw(out.change(at), STAND_IN);
                    at += len.unwrap_or(end - at);
                }
            }
        }
    }

    /// `text`, valid UTF-8, at `at` in the output.
    fn valid_text(&self, out: &mut Out, at: usize, text: &str) {
        if self.plain() {
            // The same but for U+FFFD.
            let mut kept = 0;
            for k in memchr::memmem::find_iter(text.as_bytes(), REPLACEMENT) {
                out.keep(at + kept, at + k);
                self.draw(out.change(at + k), STAND_IN);
                kept = k + REPLACEMENT.len();
            }
            out.keep(at + kept, at + text.len());
            return;
        }
        for (k, c) in text.char_indices() {
            let shown = self.shown(c);
            if shown == c && !self.inserts(shown) {
                out.keep(at + k, at + k + c.len_utf8());
            } else {
                self.draw(out.change(at + k), shown);
            }
        }
    }

    /// What `vt100` is given to draw for `c`.
    fn shown(&self, c: char) -> char {
        let graphics = self.graphics[usize::from(self.shifted)];
        match c {
            '_'..='~' if graphics => GRAPHICS[c as usize - usize::from(b'_')],
            char::REPLACEMENT_CHARACTER => STAND_IN,
            _ => c,
        }
    }

    /// Whether `c` (as shown) is drawn after an insert: in insert mode, a
    /// character that takes cells.
    fn inserts(&self, c: char) -> bool {
        self.insert && c.width().is_some_and(|w| w > 0)
    }

    /// Write `c` as drawn: after an insert of its cells in insert mode.
    fn draw(&self, to: &mut Vec<u8>, c: char) {
        if self.inserts(c) {
            // vt100 draws a character at most two cells wide.
            let cells = c.width().unwrap_or(1).min(2);
            to.extend_from_slice(format!("\x1b[{cells}@").as_bytes());
        }
        let mut buf = [0u8; 4];
        to.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// Take one byte outside text: what it becomes.
    fn step(&mut self, b: u8) -> Emit {
        // CAN and SUB cancel a sequence; ESC starts a new one anywhere
        // but in a string (where it may be ST).
        match (b, self.state) {
            (0x18 | 0x1a, _) => {
                self.state = State::Ground;
                return Emit::Same;
            }
            (0x1b, State::Str) => {
                self.state = State::StrEscape;
                return Emit::Same;
            }
            (0x1b, _) => {
                self.state = State::Escape;
                return Emit::Same;
            }
            _ => {}
        }
        match self.state {
            State::Ground => match b {
                0x0e => self.shifted = true,
                0x0f => self.shifted = false,
                _ => {}
            },
            State::Escape | State::StrEscape => self.escape(b),
            State::EscapeIntermediate => {
                if !(0x20..=0x2f).contains(&b) {
                    self.state = State::Ground;
                }
            }
            State::Designate(g) => {
                if !(0x20..=0x2f).contains(&b) {
                    self.graphics[g] = b == b'0';
                    self.state = State::Ground;
                }
            }
            State::Csi(mut csi) => {
                if (0x40..=0x7e).contains(&b) {
                    self.state = State::Ground;
                    return self.control_sequence(csi, b);
                }
                match b {
                    b'0'..=b'9' => {
                        csi.param = csi
                            .param
                            .saturating_mul(10)
                            .saturating_add(u16::from(b - b'0'));
                        csi.bang = false;
                    }
                    b';' | b':' => {
                        csi.four |= csi.param == 4;
                        csi.param = 0;
                        csi.bang = false;
                    }
                    // Controls are carried out inside a sequence.
                    0x00..=0x1f => {}
                    b'!' => {
                        csi.bang = csi.plain;
                        csi.plain = false;
                    }
                    _ => {
                        csi.plain = false;
                        csi.bang = false;
                    }
                }
                self.state = State::Csi(csi);
            }
            State::Str => {
                if b == 0x07 {
                    self.state = State::Ground;
                }
            }
        }
        Emit::Same
    }

    /// A control sequence ended by `last`.
    fn control_sequence(&mut self, csi: Csi, last: u8) -> Emit {
        match last {
            b'r' if csi.plain => return Emit::ThenHome,
            b'h' | b'l' if csi.plain && (csi.four || csi.param == 4) => {
                self.insert = last == b'h';
            }
            b'p' if csi.bang => {
                // A soft reset (DECSTR).
                self.insert = false;
                self.graphics = [false; 2];
                self.shifted = false;
            }
            _ => {}
        }
        Emit::Same
    }

    /// The byte after ESC.
    fn escape(&mut self, b: u8) {
        self.state = match b {
            b'(' => State::Designate(0),
            b')' => State::Designate(1),
            b'[' => State::Csi(Csi::START),
            b']' | b'P' | b'X' | b'^' | b'_' => State::Str,
            0x20..=0x2f => State::EscapeIntermediate,
            b'c' => {
                // A full reset: both sets back to ASCII, G0 in use, insert
                // mode off.
                *self = VtGaps::default();
                State::Ground
            }
            _ => State::Ground,
        };
    }
}

#[cfg(test)]
mod tests;
