//! The `claude` classifier: heimdall 1.0's byte-timing state machine.
//!
//! It keeps a sliding window of the last 20 output events and decides. An
//! event is a burst: output read within 15 ms of the previous output joins
//! its burst (a program's large write reaches the pty in several reads).
//!
//! - silence ≥ `idle_threshold_ms` → `idle`, at once;
//! - a burst larger than 4 KiB → `tool_use`;
//! - a pause longer than 200 ms followed by a burst larger than 1 KiB → `tool_use`;
//! - uniform small bursts (40–120 bytes) at regular 30–200 ms intervals → `thinking`;
//! - bursts of varying size at high frequency → `streaming`;
//! - any other recent output → `thinking`.
//!
//! Transitions to a non-idle state are debounced: the new state must hold
//! for `debounce_ms` (no event deciding otherwise) before it is reported.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use heimdall_protocol::State;

use super::{Classifier, ClassifierParams, Transition};

const WINDOW: usize = 20;
/// Output closer than this to the previous output belongs to the same burst.
const BURST_GAP: Duration = Duration::from_millis(15);
const TOOL_BURST: usize = 4096;
const PAUSE: Duration = Duration::from_millis(200);
const PAUSED_BURST: usize = 1024;
const SMALL_BURST: std::ops::RangeInclusive<usize> = 40..=120;
const REGULAR_INTERVAL: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(30)..=Duration::from_millis(200);
const HIGH_FREQUENCY: Duration = Duration::from_millis(100);
/// Events needed before a pattern (thinking / streaming) is recognised.
const MIN_PATTERN: usize = 4;

/// heimdall 1.0's byte-timing classifier.
pub struct Claude {
    threshold: Duration,
    debounce: Duration,
    window: VecDeque<(Instant, usize)>,
    current: State,
    pending: Option<(Transition, Instant)>,
    last_output: Option<Instant>,
}

impl Claude {
    /// A classifier with the given parameters.
    pub fn new(params: ClassifierParams) -> Claude {
        Claude {
            threshold: Duration::from_millis(params.idle_threshold_ms),
            debounce: Duration::from_millis(params.debounce_ms),
            window: VecDeque::with_capacity(WINDOW),
            current: State::Idle,
            pending: None,
            last_output: None,
        }
    }

    fn judge(&self, now: Instant, bytes: usize, gap: Option<Duration>) -> Transition {
        let t = |state, reason: String| Transition { state, reason };
        if bytes > TOOL_BURST {
            return t(State::ToolUse, format!("burst of {bytes} bytes (> 4 KiB)"));
        }
        if let Some(gap) = gap {
            if gap > PAUSE && bytes > PAUSED_BURST {
                return t(
                    State::ToolUse,
                    format!("{bytes}-byte burst after a {} ms pause", gap.as_millis()),
                );
            }
        }
        // Only events since the last idle period count as recent.
        let recent: Vec<(Instant, usize)> = self
            .window
            .iter()
            .copied()
            .filter(|(at, _)| now.saturating_duration_since(*at) < self.threshold)
            .collect();
        if recent.len() >= MIN_PATTERN {
            let intervals: Vec<Duration> = recent.windows(2).map(|w| w[1].0 - w[0].0).collect();
            let sizes: Vec<usize> = recent.iter().map(|e| e.1).collect();
            let mean = intervals.iter().sum::<Duration>() / intervals.len() as u32;
            let (min_i, max_i) = (
                intervals.iter().min().copied().unwrap_or_default(),
                intervals.iter().max().copied().unwrap_or_default(),
            );
            let uniform_sizes = sizes.iter().all(|s| SMALL_BURST.contains(s));
            let regular =
                intervals.iter().all(|i| REGULAR_INTERVAL.contains(i)) && max_i - min_i <= mean / 2;
            if uniform_sizes && regular {
                return t(
                    State::Thinking,
                    format!("uniform small bursts every ~{} ms", mean.as_millis()),
                );
            }
            let (min_s, max_s) = (
                sizes.iter().min().copied().unwrap_or(0),
                sizes.iter().max().copied().unwrap_or(0),
            );
            if mean < HIGH_FREQUENCY && max_s > min_s.saturating_mul(2) {
                return t(
                    State::Streaming,
                    format!(
                        "bursts of {min_s}–{max_s} bytes every ~{} ms",
                        mean.as_millis()
                    ),
                );
            }
        }
        t(State::Thinking, "recent output".to_string())
    }

