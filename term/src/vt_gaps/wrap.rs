//! The wrap of a character that does not fit at the right margin, which
//! `vt100` does not mark on the row it leaves where xterm and tmux do: in
//! insert mode, and for a wide character in the last column.

use super::{column, push, Emulator, Out, PAD};

/// An insert of `cells` blank cells at the cursor: ICH.
pub(super) fn insert_cells(to: &mut Vec<u8>, cells: u16) {
    to.extend_from_slice(format!("\x1b[{cells}@").as_bytes());
}

/// The wrap before a character `cells` wide inserted at `at` in the output,
/// with the cursor in column `col` where it does not fit: the insert is
/// made at the start of the next row, then the cursor is put back where it
/// was (the character in the last column drawn again when the wrap was
/// pending, a pad there for a wide character where nothing is drawn) for
/// `vt100` to wrap the character itself and mark the row as wrapped, as
/// xterm and tmux do (true: the insert is made). Where the wrap does not
/// leave the row (on the bottom row below a scroll region), or the pending
/// wrap's character is gone (erased), a line break only (false: the insert
/// is still to make).
pub(super) fn wrap_then_insert(
    out: &mut Out,
    at: usize,
    col: u16,
    cells: u16,
    to: &mut impl Emulator,
) -> bool {
    let (row, cols) = (to.cursor_row(), to.cols());
    let last = to.last_char(row);
    out.change(at).extend_from_slice(b"\r\n");
    if to.rows() < 2 || (col >= cols && last.is_none()) {
        return false;
    }
    out.flush(at, to);
    let back = match to.cursor_row() {
        // The row scrolled up (the wrap was at the scroll region's bottom).
        now if now == row && to.row_blank(now) => row.saturating_sub(1),
        // The bottom row below the scroll region: the wrap stays on it.
        now if now == row => return false,
        _ => row,
    };
    let bytes = out.change(at);
    insert_cells(bytes, cells);
    bytes.extend_from_slice(b"\x1b[A");
    out.flush(at, to);
    let bytes = out.change(at);
    if to.cursor_row() != back {
        // The cursor went down to the scroll region's top from above it
        // (which it cannot be in origin mode): CUU stops there.
        bytes.extend_from_slice(format!("\x1b[{}H", u32::from(back) + 1).as_bytes());
    }
    match last {
        // The wrap was pending: it is again once the last column's
        // character is drawn again.
        Some(last) if col >= cols => bytes.extend_from_slice(&last),
        // A wide character in the last column wraps from there (after a
        // pad where nothing is drawn).
        last => {
            column(bytes, col);
            if last.is_none() {
                push(bytes, PAD);
            }
        }
    }
    true
}

/// The cursor's column after a character `cells` wide is drawn with it in
/// column `col` on a screen `cols` wide, autowrap on (`cols` when the wrap
/// is pending).
pub(super) fn advance(col: u16, cells: u16, cols: u16) -> u16 {
    match cells {
        0 => col,
        _ if col + cells > cols => cells,
        _ => col + cells,
    }
}
