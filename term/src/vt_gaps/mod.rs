//! What the `vt100` emulator gets wrong, put right in the output before it
//! parses it, so that [`crate::Terminal`] shows what a terminal shows:
//!
//! - The DEC special graphics character set, which it does not know:
//!   ncurses draws its boxes with it on xterm-like terminals (`ESC ( 0`,
//!   then `lqqk` for `┌──┐`). [`VtGaps`] follows the character set
//!   designations (G0 and G1, `ESC (`/`ESC )`, shift out and in) and writes
//!   the characters drawn in that set as the Unicode ones a terminal shows.
//!   They are saved with the cursor and restored with it, as on xterm and
//!   tmux: DECSC and DECRC (`ESC 7`, `ESC 8`), entering and leaving the
//!   alternate screen (`CSI ? 1049 h`, `l`), and SCOSC and SCORC (`CSI s`
//!   without parameters, `CSI u`), which `vt100` does not know: DECSC and
//!   DECRC follow them.
//! - IND and NEL (`ESC D`, `ESC E`), which `vt100` ignores: a line feed
//!   (and a carriage return before it for NEL) follows them.
//! - The alternate screen without a saved cursor (`CSI ? 47 h` and `l`,
//!   `CSI ? 1047 h` and `l`, which clears it on leaving): xterm and tmux
//!   have one cursor for both screens, `vt100` one each for 47 and ignores
//!   1047. The switch is written as 47, a cursor move to where the cursor
//!   was after it (and for leaving 1047 a clear of the screen left before
//!   it); a wrap pending stays pending (the last column drawn again, or a
//!   pad). Mode 1048, which `vt100` ignores, saves the cursor as DECSC
//!   (`h`) and restores it as DECRC (`l`), as on xterm (tmux 3.3a ignores
//!   it). A sequence with one of them has each of its modes carried out in
//!   turn ([`private`]): it is cancelled and each written after it alone
//!   (`CSI ? 1047 ; 1 h` as the switch, then `CSI ? 1 h`).
//! - DECALN (`ESC # 8`, the screen alignment test), which `vt100` ignores:
//!   the screen is filled with `E`s without attributes, the scroll region
//!   set to the whole screen and the cursor put home after it, as on xterm
//!   and tmux.
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
//!   from a `vt100` screen fed through [`VtGaps`] goes through [`restore`]
//!   (what draws it on another terminal through [`restore_drawn`]).
//!   A program that prints [`STAND_IN`] itself shows U+FFFD there (a
//!   noncharacter, for a program's internal use, never interchanged). A
//!   character whose bytes are cut between two outputs is held back until
//!   its end comes, never taken for invalid.
//! - Insert mode (IRM, `CSI 4 h` to `CSI 4 l`), which `vt100` does not
//!   know: what is written in it pushes the rest of the line right. Each
//!   character drawn in insert mode is written after an insert of as many
//!   blank cells as it is wide (ICH, `CSI n @`), which `vt100` knows. A
//!   full reset (`ESC c`) and a soft reset (DECSTR, `CSI ! p`) end it, and
//!   put the character sets back to ASCII, as on xterm and tmux. A
//!   character that does not fit at the right margin wraps first and is
//!   inserted at the start of the next line, and the line it wrapped from
//!   is marked as wrapped, as on xterm and tmux: the insert is made on
//!   the next line, then the cursor is put back (the last column's
//!   character drawn again) for `vt100` to wrap the character itself,
//!   which is what marks a line (`vt100` has no other way).
//! - Autowrap off (DECAWM reset, `CSI ? 7 l`), which `vt100` does not know:
//!   a character written at the right margin overwrites the last column
//!   instead of wrapping, and the cursor stays there (a cursor move to the
//!   last column after it; a wide character that does not fit is not
//!   drawn, as on xterm and tmux). `CSI ? 7 h`, a full reset and a soft
//!   reset turn it on again, as on xterm (which keeps DECAWM on after
//!   DECSTR).
//! - Tab stops: `vt100` always tabs to the next multiple of 8. The stops
//!   set (HTS, `ESC H`) and cleared (TBC, `CSI g`, `CSI 3 g`) are kept
//!   here ([`crate::tabs`]), and while they are not the default ones a tab
//!   becomes a cursor move (CHA) to the next stop. Tabs forward and back by
//!   `n` stops (CHT `CSI n I`, CBT `CSI n Z`), which `vt100` ignores, are
//!   followed by that move. A full reset puts the default stops back.
//!   A tab while the cursor waits to wrap (a character just written in the
//!   last column) leaves it waiting, as on xterm and tmux: `vt100` took it
//!   back into the last column, where the next character overwrote the
//!   last one. A tab inside an escape sequence (`ESC [ 1 TAB ; 5 H`) is
//!   carried out there, the sequence going on, as any control is there on
//!   xterm, tmux and `vt100`; its move is then made of tabs and backspaces.
//!   (Shift out and in there are followed too.)
//! - U+FE0F (VS16, emoji presentation) after a character shown in text
//!   presentation (U+2764, U+26A0): `vt100` made the character two cells
//!   wide, where tmux 3.3a keeps it one wide, as the program's `wcwidth`
//!   counts it (1, and 0 for U+FE0F), so what followed on the line was a
//!   column right of where the program put it. `vt100` is given a stand-in
//!   no cells wide instead (U+E0001), which [`restore`] turns back.
//! - A wide character that does not fit in the last column wraps, and
//!   xterm and tmux mark the row it leaves as wrapped; `vt100` does only
//!   when something is drawn in that column. Where nothing is, a pad is
//!   drawn there first (U+FDD1, a noncharacter): [`restore`] reads it as
//!   nothing, [`restore_drawn`] draws it as a blank. (Outside insert mode
//!   the cursor is asked at the first wide character of a run and counted
//!   along it.)
//! - Text drawn hidden (SGR 8, concealed: a password shown masked), which
//!   `vt100` ignores and so showed in clear, to everything that reads its
//!   screen. A terminal shows blanks there, in the other attributes (a
//!   background colour); `vt100` is given those blanks: a space for a
//!   character one cell wide, U+3000 (IDEOGRAPHIC SPACE, two wide) for a
//!   wide one, so that the cursor and a wrap go as for the character,
//!   nothing for one no cells wide (a combining mark). The text itself
//!   never reaches the screen, so no reader of it (a script, hm-agent's
//!   model, the Discord relay, a terminal attached later) gets it: secrets
//!   stay on the machine. Hidden is followed through SGR as tmux 3.3a
//!   parses it ([`sgr`]: 28 and a reset end it, an extended colour's
//!   parameters are skipped, `38;5;8` is a colour), saved and restored
//!   with the cursor (DECSC and DECRC, SCOSC and SCORC, `CSI ? 1049 h` and
//!   `l`), ended by a full reset, not by a soft one (as on tmux 3.3a).
//!   [`VtGaps::modes`] gives it to a terminal attached later, for what the
//!   program draws next.
//! - REP (`CSI n b`, the last character drawn repeated `n` times) in
//!   insert mode and with autowrap off, where `vt100` draws it over the
//!   line and past the last column: the last character given to `vt100`
//!   to draw is followed ([`repeat`]), and the REP cancelled and the
//!   character drawn `n` times as these modes draw it, as xterm does (and
//!   tmux 3.3a, which though never repeats a wide character nor past the
//!   right margin, nor after anything but the character).
//! - A double underline (SGR 21) and the underline styles of the colon
//!   form (`4:1` to `4:5`: curly, dotted, dashed), which `vt100` ignores,
//!   as does it `4:0`, their end: the underline the sequence leaves is set
//!   after it (`CSI 4 m` or `CSI 24 m`). `vt100` has one underline, so the
//!   style is lost (tmux 3.3a keeps it). Blink (5, 6) and strikethrough
//!   (9) it has no cell attribute for, nor room to keep one: they are not
//!   shown.
//!
//! UTF-8 encoded C1 controls (U+0080 to U+009F) are dropped by `vt100`, as
//! tmux 3.3a and VTE drop them; xterm takes them for controls (U+009B for
//! CSI), but text with them is text mis-decoded (cp1252 read as Latin-1)
//! far more often than a program's controls, and taken for controls a
//! stray U+0090 or U+009D would hide the rest of the output as a string.
//!
//! What depends on the cursor (a character at the right margin in insert
//! mode or with autowrap off, a wide character, a tab, a tab stop set or
//! gone to) is asked of the emulator ([`Emulator`]) at that point, and of
//! its screen where what is in the last column matters: the output before
//! it is parsed first. Ordinary output without tabs or wide characters (and
//! none of these modes) is given to the emulator as it came, in one piece.
//!
//! It follows escape sequences only far enough to tell text from them: a
//! letter inside a sequence or a string (a title) is never translated. A
//! fresh emulator going on from another's state ([`VtGaps::resume`]) is
//! not given the rest of a sequence or string it did not see begin, which
//! its parser would take for text.

