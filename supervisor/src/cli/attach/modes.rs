//! Handing the real terminal back: every mode a program may have turned on
//! (through the output as it is, or the view's rendering of its screen) is
//! turned off, as tmux does on detach, so the user's shell gets the
//! terminal as it was.

/// Each mode with the sequence that turns it off, in the order sent.
const RESETS: &[(&str, &str)] = &[
    (
        "cursor shape (DECSCUSR): the terminal's default",
        "\x1b[0 q",
    ),
    ("cursor visible", "\x1b[?25h"),
    ("focus events", "\x1b[?1004l"),
    ("bracketed paste", "\x1b[?2004l"),
    ("X10 mouse", "\x1b[?9l"),
    ("normal mouse tracking", "\x1b[?1000l"),
    ("highlight mouse tracking", "\x1b[?1001l"),
    ("button-event mouse tracking", "\x1b[?1002l"),
    ("any-event mouse tracking", "\x1b[?1003l"),
    ("UTF-8 mouse encoding", "\x1b[?1005l"),
    ("SGR mouse encoding", "\x1b[?1006l"),
    ("urxvt mouse encoding", "\x1b[?1015l"),
    ("SGR-pixel mouse encoding", "\x1b[?1016l"),
    ("application cursor keys", "\x1b[?1l"),
    ("application keypad", "\x1b>"),
    ("autowrap on", "\x1b[?7h"),
    ("insert mode off", "\x1b[4l"),
    // DECSTBM homes the cursor: saved and restored around it. Then the
    // alternate screen is left (the view's, or the program's), which
    // restores the cursor saved when it was entered; on the normal screen
    // it restores the one just saved, so the cursor stays where it is.
    ("scroll region", "\x1b7\x1b[r\x1b8"),
    ("alternate screen", "\x1b[?1049l"),
    ("character attributes (SGR)", "\x1b[0m"),
];

/// Bytes that hand the real terminal back: the modes a program may have
/// turned on are reset, the alternate screen (and with it the bar) is left,
/// the user's screen is back.
pub fn leave() -> Vec<u8> {
    RESETS.iter().flat_map(|(_, seq)| seq.bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the program left on screen, leaving keeps the cursor where
    /// the output ended (the "[detached ...]" line goes below it, not over
    /// the top row).
    #[test]
    fn leaving_keeps_the_cursor_in_place() {
        for program in [
            &b"\x1b[3;10r\x1b[20;1Hline\r\n"[..],
            b"\x1b[20;1Hline\r\n\x1b[?1049h\x1b[5;5Hin alt",
        ] {
            let mut p = vt100::Parser::new(
                std::num::NonZeroU16::new(24).unwrap_or(std::num::NonZeroU16::MIN),
                std::num::NonZeroU16::new(80).unwrap_or(std::num::NonZeroU16::MIN),
                0,
            );
            p.process(program);
            p.process(&leave());
            assert_eq!(p.screen().cursor_position(), (20, 0), "{program:?}");
            assert!(!p.screen().alternate_screen());
        }
    }
}
