//! Lining the output stream up with the pictures painted from the screen
//! model.
//!
//! A snapshot (SCREEN with `redraw`) shows the session's output up to its
//! `output_offset`. The first one is followed by an output stream from that
//! offset, so the stream starts exactly where the picture ends. A later one
//! (a repaint after a gap) must not start a new stream: the bytes of the
//! current one already on their way would be drawn on top of the new picture
//! (issue #8 item 9). Instead the stream is kept and every byte below the
//! snapshot's offset is dropped: the client library tells each chunk's
//! offset, and where the stream continues after a gap.
//!
//! A picture may also end before bytes the stream has brought: the screen
//! model does not show an escape sequence or a character whose end has
//! not come, nor a synchronized update under way, and its `output_offset`
//! is before them. Those bytes are kept ([`KEPT`]) and shown again after
//! the picture, which the terminal takes as it would have without it.

use std::collections::VecDeque;

/// How many of the last bytes streamed are kept to show again after a
/// picture that ends before them: more than a synchronized update the
/// supervisor holds back (`frame_hold::MAX_HOLD_BYTES`).
const KEPT: usize = crate::frame_hold::MAX_HOLD_BYTES + 64 * 1024;

/// What to do with a snapshot that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Snapshot {
    /// Paint it.
    Paint {
        /// If `Some`, then stream output from that offset.
        from: Option<u64>,
        /// The picture lies past the bytes streamed so far: any of them
        /// still held back (the start of an unfinished escape sequence) is
        /// in the picture and must not be shown after it.
        ahead: bool,
        /// Bytes streamed already that come after the picture: to show
        /// after it.
        again: Vec<u8>,
    },
    /// The stream has already delivered bytes past it: ask for a newer one.
    Stale,
}

/// Where the output stream stands relative to the picture.
#[derive(Debug, Default)]
pub struct Stream {
    /// Offset of the next output byte.
    pos: u64,
    /// The bytes below this offset are in the painted picture.
    painted: u64,
    /// A repaint was asked for and has not arrived: what streams meanwhile
    /// would be painted over at once.
    repaint_pending: bool,
    subscribed: bool,
    /// The last bytes streamed (up to [`KEPT`]), which end at `pos`.
    recent: VecDeque<u8>,
    /// The stream follows pictures: the bytes are kept (not for a pipe).
    painting: bool,
    /// A snapshot found stale because it ended this far before the bytes
    /// kept: the next one at the same offset is painted anyway (the
    /// screen model holds back more than is kept, and would until the
    /// program writes more).
    stale_at: Option<u64>,
}

impl Stream {
    /// A stream not opened yet.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Offset of the next output byte: the stream has brought the output
    /// below it.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Whether the output stream has been opened.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// The output stream was opened without a picture (the scrollback
    /// replay of a session without a screen model or that has just ended,
    /// or a pipe): everything it brings is shown, also when a repaint was
    /// wanted meanwhile (none will come).
    pub fn subscribed_unpainted(&mut self) {
        self.subscribed = true;
        self.repaint_pending = false;
        self.painting = false;
    }

    /// A repaint is wanted: whether to ask for one (not when one is on its
    /// way already; a snapshot older than the stream is asked for again).
    pub fn want_repaint(&mut self) -> bool {
        !std::mem::replace(&mut self.repaint_pending, true)
    }

    /// The asked-for repaint will not come (the session has no screen
    /// model any more, or has ended): show the stream as it comes.
    pub fn repaint_refused(&mut self) {
        self.repaint_pending = false;
    }

    /// The stream continues at `offset` (after a gap).
    pub fn moved(&mut self, offset: u64) {
        self.pos = offset;
        self.recent.clear();
    }

    /// A snapshot of the output below `offset` arrived.
    pub fn snapshot(&mut self, offset: u64) -> Snapshot {
        if !self.subscribed {
            self.subscribed = true;
            self.pos = offset;
            self.painted = offset;
            self.repaint_pending = false;
            self.painting = true;
            return Snapshot::Paint {
                from: Some(offset),
                ahead: false,
                again: Vec::new(),
            };
        }
        let behind = self.pos.saturating_sub(offset);
        let again = if behind > self.recent.len() as u64 {
            // Bytes past the snapshot were already shown on the old
            // picture and are not kept: painting it would lose them.
            if self.stale_at.replace(offset) != Some(offset) {
                return Snapshot::Stale;
            }
            Vec::new()
        } else {
            let from = self.recent.len() - behind as usize;
            self.recent.range(from..).copied().collect()
        };
        self.stale_at = None;
        self.painted = offset.max(self.pos);
        self.repaint_pending = false;
        Snapshot::Paint {
            from: None,
            ahead: offset > self.pos,
            again,
        }
    }

