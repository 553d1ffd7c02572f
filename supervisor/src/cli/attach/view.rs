//! What an attached terminal shows when the status bar is on, or when the
//! session's size is not the terminal's: the program's screen, rendered by a
//! local emulator into the rows above the bar (all rows without the bar),
//! and the bar on the last row.
//!
//! The real terminal only ever receives what this view renders (diffs of the
//! emulated screen), never the program's raw output, so nothing the program
//! writes — scroll regions, clears, the alternate screen — can overwrite or
//! scroll away the bar.
//!
//! The emulator always has the session's size. When another terminal made
//! the session larger than this one, the part that fits is drawn row by
//! row, clipped, as tmux does: the program's long lines are never wrapped
//! by this terminal (issue #8 item 24), and the part is the one the cursor
//! is in ([`window_offset`]; the top-left while the cursor is there), so a
//! shell's prompt on the bottom row is in sight.

use std::borrow::Cow;
use std::time::Duration;

use heimdall_term::{restore_drawn, Terminal};

use super::mouse;

/// The program's title, bells and clipboard copies, forwarded to the real
/// terminal.
#[derive(Default)]
struct Forward {
    title: Option<Vec<u8>>,
    bells: usize,
    /// The last copy to the clipboard (OSC 52): its selection and base64
    /// data, as the program wrote them.
    copy: Option<(Vec<u8>, Vec<u8>)>,
}

impl vt100::Callbacks for Forward {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.title = Some(title.to_vec());
    }

    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, ty: &[u8], data: &[u8]) {
        self.copy = Some((ty.to_vec(), data.to_vec()));
    }
}

/// What the bar says.
pub struct BarInfo {
    /// Session id.
    pub id: String,
    /// The classifier state's name.
    pub state: String,
    /// Watching only (`--read-only`): nothing typed reaches the session.
    pub read_only: bool,
    /// Session uptime.
    pub uptime: Duration,
    /// What the detach key is, e.g. `Ctrl-\ detach` (see
    /// [`super::detach::bar_text`]).
    pub detach: String,
}

/// The program's screen plus (optionally) the status bar.
pub struct View {
    /// The session's screen, at the session's size.
    term: Terminal<Forward>,
    /// The screen as last rendered (None: draw everything).
    prev: Option<vt100::Screen>,
    /// The rows as last drawn clipped (when the sizes differ).
    drawn: Vec<String>,
    cols: u16,
    rows: u16,
    /// Whether the bar is wanted: it is shown on a terminal of three rows
    /// or more ([`shows_bar`]).
    wants_bar: bool,
    /// Whether the bar is shown at the current size.
    bar: bool,
}

impl View {
    /// A view for a terminal of `cols`×`rows`; with the bar (wanted, and
    /// shown when there are three rows or more), the program gets `rows - 1`.
    pub fn new(cols: u16, rows: u16, wants_bar: bool) -> View {
        let mut v = View {
            term: Terminal::with_callbacks(1, 1, 0, Forward::default()),
            prev: None,
            drawn: Vec::new(),
            cols,
            rows,
            wants_bar,
            bar: shows_bar(wants_bar, rows),
        };
        let (pc, pr) = v.program_size();
        v.term.set_size(pr, pc);
        v
    }

    /// The size the program's pty should have for this terminal: the rows
    /// above the bar.
    pub fn program_size(&self) -> (u16, u16) {
        program_area(self.cols, self.rows, self.bar)
    }

