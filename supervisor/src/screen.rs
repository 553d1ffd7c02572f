//! The live screen model: a VT emulator (the `vt100` crate, built on `vte`)
//! fed with the session's output, answering SCREEN, screen WAITs, SUBMIT's
//! checks and the attach client's redraw.
//!
//! The model is a *reader* of the output ring, not part of the output path:
//! it tracks the offset it has parsed up to. Output that follows a pause is
//! parsed as it arrives; a stream of output is parsed at most every 50 ms,
//! and when more than [`SKIP_OVER`] bytes are pending (or the ring already
//! dropped unparsed bytes) the model skips ahead: it parses only the newest
//! [`REPLAY_TAIL`] bytes, resuming at a point where the terminal's state is
//! known ([`ScreenModel::feed_after_skip`]) — enough to rebuild any screen
//! while costing a flood almost nothing. Every request that reads the screen
//! (SCREEN, WAIT on the screen, SUBMIT, a redraw) first catches up.
//!
//! What a skipped stretch can cost: content written only inside the skipped
//! bytes (a cell painted once during the flood and never again, a title set
//! mid-flood) and modes switched there (alternate screen, bracketed paste,
//! colours of the pen) are missing until the program writes them again. In
//! the replayed tail, what comes before the resume point and does not depend
//! on the cursor (a clear of the screen, the pen, modes, titles) is still
//! applied. What is parsed after the skip is never misplaced: parsing never
//! resumes in the middle of an escape sequence or of a line — but for one
//! line or escape sequence longer than the replayed tail, which is continued
//! from the bytes kept before it (`lead_in`): a line in its column when
//! its start is kept and it is printable ASCII, a sequence as the sequence;
//! else the tail is shown from where the cursor was.

use heimdall_protocol::{Cursor, ScreenFormat, ScreenResp};

use std::time::Instant;

use crate::ansi_line::ansi_line;
use crate::frame_hold::FrameHold;
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

/// Where parsing resumes in the bytes that follow a skipped stretch.
#[derive(Debug, PartialEq, Eq)]
enum Resume {
    /// At this ESC starting an absolute cursor move (CUP/HVP): an ESC puts
    /// the parser in a known state from any state, and the move puts the
    /// cursor where the program meant it.
    CursorMove(usize),
    /// At this line feed or carriage return, after a carriage return: the
    /// text that follows starts at column 0 (a scrolling stream, a progress
    /// line redrawn after `\r`).
    LineStart(usize),
    /// Nowhere better (one long line with neither): at the first byte.
    Start,
}

/// The first point in `tail` where parsing can resume after a skip: an
/// absolute cursor move if there is one, else a line feed or carriage
/// return.
fn resume_point(tail: &[u8]) -> Resume {
    let cursor_move = tail.iter().enumerate().position(|(i, &b)| {
        if b != 0x1b || tail.get(i + 1) != Some(&b'[') {
            return false;
        }
        let params = tail[i + 2..]
            .iter()
            .position(|c| !(c.is_ascii_digit() || *c == b';'));
        params.is_some_and(|n| matches!(tail[i + 2 + n], b'H' | b'f'))
    });
    if let Some(i) = cursor_move {
        return Resume::CursorMove(i);
    }
    match tail.iter().position(|&b| b == b'\n' || b == b'\r') {
        Some(i) => Resume::LineStart(i),
        None => Resume::Start,
    }
}

/// Bytes of the output before a skip's tail that are read back to find
/// where the tail starts: at most this many are kept (a row is at most 1000
/// columns; an escape sequence's string beyond this is left out).
const LEAD_KEEP: usize = 4096;

