//! [`Terminal::set_size`] rewraps the main screen as tmux 3.3a does.

use std::time::Instant;

use super::*;

/// The rows `t` shows as text, trailing blanks dropped.
fn rows(t: &Terminal) -> Vec<String> {
    let cols = t.screen().size().1.get();
    t.screen()
        .rows(0, cols)
        .map(|r| crate::restore(&r).trim_end().to_string())
        .collect()
}

/// `clear; seq -s, 1 40` at a prompt on 100 columns.
fn long_line() -> (String, Terminal) {
    let line = (1..=40)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut t = Terminal::new(6, 100, 100);
    t.process(format!("{line}\r\n$ ").as_bytes());
    (line, t)
}

#[test]
fn a_line_made_narrower_and_wider_again_is_whole() {
    let (line, mut t) = long_line();
    t.set_size(6, 40);
    // The line (110 characters) takes 3 rows, the prompt and 3 blank rows
    // come after it: the first goes into the scrollback, as on tmux.
    assert_eq!(rows(&t)[..4], [&line[40..80], &line[80..], "$", ""]);
    assert_eq!(t.screen().cursor_position(), (2, 2));
    t.screen_mut().set_scrollback(1);
    assert_eq!(rows(&t)[..3], [&line[..40], &line[40..80], &line[80..]]);
    assert!(t.screen().row_wrapped(0) && t.screen().row_wrapped(1));
    t.screen_mut().set_scrollback(0);
    t.set_size(6, 100);
    assert_eq!(rows(&t)[..3], [&line[..100], &line[100..], "$"]);
    assert!(t.screen().row_wrapped(0));
    assert_eq!(t.screen().cursor_position(), (2, 2));
}

/// Rows pushed into the scrollback by a narrower screen come back, as on
/// tmux: the screen shows the last rows of the rewrapped lines.
#[test]
fn rewrapped_rows_go_through_the_scrollback() {
    let (line, mut t) = long_line();
    t.set_size(6, 10);
    // 11 rows of the line, the prompt, 3 blank rows: 9 in the scrollback.
    assert_eq!(rows(&t)[..3], [&line[90..100], &line[100..], "$"]);
    assert_eq!(t.screen().cursor_position(), (2, 2));
    t.screen_mut().set_scrollback(9);
    assert_eq!(rows(&t)[0], &line[..10]);
    t.screen_mut().set_scrollback(0);
    t.set_size(6, 100);
    assert_eq!(rows(&t)[..3], [&line[..100], &line[100..], "$"]);
    assert_eq!(t.screen().cursor_position(), (2, 2));
}

#[test]
fn colours_wide_characters_and_the_pen_are_kept() {
    let mut t = Terminal::new(3, 10, 10);
    t.process("\r\n\r\nab\x1b[31mcd日本\x1b[0;1mxy\x1b[44m".as_bytes());
    t.set_size(3, 5);
    // `日` does not fit in the last column: a pad there, the row wrapped.
    assert_eq!(rows(&t)[..3], ["abcd", "日本x", "y"]);
    assert!(t.screen().row_wrapped(0));
    let cell = t.screen().cell(1, 0).unwrap();
    assert_eq!(cell.fgcolor(), vt100::Color::Idx(1));
    assert!(cell.is_wide());
    assert!(t.screen().cell(1, 4).unwrap().bold());
    assert_eq!(t.screen().cursor_position(), (2, 1));
    assert_eq!(t.screen().bgcolor(), vt100::Color::Idx(4));
    assert!(t.screen().bold());
    t.set_size(3, 10);
    assert_eq!(rows(&t)[2], "abcd日本xy");
    assert_eq!(t.screen().cursor_position(), (2, 10));
}

/// The cursor stays on its character, in the middle of a line too.
#[test]
fn the_cursor_follows_its_character() {
    let mut t = Terminal::new(4, 20, 10);
    t.process(b"\r\n\r\n\r\n0123456789abcdefghij\x1b[4;13H");
    t.set_size(4, 5);
    assert_eq!(t.screen().cursor_position(), (2, 2));
    t.process(b"X");
    t.set_size(4, 20);
    assert_eq!(rows(&t)[3], "0123456789abXdefghij");
}

/// The alternate screen (vim, less) is not rewrapped, as on tmux; the
/// main screen under it is.
#[test]
fn the_alternate_screen_is_resized_as_it_is() {
    let mut t = Terminal::new(4, 10, 10);
    t.process(b"abcdefghijkl\x1b[?1049h\x1b[1;3H0123456789");
    t.set_size(4, 5);
    t.set_size(4, 10);
    assert_eq!(rows(&t)[..2], ["  012", "89"]);
    assert!(t.screen().alternate_screen());
    assert_eq!(t.screen().cursor_position(), (1, 2));
    t.process(b"\x1b[?1049lX");
    assert_eq!(rows(&t)[..2], ["abcdefghij", "klX"]);
}

/// A resize with a full scrollback stays cheap.
#[test]
fn a_resize_with_ten_thousand_lines_of_scrollback() {
    let mut t = Terminal::new(30, 100, 10_000);
    for n in 0..10_030 {
        t.process(format!("line {n} \x1b[32m{}\x1b[m\r\n", "x".repeat(n % 150)).as_bytes());
    }
    let start = Instant::now();
    t.set_size(30, 40);
    t.set_size(30, 100);
    eprintln!(
        "two resizes, 10,000 lines of scrollback: {:?}",
        start.elapsed()
    );
    let last = rows(&t)[27..29].concat();
    assert_eq!(last, format!("line 10029 {}", "x".repeat(10029 % 150)));
    assert!(t.screen().row_wrapped(27));
}
