//! [`Sgr`]: what an SGR sequence (`CSI … m`) does that `vt100` does not
//! carry out, followed as tmux 3.3a parses SGR: hidden (SGR 8, concealed),
//! and the underlines `vt100` ignores (double, `21`, and the styles of the
//! colon form, `4:0` to `4:5`).

/// What the parameters of a control sequence so far would do were it SGR.
/// Hidden: 8 sets it, 28 and a reset (0, or an empty parameter) end it.
/// Underline: 4, 21 and `4:1` to `4:5` set it, 24, `4:0` and a reset end
/// it. The parameters of an extended colour are skipped, as tmux 3.3a
/// skips them: after 38, 48 or 58 the next parameter gives its kind, and 3
/// more follow it for 2 (`;2;r;g;b`), 1 for 5 (`;5;n`). A parameter with
/// sub-parameters (`38:2::r:g:b`, `8:1`) changes nothing but for `4:n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sgr {
    /// Hidden set (true) or ended (false) by a parameter so far.
    hidden: Option<bool>,
    /// Underline set (true) or ended (false) by a parameter so far.
    underline: Option<bool>,
    /// A parameter so far sets or ends underline where `vt100` does not
    /// (21, `4:n`).
    unknown_underline: bool,
    /// Parameters still to skip: an extended colour's.
    skip: u8,
    /// The next parameter is an extended colour's kind.
    kind: bool,
    /// The parameter being read has sub-parameters: its first one, and its
    /// second if it came.
    group: Option<(u16, Option<u16>)>,
}

impl Sgr {
    /// Before any parameter.
    pub(super) const START: Sgr = Sgr {
        hidden: None,
        underline: None,
        unknown_underline: false,
        skip: 0,
        kind: false,
        group: None,
    };

    /// A (sub-)parameter `n` (0 if empty) ended by `:`.
    pub(super) fn sub(&mut self, n: u16) {
        match &mut self.group {
            None => self.group = Some((n, None)),
            Some((_, second)) => {
                second.get_or_insert(n);
            }
        }
    }

    /// A parameter ended by `;` or the final byte, its last (sub-)parameter
    /// `n` (0 if empty).
    pub(super) fn param(&mut self, n: u16) {
        let group = self
            .group
            .take()
            .map(|(first, second)| (first, second.unwrap_or(n)));
        if self.kind {
            self.kind = false;
            self.skip = match (n, group) {
                (2, None) => 3,
                (5, None) => 1,
                _ => 0,
            };
            return;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        match group {
            Some((4, style @ 0..=5)) => {
                self.underline = Some(style > 0);
                self.unknown_underline = true;
            }
            Some(_) => {}
            None => match n {
                0 => (self.hidden, self.underline) = (Some(false), Some(false)),
                8 => self.hidden = Some(true),
                28 => self.hidden = Some(false),
                4 => self.underline = Some(true),
                24 => self.underline = Some(false),
                21 => {
                    self.underline = Some(true);
                    self.unknown_underline = true;
                }
                38 | 48 | 58 => self.kind = true,
                _ => {}
            },
        }
    }

    /// Whether text is hidden after the sequence, `was` before it.
    pub(super) fn hidden(&self, was: bool) -> bool {
        self.hidden.unwrap_or(was)
    }

    /// What sets underline as the sequence leaves it, for `vt100` after
    /// it, where it does not (it ignores 21 and `4:n`).
    pub(super) fn underline(&self) -> Option<&'static [u8]> {
        match self.underline {
            Some(on) if self.unknown_underline => Some(if on { b"\x1b[4m" } else { b"\x1b[24m" }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SGR of `params` (`;` and `:` between numbers).
    fn parse(params: &str) -> Sgr {
        let mut sgr = Sgr::START;
        let mut n = 0u16;
        for b in params.bytes() {
            match b {
                b':' => sgr.sub(std::mem::take(&mut n)),
                b';' => sgr.param(std::mem::take(&mut n)),
                _ => n = n * 10 + u16::from(b - b'0'),
            }
        }
        sgr.param(n);
        sgr
    }

    #[test]
    fn extended_colours_are_skipped() {
        assert!(!parse("38;5;8").hidden(false));
        assert!(!parse("48;2;8;8;8").hidden(false));
        assert!(parse("58;2;1;2;3;8").hidden(false));
        assert!(parse("38;7;8").hidden(false));
        assert!(parse("38;5:1;8").hidden(false));
        assert!(!parse("38:5:8").hidden(false));
        assert!(parse("38;5;0").hidden(true));
        assert!(!parse("38;5;1;0").hidden(true));
        assert!(parse("8:0").hidden(true));
        assert!(!parse("8;28").hidden(true));
        assert!(!parse("8;").hidden(true));
    }

    #[test]
    fn underlines_vt100_ignores_are_given_it() {
        assert_eq!(parse("21").underline(), Some(&b"\x1b[4m"[..]));
        assert_eq!(parse("4:3").underline(), Some(&b"\x1b[4m"[..]));
        assert_eq!(parse("1;4:0").underline(), Some(&b"\x1b[24m"[..]));
        assert_eq!(parse("21;24").underline(), Some(&b"\x1b[24m"[..]));
        assert_eq!(parse("4:2;0").underline(), Some(&b"\x1b[24m"[..]));
        assert_eq!(parse("4;24;1").underline(), None);
        assert_eq!(parse("38;5;21").underline(), None);
        assert_eq!(parse("4:9").underline(), None);
        assert_eq!(parse("38:5:21").underline(), None);
    }
}
