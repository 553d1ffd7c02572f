//! Program output as the text a terminal shows of it: what `session_read`
//! gives the model. The bytes are played on a terminal emulator (the
//! `vt100` crate with what it gets wrong put right: `heimdall_term`, which
//! the supervisor's screen model uses too) of the session's size, so
//! carriage returns, cursor moves, erases,
//! tabs, wide characters and ncurses' boxes act as on the terminal: a line
//! bash redraws over itself, a progress bar redrawn after `\r` or lines
//! redrawn after a cursor-up show once, in their last state. Lines that scroll off the top are kept, in
//! order; a line the terminal wrapped is given whole; colours are dropped.
//! What the program erased (a clear of the screen) is gone, as on the
//! terminal. When the output ends on a full-screen program's alternate
//! screen, that screen follows the lines of the normal one. Output played
//! after other output goes on from where that left the terminal
//! ([`Carry`]).

use std::num::NonZeroU16;

use heimdall_term::{TermState, Terminal};
use vt100::capture::{
    basic_formatted_to_plain, BasicFormattedCaptureRange, BasicFormattedCaptureState, RowContents,
};

/// The size output is played at when the session's is not known: hm's
/// default terminal size (columns, rows).
pub const DEFAULT_SIZE: (u16, u16) = (80, 24);

/// What a read's description says of its text: that its first line is
/// the one the last read ended on (`carried`: [`Carry::has_line`] before
/// it), and what the lines [`render_runs`] puts in it for gaps mean
/// (`gaps`: it has some).
pub fn text_notes(carried: bool, gaps: bool) -> String {
    let mut notes = String::new();
    if carried {
        notes.push_str(
            "; its first line goes on from the line the last read ended on (shown again)",
        );
    }
    if gaps {
        notes.push_str(
            "; a line [… bytes A..B … …] in the text stands where bytes are missing: the \
             text before it and the text after it do not go on from each other",
        );
    }
    notes
}

/// Output with gaps in it (bytes missed) as a terminal shows it: each run
/// of bytes between two gaps played on a terminal of its own
/// ([`render`]), the first from `carry`, those after a gap afresh (the
/// terminal's state there is not known, nor where its cursor was).
/// A run a gap follows ends there: a character it ends inside shows as
/// U+FFFD, a sequence it ends inside is cancelled. The runs' texts are
/// joined by a line `[… {gap} …]` for each gap (`gaps[i]` follows
/// `runs[i]`), so that text before a gap is never read as going on
/// after it. Empty when no run shows any text. `carry` is left where the
/// output leaves the terminal.
pub fn render_runs<R: AsRef<[u8]>>(
    runs: &[R],
    gaps: &[String],
    carry: &mut Carry,
    cols: u16,
    rows: u16,
) -> String {
    let mut out = String::new();
    let mut shown = false;
    for (i, run) in runs.iter().enumerate() {
        let gap = gaps.get(i);
        let text = play(run.as_ref(), carry, cols, rows, gap.is_some());
        if !text.is_empty() {
            shown = true;
            // The line of the gap before it.
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&text);
        }
        if let Some(gap) = gap {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("[… {gap} …]"));
        }
    }
    if !shown {
        out.clear();
    }
    out
}

/// Output as a terminal of `cols`×`rows` shows it, with the lines that
/// scrolled off the top first: lines joined by `\n`, trailing blanks
/// dropped. The text runs down to the cursor's line (output that ended
/// with a line break ends with `\n`) or to the last line with text below it.
///
/// The output goes on from `carry` (where the output before it left the
/// terminal), which is left where it leaves the terminal.
pub fn render(bytes: &[u8], carry: &mut Carry, cols: u16, rows: u16) -> String {
    play(bytes, carry, cols, rows, false)
}

/// Where the output played so far has left the terminal, for the output
/// after it to be played as the terminal shows it: the terminal's state
/// (the character sets, modes and tab stops chosen, a sequence or
/// character cut off) and the line the cursor is on, with the cursor on
/// it. The next output starts on that line, as on the terminal: a
/// command's echo after the prompt it follows, a line redrawn after `\r`
/// or cursor moves (bash's pasted line) over the same line, not over a
/// blank one; it then shows that line again, as it is after it.
#[derive(Debug, Clone, Default)]
pub struct Carry {
    state: TermState,
    /// The cursor's line, trailing blanks dropped.
    line: String,
    /// The cursor's column: the width of the screen with a wrap pending.
    col: u16,
}