    fn settle(&mut self, now: Instant, candidate: Transition) -> Option<Transition> {
        if candidate.state == self.current {
            self.pending = None;
            return None;
        }
        let since = match &self.pending {
            Some((p, since)) if p.state == candidate.state => *since,
            _ => now,
        };
        if now.saturating_duration_since(since) >= self.debounce {
            self.pending = None;
            self.current = candidate.state;
            return Some(candidate);
        }
        self.pending = Some((candidate, since));
        None
    }
}

impl Classifier for Claude {
    fn on_output(&mut self, now: Instant, bytes: usize) -> Option<Transition> {
        let since_last = self.last_output.map(|t| now.saturating_duration_since(t));
        self.last_output = Some(now);
        let joins = since_last.is_some_and(|g| g < BURST_GAP);
        let (burst, gap) = match self.window.back_mut() {
            Some((_, size)) if joins => {
                *size += bytes;
                // The pause that preceded this burst.
                let n = self.window.len();
                let gap = (n >= 2).then(|| self.window[n - 1].0 - self.window[n - 2].0);
                (self.window[n - 1].1, gap)
            }
            _ => {
                if self.window.len() == WINDOW {
                    self.window.pop_front();
                }
                self.window.push_back((now, bytes));
                (bytes, since_last)
            }
        };
        let candidate = self.judge(now, burst, gap);
        self.settle(now, candidate)
    }

    fn poll(&mut self, now: Instant) -> Option<Transition> {
        let last = self.last_output?;
        if now.saturating_duration_since(last) >= self.threshold {
            self.pending = None;
            if self.current != State::Idle {
                self.current = State::Idle;
                return Some(Transition {
                    state: State::Idle,
                    reason: format!("no output for {} ms", self.threshold.as_millis()),
                });
            }
            return None;
        }
        let (p, since) = self.pending.clone()?;
        if now.saturating_duration_since(since) >= self.debounce {
            return self.settle(now, p);
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        let idle = match (self.current, &self.pending) {
            (State::Idle, None) => None,
            _ => self.last_output.map(|t| t + self.threshold),
        };
        let debounce = self
            .pending
            .as_ref()
            .map(|(_, since)| *since + self.debounce);
        match (idle, debounce) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> ClassifierParams {
        ClassifierParams {
            idle_threshold_ms: 3000,
            debounce_ms: 200,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feed events and poll at every deadline up to `until`; return the last reported state.
    fn run(c: &mut Claude, t0: Instant, events: &[(u64, usize)], until: u64) -> State {
        let mut state = State::Idle;
        let mut apply = |t: Option<Transition>| {
            if let Some(t) = t {
                state = t.state;
            }
        };
        for &(at, n) in events {
            while let Some(d) = c.next_deadline().filter(|d| *d <= t0 + ms(at)) {
                apply(c.poll(d));
            }
            apply(c.on_output(t0 + ms(at), n));
        }
        while let Some(d) = c.next_deadline().filter(|d| *d <= t0 + ms(until)) {
            apply(c.poll(d));
        }
        state
    }

    #[test]
    fn big_burst_is_tool_use_after_debounce() {
        let t0 = Instant::now();
        let mut c = Claude::new(params());
        assert!(c.on_output(t0, 10_000).is_none(), "debounced");
        assert_eq!(c.poll(t0 + ms(199)), None);
        assert_eq!(c.poll(t0 + ms(200)).unwrap().state, State::ToolUse);
        assert_eq!(c.poll(t0 + ms(3000)).unwrap().state, State::Idle);
    }

    #[test]
    fn regular_small_bursts_are_thinking() {
        let t0 = Instant::now();
        let mut c = Claude::new(params());
        let events: Vec<(u64, usize)> = (0..12).map(|i| (i * 80, 60 + (i as usize % 3))).collect();
        assert_eq!(run(&mut c, t0, &events, 1000), State::Thinking);
    }

    #[test]
    fn varied_fast_bursts_are_streaming() {
        let t0 = Instant::now();
        let mut c = Claude::new(params());
        let events: Vec<(u64, usize)> = (0..20)
            .map(|i| (i * 20, [5, 300, 40, 900, 12][i as usize % 5]))
            .collect();
        assert_eq!(run(&mut c, t0, &events, 500), State::Streaming);
    }

    #[test]
    fn pause_then_kilobyte_burst_is_tool_use() {
        let t0 = Instant::now();
        let mut c = Claude::new(params());
        let state = run(&mut c, t0, &[(0, 50), (500, 2000)], 800);
        assert_eq!(state, State::ToolUse);
    }

    #[test]
    fn silence_is_idle_at_once() {
        let t0 = Instant::now();
        let mut c = Claude::new(params());
        let state = run(&mut c, t0, &[(0, 5000)], 2999);
        assert_eq!(state, State::ToolUse);
        assert_eq!(c.poll(t0 + ms(3000)).unwrap().state, State::Idle);
    }
}