    /// `keys` from the terminal, with the mouse reports in them moved to
    /// the session's cells they point at, as the screen was last drawn
    /// ([`mouse`](super::mouse)).
    pub fn mouse_to_session<'a>(&self, keys: &'a [u8]) -> Cow<'a, [u8]> {
        let screen = self.prev.as_ref().unwrap_or(self.term.screen());
        if screen.mouse_protocol_mode() == vt100::MouseProtocolMode::None {
            return Cow::Borrowed(keys);
        }
        let (rows, cols) = screen.size();
        let area = self.program_size();
        let (top, left) = window_offset(screen, area);
        let shown = mouse::Shown {
            left,
            top,
            cols: cols.get().min(area.0),
            rows: rows.get().min(area.1),
        };
        let encoding = match screen.mouse_protocol_encoding() {
            vt100::MouseProtocolEncoding::Default => mouse::Encoding::X10,
            vt100::MouseProtocolEncoding::Utf8 => mouse::Encoding::Utf8,
            vt100::MouseProtocolEncoding::Sgr => mouse::Encoding::Sgr,
        };
        mouse::to_session(keys, shown, encoding)
    }

    /// Whether the session's screen has exactly the size of this view's
    /// program area, which is the whole terminal's but the bar's row (else
    /// it is drawn clipped): a terminal larger than the protocol takes is
    /// given a smaller area, and wraps the lines drawn for it elsewhere.
    fn fits(&self) -> bool {
        let (rows, cols) = self.term.screen().size();
        let whole = (self.cols, self.rows.saturating_sub(u16::from(self.bar)));
        (cols.get(), rows.get()) == self.program_size() && self.program_size() == whole
    }

    /// Start over from a redraw of the session's screen, painted at the
    /// session's `size`.
    pub fn reset(&mut self, redraw: &[u8], size: (u16, u16)) {
        self.term = Terminal::with_callbacks(size.1, size.0, 0, Forward::default());
        // The redraw has the screen's characters as they show (U+FFFD
        // too), then the character sets, modes and tab stops the output
        // goes on in.
        self.term.process(redraw);
        self.prev = None;
    }

    /// Program output.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.term.process(bytes);
    }

    /// The real terminal changed size; with `follow`, the session is being
    /// resized to it (this client resizes the session), else the session
    /// keeps its size. The bar comes and goes with the rows it needs.
    pub fn resize(&mut self, cols: u16, rows: u16, follow: bool) {
        self.cols = cols;
        self.rows = rows;
        self.bar = shows_bar(self.wants_bar, rows);
        if follow {
            let (pc, pr) = self.program_size();
            self.term.set_size(pr, pc);
        }
        self.prev = None;
    }

    /// Bytes that take the real terminal over: the alternate screen, cleared,
    /// with the scroll region above the bar, and the modes the view draws
    /// with (replace, not insert; autowrap on), whatever the program's
    /// output as it is left the terminal in.
    pub fn enter(&self) -> Vec<u8> {
        let region = if self.bar {
            format!("\x1b[1;{}r", self.rows.saturating_sub(1).max(1))
        } else {
            "\x1b[r".to_string()
        };
        format!("\x1b[?1049h\x1b[4l\x1b[?7h\x1b[0m\x1b[H\x1b[2J{region}").into_bytes()
    }

    /// Bring the real terminal up to date (a diff when possible) and draw the bar.
    pub fn render(&mut self, bar: &BarInfo) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(b"\x1b[?25l");
        if self.fits() {
            let screen = self.term.screen();
            match &self.prev {
                Some(prev) => {
                    out.extend_from_slice(restore_drawn(&screen.state_diff(prev)).as_bytes())
                }
                None => {
                    out.extend_from_slice(b"\x1b[0m\x1b[H\x1b[2J");
                    out.extend_from_slice(restore_drawn(&screen.state_formatted()).as_bytes());
                }
            }
        } else {
            self.render_clipped(&mut out);
        }
        self.prev = Some(self.term.screen().clone());
        let fw = self.term.callbacks_mut();
        if let Some(title) = fw.title.take() {
            out.extend(set_title(&title));
        }
        let bells = std::mem::take(&mut fw.bells).min(3);
        out.extend(std::iter::repeat_n(0x07, bells));
        if let Some((ty, data)) = fw.copy.take() {
            // (vt100 took only a selection and base64 data.)
            out.extend_from_slice(b"\x1b]52;");
            out.extend(ty);
            out.push(b';');
            out.extend(data);
            out.push(0x07);
        }
        if self.bar {
            out.extend(self.bar_bytes(bar));
        } else {
            out.extend(self.cursor_bytes());
        }
        out
    }

    /// Draw the part of the session's screen that fits this terminal's
    /// program area, row by row (only the rows that changed since the last
    /// render), each clipped to the width: a row of the program never
    /// reaches the terminal's edge, so the terminal never wraps it.
    fn render_clipped(&mut self, out: &mut Vec<u8>) {
        let screen = self.term.screen();
        let (area_cols, area_rows) = self.program_size();
        let width = screen.size().1.get().min(area_cols);
        let (top, left) = window_offset(screen, (area_cols, area_rows));
        // Autowrap off while drawing: a wide character in the last column
        // must not wrap (or scroll) the terminal.
        out.extend_from_slice(b"\x1b[?7l");
        match &self.prev {
            Some(prev) => out.extend_from_slice(screen.input_mode_diff(prev).as_bytes()),
            None => {
                out.extend_from_slice(b"\x1b[0m\x1b[H\x1b[2J");
                out.extend_from_slice(screen.input_mode_formatted().as_bytes());
                self.drawn.clear();
            }
        }
        for (i, row) in screen
            .rows_formatted(left, width)
            .map(|row| restore_drawn(&row).into_owned())
            .skip(usize::from(top))
            .take(usize::from(area_rows))
            .enumerate()
        {
            if self.drawn.get(i) == Some(&row) {
                continue;
            }
            out.extend_from_slice(format!("\x1b[{};1H\x1b[0m\x1b[2K", i + 1).as_bytes());
            out.extend_from_slice(row.as_bytes());
            match self.drawn.get_mut(i) {
                Some(d) => *d = row,
                None => self.drawn.push(row),
            }
        }
        out.extend_from_slice(b"\x1b[0m\x1b[?7h");
    }

    /// Back to the drawing attributes and cursor of the screen as last
    /// rendered (hidden when the cursor is outside the part of the screen
    /// this terminal shows): the next render's diff starts from there, even
    /// when output arrived since (the bar redrawn in between).
    fn cursor_bytes(&self) -> Vec<u8> {
        let screen = self.prev.as_ref().unwrap_or(self.term.screen());
        let mut out = screen.attributes_formatted().into_bytes();
        if self.fits() {
            out.extend_from_slice(screen.cursor_state_formatted().as_bytes());
            return out;
        }
        let (row, col) = screen.cursor_position();
        let (area_cols, area_rows) = self.program_size();
        let (top, left) = window_offset(screen, (area_cols, area_rows));
        let (row, col) = (row.wrapping_sub(top), col.wrapping_sub(left));
        if !screen.hide_cursor() && row < area_rows && col < area_cols {
            out.extend_from_slice(format!("\x1b[{};{}H\x1b[?25h", row + 1, col + 1).as_bytes());
        } else {
            out.extend_from_slice(b"\x1b[?25l");
        }
        out
    }

    /// The program's screen as lines for the normal terminal (trailing
    /// empty rows dropped, clipped to the terminal's width), once it has
    /// exited and the bar is gone.
    pub fn final_lines(&self) -> Vec<u8> {
        let screen = self.term.screen();
        let cols = screen.size().1.get().min(self.cols.max(1));
        let plain: Vec<String> = screen.rows(0, cols).collect();
        let keep = plain
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(0, |i| i + 1);
        let mut out = Vec::new();
        for line in screen.rows_formatted(0, cols).take(keep) {
            out.extend_from_slice(restore_drawn(&line).as_bytes());
            out.extend_from_slice(b"\x1b[0m\r\n");
        }
        out
    }

    /// Redraw only the bar (the clock moved, the state changed); nothing
    /// without the bar.
    pub fn render_bar(&self, bar: &BarInfo) -> Vec<u8> {
        if !self.bar {
            return Vec::new();
        }
        let mut out = b"\x1b[?25l".to_vec();
        out.extend(self.bar_bytes(bar));
        out
    }

    fn bar_bytes(&self, bar: &BarInfo) -> Vec<u8> {
        let uptime = format!(
            "up {}",
            crate::cli::common::human_duration(Duration::from_secs(bar.uptime.as_secs()))
        );
        // In the order shown, each with the rank of what a narrow terminal
        // drops first (the highest): the session and how to leave it stay.
        let mut parts: Vec<(&str, u8)> = vec![("hm", 3), (&bar.id, 0)];
        if bar.read_only {
            parts.push(("read-only", 0));
        }
        parts.extend([(bar.state.as_str(), 2), (&uptime, 4), (&bar.detach, 1)]);
        let joined = |parts: &[(&str, u8)]| {
            let names: Vec<&str> = parts.iter().map(|(p, _)| *p).collect();
            format!(" {} ", names.join(" │ "))
        };
        let mut text = joined(&parts);
        while text.chars().count() > usize::from(self.cols) {
            let Some(most) = parts.iter().map(|(_, rank)| *rank).max().filter(|r| *r > 0) else {
                break;
            };
            parts.retain(|(_, rank)| *rank != most);
            text = joined(&parts);
        }
        let width = self.cols as usize;
        let mut line: String = text.chars().take(width).collect();
        let pad = width.saturating_sub(line.chars().count());
        line.extend(std::iter::repeat_n(' ', pad));
        let mut out = format!("\x1b[{};1H\x1b[0;7m{line}\x1b[0m", self.rows).into_bytes();
        out.extend(self.cursor_bytes());
        out
    }
}

