//! Heimdall's one way of playing a program's output on a terminal emulator:
//! [`Terminal`], the `vt100` crate's emulator with what it gets wrong put
//! right in front of it (`vt_gaps`: DEC special graphics, the cursor home
//! after DECSTBM, U+FFFD and invalid UTF-8, insert mode, autowrap off, tab
//! stops). The supervisor's screen model, `hm attach`'s view and hm-agent's
//! `session_read` all play output through it; text read out of its screen
//! goes through [`restore`].
//!
//! Its own crate so that `heimdall-client`, the library programs use to
//! drive sessions, does not carry an emulator. What is still different
//! from xterm: a character inserted at the right margin wraps, but the
//! line above is not marked as wrapped (a line `session_read` would give
//! whole is given as two).

mod tabs;
mod terminal;
mod vt_gaps;

pub use terminal::{TermState, Terminal};
pub use vt_gaps::{restore, STAND_IN};
