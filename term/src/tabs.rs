//! Tab stops, which `vt100` does not keep (its tab always goes to the next
//! multiple of 8): every 8 columns until a program sets one (HTS) or clears
//! them (TBC), then the columns it set.

/// Columns a stop can be at (`vt100`'s columns are `u16`).
const WORDS: usize = (u16::MAX as usize + 1) / 64;

/// A word of the default stops: every 8 columns.
const EVERY_8: u64 = 0x0101_0101_0101_0101;

/// The tab stops of a terminal.
#[derive(Debug, Clone, Default)]
pub(crate) struct TabStops {
    /// The stops a program set (bit `c` for column `c`), or None while they
    /// are the default ones.
    custom: Option<Box<[u64]>>,
}

impl TabStops {
    /// Whether the stops are every 8 columns (where `vt100` puts a tab).
    pub(crate) fn is_default(&self) -> bool {
        self.custom.is_none()
    }

    /// Set a stop at `col` (HTS) on a terminal `cols` wide.
    pub(crate) fn set(&mut self, col: u16, cols: u16) {
        let bits = self.bits();
        bits[usize::from(col) / 64] |= 1 << (col % 64);
        self.settle(cols);
    }

    /// Clear the stop at `col` (TBC 0) on a terminal `cols` wide.
    pub(crate) fn clear(&mut self, col: u16, cols: u16) {
        let bits = self.bits();
        bits[usize::from(col) / 64] &= !(1 << (col % 64));
        self.settle(cols);
    }

    /// Clear every stop (TBC 3).
    pub(crate) fn clear_all(&mut self) {
        self.custom = Some(vec![0; WORDS].into_boxed_slice());
    }

    /// The column `n` stops right of `col` on a terminal `cols` wide (HT,
    /// CHT): the last column when there are not as many.
    pub(crate) fn forward(&self, col: u16, n: u16, cols: u16) -> u16 {
        let last = cols.saturating_sub(1);
        let mut at = col.min(last);
        for _ in 0..n.max(1) {
            match (at + 1..=last).find(|&c| self.is_stop(c)) {
                Some(c) => at = c,
                None => return last,
            }
        }
        at
    }

    /// The column `n` stops left of `col` on a terminal `cols` wide (CBT):
    /// the first column when there are not as many.
    pub(crate) fn back(&self, col: u16, n: u16, cols: u16) -> u16 {
        let mut at = col.min(cols.saturating_sub(1));
        for _ in 0..n.max(1) {
            match (0..at).rev().find(|&c| self.is_stop(c)) {
                Some(c) => at = c,
                None => return 0,
            }
        }
        at
    }

    /// The stops left of column `cols`.
    pub(crate) fn stops(&self, cols: u16) -> impl Iterator<Item = u16> + '_ {
        (0..cols).filter(|&c| self.is_stop(c))
    }

    fn is_stop(&self, col: u16) -> bool {
        match &self.custom {
            None => col % 8 == 0,
            Some(bits) => bits[usize::from(col) / 64] & (1 << (col % 64)) != 0,
        }
    }

    /// The stops as bits, the default ones made explicit first.
    fn bits(&mut self) -> &mut [u64] {
        self.custom
            .get_or_insert_with(|| vec![EVERY_8; WORDS].into_boxed_slice())
    }

    /// Back to the default stops when the stops are theirs on the screen's
    /// columns (`tabs -8` or `tput init` set them all again): text is then
    /// played as it comes, without a look at the cursor for each tab.
    fn settle(&mut self, cols: u16) {
        let Some(bits) = &self.custom else { return };
        // (A stop at column 0 is never gone to but by the first column.)
        let default =
            (1..cols).all(|c| (bits[usize::from(c) / 64] & (1 << (c % 64)) != 0) == (c % 8 == 0));
        if default {
            self.custom = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_stops_are_every_8_columns() {
        let t = TabStops::default();
        assert_eq!(t.forward(0, 1, 80), 8);
        assert_eq!(t.forward(8, 2, 80), 24);
        assert_eq!(t.forward(75, 1, 80), 79, "no stop left: the last column");
        assert_eq!(t.back(17, 1, 80), 16);
        assert_eq!(t.back(17, 3, 80), 0);
        assert_eq!(t.back(3, 5, 80), 0);
    }

    #[test]
    fn set_and_cleared_stops() {
        let mut t = TabStops::default();
        t.clear_all();
        assert_eq!(t.forward(0, 1, 80), 79);
        t.set(5, 80);
        t.set(30, 80);
        assert!(!t.is_default());
        assert_eq!(t.forward(0, 1, 80), 5);
        assert_eq!(t.forward(5, 1, 80), 30);
        assert_eq!(t.forward(0, 2, 80), 30);
        assert_eq!(t.back(79, 1, 80), 30);
        assert_eq!(t.stops(80).collect::<Vec<_>>(), [5, 30]);
        t.clear(5, 80);
        assert_eq!(t.forward(0, 1, 80), 30);
        assert_eq!(
            t.forward(0, 1, 20),
            19,
            "beyond the screen: the last column"
        );
    }

    #[test]
    fn stops_set_again_every_8_columns_are_the_default_ones() {
        let mut t = TabStops::default();
        t.clear_all();
        for c in (8..80).step_by(8) {
            t.set(c, 80);
        }
        assert!(t.is_default());
    }
}
