//! A control key as a terminal sends it once a program asked for keys
//! beyond the legacy ones: xterm's `modifyOtherKeys` (`CSI > 4 ; 2 m`,
//! which vim asks for on xterm-like terminals, and which xterm, iTerm2 and
//! tmux with `extended-keys on` honour) sends Ctrl-\ as `CSI 27 ; 5 ; 92 ~`,
//! and the kitty keyboard protocol (`CSI > 1 u`, which neovim asks for)
//! as `CSI 92 ; 5 u`. Passed through as it is (`hm attach
//! --no-status-bar`), such a request reaches the user's terminal, and the
//! detach key then comes in these forms.

/// Whether the control sequence with parameters `params` and final byte
/// `last` is the control key `key` (a byte below 0x20, Ctrl and a
/// character) with Ctrl held (and perhaps Shift, Caps Lock or Num Lock).
pub fn is_control_key(key: u8, params: &[u8], last: u8) -> bool {
    if key >= 0x20 {
        return false;
    }
    // Ctrl-A is `a`, Ctrl-\ is `\`, Ctrl-@ is `@`.
    let char_code = u32::from(if (1..=26).contains(&key) {
        key + 0x60
    } else {
        key + 0x40
    });
    // Each parameter's first part (kitty adds `:`-separated ones).
    let mut numbers = params.split(|b| *b == b';').map(|p| {
        let first = p.split(|b| *b == b':').next().unwrap_or_default();
        std::str::from_utf8(first)
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|s| s.parse::<u32>().ok())
    });
    let (code, modifiers) = match last {
        b'u' => (numbers.next().flatten(), numbers.next().flatten()),
        b'~' if numbers.next().flatten() == Some(27) => {
            let modifiers = numbers.next().flatten();
            (numbers.next().flatten(), modifiers)
        }
        _ => return false,
    };
    // 1 + the modifiers' bits: Shift 1, Alt 2, Ctrl 4, ... Caps Lock 64,
    // Num Lock 128.
    let held = modifiers.unwrap_or(1).saturating_sub(1) & !(1 | 64 | 128);
    code == Some(char_code) && held == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_in_either_form_with_ctrl_held() {
        assert!(is_control_key(0x1c, b"27;5;92", b'~'));
        assert!(is_control_key(0x1c, b"92;5", b'u'));
        assert!(is_control_key(0x1c, b"92;133", b'u'), "Num Lock on");
        assert!(is_control_key(0x1c, b"92:124;6", b'u'), "with Shift");
        assert!(is_control_key(0x01, b"97;5", b'u'));
        assert!(is_control_key(0x1d, b"27;5;93", b'~'));
        assert!(is_control_key(0x00, b"64;5", b'u'));
        // Another key, without Ctrl, with Alt too, or another sequence.
        assert!(!is_control_key(0x1c, b"93;5", b'u'));
        assert!(!is_control_key(0x1c, b"92", b'u'));
        assert!(!is_control_key(0x1c, b"92;7", b'u'));
        assert!(!is_control_key(0x1c, b"28;5;92", b'~'));
        assert!(!is_control_key(0x1c, b"5;92", b'~'));
        assert!(!is_control_key(0x1c, b"92;5", b'm'));
        assert!(!is_control_key(b'~', b"126", b'u'));
        assert!(!is_control_key(0x1c, b"", b'u'));
    }
}
