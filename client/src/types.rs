//! Typed answers and events. Every enum that a newer server could extend
//! has an `Unknown` variant, so a new state, event or field never breaks an
//! older client.

use heimdall_protocol::{State, WaitingOption};
use serde_json::Value;

/// The state of a session's program as the classifier sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// A state this library knows.
    Known(State),
    /// A state of a newer server: its name, or `0xNN` for a STATUS byte.
    Unknown(String),
}

impl SessionState {
    /// The state of a STATUS_RESP byte.
    pub fn from_byte(b: u8) -> SessionState {
        State::from_byte(b)
            .map(SessionState::Known)
            .unwrap_or_else(|| SessionState::Unknown(format!("0x{b:02x}")))
    }

    /// The state of a JSON name.
    pub fn from_name(name: &str) -> SessionState {
        name.parse::<State>()
            .map(SessionState::Known)
            .unwrap_or_else(|_| SessionState::Unknown(name.to_string()))
    }

    /// The state's name (`idle`, `tool_use`, … or the unknown name).
    pub fn name(&self) -> &str {
        match self {
            SessionState::Known(s) => s.name(),
            SessionState::Unknown(n) => n,
        }
    }
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

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

/// An event of the session (EVENT frames).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The classifier state changed.
    State {
        /// The previous state.
        old: SessionState,
        /// The new state.
        new: SessionState,
        /// The classifier that decided.
        classifier: String,
        /// Why.
        reason: String,
    },
    /// The program waits for input.
    Waiting {
        /// The prompt text.
        prompt: String,
        /// The choices offered, if any.
        options: Vec<WaitingOption>,
        /// The rule that recognised it.
        rule: String,
    },
    /// The window title changed.
    Title {
        /// The new title.
        title: String,
    },
    /// The program rang the bell.
    Bell,
    /// The terminal was resized.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// The child exited.
    Exit {
        /// The exit code (128+N when killed by signal N).
        code: i32,
        /// The signal that killed it, if any.
        signal: Option<i32>,
    },
    /// An event this library does not know (or could not read): its type
    /// and the whole JSON object.
    Unknown {
        /// The event's `type`.
        kind: String,
        /// The event as sent.
        payload: Value,
    },
}

fn string(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

impl Event {
    /// Read an EVENT payload; anything unexpected becomes [`Event::Unknown`].
    pub fn from_json(v: Value) -> Event {
        let kind = string(&v, "type");
        let known = match kind.as_str() {
            "state" => match (v["old"].as_str(), v["new"].as_str()) {
                (Some(old), Some(new)) => Some(Event::State {
                    old: SessionState::from_name(old),
                    new: SessionState::from_name(new),
                    classifier: string(&v, "classifier"),
                    reason: string(&v, "reason"),
                }),
                _ => None,
            },
            "waiting" => v["prompt"].as_str().map(|prompt| Event::Waiting {
                prompt: prompt.to_string(),
                options: serde_json::from_value(v["options"].clone()).unwrap_or_default(),
                rule: string(&v, "rule"),
            }),
            "title" => v["title"].as_str().map(|t| Event::Title {
                title: t.to_string(),
            }),
            "bell" => Some(Event::Bell),
            "resize" => match (v["cols"].as_u64(), v["rows"].as_u64()) {
                (Some(c), Some(r)) => Some(Event::Resize {
                    cols: u16::try_from(c).unwrap_or(u16::MAX),
                    rows: u16::try_from(r).unwrap_or(u16::MAX),
                }),
                _ => None,
            },
            "exit" => v["code"].as_i64().map(|code| Event::Exit {
                code: code as i32,
                signal: v["signal"].as_i64().map(|s| s as i32),
            }),
            _ => None,
        };
        known.unwrap_or(Event::Unknown { kind, payload: v })
    }
}

/// The answer to SUBMIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitResult {
    /// Whether the program reacted to the Enter within the timeout.
    pub accepted: bool,
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
        /// The screen line it was on (screen source).
        line: Option<String>,
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
                line: v["line"].as_str().map(String::from),
                output_offset: v["output_offset"].as_u64(),
            }),
            (true, Some("exit"), _) => v["code"].as_i64().map(|c| WaitResult::Exited {
                code: c as i32,
                signal: v["signal"].as_i64().map(|s| s as i32),
            }),
            (false, _, Some("timeout")) => Some(WaitResult::TimedOut),
            (false, _, Some("exited")) => v["code"]
                .as_i64()
                .map(|c| WaitResult::EndedFirst { code: c as i32 }),
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
}
