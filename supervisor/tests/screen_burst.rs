//! The screen model after an output burst too large to parse as it comes:
//! it skips ahead, and what it shows afterwards is still exactly the
//! program's screen (nothing parsed from the middle of a line or of an
//! escape sequence).

mod common;

use common::Env;

/// Draws a header, waits for a line on stdin, then repaints rows 2–23 with
/// absolute cursor moves `FRAMES` times in one write (megabytes), ends with
/// a status line on row 24 and stays alive.
const BURST: &str = r#"
import os, sys
os.write(1, ("\033[?1049h\033[H\033[2JHEADER-LINE\r\n"
    + "".join("filler line %06d\r\n" % i for i in range(20))).encode())
sys.stdin.readline()
frame = "".join("\033[%d;1Hrow %d %s" % (r, r, "z" * 60) for r in range(2, 24))
os.write(1, (frame * int(sys.argv[1]) + "\033[24;1HSTATUS-BOTTOM").encode())
sys.stdin.readline()
"#;

/// Repaints per burst: ~1.7 KB each, so ~3 MB, far over the 256 KiB beyond
/// which the model skips ahead.
const FRAMES: &str = "1800";

/// The screen the burst leaves, as a terminal shows it.
fn expected() -> Vec<String> {
    let mut lines = vec!["HEADER-LINE".to_string()];
    lines.extend((2..24).map(|r| format!("row {r} {}", "z".repeat(60))));
    lines.push("STATUS-BOTTOM".to_string());
    lines
}

#[test]
fn screen_after_a_burst_is_the_programs_screen() {
    let env = Env::new();
    let script = env.dir.path().join("burst.py");
    std::fs::write(&script, BURST).unwrap();
    let script = script.to_str().unwrap();
    // Several sessions at once: where a skip lands varies from run to run.
    let ids: Vec<String> = (0..4).map(|i| format!("burst{i}")).collect();
    for id in &ids {
        let size = ["--cols", "80", "--rows", "24"];
        env.start(id, &size, &["python3", script, FRAMES]);
        env.wait_screen(id, "^HEADER-LINE");
    }
    for id in &ids {
        env.ok(&["send", "--keys", "--gap", "0", id, "Enter"]);
    }
    for id in &ids {
        env.wait_screen(id, "^STATUS-BOTTOM");
        assert_eq!(env.screen_lines(id), expected(), "session {id}");
    }
    for id in &ids {
        env.ok(&["kill", id]);
        env.wait_gone(id);
    }
}

/// A flood of lines, then a clear written before the cursor move
/// (`ESC[2J ESC[H`): the parse after the skip resumes at the move and must
/// still apply the clear, leaving no line of the flood on the screen.
#[test]
fn a_clear_after_a_flood_clears_the_screen() {
    let env = Env::new();
    let flood =
        r#"yes "$(printf %079d 0)" | head -c 8000000; printf "\033[2J\033[HCLEARED\n"; sleep 60"#;
    let ids: Vec<String> = (0..4).map(|i| format!("clear{i}")).collect();
    for id in &ids {
        env.start(id, &["--cols", "80", "--rows", "24"], &["sh", "-c", flood]);
    }
    for id in &ids {
        env.wait_screen(id, "^CLEARED");
        let mut expected = vec!["CLEARED".to_string()];
        expected.resize(24, String::new());
        assert_eq!(env.screen_lines(id), expected, "session {id}");
    }
    for id in &ids {
        env.ok(&["kill", id]);
        env.wait_gone(id);
    }
}

/// One line of a megabyte without a newline (`jq -c` of a big file, a
/// minified bundle): the model skips ahead into the middle of the line,
/// where the tail holds nothing to resume at. What it shows afterwards must
/// still be the line wrapped where the terminal wraps it, the cursor after
/// its last character; it was shifted by where the skip happened to land
/// (32 columns for this line).
#[test]
fn a_megabyte_line_without_a_newline_keeps_its_columns() {
    let env = Env::new();
    // 125,000 numbers of 8 bytes: 1,000,000 bytes, 12,500 rows of 80.
    let line = r#"
import os, sys, time
os.write(1, sys.argv[1].encode())
os.write(1, "".join("%07d," % i for i in range(125000)).encode())
time.sleep(60)
"#;
    // At the session's first byte, and after a line of its own.
    let cases = [("", "long0"), ("header\r\n", "long1")];
    for (before, id) in cases {
        env.start(
            id,
            &["--cols", "80", "--rows", "24"],
            &["python3", "-c", line, before],
        );
    }
    let expected: Vec<String> = (124760..125000)
        .collect::<Vec<_>>()
        .chunks(10)
        .map(|row| row.iter().map(|i| format!("{i:07},")).collect())
        .collect();
    for (_, id) in cases {
        env.wait_screen(id, "0124999,$");
        let screen: serde_json::Value =
            serde_json::from_str(&env.ok(&["screen", id, "--json"])).unwrap();
        let lines: Vec<String> = serde_json::from_value(screen["lines"].clone()).unwrap();
        assert_eq!(lines, expected, "session {id}");
        assert_eq!(
            screen["cursor"]["row"], 23,
            "session {id}: {}",
            screen["cursor"]
        );
        assert_eq!(
            screen["cursor"]["col"], 80,
            "session {id}: {}",
            screen["cursor"]
        );
    }
    for (_, id) in cases {
        env.ok(&["kill", id]);
        env.wait_gone(id);
    }
}

/// An inline image (iTerm2's `ESC ] 1337 ; File=…` with a megabyte of
/// base64, as `imgcat` writes it) is one escape sequence: a terminal shows
/// nothing of it. A skip that lands inside it must not either; the model
/// parsed the rest of the sequence as text and filled the screen with
/// base64.
#[test]
fn a_skip_inside_a_long_escape_sequence_shows_none_of_it() {
    let env = Env::new();
    // The sequence in two writes with a pause between: the model catches
    // up in the pause, with more pending than it parses, inside it.
    let image = r#"
import os, time
os.write(1, b"header\r\n\x1b]1337;File=inline=1:" + b"QUJD" * 150000)
time.sleep(0.5)
os.write(1, b"QUJD" * 100000 + b"\x07\r\nafter the image\r\n")
time.sleep(60)
"#;
    let ids: Vec<String> = (0..2).map(|i| format!("image{i}")).collect();
    for id in &ids {
        env.start(
            id,
            &["--cols", "80", "--rows", "24"],
            &["python3", "-c", image],
        );
    }
    let mut expected = vec![
        "header".to_string(),
        String::new(),
        "after the image".to_string(),
    ];
    expected.resize(24, String::new());
    for id in &ids {
        env.wait_screen(id, "^after the image");
        assert_eq!(env.screen_lines(id), expected, "session {id}");
    }
    for id in &ids {
        env.ok(&["kill", id]);
        env.wait_gone(id);
    }
}
