//! Whether the program's output, passed to the terminal as it is, left the
//! terminal on the alternate screen: leaving must switch back only then, as
//! `ESC[?1049l` on the normal screen is not harmless everywhere (tmux moves
//! the cursor to where the pane's last `ESC[?1049h` saved it).

/// The sequences that switch screens, and the screen each leaves on.
const SWITCHES: [(&[u8], bool); 6] = [
    (b"\x1b[?1049h", true),
    (b"\x1b[?1049l", false),
    (b"\x1b[?1047h", true),
    (b"\x1b[?1047l", false),
    (b"\x1b[?47h", true),
    (b"\x1b[?47l", false),
];

/// The longest switch's length.
const LONGEST: usize = 8;

/// The alternate screen's state, followed through the output.
#[derive(Debug, Default)]
pub struct AltScreen {
    on: bool,
    /// The end of the last piece: the start of a switch cut in two.
    tail: Vec<u8>,
}

impl AltScreen {
    /// The terminal was painted (or taken over): it is on the alternate
    /// screen if `on`.
    pub fn set(&mut self, on: bool) {
        self.on = on;
        self.tail.clear();
    }

    /// Whether the terminal is on the alternate screen.
    pub fn on(&self) -> bool {
        self.on
    }

    /// Output passed to the terminal.
    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.tail.is_empty() {
            let mut seam = std::mem::take(&mut self.tail);
            seam.extend_from_slice(&bytes[..bytes.len().min(LONGEST - 1)]);
            if let Some(on) = switch_at(&seam) {
                self.on = on;
            } else if is_start(&seam) {
                // Still cut: the piece was shorter than the rest of it.
                self.tail = seam;
            }
        }
        // Every chunk of output passes here: a vectorised search for ESC.
        for i in memchr::memchr_iter(0x1b, bytes) {
            let rest = &bytes[i..];
            if let Some(on) = switch_at(rest) {
                self.on = on;
            } else if is_start(rest) {
                self.tail = rest.to_vec();
            }
        }
    }
}

/// Whether `bytes` is the start of a switch, cut before its end.
fn is_start(bytes: &[u8]) -> bool {
    bytes.len() < LONGEST && SWITCHES.iter().any(|(s, _)| s.starts_with(bytes))
}

/// The screen a switch at the start of `bytes` leaves on.
fn switch_at(bytes: &[u8]) -> Option<bool> {
    SWITCHES
        .iter()
        .find(|(seq, _)| bytes.starts_with(seq))
        .map(|&(_, on)| on)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_switches_whole_and_cut_anywhere() {
        let out = b"a\x1b[?1049hvim\x1b[?1049lb\x1b[?47hc";
        for cut in 0..=out.len() {
            let mut a = AltScreen::default();
            a.feed(&out[..cut]);
            a.feed(&out[cut..]);
            assert!(a.on(), "cut at {cut}");
        }
        let mut a = AltScreen::default();
        for b in out {
            a.feed(&[*b]);
        }
        assert!(a.on());
        a.feed(b"\x1b[?1049l");
        assert!(!a.on());
    }

    #[test]
    fn other_modes_change_nothing() {
        let mut a = AltScreen::default();
        a.set(true);
        a.feed(b"\x1b[?1004l\x1b[?25l\x1b[?104");
        a.feed(b"9x");
        assert!(a.on());
    }
}
