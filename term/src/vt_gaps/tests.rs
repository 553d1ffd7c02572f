//! Tests of [`super::VtGaps`] and [`super::restore`].

use std::borrow::Cow;

use super::*;

/// An emulator that keeps what it is given, its cursor in row 0 and column
/// `col` of 80, something drawn in each of its 24 rows (but for the last
/// column).
#[derive(Default)]
struct Record {
    bytes: Vec<u8>,
    writes: usize,
    col: u16,
}

impl Emulator for Record {
    fn write(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.writes += 1;
    }

    fn cursor_col(&self) -> u16 {
        self.col
    }

    fn cols(&self) -> u16 {
        80
    }

    fn cursor_row(&self) -> u16 {
        0
    }

    fn rows(&self) -> u16 {
        24
    }

    fn row_blank(&self, _: u16) -> bool {
        false
    }

    fn last_char(&self, _: u16) -> Option<Vec<u8>> {
        None
    }

    fn attributes(&self) -> Vec<u8> {
        Vec::new()
    }

    fn alternate(&self) -> bool {
        false
    }
}

/// What `g` writes for `bytes`.
fn tr(g: &mut VtGaps, bytes: &[u8]) -> Vec<u8> {
    let mut to = Record::default();
    g.feed(bytes, &mut to);
    to.bytes
}

/// Whether `bytes` are written as they are, in one piece.
fn as_given(g: &mut VtGaps, bytes: &[u8]) -> bool {
    let mut to = Record::default();
    g.feed(bytes, &mut to);
    to.bytes == bytes && to.writes == 1
}

fn all(bytes: &[u8]) -> String {
    String::from_utf8(tr(&mut VtGaps::default(), bytes)).unwrap()
}

#[test]
fn any_cut_of_the_output_translates_as_the_whole() {
    let text: &[u8] =
        "plain \x1b[31mred\x1b[m \x1b(0lqqk\x1b(B text \x1b)0\x0ex\x0f \x1b]0;t\x07 \x1b[2;5r end \
         é─🦀\u{fffd}\x1b[4h日é\u{301}\x1b[4l"
            .as_bytes();
    let text = &[text, b"\xff\xe2\x94 \xf0\x9f\x1b[4hx\xe2\x94\x80"].concat()[..];
    let whole = all(text);
    for cut in 1..text.len() {
        let mut g = VtGaps::default();
        let mut pieces = tr(&mut g, &text[..cut]);
        pieces.extend_from_slice(&tr(&mut g, &text[cut..]));
        assert_eq!(String::from_utf8(pieces).unwrap(), whole, "cut at {cut}");
    }
    assert!(whole.contains("┌──┐") && whole.contains("\x1b[2;5r\x1b[H end"));
    assert!(whole.ends_with("\x1b[4h\x1b[1@x\x1b[1@─"), "{whole:?}");
}

