use super::*;

fn skim(parts: &[&[u8]]) -> Skim {
    let mut s = Skim::default();
    for p in parts {
        s.read(p);
    }
    s
}

#[test]
fn a_string_begun_before_is_continued() {
    // A title cut anywhere: its opening is all of it so far.
    let s = skim(&[b"text\x1b]0;", b"aaa"]);
    assert_eq!(s.opening(), (b"\x1b]0;aaa".to_vec(), 7));
    // An image: its opening only.
    let s = skim(&[b"\x1b]1337;File=:QUFB", b"QUFB"]);
    assert_eq!(s.opening(), (b"\x1b]1337;".to_vec(), 21));
    let s = skim(&[b"\x1b_Gf=100;", b"QUFB"]);
    assert_eq!(s.opening().0, b"\x1b_");
    let s = skim(&[b"\x1bPq#0;2;0;0;0", b"~~"]);
    assert_eq!(s.opening().0, b"\x1bP");
    let s = skim(&[b"\x1b[38;5"]);
    assert_eq!(s.opening().0, b"\x1b[38;5");
    // Ended, or cancelled.
    for ended in [
        &b"\x1b]0;t\x07"[..],
        b"\x1b_Gx\x1b\\",
        b"\x1b]8;;u\x18",
        b"\x1b[1m",
    ] {
        assert_eq!(skim(&[ended]).opening().0, b"");
    }
}

#[test]
fn the_last_title_pen_modes_and_sets_are_kept() {
    let s = skim(&[
        b"\x1b]2;first\x07ab\x1b[?1049h\x1b[1;31mred\x1b[0m",
        b"\x1b[8m\x1b[3;10r\x1b(0\x0e\x1b[4h\x1b]0;last",
        b"\x1b\\\x1b[5;5Hzz\x1b[K",
    ]);
    assert_eq!(
        s.kept(),
        b"\x1b[?1049h\x1b[0m\x1b[8m\x1b[3;10r\x1b(0\x1b[4h\x0e\x1b]0;last\x07".to_vec()
    );
    // A colour flood keeps only its last colours.
    let mut s = Skim::default();
    for i in 0..1000 {
        s.read(format!("\x1b[38;5;{}mx\x1b[4{}my", i % 256, i % 8).as_bytes());
        s.read(format!("\x1b[3{}m\x1b[0mz\x1b[1m", i % 8).as_bytes());
    }
    assert_eq!(s.kept(), b"\x1b[0m\x1b[1m".to_vec());
}

#[test]
fn resume_points_are_outside_strings() {
    let mut s = Skim::default();
    s.read(b"\x1b_G");
    let tail = b"QU\nFB\x1b\\zz\x1b[1m\x1b[5;1Hrow";
    // At the ESC that ends the image (and begins ST).
    let g = s.read_to_ground(tail);
    assert_eq!(g, Some(5));
    assert_eq!(s.read_to_resume(&tail[5..]), Some(Resume::CursorMove(8)));
    assert_eq!(s.kept(), b"\x1b[1m".to_vec());
    let mut s = Skim::default();
    assert_eq!(
        s.read_to_resume(b"ab\x1b]2;x\ny\x07\r\n"),
        Some(Resume::LineStart(10))
    );
    assert_eq!(Skim::default().read_to_resume(b"zz\x1b[2"), None);
    // A move that cuts a sequence short.
    let mut s = Skim::default();
    assert_eq!(
        s.read_to_resume(b"\x1b[1;3\x1b[2;1H"),
        Some(Resume::CursorMove(5))
    );
    assert_eq!(
        s.read_to_resume(b"\x1b(\x1b[H"),
        Some(Resume::CursorMove(2))
    );
}
