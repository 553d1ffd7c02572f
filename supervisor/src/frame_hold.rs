//! Synchronized updates (mode 2026) for the screen model: a program that
//! begins one (`ESC [ ? 2026 h`) asks the terminal to show nothing of what
//! follows until it ends it (`ESC [ ? 2026 l`), so that a frame it redraws
//! (a clear, then every row) is seen whole or not at all. [`FrameHold`]
//! does that in front of the screen model: the bytes of an update are held
//! back and parsed together once it ends, so a SCREEN (or a screen WAIT, or
//! the classifier) between two pieces of a frame sees the frame before it,
//! never a half-drawn one.
//!
//! As terminals do, a hold is bounded: an update that has not ended after
//! [`MAX_HOLD_TIME`], or has grown past [`MAX_HOLD_BYTES`], is let through
//! as it is. So is one that asks where the cursor is (`ESC [ 6 n`): a
//! terminal answers from what it holds back, and the supervisor answers
//! from the screen model.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use crate::marker::Marker;
use crate::terminal_queries::{self, Query};

/// Begins a synchronized update.
const BEGIN: &[u8] = b"\x1b[?2026h";
/// Ends a synchronized update.
pub const END: &[u8] = b"\x1b[?2026l";

/// How long an update may be held before it is shown unfinished.
pub const MAX_HOLD_TIME: Duration = Duration::from_millis(200);
/// How many bytes an update may hold before it is shown unfinished.
pub const MAX_HOLD_BYTES: usize = 1024 * 1024;

/// Holds back the output of a synchronized update until it ends.
#[derive(Debug)]
pub struct FrameHold {
    /// The update under way: when it began and the bytes held since.
    held: Option<(Instant, Vec<u8>)>,
    /// Looks for [`BEGIN`] in the output passed (cut between two pieces
    /// too).
    begin: Marker,
    /// Looks for [`END`] in the bytes held.
    end: Marker,
}

impl Default for FrameHold {
    fn default() -> FrameHold {
        FrameHold {
            held: None,
            begin: Marker::new(BEGIN),
            end: Marker::new(END),
        }
    }
}