mod out;
mod private;
mod repeat;
mod scan;
mod sgr;
mod stand_in;
mod wrap;

use unicode_width::UnicodeWidthChar;

use crate::tabs::TabStops;

use out::Out;
use sgr::Sgr;
pub(crate) use stand_in::PAD;
use stand_in::STAND_IN_VS16;
pub use stand_in::{restore, restore_drawn, STAND_IN};
use wrap::{advance, insert_cells, wrap_then_insert};

/// The emulator the translation is written to, asked where its cursor is
/// where the translation depends on it.
pub(crate) trait Emulator {
    /// Parse `bytes`.
    fn write(&mut self, bytes: &[u8]);
    /// The cursor's column, from 0: the width of the screen after a
    /// character written in the last column (a wrap pending).
    fn cursor_col(&self) -> u16;
    /// The width of the screen.
    fn cols(&self) -> u16;
    /// The cursor's row, from 0.
    fn cursor_row(&self) -> u16;
    /// The height of the screen.
    fn rows(&self) -> u16;
    /// Whether nothing is drawn in row `row` (a row scrolled in).
    fn row_blank(&self, row: u16) -> bool;
    /// What draws the character in the last column of row `row` again as
    /// it is: a cursor move to its column (the one before for a wide
    /// character), its attributes, it, and the current attributes back.
    /// None if nothing is drawn there.
    fn last_char(&self, row: u16) -> Option<Vec<u8>>;
    /// The sequences that set the current attributes (SGR).
    fn attributes(&self) -> Vec<u8>;
    /// Whether the alternate screen is shown.
    fn alternate(&self) -> bool;
}

