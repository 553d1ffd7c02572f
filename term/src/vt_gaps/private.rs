//! DEC private modes set or reset (`CSI ? Pm h`, `CSI ? Pm l`) where
//! `vt100` does not carry them out as xterm does, each parameter in turn:
//! the alternate screens without a saved cursor (47, 1047), whose cursor
//! xterm and tmux share with the normal screen (`vt100` gives 47 a cursor
//! of its own and ignores 1047), and 1048, the cursor saved and restored
//! as by DECSC and DECRC (which `vt100` ignores).

use super::{push, Emulator, Out, PAD};

/// Whether private mode `mode` is one `vt100` does not carry out as xterm
/// does: a sequence with it is written here ([`write`]).
pub(super) fn translated(mode: u16) -> bool {
    matches!(mode, 47 | 1047 | 1048)
}

/// The private modes `modes` set (`set`) or reset by the sequence whose
/// final byte is at `at` in the output, written to `vt100` one by one
/// after it, the sequence itself cancelled (CAN for its final byte): 47
/// and 1047 as a switch of screens with the cursor kept, 1048 as DECSC or
/// DECRC, the others as they are.
pub(super) fn write(out: &mut Out, at: usize, modes: &[u16], set: bool, to: &mut impl Emulator) {
    out.flush(at, to);
    out.change(at).push(0x18);
    for &mode in modes {
        match mode {
            47 | 1047 => switch(out, at + 1, set, mode == 1047, to),
            1048 => out
                .change(at + 1)
                .extend_from_slice(if set { b"\x1b7" } else { b"\x1b8" }),
            _ => {
                let end = if set { 'h' } else { 'l' };
                let bytes = out.change(at + 1);
                bytes.extend_from_slice(format!("\x1b[?{mode}{end}").as_bytes());
            }
        }
    }
}

/// A switch to the alternate screen (`enter`) or back, written at `at`
/// in the output, with the cursor kept: where it is on the screen left is
/// asked before, and it is put there on the other; the alternate screen
/// is cleared on leaving it if `clear` (1047). A switch to the screen
/// shown changes nothing, as on xterm.
fn switch(out: &mut Out, at: usize, enter: bool, clear: bool, to: &mut impl Emulator) {
    out.flush(at, to);
    if to.alternate() == enter {
        return;
    }
    let row = to.cursor_row();
    let cols = to.cols();
    let wrap_pending = to.cursor_col() >= cols;
    let col = to.cursor_col().min(cols.saturating_sub(1));
    let bytes = out.change(at);
    bytes.extend_from_slice(match (enter, clear) {
        (true, _) => b"\x1b[?47h",
        (false, true) => b"\x1b[2J\x1b[?47l",
        (false, false) => b"\x1b[?47l",
    });
    bytes.extend_from_slice(format!("\x1b[{};{}H", row + 1, col + 1).as_bytes());
    if wrap_pending {
        // The wrap stays pending: what the last column has drawn again
        // there, or a pad where it has nothing.
        out.flush(at, to);
        match to.last_char(row) {
            Some(again) => out.change(at).extend_from_slice(&again),
            None => {
                // Without attributes: nothing is drawn there.
                let bytes = out.change(at);
                bytes.extend_from_slice(b"\x1b[m");
                push(bytes, PAD);
                bytes.extend_from_slice(&to.attributes());
            }
        }
    }
}
