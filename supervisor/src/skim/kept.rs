//! The state-setting sequences a skim keeps, each kind of state once: a
//! sequence replaces the last one that set the same state, unless one
//! whose effect depends on that state (a switch of screens, which saves
//! and restores the cursor with its pen and character sets; a clear of the
//! screen, in the pen's background) lies between them. What is kept is so
//! bounded by the kinds of state set, not by how often they are set (a
//! spinner hiding and showing the cursor every frame keeps two sequences).
//! A visit to the alternate screen (`CSI ? 1049 h` … `l`, from the main
//! screen) is kept as the save of the cursor it did (`ESC 7`) and the
//! modes set on the way, which outlive it: the pen, character sets and
//! clears in between are undone by its end.

/// What a kept sequence sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    /// A switch of screens, a save or restore of the cursor, a change of
    /// the origin mode or the column mode, a reset: kept where it is, and
    /// nothing is replaced across it.
    Switch,
    /// A clear of the screen (in the pen's background).
    Clear,
    /// A mode (private or not, its number) other than a switch.
    Mode(bool, u16),
    /// The scroll region.
    Region,
    /// The character set designated to G0–G3.
    Charset(u8),
    /// Shift out or in (G1 or G0 in use).
    Shift,
    /// The keypad's mode.
    Keypad,
    /// A save of the cursor with its pen and character sets (`ESC 7`, what
    /// a visit to the alternate screen leaves).
    Save,
    /// An SGR and what it sets.
    Sgr(Pen),
}

/// What one SGR sets, as far as a later one can replace it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pen {
    Foreground,
    Background,
    /// All of the pen (a reset first).
    Reset,
    Other,
}

/// Kept sequences, in order: their bytes one after another, and each one's
/// kind and length.
#[derive(Debug, Clone, Default)]
pub(super) struct Kept {
    bytes: Vec<u8>,
    entries: Vec<(Key, usize)>,
    /// Whether the kept sequences leave the alternate screen on.
    alt: bool,
    /// Whether the alternate screen was off before the last switch kept,
    /// when that switch is `CSI ? 1049 h`.
    visit: bool,
}

/// Entering and leaving the alternate screen with the cursor saved.
const ENTER: &[u8] = b"\x1b[?1049h";
const LEAVE: &[u8] = b"\x1b[?1049l";

impl Kept {
    /// The kept sequences, in order.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Keep the sequence made of `parts`, which sets `key`, replacing what
    /// it makes pointless.
    pub(super) fn push(&mut self, key: Key, parts: &[&[u8]]) {
        if key == Key::Switch && self.end_visit(parts) {
            return;
        }
        let len = parts.iter().map(|p| p.len()).sum();
        let replaced = self.replaced(key, parts);
        let mut again = Vec::new();
        if let Some(i) = replaced {
            // A clear or a save replaced: what followed it may now replace
            // what came before it.
            again = if matches!(key, Key::Clear | Key::Save) {
                self.take_from(i + 1)
            } else {
                Vec::new()
            };
            self.remove(i);
        }
        if let (Key::Sgr(Pen::Reset), Some(from)) = (key, self.since_pen_barrier()) {
            // A reset of the pen: the SGRs since its last use no longer count.
            let mut i = self.entries.len();
            while i > from {
                i -= 1;
                if matches!(self.entries[i].0, Key::Sgr(_)) {
                    self.remove(i);
                }
            }
        }
        for (k, b) in again {
            self.push(k, &[&b]);
        }
        if key == Key::Switch {
            let bytes: Vec<u8> = parts.concat();
            self.visit = !self.alt && bytes == ENTER;
            match bytes.last() {
                Some(b'h') if is_alt_screen(&bytes) => self.alt = true,
                Some(b'l') if is_alt_screen(&bytes) => self.alt = false,
                _ => {}
            }
        }
        parts.iter().for_each(|p| self.bytes.extend_from_slice(p));
        self.entries.push((key, len));
    }

    /// Whether `parts`, a switch, ends a visit to the alternate screen
    /// begun by the last switch kept, and the visit is now kept as the
    /// save of the cursor it did and the modes set during it.
    fn end_visit(&mut self, parts: &[&[u8]]) -> bool {
        if !self.visit || !same_bytes(parts, LEAVE) {
            return false;
        }
        let Some(enter) = self.entries.iter().rposition(|(k, _)| *k == Key::Switch) else {
            return false;
        };
        let during = self.take_from(enter + 1);
        self.remove(enter);
        self.visit = false;
        self.alt = false;
        self.push(Key::Save, &[b"\x1b7"]);
        for (k, b) in during {
            if matches!(k, Key::Mode(..) | Key::Keypad) {
                self.push(k, &[&b]);
            }
        }
        true
    }

    /// The entry a new one setting `key` with `parts` replaces.
    fn replaced(&self, key: Key, parts: &[&[u8]]) -> Option<usize> {
        if key == Key::Switch {
            return None;
        }
        let mut end = self.bytes.len();
        for (i, &(k, len)) in self.entries.iter().enumerate().rev() {
            let start = end - len;
            let same = match (k, key) {
                (Key::Sgr(a), Key::Sgr(b)) => {
                    (a == b && matches!(a, Pen::Foreground | Pen::Background))
                        || same_bytes(parts, &self.bytes[start..end])
                }
                _ => k == key,
            };
            if same {
                return Some(i);
            }
            let barrier = match key {
                Key::Sgr(_) => matches!(k, Key::Switch | Key::Clear | Key::Save),
                Key::Charset(_) | Key::Shift => matches!(k, Key::Switch | Key::Save),
                Key::Mode(..) | Key::Keypad => false,
                _ => k == Key::Switch,
            };
            if barrier {
                return None;
            }
            end = start;
        }
        None
    }

    /// The first entry after the last one the pen matters to (a switch, a
    /// clear or a save), `None` when there are no entries after it.
    fn since_pen_barrier(&self) -> Option<usize> {
        let from = self
            .entries
            .iter()
            .rposition(|(k, _)| matches!(k, Key::Switch | Key::Clear | Key::Save))
            .map_or(0, |i| i + 1);
        (from < self.entries.len()).then_some(from)
    }

    /// Where entry `i`'s bytes begin (counted from the end: the entries
    /// replaced are the last few, however many there are).
    fn start(&self, i: usize) -> usize {
        self.bytes.len() - self.entries[i..].iter().map(|(_, len)| len).sum::<usize>()
    }

    fn remove(&mut self, i: usize) {
        let start = self.start(i);
        let (_, len) = self.entries.remove(i);
        self.bytes.drain(start..start + len);
    }

    /// Take the entries from `i` on.
    fn take_from(&mut self, i: usize) -> Vec<(Key, Vec<u8>)> {
        let mut start = self.start(i);
        let bytes = self.bytes.split_off(start);
        start = 0;
        self.entries
            .drain(i..)
            .map(|(k, len)| {
                start += len;
                (k, bytes[start - len..start].to_vec())
            })
            .collect()
    }
}

/// Whether `parts` one after another are `bytes`.
fn same_bytes(parts: &[&[u8]], bytes: &[u8]) -> bool {
    parts.iter().map(|p| p.len()).sum::<usize>() == bytes.len()
        && parts.iter().flat_map(|p| p.iter()).eq(bytes.iter())
}

/// Whether the switch `bytes` enters or leaves an alternate screen.
fn is_alt_screen(bytes: &[u8]) -> bool {
    matches!(
        bytes
            .strip_prefix(b"\x1b[?")
            .and_then(|b| b.split_last())
            .map(|(_, number)| number),
        Some(b"47" | b"1047" | b"1049")
    )
}