/// The first row and column of `screen` that a terminal's program area of
/// `area` (columns, rows) shows, as tmux shows a window larger than its
/// client: from the start while the cursor is in the first area's worth,
/// the end while it is in the last one, else with the cursor in the
/// middle.
fn window_offset(screen: &vt100::Screen, area: (u16, u16)) -> (u16, u16) {
    let (rows, cols) = screen.size();
    let (row, col) = screen.cursor_position();
    let offset = |at: u16, area: u16, size: u16| {
        let last = size.saturating_sub(area);
        if at < area {
            0
        } else if at > last {
            last
        } else {
            at - area / 2
        }
    };
    (
        offset(row, area.1, rows.get()),
        offset(col, area.0, cols.get()),
    )
}

/// The sequence that gives the real terminal the program's window title
/// (OSC 2), without the control characters a title cannot hold.
pub fn set_title(title: &[u8]) -> Vec<u8> {
    let mut out = b"\x1b]2;".to_vec();
    out.extend(title.iter().filter(|b| !b.is_ascii_control()));
    out.push(0x07);
    out
}

/// A human name for a detach key byte: `Ctrl-\`.
pub fn key_name(b: u8) -> String {
    match b {
        0..=0x1f => format!("Ctrl-{}", (b + b'@') as char),
        0x7f => "Ctrl-?".to_string(),
        _ => format!("{:?}", b as char),
    }
}