impl FrameHold {
    /// Pass output through: what may be parsed now, in order. Bytes of an
    /// update under way are kept until it ends (or is held too long).
    pub fn pass<'a>(&mut self, bytes: &'a [u8], now: Instant) -> Cow<'a, [u8]> {
        let mut out = Vec::new();
        let mut rest = bytes;
        // One update after the other: each step takes its bytes off `rest`.
        loop {
            let Some((since, held)) = &mut self.held else {
                match self.find_begin(rest) {
                    None => {
                        if out.is_empty() {
                            return Cow::Borrowed(rest);
                        }
                        out.extend_from_slice(rest);
                        return Cow::Owned(out);
                    }
                    Some(at) => {
                        // The hold starts at the begin when it is whole
                        // here, so that a client resuming the output at
                        // the offset the screen shows gets the update whole.
                        out.extend_from_slice(&rest[..at]);
                        rest = &rest[at..];
                        self.held = Some((now, Vec::new()));
                        self.end = Marker::new(END);
                        continue;
                    }
                }
            };
            match self.end.find(rest) {
                Some(end) => {
                    out.append(held);
                    out.extend_from_slice(&rest[..end]);
                    rest = &rest[end..];
                    self.held = None;
                }
                None => {
                    // A query cut between the two is among the last held.
                    let unseen = held.len().saturating_sub(terminal_queries::LONGEST - 1);
                    held.extend_from_slice(rest);
                    if held.len() > MAX_HOLD_BYTES
                        || now.saturating_duration_since(*since) > MAX_HOLD_TIME
                        || asks_for_the_cursor(&held[unseen..])
                    {
                        out.extend(self.release().unwrap_or_default());
                    }
                    return Cow::Owned(out);
                }
            }
        }
    }

    /// The held bytes of an update begun more than [`MAX_HOLD_TIME`]
    /// before `now` (which is then shown unfinished).
    pub fn release_stale(&mut self, now: Instant) -> Option<Vec<u8>> {
        match &self.held {
            Some((since, _)) if now.saturating_duration_since(*since) > MAX_HOLD_TIME => {
                self.release()
            }
            _ => None,
        }
    }

    /// When the update under way, if any, is to be shown unfinished:
    /// [`FrameHold::release_stale`] lets it through after this instant.
    pub fn deadline(&self) -> Option<Instant> {
        self.held.as_ref().map(|(since, _)| *since + MAX_HOLD_TIME)
    }

    /// How the update under way last set DEC private mode `mode` (its
    /// number in ASCII, as in `CSI ? 2004 h`), if it did: a terminal
    /// applies an update's modes at once and only delays drawing it, so
    /// what a key or a paste is sent as follows the held bytes.
    pub fn private_mode(&self, mode: &[u8]) -> Option<bool> {
        let (_, held) = self.held.as_ref()?;
        let mut last = None;
        let mut rest = &held[..];
        while let Some(at) = memchr::memchr(0x1b, rest) {
            rest = &rest[at + 1..];
            let Some(params) = rest.strip_prefix(b"[?") else {
                continue;
            };
            let Some(n) = params
                .iter()
                .position(|b| !(b.is_ascii_digit() || *b == b';'))
            else {
                break;
            };
            let set = match params[n] {
                b'h' => true,
                b'l' => false,
                _ => continue,
            };
            if params[..n].split(|b| *b == b';').any(|p| p == mode) {
                last = Some(set);
            }
        }
        last
    }

    /// Bytes held back.
    pub fn held(&self) -> usize {
        self.held.as_ref().map_or(0, |(_, h)| h.len())
    }

    /// Forget the update under way (its bytes are dropped).
    pub fn reset(&mut self) {
        *self = FrameHold::default();
    }

    fn release(&mut self) -> Option<Vec<u8>> {
        self.held.take().map(|(_, held)| held)
    }

    /// Where the first update in `bytes` begins: at its [`BEGIN`], or just
    /// after it when it started in the bytes passed before.
    fn find_begin(&mut self, bytes: &[u8]) -> Option<usize> {
        let end = self.begin.find(bytes)?;
        Some(end.checked_sub(BEGIN.len()).unwrap_or(end))
    }
}

