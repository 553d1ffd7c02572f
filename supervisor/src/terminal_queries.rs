//! Queries a program writes to its terminal and waits to have answered:
//! the cursor position (DSR 6, and DEC's `?6`), the device status (DSR 5)
//! and the primary device attributes (DA1). The supervisor is the program's
//! terminal, so it answers them — from its screen model, as tmux does —
//! whether or not a terminal is attached; `hm attach` keeps them from the
//! terminal it draws on, which would answer a second time.

use std::borrow::Cow;

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

/// Each query in `bytes`, in order, with where it starts and its length.
/// (A query split between two reads is not seen.)
pub fn find(bytes: &[u8]) -> impl Iterator<Item = (usize, usize, Query)> + '_ {
    // Every chunk of output passes here: a vectorised search for ESC.
    memchr::memchr_iter(0x1b, bytes).filter_map(|i| {
        QUERIES
            .iter()
            .find(|(seq, _)| bytes[i..].starts_with(seq))
            .map(|(seq, q)| (i, seq.len(), *q))
    })
}

/// `bytes` without the queries in it (borrowed when there is none).
pub fn strip(bytes: &[u8]) -> Cow<'_, [u8]> {
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
}
