//! Mouse reports from a terminal that shows the session through the view,
//! moved to the cell they point at on the session's screen, as tmux does
//! for a client that shows a part of a larger window: a terminal smaller
//! than the session shows the part around the cursor, and its row 1 may be
//! the session's row 15. A report on what is not the session's screen (the
//! status bar, the part of a larger terminal past the session) is not the
//! program's: a press or a wheel there is dropped, a drag that leaves the
//! screen and its release are held at its edge (the program sees the
//! button go up).
//!
//! SGR reports (`ESC [ < b ; x ; y M`, or `m` for a release), urxvt ones
//! (`ESC [ b ; x ; y M`, the button 32 more), X10 ones (`ESC [ M` and
//! three bytes, each 32 more than its value) and UTF-8 ones (the same with
//! characters), each whole in what one read brings, as a terminal writes
//! it, and written back in the same encoding; anything else passes as it
//! is.
//!
//! A watcher's terminal never reports the mouse at all ([`KeepMouse`]).

use std::borrow::Cow;

/// The part of the session's screen a terminal shows in its top-left
/// corner: from (`left`, `top`) (0-based, on the session's screen), `cols`
/// columns and `rows` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    /// The session's first column shown.
    pub left: u16,
    /// The session's first row shown.
    pub top: u16,
    /// Columns shown.
    pub cols: u16,
    /// Rows shown.
    pub rows: u16,
}

impl Shown {
    /// The session's cell (1-based) for the terminal's (1-based); outside
    /// the part shown, the nearest one on its edge with `hold`, else none.
    fn map(&self, x: u16, y: u16, hold: bool) -> Option<(u16, u16)> {
        let inside = (1..=self.cols).contains(&x) && (1..=self.rows).contains(&y);
        if !inside && !hold {
            return None;
        }
        let x = x.clamp(1, self.cols.max(1));
        let y = y.clamp(1, self.rows.max(1));
        Some((x.saturating_add(self.left), y.saturating_add(self.top)))
    }
}

/// A report whose button byte says motion or release is part of a drag
/// (held at the edge outside), any other a press or a wheel (dropped).
fn holds(button: u16, released: bool) -> bool {
    released || button & 32 != 0 || (button & 3 == 3 && button & 64 == 0)
}

/// How the program asked for its mouse reports (as the view's emulator
/// tracks it): what `ESC [ M` begins, if anything. urxvt (1015) reports
/// have a form of their own and are told apart by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// X10: `ESC [ M` and three bytes.
    X10,
    /// UTF-8 (1005): `ESC [ M` and three characters.
    Utf8,
    /// SGR (1006): `ESC [ M` is a key (SCO's F1), not a report.
    Sgr,
}

