//! Feeding the screen model from the output ring: a parse at once after a
//! pause, during a stream at most every [`SCREEN_LAG`] (in the syncer task,
//! after the woken subscribers have written the output), and a catch-up
//! before every read of the screen (see [`crate::screen`] for how floods
//! are skipped).

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use heimdall_protocol::Event;

use super::Session;
use crate::screen::{ScreenModel, REPLAY_TAIL, SKIP_OVER};
use crate::sync::lock;

/// How long parsing may lag behind a flood.
const SCREEN_LAG: Duration = Duration::from_millis(50);

/// The screen model and how far into the output it has parsed.
pub struct ScreenState {
    /// The emulator.
    pub model: ScreenModel,
    /// Output offset parsed up to.
    pub parsed: u64,
    /// When output was last parsed.
    synced_at: Instant,
}

impl ScreenState {
    /// An empty screen of `cols`×`rows`, parsed up to offset 0 at `now`.
    pub(super) fn new(cols: u16, rows: u16, scrollback_lines: usize, now: Instant) -> ScreenState {
        ScreenState {
            model: ScreenModel::new(cols, rows, scrollback_lines),
            parsed: 0,
            synced_at: now,
        }
    }

    /// The screen as SCREEN answers it in `format`, with up to
    /// `scrollback_lines` lines of scrollback and the output offset parsed
    /// up to.
    pub fn snapshot(
        &mut self,
        format: heimdall_protocol::ScreenFormat,
        scrollback_lines: usize,
    ) -> heimdall_protocol::ScreenResp {
        let mut resp = self.model.snapshot(format, scrollback_lines);
        // What the screen shows: a synchronized update held back, or a
        // sequence not ended, is not.
        resp.output_offset = self.parsed - self.model.unshown() as u64;
        resp
    }
}

impl Session {
    /// Output arrived at `now` (appended to the ring and, unless `gather`,
    /// announced to subscribers): schedule the parse.
    #[inline]
    pub(super) fn screen_output_arrived(&self, now: Instant, gather: bool) {
        if let Some(screen) = &self.screen {
            // Output after a pause is parsed at once; a stream of output at
            // most every SCREEN_LAG (see `crate::screen`).
            // Either way the parse runs in the syncer task, after the
            // subscribers woken above have written this output.
            // During a flood the lock is not even looked at: the flood's
            // reader must not wait for a parse under way.
            if !gather && now.saturating_duration_since(lock(screen).synced_at) >= SCREEN_LAG {
                self.screen_now.store(true, Ordering::Release);
            }
            self.screen_due.notify_one();
        }
    }

    /// The screen model, brought up to date with the output (see
    /// [`crate::screen`] for how floods are skipped). `None` when the screen
    /// model is turned off.
    pub fn screen(&self) -> Option<MutexGuard<'_, ScreenState>> {
        let mut st = lock(self.screen.as_ref()?);
        let end = self.output.end();
        let mut bells = 0;
        let mut titles = Vec::new();
        let mut note = |n: crate::screen::Noticed| {
            bells += n.bells;
            titles.extend(n.titles);
        };
        if st.parsed < end {
            let (mut skipped, from, slices) = self.output.unparsed(st.parsed);
            let end = from + slices.iter().map(|s| s.len() as u64).sum::<u64>();
            // Skip ahead when too much is pending or the ring already
            // dropped unparsed bytes (see `crate::screen`).
            if end - st.parsed > SKIP_OVER as u64 || from > st.parsed {
                let tail_from = end.saturating_sub(REPLAY_TAIL as u64).max(from);
                let mut at = from;
                let mut tail = Vec::with_capacity((end - tail_from) as usize);
                for s in &slices {
                    let cut = (tail_from.saturating_sub(at) as usize).min(s.len());
                    skipped.read(&s[..cut]);
                    tail.extend_from_slice(&s[cut..]);
                    at += s.len() as u64;
                }
                let before = || self.output_before(tail_from);
                note(st.model.feed_after_skip(&tail, skipped, before));
            } else {
                for s in &slices {
                    note(st.model.feed(s));
                }
            }
            st.parsed = end;
            st.synced_at = Instant::now();
            self.output.skim_from(st.model.skim_after());
        }
        note(st.model.release_stale_update());
        self.announce_noticed(titles, bells);
        Some(st)
    }

    /// The screen once the output has ended, parsed to its end: an update
    /// or a sequence the program left unfinished can no longer end (see
    /// [`ScreenModel::output_ended`]), and the screen reflects all the output.
    pub(super) fn screen_at_end(&self) {
        let Some(mut st) = self.screen() else { return };
        let n = st.model.output_ended();
        self.announce_noticed(n.titles, n.bells);
    }

    /// Events for the titles set and bells rung in a parse (the newest
    /// titles, and bells, up to a bound).
    fn announce_noticed(&self, titles: Vec<String>, bells: u64) {
        let dropped = titles.len().saturating_sub(crate::screen::MAX_TITLES);
        for title in titles.into_iter().skip(dropped) {
            self.emit_event(Event::Title { title });
        }
        for _ in 0..bells.min(16) {
            self.emit_event(Event::Bell);
        }
    }

    /// The output kept before offset `to`, in pieces, oldest first, and
    /// whether it reaches back to the session's first byte.
    fn output_before(&self, to: u64) -> (Vec<bytes::Bytes>, bool) {
        let (kept, slices) = self.output.slices_from(0);
        let mut left = to.saturating_sub(kept) as usize;
        let before = slices
            .into_iter()
            .map(|s| {
                let n = s.len().min(left);
                left -= n;
                s.slice(..n)
            })
            .collect();
        (before, kept == 0)
    }

    /// The visible screen as text lines, if there is a screen model.
    pub fn screen_lines(&self) -> Option<Vec<String>> {
        self.screen().map(|st| st.model.lines())
    }

    /// The screen as SCREEN answers it in `format`, with up to
    /// `scrollback_lines` lines of scrollback, if there is a screen model.
    pub fn screen_snapshot(
        &self,
        format: heimdall_protocol::ScreenFormat,
        scrollback_lines: usize,
    ) -> Option<heimdall_protocol::ScreenResp> {
        self.screen()
            .map(|mut st| st.snapshot(format, scrollback_lines))
    }

    /// Parse output: at once after a pause, during a stream at most
    /// [`SCREEN_LAG`] after the previous parse.
    pub async fn screen_syncer(self: Arc<Self>) {
        let Some(screen) = &self.screen else { return };
        loop {
            self.screen_due.notified().await;
            if !self.screen_now.swap(false, Ordering::AcqRel) {
                let at = lock(screen).synced_at + SCREEN_LAG;
                tokio::time::sleep_until(at.into()).await;
            }
            drop(self.screen());
        }
    }
}
