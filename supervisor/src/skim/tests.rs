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
        b"\x1b[?1049h\x1b[0m\x1b[8m\x1b[3;10r\x1b(0\x0e\x1b[4h\x1b]0;last\x07".to_vec()
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

/// What a terminal shows and keeps after `before`, then `bytes`, then a
/// probe that draws with the pen, character sets and modes in the scroll
/// region.
fn replayed(before: &[u8], bytes: &[u8]) -> (String, String, Vec<u8>, Vec<u8>, bool, bool) {
    let mut t = heimdall_term::Terminal::new(6, 20, 0);
    t.process(before);
    t.process(bytes);
    t.process(b"\x1b[Hq\x1b[20;1Hq\rab\x1b[2;1Hcd");
    let s = t.screen();
    (
        s.contents_formatted(),
        s.input_mode_formatted(),
        t.modes(),
        t.saved_modes(),
        s.alternate_screen(),
        s.hide_cursor(),
    )
}

/// What the skim of `bytes` keeps replays to the state parsing all of them
/// leaves.
fn assert_replays(bytes: &[u8]) {
    let before = b"main1\r\nmain2\x1b[?25h";
    let kept = skim(&[bytes]).kept();
    assert_eq!(
        replayed(before, &kept),
        replayed(before, bytes),
        "{:?} kept as {:?}",
        String::from_utf8_lossy(bytes),
        String::from_utf8_lossy(&kept)
    );
}

/// A spinner hiding and showing the cursor every frame, with colours: the
/// skim keeps each setting once, not once a frame.
#[test]
fn a_mode_set_every_frame_is_kept_once() {
    let frame = b"\x1b[?25l\x1b[32m\x1b[0m\x1b[?2004h\x1b[?25h\x1b[?2004l";
    let mut s = Skim::default();
    let mut all = Vec::new();
    for _ in 0..100_000 {
        s.read(frame);
    }
    for _ in 0..3 {
        all.extend_from_slice(frame);
    }
    assert!(s.kept().len() < 200, "{}", s.kept().len());
    assert_eq!(s.kept(), skim(&[&all]).kept());
    assert_replays(&all);
    // The same across a switch of screens and a clear, each frame.
    let frame = b"\x1b[?1049h\x1b[?25l\x1b[2Jx\x1b[31m\x1b[?1049l\x1b[2J\x1b[?25h\x1b[4h\x1b[4l";
    let mut s = Skim::default();
    for _ in 0..10_000 {
        s.read(frame);
    }
    assert!(s.kept().len() < 1_000, "{}", s.kept().len());
}

/// Mixed settings replay to what parsing them all gives.
#[test]
fn what_is_kept_replays_to_the_same_state() {
    for bytes in [
        &b"\x1b[8m\x1b[?1049halt\x1b[0m\x1b[?25l\x1b[?1049l\x1b[28m"[..],
        b"\x1b[8m\x1b[?1049h\x1b[0mx\x1b[?1049l",
        b"\x1b[?1049h\x1b[8m\x1b[?1049l",
        b"\x1b(0\x1b[?1049h\x1b(B\x1b[?1049l\x1b[?25l\x1b[?25h\x1b[?25l",
        b"\x1b[2;4r\x1b[?6h\x1b[3;5r\x1b[?6l\x1b[1;6r",
        b"\x1b[2;4r\x1b[3;5r",
        b"\x1b[44m\x1b[2J\x1b[41m\x1b[0m\x1b[2J\x1b[43m",
        b"\x1b[43m\x1b[2J\x1b[0m\x1b[?1049h\x1b[42m\x1b[2J\x1b[?1049l",
        b"\x1b[?25l\x1b[4h\x1b[3;4r\x1b(0\x0e\x1bc\x1b[?7l\x1b[1m",
        b"\x1b[?47hA\x1b[?25;1l\x1b[?47l\x1b[?1047h\x1b[?1047;25h\x1b[?1047l",
        b"\x1b)0\x0e\x1b)B\x0f\x1b)0\x1b[2J\x0e",
        b"\x1b[?1;2004h\x1b=\x1b[?1l\x1b>\x1b[?1000h\x1b[?1006h\x1b[?1000l",
        // SGRs among cursor moves, modes, clears and shifts.
        b"\x1b[1;34m\x1b[0m\x1b[32m\x1b[m\x1b[5;1H\x1b[31m\x1b[?25l\x1b[44m\x1b[2J\x1b[0;35m\x1b[3\x1b[33m\x0e\x1b[4m",
        b"\x1b[7m\x1b[38;5;100m\x1b[48;2;1;2;3m\x1b[1m\x1b[22;39m\x1b[3;4H",
        // Visits to the alternate screen.
        b"\x1b[8m\x1b(0\x0e\x1b[?1049h\x1b[0m\x1b(B\x0f\x1b[2;5r\x1b[?25l\x1b=\x1b[2J\x1b[?1049l",
        b"\x1b[31m\x1b[?1049h\x1b[32m\x1b[?1049l\x1b[33m\x1b[?1049h\x1b[?1049l\x1b[1m",
        b"\x1b[31m\x1b[?1049h\x1b[?1049l\x1b[0m\x1b[2J\x1b[?1049h\x1b[44m\x1b[2J\x1b[?1049l",
        b"\x1b[?1049h\x1b[31m\x1b[?1049h\x1b[32m\x1b[?1049l\x1b[33m",
        b"\x1b[?47h\x1b[?1049h\x1b[35m\x1b[?1049l\x1b[?47l",
        b"\x1b[2;4r\x1b[?1049h\x1b[3;5r\x1b[?1049l",
        b"\x1b[?1049h\x1b[?1049l\x1b[?1049l\x1b[36m",
    ] {
        assert_replays(bytes);
    }
}