/// Where the scanner is in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and an intermediate byte other than `(`, `)` and `#`.
    EscapeIntermediate,
    /// After `ESC #` (DECALN is `ESC # 8`).
    Hash,
    /// After `ESC (` (G0) or `ESC )` (G1): the set's final byte comes.
    Designate(usize),
    /// In a control sequence (`ESC [`), up to its final byte (what is
    /// known of it: [`VtGaps::csi`]).
    Csi,
    /// In a string (OSC, DCS, SOS, PM, APC), up to ST, or BEL if it is
    /// an OSC (BEL is part of the others, as `vte` parses them).
    Str {
        /// It is an OSC.
        osc: bool,
    },
    /// ESC inside a string: ST (`ESC \`), or a new sequence.
    StrEscape,
}

/// What is known of a control sequence before its final byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Csi {
    /// Its parameters are digits and separators only so far (no private
    /// marker, no intermediate byte).
    plain: bool,
    /// It began with `?` (a DEC private mode) and has had digits and
    /// separators only since.
    dec: bool,
    /// `!` came after plain parameters, and nothing since (DECSTR is
    /// `CSI ! p`).
    bang: bool,
    /// The parameter being read.
    param: u16,
    /// The first parameter, once a separator ended it.
    first: Option<u16>,
    /// A parameter before it was 4 (IRM, to `CSI h` and `CSI l`).
    four: bool,
    /// What the parameters so far do if it is SGR.
    sgr: Sgr,
}

impl Default for Csi {
    fn default() -> Csi {
        Csi::START
    }
}

impl Csi {
    const START: Csi = Csi {
        plain: true,
        dec: false,
        bang: false,
        param: 0,
        first: None,
        four: false,
        sgr: Sgr::START,
    };

    /// The first parameter (0 if none was given).
    fn first(&self) -> u16 {
        self.first.unwrap_or(self.param)
    }
}

