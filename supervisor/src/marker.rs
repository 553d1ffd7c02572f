//! Finding a fixed marker (an escape sequence: a synchronized update's
//! begin or end, a bracketed paste's start or end, a terminal query) in
//! bytes that arrive in pieces, where it may be cut between two of them.
//!
//! Every marker here begins with its only ESC: a match that fails can
//! only start again at an ESC, never inside what had matched, so the state
//! between pieces is how much of the marker the last one ended with.

/// How many bytes at the end of `bytes` are the first bytes of `marker`
/// (not all of it): the longest such run.
pub fn partial_at_end(bytes: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(bytes.len() + 1))
        .rev()
        .find(|&k| bytes.ends_with(&marker[..k]))
        .unwrap_or(0)
}

/// Looks for one marker in a stream of pieces.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    marker: &'static [u8],
    /// How many bytes of the marker the pieces passed so far ended with.
    matched: usize,
}

impl Marker {
    /// Look for `marker` (which begins with its only ESC).
    pub fn new(marker: &'static [u8]) -> Marker {
        debug_assert!(marker.first() == Some(&0x1b) && !marker[1..].contains(&0x1b));
        Marker { marker, matched: 0 }
    }

    /// Where in `piece`, the bytes after those passed before, the marker
    /// first ends (the index past its last byte: it may have begun in a
    /// piece before). Pass what follows that end as the next piece.
    /// Otherwise `None`, remembering how much of the marker the piece ends
    /// with. The search is memchr's, which a flood of output passes
    /// through.
    pub fn find(&mut self, piece: &[u8]) -> Option<usize> {
        if self.matched > 0 {
            let rest = &self.marker[self.matched..];
            let n = rest.len().min(piece.len());
            if piece[..n] == rest[..n] {
                if n == rest.len() {
                    self.matched = 0;
                    return Some(n);
                }
                self.matched += n;
                return None;
            }
        }
        if let Some(at) = memchr::memmem::find(piece, self.marker) {
            self.matched = 0;
            return Some(at + self.marker.len());
        }
        self.matched = partial_at_end(piece, self.marker);
        None
    }

    /// How many bytes of the marker the pieces passed so far ended with.
    pub fn matched(&self) -> usize {
        self.matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[u8] = b"\x1b[200~";

    #[test]
    fn the_end_of_a_run_that_begins_the_marker() {
        assert_eq!(partial_at_end(b"ab\x1b[20", M), 4);
        assert_eq!(partial_at_end(b"\x1b", M), 1);
        assert_eq!(partial_at_end(b"ab\x1b[200~", M), 0, "whole: not a start");
        assert_eq!(partial_at_end(b"\x1b[21", M), 0);
        assert_eq!(partial_at_end(b"", M), 0);
    }

    /// Each marker's end in a stream cut anywhere (in two and three
    /// pieces) is found where it is, once.
    #[test]
    fn a_marker_cut_anywhere_is_found_where_it_ends() {
        let all = b"x\x1b[200\x1b[200~ab\x1b[2\x1b[200~\x1b";
        let ends: Vec<usize> = vec![12, 23];
        for cut in 0..=all.len() {
            for cut2 in cut..=all.len() {
                let mut m = Marker::new(M);
                let mut found = Vec::new();
                let mut at = 0;
                for piece in [&all[..cut], &all[cut..cut2], &all[cut2..]] {
                    let mut from = 0;
                    while let Some(end) = m.find(&piece[from..]) {
                        from += end;
                        found.push(at + from);
                    }
                    at += piece.len();
                }
                assert_eq!(found, ends, "{cut} {cut2}");
                assert_eq!(m.matched(), 1, "{cut} {cut2}");
            }
        }
    }
}
