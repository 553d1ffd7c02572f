//! The detach key: where it is in what the terminal sends, and what the
//! status bar and the start of an attach say about it.
//!
//! Only a key typed detaches: inside a bracketed paste (`ESC [200~` …
//! `ESC [201~`, which a terminal sends when the program turned mode 2004
//! on) the byte is pasted text and goes to the program, as tmux does with
//! its key bindings; and a printable key's byte inside what another key
//! sends (PgUp's `ESC [5~`, F1's `ESC O P`, Alt+`~`'s `ESC ~`, a mouse
//! report) is part of that key. A control key also detaches as the
//! escape sequence a terminal sends for it after a program asked for
//! extended keys ([`super::extended_keys`]).
//!
//! A paste whose end never comes (a terminal that dropped it, a program
//! that typed the start marker) is over for the key once the input has
//! been quiet for [`PASTE_QUIET`]: a terminal sends a paste in one go, and
//! the key typed after that pause detaches.

use std::time::{Duration, Instant};

use super::extended_keys::is_control_key;
use super::view::key_name;
use crate::marker::Marker;

/// What a terminal sends before a paste (bracketed paste mode).
const PASTE_START: &[u8] = b"\x1b[200~";
/// What it sends after one.
const PASTE_END: &[u8] = b"\x1b[201~";

/// How long the input is quiet before a paste whose end has not come is
/// over for the detach key.
pub const PASTE_QUIET: Duration = Duration::from_secs(1);

/// Finds the detach key in the terminal's input, read after read (a paste
/// marker may be cut between two reads).
#[derive(Debug)]
pub struct Scanner {
    key: Option<u8>,
    /// Where the input is in a key's escape sequence.
    seq: KeySeq,
    /// Inside a bracketed paste.
    pasting: bool,
    /// Looks for the paste's start, or its end while pasting.
    marker: Marker,
    /// When the last input came.
    last: Option<Instant>,
    /// The parameters of the key's control sequence under way (up to
    /// [`MAX_PARAMS`] bytes).
    params: Vec<u8>,
}

/// The most parameter bytes kept of a key's control sequence (a key with
/// its modifiers and alternate codes has a dozen or two).
const MAX_PARAMS: usize = 32;

impl Scanner {
    /// A scanner for `key` (`None`: nothing detaches).
    pub fn new(key: Option<u8>) -> Scanner {
        Scanner {
            key,
            seq: KeySeq::Outside,
            pasting: false,
            marker: Marker::new(PASTE_START),
            last: None,
            params: Vec::new(),
        }
    }

    /// Where in `data`, the input after what was scanned before, which
    /// came at `now`, the detach key was typed (outside a paste), if it
    /// was.
    pub fn find(&mut self, data: &[u8], now: Instant) -> Option<usize> {
        let quiet = self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) >= PASTE_QUIET);
        self.last = Some(now);
        if self.pasting && quiet {
            // Its end was lost: what comes now is typed.
            self.paste(false);
        }
        // An ESC that ended the last read was the Esc key, unless what
        // follows continues a sequence cut between the reads.
        if self.seq == KeySeq::Esc && !matches!(data.first(), Some(b'[' | b'O')) {
            self.seq = KeySeq::Outside;
        }
        let mut from = 0;
        loop {
            let rest = &data[from..];
            if self.pasting {
                // Pasted text, up to the paste's end.
                from += self.marker.find(rest)?;
                self.paste(false);
                continue;
            }
            let start = self.marker.find(rest);
            // Where this read's last ESC is (a key's sequence begins there).
            let mut esc = None;
            for (at, &b) in rest[..start.unwrap_or(rest.len())].iter().enumerate() {
                let in_csi = matches!(self.seq, KeySeq::Csi(_));
                if b == 0x1b {
                    esc = Some(from + at);
                    self.params.clear();
                }
                let in_sequence = self.seq.take(b);
                if !in_sequence && Some(b) == self.key {
                    return Some(from + at);
                }
                if in_csi && in_sequence && self.seq == KeySeq::Outside {
                    // The sequence's final byte: the key in another form
                    // (from the sequence's start, or from this read's if
                    // it began in the one before, already sent).
                    if self.key.is_some_and(|k| is_control_key(k, &self.params, b)) {
                        return Some(esc.unwrap_or(0));
                    }
                } else if in_csi && self.params.len() < MAX_PARAMS {
                    self.params.push(b);
                }
            }
            from += start?;
            self.paste(true);
        }
    }

    /// A paste begins (`true`) or is over: the marker looked for is its
    /// end, or the next one's start; after either marker (which ends in
    /// `~`) and after a pause the input is outside a key's sequence.
    fn paste(&mut self, pasting: bool) {
        self.pasting = pasting;
        self.marker = Marker::new(if pasting { PASTE_END } else { PASTE_START });
        self.seq = KeySeq::Outside;
    }
}

