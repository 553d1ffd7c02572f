//! The long-running extension requests: SUBMIT (type a line as a person
//! would and confirm it was taken) and WAIT (server-side, event-driven
//! conditions). Each runs in its own task so several can be in flight on one
//! connection; the answer carries the request's `id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use heimdall_client::screen_regex;
use heimdall_protocol::{RegexSource, State, SubmitRequest, WaitCondition, WaitRequest};
use serde_json::{json, Value};

use crate::frame_hold::MAX_HOLD_TIME;
use crate::session::Session;

/// Default time SUBMIT waits for the program to react to Enter.
pub const SUBMIT_TIMEOUT_MS: u64 = 5000;
/// After typing, how long output must be quiet before Enter is pressed.
const SETTLE_QUIET: Duration = Duration::from_millis(40);
/// If typing produces no output at all (no echo), Enter follows after this.
const SETTLE_SILENT: Duration = Duration::from_millis(150);
/// The longest wait for the typed text to be taken (on top of SUBMIT's
/// timeout: the wait for a reaction begins after it).
pub const SETTLE_MAX: Duration = Duration::from_millis(1500);
/// Text of new output kept for an output regex WAIT (at least this much,
/// at most twice as much).
const OUTPUT_WINDOW: usize = 64 * 1024;
/// How far before the new text an output regex WAIT looks again for a
/// match that the new text completes: the longest match it can find.
const MAX_OUTPUT_MATCH: usize = 4 * 1024;
/// Shortest interval between two looks at the screen for a regex WAIT.
const SCREEN_RECHECK: Duration = Duration::from_millis(15);

/// Output as text for an output regex WAIT: UTF-8 decoded and escape
/// sequences stripped by a `vte` parser that keeps its state from one chunk
/// to the next, so a character or an escape sequence split between two
/// reads is seen whole. Each chunk is searched with the text before it
/// that a match could still start in, never the whole window again.
#[derive(Default)]
struct OutputText {
    parser: vte::Parser,
    text: Printed,
    /// Where the text not yet searched starts.
    searched: usize,
}

/// What a program printed: characters, newlines and tabs.
#[derive(Default)]
struct Printed(String);

impl vte::Perform for Printed {
    fn print(&mut self, c: char) {
        self.0.push(c);
    }

    fn execute(&mut self, byte: u8) {
        if matches!(byte, b'\n' | b'\t') {
            self.0.push(byte as char);
        }
    }
}

impl OutputText {
    fn feed(&mut self, bytes: &[u8]) {
        self.parser.advance(&mut self.text, bytes);
        let text = &mut self.text.0;
        if text.len() > 2 * OUTPUT_WINDOW {
            // Amortised: drop the older half at once, not a little per chunk.
            let mut cut = text.len() - OUTPUT_WINDOW;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
            self.searched = self.searched.saturating_sub(cut);
        }
    }

    /// The first match in the text not searched yet (or ending in it),
    /// looking back at most [`MAX_OUTPUT_MATCH`] bytes for its start.
    fn find(&mut self, re: &regex::Regex) -> Option<String> {
        let text = &self.text.0;
        let mut from = self.searched.saturating_sub(MAX_OUTPUT_MATCH);
        while !text.is_char_boundary(from) {
            from -= 1;
        }
        self.searched = text.len();
        // `find_at` sees the text before `from`, so `^` and `\b` still
        // mean what they mean in the whole text.
        re.find_at(text, from).map(|m| m.as_str().to_string())
    }
}

