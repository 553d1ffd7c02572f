//! The live screen model: a VT emulator (the `vt100` crate, built on `vte`)
//! fed with the session's output, answering SCREEN, screen WAITs, SUBMIT's
//! checks and the attach client's redraw.
//!
//! The model is a *reader* of the output ring, not part of the output path
//! (but for a cheap read of what the ring drops before the model parsed
//! it): it tracks the offset it has parsed up to. Output that follows a pause is
//! parsed as it arrives; a stream of output is parsed at most every 50 ms,
//! and when more than [`SKIP_OVER`] bytes are pending (or the ring already
//! dropped unparsed bytes) the model skips ahead: it parses only the newest
//! [`REPLAY_TAIL`] bytes, resuming at a point where the terminal's state is
//! known ([`ScreenModel::feed_after_skip`]) — enough to rebuild any screen
//! while costing a flood almost nothing. Every request that reads the screen
//! (SCREEN, WAIT on the screen, SUBMIT, a redraw) first catches up.
//!
//! What a skipped stretch can cost: content written only inside the skipped
//! bytes (a cell painted once during the flood and never again). What they
//! did to the terminal's state is read from them cheaply ([`crate::skim`],
//! also from the bytes the output ring dropped before the model got to
//! them): the last title, the pen, modes, scroll region, character sets, a
//! clear or a reset hold after the skip, and a sequence or string they
//! leave unfinished (an inline image, a long title) is continued in the
//! tail as such. What is parsed after the skip is never misplaced: drawing
//! resumes at an absolute cursor move or a line's start outside any
//! sequence — but for one line longer than the replayed tail, which is
//! continued from the bytes kept before it (`lead_in`): in its column when
//! its start is kept and it is printable ASCII, else from where the cursor
//! was.

use heimdall_protocol::{Cursor, ScreenFormat, ScreenResp};

use std::time::Instant;

use crate::ansi_line::ansi_line;
use crate::frame_hold::FrameHold;
use crate::skim::{Resume, Skim};
use heimdall_term::{restore, restore_drawn, Terminal};

/// What `vt100`'s `contents_formatted` begins with (after the cursor's
/// visibility): attributes reset, then an erase of the screen from home,
/// which [`ScreenModel::redraw`] does row by row instead.
const VT100_CLEAR: &str = "\x1b[m\x1b[H\x1b[J";

/// G0 and G1 ASCII, G0 in use: the character sets the picture is drawn in
/// (its text is what shows).
const ASCII_SETS: &[u8] = b"\x1b(B\x1b)B\x0f";

/// Pending bytes beyond which a catch-up skips ahead.
pub const SKIP_OVER: usize = 256 * 1024;
/// Bytes parsed after a skip.
pub const REPLAY_TAIL: usize = 32 * 1024;

/// Title changes reported from one feed at most (a program spinning
/// through titles cannot flood the events).
pub const MAX_TITLES: usize = 16;

/// What to parse before a skip's tail that begins outside any escape
/// sequence and holds no resume point of its own, so that the tail lands as
/// the terminal shows it: when the tail continues a line of printable
/// ASCII, a carriage return and the line's text since the start of the row
/// the tail starts on (the line wrapped at `cols` as the terminal wraps
/// it), so the tail keeps its columns; else nothing (the tail goes where
/// the cursor is).
///
/// `before` is the output kept before the tail, in pieces, oldest first;
/// `output_start` says whether it reaches back to the session's first byte,
/// where a line starts too. A line starts after a carriage return (a pty's
/// output turns `\n` into `\r\n`); a line with anything but printable
/// ASCII in it (a tab, UTF-8, a lone line feed) leaves its column unknown.
fn lead_in<B: AsRef<[u8]>>(before: &[B], output_start: bool, cols: u16) -> Vec<u8> {
    let is_stop = |b: &u8| matches!(b, 0x1b | 0x07 | 0x18 | 0x1a | b'\r' | b'\n');
    // Back from the newest byte to the newest stop, a slice at a time (a
    // flood of one long line is scanned every time it is skipped: no
    // per-byte bookkeeping).
    let mut run: Vec<&[u8]> = Vec::new();
    let mut printable = true;
    let mut stop = None;
    for (k, piece) in before.iter().enumerate().rev() {
        let piece = piece.as_ref();
        let at = piece.iter().rposition(is_stop);
        let part = &piece[at.map_or(0, |i| i + 1)..];
        printable = printable && part.iter().all(|b| (0x20..=0x7e).contains(b));
        run.push(part);
        if let Some(i) = at {
            // The stop byte and the one before it.
            let earlier = before[..k].iter().rev().find_map(|p| p.as_ref().last());
            stop = Some((piece[i], piece[..i].last().or(earlier).copied()));
            break;
        }
    }
    run.reverse();
    let seen: usize = run.iter().map(|p| p.len()).sum();
    let line_start = match stop {
        None => output_start,
        Some((b'\r', _)) => true,
        Some((b'\n', before_it)) => before_it == Some(b'\r'),
        _ => false,
    };
    if line_start && printable {
        let row = seen % usize::from(cols.max(1));
        let mut lead = Vec::with_capacity(row + 1);
        let mut need = row;
        for part in run.iter().rev() {
            let take = need.min(part.len());
            lead.splice(0..0, part[part.len() - take..].iter().copied());
            need -= take;
        }
        lead.insert(0, b'\r');
        return lead;
    }
    Vec::new()
}

