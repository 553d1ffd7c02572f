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
    }

    /// A snapshot of the output below `offset` arrived.
    pub fn snapshot(&mut self, offset: u64) -> Snapshot {
        if !self.subscribed {
            self.subscribed = true;
            self.pos = offset;
            self.painted = offset;
            self.repaint_pending = false;
            return Snapshot::Paint {
                from: Some(offset),
                ahead: false,
            };
        }
        if self.pos > offset {
            // Bytes past the snapshot were already shown on the old
            // picture: painting it would lose them.
            return Snapshot::Stale;
        }
        self.painted = offset;
        self.repaint_pending = false;
        Snapshot::Paint {
            from: None,
            ahead: offset > self.pos,
        }
    }

    /// The part of the output chunk at `offset` to show: none while a
    /// repaint is on its way, none below the painted picture's offset.
    pub fn output<'a>(&mut self, offset: u64, bytes: &'a [u8]) -> &'a [u8] {
        self.pos = offset + bytes.len() as u64;
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
                ahead: false
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
                ahead: true
            },
            "the stream stands at 15"
        );
        // 15..20 is in the picture; 20.. is new.
        assert_eq!(s.output(15, b"fghijKLM"), b"KLM");
        assert_eq!(s.output(23, b"NO"), b"NO");
    }

    #[test]
    fn a_snapshot_older_than_the_stream_is_stale() {
        let mut s = Stream::new();
        s.snapshot(0);
        s.moved(50);
        s.want_repaint();
        s.output(50, b"0123456789");
        assert_eq!(s.snapshot(55), Snapshot::Stale);
        assert_eq!(s.output(60, b"x"), b"", "still waiting for a repaint");
        assert_eq!(
            s.snapshot(61),
            Snapshot::Paint {
                from: None,
                ahead: false
            },
            "the picture ends where the stream stands"
        );
        assert_eq!(s.output(61, b"y"), b"y");
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
        s.want_repaint();
        s.repaint_refused();
        s.moved(7);
        assert_eq!(s.output(7, b"d"), b"d");
    }
}