/// What to parse before a skip's tail that holds no resume point of its
/// own, so that the tail lands as the terminal shows it:
///
/// - the tail continues a line of printable ASCII: a carriage return and the
///   line's text since the start of the row the tail starts on (the line
///   wrapped at `cols` as the terminal wraps it), so the tail keeps its
///   columns;
/// - the tail continues an escape sequence (one long string: an inline
///   image, a clipboard copy; a CSI cut in two): the sequence's start (its
///   first [`LEAD_KEEP`] bytes), so the tail is parsed as the rest of it
///   and none of it shows as text;
/// - else nothing (the tail goes where the cursor is).
///
/// Also how many bytes of the output the lead stands for when it begins an
/// escape sequence (its ESC and what followed it up to the tail; more than
/// the lead when it is only the sequence's opening).
///
/// `before` is the output kept before the tail, in pieces, oldest first;
/// `output_start` says whether it reaches back to the session's first byte,
/// where a line starts too. A line starts after a carriage return (a pty's
/// output turns `\n` into `\r\n`); a line with anything but printable
/// ASCII in it (a tab, UTF-8, a lone line feed) leaves its column unknown.
fn lead_in<B: AsRef<[u8]>>(before: &[B], output_start: bool, cols: u16) -> (Vec<u8>, usize) {
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
        return (lead, 0);
    }
    if stop.map(|(b, _)| b) != Some(0x1b) {
        return (Vec::new(), 0);
    }
    // The bytes after the ESC, oldest first (all of them when `whole`).
    let kept: Vec<u8> = run
        .iter()
        .flat_map(|p| p.iter())
        .take(LEAD_KEEP)
        .copied()
        .collect();
    let whole = seen == kept.len();
    let unfinished = match kept.first() {
        // The tail starts right after the ESC.
        None => true,
        // A string: it ends only with ESC (ST) or BEL, which did not come.
        Some(b']' | b'P' | b'_' | b'^' | b'X') => true,
        Some(b'[') => whole && kept[1..].iter().all(|b| (0x20..=0x3f).contains(b)),
        Some(_) => whole && kept.iter().all(|b| (0x20..=0x2f).contains(b)),
    };
    if !unfinished {
        return (Vec::new(), 0);
    }
    let mut lead = vec![0x1b];
    lead.extend_from_slice(if whole { &kept } else { &kept[..1] });
    (lead, seen + 1)
}

/// The sequences in `prefix` (the tail's bytes before the resume point)
/// whose effect does not depend on where the cursor was: a clear of the
/// whole screen (ED 2) or a full reset, the pen's attributes (SGR), DEC
/// private modes (alternate screen, bracketed paste, cursor visibility…),
/// keypad modes, character sets and OSC strings (the title), in order.
/// Text, cursor-relative edits and anything after an unfinished sequence
/// are left out. Scanning starts at the first ESC: an ESC starts a
/// sequence from any parser state.
fn state_sequences(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mut i) = prefix.iter().position(|&b| b == 0x1b) else {
        return out;
    };
    while i < prefix.len() {
        if prefix[i] != 0x1b {
            i += 1;
            continue;
        }
        let Some(&kind) = prefix.get(i + 1) else {
            break;
        };
        match kind {
            b'[' => {
                let start = i + 2;
                let Some(n) = prefix[start..]
                    .iter()
                    .position(|b| !(0x20..=0x3f).contains(b))
                else {
                    break;
                };
                let (params, last) = (&prefix[start..start + n], prefix[start + n]);
                if (0x40..=0x7e).contains(&last) && keeps_state(params, last) {
                    out.extend_from_slice(&prefix[i..=start + n]);
                }
                // A control or an ESC inside the sequence aborts it.
                i = start + n + usize::from((0x40..=0x7e).contains(&last));
            }
            b']' | b'P' | b'X' | b'^' | b'_' => {
                // A string, ended by BEL (OSC only) or ST (ESC \).
                let start = i + 2;
                let end = prefix[start..].iter().enumerate().find_map(|(k, &b)| {
                    let at = start + k;
                    if b == 0x07 && kind == b']' {
                        Some(at + 1)
                    } else if b == 0x1b && prefix.get(at + 1) == Some(&b'\\') {
                        Some(at + 2)
                    } else {
                        None
                    }
                });
                let Some(end) = end else { break };
                if kind == b']' {
                    out.extend_from_slice(&prefix[i..end]);
                }
                i = end;
            }
            b'(' | b')' | b'*' | b'+' => {
                let Some(&set) = prefix.get(i + 2) else {
                    break;
                };
                if set == 0x1b {
                    i += 2;
                } else {
                    out.extend_from_slice(&prefix[i..i + 3]);
                    i += 3;
                }
            }
            b'c' | b'=' | b'>' => {
                out.extend_from_slice(&prefix[i..i + 2]);
                i += 2;
            }
            _ => i += 1,
        }
    }
    out
}