/// What parsing output produced besides the picture.
#[derive(Debug, Default)]
struct Hooks {
    title: String,
    /// Each change since the last [`ScreenModel::feed`], oldest first (at
    /// most [`MAX_TITLES`]: the newest are kept).
    titles: Vec<String>,
    bells: u64,
}

impl vt100::Callbacks for Hooks {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        let t = String::from_utf8_lossy(title).into_owned();
        if t != self.title {
            if self.titles.len() == MAX_TITLES {
                self.titles.remove(0);
            }
            self.titles.push(t.clone());
            self.title = t;
        }
    }
}

/// Changes noticed while parsing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Noticed {
    /// Every title the program set, in order, each different from the one
    /// before (at most [`MAX_TITLES`] per feed, the newest).
    pub titles: Vec<String>,
    /// Bells rung.
    pub bells: u64,
}

/// A terminal screen fed with output.
pub struct ScreenModel {
    term: Terminal<Hooks>,
    scrollback_lines: usize,
    /// Holds back a synchronized update until it ends (`frame_hold`).
    hold: FrameHold,
    /// Output bytes parsed since the last skip ([`ScreenModel::feed_after_skip`]).
    since_skip: usize,
    /// The bytes the skip made up to put its tail in place, and how many
    /// bytes of the output they stand for when they begin an escape
    /// sequence (see `lead_in`).
    made_up: (usize, usize),
    /// Where the output fed leaves the parser (see
    /// [`ScreenModel::skim_after`]).
    at_end: Skim,
}

impl ScreenModel {
    /// An empty screen of `cols`×`rows` keeping `scrollback_lines` lines
    /// scrolled off the top.
    pub fn new(cols: u16, rows: u16, scrollback_lines: usize) -> ScreenModel {
        ScreenModel {
            term: Terminal::with_callbacks(rows, cols, scrollback_lines, Hooks::default()),
            scrollback_lines,
            hold: FrameHold::default(),
            since_skip: 0,
            made_up: (0, 0),
            at_end: Skim::tracker(),
        }
    }

    /// Parse output (but for a synchronized update under way, parsed once
    /// it ends: see [`crate::frame_hold`]).
    pub fn feed(&mut self, bytes: &[u8]) -> Noticed {
        self.at_end.read(bytes);
        let bytes = self.hold.pass(bytes, Instant::now());
        self.parse_output(&bytes)
    }

    /// Show a synchronized update held too long as far as it came.
    pub fn release_stale_update(&mut self) -> Noticed {
        match self.hold.release_stale(Instant::now()) {
            Some(bytes) => self.parse_output(&bytes),
            None => Noticed::default(),
        }
    }

    /// The output has ended: an update or a sequence it left unfinished
    /// can no longer end, so the screen shows all it ever will (an update
    /// as far as it came, as on a terminal once its hold times out).
    pub fn output_ended(&mut self) -> Noticed {
        let noticed = if self.held_back() > 0 {
            // The end the program did not write.
            self.feed(crate::frame_hold::END)
        } else {
            Noticed::default()
        };
        self.term.restart();
        self.at_end = Skim::tracker();
        noticed
    }

    /// A skim of the output that follows what was fed: it starts where
    /// that left the parser (inside a string, a sequence…).
    pub fn skim_after(&self) -> Skim {
        self.at_end.continued()
    }

    /// Bytes fed but held back (a synchronized update under way).
    pub fn held_back(&self) -> usize {
        self.hold.held()
    }

    /// Bytes fed that the screen does not show: a synchronized update held
    /// back, and before it the start of an escape sequence, a string or a
    /// UTF-8 character whose end has not come (a terminal shows nothing of
    /// it either). The screen shows the output up to that many bytes
    /// before the end fed: a terminal painted with it and given the output
    /// from there gets the unfinished sequence whole.
    pub fn unshown(&self) -> usize {
        let pending = match self.term.pending() {
            // Begun in what a skip made up (at its only ESC, its first
            // byte), which stands for more of the output.
            p if p > self.since_skip => self.since_skip + self.made_up.1,
            p => p,
        };
        self.hold.held() + pending
    }

