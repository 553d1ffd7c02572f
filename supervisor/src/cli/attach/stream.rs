//! Lining the output stream up with the pictures painted from the screen
//! model.
//!
//! A snapshot (SCREEN with `redraw`) shows the session's output up to its
//! `output_offset`. The first one is followed by SUBSCRIBE_FROM that offset,
//! so the stream starts exactly where the picture ends. A later one (a
//! repaint after `lagged`) must not subscribe again: the bytes of the current
//! stream already on their way would be drawn on top of the new picture
//! (issue #8 item 9). Instead the stream is kept and every byte below the
//! snapshot's offset is dropped: the client knows each byte's offset from
//! where its stream started, or from the `lagged`/`skipped` event that last
//! moved it.

/// What to do with a snapshot that arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Snapshot {
    /// Paint it; then, if `Some`, SUBSCRIBE_FROM that offset.
    Paint(Option<u64>),
    /// The stream has already delivered bytes past it: ask for a newer one.
    Stale,
}

/// Where the output stream stands relative to the picture.
#[derive(Debug, Default)]
pub struct Stream {
    /// Offset of the next OUTPUT byte, once known.
    pos: Option<u64>,
    /// The bytes below this offset are in the painted picture.
    painted: u64,
    /// A repaint was asked for and has not arrived: what streams meanwhile
    /// would be painted over at once.
    repaint_pending: bool,
    subscribed: bool,
}

impl Stream {
    /// A stream not subscribed yet.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Whether a subscription has been asked for.
    pub fn is_subscribed(&self) -> bool {
        self.subscribed
    }

    /// Subscribed without a known offset (the scrollback replay of a
    /// session without a screen model).
    pub fn subscribed_blind(&mut self) {
        self.subscribed = true;
        self.pos = None;
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

    /// The stream continues at `offset` (a `lagged` or `skipped` event).
    pub fn moved(&mut self, offset: u64) {
        self.pos = Some(offset);
    }

    /// A snapshot of the output below `offset` arrived.
    pub fn snapshot(&mut self, offset: u64) -> Snapshot {
        if !self.subscribed {
            self.subscribed = true;
            self.pos = Some(offset);
            self.painted = offset;
            self.repaint_pending = false;
            return Snapshot::Paint(Some(offset));
        }
        if self.pos.is_some_and(|p| p > offset) {
            // Bytes past the snapshot were already shown on the old
            // picture: painting it would lose them.
            return Snapshot::Stale;
        }
        self.painted = offset;
        self.repaint_pending = false;
        Snapshot::Paint(None)
    }

    /// The part of an OUTPUT payload to show: none while a repaint is on
    /// its way, none below the painted picture's offset.
    pub fn output<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        let Some(pos) = self.pos else {
            return bytes;
        };
        self.pos = Some(pos + bytes.len() as u64);
        if self.repaint_pending {
            return &[];
        }
        let skip = self.painted.saturating_sub(pos).min(bytes.len() as u64);
        &bytes[skip as usize..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_snapshot_subscribes_from_its_offset() {
        let mut s = Stream::new();
        assert_eq!(s.snapshot(100), Snapshot::Paint(Some(100)));
        assert_eq!(s.output(b"abc"), b"abc");
    }

    #[test]
    fn a_repaint_drops_the_old_stream_below_its_offset() {
        let mut s = Stream::new();
        s.snapshot(0);
        s.output(b"0123");
        // Lagged: the stream resumes at 10; a repaint is asked for.
        s.moved(10);
        assert!(s.want_repaint());
        assert!(!s.want_repaint(), "one is on its way");
        assert_eq!(s.output(b"abcde"), b"", "painted over at once");
        assert_eq!(s.snapshot(20), Snapshot::Paint(None));
        // 15..20 is in the picture; 20.. is new.
        assert_eq!(s.output(b"fghijKLM"), b"KLM");
        assert_eq!(s.output(b"NO"), b"NO");
    }

    #[test]
    fn a_snapshot_older_than_the_stream_is_stale() {
        let mut s = Stream::new();
        s.snapshot(0);
        s.moved(50);
        s.want_repaint();
        s.output(b"0123456789");
        assert_eq!(s.snapshot(55), Snapshot::Stale);
        assert_eq!(s.output(b"x"), b"", "still waiting for a repaint");
        assert_eq!(s.snapshot(61), Snapshot::Paint(None));
        assert_eq!(s.output(b"y"), b"y");
    }

    #[test]
    fn without_offsets_everything_is_shown() {
        let mut s = Stream::new();
        s.subscribed_blind();
        assert!(s.is_subscribed());
        assert_eq!(s.output(b"abc"), b"abc");
        s.want_repaint();
        s.repaint_refused();
        s.moved(7);
        assert_eq!(s.output(b"d"), b"d");
    }
}
