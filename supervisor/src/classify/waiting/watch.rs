//! The session's waiting watcher: runs the rules when output has settled,
//! sets and lifts the `waiting` overlay, holds programs' own reports, and
//! remembers what it looked at for `hm explain`.
//!
//! - Output flowing: nothing is looked at (a prompt-like line in a stream
//!   of output is not a prompt). The screen is read once the output has
//!   been quiet for [`SETTLE`].
//! - A rule that matches but whose input check fails (the program is still
//!   computing) is tried again a few times while the screen stays quiet.
//! - While waiting, output that changes the screen away from the prompt
//!   lifts the state at once (checked at most every [`RECHECK`]); input
//!   lifts it as it arrives.
//! - A report (`hm report`) wins over the rules until the screen changes
//!   (compared with the screen as it settled after the report) or the next
//!   report; input lifts a reported `waiting` too.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use heimdall_protocol::message::{Waiting, WaitingKind};
use heimdall_protocol::ReportRequest;
use heimdall_protocol::{Event, ScreenFormat, ScreenResp, State};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use super::probe;
use super::Window;
use crate::session::Session;
use crate::sync::lock;

/// Quiet output after which the screen is read.
pub const SETTLE: Duration = Duration::from_millis(250);
/// While waiting, the shortest interval between two checks of a changing screen.
pub const RECHECK: Duration = Duration::from_millis(50);
/// How often a matching rule whose input check failed is tried again.
const CONFIRM_TRIES: u32 = 8;

/// What the watcher last looked at and decided (for `hm explain`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Look {
    /// `rule` (a screen rule decided), `report` (the program's report) or
    /// `classifier` (no rule matched: the classifier's state stands).
    pub source: String,
    /// The rule that matched, if one did.
    pub rule: Option<String>,
    /// Where that rule comes from (`built-in` or a file).
    pub rule_origin: Option<String>,
    /// What the foreground process was doing, when asked.
    pub activity: Option<String>,
    /// The decision, for people.
    pub verdict: String,
    /// The lines looked at.
    pub window: Window,
}

/// A program's report, in force until the screen changes or the next report.
#[derive(Debug, Clone)]
struct Report {
    state: State,
    /// The screen as it settled after the report.
    screen: Option<Vec<String>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// What the session waits for while the overlay says `waiting`.
    current: Option<Waiting>,
    report: Option<Report>,
    look: Look,
}

/// A session's waiting state.
#[derive(Debug, Default)]
pub struct Cell {
    inner: Mutex<Inner>,
    kick: Notify,
}

/// The outcome of one look.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Done,
    /// A rule matched but the program is busy: look again soon.
    Unconfirmed,
}

fn snapshot(session: &Session) -> Option<ScreenResp> {
    session
        .screen()
        .map(|mut st| st.model.snapshot(ScreenFormat::Text, 0))
}

/// Enter (or update) `waiting`: the event first, so that whoever sees the
/// state change already has the details.
fn enter(session: &Session, inner: &mut Inner, w: Waiting) {
    if inner.current.as_ref() != Some(&w) {
        inner.current = Some(w.clone());
        let reason = format!("{} {:?}", w.source, w.rule);
        session.emit_event(Event::Waiting(w));
        session.set_overlay(Some(State::Waiting), &reason);
    }
}

fn leave(session: &Session, inner: &mut Inner, reason: &str) {
    if inner.current.take().is_some() {
        session.set_overlay(None, reason);
    }
}

fn evaluate(session: &Session) -> Verdict {
    let Some(snap) = snapshot(session) else {
        return Verdict::Done;
    };
    let window = Window::of(&snap);
    let mut inner = lock(&session.waiting.inner);
    if let Some(rep) = inner.report.as_mut() {
        match &rep.screen {
            None => rep.screen = Some(snap.lines.clone()),
            Some(lines) if *lines == snap.lines => {}
            Some(_) => {
                inner.report = None;
                inner.current = None;
                session.set_overlay(None, "the screen changed after the report");
            }
        }
    }
    if let Some(rep) = &inner.report {
        inner.look = Look {
            source: "report".into(),
            rule: Some("report".into()),
            rule_origin: None,
            activity: None,
            verdict: format!("the program reported {}", rep.state),
            window,
        };
        return Verdict::Done;
    }
    let found = session.config.waiting_rules.detect(&snap, &window);
    let Some(m) = found else {
        leave(session, &mut inner, "no waiting rule matches the screen");
        inner.look = Look {
            source: "classifier".into(),
            verdict: "no waiting rule matches the screen".into(),
            window,
            ..Look::default()
        };
        return Verdict::Done;
    };
    let origin = session
        .config
        .waiting_rules
        .rules
        .iter()
        .find(|r| r.name == m.waiting.rule)
        .map(|r| r.origin.clone());
    let activity = probe::foreground(session.master_fd());
    let confirmed = m.confirmed_by(&activity);
    let rule = m.waiting.rule.clone();
    let verdict = if confirmed {
        format!("rule {rule:?} matches the screen")
    } else {
        format!(
            "rule {rule:?} matches the screen, but the program is busy ({})",
            activity.describe()
        )
    };
    if confirmed {
        enter(session, &mut inner, m.waiting);
    } else {
        leave(session, &mut inner, &verdict);
    }
    inner.look = Look {
        source: if confirmed { "rule" } else { "classifier" }.into(),
        rule: Some(rule),
        rule_origin: origin,
        activity: Some(activity.describe()),
        verdict,
        window,
    };
    if confirmed {
        Verdict::Done
    } else {
        Verdict::Unconfirmed
    }
}

