//! The main screen's lines rewrapped at a new width, as tmux 3.3a does on
//! a resize (`vt100` cuts its rows): the rows of the scrollback and the
//! screen joined by their wrap marks into lines, written again at the new
//! width, the screen the last rows they take, the cursor on its character.

use std::num::NonZeroU16;

use crate::pen::Pen;
use crate::vt_gaps::{Emulator, PAD};

use super::Parse;

/// The lines written again at the new width, and where each cell goes.
struct Layout {
    out: Vec<u8>,
    cols: u16,
    /// The row (from the first one written) the next cell goes to.
    row: usize,
    /// The column the next cell goes to: `cols` after a cell in the last
    /// column (the next one wraps).
    col: u16,
    pen: Pen,
    /// The cursor's character comes next.
    cursor_next: bool,
    /// Where the cursor's character went.
    cursor: Option<(usize, u16)>,
}

impl Layout {
    /// A cell `width` columns wide in `pen`; a pad first in the last
    /// column for a wide one that does not fit there (as `vt_gaps` writes
    /// it, so that `vt100` marks the row wrapped).
    fn cell(&mut self, text: &str, width: u16, pen: Pen) {
        if width == 2 && self.cols >= 2 && self.col.saturating_add(1) == self.cols {
            self.put(PAD.encode_utf8(&mut [0; 4]), 1, pen);
        }
        self.put(text, width, pen);
    }

    fn put(&mut self, text: &str, width: u16, pen: Pen) {
        if pen != self.pen {
            self.out.extend_from_slice(pen.sgr().as_bytes());
            self.pen = pen;
        }
        if self.col > 0 && self.col.saturating_add(width) > self.cols {
            self.row += 1;
            self.col = 0;
        }
        if std::mem::take(&mut self.cursor_next) {
            self.cursor = Some((self.row, self.col));
        }
        self.out.extend_from_slice(text.as_bytes());
        self.col = self.col.saturating_add(width);
    }

    /// The end of a line: the cursor where it is if its character did not
    /// come (it is past the line's end).
    fn end_line(&mut self) {
        if std::mem::take(&mut self.cursor_next) {
            self.cursor = Some((self.row, self.col));
        }
    }

    fn new_line(&mut self) {
        self.out.extend_from_slice(b"\r\n");
        self.row += 1;
        self.col = 0;
    }
}

/// Write row `row` shown of `screen` into `layout`: blank cells at its
/// end dropped if it ends a line, but for those before the cursor
/// (`cursor`: its column if it is on this row). Whether the line goes on
/// in the next row (it is wrapped).
fn row(screen: &vt100::Screen, row: u16, cursor: Option<u16>, layout: &mut Layout) -> bool {
    let cols = screen.size().1.get();
    let wrapped = screen.row_wrapped(row);
    let cells: Vec<(u16, &vt100::Cell)> = (0..cols)
        .filter_map(|col| Some((col, screen.cell(row, col)?)))
        .filter(|(_, c)| !c.is_wide_continuation() && !c.contents().starts_with(PAD))
        .collect();
    let blank = |c: &vt100::Cell| !c.has_contents() && Pen::of(c) == Pen::default();
    let mut end = cells.len();
    if !wrapped {
        while end > 0 && blank(cells[end - 1].1) && cursor.is_none_or(|at| cells[end - 1].0 >= at) {
            end -= 1;
        }
    }
    for &(col, cell) in &cells[..end] {
        let width = if cell.is_wide() { 2 } else { 1 };
        if cursor.is_some_and(|at| at < col.saturating_add(width)) && layout.cursor.is_none() {
            layout.cursor_next = true;
        }
        let text = if cell.has_contents() {
            cell.contents()
        } else {
            " "
        };
        layout.cell(text, width, Pen::of(cell));
    }
    if cursor.is_some() && layout.cursor.is_none() {
        layout.cursor_next = true;
    }
    if !wrapped {
        layout.end_line();
    }
    wrapped
}

/// Resize `screen` to `rows`×`cols`, the lines of its main screen (the
/// scrollback's too) rewrapped at the new width, also under the alternate
/// screen, which is cut or padded (tmux rewraps the main screen when the
/// alternate one is left, to the same effect).
pub(super) fn resize(screen: &mut vt100::Screen, rows: NonZeroU16, cols: NonZeroU16) {
    let mut parser = vt100::Parser::new(rows, cols, 0);
    std::mem::swap(parser.screen_mut(), screen);
    let alternate = parser.screen().alternate_screen();
    if alternate {
        parser.process(b"\x1b[?47l");
    }
    let pen = parser.screen().attributes_formatted();
    let layout = rewrapped(parser.screen_mut(), cols.get());
    parser.screen_mut().clear_scrollback();
    parser.screen_mut().set_size(rows, cols);
    parser.process(&layout.out);
    let top = (layout.row + 1).saturating_sub(usize::from(rows.get()));
    let (row, col) = match layout.cursor {
        Some((row, col)) if row >= top => (row - top, col),
        _ => (0, 0),
    };
    let row = u16::try_from(row).unwrap_or(rows.get() - 1);
    let last = cols.get() - 1;
    let mut end = format!(
        "\x1b[{};{}H",
        u32::from(row) + 1,
        u32::from(col.min(last)) + 1
    )
    .into_bytes();
    if col > last {
        // The cursor waits to wrap: the last column drawn again.
        end.extend(Parse(&mut parser).last_char(row).unwrap_or_default());
    }
    end.extend_from_slice(pen.as_bytes());
    if alternate {
        end.extend_from_slice(b"\x1b[?47h");
    }
    parser.process(&end);
    std::mem::swap(parser.screen_mut(), screen);
}

/// The lines of `screen`'s scrollback and screen written again `cols`
/// wide, after a clear of the screen.
fn rewrapped(screen: &mut vt100::Screen, cols: u16) -> Layout {
    let (cursor_row, cursor_col) = screen.cursor_position();
    let shown = screen.size().0.get();
    let mut layout = Layout {
        out: b"\x1b[m\x1b[H\x1b[2J".to_vec(),
        cols,
        row: 0,
        col: 0,
        pen: Pen::default(),
        cursor_next: false,
        cursor: None,
    };
    // The scrollback a screen at a time (each offset a row of it).
    screen.set_scrollback(usize::MAX);
    let scrolled = screen.scrollback();
    let mut line_ended = false;
    let mut at = 0;
    while at < scrolled + usize::from(shown) {
        let offset = scrolled.saturating_sub(at);
        screen.set_scrollback(offset);
        let take = match u16::try_from(offset) {
            Ok(0) => shown,
            Ok(offset) => shown.min(offset),
            Err(_) => shown,
        };
        for r in 0..take {
            if line_ended {
                layout.new_line();
            }
            let cursor = (offset == 0 && r == cursor_row).then_some(cursor_col);
            line_ended = !row(screen, r, cursor, &mut layout);
        }
        at += usize::from(take);
    }
    screen.set_scrollback(0);
    layout
}
