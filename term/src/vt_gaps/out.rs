//! [`Out`]: one output's translation, written to the emulator in pieces.

use super::Emulator;

/// One output's translation, written to the emulator in pieces: a copy is
/// made only from the first change in a piece.
pub(super) struct Out<'a> {
    pub(super) src: &'a [u8],
    /// Where the piece not written yet begins in `src`.
    from: usize,
    /// The piece's translation, once it differs from `src`.
    changed: Option<Vec<u8>>,
    /// Where the translation ends in `src` while it is the same (a
    /// character cut off by the end is held back).
    end: usize,
}

impl<'a> Out<'a> {
    pub(super) fn new(src: &'a [u8]) -> Out<'a> {
        Out {
            src,
            from: 0,
            changed: None,
            end: src.len(),
        }
    }

    /// `src[from..to]` unchanged, after what came before.
    pub(super) fn keep(&mut self, from: usize, to: usize) {
        if let Some(changed) = self.changed.as_mut() {
            changed.extend_from_slice(&self.src[from..to]);
        }
    }

    /// The translation up to `at` in `src`, to write what `src` has from
    /// there on changed.
    pub(super) fn change(&mut self, at: usize) -> &mut Vec<u8> {
        let (src, from) = (self.src, self.from);
        self.changed.get_or_insert_with(|| src[from..at].to_vec())
    }

    /// Write the translation of `src` up to `at` to the emulator (to ask
    /// it where the cursor is next).
    pub(super) fn flush(&mut self, at: usize, to: &mut impl Emulator) {
        match self.changed.take() {
            Some(changed) => to.write(&changed),
            None if at > self.from => to.write(&self.src[self.from..at]),
            None => {}
        }
        self.from = at;
    }

    /// Nothing of `src` from `at` on (the last thing done).
    pub(super) fn hold_back(&mut self, at: usize) {
        self.end = at;
    }

    /// Write the rest of the translation.
    pub(super) fn finish(mut self, to: &mut impl Emulator) {
        let end = self.end;
        self.flush(end, to);
    }
}