/// SGRs are kept from the last reset on whatever pieces the bytes come in,
/// among the other sequences in order.
#[test]
fn sgrs_among_other_sequences_are_kept_in_any_pieces() {
    let bytes: &[u8] = b"a\x1b[1;34mdir\x1b[0m \x1b[32mexe\x1b[m\x1b[5;1H\x1b[31m\x1b[?25lx\
\x1b[44m\x1b[2Jy\x1b[0;35mz\x1b[3\x1b[33m\x0e\x1b[4m\x1b[3\x18m\x1b[?1049hq\x1b[41m\
\x1b[?1049l\x1b[7m\r\n\x1b[38;5;100m\x1b[48;2;1;2;3mw\x1b]0;t\x07\x1b[1m";
    let whole = skim(&[bytes]).kept();
    for cut in 1..bytes.len() {
        assert_eq!(
            skim(&[&bytes[..cut], &bytes[cut..]]).kept(),
            whole,
            "cut at {cut}"
        );
    }
    let mut s = Skim::default();
    bytes.chunks(1).for_each(|b| s.read(b));
    assert_eq!(s.kept(), whole);
    // Read up to a resume point, then on.
    let mut s = Skim::default();
    let at = match s.read_to_resume(bytes) {
        Some(Resume::CursorMove(at) | Resume::LineStart(at)) => at,
        None => panic!("no resume point"),
    };
    assert_eq!(s.kept(), skim(&[&bytes[..at]]).kept());
}

/// Output made of `n` random pieces: text, SGRs (resets among them),
/// cursor moves, modes, switches of screens, clears, scroll regions,
/// shifts, titles, sequences cut by CAN or a long run of parameters.
fn random_output(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move |m: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as usize
    };
    let pieces: &[&[u8]] = &[
        b"the quick brown fox ",
        b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq",
        b"\r\n",
        b"\x1b[1;31m",
        b"\x1b[0m",
        b"\x1b[m",
        b"\x1b[;32m",
        b"\x1b[38;5;208m",
        b"\x1b[48;2;1;2;3m",
        b"\x1b[44m",
        b"\x1b[5;1H",
        b"\x1b[K",
        b"\x1b[?25l",
        b"\x1b[?25h",
        b"\x1b[?1049h",
        b"\x1b[?1049l",
        b"\x1b[4h",
        b"\x1b[2J",
        b"\x1b[3;10r",
        b"\x1b(0",
        b"\x0e",
        b"\x0f",
        b"\x1b7",
        b"\x1b]0;a title\x07",
        b"\x1b[3\x18m",
        b"\x1b[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17;18;19;20;21;22;23;24;25;26m",
        b"\x1b[?",
        b"\x1b",
    ];
    let mut out = Vec::new();
    for _ in 0..n {
        out.extend_from_slice(pieces[next(pieces.len())]);
    }
    out
}

/// Reading 64 bytes at once (a colour flood's fast path) keeps what
/// reading a byte at a time keeps, wherever sequences fall in the blocks.
#[test]
fn blocks_read_as_bytes_do() {
    for seed in 1..200 {
        let bytes = random_output(seed, 60);
        let whole = skim(&[&bytes]);
        let mut bytewise = Skim::default();
        bytes.chunks(1).for_each(|b| bytewise.read(b));
        assert_eq!(whole.kept(), bytewise.kept(), "seed {seed}");
        assert_eq!(whole.opening(), bytewise.opening(), "seed {seed}");
    }
}