/// `keys` with each mouse report moved to the session's cell, in the
/// encoding it came in (the one the program asked for).
pub fn to_session(keys: &[u8], shown: Shown, encoding: Encoding) -> Cow<'_, [u8]> {
    if !keys.contains(&0x1b) {
        return Cow::Borrowed(keys);
    }
    let mut out = Vec::with_capacity(keys.len());
    let mut i = 0;
    while i < keys.len() {
        if let Some((len, report)) = Report::parse(&keys[i..], encoding) {
            let hold = holds(report.button, report.released);
            if let Some((x, y)) = shown.map(report.x, report.y, hold) {
                report.write(x, y, &mut out);
            }
            i += len;
        } else {
            out.push(keys[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// The modes that make a terminal report the mouse: X10, normal,
/// highlight, button-event and any-event tracking.
const TRACKING: [u16; 5] = [9, 1000, 1001, 1002, 1003];

/// Each of [`TRACKING`] turned off.
const TRACKING_OFF: &[u8] = b"\x1b[?9l\x1b[?1000l\x1b[?1001l\x1b[?1002l\x1b[?1003l";

/// A watcher's (`--read-only`) terminal keeps its mouse: nothing it clicks
/// would reach the program, and a terminal that reports the mouse selects
/// no text. [`TRACKING_OFF`] follows at once each write's last sequence
/// that turns mouse reporting on (a `CSI ? … h` with one of [`TRACKING`],
/// also one cut between two writes): not at the write's end, which may cut
/// another sequence, a string or a character in two.
#[derive(Default)]
pub struct KeepMouse {
    /// The end of the last write: a `CSI ?` sequence not finished yet.
    unfinished: Vec<u8>,
}

impl KeepMouse {
    /// `out`, with the mouse turned off again right after it turns it on.
    pub fn filter<'a>(&mut self, out: &'a [u8]) -> Cow<'a, [u8]> {
        let seam: Cow<[u8]> = if self.unfinished.is_empty() {
            Cow::Borrowed(out)
        } else {
            let mut s = std::mem::take(&mut self.unfinished);
            s.extend_from_slice(out);
            Cow::Owned(s)
        };
        // Where in `out` the last sequence that turns it on ends (it ends
        // in `out`: what was kept of the write before is unfinished).
        let kept = seam.len() - out.len();
        let mut on = None;
        for at in memchr::memmem::find_iter(&seam, b"\x1b[?") {
            let params = &seam[at + 3..];
            match params
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';'))
            {
                Some(end) => {
                    let tracking = params[end] == b'h'
                        && params[..end]
                            .split(|b| *b == b';')
                            .filter_map(|p| std::str::from_utf8(p).ok()?.parse::<u16>().ok())
                            .any(|m| TRACKING.contains(&m));
                    if tracking {
                        on = Some(at + 3 + end + 1 - kept);
                    }
                }
                // (A terminal's sequences are short: a long run of
                // digits is no sequence worth keeping.)
                None if params.len() < 32 => self.unfinished = seam[at..].to_vec(),
                None => {}
            }
        }
        // Cut before its `?`.
        for start in [&b"\x1b"[..], b"\x1b["] {
            if seam.ends_with(start) {
                self.unfinished = start.to_vec();
            }
        }
        let Some(on) = on else {
            return Cow::Borrowed(out);
        };
        Cow::Owned([&out[..on], TRACKING_OFF, &out[on..]].concat())
    }
}

/// How a report is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `ESC [ < b ; x ; y M` (`m` for a release).
    Sgr,
    /// urxvt's `ESC [ b+32 ; x ; y M`.
    Urxvt,
    /// `ESC [ M` and three bytes, each 32 more than its value.
    X10,
    /// `ESC [ M` and three characters, each 32 more than its value.
    Utf8,
}

/// A mouse report: its button byte (without the 32 the legacy forms add)
/// and its 1-based cell.
struct Report {
    form: Form,
    button: u16,
    x: u16,
    y: u16,
    released: bool,
}

impl Report {
    /// The report `bytes` begin with, and its length.
    fn parse(bytes: &[u8], encoding: Encoding) -> Option<(usize, Report)> {
        if let Some(decimal) = Report::decimal(bytes) {
            return Some(decimal);
        }
        let body = bytes.strip_prefix(b"\x1b[M")?;
        let form = match encoding {
            Encoding::X10 => Form::X10,
            Encoding::Utf8 => Form::Utf8,
            Encoding::Sgr => return None,
        };
        let mut at = 0;
        let mut next = || {
            let rest = body.get(at..)?;
            let (value, len) = match form {
                Form::Utf8 => utf8_char(rest)?,
                _ => (u16::from(*rest.first()?), 1),
            };
            at += len;
            value.checked_sub(32)
        };
        let (button, x, y) = (next()?, next()?, next()?);
        let report = Report {
            form,
            button,
            x,
            y,
            released: false,
        };
        Some((3 + at, report))
    }

