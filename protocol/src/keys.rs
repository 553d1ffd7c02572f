//! Named keys (`Enter`, `C-c`, `Up`, `F5`…) and the bytes a terminal sends
//! for them, as tmux's `send-keys` names them.
//!
//! Cursor keys (and Home/End) depend on the program's *application cursor
//! keys* mode (DECCKM), which the screen model reports.

/// The bytes for key `name`, or `None` if it names no key.
///
/// Names are case-insensitive: `Enter`, `Tab`, `BTab`, `Esc`, `Space`,
/// `BSpace`, `Delete`, `Insert`, `Home`, `End`, `PageUp`, `PageDown`, `Up`,
/// `Down`, `Left`, `Right`, `F1`–`F12`, `C-x` (control), `M-x` (meta: ESC
/// then the key), and combinations such as `M-C-x`, `M-Enter`. Control and
/// meta are also read as they are often written: `Ctrl-x`, `Ctrl+x`,
/// `Control-x`, `^x`; `Alt-x`, `Alt+x`, `Meta-x`.
pub fn key_bytes(name: &str, application_cursor: bool) -> Option<Vec<u8>> {
    if let Some(rest) = META.iter().find_map(|p| strip_prefix_ci(name, p)) {
        let mut v = vec![0x1b];
        let mut chars = rest.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => v.extend_from_slice(c.to_string().as_bytes()),
            _ => v.extend(key_bytes(rest, application_cursor)?),
        }
        return Some(v);
    }
    if let Some(rest) = CONTROL.iter().find_map(|p| strip_prefix_ci(name, p)) {
        return control(rest).map(|b| vec![b]);
    }
    let cursor = |c: u8| {
        if application_cursor {
            vec![0x1b, b'O', c]
        } else {
            vec![0x1b, b'[', c]
        }
    };
    let lower = name.to_ascii_lowercase();
    Some(match lower.as_str() {
        "enter" | "return" | "cr" => b"\r".to_vec(),
        "lf" => b"\n".to_vec(),
        "tab" => b"\t".to_vec(),
        "btab" | "s-tab" | "backtab" => b"\x1b[Z".to_vec(),
        "esc" | "escape" => b"\x1b".to_vec(),
        "space" => b" ".to_vec(),
        "bspace" | "backspace" | "bs" => b"\x7f".to_vec(),
        "delete" | "del" | "dc" => b"\x1b[3~".to_vec(),
        "insert" | "ins" | "ic" => b"\x1b[2~".to_vec(),
        "home" => cursor(b'H'),
        "end" => cursor(b'F'),
        "pageup" | "pgup" | "ppage" => b"\x1b[5~".to_vec(),
        "pagedown" | "pgdn" | "npage" => b"\x1b[6~".to_vec(),
        "up" => cursor(b'A'),
        "down" => cursor(b'B'),
        "right" => cursor(b'C'),
        "left" => cursor(b'D'),
        _ => return function_key(&lower),
    })
}

/// The ways of writing the meta prefix of a key name.
const META: [&str; 4] = ["M-", "Alt-", "Alt+", "Meta-"];

/// The ways of writing the control prefix of a key name (`^` is followed
/// by one character, or a key name for `C-`).
const CONTROL: [&str; 5] = ["C-", "Ctrl-", "Ctrl+", "Control-", "^"];

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    // `get` rather than slicing: `s` may start with a multi-byte character.
    let head = s.get(..prefix.len())?;
    (s.len() > prefix.len() && head.eq_ignore_ascii_case(prefix)).then(|| &s[prefix.len()..])
}

fn control(rest: &str) -> Option<u8> {
    if rest.eq_ignore_ascii_case("space") {
        return Some(0);
    }
    let mut chars = rest.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    match c.to_ascii_uppercase() {
        c @ '@'..='_' => Some(c as u8 - b'@'),
        '?' => Some(0x7f),
        ' ' | '2' => Some(0),
        _ => None,
    }
}

