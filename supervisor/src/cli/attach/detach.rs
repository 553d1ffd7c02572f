//! The detach key: where it is in what the terminal sends, and what the
//! status bar and the start of an attach say about it.
//!
//! Only a key typed detaches: inside a bracketed paste (`ESC [200~` …
//! `ESC [201~`, which a terminal sends when the program turned mode 2004
//! on) the byte is pasted text and goes to the program, as tmux does with
//! its key bindings.

use super::view::key_name;

/// What a terminal sends before a paste (bracketed paste mode).
const PASTE_START: &[u8] = b"\x1b[200~";
/// What it sends after one.
const PASTE_END: &[u8] = b"\x1b[201~";

/// Finds the detach key in the terminal's input, read after read (a paste
/// marker may be cut between two reads).
#[derive(Debug)]
pub struct Scanner {
    key: Option<u8>,
    /// Inside a bracketed paste.
    pasting: bool,
    /// How many bytes of the marker looked for (the paste's start, or its
    /// end while pasting) the input ended with.
    matched: usize,
}

impl Scanner {
    /// A scanner for `key` (`None`: nothing detaches).
    pub fn new(key: Option<u8>) -> Scanner {
        Scanner {
            key,
            pasting: false,
            matched: 0,
        }
    }

    /// Where in `data`, the input after what was scanned before, the
    /// detach key was typed (outside a paste), if it was.
    pub fn find(&mut self, data: &[u8]) -> Option<usize> {
        for (at, &b) in data.iter().enumerate() {
            if !self.pasting && Some(b) == self.key {
                return Some(at);
            }
            let marker = if self.pasting { PASTE_END } else { PASTE_START };
            if b == marker[self.matched] {
                self.matched += 1;
                if self.matched == marker.len() {
                    self.pasting = !self.pasting;
                    self.matched = 0;
                }
            } else {
                // The markers begin with their only ESC.
                self.matched = usize::from(b == marker[0]);
            }
        }
        None
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
        assert_eq!(s.find(b"abc"), None);
        assert_eq!(s.find(b"ab\x1ccd"), Some(2));
        assert_eq!(Scanner::new(None).find(b"ab\x1ccd"), None);
    }

    /// Pasted text holding the byte goes to the program; the key typed
    /// after the paste detaches, also with the markers cut between reads.
    #[test]
    fn the_key_inside_a_bracketed_paste_is_text() {
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"x\x1b[200~a\x1cb\x1b[201~\x1c"), Some(16));
        let mut s = Scanner::new(Some(0x1c));
        for part in [&b"\x1b[2"[..], b"00~a\x1c", b"b\x1b[20", b"1", b"~"] {
            assert_eq!(s.find(part), None, "{part:?}");
        }
        assert_eq!(s.find(b"\x1c"), Some(0));
        // An arrow key or a lone ESC is no paste.
        let mut s = Scanner::new(Some(0x1c));
        assert_eq!(s.find(b"\x1b[A\x1b\x1b[20\x1c"), Some(8));
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

    #[test]
    fn the_bar_names_the_key_in_force() {
        assert_eq!(bar_text(Some(0x1d), None), "Ctrl-] detach");
        assert_eq!(bar_text(None, Some("a")), "no detach key");
        assert!(bar_text(Some(0x1c), Some("a")).contains("a's attach"));
    }
}
