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
//!
//! It follows escape sequences only far enough to tell text from them: a
//! letter inside a sequence or a string (a title) is never translated.

use std::borrow::Cow;

/// Where the scanner is in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and an intermediate byte other than `(` and `)`.
    EscapeIntermediate,
    /// After `ESC (` (G0) or `ESC )` (G1): the set's final byte comes.
    Designate(usize),
    /// In a control sequence (`ESC [`), up to its final byte; `plain`
    /// while its parameters are digits and separators only (no private
    /// marker, no intermediate byte).
    Csi {
        plain: bool,
    },
    /// In a string (OSC, DCS, SOS, PM, APC), up to BEL or ST.
    Str,
    /// ESC inside a string: ST (`ESC \`), or a new sequence.
    StrEscape,
}

/// What a byte of the output becomes.
enum Emit {
    /// Itself.
    Same,
    /// This character instead (drawn in DEC special graphics).
    Char(char),
    /// Itself, then a cursor home (it ended a DECSTBM).
    ThenHome,
}

/// The Unicode characters of DEC special graphics for `_` to `~`.
const GRAPHICS: [char; 32] = [
    '\u{a0}', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼', '⎺', '⎻',
    '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
];

/// Follows a terminal's output and puts right what `vt100` gets wrong (see
/// the module's documentation).
#[derive(Debug, Clone)]
pub struct VtGaps {
    state: State,
    /// Whether G0 and G1 are DEC special graphics.
    graphics: [bool; 2],
    /// Shifted out: G1 is in use (else G0).
    shifted: bool,
}

impl Default for VtGaps {
    fn default() -> Self {
        VtGaps {
            state: State::Ground,
            graphics: [false; 2],
            shifted: false,
        }
    }
}

impl VtGaps {
    /// Forget a sequence cut off (the output before it was skipped); the
    /// character sets stay.
    pub fn restart(&mut self) {
        self.state = State::Ground;
    }

    /// The sequences that give a terminal these character sets (after
    /// what it draws as it shows, in Unicode): G0 and G1 designated, and
    /// G1 in use if shifted out.
    pub fn designations(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (set, intro) in self.graphics.iter().zip([b'(', b')']) {
            out.extend_from_slice(&[0x1b, intro, if *set { b'0' } else { b'B' }]);
        }
        out.push(if self.shifted { 0x0e } else { 0x0f });
        out
    }

    /// `bytes` put right: what is drawn in DEC special graphics as UTF-8,
    /// a cursor home after each DECSTBM.
    pub fn translate<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Option<Vec<u8>> = None;
        let mut i = 0;
        while i < bytes.len() {
            // Text drawn in ASCII changes nothing: skip to the next byte
            // that can (ESC, shift out/in) at memchr's speed. A flood of
            // text is almost all such runs.
            if self.state == State::Ground && !self.graphics[usize::from(self.shifted)] {
                let run = memchr::memchr3(0x1b, 0x0e, 0x0f, &bytes[i..]).unwrap_or(bytes.len() - i);
                if let Some(out) = out.as_mut() {
                    out.extend_from_slice(&bytes[i..i + run]);
                }
                i += run;
                if i == bytes.len() {
                    break;
                }
            }
            let b = bytes[i];
            match self.step(b) {
                Emit::Same => {
                    if let Some(out) = out.as_mut() {
                        out.push(b);
                    }
                }
                Emit::Char(c) => {
                    let out = out.get_or_insert_with(|| bytes[..i].to_vec());
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Emit::ThenHome => {
                    let out = out.get_or_insert_with(|| bytes[..i].to_vec());
                    out.push(b);
                    out.extend_from_slice(b"\x1b[H");
                }
            }
            i += 1;
        }
        out.map_or(Cow::Borrowed(bytes), Cow::Owned)
    }

