//! Queries a program writes to its terminal and waits to have answered:
//! the cursor position (DSR 6, and DEC's `?6`), the device status (DSR 5)
//! and the primary device attributes (DA1). The supervisor is the program's
//! terminal, so it answers them — from its screen model, as tmux does —
//! whether or not a terminal is attached; `hm attach` keeps them from the
//! terminal it draws on, which would answer a second time.

use std::borrow::Cow;

use crate::marker::partial_at_end;

/// A query a program sent to its terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `ESC [ 6 n`: where is the cursor?
    CursorPosition,
    /// `ESC [ ? 6 n`: the same, DEC's form.
    DecCursorPosition,
    /// `ESC [ 5 n`: are you all right?
    Status,
    /// `ESC [ c` or `ESC [ 0 c`: what kind of terminal are you?
    Attributes,
}

/// The queries' exact byte sequences.
const QUERIES: [(&[u8], Query); 5] = [
    (b"\x1b[6n", Query::CursorPosition),
    (b"\x1b[?6n", Query::DecCursorPosition),
    (b"\x1b[5n", Query::Status),
    (b"\x1b[c", Query::Attributes),
    (b"\x1b[0c", Query::Attributes),
];

/// The longest query's length: a query cut in two leaves at most one byte
/// less than this on either side.
pub const LONGEST: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < QUERIES.len() {
        if QUERIES[i].0.len() > longest {
            longest = QUERIES[i].0.len();
        }
        i += 1;
    }
    longest
};

/// Whether `byte` may come after a query's `ESC` (so a piece of output
/// starting with it may finish a query the piece before began).
pub fn continues_a_query(byte: u8) -> bool {
    QUERIES.iter().any(|(seq, _)| seq[1..].contains(&byte))
}

/// The queries that begin in `before` and end in `after` (two pieces of
/// output, one right after the other).
pub fn across(before: &[u8], after: &[u8]) -> Vec<Query> {
    let tail = &before[before.len().saturating_sub(LONGEST - 1)..];
    let mut seam = tail.to_vec();
    seam.extend_from_slice(&after[..after.len().min(LONGEST - 1)]);
    find(&seam)
        .filter(|&(at, len, _)| at < tail.len() && at + len > tail.len())
        .map(|(_, _, q)| q)
        .collect()
}

/// Each query in `bytes`, in order, with where it starts and its length.
/// (A query split between two pieces is not seen: see [`across`].)
pub fn find(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, Query)> + '_ {
    // Every chunk of output passes here: a colour flood's escapes are
    // found a block at a time, and told from a query by their first bytes:
    // every query ends in `n` or `c` (an SGR in `m`).
    crate::scan::escapes(bytes).filter_map(|i| {
        let head = &bytes[i..bytes.len().min(i + LONGEST)];
        if !head.get(2..)?.iter().any(|b| matches!(b, b'n' | b'c')) {
            return None;
        }
        QUERIES
            .iter()
            .find(|(seq, _)| head.starts_with(seq))
            .map(|(seq, q)| (i, seq.len(), *q))
    })
}

/// `bytes` without the queries in it (borrowed when there is none).
fn strip(bytes: &[u8]) -> Cow<'_, [u8]> {
    let mut found = find(bytes).peekable();
    if found.peek().is_none() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (start, len, _) in found {
        out.extend_from_slice(&bytes[at..start]);
        at = start + len;
    }
    out.extend_from_slice(&bytes[at..]);
    Cow::Owned(out)
}

/// Strips the queries from output that arrives in pieces: the first bytes
/// of a query cut between two pieces (fewer than [`LONGEST`]) are held back until the
/// next piece shows whether they begin one. (A terminal shows nothing for
/// them meanwhile either: it waits for the rest of the sequence.)
#[derive(Debug, Default)]
pub struct Stripper {
    held: Vec<u8>,
}

impl Stripper {
    /// `piece`, after what was held back before it, without the queries,
    /// and without a query's first bytes at its end (held for the next).
    pub fn strip<'a>(&mut self, piece: &'a [u8]) -> Cow<'a, [u8]> {
        let joined = if self.held.is_empty() {
            Cow::Borrowed(piece)
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(piece);
            Cow::Owned(joined)
        };
        let keep = query_start_at_end(&joined);
        let body = joined.len() - keep;
        self.held.extend_from_slice(&joined[body..]);
        match joined {
            Cow::Borrowed(b) => strip(&b[..body]),
            Cow::Owned(v) => Cow::Owned(strip(&v[..body]).into_owned()),
        }
    }

    /// Forget what was held back (the stream jumped past it).
    pub fn reset(&mut self) {
        self.held.clear();
    }
}

