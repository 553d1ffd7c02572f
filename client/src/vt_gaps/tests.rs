//! Tests of [`super::VtGaps`] and [`super::restore`].

use super::*;

fn all(bytes: &[u8]) -> String {
    String::from_utf8(VtGaps::default().translate(bytes).into_owned()).unwrap()
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
        let mut pieces = g.translate(&text[..cut]).into_owned();
        pieces.extend_from_slice(&g.translate(&text[cut..]));
        assert_eq!(String::from_utf8(pieces).unwrap(), whole, "cut at {cut}");
    }
    assert!(whole.contains("┌──┐") && whole.contains("\x1b[2;5r\x1b[H end"));
    assert!(whole.ends_with("\x1b[4h\x1b[1@x\x1b[1@─"), "{whole:?}");
}

#[test]
fn whether_the_output_ends_inside_a_sequence() {
    for (bytes, inside) in [
        (&b"text"[..], false),
        (b"a\x1b", true),
        (b"a\x1b[3", true),
        (b"a\x1b[31m", false),
        (b"a\x1b(", true),
        (b"a\x1b]0;title", true),
        (b"a\x1b]0;title\x1b", true),
        (b"a\x1b]0;title\x1b\\", false),
        (b"a\x1b[3\x18", false),
    ] {
        let mut g = VtGaps::default();
        g.translate(bytes);
        assert_eq!(g.in_sequence(), inside, "{bytes:?}");
    }
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
    assert_eq!(&*g.translate(b"a\x1b[3"), b"a\x1b[3");
    assert_eq!(
        &*g.translate(b";4rb"),
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
        all(b"\x1b(0\x1b#8q\x1b[?1049hq"),
        "\x1b(0\x1b#8─\x1b[?1049h─"
    );
    assert_eq!(all("\x1b(0é".as_bytes()), "\x1b(0é");
}

#[test]
fn modes_give_another_scanner_the_same_sets_and_insert_mode() {
    let mut g = VtGaps::default();
    g.translate(b"\x1b)0\x0e\x1b[4h");
    let mut other = VtGaps::default();
    other.translate(&g.modes());
    assert_eq!(
        &*other.translate(b"q\x0fq"),
        "\x1b[1@─\x0f\x1b[1@q".as_bytes()
    );
    assert_eq!(VtGaps::default().modes(), b"\x1b(B\x1b)B\x0f\x1b[4l");
}

#[test]
fn a_designation_cut_between_two_writes_holds() {
    let mut g = VtGaps::default();
    assert_eq!(&*g.translate(b"ab\x1b("), b"ab\x1b(");
    assert_eq!(&*g.translate(b"0q"), "0─".as_bytes());
    assert!(matches!(g.translate(b"\x1b(Bq"), Cow::Borrowed(_)));
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
        let mut out = g.translate(bytes).into_owned();
        // The end of the output: a terminal shows a character cut off
        // there once more comes; the lossy rule at the end needs it.
        g.restart();
        out.extend_from_slice(&g.translate(b"."));
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
    assert!(matches!(
        VtGaps::default().translate("é日".as_bytes()),
        Cow::Borrowed(_)
    ));
}

/// A character whose bytes come in two outputs (or more) is held back
/// until its end, never taken for invalid.
#[test]
fn a_character_cut_between_outputs_is_held_back() {
    let mut g = VtGaps::default();
    assert_eq!(&*g.translate(b"a\xf0\x9f"), b"a");
    assert_eq!(&*g.translate(b"\x98"), b"");
    assert_eq!(&*g.translate(b"\x80b"), "😀b".as_bytes());
    assert_eq!(&*g.translate(b"\xe2"), b"");
    assert_eq!(&*g.translate(b"c"), "\u{fdd0}c".as_bytes(), "not continued");
    assert_eq!(&*g.translate(b"\xef\xbf"), b"");
    assert_eq!(
        &*g.translate(b"\xbd"),
        "\u{fdd0}".as_bytes(),
        "a U+FFFD cut"
    );
    assert_eq!(&*g.translate(b"\xf0"), b"");
    assert_eq!(&*g.translate(b"\x9f\x1b[m"), "\u{fdd0}\x1b[m".as_bytes());
    g.translate(b"\xe2\x94");
    g.restart();
    assert_eq!(
        &*g.translate(b"\x80"),
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
        g.translate(b"\x1b[4h\x1b(0");
        g.translate(reset.as_bytes());
        let want = if sets_too { "q" } else { "─" };
        assert_eq!(&*g.translate(b"q"), want.as_bytes(), "{reset:?}");
    }
    let mut g = VtGaps::default();
    g.translate(b"\x1b[4h\x1b[!q\x1b[?!p");
    assert!(g.translate(b"q").starts_with(b"\x1b[1@"), "not DECSTR");
}
