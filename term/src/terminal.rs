//! [`Terminal`]: a `vt100` parser fed through [`VtGaps`].

use std::num::NonZeroU16;

use crate::pen::Pen;
use crate::vt_gaps::{Emulator, VtGaps};

/// A terminal screen that shows a program's output as a terminal (xterm,
/// tmux) shows it: `vt100`'s emulator, with what it gets wrong put right
/// on the way in (see the crate's documentation). Ordinary output is
/// parsed in one piece; output in a mode `vt100` does not know is parsed
/// in pieces, where the emulator's cursor decides what it becomes.
pub struct Terminal<CB: vt100::Callbacks = ()> {
    parser: vt100::Parser<CB>,
    gaps: VtGaps,
}

/// What a terminal's next output depends on besides its screen: the
/// character sets chosen, insert mode and autowrap, the tab stops, and an
/// escape sequence, string or character the output so far ends inside. A
/// fresh screen given it ([`Terminal::set_state`]) plays the next output as
/// the terminal [`Terminal::state`] came from would: the rest of a string
/// shows nothing (hm-agent's `session_read` plays each read on a fresh
/// screen, from where the last read left).
#[derive(Debug, Clone, Default)]
pub struct TermState(VtGaps);

/// The emulator a translation is written to.
struct Parse<'a, CB: vt100::Callbacks>(&'a mut vt100::Parser<CB>);

impl<CB: vt100::Callbacks> Emulator for Parse<'_, CB> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.process(bytes);
    }

    fn cursor_col(&self) -> u16 {
        self.0.screen().cursor_position().1
    }

    fn cols(&self) -> u16 {
        self.0.screen().size().1.get()
    }

    fn cursor_row(&self) -> u16 {
        self.0.screen().cursor_position().0
    }

    fn rows(&self) -> u16 {
        self.0.screen().size().0.get()
    }

    fn row_blank(&self, row: u16) -> bool {
        let s = self.0.screen();
        (0..s.size().1.get()).all(|col| s.cell(row, col).is_none_or(|c| !c.has_contents()))
    }

    fn last_char(&self, row: u16) -> Option<Vec<u8>> {
        let s = self.0.screen();
        let mut col = s.size().1.get() - 1;
        let mut cell = s.cell(row, col)?;
        if cell.is_wide_continuation() && col > 0 {
            col -= 1;
            cell = s.cell(row, col)?;
        }
        if !cell.has_contents() {
            return None;
        }
        let mut out = format!("\x1b[{}G", u32::from(col) + 1);
        out.push_str(&Pen::of(cell).sgr());
        out.push_str(cell.contents());
        out.push_str(&s.attributes_formatted());
        Some(out.into_bytes())
    }

    fn attributes(&self) -> Vec<u8> {
        self.0.screen().attributes_formatted().into_bytes()
    }

    fn alternate(&self) -> bool {
        self.0.screen().alternate_screen()
    }
}

fn nonzero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

impl Terminal {
    /// An empty screen of `rows`×`cols` (at least 1×1) keeping
    /// `scrollback` lines scrolled off the top.
    pub fn new(rows: u16, cols: u16, scrollback: usize) -> Terminal {
        Terminal::with_callbacks(rows, cols, scrollback, ())
    }
}

impl<CB: vt100::Callbacks> Terminal<CB> {
    /// [`Terminal::new`], telling `callbacks` what the output does besides
    /// drawing (bells, titles, lines scrolled off).
    pub fn with_callbacks(rows: u16, cols: u16, scrollback: usize, callbacks: CB) -> Self {
        Terminal {
            parser: vt100::Parser::new_with_callbacks(
                nonzero(rows),
                nonzero(cols),
                scrollback,
                callbacks,
            ),
            gaps: VtGaps::default(),
        }
    }

    /// Play output. A character cut off at the end waits for the rest.
    pub fn process(&mut self, bytes: &[u8]) {
        self.gaps.feed(bytes, &mut Parse(&mut self.parser));
    }

    /// Forget a sequence or character cut off (the output before it was
    /// skipped): what follows is parsed from a known state, on the same
    /// screen with the same modes, tab stops and callbacks.
    pub fn restart(&mut self)
    where
        CB: Default,
    {
        let (rows, cols) = self.parser.screen().size();
        let mut fresh = vt100::Parser::new_with_callbacks(
            rows,
            cols,
            0,
            std::mem::take(self.parser.callbacks_mut()),
        );
        std::mem::swap(fresh.screen_mut(), self.parser.screen_mut());
        self.parser = fresh;
        self.gaps.restart();
    }

    /// Where the output so far leaves the terminal besides its screen.
    pub fn state(&self) -> TermState {
        TermState(self.gaps.clone())
    }

    /// Go on from `state` (another terminal's, or the default one after
    /// output was missed). The rest of a sequence or string `state` is
    /// inside, which this terminal did not see begin, is skipped.
    pub fn set_state(&mut self, state: TermState) {
        self.gaps = state.0;
        self.gaps.resume();
    }

    /// Whether the output so far ends inside an escape sequence or a
    /// string (a title), its end still to come.
    pub fn in_sequence(&self) -> bool {
        self.gaps.in_sequence()
    }

    /// How many of the last bytes played are the start of an escape
    /// sequence, a string (a title) or a UTF-8 character whose end has not
    /// come: the screen shows nothing of them yet, as a terminal shows
    /// nothing (but for a control carried out inside a sequence). 0 after
    /// [`Terminal::restart`].
    pub fn pending(&self) -> usize {
        self.gaps.pending()
    }

    /// The sequences that give a terminal the modes `vt100`'s screen does
    /// not keep (character sets, insert mode, autowrap, hidden, tab stops),
    /// for after what it draws: the cursor is moved, placed afterwards.
    pub fn modes(&self) -> Vec<u8> {
        self.gaps.modes(self.parser.screen().size().1.get())
    }

    /// The sequences that give a terminal what this one saves with the
    /// cursor and `vt100`'s screen does not keep (character sets, hidden),
    /// for before it saves the cursor (DECSC) as the screen has it saved.
    pub fn saved_modes(&self) -> Vec<u8> {
        self.gaps.saved_modes()
    }

    /// Resize the screen (at least 1×1). A new width rewraps the lines of
    /// the main screen and its scrollback by their wrap marks, the cursor
    /// staying on its character, as tmux does; the alternate screen is cut
    /// or padded.
    pub fn set_size(&mut self, rows: u16, cols: u16) {
        let (rows, cols) = (nonzero(rows), nonzero(cols));
        let screen = self.parser.screen_mut();
        // The height first, as tmux does (rows below the cursor go first).
        let before = screen.size().1;
        screen.set_size(rows, before);
        if cols != before {
            reflow::resize(screen, rows, cols);
        }
    }

    /// The screen. Text read from it goes through [`crate::restore`].
    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// The screen, to change what is shown of it (the scrollback).
    pub fn screen_mut(&mut self) -> &mut vt100::Screen {
        self.parser.screen_mut()
    }

    /// The callbacks.
    pub fn callbacks(&self) -> &CB {
        self.parser.callbacks()
    }

    /// The callbacks, to take what they gathered.
    pub fn callbacks_mut(&mut self) -> &mut CB {
        self.parser.callbacks_mut()
    }
}

mod reflow;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod reflow_tests;
