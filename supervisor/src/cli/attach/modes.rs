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
    // Keys as escape sequences (vim asks for modifyOtherKeys, neovim for
    // the kitty protocol): left on, Ctrl-C in the user's shell was no
    // interrupt any more.
    (
        "xterm's modifyOtherKeys: the terminal's default",
        "\x1b[>4m",
    ),
    (
        "kitty keyboard protocol: the program's flags popped",
        "\x1b[<u",
    ),
    ("application keypad", "\x1b>"),
    ("autowrap on", "\x1b[?7h"),
    ("insert mode off", "\x1b[4l"),
    (
        "character sets: ASCII in G0 and G1, G0 in use",
        "\x1b(B\x1b)B\x0f",
    ),
    // DECSTBM homes the cursor: saved and restored around it.
    ("scroll region", "\x1b7\x1b[r\x1b8"),
];

/// Tab stops every 8 columns, the default ones, on a terminal `cols` wide:
/// all cleared (TBC) and set again (HTS), the cursor saved and restored
/// around it. A program's stops (`tabs 4`) reach the terminal with its
/// output as it is, or with the redraw that gives them; tmux 3.3a has no
/// DECST8C (`CSI ? 5 W`) to ask for the defaults.
fn default_tab_stops(cols: u16) -> String {
    let mut out = String::from("\x1b7\x1b[3g");
    for col in (9..=cols).step_by(8) {
        out.push_str(&format!("\x1b[{col}G\x1bH"));
    }
    out.push_str("\x1b8");
    out
}

/// Leaving the alternate screen (the view's, or the program's) restores the
/// cursor saved when it was entered. Sent only on it: on the normal screen
/// tmux too restores the cursor its pane's last `ESC[?1049h` saved, and the
/// lines after it were written over the top rows.
const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";

/// Character attributes (SGR) back to the default, last (leaving the
/// alternate screen may restore those saved with the cursor).
const RESET_ATTRIBUTES: &str = "\x1b[0m";

/// Bytes that hand the real terminal back: the modes a program may have
/// turned on are reset, the alternate screen (and with it the bar) is left
/// if the terminal is on it (`alternate_screen`), the user's screen is back,
/// with the default tab stops for a terminal `cols` wide.
pub fn leave(alternate_screen: bool, cols: u16) -> Vec<u8> {
    let mut out: Vec<u8> = RESETS.iter().flat_map(|(_, seq)| seq.bytes()).collect();
    out.extend_from_slice(default_tab_stops(cols).as_bytes());
    if alternate_screen {
        out.extend_from_slice(LEAVE_ALTERNATE_SCREEN.as_bytes());
    }
    out.extend_from_slice(RESET_ATTRIBUTES.as_bytes());
    out
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
            let alternate = p.screen().alternate_screen();
            p.process(&leave(alternate, 80));
            assert_eq!(p.screen().cursor_position(), (20, 0), "{program:?}");
            assert!(!p.screen().alternate_screen());
        }
    }
}