impl Carry {
    /// Whether output played from here shows text of the output before it
    /// first: the line the cursor is on.
    pub fn has_line(&self) -> bool {
        !self.line.is_empty()
    }
}

/// [`render`]; when `cut`, the output is cut after `bytes` (a gap
/// follows): a character it ends inside shows as U+FFFD, a sequence it
/// ends inside is cancelled, and `carry` is left at its default.
fn play(bytes: &[u8], carry: &mut Carry, cols: u16, rows: u16, cut: bool) -> String {
    let mut parser = Terminal::with_callbacks(rows, cols, 0, ScrolledOff::default());
    let Carry { state, line, col } = std::mem::take(carry);
    if !line.is_empty() || col > 0 {
        // Drawn on a terminal in its default state: it is drawn already.
        parser.process(line.as_bytes());
        let drawn = parser.screen().cursor_position().1;
        if col >= parser.screen().size().1.get() {
            // A wrap pending, after the last column.
            let blanks = usize::from(col.saturating_sub(drawn));
            parser.process(" ".repeat(blanks).as_bytes());
        } else {
            parser.process(format!("\x1b[{}G", col + 1).as_bytes());
        }
    }
    parser.set_state(state);
    parser.process(bytes);
    if cut {
        // CAN: a sequence is cancelled, a character cut off is invalid.
        parser.process(b"\x18");
    } else if !parser.screen().alternate_screen() {
        // A full-screen program draws where it chooses: only the normal
        // screen's line is carried.
        let screen = parser.screen();
        let (row, col) = screen.cursor_position();
        let line = screen.rows(0, screen.size().1.get()).nth(row.into());
        *carry = Carry {
            state: parser.state(),
            line: line.unwrap_or_default(),
            col,
        };
    } else {
        carry.state = parser.state();
    }
    let (rows, cols) = parser.screen().size();
    let mut full_screen = String::new();
    if parser.screen().alternate_screen() {
        full_screen = plain(&parser.screen().contents_formatted_basic());
        full_screen.truncate(full_screen.trim_end_matches('\n').len());
        // Back to the normal screen and its cursor, as when the program ends.
        parser.process(b"\x1b[?1049l");
    }
    // The blank rows below the cursor and the text are no part of the output.
    let screen = parser.screen();
    let last_text = screen
        .rows(0, cols.get())
        .enumerate()
        .filter(|(_, row)| !row.trim_end().is_empty())
        .map(|(i, _)| i)
        .last()
        .unwrap_or(0);
    let used = last_text.max(usize::from(screen.cursor_position().0)) + 1;
    let used = u16::try_from(used).map_or(rows, nonzero);
    parser.screen_mut().set_size(used, cols);
    let ScrolledOff {
        mut text,
        mut state,
    } = std::mem::take(parser.callbacks_mut());
    // Writing to a String cannot fail.
    let _ = parser
        .screen()
        .write_contents_formatted_basic(&mut text, BasicFormattedCaptureRange::Full(&mut state));
    let mut out = plain(&text);
    if !full_screen.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&full_screen);
    }
    out
}

/// The longest escape sequence or string [`unfinished_sequence`] finds.
const MAX_HELD_SEQUENCE: usize = 4096;

/// How many bytes at the end of `bytes` are an escape sequence or a string
/// not finished yet (at most [`MAX_HELD_SEQUENCE`]). Output that ends
/// there shows them whole with what comes next; played apart, the next
/// part's terminal would act on their rest alone. A longer one (an inline
/// image) is not held: the state [`render`] leaves is inside it, and the
/// next part's terminal, given it, skips its rest.
///
/// The terminal's [`Terminal::pending`] from the last ESC, where what is
/// held begins: a character cut off is not held ([`Carry`] carries it),
/// and of a string that an ESC follows (its ST's start, perhaps) only the
/// bytes from the ESC are: the string before it is played, its state
/// carried (`Terminal::pending` counts the string too).
pub fn unfinished_sequence(bytes: &[u8]) -> usize {
    // Each ESC begins a sequence (or a string's end, which acts the
    // same): the last one begins what is not finished, if anything is.
    let from = bytes.len().saturating_sub(MAX_HELD_SEQUENCE);
    let Some(start) = bytes[from..].iter().rposition(|&b| b == 0x1b) else {
        return 0;
    };
    let mut probe = Terminal::new(1, 1, 0);
    probe.process(&bytes[from + start..]);
    if probe.in_sequence() {
        probe.pending()
    } else {
        0
    }
}