/// Where the terminal's input is in what one key sends: the bytes of an
/// escape sequence (`ESC [A`, `ESC [5~`, `ESC O P`, Alt's `ESC x`, an X10
/// mouse report `ESC [M` and three bytes) are not keys of their own.
/// Control bytes are never part of one (but ESC, which begins one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySeq {
    Outside,
    /// After ESC.
    Esc,
    /// In a CSI (`ESC [`): whether a byte came after the `[`.
    Csi(bool),
    /// After SS3 (`ESC O`): one byte more.
    Ss3,
    /// An X10 mouse report's bytes still to come.
    Mouse(u8),
}

impl KeySeq {
    /// Take the next byte of input: whether it is part of an escape
    /// sequence.
    fn take(&mut self, b: u8) -> bool {
        let (next, inside) = match *self {
            _ if b == 0x1b => (KeySeq::Esc, true),
            _ if b < 0x20 || b == 0x7f => (KeySeq::Outside, false),
            KeySeq::Outside => (KeySeq::Outside, false),
            KeySeq::Esc => match b {
                b'[' => (KeySeq::Csi(false), true),
                b'O' => (KeySeq::Ss3, true),
                _ => (KeySeq::Outside, true),
            },
            KeySeq::Csi(false) if b == b'M' => (KeySeq::Mouse(3), true),
            KeySeq::Csi(_) if (0x20..0x40).contains(&b) => (KeySeq::Csi(true), true),
            KeySeq::Csi(_) | KeySeq::Ss3 | KeySeq::Mouse(1) => (KeySeq::Outside, true),
            KeySeq::Mouse(n) => (KeySeq::Mouse(n - 1), true),
        };
        *self = next;
        inside
    }
}

/// The status bar's word on the key: `Ctrl-\ detach`, `no detach key`;
/// inside session `outer` with the key not given on the command line,
/// also that an attach to `outer` with the same key takes it first (short
/// enough for the bar to keep it whole at 80 columns; the line at the
/// start says what to do, [`nested_hint`]).
pub fn bar_text(key: Option<u8>, outer: Option<&str>) -> String {
    match (key, outer) {
        (None, _) => "no detach key".to_string(),
        (Some(k), None) => format!("{} detach", key_name(k)),
        (Some(k), Some(outer)) => format!("{} detach (if {outer}'s attach lets it)", key_name(k)),
    }
}