/// Whether the output ends inside a sequence, and how many of its last
/// bytes are what has not ended (a character too), fed whole or a byte at
/// a time.
#[test]
fn whether_the_output_ends_inside_a_sequence() {
    for (bytes, inside, pending) in [
        (&b"text"[..], false, 0),
        (b"a\x1b", true, 1),
        (b"a\x1b[3", true, 3),
        (b"a\x1b[31m", false, 0),
        (b"a\x1b[31m\x1b[1", true, 3),
        (b"a\x1b(", true, 2),
        (b"a\x1b]0;title", true, 9),
        (b"a\x1b]0;title\x1b", true, 10),
        (b"a\x1b]0;title\x1b\\", false, 0),
        (b"a\x1b]0;title\x1b[", true, 2),
        (b"a\x1b]0;title\x07", false, 0),
        (b"a\x1bPq#0\x07", true, 6),
        (b"a\x1b[3\x18", false, 0),
        (b"a\x1b[3\r", true, 4),
        (b"a\xc3", false, 1),
        (b"a\xe2\x94", false, 2),
        (b"a\xe2\x94\x8c", false, 0),
        (b"a\x1b[3\x1bc", false, 0),
    ] {
        let mut g = VtGaps::default();
        tr(&mut g, bytes);
        assert_eq!(
            (g.in_sequence(), g.pending()),
            (inside, pending),
            "{bytes:?}"
        );
        let mut g = VtGaps::default();
        for b in bytes {
            tr(&mut g, &[*b]);
        }
        assert_eq!(g.pending(), pending, "{bytes:?} a byte at a time");
    }
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b[3");
    g.restart();
    assert_eq!(g.pending(), 0);
}

#[test]
fn boxes_in_g0_and_g1() {
    assert_eq!(all(b"\x1b(0lqqk\x1b(B lqk"), "\x1b(0┌──┐\x1b(B lqk");
    assert_eq!(
        all(b"\x1b)0a\x0elqk\x0fx"),
        "\x1b)0a\x0e┌─┐\x0fx",
        "G1, shifted out and in"
    );
    assert_eq!(all(b"\x1b(0x\x1bcx"), "\x1b(0│\x1bcx", "a full reset");
}

#[test]
fn a_scroll_region_then_home() {
    assert_eq!(all(b"\x1b[2;5rx\x1b[r"), "\x1b[2;5r\x1b[Hx\x1b[r\x1b[H");
    let others = b"\x1b[?6r\x1b[1;2;3;4;5$r\x1b[>1r";
    assert_eq!(all(others), String::from_utf8_lossy(others), "not DECSTBM");
    let mut g = VtGaps::default();
    assert_eq!(&*tr(&mut g, b"a\x1b[3"), b"a\x1b[3");
    assert_eq!(
        &*tr(&mut g, b";4rb"),
        b";4r\x1b[Hb",
        "cut between two writes"
    );
}

#[test]
fn sequences_and_strings_are_left_alone() {
    assert_eq!(
        all(b"\x1b(0\x1b[1;2m\x1b]2;lqk\x07\x1b]0;q\x1b\\q"),
        "\x1b(0\x1b[1;2m\x1b]2;lqk\x07\x1b]0;q\x1b\\─"
    );
    assert_eq!(
        all(b"\x1b(0\x1b#3q\x1b[?1049hq"),
        "\x1b(0\x1b#3─\x1b[?1049h─"
    );
    assert_eq!(all("\x1b(0é".as_bytes()), "\x1b(0é");
}

#[test]
fn modes_give_another_scanner_the_same_sets_and_insert_mode() {
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b)0\x0e\x1b[4h");
    let mut other = VtGaps::default();
    tr(&mut other, &g.modes(80));
    assert_eq!(
        &*tr(&mut other, b"q\x0fq"),
        "\x1b[1@─\x0f\x1b[1@q".as_bytes()
    );
    assert_eq!(
        VtGaps::default().modes(80),
        b"\x1b(B\x1b)B\x0f\x1b[4l\x1b[?7h"
    );
}

#[test]
fn a_designation_cut_between_two_writes_holds() {
    let mut g = VtGaps::default();
    assert_eq!(&*tr(&mut g, b"ab\x1b("), b"ab\x1b(");
    assert_eq!(&*tr(&mut g, b"0q"), "0─".as_bytes());
    assert!(as_given(&mut g, b"\x1b(Bq"));
}

/// U+FFFD and each maximal invalid subsequence of UTF-8 become the
/// stand-in, which `restore` turns back: what a terminal shows, the
/// rule of `String::from_utf8_lossy`.
#[test]
fn replacement_characters_and_invalid_utf8_read_as_lossy_utf8() {
    assert_eq!(all("a\u{fffd}b".as_bytes()), "a\u{fdd0}b");
    assert_eq!(all(b"ok \xff\xfe bad"), "ok \u{fdd0}\u{fdd0} bad");
    let cases: [&[u8]; 9] = [
        b"a\xef\xbf\xbdb",
        b"\xff\xfe",
        b"x\xe2\x94y\xe2\x94\x80",
        b"\xf0\x9f\x98z\xf0\x9f\x98\x80",
        b"\xed\xa0\x80 surrogate, \xc0\xaf overlong, \xf5\x80 too high",
        b"\x80\x9b\xbf lone continuations and C1 bytes",
        b"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xc3",
        b"\xe2\x94\x1b[m cut by an escape",
        b"\xe2\x94\r\n cut by a line end",
    ];
    for bytes in cases {
        let mut g = VtGaps::default();
        let mut out = tr(&mut g, bytes);
        // The end of the output: a terminal shows a character cut off
        // there once more comes; the lossy rule at the end needs it.
        g.restart();
        out.extend_from_slice(&tr(&mut g, b"."));
        let text = String::from_utf8(out).unwrap();
        let want = String::from_utf8_lossy(&[bytes, b"."].concat()).into_owned();
        let want = if bytes.ends_with(b"\xc3") {
            want.replace("\u{fffd}.", ".")
        } else {
            want
        };
        assert_eq!(restore(&text), want, "{bytes:?}");
        assert!(!restore(&text).contains(STAND_IN));
    }
    assert!(matches!(restore("plain"), Cow::Borrowed("plain")));
    assert!(as_given(&mut VtGaps::default(), "é─".as_bytes()));
    assert!(as_given(
        &mut VtGaps::default(),
        &b"plain text\r\n".repeat(100)
    ));
}

/// A character whose bytes come in two outputs (or more) is held back
/// until its end, never taken for invalid.
#[test]
fn a_character_cut_between_outputs_is_held_back() {
    let mut g = VtGaps::default();
    assert_eq!(&*tr(&mut g, b"a\xf0\x9f"), b"a");
    assert_eq!(&*tr(&mut g, b"\x98"), b"");
    assert_eq!(&*tr(&mut g, b"\x80b"), "😀b".as_bytes());
    assert_eq!(&*tr(&mut g, b"\xe2"), b"");
    assert_eq!(&*tr(&mut g, b"c"), "\u{fdd0}c".as_bytes(), "not continued");
    assert_eq!(&*tr(&mut g, b"\xef\xbf"), b"");
    assert_eq!(&*tr(&mut g, b"\xbd"), "\u{fdd0}".as_bytes(), "a U+FFFD cut");
    assert_eq!(&*tr(&mut g, b"\xf0"), b"");
    assert_eq!(&*tr(&mut g, b"\x9f\x1b[m"), "\u{fdd0}\x1b[m".as_bytes());
    tr(&mut g, b"\xe2\x94");
    g.restart();
    assert_eq!(
        &*tr(&mut g, b"\x80"),
        "\u{fdd0}".as_bytes(),
        "skipped before"
    );
}

/// In insert mode each character drawn comes after an insert of its
/// cells; `CSI ? 4 h` is another mode; resets end it.
#[test]
fn insert_mode_inserts_before_each_character() {
    assert_eq!(all(b"\x1b[4hab\x1b[4lc"), "\x1b[4h\x1b[1@a\x1b[1@b\x1b[4lc");
    assert_eq!(
        all("\x1b[4h日e\u{301}\t\u{fffd}".as_bytes()),
        "\x1b[4h\x1b[2@日\x1b[1@e\u{301}\t\x1b[1@\u{fdd0}"
    );
    assert_eq!(all(b"\x1b[4h\xff"), "\x1b[4h\x1b[1@\u{fdd0}");
    assert_eq!(all(b"\x1b[4h\x1b(0q"), "\x1b[4h\x1b(0\x1b[1@─");
    assert_eq!(all(b"\x1b[20;4hx"), "\x1b[20;4h\x1b[1@x", "among others");
    for other in [
        "\x1b[?4hx",
        "\x1b[14hx",
        "\x1b[4$hx",
        "\x1b[>4hx",
        "\x1b[4 hx",
    ] {
        assert_eq!(all(other.as_bytes()), other, "another mode");
    }
    for (reset, sets_too) in [
        ("\x1b[4;1l", false),
        ("\x1b[4l", false),
        ("\x1bc", true),
        ("\x1b[!p", true),
    ] {
        let mut g = VtGaps::default();
        tr(&mut g, b"\x1b[4h\x1b(0");
        tr(&mut g, reset.as_bytes());
        let want = if sets_too { "q" } else { "─" };
        assert_eq!(&*tr(&mut g, b"q"), want.as_bytes(), "{reset:?}");
    }
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b[4h\x1b[!q\x1b[?!p");
    assert!(tr(&mut g, b"q").starts_with(b"\x1b[1@"), "not DECSTR");
}

/// With autowrap off a character is kept in the last column: moved there
/// when the wrap is pending, the cursor kept there after it.
#[test]
fn autowrap_off_keeps_characters_in_the_last_column() {
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b[?25;7l");
    let mut to = Record {
        col: 80,
        ..Record::default()
    };
    g.feed(b"x", &mut to);
    assert_eq!(to.bytes, b"\x1b[80Gx\x1b[80G", "the wrap pending");
    let mut to = Record {
        col: 3,
        ..Record::default()
    };
    g.feed(b"x", &mut to);
    assert_eq!(to.bytes, b"x", "room left");
    tr(&mut g, b"\x1b[?7h");
    assert!(as_given(&mut g, b"x"), "on again");
    for other in ["\x1b[7l", "\x1b[?17l", "\x1b[>7l"] {
        let mut g = VtGaps::default();
        tr(&mut g, other.as_bytes());
        assert!(as_given(&mut g, b"x"), "{other:?} is another mode");
    }
    for reset in ["\x1bc", "\x1b[!p"] {
        let mut g = VtGaps::default();
        tr(&mut g, b"\x1b[?7l");
        tr(&mut g, reset.as_bytes());
        assert!(as_given(&mut g, b"x"), "{reset:?} turns it on");
    }
}

/// In insert mode a character that does not fit wraps before its insert
/// (a line break, where the wrap does not leave the row).
#[test]
fn insert_mode_wraps_before_the_insert() {
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b[4h");
    let mut to = Record {
        col: 79,
        ..Record::default()
    };
    g.feed("x日".as_bytes(), &mut to);
    assert_eq!(to.bytes, "\x1b[1@x\r\n\x1b[2@日".as_bytes());
}

/// A wide character in the last column, where nothing is drawn, comes
/// after a pad there (for `vt100` to mark the row it wraps from); the
/// cursor is asked at the first of a run of wide characters, counted along
/// it, and asked again where one may not fit.
#[test]
fn a_wide_character_in_the_last_column_after_a_pad() {
    let mut to = Record {
        col: 79,
        ..Record::default()
    };
    VtGaps::default().feed("日".as_bytes(), &mut to);
    assert_eq!(to.bytes, "\u{fdd1}日".as_bytes());
    let mut to = Record {
        col: 70,
        ..Record::default()
    };
    VtGaps::default().feed("x日本語─日".as_bytes(), &mut to);
    assert_eq!((&*to.bytes, to.writes), ("x日本語─日".as_bytes(), 2));
    assert_eq!(restore("a\u{fdd1}"), "a");
    assert_eq!(restore_drawn("a\u{fdd1}"), "a ");
}

/// Text drawn hidden goes on hidden on a terminal given the modes.
#[test]
fn modes_give_hidden() {
    let mut g = VtGaps::default();
    tr(&mut g, b"\x1b[1;8m");
    assert!(g.modes(80).starts_with(b"\x1b(B\x1b)B\x0f\x1b[8m"));
    let mut other = VtGaps::default();
    tr(&mut other, &g.modes(80));
    assert_eq!(
        tr(&mut other, "ab日\x1b[28mc".as_bytes()),
        "  \u{3000}\x1b[28mc".as_bytes()
    );
}