/// How many bytes at the end of `bytes` begin a UTF-8 character whose rest
/// is not there (0 when the last character is whole).
pub fn unfinished_character(bytes: &[u8]) -> usize {
    let tail = &bytes[bytes.len().saturating_sub(3)..];
    let Some(lead) = tail.iter().rposition(|b| b & 0xc0 != 0x80) else {
        return 0;
    };
    let wants = match tail[lead] {
        b if b >= 0xf0 => 4,
        b if b >= 0xe0 => 3,
        b if b >= 0xc0 => 2,
        _ => 1,
    };
    let have = tail.len() - lead;
    if have < wants {
        have
    } else {
        0
    }
}

fn nonzero(n: u16) -> NonZeroU16 {
    NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN)
}

/// vt100's "basic formatted" capture without its colours and with each
/// line's trailing blanks dropped, U+FFFD as it shows (`heimdall_term::restore`).
fn plain(formatted: &str) -> String {
    let text: String = basic_formatted_to_plain(formatted).collect();
    let text = heimdall_term::restore(&text);
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    lines.join("\n")
}

/// The rows that scrolled off the top of the normal screen, in vt100's
/// "basic formatted" capture (wrapped rows joined, colours as SGR).
#[derive(Default)]
struct ScrolledOff {
    text: String,
    state: BasicFormattedCaptureState,
}