/// While waiting on a screen rule: lift it if the screen no longer matches.
fn recheck(session: &Session) {
    let rule = match &lock(&session.waiting.inner).current {
        Some(w) if w.source == "screen" => w.rule.clone(),
        _ => return,
    };
    let Some(snap) = snapshot(session) else {
        return;
    };
    let window = Window::of(&snap);
    let still = session
        .config
        .waiting_rules
        .rules
        .iter()
        .find(|r| r.name == rule)
        .is_some_and(|r| r.apply(&snap, &window).is_some());
    if !still {
        let mut inner = lock(&session.waiting.inner);
        leave(
            session,
            &mut inner,
            "the screen changed away from the prompt",
        );
    }
}

/// Subscribe to the session's events; while the session waits, also the
/// `waiting` event that announced it, for the new listener to get first.
/// Taken under the watcher's lock, which `enter` holds while it emits, so
/// the listener gets each `waiting` event once: either here or from the
/// receiver, never both and never neither.
pub fn subscribe_events(
    session: &Session,
) -> (tokio::sync::broadcast::Receiver<Event>, Option<Waiting>) {
    let inner = lock(&session.waiting.inner);
    let waiting = inner
        .current
        .clone()
        .filter(|_| session.state() == State::Waiting);
    (session.subscribe_events(), waiting)
}

/// Input arrived: a `waiting` state (from a rule or a report) ends.
pub fn on_input(session: &Session) {
    let mut inner = lock(&session.waiting.inner);
    if inner.current.is_some() {
        if inner
            .report
            .as_ref()
            .is_some_and(|r| r.state == State::Waiting)
        {
            inner.report = None;
        }
        leave(session, &mut inner, "input arrived");
    }
    drop(inner);
    session.waiting.kick.notify_one();
}

/// A program reported its own state (`waiting` with what it waits for,
/// `active` or `idle`). Other states cannot be reported.
pub fn report(session: &Session, req: ReportRequest) -> Result<(), String> {
    let state = req.state;
    if !matches!(state, State::Waiting | State::Active | State::Idle) {
        return Err(format!(
            "a program can report waiting, active or idle, not {state}"
        ));
    }
    let mut inner = lock(&session.waiting.inner);
    inner.report = Some(Report {
        state,
        screen: None,
    });
    if state == State::Waiting {
        let kind = req.kind.unwrap_or(if req.options.is_empty() {
            WaitingKind::Text
        } else {
            WaitingKind::Menu
        });
        let w = Waiting {
            prompt: req.prompt,
            kind,
            options: req.options,
            selected: None,
            rule: "report".into(),
            source: "report".into(),
        };
        enter(session, &mut inner, w);
    } else {
        inner.current = None;
        session.set_overlay(Some(state), "reported by the program");
    }
    inner.look = Look {
        source: "report".into(),
        rule: Some("report".into()),
        verdict: format!("the program reported {state}"),
        ..Look::default()
    };
    drop(inner);
    session.waiting.kick.notify_one();
    Ok(())
}

/// The answer to EXPLAIN: the state, where it comes from, the lines looked
/// at and what the session waits for.
pub fn explain(session: &Session) -> Value {
    let inner = lock(&session.waiting.inner);
    let (state, classifier_state) = session.states();
    let look = &inner.look;
    let source = match state {
        State::Dead => "exit",
        _ if inner.report.is_some() => "report",
        State::Waiting => "rule",
        _ => "classifier",
    };
    json!({
        "ok": true,
        "state": state,
        "source": source,
        "classifier": session.classifier_name(),
        "classifier_state": classifier_state,
        "rule": if source == "classifier" { None } else { look.rule.clone() },
        "last_look": look,
        "waiting": inner.current,
    })
}

/// Watch the session until the child exits.
pub async fn run(session: std::sync::Arc<Session>) {
    if snapshot(&session).is_none() {
        // No screen model: nothing to read.
        return;
    }
    let mut out = session.output.watch();
    let mut exit = session.watch_exit();
    let mut quiet_since = Instant::now();
    let mut seen_end = session.output.end();
    let mut pending = true;
    let mut tries = 0;
    let mut last_recheck = Instant::now() - RECHECK;
    loop {
        let deadline = pending.then_some(quiet_since + SETTLE);
        tokio::select! {
            r = out.changed() => {
                if r.is_err() {
                    return;
                }
                quiet_since = Instant::now();
                seen_end = session.output.end();
                pending = true;
                tries = 0;
                if session.state() == State::Waiting && last_recheck.elapsed() >= RECHECK {
                    last_recheck = Instant::now();
                    recheck(&session);
                }
            }
            _ = session.waiting.kick.notified() => {
                quiet_since = Instant::now();
                pending = true;
                tries = 0;
            }
            _ = exit.wait_for(Option::is_some) => return,
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now).into()).await }, if deadline.is_some() => {
                let end = session.output.end();
                if end != seen_end {
                    seen_end = end;
                    quiet_since = Instant::now();
                    continue;
                }
                let verdict = evaluate(&session);
                if verdict == Verdict::Unconfirmed && tries < CONFIRM_TRIES {
                    tries += 1;
                    quiet_since = Instant::now();
                } else {
                    pending = false;
                }
            }
        }
    }
}
