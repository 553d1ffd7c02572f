//! [`Terminal`] against what xterm shows.

use super::*;

/// The rows `t` shows, trailing blanks dropped.
fn rows(t: &Terminal) -> Vec<String> {
    let cols = t.screen().size().1.get();
    t.screen()
        .rows(0, cols)
        .map(|r| r.trim_end().to_string())
        .collect()
}

fn played(rows_cols: (u16, u16), bytes: &[u8]) -> Terminal {
    let mut t = Terminal::new(rows_cols.0, rows_cols.1, 0);
    t.process(bytes);
    t
}

/// `printf '\033[?7l%090d\r\n' 0` on 80 columns: one line of 80 zeros.
#[test]
fn autowrap_off_overwrites_the_last_column() {
    let mut bytes = b"\x1b[?7l".to_vec();
    bytes.extend_from_slice(&[b'0'; 90]);
    bytes.extend_from_slice(b"\r\nnext");
    let t = played((4, 80), &bytes);
    assert_eq!(rows(&t)[..2], ["0".repeat(80), "next".to_string()]);

    // The cursor stays in the last column: two backspaces go back two.
    let t = played((3, 10), b"\x1b[?7l0123456789ab\x08\x08X");
    assert_eq!(rows(&t)[0], "0123456X8b");
    assert_eq!(t.screen().cursor_position(), (0, 8));
    // A wide character that does not fit is not drawn, as on xterm and
    // tmux 3.3a (`012345678x`); it was drawn in the last two columns.
    for bytes in [
        "\x1b[?7l012345678日x",
        "\x1b[?7l0123456789日x",
        "\x1b[?7l\x1b[4h012345678日x",
    ] {
        let t = played((3, 10), bytes.as_bytes());
        assert_eq!(rows(&t)[..2], ["012345678x", ""], "{bytes:?}");
        assert_eq!(t.screen().cursor_position(), (0, 9), "{bytes:?}");
    }

    // On again: the text wraps.
    for on in ["\x1b[?7h", "\x1b[!p", "\x1bc"] {
        let t = played((3, 10), format!("\x1b[?7l{on}0123456789ab").as_bytes());
        assert_eq!(rows(&t)[..2], ["0123456789", "ab"], "{on:?}");
    }
}

/// `printf 'a\033[2Ib\033[Zc'`: `a` in column 0, `c` in column 16
/// (forward two stops from column 1, back one from 17).
#[test]
fn tabs_forward_and_back_by_stops() {
    let t = played((3, 80), b"a\x1b[2Ib\x1b[Zc");
    assert_eq!(rows(&t)[0], format!("a{}c", " ".repeat(15)));
    let t = played((3, 80), b"\x1b[30Gx\x1b[3Zy\x1b[9Zz\x1b[2Iw");
    let gap = |n| " ".repeat(n);
    assert_eq!(rows(&t)[0], format!("z{}y{}w{}x", gap(7), gap(7), gap(12)));
}

/// HTS sets a stop at the cursor, TBC clears the one there or all of them,
/// and a tab goes to the next stop set (the last column without one).
#[test]
fn tabs_go_to_the_stops_set() {
    let setup = b"\x1b[3g\x1b[5G\x1bH\x1b[12G\x1bH\r";
    let t = played((3, 30), &[&setup[..], b"\tx\ty\tz"].concat());
    assert_eq!(rows(&t)[0], format!("    x      y{}z", " ".repeat(17)));
    let t = played(
        (3, 30),
        &[&setup[..], b"\x1b[5G\x1b[g\r\tw\x1b[2Iv"].concat(),
    );
    assert_eq!(
        rows(&t)[0],
        format!("{}w{}v", " ".repeat(11), " ".repeat(17))
    );
    let t = played(
        (3, 30),
        &[&setup[..], b"\x1b[0g\x1b[3g\r\ta\x1bc\tb"].concat(),
    );
    assert_eq!(rows(&t)[0], "        b", "all cleared, then a reset");
    assert_eq!(rows(&t)[1], "");
}

