//! The search of a terminal's output for the end of plain ASCII text, the
//! one thing [`super::VtGaps`] does to every byte of a flood of text:
//! memchr's search for the controls, then the standard library's ASCII
//! check, both word at a time (tens of GB/s: a thousand times what the
//! emulator behind it parses, so nothing faster is worth unsafe code).

/// Where the first byte of `bytes` that is ESC, shift out or in, or beyond
/// ASCII (from 0x80) is; `bytes.len()` if none is.
pub(super) fn plain_ascii(bytes: &[u8]) -> usize {
    let end = memchr::memchr3(0x1b, 0x0e, 0x0f, bytes).unwrap_or(bytes.len());
    if bytes[..end].is_ascii() {
        return end;
    }
    bytes[..end]
        .iter()
        .position(|b| !b.is_ascii())
        .unwrap_or(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_control_or_byte_beyond_ascii() {
        let mut text = vec![b'a'; 300];
        assert_eq!(plain_ascii(&text), 300);
        // From each alignment, the byte at each place.
        for from in 0..32 {
            for at in [0, 1, 31, 32, 33, 63, 64, 127, 128, 159, 200, 260, 267] {
                for b in [0x1b, 0x0e, 0x0f, 0x80, 0xc3, 0xff] {
                    text[from + at] = b;
                    assert_eq!(plain_ascii(&text[from..]), at, "{b:#x} at {from}+{at}");
                    text[from + at] = b'a';
                }
            }
        }
        text[250] = 0xc3;
        text[260] = 0x1b;
        assert_eq!(plain_ascii(&text[..5]), 5);
        assert_eq!(plain_ascii(&text[251..]), 9);
        assert_eq!(plain_ascii(&text[10..]), 240);
        let controls: Vec<u8> = (0..0x80)
            .filter(|b| ![0x1b, 0x0e, 0x0f].contains(b))
            .collect();
        assert_eq!(plain_ascii(&controls.repeat(3)), 3 * controls.len());
    }
}