    /// The SGR or urxvt report `bytes` begin with, and its length.
    fn decimal(bytes: &[u8]) -> Option<(usize, Report)> {
        let body = bytes.strip_prefix(b"\x1b[")?;
        let (form, body) = match body.strip_prefix(b"<") {
            Some(body) => (Form::Sgr, body),
            None => (Form::Urxvt, body),
        };
        let end = body
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b';'))?;
        let released = match (form, body[end]) {
            (_, b'M') => false,
            (Form::Sgr, b'm') => true,
            _ => return None,
        };
        let mut fields = std::str::from_utf8(&body[..end]).ok()?.split(';');
        let mut next = || fields.next()?.parse::<u16>().ok();
        let (button, x, y) = (next()?, next()?, next()?);
        if fields.next().is_some() {
            return None;
        }
        let button = match form {
            Form::Urxvt => button.checked_sub(32)?,
            _ => button,
        };
        let len = bytes.len() - body.len() + end + 1;
        let report = Report {
            form,
            button,
            x,
            y,
            released,
        };
        Some((len, report))
    }

    /// Write this report at the cell (`x`, `y`) to `out`; nothing where
    /// its form cannot say the cell (past 223 in X10, 2015 in UTF-8).
    fn write(&self, x: u16, y: u16, out: &mut Vec<u8>) {
        let button = self.button;
        match self.form {
            Form::Sgr => {
                let end = if self.released { 'm' } else { 'M' };
                out.extend_from_slice(format!("\x1b[<{button};{x};{y}{end}").as_bytes());
            }
            Form::Urxvt => {
                out.extend_from_slice(format!("\x1b[{};{x};{y}M", button + 32).as_bytes());
            }
            Form::X10 => {
                let byte = |v: u16| u8::try_from(v.checked_add(32)?).ok();
                if let (Some(b), Some(x), Some(y)) = (byte(button), byte(x), byte(y)) {
                    out.extend_from_slice(&[0x1b, b'[', b'M', b, x, y]);
                }
            }
            Form::Utf8 => {
                let char = |v: u16| char::from_u32(u32::from(v) + 32).filter(|c| c.len_utf8() <= 2);
                if let (Some(b), Some(x), Some(y)) = (char(button), char(x), char(y)) {
                    out.extend_from_slice(format!("\x1b[M{b}{x}{y}").as_bytes());
                }
            }
        }
    }
}