/// Whether a terminal of `rows` rows shows the bar, if one is wanted: below
/// three rows the program keeps them all.
pub fn shows_bar(wanted: bool, rows: u16) -> bool {
    wanted && rows >= 3
}

/// The program's part of a terminal of `cols` x `rows`: the rows above the
/// bar when there is one, at most the largest terminal the protocol takes
/// (a larger terminal shows the session in its top-left part).
pub fn program_area(cols: u16, rows: u16, bar: bool) -> (u16, u16) {
    use heimdall_protocol::message::{MAX_COLS, MAX_ROWS};
    let rows = rows.saturating_sub(u16::from(bar));
    (cols.clamp(1, MAX_COLS), rows.clamp(1, MAX_ROWS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar() -> BarInfo {
        BarInfo {
            id: "s1".into(),
            state: "idle".into(),
            read_only: false,
            uptime: Duration::from_secs(75),
            detach: "Ctrl-\\ detach".into(),
        }
    }

    /// Render into a terminal emulator of the real size and read it back.
    #[test]
    fn program_scrolling_never_moves_the_bar() {
        let mut v = View::new(30, 6, true);
        let mut term = Terminal::new(6, 30, 0);
        term.process(&v.enter());
        v.feed(b"\x1b[r");
        for i in 0..40 {
            v.feed(format!("line {i}\r\n").as_bytes());
        }
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 30).collect();
        assert_eq!(rows[3].trim_end(), "line 39");
        assert!(
            rows[5].starts_with(" s1 │ idle │ Ctrl-\\ detach"),
            "{rows:?}"
        );
        v.feed(b"\x1b[2J\x1b[Hcleared");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 30).collect();
        assert_eq!(rows[0].trim_end(), "cleared");
        assert!(rows[5].contains("s1"), "the bar survives a clear: {rows:?}");
        assert_eq!(term.screen().cursor_position(), (0, 7));
        assert_eq!(key_name(0x1c), "Ctrl-\\");
    }

    /// A session larger than the terminal: the top-left part, each row cut
    /// at the terminal's width, nothing wrapped; the cursor hidden while it
    /// is outside; updates redraw the rows that changed.
    /// A terminal the program's output left in insert mode with autowrap
    /// off (`hm attach --no-status-bar` passes it as it is, until the view
    /// takes over) shows the view as drawn.
    #[test]
    fn the_view_draws_on_a_terminal_left_inserting_without_autowrap() {
        let mut v = View::new(10, 4, true);
        let mut term = Terminal::new(4, 10, 0);
        term.process(b"\x1b[4h\x1b[?7l");
        term.process(&v.enter());
        v.feed(b"abcdefghijklmn\r\nxyz\x1b[1;1HAB");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 10).collect();
        assert_eq!(rows[..3], ["ABcdefghij", "klmn", "xyz"], "{rows:?}");
    }

    /// On a narrow terminal the bar drops the uptime, then the "hm" and
    /// the state, before the session, read-only and the detach key.
    #[test]
    fn a_narrow_bar_keeps_the_session_and_how_to_leave() {
        let text = |cols, read_only| {
            let v = View::new(cols, 4, true);
            let mut term = Terminal::new(4, cols, 0);
            let info = BarInfo {
                read_only,
                detach: "Ctrl-\\ detach".into(),
                ..bar()
            };
            term.process(&v.bar_bytes(&info));
            let row: String = term.screen().rows(0, cols).nth(3).unwrap_or_default();
            row
        };
        assert_eq!(
            text(80, false).trim_end(),
            " hm │ s1 │ idle │ up 1m15s │ Ctrl-\\ detach"
        );
        assert_eq!(
            text(34, false).trim_end(),
            " hm │ s1 │ idle │ Ctrl-\\ detach"
        );
        assert_eq!(
            text(34, true).trim_end(),
            " s1 │ read-only │ Ctrl-\\ detach"
        );
        assert_eq!(text(12, true), " s1 │ read-o");
    }

    /// A session larger than the terminal: the part the cursor is in, as
    /// tmux shows it (the top-left while the cursor is there), each row cut
    /// at the terminal's width, nothing wrapped; updates redraw the rows
    /// that changed. It showed the top-left wherever the cursor was, so a
    /// shell's prompt on the last row was out of sight.
    /// A terminal larger than the protocol's 1000x500 gives the program
    /// 1000x500 (a RESIZE beyond it was refused, and the session kept its
    /// old size); one of no rows gives it one.
    #[test]
    fn the_program_area_is_a_size_the_protocol_takes() {
        assert_eq!(program_area(1200, 40, true), (1000, 39));
        assert_eq!(program_area(300, 700, true), (300, 500));
        assert_eq!(program_area(80, 0, false), (80, 1));
        assert_eq!(program_area(u16::MAX, u16::MAX, false), (1000, 500));
    }

    /// A terminal wider than the protocol takes: the session has 1000
    /// columns and is drawn row by row, clipped, as one of another size
    /// (a line it wrapped at 1000 columns was drawn for the terminal to
    /// wrap, which at 1200 it does not: the next row's text went on the
    /// same row, and the rows below it sat one row up).
    #[test]
    fn a_session_narrower_than_a_huge_terminal_is_drawn_row_by_row() {
        let mut v = View::new(1200, 40, true);
        let mut term = Terminal::new(40, 1200, 0);
        term.process(&v.enter());
        assert_eq!(v.program_size(), (1000, 39));
        v.reset(b"", (1000, 39));
        v.feed(format!("{}bbb\r\nnext", "a".repeat(1000)).as_bytes());
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 1200).collect();
        assert_eq!(rows[0].trim_end(), "a".repeat(1000));
        assert_eq!(rows[1].trim_end(), "bbb");
        assert_eq!(rows[2].trim_end(), "next");
        assert_eq!(term.screen().cursor_position(), (2, 4));
    }

    #[test]
    fn a_larger_session_is_drawn_clipped_around_the_cursor() {
        let mut v = View::new(20, 6, true);
        let mut term = Terminal::new(6, 20, 0);
        term.process(&v.enter());
        let mut redraw = String::new();
        for i in 0..9 {
            redraw.push_str(&format!("row{i}-{}\r\n", "x".repeat(30)));
        }
        redraw.push_str("$ ");
        v.reset(redraw.as_bytes(), (40, 10));
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 20).collect();
        assert_eq!(rows[0], format!("row5-{}", "x".repeat(15)));
        assert_eq!(rows[3], format!("row8-{}", "x".repeat(15)));
        assert_eq!(rows[4].trim_end(), "$");
        assert!(rows[5].starts_with(" s1 │ Ctrl-\\ detach"), "{rows:?}");
        assert!(!term.screen().hide_cursor());
        assert_eq!(term.screen().cursor_position(), (4, 2));
        v.feed(b"\x1b[3;1Hchanged\x1b[K\x1b[1;3H");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 20).collect();
        assert_eq!(rows[2].trim_end(), "changed");
        assert_eq!(rows[1], format!("row1-{}", "x".repeat(15)));
        assert_eq!(term.screen().cursor_position(), (0, 2));
        // The cursor in the middle of a row far right, then of the screen.
        v.feed(b"\x1b[2;31H");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 20).collect();
        assert_eq!(rows[1].trim_end(), "x".repeat(15));
        assert_eq!(term.screen().cursor_position(), (1, 10));
        v.feed(b"\x1b[6;26H");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 20).collect();
        assert_eq!(rows[0].trim_end(), "x".repeat(15), "row 3 from column 20");
        assert_eq!(term.screen().cursor_position(), (2, 5));
    }

    /// The bar redrawn (a clock tick, a state change) between output and
    /// its render must leave the real terminal's cursor where the last
    /// render left it: the next render is a diff that starts from there.
    #[test]
    fn the_bar_between_output_and_its_render_keeps_the_diff_in_place() {
        let mut v = View::new(30, 8, true);
        let mut term = Terminal::new(8, 30, 0);
        term.process(&v.enter());
        v.feed(b"in$ sleep 100\r\n");
        term.process(&v.render(&bar()));
        v.feed(b"^C\r\nin$ ");
        term.process(&v.render_bar(&bar()));
        v.feed(b"echo x");
        term.process(&v.render(&bar()));
        let rows: Vec<String> = term.screen().rows(0, 30).collect();
        assert_eq!(rows[0].trim_end(), "in$ sleep 100", "{rows:?}");
        assert_eq!(rows[1].trim_end(), "^C", "{rows:?}");
        assert_eq!(rows[2].trim_end(), "in$ echo x", "{rows:?}");
        assert_eq!(term.screen().cursor_position(), (2, 10));
    }
}