    /// Parse bytes of the output (not made up).
    fn parse_output(&mut self, bytes: &[u8]) -> Noticed {
        self.since_skip = self.since_skip.saturating_add(bytes.len());
        self.parse(bytes)
    }

    fn parse(&mut self, bytes: &[u8]) -> Noticed {
        self.term.process(bytes);
        let hooks = self.term.callbacks_mut();
        let noticed = Noticed {
            titles: std::mem::take(&mut hooks.titles),
            bells: hooks.bells,
        };
        hooks.bells = 0;
        noticed
    }

    /// Parse `tail`, the newest bytes of the output after a skipped stretch
    /// that `skipped` read: the parser starts afresh, from the state the
    /// skipped bytes left (inside a string or a sequence begun there, its
    /// rest in `tail` is parsed as such; their pen, modes, title… hold),
    /// and resumes drawing at the first point of `tail` where the cursor's
    /// place is known (see [`crate::screen`] for what the skip can cost).
    /// `before` gives the output kept before `tail`, in pieces, oldest
    /// first, and whether it reaches back to the session's first byte: it
    /// is read only when `tail` holds no point to resume at (one long
    /// line), to find where `tail` starts.
    pub fn feed_after_skip<B: AsRef<[u8]>>(
        &mut self,
        tail: &[u8],
        mut skipped: Skim,
        before: impl FnOnce() -> (Vec<B>, bool),
    ) -> Noticed {
        let cols = self.screen().size().1;
        self.term.restart();
        self.hold.reset();
        let (opening, open_for) = skipped.opening();
        let start = skipped.continued();
        let (bytes, at, stands_for) = match skipped.read_to_ground(tail) {
            // All of the tail is inside a sequence or string begun before.
            None => ([skipped.kept(), opening].concat(), 0, open_for),
            // What the bytes before the resume point did to the screen's
            // state (a clear, the pen, modes) still holds after it.
            Some(g) => match skipped.read_to_resume(&tail[g..]) {
                Some(Resume::CursorMove(i)) => (skipped.kept(), g + i, 0),
                Some(Resume::LineStart(i)) => ([skipped.kept(), b"\r".to_vec()].concat(), g + i, 0),
                // Inside one long line: what comes before puts `tail`
                // where it belongs (see `lead_in`).
                None if g == 0 => {
                    let (pieces, output_start) = before();
                    let lead = lead_in(&pieces, output_start, cols.get());
                    ([skipped.kept(), lead].concat(), 0, 0)
                }
                None => (skipped.kept(), g, 0),
            },
        };
        // What is made up to put the tail in place is parsed as it is; the
        // tail itself goes through the hold, which so holds output bytes
        // only (SCREEN's offset counts on that). An update begun before the
        // resume point is not held.
        let mut noticed = self.parse(&bytes);
        // Where the parser is at `at`: inside what began before the tail
        // when `at` is its start, else at a resume point (ground).
        self.at_end = if at == 0 {
            start.tracking()
        } else {
            Skim::tracker()
        };
        self.since_skip = 0;
        self.made_up = (bytes.len(), stands_for);
        let more = self.feed(&tail[at..]);
        noticed.titles.extend(more.titles);
        noticed.bells += more.bells;
        noticed
    }