/// What a byte of the output becomes.
enum Emit {
    /// Itself.
    Same,
    /// Itself, then these bytes (a cursor home after DECSTBM, the cursor
    /// saved or restored after SCOSC or SCORC, a line feed after IND).
    ThenWrite(&'static [u8]),
    /// Itself, then what depends on where the cursor is.
    Then(AtCursor),
    /// A tab inside an escape sequence, carried out there.
    Tab,
    /// Private modes set (true) or reset, some of which `vt100` does not
    /// carry out as xterm does (see [`private`]).
    PrivateModes(bool),
    /// REP in insert mode or with autowrap off: the last character drawn
    /// this many times (see [`repeat`]).
    Repeat(u16),
}

/// What a sequence does where the cursor is (tab stops).
#[derive(Debug, Clone, Copy)]
enum AtCursor {
    /// HTS: a stop at the cursor's column.
    SetStop,
    /// TBC 0: no stop at the cursor's column.
    ClearStop,
    /// CHT: forward by this many stops.
    Forward(u16),
    /// CBT: back by this many stops.
    Back(u16),
    /// DECALN: the screen filled with `E`s.
    Align,
}

/// The Unicode characters of DEC special graphics for `_` to `~`.
const GRAPHICS: [char; 32] = [
    '\u{a0}', '◆', '▒', '␉', '␌', '␍', '␊', '°', '±', '␤', '␋', '┘', '┐', '┌', '└', '┼', '⎺', '⎻',
    '─', '⎼', '⎽', '├', '┤', '┴', '┬', '│', '≤', '≥', 'π', '≠', '£', '·',
];

/// The parameters of a DEC private control sequence followed, as `vte`
/// keeps at most 32.
const MAX_PARAMS: usize = 32;

/// The sequences that set G0 and G1 (DEC special graphics or ASCII), G1
/// in use (shifted out) or G0, and hidden if set.
fn sets(out: &mut Vec<u8>, (graphics, shifted, hidden): ([bool; 2], bool, bool)) {
    for (set, intro) in graphics.iter().zip([b'(', b')']) {
        out.extend_from_slice(&[0x1b, intro, if *set { b'0' } else { b'B' }]);
    }
    out.push(if shifted { 0x0e } else { 0x0f });
    if hidden {
        out.extend_from_slice(b"\x1b[8m");
    }
}

/// Parameter `n` of a DEC private control sequence ended: kept in
/// `params`, up to [`MAX_PARAMS`].
fn dec_param(params: &mut Vec<u16>, n: u16) {
    if params.len() < MAX_PARAMS {
        params.push(n);
    }
}

/// What a wide character drawn hidden is given to `vt100` as: a blank
/// two cells wide (IDEOGRAPHIC SPACE).
const WIDE_BLANK: char = '\u{3000}';

/// `c` in UTF-8.
fn push(to: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    to.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Whether a wide character at `at` in the output, autowrap on, comes
/// after [`PAD`]: the cursor is in the last column and nothing is drawn
/// there. The output before it is parsed first.
fn pads(out: &mut Out, at: usize, to: &mut impl Emulator) -> bool {
    out.flush(at, to);
    let cols = to.cols();
    cols >= 2 && to.cursor_col() + 1 == cols && to.last_char(to.cursor_row()).is_none()
}

/// DECALN (`ESC # 8`), which `vt100` ignores, as xterm and tmux carry it
/// out: the scroll region the whole screen, every cell an `E` without
/// attributes, the cursor home; the attributes stay.
fn align(out: &mut Vec<u8>, to: &impl Emulator) {
    out.extend_from_slice(b"\x1b[r\x1b[m");
    let line = "E".repeat(usize::from(to.cols()));
    for row in 1..=to.rows() {
        out.extend_from_slice(format!("\x1b[{row}H{line}").as_bytes());
    }
    out.extend_from_slice(b"\x1b[H");
    out.extend_from_slice(&to.attributes());
}

/// A cursor move to column `col` (from 0): CHA.
fn column(to: &mut Vec<u8>, col: u16) {
    to.extend_from_slice(format!("\x1b[{}G", u32::from(col) + 1).as_bytes());
}

/// A move right from column `from` to column `to` on `vt100`'s screen
/// `cols` wide made of controls: tabs (to the next multiple of 8, the last
/// column at most) up to it or past it, then backspaces.
fn by_controls(out: &mut Vec<u8>, from: u16, to: u16, cols: u16) {
    let mut at = from;
    while at < to {
        at = (at / 8 + 1).saturating_mul(8).min(cols.saturating_sub(1));
        out.push(b'\t');
    }
    out.extend(std::iter::repeat_n(0x08, usize::from(at - to)));
}

/// Follows a terminal's output and puts right what `vt100` gets wrong (see
/// the module's documentation).
#[derive(Debug, Clone, Default)]
pub(crate) struct VtGaps {
    state: State,
    /// Whether G0 and G1 are DEC special graphics.
    graphics: [bool; 2],
    /// Shifted out: G1 is in use (else G0).
    shifted: bool,
    /// The character sets and hidden saved with the cursor (DECSC `ESC 7`,
    /// SCOSC `CSI s`, entering the alternate screen with `CSI ? 1049 h`),
    /// which restoring it (`ESC 8`, `CSI u`, `CSI ? 1049 l`) puts back, as
    /// xterm and tmux do: G0 and G1, shifted out, hidden.
    saved: ([bool; 2], bool, bool),
    /// Text is drawn hidden (SGR 8, concealed), which `vt100` does not
    /// know: as blanks of its width.
    hidden: bool,
    /// What is known of the control sequence under way (in [`State::Csi`]).
    csi: Csi,
    /// The parameters of the DEC private control sequence under way (up
    /// to [`MAX_PARAMS`]).
    dec_params: Vec<u16>,
    /// The last character given to `vt100` to draw that takes cells (as
    /// given: a blank where it was hidden), for REP.
    last: Option<char>,
    /// Insert mode (IRM) is set.
    insert: bool,
    /// Autowrap (DECAWM) is reset.
    no_wrap: bool,
    /// The tab stops.
    tabs: TabStops,
    /// The first bytes of a character the last output ended in.
    partial: Vec<u8>,
    /// How many bytes the sequence or string under way has had, from its
    /// ESC (while [`VtGaps::in_sequence`]).
    seq_len: usize,
    /// The emulator did not see the sequence or string the output is
    /// inside begin (it is a fresh one, [`VtGaps::resume`]): its rest is
    /// kept from it, whose parser would take it for text.
    unseen: bool,
}

impl VtGaps {
    /// Forget a sequence or character cut off (the output before it was
    /// skipped); the character sets, modes and tab stops stay.
    pub(crate) fn restart(&mut self) {
        self.state = State::Ground;
        self.partial.clear();
        self.unseen = false;
        self.seq_len = 0;
    }

    /// Go on writing to a fresh emulator, which did not see the output so
    /// far: the rest of a sequence or string it ends inside (a clipboard
    /// copy longer than a read) is skipped, up to its end.
    pub(crate) fn resume(&mut self) {
        self.unseen = self.in_sequence();
    }

    /// Whether the output so far ends inside an escape sequence or a
    /// string (a title), its end still to come.
    pub(crate) fn in_sequence(&self) -> bool {
        self.state != State::Ground
    }

    /// How many of the last bytes fed are an escape sequence, a string or
    /// a character not finished yet (see [`crate::Terminal::pending`]).
    pub(crate) fn pending(&self) -> usize {
        if self.in_sequence() {
            self.seq_len
        } else {
            self.partial.len()
        }
    }

    /// The sequences that give a terminal `cols` wide the modes followed
    /// here (after what it draws as it shows, in Unicode, with the current
    /// attributes but for hidden): G0 and G1 designated, G1 in use if
    /// shifted out, insert mode and autowrap set or reset, hidden if set,
    /// the tab stops if they are not the default ones (which moves the
    /// cursor).
    pub(crate) fn modes(&self, cols: u16) -> Vec<u8> {
        let mut out = Vec::new();
        sets(&mut out, (self.graphics, self.shifted, self.hidden));
        out.extend_from_slice(if self.insert { b"\x1b[4h" } else { b"\x1b[4l" });
        out.extend_from_slice(if self.no_wrap {
            b"\x1b[?7l"
        } else {
            b"\x1b[?7h"
        });
        if !self.tabs.is_default() {
            out.extend_from_slice(b"\x1b[3g");
            for stop in self.tabs.stops(cols) {
                column(&mut out, stop);
                out.extend_from_slice(b"\x1bH");
            }
        }
        out
    }

    /// The sequences that give a terminal what is saved with the cursor
    /// here (DECSC, `ESC 7`), for before it saves it: G0 and G1
    /// designated, G1 in use if shifted out, hidden if set.
    pub(crate) fn saved_modes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        sets(&mut out, self.saved);
        out
    }

    /// Write `bytes` to `to` put right (see the module's documentation):
    /// what is drawn in DEC special graphics as UTF-8, a cursor home after
    /// each DECSTBM, [`STAND_IN`] for U+FFFD and invalid UTF-8, an insert
    /// before what is drawn in insert mode, a character at the right
    /// margin with autowrap off kept in the last column, tabs to the stops
    /// set; a character cut off at the end is held back for the next call.
    pub(crate) fn feed(&mut self, bytes: &[u8], to: &mut impl Emulator) {
        let bytes = if self.unseen {
            self.skip_unseen(bytes, to)
        } else {
            bytes
        };
        let mut out = Out::new(bytes);
        let mut i = if self.partial.is_empty() {
            0
        } else {
            self.complete(&mut out, to)
        };
        while i < bytes.len() {
            if self.state == State::Ground {
                // ASCII drawn in ASCII changes nothing (a flood of text is
                // almost all of it), up to a byte that can change the state
                // (ESC, shift out or in) or that is beyond ASCII.
                if self.plain() {
                    let run = scan::plain_ascii(&bytes[i..]);
                    let mut kept = i;
                    for tab in memchr::memchr_iter(b'\t', &bytes[i..i + run]) {
                        out.keep(kept, i + tab);
                        self.tab(&mut out, i + tab, to, false);
                        kept = i + tab + 1;
                    }
                    out.keep(kept, i + run);
                    if let Some(c) = repeat::last_ascii(&bytes[i..i + run]) {
                        self.last = Some(c);
                    }
                    i += run;
                }
                if bytes.get(i).is_some_and(|&b| b >= 0x80 || !self.plain()) {
                    // Other text: up to a byte that can change the state.
                    let end = memchr::memchr3(0x1b, 0x0e, 0x0f, &bytes[i..])
                        .map_or(bytes.len(), |n| i + n);
                    self.text(&mut out, i, end, to);
                    i = end;
                }
                if i == bytes.len() {
                    break;
                }
            }
            let b = bytes[i];
            match self.step(b) {
                Emit::Same => out.keep(i, i + 1),
                Emit::ThenWrite(then) => {
                    let bytes = out.change(i);
                    bytes.push(b);
                    bytes.extend_from_slice(then);
                }
                Emit::Then(what) => {
                    out.keep(i, i + 1);
                    self.at_cursor(&mut out, i + 1, what, to);
                }
                Emit::Tab => self.tab(&mut out, i, to, true),
                Emit::PrivateModes(set) => private::write(&mut out, i, &self.dec_params, set, to),
                Emit::Repeat(n) => self.repeat(&mut out, i, n, to),
            }
            i += 1;
        }
        out.finish(to);
    }

    /// `bytes` after the rest of the sequence or string the emulator did
    /// not see begin, which it is not given. An ESC that ends it (but for
    /// a string's ST) begins a sequence: the emulator gets it.
    fn skip_unseen<'b>(&mut self, bytes: &'b [u8], to: &mut impl Emulator) -> &'b [u8] {
        for (i, &b) in bytes.iter().enumerate() {
            let st = self.state == State::StrEscape && matches!(b, b'\\' | 0x18 | 0x1a);
            if matches!(self.state, State::Escape | State::StrEscape) && !st {
                self.unseen = false;
                self.state = State::Escape;
                self.seq_len = 1;
                to.write(b"\x1b");
                return &bytes[i..];
            }
            self.step(b);
            if self.state == State::Ground {
                self.unseen = false;
                return &bytes[i + 1..];
            }
        }
        &[]
    }

    /// What a sequence ending before `at` does where the cursor is.
    fn at_cursor(&mut self, out: &mut Out, at: usize, what: AtCursor, to: &mut impl Emulator) {
        out.flush(at, to);
        let cols = to.cols();
        let col = to.cursor_col().min(cols.saturating_sub(1));
        match what {
            AtCursor::SetStop => self.tabs.set(col, cols),
            AtCursor::ClearStop => self.tabs.clear(col, cols),
            AtCursor::Forward(n) => column(out.change(at), self.tabs.forward(col, n, cols)),
            AtCursor::Back(n) => column(out.change(at), self.tabs.back(col, n, cols)),
            AtCursor::Align => align(out.change(at), to),
        }
    }

    /// The character the last output ended in, with its end from the start
    /// of this one: how many bytes of this one it took.
    fn complete(&mut self, out: &mut Out, to: &mut impl Emulator) -> usize {
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
            self.draw_shown(out, 0, c, to, &mut None);
            if let Some(c) = repeat::last_drawn(&valid[..c.len_utf8()], |c| self.shown(c)) {
                self.last = Some(c);
            }
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
                self.draw_shown(out, 0, char::REPLACEMENT_CHARACTER, to, &mut None);
                self.last = self.shown(char::REPLACEMENT_CHARACTER);
                len.saturating_sub(had)
            }
        }
    }

    /// Whether text is drawn as it is (but for U+FFFD and invalid UTF-8):
    /// in ASCII, not in insert mode, with autowrap on and the default tab
    /// stops.
    fn plain(&self) -> bool {
        !self.insert
            && !self.no_wrap
            && !self.hidden
            && self.tabs.is_default()
            && !self.graphics[usize::from(self.shifted)]
    }

    /// Text from `start` to `end` of the output (no ESC, shift out or in).
    fn text(&mut self, out: &mut Out, start: usize, end: usize, to: &mut impl Emulator) {
        let src = out.src;
        let mut at = start;
        // The cells left to the right margin, once the cursor was asked.
        let mut left = None;
        while at < end {
            let (valid, invalid) = match std::str::from_utf8(&src[at..end]) {
                Ok(text) => (text, None),
                Err(e) => (
                    // Valid UTF-8 up to there.
                    std::str::from_utf8(&src[at..at + e.valid_up_to()]).unwrap_or_default(),
                    Some(e.error_len()),
                ),
            };
            self.valid_text(out, at, valid, to, &mut left);
            if let Some(c) = repeat::last_drawn(valid, |c| self.shown(c)) {
                self.last = Some(c);
            }
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
                    self.draw_shown(out, at, char::REPLACEMENT_CHARACTER, to, &mut left);
                    self.last = self.shown(char::REPLACEMENT_CHARACTER);
                    at += len.unwrap_or(end - at);
                }
            }
        }
    }

    /// `text`, valid UTF-8, at `at` in the output; `left` is the cells
    /// left to the right margin if known.
    fn valid_text(
        &self,
        out: &mut Out,
        at: usize,
        text: &str,
        to: &mut impl Emulator,
        left: &mut Option<u16>,
    ) {
        if !self.insert
            && !self.no_wrap
            && !self.hidden
            && !self.graphics[usize::from(self.shifted)]
        {
            // The same but for U+FFFD and tabs (see `tab`).
            let mut from = 0;
            for tab in memchr::memchr_iter(b'\t', text.as_bytes()) {
                self.plain_text(out, at + from, &text[from..tab], to);
                self.tab(out, at + tab, to, false);
                from = tab + 1;
            }
            self.plain_text(out, at + from, &text[from..], to);
            return;
        }
        for (k, c) in text.char_indices() {
            let shown = self.shown(c);
            if c == '\t' {
                self.tab(out, at + k, to, false);
                *left = None;
            } else if shown == Some(c) && !self.at_margin(c) && !self.inserts(c) && width(c) < 2 {
                out.keep(at + k, at + k + c.len_utf8());
                if c.is_control() {
                    // It may move the cursor.
                    *left = None;
                }
            } else {
                self.draw_shown(out, at + k, c, to, left);
            }
        }
    }

    /// `text`, valid UTF-8, at `at` in the output, drawn as it is but for
    /// U+FFFD and U+FE0F (stand-ins) and a wide character that wraps from
    /// the last column, where nothing is drawn ([`PAD`] there first). The
    /// characters from U+1000 on (their UTF-8 begins with 0xE1 or more: the
    /// wide ones, U+FFFD, U+FE0F) are looked at; at a wide one the cursor's
    /// column is asked, and counted along a run of them.
    fn plain_text(&self, out: &mut Out, at: usize, text: &str, to: &mut impl Emulator) {
        let bytes = text.as_bytes();
        let cols = to.cols();
        let mut kept = 0;
        // Where the last character looked at ends in `text`, and the
        // cursor's column after it, if known.
        let mut after: Option<(usize, u16)> = None;
        let mut from = 0;
        while let Some(n) = bytes[from..].iter().position(|&b| b >= 0xe1) {
            let k = from + n;
            // Valid UTF-8: a character begins there.
            let Some(c) = text[k..].chars().next() else {
                break;
            };
            from = k + c.len_utf8();
            let shown = match c {
                char::REPLACEMENT_CHARACTER => STAND_IN,
                '\u{fe0f}' => STAND_IN_VS16,
                c => c,
            };
            let cells = width(shown);
            let mut col = after.filter(|&(end, _)| end == k).map(|(_, col)| col);
            let mut pad = false;
            if cells == 2 && col.is_none_or(|col| col + 1 == cols) {
                out.keep(at + kept, at + k);
                kept = k;
                pad = pads(out, at + k, to);
                col = Some(to.cursor_col());
            }
            if shown != c || pad {
                out.keep(at + kept, at + k);
                let bytes = out.change(at + k);
                if pad {
                    push(bytes, PAD);
                }
                push(bytes, shown);
                kept = from;
            }
            after = col.map(|col| (from, advance(col, cells, cols)));
        }
        out.keep(at + kept, at + text.len());
    }

    /// A tab at `at` in the output: a move to the next stop when stops are
    /// set (`vt100` tabs every 8 columns); nothing when the cursor waits to
    /// wrap (a character was just written in the last column), where
    /// xterm's tab leaves it waiting and `vt100`'s would take it back into
    /// the last column, for the next character to overwrite.
    ///
    /// A tab inside an escape sequence (`inside`) is carried out there, the
    /// sequence going on: its move is made of tabs and backspaces, which
    /// `vt100` carries out there too (a cursor move would end the sequence).
    fn tab(&self, out: &mut Out, at: usize, to: &mut impl Emulator, inside: bool) {
        out.flush(at, to);
        let (col, cols) = (to.cursor_col(), to.cols());
        if col >= cols {
            out.change(at);
        } else if !self.tabs.is_default() {
            let stop = self.tabs.forward(col, 1, cols);
            if inside {
                by_controls(out.change(at), col, stop, cols);
            } else {
                column(out.change(at), stop);
            }
        }
    }

    /// What `vt100` is given to draw for `c`: drawn hidden, a blank as
    /// wide (U+3000 for a wide one), nothing for a character no cells wide
    /// (but for a control).
    fn shown(&self, c: char) -> Option<char> {
        let graphics = self.graphics[usize::from(self.shifted)];
        let shown = match c {
            '_'..='~' if graphics => GRAPHICS[c as usize - usize::from(b'_')],
            char::REPLACEMENT_CHARACTER => STAND_IN,
            '\u{fe0f}' => STAND_IN_VS16,
            _ => c,
        };
        if !self.hidden || shown.is_control() {
            return Some(shown);
        }
        match width(shown) {
            0 => None,
            1 => Some(' '),
            _ => Some(WIDE_BLANK),
        }
    }

    /// Write `c` at `at` in the output as shown ([`VtGaps::shown`]) and
    /// drawn ([`VtGaps::draw`]), or nothing for it.
    fn draw_shown(
        &self,
        out: &mut Out,
        at: usize,
        c: char,
        to: &mut impl Emulator,
        left: &mut Option<u16>,
    ) {
        match self.shown(c) {
            Some(shown) => self.draw(out, at, shown, to, left),
            None => {
                out.change(at);
            }
        }
    }

    /// Whether `c` (as shown) is drawn after an insert: in insert mode, a
    /// character that takes cells.
    fn inserts(&self, c: char) -> bool {
        self.insert && width(c) > 0
    }

    /// Whether where `c` (as shown) is drawn depends on the right margin:
    /// with autowrap off, a character that takes cells.
    fn at_margin(&self, c: char) -> bool {
        self.no_wrap && width(c) > 0
    }

    /// Write `c` as drawn at `at` in the output: after an insert of its
    /// cells in insert mode; in the last column when it does not fit with
    /// autowrap off; on the next line, then inserted, when it does not fit
    /// in insert mode. The cursor is asked where it is unless `left` (the
    /// cells left to the margin) says `c` ends before the margin; `left`
    /// follows the cursor.
    fn draw(
        &self,
        out: &mut Out,
        at: usize,
        c: char,
        to: &mut impl Emulator,
        left: &mut Option<u16>,
    ) {
        let cells = width(c);
        let margin = self.inserts(c) || self.at_margin(c);
        let mut stay = None;
        let mut insert = self.inserts(c);
        let pad = cells == 2 && !margin && pads(out, at, to);
        if margin && !left.is_some_and(|left| cells < left && c.is_ascii()) {
            out.flush(at, to);
            let cols = to.cols();
            let mut col = to.cursor_col();
            if col + cells > cols {
                if self.no_wrap && cells > 1 {
                    // A wide character that does not fit is not drawn, as
                    // on xterm and tmux; the cursor stays in the last
                    // column.
                    column(out.change(at), cols.saturating_sub(1));
                    *left = Some(1);
                    return;
                }
                if self.no_wrap {
                    col = cols.saturating_sub(cells);
                    column(out.change(at), col);
                } else {
                    // The wrap, done before the insert.
                    insert = !wrap_then_insert(out, at, col, cells, to);
                    col = 0;
                }
            }
            if self.no_wrap && col + cells >= cols {
                stay = Some(cols.saturating_sub(1));
            }
            *left = Some(cols.saturating_sub(col));
        }
        let bytes = out.change(at);
        if insert {
            insert_cells(bytes, cells);
        }
        if pad {
            push(bytes, PAD);
        }
        push(bytes, c);
        if margin {
            *left = left.map(|left| left.saturating_sub(cells));
        }
        if let Some(last) = stay {
            // The cursor stays in the last column.
            column(bytes, last);
            *left = None;
        }
    }

    /// Take one byte outside text: what it becomes.
    fn step(&mut self, b: u8) -> Emit {
        // CAN and SUB cancel a sequence; ESC starts a new one anywhere
        // but in a string (where it may be ST).
        self.seq_len = self.seq_len.saturating_add(1);
        match (b, self.state) {
            (0x18 | 0x1a, _) => {
                self.state = State::Ground;
                return Emit::Same;
            }
            (0x1b, State::Str { .. }) => {
                self.state = State::StrEscape;
                return Emit::Same;
            }
            (0x1b, _) => {
                self.state = State::Escape;
                self.seq_len = 1;
                return Emit::Same;
            }
            (
                0x00..=0x1f,
                State::Escape | State::StrEscape | State::EscapeIntermediate | State::Hash,
            )
            | (0x00..=0x1f, State::Designate(_) | State::Csi) => {
                // A control inside a sequence is carried out there, and
                // the sequence goes on (as xterm and `vt100` do).
                match b {
                    0x0e => self.shifted = true,
                    0x0f => self.shifted = false,
                    b'\t' => return Emit::Tab,
                    _ => {}
                }
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
            State::Escape => return self.escape(b),
            State::StrEscape => {
                // The string ended (ST), or a sequence began at its ESC.
                self.seq_len = 2;
                return self.escape(b);
            }
            State::EscapeIntermediate => {
                if !(0x20..=0x2f).contains(&b) {
                    self.state = State::Ground;
                }
            }
            State::Hash => {
                self.state = match b {
                    0x20..=0x2f => State::EscapeIntermediate,
                    _ => State::Ground,
                };
                if b == b'8' {
                    return Emit::Then(AtCursor::Align);
                }
            }
            State::Designate(g) => {
                if !(0x20..=0x2f).contains(&b) {
                    self.graphics[g] = b == b'0';
                    self.state = State::Ground;
                }
            }
            State::Csi => {
                if (0x40..=0x7e).contains(&b) {
                    self.state = State::Ground;
                    return self.control_sequence(self.csi, b);
                }
                // In place: a copy in and out of the state for each byte
                // halved the speed of coloured text.
                let csi = &mut self.csi;
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
                        if csi.dec {
                            dec_param(&mut self.dec_params, csi.param);
                        }
                        csi.first.get_or_insert(csi.param);
                        if b == b';' {
                            csi.sgr.param(csi.param);
                        } else {
                            csi.sgr.sub(csi.param);
                        }
                        csi.param = 0;
                        csi.bang = false;
                    }
                    b'?' if *csi == Csi::START => {
                        csi.plain = false;
                        csi.dec = true;
                    }
                    b'!' => {
                        csi.bang = csi.plain;
                        csi.plain = false;
                        csi.dec = false;
                    }
                    _ => {
                        csi.plain = false;
                        csi.dec = false;
                        csi.bang = false;
                    }
                }
            }
            State::Str { osc } => {
                if osc && b == 0x07 {
                    self.state = State::Ground;
                }
            }
        }
        Emit::Same
    }

    /// A control sequence ended by `last`.
    fn control_sequence(&mut self, mut csi: Csi, last: u8) -> Emit {
        match last {
            b'm' if csi.plain => {
                csi.sgr.param(csi.param);
                self.hidden = csi.sgr.hidden(self.hidden);
                if let Some(underline) = csi.sgr.underline() {
                    return Emit::ThenWrite(underline);
                }
            }
            b'r' if csi.plain => return Emit::ThenWrite(b"\x1b[H"),
            // SCOSC and SCORC, which `vt100` does not know: DECSC and
            // DECRC, as xterm and tmux have them (`CSI Pl ; Pr s` is
            // DECSLRM, left and right margins, on xterm).
            b's' | b'u' if csi.plain && (last == b'u' || csi.first() == 0) => {
                self.save_or_restore(last == b's');
                return Emit::ThenWrite(if last == b's' { b"\x1b7" } else { b"\x1b8" });
            }
            b'h' | b'l' if csi.plain && (csi.four || csi.param == 4) => {
                self.insert = last == b'h';
            }
            b'h' | b'l' if csi.dec => {
                dec_param(&mut self.dec_params, csi.param);
                let set = last == b'h';
                for i in 0..self.dec_params.len() {
                    match self.dec_params[i] {
                        7 => self.no_wrap = !set,
                        1048 | 1049 => self.save_or_restore(set),
                        _ => {}
                    }
                }
                if self
                    .dec_params
                    .iter()
                    .any(|&mode| private::translated(mode))
                {
                    return Emit::PrivateModes(set);
                }
            }
            b'b' if csi.plain && (self.insert || self.no_wrap) => {
                return Emit::Repeat(csi.first());
            }
            b'p' if csi.bang => {
                // A soft reset (DECSTR). xterm turns autowrap on (the VT
                // manuals say off; tmux and the programs follow xterm).
                self.insert = false;
                self.no_wrap = false;
                self.graphics = [false; 2];
                self.shifted = false;
                self.saved = Default::default();
            }
            b'g' if csi.plain => match csi.first() {
                0 => return Emit::Then(AtCursor::ClearStop),
                3 => self.tabs.clear_all(),
                _ => {}
            },
            b'I' if csi.plain => return Emit::Then(AtCursor::Forward(csi.first())),
            b'Z' if csi.plain => return Emit::Then(AtCursor::Back(csi.first())),
            _ => {}
        }
        Emit::Same
    }

    /// REP (`CSI n b`) ending at `at` in the output, in insert mode or
    /// with autowrap off: cancelled (CAN for its final byte), and the last
    /// character drawn drawn again `n` times after it, as drawn in these
    /// modes (as often as shows the same: [`repeat::times`]).
    fn repeat(&self, out: &mut Out, at: usize, n: u16, to: &mut impl Emulator) {
        out.flush(at, to);
        out.change(at).push(0x18);
        let Some(c) = self.last else {
            return;
        };
        let mut left = None;
        for _ in 0..repeat::times(n, self.no_wrap, to.rows(), to.cols()) {
            self.draw(out, at + 1, c, to, &mut left);
        }
    }

    /// The cursor saved (`save`) or restored: the character sets and
    /// hidden with it.
    fn save_or_restore(&mut self, save: bool) {
        if save {
            self.saved = (self.graphics, self.shifted, self.hidden);
        } else {
            (self.graphics, self.shifted, self.hidden) = self.saved;
        }
    }

    /// The byte after ESC.
    fn escape(&mut self, b: u8) -> Emit {
        self.state = match b {
            b'(' => State::Designate(0),
            b')' => State::Designate(1),
            b'[' => {
                self.dec_params.clear();
                self.csi = Csi::START;
                State::Csi
            }
            b'#' => State::Hash,
            b']' => State::Str { osc: true },
            b'P' | b'X' | b'^' | b'_' => State::Str { osc: false },
            0x20..=0x2f => State::EscapeIntermediate,
            b'c' => {
                // A full reset: both sets back to ASCII, G0 in use, insert
                // mode off, autowrap on, the default tab stops.
                *self = VtGaps::default();
                State::Ground
            }
            b'H' => {
                self.state = State::Ground;
                return Emit::Then(AtCursor::SetStop);
            }
            b'7' | b'8' => {
                self.save_or_restore(b == b'7');
                State::Ground
            }
            // IND and NEL, which `vt100` ignores: a line feed, and a
            // carriage return with it.
            b'D' => {
                self.state = State::Ground;
                return Emit::ThenWrite(b"\n");
            }
            b'E' => {
                self.state = State::Ground;
                return Emit::ThenWrite(b"\r\n");
            }
            _ => State::Ground,
        };
        Emit::Same
    }
}

/// The cells `vt100` gives `c` (at most two; none for a control).
fn width(c: char) -> u16 {
    match c.width() {
        Some(w) => w.min(2) as u16,
        None if u32::from(c) < 256 => 0,
        None => 1,
    }
}

#[cfg(test)]
mod tests;
