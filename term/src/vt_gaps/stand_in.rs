//! The characters [`super::VtGaps`] gives `vt100` to draw in place of
//! what it would draw wrong, and [`restore`], which turns them back in what
//! is read out of its screen.

use std::borrow::Cow;

/// What [`crate::Terminal`] gives `vt100` to draw where the output has
/// U+FFFD or invalid UTF-8 (U+FDD0, a noncharacter): [`restore`] turns it
/// back.
pub const STAND_IN: char = '\u{fdd0}';

/// What [`crate::Terminal`] gives `vt100` to draw for U+FE0F (VS16, emoji
/// presentation), which [`restore`] turns back: U+E0001 (LANGUAGE TAG,
/// deprecated, never sent), no cells wide as U+FE0F is, but which `vt100`
/// does not take for a request to make the character before it two cells
/// wide (see the module's documentation).
pub(super) const STAND_IN_VS16: char = '\u{e0001}';

/// What [`crate::Terminal`] gives `vt100` to draw in the last column,
/// where nothing is drawn, before a wide character that does not fit there
/// (U+FDD1, a noncharacter): `vt100` marks the row the character wraps from
/// as wrapped only when something is drawn in its last column, xterm and
/// tmux always do. Text read has nothing there ([`restore`]), a terminal
/// it is drawn on a blank ([`restore_drawn`]).
pub(crate) const PAD: char = '\u{fdd1}';

/// `text` read out of a [`crate::Terminal`]'s screen as a terminal shows
/// it: U+FFFD where [`STAND_IN`] was drawn, U+FE0F where its stand-in was,
/// nothing where a pad before a wide character that wrapped was.
pub fn restore(text: &str) -> Cow<'_, str> {
    put_back(text, "")
}

/// [`restore`] for what draws a [`crate::Terminal`]'s screen on another
/// terminal (`contents_formatted`, `state_diff`): a blank where a pad was,
/// so that what follows on the row is drawn where it is.
pub fn restore_drawn(text: &str) -> Cow<'_, str> {
    put_back(text, " ")
}

/// `text` with what the stand-ins stand for, `pad` for [`PAD`].
fn put_back<'a>(text: &'a str, pad: &str) -> Cow<'a, str> {
    let mut text = Cow::Borrowed(text);
    for (stand_in, shown) in [
        (STAND_IN, "\u{fffd}"),
        (STAND_IN_VS16, "\u{fe0f}"),
        (PAD, pad),
    ] {
        if text.contains(stand_in) {
            text = Cow::Owned(text.replace(stand_in, shown));
        }
    }
    text
}