    /// Resize the screen.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.term.set_size(rows, cols);
    }

    fn screen(&self) -> &vt100::Screen {
        self.term.screen()
    }

    /// The cursor as a terminal reports it (to a cursor position query):
    /// row and column, from 0; after a character written in the last
    /// column, that column, as xterm says (vt100 keeps the next one's wrap
    /// as a column past the margin).
    pub fn cursor(&self) -> (u16, u16) {
        let (row, col) = self.screen().cursor_position();
        let last = self.screen().size().1.get().saturating_sub(1);
        (row, col.min(last))
    }

    /// The visible lines as text, trailing blanks trimmed.
    pub fn lines(&self) -> Vec<String> {
        text_rows(self.screen()).collect()
    }

    /// The visible text: lines joined by `\n`, trailing empty lines dropped.
    pub fn text(&self) -> String {
        let mut lines = self.lines();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// Whether the program turned bracketed paste on (also in a
    /// synchronized update not shown yet: it applies to input at once).
    pub fn bracketed_paste(&self) -> bool {
        self.hold
            .private_mode(b"2004")
            .unwrap_or_else(|| self.screen().bracketed_paste())
    }

    /// Whether the program turned application cursor keys on (also in a
    /// synchronized update not shown yet: it applies to input at once).
    pub fn application_cursor(&self) -> bool {
        self.hold
            .private_mode(b"1")
            .unwrap_or_else(|| self.screen().application_cursor())
    }

    /// The window title (OSC 0/2), empty if none was set.
    pub fn title(&self) -> &str {
        &self.term.callbacks().title
    }

    /// Up to `n` lines scrolled off the top, oldest first.
    fn scrollback(&mut self, n: usize, format: ScreenFormat) -> Vec<String> {
        let rows = usize::from(self.screen().size().0.get());
        let screen = self.term.screen_mut();
        screen.set_scrollback(usize::MAX);
        let available = screen.scrollback();
        let want = n.min(available).min(self.scrollback_lines);
        let mut out = Vec::with_capacity(want);
        // Walk windows from the oldest wanted line down.
        let mut offset = want;
        while offset > 0 {
            screen.set_scrollback(offset);
            let take = offset.min(rows);
            let rows_text: Vec<String> = match format {
                ScreenFormat::Text => text_rows(screen).take(take).collect(),
                ScreenFormat::Ansi => (0..take as u16).map(|r| ansi_line(screen, r)).collect(),
            };
            out.extend(rows_text);
            offset -= take;
        }
        screen.set_scrollback(0);
        out
    }

    /// The answer to SCREEN.
    pub fn snapshot(&mut self, format: ScreenFormat, scrollback_lines: usize) -> ScreenResp {
        let scrollback = (scrollback_lines > 0).then(|| self.scrollback(scrollback_lines, format));
        let s = self.screen();
        let (rows, cols) = s.size();
        let (row, col) = s.cursor_position();
        let lines = match format {
            ScreenFormat::Text => self.lines(),
            ScreenFormat::Ansi => (0..rows.get()).map(|r| ansi_line(s, r)).collect(),
        };
        ScreenResp {
            id: None,
            lines,
            cursor: Cursor {
                row,
                col,
                visible: !s.hide_cursor(),
            },
            cols: cols.get(),
            rows: rows.get(),
            alternate_screen: s.alternate_screen(),
            title: self.title().to_string(),
            bracketed_paste: self.bracketed_paste(),
            application_cursor: self.application_cursor(),
            scrollback,
            // Set by the caller, which knows how far the model has parsed.
            output_offset: 0,
            redraw: None,
        }
    }

    /// Bytes that draw this screen on a terminal from any state: reset,
    /// modes (alternate screen, application cursor keys, bracketed paste…),
    /// the visible grid with its attributes (in ASCII), the cursor the
    /// program saved (DECSC) with its attributes and character sets, the
    /// character sets, the scroll region, and the cursor. On the alternate
    /// screen, the normal screen under it is drawn
    /// first, with the cursor the program saved on entering it: what the
    /// program finds when it leaves (vim quits to the shell's lines).
    ///
    /// The screen is cleared row by row, never by an erase of the whole
    /// screen: tmux (`scroll-on-clear`, on by default), like other
    /// terminals, scrolls what such an erase removes into its history, so
    /// a terminal drawn again in place (`hm attach --no-status-bar` on a
    /// resize) showed its screen there once more each time.
    pub fn redraw(&self) -> Vec<u8> {
        let s = self.screen();
        // Leave the alternate screen and reset attributes, insert mode and
        // the character sets first, so the modes below start from a known
        // state and the text is drawn as it shows.
        let mut out = b"\x1b[?1049l\x1b[0m\x1b[4l".to_vec();
        out.extend_from_slice(ASCII_SETS);
        if s.alternate_screen() {
            let mut normal = copy_of(s);
            normal.process(b"\x1b[?1049l");
            grid(normal.screen(), &mut out);
            // Saves that cursor for the program's leaving, with the
            // character sets and hidden saved with it; they are ASCII and
            // not hidden again for the drawing (its text is as it shows).
            out.extend(self.term.saved_modes());
            out.extend_from_slice(b"\x1b[?1049h");
            out.extend_from_slice(ASCII_SETS);
        }
        out.extend_from_slice(s.input_mode_formatted().as_bytes());
        grid(s, &mut out);
        // The cursor the program saved (DECSC), with its attributes,
        // character sets and hidden, for it to restore (ESC 8).
        let mut saved = copy_of(s);
        saved.process(b"\x1b8");
        let (row, col) = saved.screen().cursor_position();
        out.extend_from_slice(format!("\x1b[{};{}H", row + 1, col + 1).as_bytes());
        out.extend_from_slice(saved.screen().attributes_formatted().as_bytes());
        out.extend(self.term.saved_modes());
        out.extend_from_slice(b"\x1b7");
        out.extend_from_slice(s.attributes_formatted().as_bytes());
        // The character sets, insert mode, autowrap, hidden and tab stops
        // last: the contents are drawn as they show.
        out.extend(self.term.modes());
        let (top, bottom) = scroll_region(s);
        if (top, bottom) != (0, s.size().0.get() - 1) {
            // (It moves the cursor: placed below.)
            out.extend_from_slice(format!("\x1b[{};{}r", top + 1, bottom + 1).as_bytes());
        }
        out.extend_from_slice(s.cursor_state_formatted().as_bytes());
        out
    }
}

