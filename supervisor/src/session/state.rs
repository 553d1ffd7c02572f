//! The session's state as the classifier sees it: output and overlays
//! (waiting, a program's report) go in, `state` events come out, and a
//! timer task wakes at the classifier's deadlines (idle after silence,
//! debounce).

use std::sync::Arc;
use std::time::{Duration, Instant};

use heimdall_protocol::{Event, State};

use super::Session;
use crate::classify::Change;
use crate::sync::lock;

/// What a chunk of output did to the classifier.
pub(super) struct Classified {
    /// A state change to announce.
    change: Option<Change>,
    /// The classifier's next deadline moved earlier: the timer must re-plan.
    kick: bool,
}

impl Session {
    /// Tell the classifier `len` bytes of output arrived at `now`. The
    /// result goes to [`Session::announce`] once the output is in the ring.
    #[inline]
    pub(super) fn classify_output(&self, now: Instant, len: usize) -> Classified {
        let mut t = lock(&self.tracker);
        let before = t.next_deadline();
        let change = t.on_output(now, len);
        let after = t.next_deadline();
        let kick = match (before, after) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(a)) => a < b,
        };
        Classified { change, kick }
    }

    /// Re-plan the timer and announce the change, if output caused either.
    #[inline]
    pub(super) fn announce(&self, c: Classified) {
        if c.kick || c.change.is_some() {
            self.kick.notify_one();
        }
        if let Some(c) = c.change {
            self.emit_state(c);
        }
    }

    /// Set (or lift) the state that wins over the classifier's (waiting,
    /// a program's report), announcing the change.
    pub fn set_overlay(&self, overlay: Option<State>, reason: &str) {
        let change = lock(&self.tracker).set_overlay(Instant::now(), overlay, reason);
        if let Some(c) = change {
            self.emit_state(c);
        }
    }

    /// The state, and the classifier's own state beneath any overlay.
    pub fn states(&self) -> (State, State) {
        let t = lock(&self.tracker);
        (t.state(), t.classifier_state())
    }

    /// The overlay state (a program's report, a recognised prompt), if one
    /// is set: the state's changes that are not the classifier's reading
    /// of output and silence.
    pub fn overlay(&self) -> Option<State> {
        lock(&self.tracker).overlay()
    }

    /// The classifier's name.
    pub fn classifier_name(&self) -> &'static str {
        lock(&self.tracker).name()
    }

    /// Time since the child last wrote output.
    pub fn idle_for(&self) -> Duration {
        lock(&self.tracker).idle_for(Instant::now())
    }

    /// The current classifier state.
    pub fn state(&self) -> State {
        lock(&self.tracker).state()
    }

    /// The child is gone: the state becomes dead.
    pub(super) fn classify_dead(&self) {
        let change = lock(&self.tracker).dead(Instant::now());
        if let Some(c) = change {
            self.emit_state(c);
        }
    }

    fn emit_state(&self, c: Change) {
        let classifier = lock(&self.tracker).name().to_string();
        self.emit_event(Event::State {
            old: c.old.into(),
            new: c.new.into(),
            classifier,
            reason: c.reason,
        });
    }

    /// Wake at the classifier's deadlines (idle after silence, debounce).
    pub async fn classifier_timer(self: Arc<Self>) {
        loop {
            let notified = self.kick.notified();
            let deadline = lock(&self.tracker).next_deadline();
            match deadline {
                Some(d) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(d.into()) => {}
                        _ = notified => continue,
                    }
                }
                None => {
                    notified.await;
                    continue;
                }
            }
            let change = lock(&self.tracker).poll(Instant::now());
            if let Some(c) = change {
                self.emit_state(c);
            }
        }
    }
}
