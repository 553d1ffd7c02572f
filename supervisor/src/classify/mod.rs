//! Classifiers: what is the program doing, judged from its output.
//!
//! - [`simple`]: `active` while output flows, `idle` after the idle threshold
//!   of silence (the default).
//! - [`claude`]: heimdall 1.0's byte-timing state machine (thinking,
//!   streaming, tool use).
//! - `none`: always `idle`.
//!
//! A classifier sees one *output event* per batch of pty reads (everything
//! readable at once) and is polled at the deadline it asks for, so an idle
//! session costs no timer wake-ups.
//!
//! Beside them, [`waiting`] reads the screen once output has settled and,
//! like a program's own report (`hm report`), sets an *overlay* state on the
//! [`Tracker`] that wins over the classifier's until it is lifted.

pub mod claude;
pub mod simple;
pub mod waiting;

use std::time::{Duration, Instant};

use heimdall_protocol::State;

/// Which classifier a session uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifierKind {
    /// Active / idle.
    Simple,
    /// heimdall 1.0's byte-timing state machine.
    Claude,
    /// Always idle.
    None,
}

impl ClassifierKind {
    /// The classifier's name in config and on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ClassifierKind::Simple => "simple",
            ClassifierKind::Claude => "claude",
            ClassifierKind::None => "none",
        }
    }

    /// The parameters this classifier uses ([`ClassifierParams`]' fields):
    /// only `claude` debounces, `none` is always idle.
    pub fn params(self) -> &'static [&'static str] {
        match self {
            ClassifierKind::Simple => &["idle_threshold_ms"],
            ClassifierKind::Claude => &["idle_threshold_ms", "debounce_ms"],
            ClassifierKind::None => &[],
        }
    }

    /// What this classifier takes, for messages: "`a` or `b`", or none.
    pub fn expected_params(self) -> String {
        match self.params() {
            [] => "no parameter (it is always idle)".into(),
            ps => ps
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }

    /// Parse a classifier name.
    pub fn from_name(s: &str) -> Result<ClassifierKind, String> {
        match s {
            "simple" => Ok(ClassifierKind::Simple),
            "claude" => Ok(ClassifierKind::Claude),
            "none" => Ok(ClassifierKind::None),
            other => Err(format!(
                "unknown classifier {other:?} (expected simple, claude or none)"
            )),
        }
    }
}

/// Tunables shared by the classifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifierParams {
    /// Silence after which the session is idle.
    pub idle_threshold_ms: u64,
    /// How long a new non-idle state must hold before it is reported.
    pub debounce_ms: u64,
}

impl Default for ClassifierParams {
    fn default() -> Self {
        ClassifierParams {
            idle_threshold_ms: 3000,
            debounce_ms: 200,
        }
    }
}