    /// Take one byte: what it becomes.
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
                b'_'..=b'~' if self.graphics[usize::from(self.shifted)] => {
                    if let Some(c) = GRAPHICS.get(usize::from(b - b'_')) {
                        return Emit::Char(*c);
                    }
                }
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
            State::Csi { plain } => match b {
                0x40..=0x7e => {
                    self.state = State::Ground;
                    if plain && b == b'r' {
                        return Emit::ThenHome;
                    }
                }
                // Controls are carried out inside a sequence.
                b'0'..=b'9' | b';' | b':' | 0x00..=0x1f => {}
                _ => self.state = State::Csi { plain: false },
            },
            State::Str => {
                if b == 0x07 {
                    self.state = State::Ground;
                }
            }
        }
        Emit::Same
    }

    /// The byte after ESC.
    fn escape(&mut self, b: u8) {
        self.state = match b {
            b'(' => State::Designate(0),
            b')' => State::Designate(1),
            b'[' => State::Csi { plain: true },
            b']' | b'P' | b'X' | b'^' | b'_' => State::Str,
            0x20..=0x2f => State::EscapeIntermediate,
            b'c' => {
                // A full reset: both sets back to ASCII, G0 in use.
                *self = VtGaps::default();
                State::Ground
            }
            _ => State::Ground,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> String {
        String::from_utf8(VtGaps::default().translate(bytes).into_owned()).unwrap()
    }

    #[test]
    fn any_cut_of_the_output_translates_as_the_whole() {
        let text: &[u8] = b"plain \x1b[31mred\x1b[m \x1b(0lqqk\x1b(B text \x1b)0\x0ex\x0f \x1b]0;t\x07 \x1b[2;5r end";
        let whole = all(text);
        for cut in 1..text.len() {
            let mut g = VtGaps::default();
            let mut pieces = g.translate(&text[..cut]).into_owned();
            pieces.extend_from_slice(&g.translate(&text[cut..]));
            assert_eq!(String::from_utf8(pieces).unwrap(), whole, "cut at {cut}");
        }
        assert!(whole.contains("┌──┐") && whole.ends_with("\x1b[2;5r\x1b[H end"));
    }

    #[test]
    fn boxes_in_g0_and_g1() {
        assert_eq!(all(b"\x1b(0lqqk\x1b(B lqk"), "\x1b(0┌──┐\x1b(B lqk");
        assert_eq!(
            all(b"\x1b)0a\x0elqk\x0fx"),
            "\x1b)0a\x0e┌─┐\x0fx",
            "G1, shifted out and in"
        );
        assert_eq!(all(b"\x1b(0x\x1bcx"), "\x1b(0│\x1bcx", "a full reset");
    }

    #[test]
    fn a_scroll_region_then_home() {
        assert_eq!(all(b"\x1b[2;5rx\x1b[r"), "\x1b[2;5r\x1b[Hx\x1b[r\x1b[H");
        let others = b"\x1b[?6r\x1b[1;2;3;4;5$r\x1b[>1r";
        assert_eq!(all(others), String::from_utf8_lossy(others), "not DECSTBM");
        let mut g = VtGaps::default();
        assert_eq!(&*g.translate(b"a\x1b[3"), b"a\x1b[3");
        assert_eq!(
            &*g.translate(b";4rb"),
            b";4r\x1b[Hb",
            "cut between two writes"
        );
    }

    #[test]
    fn sequences_and_strings_are_left_alone() {
        assert_eq!(
            all(b"\x1b(0\x1b[1;2m\x1b]2;lqk\x07\x1b]0;q\x1b\\q"),
            "\x1b(0\x1b[1;2m\x1b]2;lqk\x07\x1b]0;q\x1b\\─"
        );
        assert_eq!(
            all(b"\x1b(0\x1b#8q\x1b[?1049hq"),
            "\x1b(0\x1b#8─\x1b[?1049h─"
        );
        assert_eq!(all("\x1b(0é".as_bytes()), "\x1b(0é");
    }

    #[test]
    fn designations_give_another_scanner_the_same_sets() {
        let mut g = VtGaps::default();
        g.translate(b"\x1b)0\x0e");
        let mut other = VtGaps::default();
        other.translate(&g.designations());
        assert_eq!(&*other.translate(b"q\x0fq"), "─\x0fq".as_bytes());
        assert_eq!(VtGaps::default().designations(), b"\x1b(B\x1b)B\x0f");
    }

    #[test]
    fn a_designation_cut_between_two_writes_holds() {
        let mut g = VtGaps::default();
        assert_eq!(&*g.translate(b"ab\x1b("), b"ab\x1b(");
        assert_eq!(&*g.translate(b"0q"), "0─".as_bytes());
        assert!(matches!(g.translate(b"\x1b(Bq"), Cow::Borrowed(_)));
    }
}