impl vt100::Callbacks for ScrolledOff {
    fn on_scroll(&mut self, row: RowContents<'_>, alternate_screen: bool) {
        // A full-screen program's scrolling is its own drawing; a terminal
        // keeps no scrollback of the alternate screen either.
        if !alternate_screen {
            // Writing to a String cannot fail.
            let _ = row.write_formatted_basic(&mut self.text, &mut self.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{render, render_runs, unfinished_character, unfinished_sequence, Carry};

    fn text(bytes: &[u8]) -> String {
        render(bytes, &mut Carry::default(), 20, 4)
    }

    /// `runs` with a gap named `gap N` after each but the last.
    fn gapped(runs: &[&[u8]], carry: &mut Carry) -> String {
        let gaps: Vec<String> = (1..runs.len()).map(|n| format!("gap {n}")).collect();
        render_runs(runs, &gaps, carry, 20, 4)
    }

    #[test]
    fn redraws_show_once_in_their_last_state() {
        // bash after a paste: the line again over the prompt.
        let bytes = b"$ echo hi\r\x1b[C\x1b[Cecho hi\r\nhi\r\n$ ";
        assert_eq!(text(bytes), "$ echo hi\nhi\n$");
        assert_eq!(text(b"abc\rxy\x1b[Cz\r\n"), "xycz\n");
        // A progress bar after carriage returns, two lines after cursor-up.
        assert_eq!(text(b"10%\r50%\r100%\r\n"), "100%\n");
        assert_eq!(
            text(b"a 0%\r\nb 0%\r\n\x1b[2Aa ok\r\nb ok\r\n"),
            "a ok\nb ok\n"
        );
    }

    /// ncurses' boxes (DEC special graphics) read as boxes, not letters;
    /// a scroll region puts the cursor home, as on a terminal.
    #[test]
    fn boxes_and_scroll_regions_as_a_terminal_shows_them() {
        assert_eq!(text(b"\x1b(0lqqk\x1b(B lqk\r\n"), "┌──┐ lqk\n");
        assert_eq!(text(b"\x1b[2;3rtop\r\n"), "top\n");
    }

    /// U+FFFD and invalid UTF-8 read as U+FFFD in their columns (they
    /// were dropped), in lines scrolled off and on the alternate screen
    /// too; text written in insert mode pushes the line right.
    #[test]
    fn replacement_characters_and_insert_mode_as_a_terminal_shows_them() {
        assert_eq!(
            text(b"a\xef\xbf\xbdb ok \xff\xfe|\r\n"),
            "a\u{fffd}b ok \u{fffd}\u{fffd}|\n"
        );
        assert_eq!(
            text(b"\xff1\r\n2\r\n3\r\n4\r\n5\r\n"),
            "\u{fffd}1\n2\n3\n4\n5\n",
            "scrolled off"
        );
        assert_eq!(
            text(b"main\r\n\x1b[?1049h\x1b[Hfull \xff"),
            "main\nfull \u{fffd}"
        );
        assert_eq!(text(b"abc\r\x1b[4hXY\x1b[4l\r\n"), "XYabc\n");
        assert_eq!(text("ab\r\x1b[4h日\x1b[4lc\r\n".as_bytes()), "日cb\n");
    }

    /// A line a character inserted at the right margin wrapped, or a wide
    /// character from the last column, is given whole, as tmux's
    /// `capture-pane -J` joins it (the row was not marked as wrapped: two
    /// lines), also once it scrolled off; U+FE0F is read.
    #[test]
    fn a_line_wrapped_at_the_margin_is_whole() {
        let wrapped = b"\x1b[2;1Hrest\x1b[1;1H01234567890123456789\x1b[4hX\x1b[4l\x1b[4;1H";
        assert_eq!(text(wrapped), "01234567890123456789Xrest\n\n");
        let scrolled = [&wrapped[..], b"\r\n\r\n\r\nend"].concat();
        assert_eq!(text(&scrolled), "01234567890123456789Xrest\n\n\n\n\nend");
        assert_eq!(
            text("a\u{2764}\u{fe0f}b\r\n".as_bytes()),
            "a\u{2764}\u{fe0f}b\n"
        );
        // A wide character wrapped from the last column, where nothing was.
        assert_eq!(
            text("0123456789012345678日x\r\n".as_bytes()),
            "0123456789012345678日x\n"
        );
    }

    /// The character sets chosen, insert mode and a character cut off at
    /// the end carry from one call to the next through `carry`; after a
    /// gap they start afresh, and a sequence the gap cut off is cancelled,
    /// not finished by the bytes after the gap.
    #[test]
    fn the_terminal_state_carries_over_and_is_reset_at_a_gap() {
        let mut carry = Carry::default();
        assert_eq!(render(b"\x1b[4habc\xe2\x94", &mut carry, 20, 4), "abc");
        assert_eq!(
            render(b"\x80\rXY\x1b[4l\r\n", &mut carry, 20, 4),
            "XYabc─\n"
        );
        assert_eq!(render(b"top\r\n\x1b(0", &mut carry, 20, 4), "top\n");
        assert_eq!(render(b"lqqk\r\n", &mut carry, 20, 4), "┌──┐\n");
        assert_eq!(
            gapped(&[b"lqqk", b"lqqk\r\n"], &mut carry),
            "┌──┐\n[… gap 1 …]\nlqqk\n"
        );
        // The rest of a string the last call ended inside shows nothing.
        assert_eq!(render(b"top\r\n\x1b]52;c;AA", &mut carry, 20, 4), "top\n");
        assert_eq!(render(b"BB\x07 done", &mut carry, 20, 4), " done");
        let runs: [&[u8]; 2] = [b"ab\x1b[3", b"1mcd"];
        assert_eq!(
            gapped(&runs, &mut Carry::default()),
            "ab\n[… gap 1 …]\n1mcd"
        );
        // Autowrap and the tab stops carry over too.
        let mut carry = Carry::default();
        render(b"\x1b[3g\x1b[4G\x1bH\x1b[?7l\r", &mut carry, 20, 4);
        assert_eq!(
            render(b"\tx\r\nabcdefghijklmnopqrstuvwxyz", &mut carry, 20, 4),
            "   x\nabcdefghijklmnopqrsz"
        );
    }

    /// Output goes on from the line the last call left the cursor on, at
    /// the cursor, and shows that line again as it is after it: bash's
    /// pasted command, shown and then redrawn after the prompt, read
    /// `echo hiecho hi` when the redraw's moves counted from a blank line
    /// (reads of a shell showed every command so). A line the last call
    /// filled goes on on the next row.
    #[test]
    fn output_goes_on_from_the_line_the_last_call_ended_on() {
        let mut carry = Carry::default();
        assert_eq!(render(b"$ ", &mut carry, 20, 4), "$");
        let pasted = b"\x1b[7mecho hi\x1b[27m\r\x1b[C\x1b[Cecho hi\r\nhi\r\n$ ";
        assert_eq!(render(pasted, &mut carry, 20, 4), "$ echo hi\nhi\n$");
        assert_eq!(render(b"10%", &mut carry, 20, 4), "$ 10%");
        assert_eq!(render(b"\x1b[3D50%\r\n", &mut carry, 20, 4), "$ 50%\n");
        assert_eq!(render(&[b'x'; 20], &mut carry, 20, 4), "x".repeat(20));
        let wrapped = format!("{}y\n", "x".repeat(20));
        assert_eq!(render(b"y\r\n", &mut carry, 20, 4), wrapped);
        // A full-screen program draws where it chooses: nothing is carried.
        render(b"\x1b[?1049h\x1b[2;3Hvim", &mut carry, 20, 4);
        assert_eq!(render(b"\x1b[?1049labc", &mut carry, 20, 4), "abc");
    }

    /// A character a gap cuts shows as U+FFFD, as a terminal shows a
    /// character whose end never came (it was dropped), whether it began
    /// in this call or the last; the rest of one whose start the gap cut
    /// shows as U+FFFD too.
    #[test]
    fn a_character_cut_by_a_gap_shows_as_a_replacement_character() {
        let runs: [&[u8]; 2] = [b"abc\xe2\x94", b"\x80def\r\n"];
        assert_eq!(
            gapped(&runs, &mut Carry::default()),
            "abc\u{fffd}\n[… gap 1 …]\n\u{fffd}def\n"
        );
        let mut terminal = Carry::default();
        assert_eq!(render(b"top\r\n\xe2\x94", &mut terminal, 20, 4), "top\n");
        assert_eq!(
            gapped(&[b"", b"def\r\n"], &mut terminal),
            "\u{fffd}\n[… gap 1 …]\ndef\n"
        );
    }

    /// The text on either side of a gap is shown apart, the gap's line
    /// between: a line the gap cut is not joined with the one after it,
    /// and what comes after a gap is drawn on a screen of its own, not
    /// over what came before it. A run that shows nothing still has its
    /// gap's line; output that shows nothing at all is empty.
    #[test]
    fn the_text_on_either_side_of_a_gap_is_shown_apart() {
        let runs: [&[u8]; 2] = [b"0000000012\r\n00000000", b"13\r\n0000000014\r\n"];
        assert_eq!(
            gapped(&runs, &mut Carry::default()),
            "0000000012\n00000000\n[… gap 1 …]\n13\n0000000014\n"
        );
        let runs: [&[u8]; 2] = [b"one\r\ntwo\r\n", b"\x1b[2Atop\r\n"];
        assert_eq!(
            gapped(&runs, &mut Carry::default()),
            "one\ntwo\n[… gap 1 …]\ntop\n"
        );
        let runs: [&[u8]; 3] = [b"", b"a\r\n", b""];
        assert_eq!(
            gapped(&runs, &mut Carry::default()),
            "[… gap 1 …]\na\n[… gap 2 …]"
        );
        let runs: [&[u8]; 2] = [b"", b"\x1b[31m"];
        assert_eq!(gapped(&runs, &mut Carry::default()), "");
    }

    /// The escape sequence or string output ends in, its end to come;
    /// less than `Terminal::pending`: of a string an ESC follows only from
    /// the ESC, and no character cut off (carried).
    #[test]
    fn an_unfinished_sequence_at_the_end_is_found_whole() {
        assert_eq!(unfinished_sequence(b"red\x1b[31mtext"), 0);
        assert_eq!(unfinished_sequence(b"red\x1b[3"), 3);
        assert_eq!(unfinished_sequence(b"a\x1b]0;title"), 9);
        assert_eq!(unfinished_sequence(b"a\x1b]0;title\x07"), 0);
        assert_eq!(unfinished_sequence(b"a\x1b]0;title\x1b"), 1, "ST's start");
        assert_eq!(unfinished_sequence(b"a\x1b]0;title\x1b\r"), 2, "ST's start");
        assert_eq!(
            unfinished_sequence(b"a\xe2\x94"),
            0,
            "a character is carried"
        );
        assert_eq!(unfinished_sequence(b"a\x1b[3\x18"), 0, "cancelled");
        let long = [&b"\x1b]0;"[..], &[b't'; 5000]].concat();
        assert_eq!(unfinished_sequence(&long), 0, "longer than is held");
    }

    /// With autowrap off text past the last column stays in it (it
    /// wrapped); tabs go to the stops set, CHT and CBT by stops (they
    /// were ignored).
    #[test]
    fn autowrap_off_and_tab_stops_as_a_terminal_shows_them() {
        assert_eq!(
            text(b"\x1b[?7labcdefghijklmnopqrstuvwxyz\r\n"),
            "abcdefghijklmnopqrsz\n"
        );
        assert_eq!(text(b"a\x1b[2Ib\x1b[Zc\r\n"), "a               c\n");
        assert_eq!(text(b"\x1b[3g\x1b[4G\x1bH\r\tx\r\n"), "   x\n");
    }

    #[test]
    fn erases_deletes_and_inserts_apply_within_the_line() {
        assert_eq!(text(b"hello\x08\x08\x1b[K!\r\n"), "hel!\n");
        assert_eq!(text(b"abcdef\r\x1b[2P\r\n"), "cdef\n");
        assert_eq!(text(b"abc\r\x1b[2@xy\r\n"), "xyabc\n");
        assert_eq!(text(b"abcdef\x1b[3G\x1b[2X\r\n"), "ab  ef\n");
        assert_eq!(text(b"old\x1b[2K\rnew"), "new");
        assert_eq!(text(b"a\tb\x1b[31mred\x1b[0m\r\n"), "a       bred\n");
    }

    #[test]
    fn scrolled_off_lines_are_kept_and_wrapped_lines_joined() {
        let mut bytes = Vec::new();
        for i in 0..10 {
            bytes.extend_from_slice(format!("line {i}\r\n").as_bytes());
        }
        let want: Vec<String> = (0..10).map(|i| format!("line {i}\n")).collect();
        assert_eq!(text(&bytes), want.concat());
        let long = "x".repeat(50);
        assert_eq!(
            text(format!("{long}\r\n$ ").as_bytes()),
            format!("{long}\n$")
        );
    }

    #[test]
    fn wide_characters_take_two_columns() {
        // The cursor moves over 日 (two columns) and overwrites 本.
        assert_eq!(text("日本語\r\x1b[2Cx\r\n".as_bytes()), "日x 語\n");
    }

    #[test]
    fn full_screen_programs_show_where_they_drew() {
        assert_eq!(text(b"\x1b[2J\x1b[3;1Hhello\x1b[1;1H"), "\n\nhello");
        // An alternate screen still shown follows the normal screen's lines.
        let bytes = b"$ top\r\n\x1b[?1049h\x1b[H\x1b[2Jtop - up 3 days\x1b[4;1Hstatus";
        assert_eq!(text(bytes), "$ top\ntop - up 3 days\n\n\nstatus");
        // Once left, the normal screen is back as it was.
        let bytes = b"$ top\r\n\x1b[?1049h\x1b[2Jtop\r\nscrolled\x1b[?1049l$ ";
        assert_eq!(text(bytes), "$ top\n$");
    }

    #[test]
    fn a_character_cut_at_the_end_is_counted() {
        let text = "ab€".as_bytes();
        assert_eq!(unfinished_character(text), 0);
        assert_eq!(unfinished_character(&text[..3]), 1);
        assert_eq!(unfinished_character(&text[..4]), 2);
        assert_eq!(unfinished_character(b"abc"), 0);
        assert_eq!(unfinished_character(b""), 0);
        assert_eq!(unfinished_character(&"🦀".as_bytes()[..3]), 3);
    }
}