/// Parse the `classifier` config value: a name, or a table with one
/// sub-table named after the classifier holding its parameters.
pub fn parse_config(v: &toml::Value) -> Result<(ClassifierKind, ClassifierParams), String> {
    let mut params = ClassifierParams::default();
    match v {
        toml::Value::String(s) => Ok((ClassifierKind::from_name(s)?, params)),
        toml::Value::Table(t) => {
            if t.len() != 1 {
                return Err(format!(
                    "[classifier] must hold exactly one of [classifier.simple], [classifier.claude], [classifier.none]; found {}",
                    t.keys().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
            let Some((name, body)) = t.iter().next() else {
                return Err("[classifier] is empty".to_string());
            };
            let kind = ClassifierKind::from_name(name)?;
            let body = body
                .as_table()
                .ok_or_else(|| format!("classifier.{name} must be a table"))?;
            for (key, value) in body {
                let n = value
                    .as_integer()
                    .and_then(|i| u64::try_from(i).ok())
                    .ok_or_else(|| {
                        format!("classifier.{name}.{key} must be a non-negative integer")
                    })?;
                let used = kind.params().contains(&key.as_str());
                match key.as_str() {
                    "idle_threshold_ms" if used => params.idle_threshold_ms = n,
                    "debounce_ms" if used => params.debounce_ms = n,
                    _ => {
                        return Err(format!(
                            "unknown field `{key}` in [classifier.{name}], expected {}",
                            kind.expected_params()
                        ))
                    }
                }
            }
            Ok((kind, params))
        }
        _ => Err("classifier must be a name (\"simple\") or a table ([classifier.claude])".into()),
    }
}

/// A state change decided by a classifier, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The new state.
    pub state: State,
    /// Why, for people (`"silence ≥ 3000 ms"`).
    pub reason: String,
}

/// A classifier: fed output events, polled at its deadlines.
pub trait Classifier: Send {
    /// Output of `bytes` bytes arrived at `now`.
    fn on_output(&mut self, now: Instant, bytes: usize) -> Option<Transition>;
    /// Re-evaluate at `now` (called at or after [`Classifier::next_deadline`]).
    fn poll(&mut self, now: Instant) -> Option<Transition>;
    /// When the classifier next needs [`Classifier::poll`], if ever.
    fn next_deadline(&self) -> Option<Instant>;
}

/// The `none` classifier: always idle.
struct AlwaysIdle;

impl Classifier for AlwaysIdle {
    fn on_output(&mut self, _: Instant, _: usize) -> Option<Transition> {
        None
    }
    fn poll(&mut self, _: Instant) -> Option<Transition> {
        None
    }
    fn next_deadline(&self) -> Option<Instant> {
        None
    }
}

/// Build a classifier.
pub fn build(kind: ClassifierKind, params: ClassifierParams) -> Box<dyn Classifier> {
    match kind {
        ClassifierKind::Simple => Box::new(simple::Simple::new(params)),
        ClassifierKind::Claude => Box::new(claude::Claude::new(params)),
        ClassifierKind::None => Box::new(AlwaysIdle),
    }
}

/// A classifier plus what STATUS needs: the current state, since when, and
/// when output last arrived.
pub struct Tracker {
    kind: ClassifierKind,
    inner: Box<dyn Classifier>,
    /// The classifier's own state.
    state: State,
    /// A state set over the classifier's (waiting, or a program's report).
    overlay: Option<State>,
    since: Instant,
    last_output: Instant,
}

/// A reported change: old and new state plus the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The previous state.
    pub old: State,
    /// The new state.
    pub new: State,
    /// Why.
    pub reason: String,
}

impl Tracker {
    /// A tracker in the `idle` state, started at `now`.
    pub fn new(kind: ClassifierKind, params: ClassifierParams, now: Instant) -> Tracker {
        Tracker {
            kind,
            inner: build(kind, params),
            state: State::Idle,
            overlay: None,
            since: now,
            last_output: now,
        }
    }

    /// The classifier's name.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The current state: the overlay's while one is set, else the
    /// classifier's; `dead` once the child exited.
    pub fn state(&self) -> State {
        match self.overlay {
            Some(s) if self.state != State::Dead => s,
            _ => self.state,
        }
    }

    /// The classifier's own state, whatever the overlay says.
    pub fn classifier_state(&self) -> State {
        self.state
    }

    /// The overlay state, if one is set.
    pub fn overlay(&self) -> Option<State> {
        self.overlay
    }

    /// Set (or, with `None`, lift) the overlay state.
    pub fn set_overlay(
        &mut self,
        now: Instant,
        overlay: Option<State>,
        reason: &str,
    ) -> Option<Change> {
        let old = self.state();
        self.overlay = overlay;
        self.changed(now, old, reason.to_string())
    }

    /// Time in the current state.
    pub fn state_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    /// Time since output last arrived (or since the start).
    pub fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_output)
    }

    /// When to call [`Tracker::poll`] next.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Dead {
            return None;
        }
        self.inner.next_deadline()
    }

    /// Output arrived.
    pub fn on_output(&mut self, now: Instant, bytes: usize) -> Option<Change> {
        self.last_output = now;
        if self.state == State::Dead {
            return None;
        }
        let t = self.inner.on_output(now, bytes);
        self.apply(now, t)
    }

    /// A deadline passed.
    pub fn poll(&mut self, now: Instant) -> Option<Change> {
        if self.state == State::Dead {
            return None;
        }
        let t = self.inner.poll(now);
        self.apply(now, t)
    }

    /// The child exited: the state becomes `dead` for good.
    pub fn dead(&mut self, now: Instant) -> Option<Change> {
        self.apply(
            now,
            Some(Transition {
                state: State::Dead,
                reason: "the child exited".to_string(),
            }),
        )
    }

    fn apply(&mut self, now: Instant, t: Option<Transition>) -> Option<Change> {
        let t = t?;
        let old = self.state();
        self.state = t.state;
        self.changed(now, old, t.reason)
    }

    fn changed(&mut self, now: Instant, old: State, reason: String) -> Option<Change> {
        let new = self.state();
        if new == old {
            return None;
        }
        self.since = now;
        Some(Change { old, new, reason })
    }
}