    /// The part of the output chunk at `offset` to show: none while a
    /// repaint is on its way, none below the painted picture's offset.
    pub fn output<'a>(&mut self, offset: u64, bytes: &'a [u8]) -> &'a [u8] {
        if offset != self.pos {
            self.recent.clear();
        }
        self.pos = offset + bytes.len() as u64;
        if self.painting {
            let keep = &bytes[bytes.len().saturating_sub(KEPT)..];
            let over = (self.recent.len() + keep.len()).saturating_sub(KEPT);
            self.recent.drain(..over);
            self.recent.extend(keep);
        }
        if self.repaint_pending {
            return &[];
        }
        let skip = self.painted.saturating_sub(offset).min(bytes.len() as u64);
        &bytes[skip as usize..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_snapshot_streams_from_its_offset() {
        let mut s = Stream::new();
        assert_eq!(
            s.snapshot(100),
            Snapshot::Paint {
                from: Some(100),
                ahead: false,
                again: vec![]
            }
        );
        assert_eq!(s.output(100, b"abc"), b"abc");
    }

    #[test]
    fn a_repaint_drops_the_old_stream_below_its_offset() {
        let mut s = Stream::new();
        s.snapshot(0);
        s.output(0, b"0123");
        // A gap: the stream resumes at 10; a repaint is asked for.
        s.moved(10);
        assert!(s.want_repaint());
        assert!(!s.want_repaint(), "one is on its way");
        assert_eq!(s.output(10, b"abcde"), b"", "painted over at once");
        assert_eq!(
            s.snapshot(20),
            Snapshot::Paint {
                from: None,
                ahead: true,
                again: vec![]
            },
            "the stream stands at 15"
        );
        // 15..20 is in the picture; 20.. is new.
        assert_eq!(s.output(15, b"fghijKLM"), b"KLM");
        assert_eq!(s.output(23, b"NO"), b"NO");
    }

    /// A snapshot that ends before bytes streamed already (an escape
    /// sequence not ended, which the screen model does not show yet, or a
    /// snapshot older than the stream) is painted, then those bytes again;
    /// when they are not kept, it is stale, and painted when asked for
    /// again gives the same.
    #[test]
    fn a_snapshot_before_the_stream_shows_the_bytes_after_it_again() {
        let mut s = Stream::new();
        s.snapshot(0);
        s.output(0, b"before\x1b[3");
        s.want_repaint();
        assert_eq!(
            s.snapshot(6),
            Snapshot::Paint {
                from: None,
                ahead: false,
                again: b"\x1b[3".to_vec()
            }
        );
        assert_eq!(s.output(9, b"1m"), b"1m");
        // After a gap only what came since is kept.
        s.moved(50);
        s.want_repaint();
        s.output(50, b"0123456789");
        assert_eq!(s.snapshot(45), Snapshot::Stale);
        assert_eq!(s.output(60, b"x"), b"", "still waiting for a repaint");
        assert_eq!(
            s.snapshot(55),
            Snapshot::Paint {
                from: None,
                ahead: false,
                again: b"56789x".to_vec()
            }
        );
        assert_eq!(s.output(61, b"y"), b"y");
        s.moved(100);
        s.want_repaint();
        assert_eq!(s.snapshot(90), Snapshot::Stale);
        assert_eq!(
            s.snapshot(90),
            Snapshot::Paint {
                from: None,
                ahead: false,
                again: vec![]
            },
            "the same again"
        );
        assert_eq!(s.output(100, b"z"), b"z");
    }

    /// Only the last [`KEPT`] bytes streamed are kept.
    #[test]
    fn the_bytes_kept_are_bounded() {
        let mut s = Stream::new();
        s.snapshot(0);
        let big = vec![b'a'; KEPT];
        s.output(0, &big);
        s.output(KEPT as u64, b"bc");
        s.want_repaint();
        assert_eq!(s.snapshot(1), Snapshot::Stale);
        match s.snapshot(2) {
            Snapshot::Paint { again, .. } => {
                assert_eq!(again.len(), KEPT);
                assert!(again.ends_with(b"abc"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A repaint wanted before the first picture came (the echo of
    /// attach's own resize), then the picture refused (the session had
    /// just ended): the replay that opens instead is shown. It was dropped
    /// as if a picture were on its way, and `hm run` of a quick command
    /// showed none of its output.
    #[test]
    fn a_replay_opened_instead_of_a_wanted_picture_is_shown() {
        let mut s = Stream::new();
        assert!(s.want_repaint());
        s.subscribed_unpainted();
        assert_eq!(s.output(0, b"quick\r\n"), b"quick\r\n");
    }

    #[test]
    fn without_a_picture_everything_is_shown() {
        let mut s = Stream::new();
        s.subscribed_unpainted();
        assert!(s.is_subscribed());
        assert_eq!(s.output(0, b"abc"), b"abc");
        assert!(s.recent.is_empty(), "nothing kept for a pipe");
        s.want_repaint();
        s.repaint_refused();
        s.moved(7);
        assert_eq!(s.output(7, b"d"), b"d");
    }
}
