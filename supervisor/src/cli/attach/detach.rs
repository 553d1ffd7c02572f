//! The detach key: where it is in what the terminal sends, and what the
//! status bar and the start of an attach say about it.

use super::view::key_name;

/// Finds the detach key in the terminal's input.
#[derive(Debug)]
pub struct Scanner {
    key: Option<u8>,
}

impl Scanner {
    /// A scanner for `key` (`None`: nothing detaches).
    pub fn new(key: Option<u8>) -> Scanner {
        Scanner { key }
    }

    /// Where in `data` the detach key was typed, if it was.
    pub fn find(&mut self, data: &[u8]) -> Option<usize> {
        data.iter().position(|b| Some(*b) == self.key)
    }
}

/// The status bar's word on the key: `Ctrl-\ detach`, `no detach key`;
/// inside session `outer` with the key not given on the command line,
/// also that an attach to `outer` with the same key takes it first.
pub fn bar_text(key: Option<u8>, outer: Option<&str>) -> String {
    match (key, outer) {
        (None, _) => "no detach key".to_string(),
        (Some(k), None) => format!("{} detach", key_name(k)),
        (Some(k), Some(outer)) => format!(
            "{} detach (unless {outer}'s attach takes it: --detach-key)",
            key_name(k)
        ),
    }
}

/// The line `hm run` and `hm attach` print at a terminal inside session
/// `outer` when the key was not given on the command line: the keys come
/// through `outer`'s attach, which detaches on its own key first.
pub fn nested_hint(key: u8, outer: &str, command: &str) -> String {
    format!(
        "[hm: inside session {outer}: if {outer}'s attach has {} too, it takes the key first; \
         use {command} --detach-key ctrl-] here]",
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

    #[test]
    fn the_bar_names_the_key_in_force() {
        assert_eq!(bar_text(Some(0x1d), None), "Ctrl-] detach");
        assert_eq!(bar_text(None, Some("a")), "no detach key");
        assert!(bar_text(Some(0x1c), Some("a")).contains("a's attach"));
    }
}