/// Whether the CSI sequence with `params` and final byte `last` sets state
/// that does not depend on the cursor's position: SGR, DEC private modes,
/// erasing the whole display.
fn keeps_state(params: &[u8], last: u8) -> bool {
    let private = params.first() == Some(&b'?');
    let plain = params
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b';' | b':'));
    match last {
        b'm' => plain,
        // A synchronized update begun before the resume point is not
        // held (see `feed_after_skip`).
        b'h' | b'l' => private && params != b"?2026",
        b'J' => params == b"2",
        _ => false,
    }
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
        }
    }

    /// Parse output (but for a synchronized update under way, parsed once
    /// it ends: see [`crate::frame_hold`]).
    pub fn feed(&mut self, bytes: &[u8]) -> Noticed {
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
        noticed
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

    /// Parse `tail`, the newest bytes of the output after a skipped stretch:
    /// the parser starts afresh (nothing half-parsed from before the skip
    /// survives) and resumes at the first point of `tail` where the
    /// terminal's state is known (see [`crate::screen`] for what the skip
    /// can cost). `before` gives the output kept before `tail`, in pieces,
    /// oldest first, and whether it reaches back to the session's first
    /// byte: it is read only when `tail` holds no point to resume at (one
    /// long line or escape sequence), to find where `tail` starts.
    pub fn feed_after_skip<B: AsRef<[u8]>>(
        &mut self,
        tail: &[u8],
        before: impl FnOnce() -> (Vec<B>, bool),
    ) -> Noticed {
        let cols = self.screen().size().1;
        self.term.restart();
        self.hold.reset();
        let (at, (bytes, stands_for)) = match resume_point(tail) {
            // What the bytes before the resume point did to the screen's
            // state (a clear, the pen, modes) still holds after it.
            Resume::CursorMove(i) => (i, (state_sequences(&tail[..i]), 0)),
            Resume::LineStart(i) => {
                let mut bytes = state_sequences(&tail[..i]);
                bytes.push(b'\r');
                (i, (bytes, 0))
            }
            // Inside one long line or escape sequence: what comes before
            // puts `tail` where it belongs (see `lead_in`).
            Resume::Start => {
                let (pieces, output_start) = before();
                (0, lead_in(&pieces, output_start, cols.get()))
            }
        };
        // What is made up to put the tail in place is parsed as it is; the
        // tail itself goes through the hold, which so holds output bytes
        // only (SCREEN's offset counts on that). An update begun before the
        // resume point is not held.
        let mut noticed = self.parse(&bytes);
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
        m.feed_after_skip(b"\x1b[1;1Hafter", || (Vec::<&[u8]>::new(), true));
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
        image.resize(LEAD_KEEP * 3, b'Q');
        m.feed_after_skip(b"QQQQ", || (pieces(&image), false));
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
        m.feed_after_skip(b"\x1b[?2026hxx\r\nrow", nothing_before);
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("row", 0));
        let mut m = ScreenModel::new(20, 4, 100);
        m.feed_after_skip(b"\x1b[?2026hxx\r\nrow\x1b[?2026hheld", nothing_before);
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("row", 12));
        m.feed(b"!\x1b[?2026l");
        assert_eq!((m.lines()[1].as_str(), m.held_back()), ("rowheld!", 0));
    }

    #[test]
    fn resume_points() {
        assert_eq!(resume_point(b"zz\x1b[5;1Hrow\r\nx"), Resume::CursorMove(2));
        assert_eq!(resume_point(b"5;1Hrow\x1b[Hx"), Resume::CursorMove(7));
        assert_eq!(resume_point(b"zz\x1b[1mab\r\ncd"), Resume::LineStart(8));
        assert_eq!(resume_point(b"b\ncd"), Resume::LineStart(1));
        assert_eq!(resume_point(b"zz\x1b[2"), Resume::Start);
    }

    #[test]
    fn a_skip_mid_sequence_or_mid_line_misplaces_nothing() {
        let mut m = ScreenModel::new(20, 4, 0);
        // Parsed before the skip: cursor mid-row 3, a half-read CSI.
        m.feed(b"\x1b[1;1Htop\x1b[3;1Hrow 3 zz\x1b[3");
        // The tail starts mid-line: "zzzz" must not land anywhere.
        m.feed_after_skip(b"zzzz\x1b[3;1Hrow 3 yy\x1b[4;1Hbottom", nothing_before);
        assert_eq!(m.lines(), vec!["top", "", "row 3 yy", "bottom"]);
        // A scrolling stream resumes at a line start.
        let mut m = ScreenModel::new(20, 3, 0);
        m.feed(b"a\r\nb\r\nhalf a li");
        m.feed_after_skip(b"ne\r\nc\r\nd", nothing_before);
        // "ne" was skipped: the half line stays as parsed, nothing is added.
        assert_eq!(m.lines(), vec!["half a li", "c", "d"]);
        // A progress line redrawn after carriage returns.
        let mut m = ScreenModel::new(20, 2, 0);
        m.feed(b"done\r\nprogress 1");
        m.feed_after_skip(b"0%\rprogress 42%", nothing_before);
        assert_eq!(m.lines(), vec!["done", "progress 42%"]);
    }

    /// `before` as `feed_after_skip` reads it: in pieces (of 3 bytes, so
    /// that what is looked for falls across their edges too).
    fn pieces(before: &[u8]) -> Vec<&[u8]> {
        before.chunks(3).collect()
    }

    #[test]
    fn what_comes_before_a_tail_without_a_resume_point() {
        let cases: [(&[u8], bool, &[u8]); 16] = [
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
            // Inside an escape sequence: its start, all of it while short.
            (b"ab\x1b]0;title part", false, b"\x1b]0;title part"),
            (b"ab\x1b[38;5", false, b"\x1b[38;5"),
            (b"ab\x1b", false, b"\x1b"),
            (b"ab\x1b(", false, b"\x1b("),
            // A sequence that ended, or a string ended by BEL.
            (b"\x1b[1mab", false, b""),
            (b"\x1b]0;t\x07ab", false, b""),
            (b"\x1b7ab", false, b""),
        ];
        for (before, output_start, lead) in cases {
            let (got, _) = lead_in(&pieces(before), output_start, 4);
            assert_eq!(got, lead, "before {:?}", String::from_utf8_lossy(before));
        }
        // A string longer than what is kept: its opening alone.
        let mut image = b"\x1b]1337;File=:".to_vec();
        image.resize(LEAD_KEEP * 3, b'Q');
        let (lead, stands_for) = lead_in(&pieces(&image), false, 4);
        assert_eq!((&lead[..], stands_for), (&b"\x1b]"[..], image.len()));
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
        m.feed_after_skip(&line[3001..], || (pieces(&before), true));
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
        m.feed_after_skip(&tail, nothing_before);
        assert_eq!(m.lines(), ["CLEARED", "", "", ""]);
        // Pen, modes and title set before the resume point hold after it;
        // text and cursor-relative edits there are dropped.
        let mut m = ScreenModel::new(20, 4, 0);
        m.feed(b"\x1b[3;1Hkeep me");
        let n = m.feed_after_skip(
            b"[0mzz\x1b[?2004h\x1b]2;t\x07\x1b(0\x1b[1;31mq\x1b[K\x1b[J\x1b[1;3\x1b[2;1Hred",
            nothing_before,
        );
        assert_eq!(n.titles, ["t"]);
        assert!(m.bracketed_paste());
        // In the DEC graphics set `ESC ( 0` chose, as a terminal draws it.
        assert_eq!(m.lines(), ["", "⎼␊␍", "keep me", ""]);
        let cell = m.screen().cell(1, 0).map(|c| (c.bold(), c.fgcolor()));
        assert_eq!(cell, Some((true, vt100::Color::Idx(1))));
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
