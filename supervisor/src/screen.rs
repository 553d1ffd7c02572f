//! The live screen model: a VT emulator (the `vt100` crate, built on `vte`)
//! fed with the session's output, answering SCREEN, screen WAITs, SUBMIT's
//! checks and the attach client's redraw.
//!
//! The model is a *reader* of the output ring, not part of the output path:
//! it tracks the offset it has parsed up to. Output that follows a pause is
//! parsed as it arrives; a stream of output is parsed at most every 50 ms,
//! and when more than [`SKIP_OVER`] bytes are pending only the newest
//! [`REPLAY_TAIL`] bytes are parsed — enough to rebuild any screen while
//! costing a flood almost nothing. Every request that reads the screen
//! (SCREEN, WAIT on the screen, SUBMIT, a redraw) first catches up. Modes set by skipped bytes
//! (alternate screen, bracketed paste) are kept from before the skip;
//! full-screen programs redraw continually, so their picture is right again
//! after their next frame.

use heimdall_protocol::{Cursor, ScreenFormat, ScreenResp};

/// Pending bytes beyond which a catch-up skips ahead.
pub const SKIP_OVER: usize = 256 * 1024;
/// Bytes parsed after a skip.
pub const REPLAY_TAIL: usize = 32 * 1024;

/// What parsing output produced besides the picture.
#[derive(Debug, Default)]
struct Hooks {
    title: String,
    title_changed: bool,
    bells: u64,
}

impl vt100::Callbacks for Hooks {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        let t = String::from_utf8_lossy(title).into_owned();
        if t != self.title {
            self.title = t;
            self.title_changed = true;
        }
    }
}

/// Changes noticed while parsing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Noticed {
    /// The new title, if it changed.
    pub title: Option<String>,
    /// Bells rung.
    pub bells: u64,
}

/// A terminal screen fed with output.
pub struct ScreenModel {
    parser: vt100::Parser<Hooks>,
    scrollback_lines: usize,
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n.max(1)).unwrap_or(std::num::NonZeroU16::MIN)
}

impl ScreenModel {
    /// An empty screen of `cols`×`rows` keeping `scrollback_lines` lines
    /// scrolled off the top.
    pub fn new(cols: u16, rows: u16, scrollback_lines: usize) -> ScreenModel {
        ScreenModel {
            parser: vt100::Parser::new_with_callbacks(
                nonzero(rows),
                nonzero(cols),
                scrollback_lines,
                Hooks::default(),
            ),
            scrollback_lines,
        }
    }

    /// Parse output.
    pub fn feed(&mut self, bytes: &[u8]) -> Noticed {
        self.parser.process(bytes);
        let hooks = self.parser.callbacks_mut();
        let noticed = Noticed {
            title: hooks.title_changed.then(|| hooks.title.clone()),
            bells: hooks.bells,
        };
        hooks.title_changed = false;
        hooks.bells = 0;
        noticed
    }

    /// Resize the screen.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.parser
            .screen_mut()
            .set_size(nonzero(rows), nonzero(cols));
    }

    fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// The visible lines as text, trailing blanks trimmed.
    pub fn lines(&self) -> Vec<String> {
        let cols = self.screen().size().1.get();
        self.screen()
            .rows(0, cols)
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// The visible text: lines joined by `\n`, trailing empty lines dropped.
    pub fn text(&self) -> String {
        let mut lines = self.lines();
        while lines.last().is_some_and(String::is_empty) {
            lines.pop();
        }
        lines.join("\n")
    }

    /// Whether the program turned bracketed paste on.
    pub fn bracketed_paste(&self) -> bool {
        self.screen().bracketed_paste()
    }

    /// Whether the program turned application cursor keys on.
    pub fn application_cursor(&self) -> bool {
        self.screen().application_cursor()
    }

    /// The window title (OSC 0/2), empty if none was set.
    pub fn title(&self) -> &str {
        &self.parser.callbacks().title
    }

    /// Up to `n` lines scrolled off the top, oldest first.
    fn scrollback(&mut self, n: usize, format: ScreenFormat) -> Vec<String> {
        let (rows, cols) = {
            let (r, c) = self.screen().size();
            (r.get() as usize, c.get())
        };
        let screen = self.parser.screen_mut();
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
                ScreenFormat::Text => screen
                    .rows(0, cols)
                    .take(take)
                    .map(|l| l.trim_end().to_string())
                    .collect(),
                ScreenFormat::Ansi => screen.rows_formatted(0, cols).take(take).collect(),
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
            ScreenFormat::Ansi => s.rows_formatted(0, cols.get()).collect(),
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
            bracketed_paste: s.bracketed_paste(),
            application_cursor: s.application_cursor(),
            scrollback,
            output_offset: 0,
            redraw: None,
        }
    }

    /// Bytes that draw this screen on a terminal from any state: reset,
    /// modes (alternate screen, application cursor keys, bracketed paste…),
    /// the visible grid with its attributes, and the cursor.
    pub fn redraw(&self) -> Vec<u8> {
        let s = self.screen();
        let mut out = Vec::new();
        // Leave the alternate screen and reset attributes first, so the
        // modes below start from a known state.
        out.extend_from_slice(b"\x1b[?1049l\x1b[0m\x1b[H\x1b[2J");
        if s.alternate_screen() {
            out.extend_from_slice(b"\x1b[?1049h");
        }
        out.extend_from_slice(s.input_mode_formatted().as_bytes());
        out.extend_from_slice(s.contents_formatted().as_bytes());
        out.extend_from_slice(s.cursor_state_formatted().as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_title_bell_and_modes() {
        let mut m = ScreenModel::new(20, 4, 100);
        let n = m.feed(b"\x1b]2;my title\x07hello   \r\nworld\x07");
        assert_eq!(n.title.as_deref(), Some("my title"));
        assert_eq!(n.bells, 1);
        assert_eq!(m.lines()[0], "hello");
        assert_eq!(m.text(), "hello\nworld");
        assert!(!m.bracketed_paste());
        m.feed(b"\x1b[?2004h\x1b[?1h");
        assert!(m.bracketed_paste() && m.application_cursor());
        let n = m.feed(b"\x1b]0;my title\x07");
        assert_eq!(n.title, None, "unchanged title is not reported");
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
    }

    #[test]
    fn alternate_screen_and_redraw() {
        let mut m = ScreenModel::new(10, 3, 0);
        m.feed(b"\x1b[?1049h\x1b[2;3Hxy");
        let s = m.snapshot(ScreenFormat::Text, 0);
        assert!(s.alternate_screen);
        assert_eq!(s.lines[1], "  xy");
        let mut copy = ScreenModel::new(10, 3, 0);
        copy.feed(&m.redraw());
        assert_eq!(copy.lines(), m.lines());
        assert!(copy.snapshot(ScreenFormat::Text, 0).alternate_screen);
    }
}
