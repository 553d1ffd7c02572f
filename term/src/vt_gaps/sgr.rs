//! [`Sgr`]: what an SGR sequence (`CSI … m`) does to hidden (SGR 8,
//! concealed), which `vt100` ignores, followed as tmux 3.3a parses SGR.

/// What the parameters of a control sequence so far would do to hidden
/// were it SGR: 8 sets it, 28 and a reset (0, or an empty parameter) end
/// it. The parameters of an extended colour are skipped, as tmux 3.3a
/// skips them: after 38, 48 or 58 the next parameter gives its kind, and
/// 3 more follow it for 2 (`;2;r;g;b`), 1 for 5 (`;5;n`). A parameter with
/// sub-parameters (`38:2::r:g:b`, `4:3`, `8:1`) never changes hidden.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sgr {
    /// Hidden set (true) or ended (false) by a parameter so far.
    hidden: Option<bool>,
    /// Parameters still to skip: an extended colour's.
    skip: u8,
    /// The next parameter is an extended colour's kind.
    kind: bool,
}

impl Sgr {
    /// Before any parameter.
    pub(super) const START: Sgr = Sgr {
        hidden: None,
        skip: 0,
        kind: false,
    };

    /// A parameter ended: `n` (0 if empty), or one with sub-parameters
    /// (`colon`), whose numbers do not matter.
    pub(super) fn param(&mut self, n: u16, colon: bool) {
        if self.kind {
            self.kind = false;
            self.skip = match (n, colon) {
                (2, false) => 3,
                (5, false) => 1,
                _ => 0,
            };
        } else if self.skip > 0 {
            self.skip -= 1;
        } else if !colon {
            match n {
                0 | 28 => self.hidden = Some(false),
                8 => self.hidden = Some(true),
                38 | 48 | 58 => self.kind = true,
                _ => {}
            }
        }
    }

    /// Whether text is hidden after the sequence, `was` before it.
    pub(super) fn hidden(&self, was: bool) -> bool {
        self.hidden.unwrap_or(was)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hidden after parameters `params` (each with whether it has
    /// sub-parameters), from `was`.
    fn after(was: bool, params: &[(u16, bool)]) -> bool {
        let mut sgr = Sgr::START;
        for &(n, colon) in params {
            sgr.param(n, colon);
        }
        sgr.hidden(was)
    }

    #[test]
    fn extended_colours_are_skipped() {
        let plain = |ns: &[u16]| ns.iter().map(|&n| (n, false)).collect::<Vec<_>>();
        assert!(!after(false, &plain(&[38, 5, 8])));
        assert!(!after(false, &plain(&[48, 2, 8, 8, 8])));
        assert!(after(false, &plain(&[58, 2, 1, 2, 3, 8])));
        assert!(after(false, &plain(&[38, 7, 8])));
        assert!(after(false, &[(38, false), (5, true), (8, false)]));
        assert!(!after(false, &[(38, true), (8, false)][..1]));
        assert!(after(true, &plain(&[38, 5, 0])));
        assert!(!after(true, &plain(&[38, 5, 1, 0])));
        assert!(after(true, &[(8, true), (0, true)]));
        assert!(!after(true, &plain(&[8, 28])));
    }
}