/// The rows `s` shows as text, trailing blanks trimmed.
fn text_rows(s: &vt100::Screen) -> impl Iterator<Item = String> + '_ {
    s.rows(0, s.size().1.get())
        .map(|l| restore(&l).trim_end().to_string())
}

/// A parser whose screen is a copy of `s`, to try sequences on.
fn copy_of(s: &vt100::Screen) -> vt100::Parser {
    let mut p = vt100::Parser::new(s.size().0, s.size().1, 0);
    *p.screen_mut() = s.clone();
    p
}

/// The scroll region (DECSTBM) of `s`: its top and bottom rows, 0-based.
/// `vt100` keeps it to itself, so a copy shows it: a line feed on the
/// region's bottom row scrolls and leaves the cursor there (elsewhere the
/// cursor moves down, but on the last row), a reverse index on its top row
/// likewise.
fn scroll_region(s: &vt100::Screen) -> (u16, u16) {
    let rows = s.size().0.get();
    let mut p = copy_of(s);
    // Cursor moves absolute, not within the region (origin mode off).
    p.process(b"\x1b[?6l");
    let mut stays = |row: u16, step: &str| {
        p.process(format!("\x1b[{};1H{step}", row + 1).as_bytes());
        p.screen().cursor_position().0 == row
    };
    let bottom = (0..rows - 1).find(|&r| stays(r, "\n")).unwrap_or(rows - 1);
    let top = (1..=bottom).find(|&r| stays(r, "\x1bM")).unwrap_or(0);
    (top, bottom)
}

