//! One row of the screen model as a line of text with SGR escapes (the
//! `"ansi"` format of SCREEN): it starts from default attributes, sets the
//! attributes each cell needs as they change (a reset, `ESC[m`, where they
//! go back to default, or `ESC[0;…m` before another set), and ends with a
//! reset if any are still set, so each line prints correctly on a terminal
//! alone or after any other. Gaps are spaces, never cursor moves; trailing
//! blanks with default attributes are trimmed.
//!
//! The attributes are those the `vt100` crate keeps: bold, dim, italic,
//! underline, inverse, and the foreground and background colours (16, 256
//! or RGB); a double or styled underline (`SGR 21`, `4:3`) is an
//! underline there. Others a program sets (strikethrough `SGR 9`, overline
//! `SGR 53`, blink, the underline's colour) are not kept by the model, so
//! they never appear here. Text drawn hidden (`SGR 8`) is in the
//! model as blanks (`heimdall_term`), so it is here.

use heimdall_term::{restore, Pen};

/// Row `row` of the visible screen (which shows scrollback when the
/// screen's scrollback offset is set) as a line with SGR escapes.
pub fn ansi_line(screen: &vt100::Screen, row: u16) -> String {
    let cols = screen.size().1.get();
    let cells: Vec<&vt100::Cell> = (0..cols).filter_map(|c| screen.cell(row, c)).collect();
    let blank =
        |c: &&vt100::Cell| restore(c.contents()).trim().is_empty() && Pen::of(c) == Pen::default();
    let end = cells.iter().rposition(|c| !blank(c)).map_or(0, |i| i + 1);
    let mut out = String::new();
    let mut pen = Pen::default();
    for cell in &cells[..end] {
        if cell.is_wide_continuation() {
            continue;
        }
        let want = Pen::of(cell);
        if want != pen {
            let mut params = Vec::new();
            if pen != Pen::default() || want == Pen::default() {
                params.push("0".to_string());
            }
            want.params(&mut params);
            out.push_str(&format!("\x1b[{}m", params.join(";")));
            pen = want;
        }
        match cell.contents() {
            "" => out.push(' '),
            s => out.push_str(s),
        }
    }
    if pen != Pen::default() {
        out.push_str("\x1b[0m");
    }
    restore(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(cols: u16, rows: u16, bytes: &[u8]) -> Vec<String> {
        let nz = |n| std::num::NonZeroU16::new(n).unwrap();
        let mut p = vt100::Parser::new(nz(rows), nz(cols), 0);
        p.process(bytes);
        (0..rows).map(|r| ansi_line(p.screen(), r)).collect()
    }

    #[test]
    fn each_line_ends_with_default_attributes() {
        let got = lines(
            10,
            4,
            b"\x1b[44mBLUE\x1b[K\x1b[0m\r\nplain\r\n\x1b[1;31mRED\x1b[0m\r\nnormal",
        );
        assert_eq!(
            got,
            [
                "\x1b[44mBLUE      \x1b[0m",
                "plain",
                "\x1b[1;31mRED\x1b[0m",
                "normal"
            ]
        );
    }

    #[test]
    fn changes_back_to_default_and_between_pens_reset_first() {
        let got = lines(
            40,
            1,
            b"\x1b[1mA\x1b[22mb\x1b[3;38;5;200;48;2;1;2;3mC\x1b[23;39;49;7;92md   \x1b[0me",
        );
        assert_eq!(
            got,
            ["\x1b[1mA\x1b[0mb\x1b[3;38;5;200;48;2;1;2;3mC\x1b[0;7;92md   \x1b[0me"]
        );
    }

    #[test]
    fn gaps_are_spaces_and_wide_characters_take_two_columns() {
        let got = lines(12, 2, b"a\x1b[5Cb\r\n\xe4\xbd\xa0\x1b[4mx\x1b[0m");
        assert_eq!(got, ["a     b", "\u{4f60}\x1b[4mx\x1b[0m"]);
    }

    #[test]
    fn a_wrapped_line_is_a_plain_line() {
        let got = lines(4, 2, b"abcd   e");
        assert_eq!(got, ["abcd", "   e"]);
    }
}