/// The value of the one- or two-byte UTF-8 character `bytes` begin with
/// (what xterm's 1005 encoding writes), and its length.
fn utf8_char(bytes: &[u8]) -> Option<(u16, usize)> {
    match bytes {
        [b, ..] if *b < 0x80 => Some((u16::from(*b), 1)),
        [b0, b1, ..] if b0 & 0xe0 == 0xc0 && b1 & 0xc0 == 0x80 => {
            Some(((u16::from(b0 & 0x1f) << 6) | u16::from(b1 & 0x3f), 2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PART: Shown = Shown {
        left: 10,
        top: 14,
        cols: 40,
        rows: 9,
    };

    fn moved(keys: &[u8], encoding: Encoding) -> Vec<u8> {
        to_session(keys, PART, encoding).into_owned()
    }

    #[test]
    fn reports_move_to_the_cell_shown() {
        assert_eq!(
            moved(b"a\x1b[<0;1;3Mb\x1b[<0;1;3m", Encoding::Sgr),
            b"a\x1b[<0;11;17Mb\x1b[<0;11;17m"
        );
        assert_eq!(moved(b"\x1b[M !#", Encoding::X10), b"\x1b[M +1");
        // Not X10 unless the program asked for it (SCO's F1 is `ESC [ M`).
        assert_eq!(moved(b"\x1b[M !#", Encoding::Sgr), b"\x1b[M !#");
        // UTF-8 (1005): a character for each; past 95 two bytes.
        assert_eq!(moved(b"\x1b[M !#", Encoding::Utf8), b"\x1b[M +1");
        let wide = Shown {
            left: 100,
            top: 0,
            cols: 200,
            rows: 9,
        };
        assert_eq!(
            to_session("\x1b[M \u{a0}#".as_bytes(), wide, Encoding::Utf8).as_ref(),
            "\x1b[M \u{104}#".as_bytes()
        );
        // urxvt (1015): the button 32 more, whatever else was asked for.
        for encoding in [Encoding::X10, Encoding::Utf8, Encoding::Sgr] {
            assert_eq!(moved(b"\x1b[32;1;3M", encoding), b"\x1b[32;11;17M");
        }
        // Keys pass.
        assert_eq!(moved(b"\x1b[A\x1b[<1;2", Encoding::Sgr), b"\x1b[A\x1b[<1;2");
    }

    #[test]
    fn outside_a_press_is_dropped_and_a_drag_held_at_the_edge() {
        // The bar's row: a press and a wheel go nowhere.
        assert_eq!(moved(b"\x1b[<0;5;10M\x1b[<64;5;10Mx", Encoding::Sgr), b"x");
        // A drag out of the part and its release: at its edge.
        assert_eq!(
            moved(b"\x1b[<32;50;10M\x1b[<0;50;10m", Encoding::Sgr),
            b"\x1b[<32;50;23M\x1b[<0;50;23m"
        );
        // The same in urxvt, X10 and UTF-8 encodings.
        assert_eq!(
            moved(
                b"\x1b[32;5;10M\x1b[96;5;10M\x1b[64;50;10M\x1b[35;50;10M",
                Encoding::Sgr
            ),
            b"\x1b[64;50;23M\x1b[35;50;23M"
        );
        for encoding in [Encoding::X10, Encoding::Utf8] {
            assert_eq!(moved(b"\x1b[M %*\x1b[M`%*x", encoding), b"x");
            assert_eq!(
                moved(b"\x1b[M@R*\x1b[M#R*", encoding),
                b"\x1b[M@R7\x1b[M#R7"
            );
        }
    }

    #[test]
    fn a_watcher_gets_mouse_reporting_turned_off_again() {
        let mut keep = KeepMouse::default();
        let off = |on: &[u8], rest: &[u8]| [on, TRACKING_OFF, rest].concat();
        assert_eq!(
            keep.filter(b"a\x1b[?1000;1006hb").as_ref(),
            off(b"a\x1b[?1000;1006h", b"b")
        );
        // Cut in two.
        assert_eq!(keep.filter(b"x\x1b[?10").as_ref(), b"x\x1b[?10");
        assert_eq!(keep.filter(b"03hy").as_ref(), off(b"03h", b"y"));
        assert_eq!(keep.filter(b"x\x1b").as_ref(), b"x\x1b");
        assert_eq!(keep.filter(b"[?1002h").as_ref(), off(b"[?1002h", b""));
        assert_eq!(keep.filter(b"x\x1b[").as_ref(), b"x\x1b[");
        assert_eq!(keep.filter(b"?9h").as_ref(), off(b"?9h", b""));
        // A write that turns it on and ends inside another sequence (or a
        // title, or a character): turned off before that, not inside it.
        assert_eq!(
            keep.filter(b"\x1b[?1003h\x1b[?1000h\x1b]0;ti").as_ref(),
            off(b"\x1b[?1003h\x1b[?1000h", b"\x1b]0;ti")
        );
        assert_eq!(
            keep.filter(b"tle\x07\x1b[?1002h\x1b[3").as_ref(),
            off(b"tle\x07\x1b[?1002h", b"\x1b[3")
        );
        // Other private modes, and turning it off, pass as they are.
        for out in [&b"\x1b[?1049h\x1b[?25l"[..], b"\x1b[?1000l", b"\x1b[?1006h"] {
            assert_eq!(keep.filter(out).as_ref(), out);
        }
    }

    /// The whole screen above the bar: reports there as they are, none
    /// from the bar.
    #[test]
    fn a_terminal_showing_the_whole_screen_keeps_the_bar_to_itself() {
        let whole = Shown {
            left: 0,
            top: 0,
            cols: 80,
            rows: 23,
        };
        let keys = b"\x1b[<0;5;23M\x1b[<0;5;24M";
        assert_eq!(
            to_session(keys, whole, Encoding::Sgr).as_ref(),
            b"\x1b[<0;5;23M"
        );
    }
}