/// Draw the visible grid of `s` (cleared row by row first, never erased
/// whole: see [`ScreenModel::redraw`]) and put the cursor in its place.
fn grid(s: &vt100::Screen, out: &mut Vec<u8>) {
    for row in 1..=s.size().0.get() {
        out.extend_from_slice(format!("\x1b[{row};1H\x1b[2K").as_bytes());
    }
    // vt100 begins the contents with an erase from home (after the
    // cursor's visibility): done row by row above.
    let contents = restore_drawn(&s.contents_formatted()).replacen(VT100_CLEAR, "\x1b[m\x1b[H", 1);
    out.extend_from_slice(contents.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synchronized_update_shows_when_it_ends() {
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed(b"old frame");
        let n = m.feed(b"\x1b[?2026h\x1b[2J\x1b[Hnew \x1b]2;t\x07");
        assert!(n.titles.is_empty(), "held with the frame");
        assert_eq!(m.text(), "old frame");
        assert_eq!(m.held_back(), 25);
        let n = m.feed(b"frame\x1b[?2026l");
        assert_eq!(n.titles, ["t"]);
        assert_eq!((m.text().as_str(), m.held_back()), ("new frame", 0));
        // A skip forgets an update begun before it.
        m.feed(b"\x1b[?2026hlost");
        m.feed_after_skip(b"\x1b[1;1Hafter", Skim::default(), || {
            (Vec::<&[u8]>::new(), true)
        });
        assert_eq!((m.lines()[0].as_str(), m.held_back()), ("afterrame", 0));
    }

    /// What the screen does not show yet is not counted in what it shows:
    /// a sequence or a character not ended (also before a held update, and
    /// one a skip's tail continues), until it ends or the output does.
    #[test]
    fn an_unfinished_sequence_is_not_shown_yet() {
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed(b"before\x1b[3");
        assert_eq!(m.unshown(), 3);
        m.feed(b"1mred\xe2\x94");
        assert_eq!((m.text().as_str(), m.unshown()), ("beforered", 2));
        m.feed(b"\x8c\x1b]2;tit");
        assert_eq!((m.text().as_str(), m.unshown()), ("beforered┌", 7));
        m.feed(b"le\x07\x1b[?2026hheld\x1b");
        assert_eq!(m.unshown(), 13);
        m.feed(b"[?2026l\x1b[1");
        assert_eq!(m.unshown(), 3);
        m.output_ended();
        assert_eq!(m.unshown(), 0);
        // A skip's tail inside a string begun long before it: counted from
        // the string's ESC in the output, not from the lead made up for it.
        let mut image = b"\x1b]1337;File=:".to_vec();
        image.resize(12288, b'Q');
        let mut skipped = Skim::default();
        skipped.read(&image);
        m.feed_after_skip(b"QQQQ", skipped, nothing_before);
        assert_eq!(m.unshown(), image.len() + 4);
        m.feed(b"QQ");
        assert_eq!(m.unshown(), image.len() + 6);
        m.feed(b"\x07after\x1b[");
        assert_eq!(
            (m.lines()[0].as_str(), m.unshown()),
            ("beforered┌heldafter", 2)
        );
    }

    #[test]
    fn text_title_bell_and_modes() {
        let mut m = ScreenModel::new(20, 4, 100);
        let n = m.feed(b"\x1b]2;my title\x07hello   \r\nworld\x07");
        assert_eq!(n.titles, ["my title"]);
        assert_eq!(n.bells, 1);
        assert_eq!(m.lines()[0], "hello");
        assert_eq!(m.text(), "hello\nworld");
        assert!(!m.bracketed_paste());
        m.feed(b"\x1b[?2004h\x1b[?1h");
        assert!(m.bracketed_paste() && m.application_cursor());
        let n = m.feed(b"\x1b]0;my title\x07");
        assert!(n.titles.is_empty(), "unchanged title is not reported");
        let n = m.feed(b"\x1b]2;first\x07\x1b]0;second\x07\x1b]2;my title\x07");
        assert_eq!(
            n.titles,
            ["first", "second", "my title"],
            "each change, in order"
        );
    }

    #[test]
    fn scrollback_lines_oldest_first() {
        let mut m = ScreenModel::new(10, 3, 100);
        for i in 0..10 {
            m.feed(format!("line{i}\r\n").as_bytes());
        }
        let s = m.snapshot(ScreenFormat::Text, 5);
        let sb = s.scrollback.unwrap();
        assert_eq!(sb, vec!["line3", "line4", "line5", "line6", "line7"]);
        assert_eq!(s.lines, vec!["line8", "line9", ""]);
        assert_eq!(s.cursor.row, 2);
        m.feed(b"\x1b[1mbold\r\n\r\n\r\n");
        let s = m.snapshot(ScreenFormat::Ansi, 2);
        assert_eq!(s.scrollback.unwrap(), vec!["line9", "\x1b[1mbold\x1b[0m"]);
    }

    /// No output kept before a skip's tail.
    fn nothing_before() -> (Vec<&'static [u8]>, bool) {
        (Vec::new(), false)
    }

    #[test]
    fn input_modes_set_in_a_held_update_apply_at_once() {
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed(b"old\x1b[?2026h\x1b[2Jnew\x1b[?2004h\x1b[?1h");
        assert_eq!(m.text(), "old");
        let s = m.snapshot(ScreenFormat::Text, 0);
        assert!(s.bracketed_paste && s.application_cursor);
        assert!(m.bracketed_paste() && m.application_cursor());
        m.feed(b"\x1b[?2004l\x1b[?2026l");
        assert!(!m.bracketed_paste() && m.application_cursor());
    }

    #[test]
    fn a_skip_holds_only_an_update_its_tail_begins() {
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed_after_skip(b"\x1b[?2026hxx\r\nrow", Skim::default(), nothing_before);
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("row", 0));
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed_after_skip(
            b"\x1b[?2026hxx\r\nrow\x1b[?2026hheld",
            Skim::default(),
            nothing_before,
        );
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("row", 12));
        m.feed(b"!\x1b[?2026l");
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("rowheld!", 0));
    }

    #[test]
    fn a_skip_mid_sequence_or_mid_line_misplaces_nothing() {
        let mut m = ScreenModel::new(20, 4, 0);
        // Parsed before the skip: cursor mid-row 3, a half-read CSI.
        m.feed(b"\x1b[1;1Htop\x1b[3;1Hrow 3 zz\x1b[3");
        // The tail starts mid-line: "zzzz" must not land anywhere.
        m.feed_after_skip(
            b"zzzz\x1b[3;1Hrow 3 yy\x1b[4;1Hbottom",
            Skim::default(),
            nothing_before,
        );
        assert_eq!(m.lines(), vec!["top", "", "row 3 yy", "bottom"]);
        // A scrolling stream resumes at a line start.
        let mut m = ScreenModel::new(20, 3, 0);
        m.feed(b"a\r\nb\r\nhalf a li");
        m.feed_after_skip(b"ne\r\nc\r\nd", Skim::default(), nothing_before);
        // "ne" was skipped: the half line stays as parsed, nothing is added.
        assert_eq!(m.lines(), vec!["half a li", "c", "d"]);
        // A progress line redrawn after carriage returns.
        let mut m = ScreenModel::new(20, 2, 0);
        m.feed(b"done\r\nprogress 1");
        m.feed_after_skip(b"0%\rprogress 42%", Skim::default(), nothing_before);
        assert_eq!(m.lines(), vec!["done", "progress 42%"]);
    }

    /// `before` as `feed_after_skip` reads it: in pieces (of 3 bytes, so
    /// that what is looked for falls across their edges too).
    fn pieces(before: &[u8]) -> Vec<&[u8]> {
        before.chunks(3).collect()
    }

    #[test]
    fn what_comes_before_a_tail_without_a_resume_point() {
        let cases: [(&[u8], bool, &[u8]); 12] = [
            // 10 characters since the line's start: two full rows of 4,
            // then "89".
            (b"x\r\n0123456789", false, b"\r89"),
            (b"x\r0123456789", false, b"\r89"),
            // The line feed at a piece's start, its carriage return before.
            (b"xx\r\n0123456789", false, b"\r89"),
            (b"0123456789", true, b"\r89"),
            // A full last row: the tail starts a row of its own.
            (b"\r01234567", false, b"\r"),
            // The line's start is not kept, or the column cannot be told.
            (b"0123456789", false, b""),
            (b"x\n0123456789", false, b""),
            (b"\r01\t23", false, b""),
            (b"\r\x1b[1m0123456789", false, b""),
            // After an escape sequence.
            (b"\x1b[1mab", false, b""),
            (b"\x1b]0;t\x07ab", false, b""),
            (b"\x1b7ab", false, b""),
        ];
        for (before, output_start, lead) in cases {
            let got = lead_in(&pieces(before), output_start, 4);
            assert_eq!(got, lead, "before {:?}", String::from_utf8_lossy(before));
        }
    }

    #[test]
    fn a_skip_inside_a_long_line_keeps_its_columns() {
        let line: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("{i:03},").into_bytes())
            .collect();
        let mut m = ScreenModel::new(10, 3, 0);
        m.feed(b"head\r\n");
        m.feed(&line[..50]);
        // The tail starts at byte 3001 of the line, column 1 of its row;
        // the line ends with a full row.
        let mut before = b"head\r\n".to_vec();
        before.extend_from_slice(&line[..3001]);
        m.feed_after_skip(&line[3001..], Skim::default(), || (pieces(&before), true));
        let last = ["2,993,994,", "995,996,99", "7,998,999,"];
        assert_eq!(m.lines(), last.map(String::from));
        assert_eq!(m.cursor(), (2, 9));
    }

    #[test]
    fn a_skip_keeps_the_clear_pen_and_modes_before_the_resume_point() {
        // A flood, then a clear written before the cursor move (the
        // resume point): the flood must not survive on the screen.
        let mut m = ScreenModel::new(20, 4, 0);
        m.feed(&b"0000\r\n".repeat(4));
        let mut tail = b"000\r\n".repeat(50);
        tail.extend_from_slice(b"\x1b[2J\x1b[HCLEARED\r\n");
        m.feed_after_skip(&tail, Skim::default(), nothing_before);
        assert_eq!(m.lines(), ["CLEARED", "", "", ""]);
        // Pen, modes and title set before the resume point hold after it;
        // text and cursor-relative edits there are dropped.
        let mut m = ScreenModel::new(20, 4, 0);
        m.feed(b"\x1b[3;1Hkeep me");
        let n = m.feed_after_skip(
            b"[0mzz\x1b[?2004h\x1b]2;t\x07\x1b(0\x1b[1;31mq\x1b[K\x1b[J\x1b[1;3\x1b[2;1Hred",
            Skim::default(),
            nothing_before,
        );
        assert_eq!(n.titles, ["t"]);
        assert!(m.bracketed_paste());
        // In the DEC graphics set `ESC ( 0` chose, as a terminal draws it.
        assert_eq!(m.lines(), ["", "⎼␊␍", "keep me", ""]);
        let cell = m.screen().cell(1, 0).map(|c| (c.bold(), c.fgcolor()));
        assert_eq!(cell, Some((true, vt100::Color::Idx(1))));
    }

    /// What the skipped bytes began or set holds in the tail: a title whose
    /// rest is the tail, the alternate screen, hidden text, an image.
    #[test]
    fn a_skip_continues_what_the_skipped_bytes_began_and_set() {
        let mut m = ScreenModel::new(20, 4, 0);
        let mut skipped = Skim::default();
        skipped.read(b"\x1b]0;");
        skipped.read(&[b'a'; 100_000]);
        let mut tail = vec![b'a'; 1000];
        tail.extend_from_slice(b"\x07ready");
        let n = m.feed_after_skip(&tail, skipped, nothing_before);
        assert_eq!((m.text().as_str(), m.title().len()), ("ready", 101_000));
        assert_eq!(n.titles.len(), 1);
        let mut skipped = Skim::default();
        skipped.read(b"\x1b[?1049h\x1b[8m\x1b_Gf=100;QUFB");
        let tail = b"QUFB\x1b\\\x1b[2;1Hsecret\x1b[28m\r\nshown";
        m.feed_after_skip(tail, skipped, nothing_before);
        let s = m.snapshot(ScreenFormat::Text, 0);
        assert!(s.alternate_screen);
        assert_eq!(s.lines, ["", "", "shown", ""]);
        // All of the tail inside an image: nothing shows, none counted.
        let mut skipped = Skim::default();
        skipped.read(b"\x1b_Gf=100;QUFB");
        m.feed_after_skip(b"QUFB", skipped, nothing_before);
        assert_eq!((m.lines()[2].as_str(), m.unshown()), ("shown", 17));
    }

    #[test]
    fn alternate_screen_and_redraw() {
        let mut m = ScreenModel::new(10, 3, 0);
        m.feed(b"shell\r\n$ \x1b[?1049h\x1b[2;3Hxy");
        let s = m.snapshot(ScreenFormat::Text, 0);
        assert!(s.alternate_screen);
        assert_eq!(s.lines[1], "  xy");
        let mut copy = ScreenModel::new(10, 3, 0);
        copy.feed(b"old\r\nrows\x1b[1m");
        copy.feed(&m.redraw());
        assert_eq!(copy.lines(), m.lines());
        assert!(copy.snapshot(ScreenFormat::Text, 0).alternate_screen);
        // Under it, the normal screen and its cursor.
        copy.feed(b"\x1b[?1049lvim");
        assert_eq!(copy.lines(), ["shell", "$ vim", ""]);
    }

    #[test]
    fn the_scroll_region_is_read_and_redrawn() {
        let region = |bytes: &[u8]| {
            let mut m = ScreenModel::new(10, 6, 0);
            m.feed(bytes);
            scroll_region(m.screen())
        };
        assert_eq!(region(b""), (0, 5));
        assert_eq!(region(b"\x1b[2;4r"), (1, 3));
        assert_eq!(region(b"\x1b[1;5r"), (0, 4));
        assert_eq!(region(b"\x1b[3;6r\x1b[?6h"), (2, 5));
        assert_eq!(region(b"\x1b[2;4r\x1b[r"), (0, 5));
        let mut m = ScreenModel::new(10, 6, 0);
        m.feed(b"\x1b[1;3r\x1b[6;1Hstatus\x1b[2;4Hx");
        let mut copy = ScreenModel::new(10, 6, 0);
        copy.feed(&m.redraw());
        assert_eq!(copy.lines(), m.lines());
        assert_eq!(copy.cursor(), m.cursor());
        copy.feed(b"\x1b[3;1Ha\nb\nc\n");
        assert_eq!(copy.lines()[5], "status", "{:?}", copy.lines());
        assert_eq!(copy.lines()[2], "", "{:?}", copy.lines());
    }

    /// A redraw never erases the whole screen at once (an erase a terminal
    /// such as tmux scrolls into its history first), and draws the screen
    /// over any other.
    #[test]
    fn a_redraw_clears_row_by_row() {
        let mut m = ScreenModel::new(10, 3, 0);
        m.feed(b"ab\r\n\x1b[1mcd\x1b[0m\r\n  e");
        let redraw = m.redraw();
        let erases = [b"\x1b[J".as_slice(), b"\x1b[0J", b"\x1b[2J"];
        assert!(
            !erases
                .iter()
                .any(|e| redraw.windows(e.len()).any(|w| w == *e)),
            "{:?}",
            String::from_utf8_lossy(&redraw)
        );
        let mut copy = ScreenModel::new(10, 3, 0);
        copy.feed(b"0123456789\r\n0123456789\r\n012345678\x1b[44m");
        copy.feed(&redraw);
        assert_eq!(copy.lines(), m.lines());
        assert_eq!(copy.screen().cursor_position(), (2, 3));
        assert!(copy.screen().cell(1, 0).is_some_and(|c| c.bold()));
    }
}