fn function_key(lower: &str) -> Option<Vec<u8>> {
    let n: u8 = lower.strip_prefix('f')?.parse().ok()?;
    let seq: &[u8] = match n {
        1 => b"\x1bOP",
        2 => b"\x1bOQ",
        3 => b"\x1bOR",
        4 => b"\x1bOS",
        5 => b"\x1b[15~",
        6 => b"\x1b[17~",
        7 => b"\x1b[18~",
        8 => b"\x1b[19~",
        9 => b"\x1b[20~",
        10 => b"\x1b[21~",
        11 => b"\x1b[23~",
        12 => b"\x1b[24~",
        _ => return None,
    };
    Some(seq.to_vec())
}

/// The key names [`keys_to_bytes`] takes, for error messages and help.
pub const KEY_NAMES: &str = "Enter Tab BTab Esc Space BSpace Delete Insert Home End PageUp \
PageDown Up Down Left Right F1..F12 C-x (control) M-x (meta) M-C-x, or one character";

/// A `--keys` argument that names no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown key name {0:?}; valid names: {KEY_NAMES}; plain text is sent as text, not as keys"
)]
pub struct UnknownKey(pub String);

/// Translate `--keys` arguments: each is a key name or a single character
/// (typed as itself); anything else is an [`UnknownKey`], so that a
/// mistyped name (`Entr`) is never typed into the program as text.
pub fn keys_to_bytes<S: AsRef<str>>(
    args: &[S],
    application_cursor: bool,
) -> Result<Vec<u8>, UnknownKey> {
    let mut out = Vec::new();
    for a in args {
        let a = a.as_ref();
        match key_bytes(a, application_cursor) {
            Some(b) => out.extend(b),
            None if a.chars().count() == 1 => out.extend_from_slice(a.as_bytes()),
            None => return Err(UnknownKey(a.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(key_bytes("Enter", false).unwrap(), b"\r");
        assert_eq!(key_bytes("C-c", false).unwrap(), [3]);
        assert_eq!(key_bytes("c-\\", false).unwrap(), [0x1c]);
        assert_eq!(key_bytes("Up", false).unwrap(), b"\x1b[A");
        assert_eq!(key_bytes("up", true).unwrap(), b"\x1bOA");
        assert_eq!(key_bytes("F5", false).unwrap(), b"\x1b[15~");
        assert_eq!(key_bytes("M-x", false).unwrap(), b"\x1bx");
        assert_eq!(key_bytes("M-Enter", false).unwrap(), b"\x1b\r");
        assert_eq!(key_bytes("Esc", false).unwrap(), b"\x1b");
        assert!(key_bytes("hello", false).is_none());
        assert!(key_bytes("C-", false).is_none());
        assert_eq!(key_bytes("M-é", false).unwrap(), "\x1bé".as_bytes());
        for control in ["ctrl-c", "Ctrl+C", "CONTROL-c", "^C", "^c"] {
            assert_eq!(key_bytes(control, false).unwrap(), [3], "{control}");
        }
        for meta in ["alt-b", "Alt+b", "META-b"] {
            assert_eq!(key_bytes(meta, false).unwrap(), b"\x1bb", "{meta}");
        }
        assert_eq!(key_bytes("Alt-Ctrl-x", false).unwrap(), b"\x1b\x18");
        assert!(key_bytes("^", false).is_none());
        assert!(key_bytes("Ctrl-Alt-Delete", false).is_none());
    }

    #[test]
    fn non_ascii_never_panics() {
        for name in [
            "日本", "é", "C-日", "M-日本", "日-x", "Fé", "ü-C-x", "C-é", "M-",
        ] {
            let _ = key_bytes(name, false);
            let _ = key_bytes(name, true);
        }
        assert!(key_bytes("日本", false).is_none());
        assert_eq!(
            keys_to_bytes(&["日", "é", "Enter"], false).unwrap(),
            "日é\r".as_bytes()
        );
        assert_eq!(
            keys_to_bytes(&["l", "s", "Space", "-", "l", "Enter"], false).unwrap(),
            b"ls -l\r"
        );
    }

    #[test]
    fn an_unknown_name_is_an_error_not_text() {
        for bad in ["Entr", "日本", "ls", "C-日", "M-"] {
            let err = keys_to_bytes(&["Esc", bad], false).unwrap_err();
            assert_eq!(err, UnknownKey(bad.to_string()));
            assert!(err.to_string().contains("Enter Tab"), "{err}");
        }
    }
}
