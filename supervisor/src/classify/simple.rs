//! The `simple` classifier: `active` while output flows, `idle` after
//! `idle_threshold_ms` of silence.

use std::time::{Duration, Instant};

use heimdall_protocol::State;

use super::{Classifier, ClassifierParams, Transition};

/// Active while output flows, idle after the threshold.
pub struct Simple {
    threshold: Duration,
    last_output: Option<Instant>,
    active: bool,
}

impl Simple {
    /// A simple classifier with `params.idle_threshold_ms`.
    pub fn new(params: ClassifierParams) -> Simple {
        Simple {
            threshold: Duration::from_millis(params.idle_threshold_ms),
            last_output: None,
            active: false,
        }
    }
}

impl Classifier for Simple {
    fn on_output(&mut self, now: Instant, bytes: usize) -> Option<Transition> {
        self.last_output = Some(now);
        if self.active {
            return None;
        }
        self.active = true;
        Some(Transition {
            state: State::Active,
            reason: format!("output ({bytes} bytes)"),
        })
    }

    fn poll(&mut self, now: Instant) -> Option<Transition> {
        let last = self.last_output?;
        if self.active && now.saturating_duration_since(last) >= self.threshold {
            self.active = false;
            return Some(Transition {
                state: State::Idle,
                reason: format!("no output for {} ms", self.threshold.as_millis()),
            });
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        if self.active {
            self.last_output.map(|t| t + self.threshold)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_then_idle_after_threshold() {
        let t0 = Instant::now();
        let mut c = Simple::new(ClassifierParams {
            idle_threshold_ms: 100,
            debounce_ms: 0,
        });
        assert_eq!(c.on_output(t0, 5).unwrap().state, State::Active);
        assert!(c.on_output(t0 + Duration::from_millis(50), 5).is_none());
        assert_eq!(c.next_deadline(), Some(t0 + Duration::from_millis(150)));
        assert!(c.poll(t0 + Duration::from_millis(149)).is_none());
        assert_eq!(
            c.poll(t0 + Duration::from_millis(150)).unwrap().state,
            State::Idle
        );
        assert_eq!(c.next_deadline(), None);
    }
}