/// Whether `bytes` ask the terminal where the cursor is: its answer comes
/// from the screen model, which must have parsed them.
fn asks_for_the_cursor(bytes: &[u8]) -> bool {
    terminal_queries::find(bytes)
        .any(|(_, _, q)| matches!(q, Query::CursorPosition | Query::DecCursorPosition))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `pieces`, passed one after the other, let through after each.
    fn passed(pieces: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut hold = FrameHold::default();
        let now = Instant::now();
        pieces
            .iter()
            .map(|p| hold.pass(p, now).into_owned())
            .collect()
    }

    #[test]
    fn an_update_is_let_through_when_it_ends() {
        assert_eq!(
            passed(&[b"a\x1b[?2026hb", b"c", b"d\x1b[?2026le"]),
            [
                b"a".to_vec(),
                vec![],
                b"\x1b[?2026hbcd\x1b[?2026le".to_vec()
            ]
        );
    }

    #[test]
    fn output_without_updates_is_not_copied() {
        let mut hold = FrameHold::default();
        assert!(matches!(
            hold.pass(b"plain \x1b[?2025h text", Instant::now()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn the_sequences_may_be_split_anywhere() {
        let all = b"x\x1b[?2026hframe\x1b[?2026ly\x1b[?2026hz";
        let first = b"x\x1b[?2026hframe\x1b[?2026ly".len();
        for cut in 0..=all.len() {
            for cut2 in cut..=all.len() {
                let mut hold = FrameHold::default();
                let now = Instant::now();
                let out: Vec<u8> = [&all[..cut], &all[cut..cut2], &all[cut2..]]
                    .iter()
                    .flat_map(|p| hold.pass(p, now).into_owned())
                    .collect();
                // The second update is held: from its begin when that came
                // whole, else from where it ends.
                assert!(all.starts_with(&out), "{cut} {cut2}");
                assert_eq!(out.len() + hold.held(), all.len(), "{cut} {cut2}");
                let whole = [cut, cut2]
                    .iter()
                    .all(|c| !(first + 1..first + 8).contains(c));
                let expect = if whole { first } else { all.len() - 1 };
                assert_eq!(out.len(), expect, "{cut} {cut2}");
            }
        }
    }

    #[test]
    fn a_begin_split_byte_by_byte_is_found() {
        let mut hold = FrameHold::default();
        let now = Instant::now();
        for b in b"\x1b[?2026h" {
            assert_eq!(&*hold.pass(&[*b], now), [*b]);
        }
        assert!(hold.pass(b"held", now).is_empty());
        assert_eq!(hold.held(), 4);
    }

    /// A cursor position query lets the update through as far as it came
    /// (also one cut between two reads); other queries do not.
    #[test]
    fn a_cursor_query_lets_the_update_through() {
        assert_eq!(
            passed(&[b"\x1b[?2026hab\x1b[5n", b"c\x1b[", b"?6", b"nd"]),
            [
                vec![],
                vec![],
                vec![],
                b"\x1b[?2026hab\x1b[5nc\x1b[?6nd".to_vec()
            ]
        );
    }

    /// A read of a flood of updates (a program redrawing a tiny frame
    /// over and over) is let through in one go: each update in it took two
    /// nested calls and a copy of all that followed, so a 64 KiB read of
    /// empty updates (4096 of them) overflowed the 2 MiB stack of the pump's
    /// flood thread (which parses when the flood holds a terminal query) in
    /// a debug build, and took 0.3 s.
    #[test]
    fn a_read_of_many_updates_is_let_through_in_one_go() {
        let pair = b"\x1b[?2026h\x1b[?2026l";
        let read = pair.repeat(64 * 1024 / pair.len());
        let passed = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut hold = FrameHold::default();
                let out = hold.pass(&read, Instant::now()).into_owned();
                (out == read, hold.held())
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(passed, (true, 0));
    }

    #[test]
    fn a_hold_ends_after_its_time_or_size() {
        let mut hold = FrameHold::default();
        let t0 = Instant::now();
        hold.pass(b"\x1b[?2026hhalf", t0);
        assert_eq!(hold.release_stale(t0 + MAX_HOLD_TIME / 2), None);
        assert_eq!(
            hold.release_stale(t0 + MAX_HOLD_TIME * 2).as_deref(),
            Some(&b"\x1b[?2026hhalf"[..])
        );
        assert_eq!(&*hold.pass(b"after", t0), b"after");

        hold.pass(b"\x1b[?2026h", t0);
        assert!(hold.pass(&[b'x'; MAX_HOLD_BYTES - 8], t0).is_empty());
        assert_eq!(hold.pass(b"y", t0).len(), MAX_HOLD_BYTES + 1);
    }

    #[test]
    fn modes_set_in_a_held_update_are_known() {
        let mut hold = FrameHold::default();
        let now = Instant::now();
        assert_eq!(hold.private_mode(b"2004"), None);
        hold.pass(b"\x1b[?2026h\x1b[?1;2004h\x1b[?25l", now);
        assert_eq!(hold.private_mode(b"2004"), Some(true));
        assert_eq!(hold.private_mode(b"1"), Some(true));
        assert_eq!(hold.private_mode(b"200"), None);
        hold.pass(b"\x1b[?2004l\x1b[?200", now);
        assert_eq!(hold.private_mode(b"2004"), Some(false));
        hold.pass(b"\x1b[?2026l", now);
        assert_eq!(hold.private_mode(b"2004"), None);
    }
}