/// The line `hm run` and `hm attach` print at a terminal inside session
/// `outer` when the key was not given on the command line: the keys come
/// through `outer`'s attach, which detaches on its own key first.
pub fn nested_hint(key: u8, outer: &str, command: &str) -> String {
    // A key for this attach other than the one it has (and than the
    // default, which the outer attach most likely has).
    let other = if key == 0x1d { "ctrl-^" } else { "ctrl-]" };
    format!(
        "[hm: inside session {outer}: if {outer}'s attach has {} too, it takes the key first; \
         use {command} --detach-key {other} here]",
        key_name(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_detaches_where_it_is_typed() {
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"abc", Instant::now()), None);
        assert_eq!(s.find(b"ab\x1ccd", Instant::now()), Some(2));
        assert_eq!(Scanner::new(None).find(b"ab\x1ccd", Instant::now()), None);
    }

    /// Pasted text holding the byte goes to the program; the key typed
    /// after the paste detaches, also with the markers cut between reads.
    #[test]
    fn the_key_inside_a_bracketed_paste_is_text() {
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(
            s.find(b"x\x1b[200~a\x1cb\x1b[201~\x1c", Instant::now()),
            Some(16)
        );
        let mut s = Scanner::new(Some(0x1c));
        for part in [&b"\x1b[2"[..], b"00~a\x1c", b"b\x1b[20", b"1", b"~"] {
            assert_eq!(s.find(part, Instant::now()), None, "{part:?}");
        }
        assert_eq!(s.find(b"\x1c", Instant::now()), Some(0));
        // An arrow key or a lone ESC is no paste.
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"\x1b[A\x1b\x1b[20\x1c", Instant::now()), Some(8));
    }

    /// A paste whose end never comes is over for the key once the input
    /// has been quiet for [`PASTE_QUIET`], not while it keeps coming; a
    /// paste that comes after a pause is one.
    #[test]
    fn a_paste_without_its_end_is_over_after_a_pause() {
        let t = Instant::now();
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"\x1b[200~text\x1c", t), None);
        let t = t + PASTE_QUIET / 2;
        assert_eq!(s.find(b"more \x1c", t), None);
        let t = t + PASTE_QUIET;
        assert_eq!(s.find(b"typed \x1c", t), Some(6));
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"a\x1b[20", t), None);
        let t = t + PASTE_QUIET * 2;
        assert_eq!(s.find(b"0~\x1c\x1b[201~\x1c", t), Some(9));
    }

    /// The key as a terminal sends it after a program asked for extended
    /// keys detaches where its sequence begins (cut between reads too);
    /// another key in that form does not, nor the form inside a paste.
    #[test]
    fn the_key_in_an_extended_form_detaches() {
        let t = Instant::now();
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"ab\x1b[93;5u\x1b[A", t), None);
        assert_eq!(s.find(b"cd\x1b[27;5;92~ef", t), Some(2));
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"x\x1b[92;", t), None);
        assert_eq!(s.find(b"5u", t), Some(0));
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"\x1b[200~\x1b[92;5u\x1b[201~", t), None);
        assert_eq!(s.find(b"\x1b[92;5u", t), Some(0));
        assert_eq!(Scanner::new(None).find(b"\x1b[92;5u", t), None);
    }

    /// The key the line at the start proposes for the inner attach is not
    /// the one it has: with Ctrl-] configured it proposed ctrl-] again.
    #[test]
    fn the_nested_hint_proposes_another_key() {
        let hint = nested_hint(0x1c, "a", "hm attach");
        assert!(
            hint.contains("has Ctrl-\\ too") && hint.contains("--detach-key ctrl-]"),
            "{hint}"
        );
        let hint = nested_hint(0x1d, "a", "hm run");
        assert!(
            hint.contains("has Ctrl-] too") && hint.contains("hm run --detach-key ctrl-^"),
            "{hint}"
        );
    }

    /// A printable key detaches typed, not inside another key's sequence
    /// (cut between reads too); a lone ESC before it is the Esc key.
    #[test]
    fn a_printable_key_inside_another_keys_sequence_is_no_detach() {
        let mut s = Scanner::new(Some(b'~'));
        assert_eq!(
            s.find(b"\x1b[5~\x1b[1;5~\x1bO~\x1b~\x1b[M~~~", Instant::now()),
            None
        );
        assert_eq!(s.find(b"a~", Instant::now()), Some(1));
        let mut s = Scanner::new(Some(b'~'));
        for part in [&b"\x1b"[..], b"[", b"3", b"~"] {
            assert_eq!(s.find(part, Instant::now()), None, "{part:?}");
        }
        assert_eq!(s.find(b"\x1b", Instant::now()), None);
        assert_eq!(s.find(b"~", Instant::now()), Some(0));
        // A control key detaches even inside a sequence.
        assert_eq!(
            Scanner::new(Some(0x1c)).find(b"\x1b[M\x1c", Instant::now()),
            Some(3)
        );
    }

    #[test]
    fn the_bar_names_the_key_in_force() {
        assert_eq!(bar_text(Some(0x1d), None), "Ctrl-] detach");
        assert_eq!(bar_text(None, Some("a")), "no detach key");
        assert!(bar_text(Some(0x1c), Some("a")).contains("a's attach"));
    }
}