/// A failed request: an ERROR code and message.
pub type Failure = (&'static str, String);

fn dead(session: &Session) -> Failure {
    let code = session.exit_status().map_or(0, |s| s.0);
    (
        "dead",
        format!("the session has exited (code {code}); `hm screen` shows its final screen"),
    )
}

/// Wait until output reaches past `from` and then stays quiet for `quiet`,
/// or `silent` passes with no output at all, or `max` passes. Returns
/// whether any output arrived.
async fn settle(
    session: &Session,
    from: u64,
    quiet: Duration,
    silent: Duration,
    max: Duration,
) -> bool {
    let mut watch = session.output.watch();
    let start = Instant::now();
    let mut last_end = session.output.end();
    let mut last_change = start;
    loop {
        let now = Instant::now();
        let end = session.output.end();
        if end != last_end {
            last_end = end;
            last_change = now;
        }
        let saw_output = end > from;
        let deadline = if saw_output {
            (last_change + quiet).min(start + max)
        } else {
            (start + silent).min(start + max)
        };
        if now >= deadline || session.exit_status().is_some() {
            return saw_output;
        }
        tokio::select! {
            _ = watch.changed() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// How a program met a submitted line.
struct Reaction {
    /// It read the line and then wrote output, reported or showed a new
    /// state (or exited).
    accepted: bool,
    /// It read the line: the terminal holds no input it has not read.
    read: bool,
    /// It exited before any other reaction was seen: the exit is taken as
    /// its reaction (whether it read the line cannot be known after it).
    exited: bool,
}

/// While output came but the line is still unread, how often to look again.
const READ_POLL: Duration = Duration::from_millis(10);

/// Wait until `deadline` for the program to take the line typed up to
/// output offset `from`: it reads it and writes output beyond `from` (the
/// terminal's own echo of the Enter, when `echoes_enter`, is not the
/// program's doing) or its overlay state changes from `overlay` (a report,
/// a prompt recognised or gone), or it exits. The classifier's own changes
/// are no reaction: they follow output, counted already, or silence (going
/// `idle` after a quiet spell is not the program's doing).
async fn reacted(
    session: &Session,
    from: u64,
    echoes_enter: bool,
    overlay: Option<State>,
    deadline: Instant,
) -> Reaction {
    let mut watch = session.output.watch();
    // A change of state comes as an event, not as output.
    let mut events = session.subscribe_events();
    loop {
        if session.exit_status().is_some() {
            return Reaction {
                accepted: true,
                read: true,
                exited: true,
            };
        }
        let read = session.unread_input().is_none_or(|n| n == 0);
        let moved = wrote_after(session, from, echoes_enter) || session.overlay() != overlay;
        if moved && read {
            return Reaction {
                accepted: true,
                read,
                exited: false,
            };
        }
        if Instant::now() >= deadline {
            return Reaction {
                accepted: false,
                read,
                exited: false,
            };
        }
        // Nothing tells when the program reads: once something moved,
        // look again every READ_POLL.
        let next = if moved {
            (Instant::now() + READ_POLL).min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            _ = watch.changed() => {}
            _ = events.recv() => {}
            _ = tokio::time::sleep_until(next.into()) => {}
        }
    }
}

/// Whether output beyond `from` came, other than the terminal's echo of
/// the Enter (`\r\n`, or `\n` without `ONLCR`) when it `echoes_enter`.
fn wrote_after(session: &Session, from: u64, echoes_enter: bool) -> bool {
    let end = session.output.end();
    if !echoes_enter || end > from + 2 {
        return end > from;
    }
    let (_, slices) = session.output.slices_from(from);
    let out = slices.concat();
    !(b"\r\n".starts_with(&out) || out == b"\n")
}

/// SUBMIT: a bracketed paste when the program enabled it and the text has
/// more than printable characters (the text as typed otherwise, newlines
/// as Enter); Enter as a separate write once the program
/// has taken the text; then confirm the program reacted. SUBMITs to one
/// session take turns (whatever connection they came from): the time spent
/// waiting for the turn counts against the request's timeout.
pub async fn submit(session: Arc<Session>, req: SubmitRequest) -> Result<Value, Failure> {
    let timeout_ms = req.timeout_ms.unwrap_or(SUBMIT_TIMEOUT_MS);
    let arrived = Instant::now();
    let timeout = Duration::from_millis(timeout_ms);
    if session.exit_status().is_some() {
        return Err(dead(&session));
    }
    let Ok(_turn) = tokio::time::timeout(timeout, session.submit_turn.lock()).await else {
        return Err((
            "busy",
            format!(
                "other SUBMITs to this session were typing for the whole timeout ({timeout_ms} ms); nothing was typed"
            ),
        ));
    };
    let waited = arrived.elapsed();
    if session.exit_status().is_some() {
        return Err(dead(&session));
    }
    let bracketed = match session.screen() {
        Some(st) => st.model.bracketed_paste(),
        None => {
            return Err((
                "unsupported",
                "SUBMIT needs the screen model (screen_model = false in this session's config)"
                    .into(),
            ))
        }
    };
    let text = req.text.trim_end_matches(['\r', '\n']);
    // A person types one line and pastes several: a line of printable
    // text is typed even where the program takes pastes (vim inserts a
    // paste as text in its normal mode too, so `:wq` pasted is no
    // command); text with a newline, tab or other control character goes
    // in as one paste there, so that none of it acts as a key.
    let bracketed = bracketed && text.chars().any(char::is_control);
    let payload = if bracketed {
        format!("\x1b[200~{text}\x1b[201~")
    } else {
        text.replace("\r\n", "\r").replace('\n', "\r")
    };
    let before = session.output.end();
    if !payload.is_empty() {
        session
            .input(Bytes::from(payload))
            .await
            .map_err(|refused| ("dead", refused.to_string()))?;
    }
    let echoed = settle(&session, before, SETTLE_QUIET, SETTLE_SILENT, SETTLE_MAX).await;
    let typed = session.output.end();
    let overlay = session.overlay();
    let echoes_enter = session.echoes_enter();
    // Refused only when the text ended the program (a one-key prompt):
    // then the Enter has nowhere to go and the program did react.
    let _ended_by_the_text = session.input(Bytes::from_static(b"\r")).await;
    let deadline = Instant::now() + timeout.saturating_sub(waited);
    let reaction = reacted(&session, typed, echoes_enter, overlay, deadline).await;
    Ok(json!({
        "ok": true,
        "accepted": reaction.accepted,
        "read": reaction.read,
        "exited": reaction.exited,
        "bracketed_paste": bracketed,
        "echoed": echoed,
        "output_offset": session.output.end(),
    }))
}

fn compile(pattern: &str) -> Result<regex::Regex, Failure> {
    screen_regex::compile(pattern)
        .map_err(|e| ("invalid_regex", format!("invalid regex {pattern:?}: {e}")))
}

/// Check a WAIT before running it (so bad ones fail at once).
pub fn validate(session: &Session, req: &WaitRequest) -> Result<(), Failure> {
    match &req.condition {
        WaitCondition::Regex { pattern, source } => {
            compile(pattern)?;
            if *source == RegexSource::Screen && session.screen().is_none() {
                return Err((
                    "unsupported",
                    "a screen regex needs the screen model (screen_model = false here)".into(),
                ));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// WAIT: answer when the condition holds, or `{"ok": false, "error": "timeout"}`.
pub async fn wait(session: Arc<Session>, req: WaitRequest) -> Value {
    let started = Instant::now();
    let timeout = req.timeout_ms.map(Duration::from_millis);
    let work = wait_for(&session, &req.condition);
    let outcome = match timeout {
        Some(t) => tokio::time::timeout(t, work)
            .await
            .unwrap_or_else(|_| json!({"ok": false, "error": "timeout"})),
        None => work.await,
    };
    let mut v = outcome;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "waited_ms".into(),
            json!(started.elapsed().as_millis() as u64),
        );
    }
    v
}

fn exited(session: &Session) -> Value {
    let (code, signal) = session.exit_status().unwrap_or((0, None));
    json!({"ok": false, "error": "exited", "code": code, "signal": signal})
}

async fn wait_for(session: &Arc<Session>, cond: &WaitCondition) -> Value {
    let mut exit = session.watch_exit();
    match cond {
        WaitCondition::Exit => {
            let status = exit.wait_for(Option::is_some).await.ok().and_then(|s| *s);
            let (code, signal) = status.unwrap_or((0, None));
            json!({"ok": true, "until": "exit", "code": code, "signal": signal})
        }
        WaitCondition::Idle { idle_ms } => {
            let want = Duration::from_millis(*idle_ms);
            loop {
                if session.exit_status().is_some() {
                    return exited(session);
                }
                let idle = session.idle_for();
                if idle >= want {
                    return json!({"ok": true, "until": "idle", "idle_ms": idle.as_millis() as u64, "state": session.state()});
                }
                tokio::select! {
                    _ = tokio::time::sleep(want - idle) => {}
                    _ = exit.changed() => {}
                }
            }
        }
        WaitCondition::State { state } => {
            let mut events = session.subscribe_events();
            loop {
                let now = session.state();
                if now == *state {
                    return json!({"ok": true, "until": "state", "state": now});
                }
                if session.exit_status().is_some() && *state != State::Dead {
                    return exited(session);
                }
                tokio::select! {
                    _ = events.recv() => {}
                    _ = exit.changed() => {}
                }
            }
        }
        WaitCondition::Regex { pattern, source } => {
            let Ok(re) = compile(pattern) else {
                return json!({"ok": false, "error": "invalid_regex"});
            };
            let mut watch = session.output.watch();
            let mut offset = session.output.end();
            let mut text = OutputText::default();
            loop {
                // Seen ended before the last look: that look saw all the
                // output, and a match in the final output still counts.
                let ended = session.exit_status().is_some() && session.output.is_closed();
                // A synchronized update under way is shown when it ends, or
                // unfinished after MAX_HOLD_TIME even if no output follows.
                let mut held = false;
                let found = match source {
                    RegexSource::Screen => session.screen().and_then(|st| {
                        held = st.model.held_back() > 0;
                        let screen = st.model.text();
                        screen_regex::find_on_screen(&re, &screen).map(|(m, line)| {
                            json!({"ok": true, "until": "regex", "match": m, "line": line, "source": "screen"})
                        })
                    }),
                    RegexSource::Output => {
                        let (from, slices) = session.output.slices_from(offset);
                        offset = from;
                        for s in &slices {
                            text.feed(s);
                            offset += s.len() as u64;
                        }
                        text.find(&re).map(|m| {
                            json!({"ok": true, "until": "regex", "match": m, "source": "output", "output_offset": offset})
                        })
                    }
                };
                if let Some(v) = found {
                    return v;
                }
                if ended {
                    return exited(session);
                }
                tokio::select! {
                    _ = watch.changed() => {}
                    _ = exit.changed() => {}
                    _ = tokio::time::sleep(MAX_HOLD_TIME), if held => {}
                }
                if *source == RegexSource::Screen {
                    // Rendering the screen on every chunk of a flood would
                    // parse all of it: look at most every RECHECK.
                    tokio::time::sleep(SCREEN_RECHECK).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(chunks: &[&[u8]], pattern: &str) -> Option<String> {
        let re = compile(pattern).unwrap();
        let mut t = OutputText::default();
        for c in chunks {
            t.feed(c);
            if let Some(m) = t.find(&re) {
                return Some(m);
            }
        }
        None
    }

    #[test]
    fn output_text_is_decoded_across_chunks() {
        assert_eq!(
            found(&[b"go\r\nready-2\r\n"], "ready-2").as_deref(),
            Some("ready-2")
        );
        assert_eq!(
            found(&[b"caf\xc3", b"\xa9 DONE\r\n"], "café DONE").as_deref(),
            Some("café DONE")
        );
        assert_eq!(found(&[b"\x1b[1", b"mBOLD\r\n"], "mBOLD"), None);
        assert_eq!(
            found(&[b"\x1b[1", b"mBOLD\r\n"], "^BOLD$").as_deref(),
            Some("BOLD")
        );
        assert_eq!(found(&[b"abc", b"def"], "cde").as_deref(), Some("cde"));
    }
}
