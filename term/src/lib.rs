//! Heimdall's one way of playing a program's output on a terminal emulator:
//! [`Terminal`], the `vt100` crate's emulator with what it gets wrong put
//! right in front of it (`vt_gaps`: DEC special graphics, the cursor home
//! after DECSTBM, U+FFFD and invalid UTF-8, insert mode and the wrap before
//! an insert, autowrap off, tab stops, also for a tab inside an escape
//! sequence, U+FE0F, the wrap of a wide character from the last column,
//! text drawn hidden, double and styled underlines, REP in insert mode and
//! with autowrap off, each mode of a private mode set, mode 1048).
//! The supervisor's screen model, `hm attach`'s view and hm-agent's
//! `session_read` all play output through it; text read out of its screen
//! goes through [`restore`], what draws it on another terminal through
//! [`restore_drawn`]. [`Pen`] gives a cell's attributes as SGR parameters.
//!
//! Its own crate so that `heimdall-client`, the library programs use to
//! drive sessions, does not carry an emulator.

mod pen;
mod tabs;
mod terminal;
mod vt_gaps;

pub use pen::Pen;
pub use terminal::{TermState, Terminal};
pub use vt_gaps::{restore, restore_drawn, STAND_IN};