/// On 10 columns `printf '\n0123\033[1;1H0123456789\033[4hX'`: the X
/// wraps, then is inserted before the second line's text.
#[test]
fn a_character_inserted_at_the_margin_wraps_first() {
    let t = played((3, 10), b"\n0123\x1b[1;1H0123456789\x1b[4hX");
    assert_eq!(rows(&t)[..2], ["0123456789", "X0123"]);
    assert_eq!(t.screen().cursor_position(), (1, 1));
}

/// The row a character inserted at the margin wraps from is marked as
/// wrapped, as on xterm and tmux (`tmux capture-pane -J` joins it): text
/// read with wrapped rows joined (`session_read`) gave the line as two.
/// Also where the wrap scrolls (the screen's bottom, a scroll region's),
/// from a row above a scroll region, for a wide character in the last
/// column, and with the last character's attributes kept; on the bottom
/// row below a scroll region the wrap stays on the row, unmarked.
#[test]
fn a_character_inserted_at_the_margin_marks_the_row_wrapped() {
    /// The output, the rows it shows, the cursor, the row wrapped.
    type Case<'a> = (&'a [u8], [&'a str; 3], (u16, u16), u16);
    let cases: [Case; 6] = [
        (
            b"\x1b[2;1H0123\x1b[1;1H0123456789\x1b[4hXY",
            ["0123456789", "XY0123", ""],
            (1, 2),
            0,
        ),
        (
            b"\x1b[3;1H0123456789\x1b[4hX",
            ["", "0123456789", "X"],
            (2, 1),
            1,
        ),
        (
            b"\x1b[1;2r\x1b[3;1Hbelow\x1b[2;1H0123456789\x1b[4hX",
            ["0123456789", "X", "below"],
            (1, 1),
            0,
        ),
        (
            b"\x1b[2;3r\x1b[3;1Hrest\x1b[1;1H0123456789\x1b[4hX",
            ["0123456789", "X", "rest"],
            (1, 1),
            0,
        ),
        (
            "\x1b[2;1Hab\x1b[1;1H012345678\x1b[1;10Hz\x1b[1;10H\x1b[4h日".as_bytes(),
            ["012345678z", "日ab", ""],
            (1, 2),
            0,
        ),
        (
            b"\x1b[31m0123456789\x1b[32;4mX\x1b[4lY",
            ["0123456789", "XY", ""],
            (1, 2),
            0,
        ),
    ];
    for (bytes, want, cursor, wrapped) in cases {
        let t = played((3, 10), bytes);
        assert_eq!(rows(&t), want, "{bytes:?}");
        assert_eq!(t.screen().cursor_position(), cursor, "{bytes:?}");
        assert!(t.screen().row_wrapped(wrapped), "{bytes:?}");
        let mut byte_at_a_time = Terminal::new(3, 10, 0);
        for b in bytes {
            byte_at_a_time.process(std::slice::from_ref(b));
        }
        assert_eq!(rows(&byte_at_a_time), want, "{bytes:?} a byte at a time");
        assert!(byte_at_a_time.screen().row_wrapped(wrapped));
    }
    let t = played((3, 10), b"\x1b[31m0123456789\x1b[32;4mX\x1b[4lY");
    let cell = |r, c| t.screen().cell(r, c).unwrap();
    assert_eq!(cell(0, 9).fgcolor(), vt100::Color::Idx(1));
    assert!(!cell(0, 9).underline());
    assert_eq!(cell(1, 0).fgcolor(), vt100::Color::Idx(2));
    assert!(cell(1, 1).underline());
    // Below the scroll region the wrap stays on the bottom row.
    let t = played((3, 10), b"\x1b[1;2r\x1b[3;1H0123456789\x1b[4hX");
    assert_eq!(rows(&t), ["", "", "X012345678"]);
    assert!(!t.screen().row_wrapped(1) && !t.screen().row_wrapped(2));
}

/// The modes a redraw ends with give another terminal the same tab stops
/// and autowrap.
#[test]
fn modes_carry_tab_stops_and_autowrap() {
    let t = played((3, 30), b"\x1b[3g\x1b[7G\x1bH\x1b[?7l");
    let mut other = played((3, 30), &t.modes());
    other.process(b"\r\tx\x1b[30Gyz");
    assert_eq!(rows(&other)[0], format!("      x{}z", " ".repeat(22)));
}

/// A cursor-dependent sequence cut between two outputs acts once whole.
#[test]
fn sequences_cut_between_outputs() {
    let bytes = b"\x1b[3g\x1b[5G\x1bH\r\tx\x1b[2Zy\x1b[?7l0123456789012345678901234567890";
    let whole = rows(&played((3, 30), bytes));
    for cut in 1..bytes.len() {
        let mut t = Terminal::new(3, 30, 0);
        t.process(&bytes[..cut]);
        t.process(&bytes[cut..]);
        assert_eq!(rows(&t), whole, "cut at {cut}");
    }
}

/// Output played a byte at a time (the cursor asked at each character)
/// shows what it shows played at once (where the cells left to the margin
/// are counted instead).
#[test]
fn a_byte_at_a_time_plays_as_at_once() {
    let bytes = "\x1b[?7l0123456789abcdefghijklmnopqrstuvwxyz\r\n012\x08\x08ab\rxy\t\
                 \r\nABCDEFGHIJKLMNOPQRSTUVWXYZ0123\x08\x08Q\r\n\
                 0123456789012345678901234567日\x1b[4h\r\n0123456789012345678901234567890\
                 \x1b[?7h0123456789012345678901234567890日本\r\x1b[5Cé\u{301}x";
    let bytes = bytes.as_bytes();
    let whole = played((6, 30), bytes);
    let mut t = Terminal::new(6, 30, 0);
    for b in bytes {
        t.process(std::slice::from_ref(b));
    }
    assert_eq!(rows(&t), rows(&whole));
    assert_eq!(
        t.screen().cursor_position(),
        whole.screen().cursor_position()
    );
}

/// A fresh terminal given the state of one whose output ends inside a
/// string (a clipboard copy, a title, a DCS) shows nothing of the string's
/// rest, up to its end: BEL for an OSC (BEL is part of a DCS or an APC),
/// ST (its ESC cut off from it too), CAN, or an ESC beginning a sequence.
#[test]
fn a_fresh_terminal_given_the_state_inside_a_string_skips_its_rest() {
    for (before, rest) in [
        (&b"top\r\n\x1b]52;c;AAAA"[..], &b"BBBB\x07 done"[..]),
        (b"\x1b]0;t", b"x\x1b\\ done"),
        (b"\x1b]0;t\x1b", b"\\ done"),
        (b"\x1bPq#0", b"x\x07y\x1b\\ done"),
        (b"\x1b_Gx", b"y\x07z\x1b[1m done"),
        (b"\x1b]0;t", b"x\x18 done"),
        (b"\x1b[1;2", b"2;3m done"),
    ] {
        let at_once = played((3, 30), before).state();
        let mut t = Terminal::new(3, 30, 0);
        t.set_state(at_once.clone());
        t.process(rest);
        assert_eq!(rows(&t)[0], " done", "{before:?} then {rest:?}");
        let mut t = Terminal::new(3, 30, 0);
        t.set_state(at_once);
        for b in rest {
            t.process(std::slice::from_ref(b));
        }
        assert_eq!(
            rows(&t)[0],
            " done",
            "a byte at a time: {before:?} {rest:?}"
        );
    }
}

/// A tab while the cursor waits to wrap (a character just written in the
/// last column) leaves it waiting, as xterm and tmux do: the next
/// character goes to the next row. `vt100` took the cursor back into the
/// last column, and `g` overwrote the blank there.
#[test]
fn a_tab_at_the_margin_keeps_the_wrap_waiting() {
    let wide = "0123456789012345678 \tg";
    for bytes in [
        wide.as_bytes().to_vec(),
        // Also in insert mode and with tab stops set (the slow paths).
        format!("\x1b[4h{wide}").into_bytes(),
        format!("\x1b[3g\x1bH{wide}").into_bytes(),
        format!("\u{e9}{}", &wide[1..]).into_bytes(),
    ] {
        let t = played((3, 20), &bytes);
        let shown = rows(&t);
        assert_eq!(shown[1], "g", "{bytes:?}: {shown:?}");
        assert!(shown[0].ends_with("78"), "{bytes:?}: {shown:?}");
    }
    // Fed a byte at a time.
    let mut t = Terminal::new(3, 20, 0);
    for b in wide.as_bytes() {
        t.process(&[*b]);
    }
    assert_eq!(rows(&t)[1], "g");
    // Elsewhere a tab goes on to the next stop.
    assert_eq!(rows(&played((3, 20), b"ab\tc"))[0], "ab      c");
}

/// A control inside an escape sequence is carried out there, the sequence
/// going on (xterm, tmux and `vt100` do): a tab there went to `vt100`'s
/// every-8 stops, not to the stops set, and took a wrap waiting back into
/// the last column; a shift out there was not followed.
#[test]
fn controls_inside_a_sequence_act_as_outside() {
    let stops = "\x1b[3g\x1b[4G\x1bH\x1b[12G\x1bH\r";
    let cases = [
        // tmux 3.3a: `ab  z` (the tab to column 3, then one right).
        (format!("{stops}x\x1b[1\t;5Hy\rab\x1b[\tCz"), ["ab  z", ""]),
        (
            format!("{stops}a\x1b(\tBb\x1b\t7\r\x1b8c"),
            ["a  b       c", ""],
        ),
        (
            format!("{stops}\x1b[30G\x1b[\tmd"),
            [&*format!("{}d", " ".repeat(29)), ""],
        ),
        (
            "012345678901234567890123456789\x1b[\tmg".to_string(),
            ["012345678901234567890123456789", "g"],
        ),
        ("\x1b)0\x1b[\x0emq\x1b[1\x0fmq".to_string(), ["─q", ""]),
    ];
    for (bytes, want) in cases {
        let t = played((3, 30), bytes.as_bytes());
        assert_eq!(rows(&t)[..2], want, "{bytes:?}");
        let mut t = Terminal::new(3, 30, 0);
        for b in bytes.as_bytes() {
            t.process(std::slice::from_ref(b));
        }
        assert_eq!(rows(&t)[..2], want, "{bytes:?} a byte at a time");
    }
}

/// U+FE0F (VS16) after a character shown in text presentation leaves it one
/// cell wide, as tmux 3.3a has it and as the program's `wcwidth` counts it
/// (1 for U+2764, 0 for U+FE0F): `vt100` made it two wide, and what came
/// after it on the line was a column right of where the program put it.
/// Text read from the screen has the U+FE0F.
#[test]
fn vs16_leaves_a_character_its_width() {
    let bytes = "a\u{2764}\u{fe0f}b\u{26a0}\u{fe0f}\x1b[4hc\u{1f600}\u{fe0f}\x1b[4l|";
    let t = played((3, 20), bytes.as_bytes());
    assert_eq!(
        crate::restore(&rows(&t)[0]),
        "a\u{2764}\u{fe0f}b\u{26a0}\u{fe0f}c\u{1f600}\u{fe0f}|"
    );
    assert_eq!(t.screen().cursor_position(), (0, 8));
    let mut t = Terminal::new(3, 20, 0);
    for b in bytes.as_bytes() {
        t.process(std::slice::from_ref(b));
    }
    assert_eq!(t.screen().cursor_position(), (0, 8), "a byte at a time");
}

/// A wide character that does not fit in the last column wraps, and the
/// row it leaves is marked as wrapped, as on xterm and tmux (`tmux
/// capture-pane -J` joins `012345678日x` on 10 columns): `vt100` marks it
/// only when something is drawn in the last column, and `session_read`
/// gave the line as two. Text read has nothing in that column; a terminal
/// the screen is drawn on has a blank there and the row wrapped too.
#[test]
fn a_wide_character_wrapping_from_the_last_column_marks_the_row() {
    for (bytes, want) in [
        ("012345678日x", ["012345678", "日x"]),
        ("\x1b[4h012345678日x", ["012345678", "日x"]),
        ("a日本語日本", ["a日本語日", "本"]),
        ("\x1b[31m\x1b[1;10H日\x1b[4hx\x1b[4l", ["", "日x"]),
    ] {
        let mut byte_at_a_time = Terminal::new(3, 10, 0);
        for b in bytes.as_bytes() {
            byte_at_a_time.process(std::slice::from_ref(b));
        }
        for t in [played((3, 10), bytes.as_bytes()), byte_at_a_time] {
            let text: Vec<String> = rows(&t)
                .iter()
                .map(|r| crate::restore(r).trim_end().to_string())
                .collect();
            assert_eq!(text[..2], want, "{bytes:?}");
            assert!(t.screen().row_wrapped(0), "{bytes:?}");
            let drawn = crate::restore_drawn(&t.screen().contents_formatted()).into_owned();
            let other = played((3, 10), drawn.as_bytes());
            assert_eq!(rows(&other)[..2], want, "{bytes:?} drawn");
            assert!(other.screen().row_wrapped(0), "{bytes:?} drawn");
        }
    }
}

/// The character sets are saved with the cursor and restored with it, as
/// on xterm and tmux: by DECSC and DECRC, SCOSC and SCORC (`CSI s`, `CSI
/// u`, which `vt100` ignored: the cursor stayed), and the alternate screen
/// (`CSI ? 1049 h`, `l`); a soft reset forgets them. The screen model kept
/// drawing boxes after a restore to ASCII (`─── ───`).
#[test]
fn character_sets_are_saved_and_restored_with_the_cursor() {
    for (bytes, want) in [
        ("\x1b7\x1b(0qqq\x1b8\x1b[1;5Hqqq", "─── qqq"),
        ("\x1b(0\x1b7\x1b(Bqq\x1b8q", "─q"),
        ("\x1b)0\x0e\x1b7\x0fqq\x1b8q", "─q"),
        ("ab\x1b[scd\x1b[uX", "abXd"),
        ("\x1b[s\x1b(0qq\x1b[u\x1b[1;4Hq", "── q"),
        ("\x1b(0\x1b[?1049h\x1b(Bx\x1b[?1049lq", "─"),
        ("\x1b(0\x1b7\x1b[!p\x1b8q", "q"),
        ("\x1b(0\x1b7\x1bc\x1b8q", "q"),
        ("\x1b[?u\x1b[>1u\x1b(0q", "─"),
        ("ab\x1b[1;5scd\x1b[uX", "Xbcd"),
    ] {
        let t = played((3, 20), bytes.as_bytes());
        assert_eq!(rows(&t)[0], want, "{bytes:?}");
        let mut t = Terminal::new(3, 20, 0);
        for b in bytes.as_bytes() {
            t.process(std::slice::from_ref(b));
        }
        assert_eq!(rows(&t)[0], want, "{bytes:?} a byte at a time");
    }
}

/// IND (`ESC D`) and NEL (`ESC E`) move down a line, NEL to its start, and
/// scroll at the bottom, as on xterm and tmux: `vt100` ignored them and
/// the next text overwrote the line (`abcd` for tmux's `ab`, `  cd`).
#[test]
fn index_and_next_line_move_down() {
    let t = played((4, 10), b"ab\x1bDcd\x1bEef\x1bDg\x1bE");
    assert_eq!(rows(&t), ["  cd", "ef", "  g", ""], "the last scrolled");
    assert_eq!(t.screen().cursor_position(), (3, 0));
    let t = played((3, 10), b"1\r\n2\r\n3\x1bD4");
    assert_eq!(rows(&t), ["2", "3", " 4"], "scrolled");
}

/// DECALN (`ESC # 8`) fills the screen with `E`s without attributes, puts
/// the scroll region back to the whole screen and the cursor home, as on
/// xterm and tmux 3.3a: `vt100` ignored it.
#[test]
fn the_alignment_test_fills_the_screen_with_e() {
    let t = played((3, 5), b"\x1b[31mab\x1b[2;3r\x1b#8x");
    assert_eq!(rows(&t), ["xEEEE", "EEEEE", "EEEEE"]);
    let s = t.screen();
    assert_eq!(
        s.cell(0, 0).map(|c| c.fgcolor()),
        Some(vt100::Color::Idx(1)),
        "the pen stays"
    );
    assert_eq!(
        s.cell(2, 4).map(|c| c.fgcolor()),
        Some(vt100::Color::Default)
    );
    let t = played((3, 5), b"\x1b[2;3r\x1b#8\x1b[3;1H\n");
    assert_eq!(rows(&t), ["EEEEE", "EEEEE", ""], "the whole screen scrolls");
}

/// `CSI ? 47 h` and `CSI ? 1047 h` show the alternate screen with the
/// cursor where it was, and `l` the normal one with the cursor where it is
/// (1047 clearing the alternate screen), as on xterm and tmux 3.3a (one
/// cursor for both): `vt100` gave each screen a cursor of its own for 47
/// and ignored 1047 (`ma-Aalt1047-B` for tmux's `main2  -A       -B`).
#[test]
fn the_alternate_screens_without_a_saved_cursor_share_it() {
    let t = played(
        (3, 20),
        b"main1\r\nmain2\x1b[2;3H\x1b[?47halt47\x1b[?47l-A\x1b[?1047halt1047\x1b[?1047l-B",
    );
    assert_eq!(rows(&t), ["main1", "main2  -A       -B", ""]);
    let mut t = played((3, 20), b"\x1b[?1047hx\x1b[?1047l\x1b[?47h");
    assert_eq!(rows(&t), ["", "", ""], "1047 cleared it");
    t.process(b"\x1b[?47ly");
    assert_eq!(rows(&t), [" y", "", ""], "the main screen untouched");
}

/// A wrap pending when the screens switch without a saved cursor stays
/// pending, as on xterm and tmux 3.3a: the next character goes on the
/// next line of the screen switched to.
#[test]
fn a_wrap_pending_stays_pending_across_the_alternate_screens() {
    let mut t = played((3, 5), b"12345\x1b[?1047h");
    assert_eq!(t.screen().cursor_position(), (0, 5));
    t.process(b"x\x1b[?1047l");
    assert_eq!(t.screen().cursor_position(), (1, 1));
    let mut t = played((3, 5), b"\x1b[?47h\x1b[2;1Habcde\x1b[?47l");
    let text = |t: &Terminal| -> Vec<String> {
        rows(t)
            .iter()
            .map(|r| crate::restore(r).into_owned())
            .collect()
    };
    assert_eq!(text(&t), ["", "    ", ""], "a pad reads as nothing");
    t.process(b"y");
    assert_eq!(text(&t), ["", "    ", "y"]);
}

/// The rows `bytes` shows on 3×20, checked to be the same played a byte at
/// a time.
fn rows_3x20(bytes: &str) -> Vec<String> {
    let whole = rows(&played((3, 20), bytes.as_bytes()));
    let mut t = Terminal::new(3, 20, 0);
    for b in bytes.as_bytes() {
        t.process(std::slice::from_ref(b));
    }
    assert_eq!(rows(&t), whole, "{bytes:?} a byte at a time");
    whole
}

/// Text drawn hidden (SGR 8, concealed) is a blank as wide as it is, in
/// its attributes but for hidden, as a terminal shows it (a wide character
/// a wide blank, U+3000; a combining mark nothing): `vt100` ignores SGR 8,
/// and `hm screen`, a terminal attached later, hm-agent and the Discord
/// relay showed a password the program hid in clear.
#[test]
fn hidden_text_is_drawn_as_blanks() {
    let t = played(
        (3, 20),
        "pw: \x1b[8msecret\x1b[0m|\r\n\x1b[8;41m日x\x1b[28my\x1b[8m\x1b[?7h1\te\u{301}\u{fffd}\x1b(0q"
            .as_bytes(),
    );
    assert_eq!(rows(&t)[..2], ["pw:       |", "\u{3000} y"]);
    let s = t.screen();
    assert!(s.cell(1, 0).is_some_and(|c| c.is_wide()));
    assert_eq!(
        s.cell(1, 2).map(|c| c.bgcolor()),
        Some(vt100::Color::Idx(1))
    );
    assert_eq!(s.cell(1, 3).map(|c| c.contents()), Some("y"));
    assert_eq!(s.cursor_position(), (1, 11));
    // A wide blank wraps from the last column as the character would.
    let t = played((3, 5), "abcd\x1b[8m日\x1b[m|".as_bytes());
    let shown: Vec<_> = rows(&t)
        .iter()
        .map(|r| crate::restore(r).into_owned())
        .collect();
    assert_eq!(shown[..2], ["abcd", "\u{3000}|"]);
    assert!(t.screen().row_wrapped(0));
    // In insert mode and with autowrap off too.
    assert_eq!(rows_3x20("abc\r\x1b[4h\x1b[8mxy\x1b[28mz")[0], "  zabc");
    let row = &rows_3x20("\x1b[?7l\x1b[8m0123456789012345678901234z\x1b[0mw")[0];
    assert_eq!(*row, format!("{}w", " ".repeat(19)));
    // It carries on to a fresh terminal given the state.
    let mut fresh = Terminal::new(3, 20, 0);
    fresh.set_state(played((3, 20), b"\x1b[8m").state());
    fresh.process(b"ab\x1b[28mc");
    assert_eq!(rows(&fresh)[0], "  c");
}

/// Where SGR 8 begins and ends, as tmux 3.3a and xterm parse SGR: 28 or a
/// reset (0, or an empty parameter) ends it; the parameters of an extended
/// colour (38, 48, 58, `;5;n` or `;2;r;g;b`, or in the colon form) are
/// never taken for it.
#[test]
fn hidden_begins_and_ends_where_sgr_says() {
    let bytes = "\x1b[38;5;8mA\x1b[48;2;8;8;8mB\x1b[38:2::8:8:8mC\x1b[58;5;8mD\
                 \x1b[38;5:8mE\x1b[38;2;1;2;3;8mF\x1b[28mG\x1b[8;0mH\x1b[8mI\x1b[mJ\
                 \x1b[8mK\x1b[;mL\x1b[8:1mM\x1b[1;8;31mN\x1b[48;7;8mO\x1b[?8mP\x1b[0m";
    assert_eq!(rows_3x20(bytes)[0], "ABCDE GH J LM");
}

/// Hidden is saved and restored with the cursor, as the other attributes
/// are on xterm and tmux: DECSC and DECRC, SCOSC and SCORC, the alternate
/// screen with a saved cursor (`CSI ? 1049 h`, `l`); a full reset ends
/// it, a soft reset (DECSTR) does not, as on tmux 3.3a.
#[test]
fn hidden_is_saved_and_restored_with_the_cursor() {
    for (bytes, want) in [
        ("\x1b[8m\x1b7\x1b[0m\x1b[1;5Ha\x1b8b", "    a"),
        ("\x1b7\x1b[8m\x1b8c", "c"),
        ("\x1b[8m\x1b[s\x1b[28m\x1b[ux", ""),
        ("\x1b[8m\x1b[?1049h\x1b[0mx\x1b[?1049ly", ""),
        ("\x1b[?1049h\x1b[8m\x1b[?1049lz", "z"),
        ("\x1b[8m\x1b[!pv", ""),
        ("\x1b[8m\x1bcw", "w"),
    ] {
        assert_eq!(rows_3x20(bytes)[0], want, "{bytes:?}");
    }
}

/// A double underline (SGR 21) and the underline styles of the colon form
/// (`4:1` to `4:5`; curly, `4:3`, is what editors mark spelling with) are
/// shown underlined, and `4:0` ends them, as tmux 3.3a has them (it keeps
/// the style, `vt100` has one underline): `vt100` ignored them all, so the
/// text was not underlined, and after `4:0` still was.
#[test]
fn double_and_styled_underlines_are_underlines() {
    let t = played(
        (3, 20),
        b"a\x1b[21mb\x1b[24mc\x1b[4:3md\x1b[4:0me\x1b[4mf\x1b[4:0mg\x1b[4;21;24mh\x1b[38;5;21mi",
    );
    let underlined: String = (0..9)
        .filter(|&col| t.screen().cell(0, col).is_some_and(|c| c.underline()))
        .map(|col| {
            t.screen()
                .cell(0, col)
                .map_or(String::new(), |c| c.contents().to_string())
        })
        .collect();
    assert_eq!(underlined, "bdf");
}

/// Each parameter of a private mode set or reset takes effect, in order,
/// as on xterm and tmux 3.3a: `CSI ? 1047 ; 1 h` switched screens with
/// the cursor kept (`vt100` ignored 1047 there), `CSI ? 1 ; 47 h` too
/// (`vt100` gave 47 a cursor of its own there), and the others with them.
#[test]
fn each_private_mode_of_a_sequence_takes_effect() {
    for (bytes, want) in [
        ("main\x1b[1;3H\x1b[?1047;1halt\x1b[?1;1047l-B", "main -B"),
        ("main\x1b[1;3H\x1b[?1;47halt\x1b[?47;1l-B", "main -B"),
        (
            "1234\x1b[?1047;7h0123456789x\x1b[?1047lend",
            "1234           end",
        ),
        (
            "\x1b[?1047;7l0123456789012345678901234y",
            "0123456789012345678y",
        ),
    ] {
        assert_eq!(rows_3x20(bytes)[0], want, "{bytes:?}");
    }
    let t = played((3, 20), b"\x1b[?1047;1h");
    assert!(t.screen().alternate_screen() && t.screen().application_cursor());
    let t = played((3, 20), b"\x1b[?1047;1h\x1b[?1;1047l");
    assert!(!t.screen().alternate_screen() && !t.screen().application_cursor());
}

/// Mode 1048 saves the cursor as DECSC does (`h`) and restores it as DECRC
/// (`l`), with the character sets and hidden, as xterm has it (tmux 3.3a
/// ignores it): `vt100` ignored it (`abcdX`).
#[test]
fn mode_1048_saves_and_restores_the_cursor() {
    for (bytes, want) in [
        ("ab\x1b[?1048hcd\x1b[?1048lX", "abXd"),
        ("ab\x1b[?1048;1hcd\x1b[?1;1048lX", "abXd"),
        ("\x1b(0\x1b[?1048h\x1b(B\x1b[?1048lq", "─"),
        ("\x1b[8m\x1b[?1048h\x1b[0m\x1b[?1048lq\x1b[28m|", " |"),
    ] {
        assert_eq!(rows_3x20(bytes)[0], want, "{bytes:?}");
    }
}

/// REP (`CSI n b`) draws the last character drawn as drawing it `n` times
/// does, as xterm has it: in insert mode it pushes the line right, with
/// autowrap off it stays in the last column (as on tmux 3.3a too), a
/// character drawn hidden is repeated blank. `vt100` drew it over the
/// line, and past the last column with autowrap off.
#[test]
fn rep_draws_as_the_character_drawn_again() {
    for (bytes, want) in [
        ("abcdef\r\x1b[4hX\x1b[3b", "XXXXabcdef"),
        ("abcdef\r\x1b[4h日\x1b[2b", "日日日abcdef"),
        (
            "\x1b[?7l0123456789012345678a\x1b[5bc",
            "0123456789012345678c",
        ),
        (
            "\x1b[?7l\x1b[4h0123456789\r\x1b[3Cx\x1b[30b",
            "012xxxxxxxxxxxxxxxxx",
        ),
        ("abc\r\x1b[4h\x1b[8mx\x1b[28m\x1b[2b", "   abc"),
        ("ab\x1b[4h\x1b[3b", "abbbb"),
    ] {
        assert_eq!(rows_3x20(bytes)[0], want, "{bytes:?}");
    }
    // In insert mode a repeat that reaches the margin wraps, as the
    // characters drawn would; a long one shows as the characters would.
    let t = played((3, 5), b"ab\r\n12\x1b[A\r\x1b[4hx\x1b[6b");
    assert_eq!(rows(&t)[..2], ["xxxxx", "xx12"]);
    let mut once = played((3, 5), b"ab\x1b[4hx");
    let mut each = played((3, 5), b"ab\x1b[4hx");
    once.process(b"\x1b[999b");
    each.process(&b"x".repeat(999));
    assert_eq!(rows(&once), rows(&each));
    assert_eq!(
        once.screen().cursor_position(),
        each.screen().cursor_position()
    );
}