/// How many bytes at the end of `bytes` are a query's first bytes (not the
/// whole query).
fn query_start_at_end(bytes: &[u8]) -> usize {
    QUERIES
        .iter()
        .map(|(seq, _)| partial_at_end(bytes, seq))
        .max()
        .unwrap_or(0)
}

impl Query {
    /// What a terminal answers, with the cursor at `cursor` (row, column,
    /// from 0) when the screen model knows it; a cursor query goes
    /// unanswered without one.
    pub fn answer(self, cursor: Option<(u16, u16)>) -> Option<Vec<u8>> {
        match self {
            Query::CursorPosition => {
                cursor.map(|(r, c)| format!("\x1b[{};{}R", r + 1, c + 1).into_bytes())
            }
            Query::DecCursorPosition => {
                cursor.map(|(r, c)| format!("\x1b[?{};{}R", r + 1, c + 1).into_bytes())
            }
            Query::Status => Some(b"\x1b[0n".to_vec()),
            // A VT100 with advanced video, as tmux and xterm's default say.
            Query::Attributes => Some(b"\x1b[?1;2c".to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_answers_and_strips_queries() {
        let out = b"ab\x1b[6ncd\x1b[?6n\x1b[5n\x1b[c\x1b[0c\x1b[31mred\x1b[>c";
        let found: Vec<_> = find(out).map(|(_, _, q)| q).collect();
        assert_eq!(
            found,
            [
                Query::CursorPosition,
                Query::DecCursorPosition,
                Query::Status,
                Query::Attributes,
                Query::Attributes
            ]
        );
        assert_eq!(&*strip(out), b"abcd\x1b[31mred\x1b[>c");
        assert!(matches!(strip(b"plain \x1b[1m"), Cow::Borrowed(_)));
        assert_eq!(
            Query::CursorPosition.answer(Some((2, 4))).unwrap(),
            b"\x1b[3;5R"
        );
        assert_eq!(Query::CursorPosition.answer(None), None);
        assert_eq!(Query::Status.answer(None).unwrap(), b"\x1b[0n");
    }

    /// Queries among colours, wherever they fall in the blocks the escapes
    /// are looked for in, also as the output's last bytes.
    #[test]
    fn queries_are_found_at_every_place_among_colours() {
        for (query, what) in QUERIES {
            for pad in 0..140 {
                let mut out: Vec<u8> = b"\x1b[1;31mred\x1b[0m "
                    .iter()
                    .copied()
                    .cycle()
                    .take(pad)
                    .collect();
                out.extend_from_slice(query);
                let found: Vec<_> = find(&out).collect();
                assert_eq!(found, [(pad, query.len(), what)], "{pad}");
                out.extend_from_slice(b"\x1b[m\x1b[6");
                assert_eq!(find(&out).count(), 1, "{pad}");
            }
            // What `find` tells queries from other escapes by.
            assert!(matches!(query.last(), Some(b'n' | b'c')));
        }
    }

    #[test]
    fn a_query_cut_between_pieces_is_found() {
        assert_eq!(LONGEST, 5);
        assert_eq!(across(b"ab\x1b[", b"6ncd"), [Query::CursorPosition]);
        assert_eq!(across(b"\x1b", b"[?6n"), [Query::DecCursorPosition]);
        assert_eq!(across(b"x\x1b[0", b"c"), [Query::Attributes]);
        // Whole on one side: found by `find`, not here.
        assert!(across(b"\x1b[6n", b"x").is_empty());
        assert!(across(b"x", b"\x1b[5n").is_empty());
        assert!(across(b"\x1b[", b"31m").is_empty());
        assert!(b"[?056nc".iter().all(|&b| continues_a_query(b)));
        assert!(!continues_a_query(b'm'));
    }

    #[test]
    fn a_query_cut_between_pieces_is_stripped() {
        let mut s = Stripper::default();
        assert_eq!(&*s.strip(b"ab\x1b["), b"ab");
        assert_eq!(&*s.strip(b"6ncd\x1b"), b"cd");
        assert_eq!(&*s.strip(b"[?"), b"");
        assert_eq!(&*s.strip(b"6"), b"");
        assert_eq!(&*s.strip(b"nef"), b"ef");
        // What is held and turns out to be no query is shown.
        assert_eq!(&*s.strip(b"gh\x1b["), b"gh");
        assert_eq!(&*s.strip(b"31mred"), b"\x1b[31mred");
        assert!(matches!(s.strip(b"plain"), Cow::Borrowed(_)));
        // A jump forgets it.
        assert_eq!(&*s.strip(b"\x1b[0"), b"");
        s.reset();
        assert_eq!(&*s.strip(b"c"), b"c");
    }
}
