//! Typed answers. Every enum that a newer server could extend has an
//! `Unknown` variant, so a new state, answer or field never breaks an older
//! client (events and states are the protocol crate's [`Event`] and
//! [`SessionState`], which have theirs).

use heimdall_protocol::{SessionState, SignalTarget};
use serde_json::Value;

#[cfg(doc)]
use heimdall_protocol::Event;

/// The answer to STATUS (heimdall 1.0's 15 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The child's pid.
    pub pid: u32,
    /// Milliseconds since the child last wrote output.
    pub idle_ms: u32,
    /// Whether the child is still running.
    pub alive: bool,
    /// The classifier state.
    pub state: SessionState,
    /// Milliseconds spent in the current state.
    pub state_ms: u32,
}

impl Status {
    /// Decode a STATUS_RESP payload.
    pub(crate) fn decode(p: &[u8]) -> Option<Status> {
        let b: &[u8; 15] = p.get(..15)?.try_into().ok()?;
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Status {
            pid: u32_at(0),
            idle_ms: u32_at(4),
            alive: b[8] != 0,
            state: SessionState::from_byte(b[9]),
            state_ms: u32_at(10),
        })
    }
}

/// The answer to SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// Whether the program read the line and reacted to it (output, or a
    /// change of state of its own: a report, a prompt shown or left; not
    /// the classifier's going idle after a quiet spell) within the timeout.
    pub accepted: bool,
    /// Whether the program read the line: `false` when it was still in the
    /// terminal's input, unread (the program is busy or not reading), at
    /// the timeout. `true` when a server does not say.
    pub read: bool,
    /// Whether the program exited before it showed another reaction: the
    /// exit counts as its reaction (`accepted`), but whether it read the
    /// line first cannot be known (`false` when a server does not say).
    pub exited: bool,
    /// Whether the text went in as a bracketed paste.
    pub bracketed_paste: bool,
    /// Whether the typed text was echoed before the Enter.
    pub echoed: bool,
    /// The output offset when the answer was made.
    pub output_offset: u64,
}

/// How a WAIT ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitResult {
    /// The session was idle for `idle_ms`.
    Idle {
        /// How long it had been silent.
        idle_ms: u64,
        /// The classifier state then.
        state: SessionState,
    },
    /// The classifier entered the state.
    State {
        /// The state reached.
        state: SessionState,
    },
    /// The regex matched.
    Regex {
        /// The matched text.
        matched: String,
        /// The screen row (0 = top) the match starts on (screen source).
        line: Option<u64>,
        /// The output offset after the match (output source).
        output_offset: Option<u64>,
    },
    /// The child exited (the condition was `Exit`).
    Exited {
        /// The exit code.
        code: i32,
        /// The signal that killed it, if any.
        signal: Option<i32>,
    },
    /// The server's timeout passed first.
    TimedOut,
    /// The child exited before the condition held.
    EndedFirst {
        /// The exit code.
        code: i32,
        /// The signal that killed it, if any.
        signal: Option<i32>,
    },
    /// An answer this library does not know (from a newer server).
    Unknown(Value),
}

impl WaitResult {
    /// Read a WAIT RESULT.
    pub fn from_json(v: Value) -> WaitResult {
        let ok = v["ok"].as_bool() == Some(true);
        let state = || SessionState::from_name(v["state"].as_str().unwrap_or_default());
        let r = match (ok, v["until"].as_str(), v["error"].as_str()) {
            (true, Some("idle"), _) => v["idle_ms"].as_u64().map(|idle_ms| WaitResult::Idle {
                idle_ms,
                state: state(),
            }),
            (true, Some("state"), _) => Some(WaitResult::State { state: state() }),
            (true, Some("regex"), _) => v["match"].as_str().map(|m| WaitResult::Regex {
                matched: m.to_string(),
                line: v["line"].as_u64(),
                output_offset: v["output_offset"].as_u64(),
            }),
            (true, Some("exit"), _) => v["code"].as_i64().map(|c| WaitResult::Exited {
                code: c as i32,
                signal: v["signal"].as_i64().map(|s| s as i32),
            }),
            (false, _, Some("timeout")) => Some(WaitResult::TimedOut),
            (false, _, Some("exited")) => v["code"].as_i64().map(|c| WaitResult::EndedFirst {
                code: c as i32,
                signal: v["signal"].as_i64().map(|s| s as i32),
            }),
            _ => None,
        };
        r.unwrap_or(WaitResult::Unknown(v))
    }
}

/// The answer to SIGNAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalResult {
    /// The signal sent, by name (`SIGINT`).
    pub signal: String,
    /// Who got it.
    pub target: SignalTarget,
    /// The process group it was sent to.
    pub pgid: Option<i32>,
}
