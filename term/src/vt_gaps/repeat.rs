//! REP (`CSI n b`, repeat the last character drawn `n` times) where
//! `vt100` does not carry it out as xterm does: in insert mode and with
//! autowrap off, where it draws the character `n` times over the line as
//! if neither were set. [`super::VtGaps`] follows the last character it
//! gave `vt100` to draw, and draws it again itself there.

/// The last character of `text` that takes cells, as given to `vt100`
/// (`shown`, which gives nothing for a character drawn as nothing).
pub(super) fn last_drawn(text: &str, shown: impl Fn(char) -> Option<char>) -> Option<char> {
    text.chars()
        .rev()
        .filter(|c| !c.is_control())
        .filter_map(shown)
        .find(|&c| super::width(c) > 0)
}

/// The last character of `ascii` that takes cells (printable ASCII).
pub(super) fn last_ascii(ascii: &[u8]) -> Option<char> {
    ascii
        .iter()
        .rposition(|b| (0x20..0x7f).contains(b))
        .map(|at| char::from(ascii[at]))
}

/// How many times to draw a character for REP of `n`, on a screen of
/// `rows`×`cols`, the same to see: with autowrap off (`no_wrap`) the last
/// column is drawn over once the cursor gets there, so no more than
/// `cols`; in insert mode with autowrap on, once a screen and a row are
/// full of it each row more scrolls the screen by one the same, so no
/// more than that and the rest of a row (only the scrollback has fewer
/// lines of it).
pub(super) fn times(n: u16, no_wrap: bool, rows: u16, cols: u16) -> u32 {
    let (n, cols) = (u32::from(n.max(1)), u32::from(cols.max(1)));
    if no_wrap {
        return n.min(cols);
    }
    let full = (u32::from(rows) + 1) * cols;
    if n > full {
        full + (n - full) % cols
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_character_drawn() {
        assert_eq!(last_ascii(b"ab\r\n"), Some('b'));
        assert_eq!(last_ascii(b"\r\n\x7f"), None);
        assert_eq!(last_drawn("a\u{65e5}\u{301}\r", Some), Some('\u{65e5}'));
        assert_eq!(last_drawn("a\t", |_| None), None);
    }

    #[test]
    fn times_that_show_the_same() {
        assert_eq!(times(0, false, 3, 10), 1);
        assert_eq!(times(500, true, 3, 10), 10);
        assert_eq!(times(40, false, 3, 10), 40);
        assert_eq!(times(47, false, 3, 10), 47);
        assert_eq!(times(u16::MAX, false, 3, 10), 45);
    }
}
