//! What a session's program is doing, as the classifier sees it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The classifier state of a session. The byte values are part of the wire
/// format (STATUS_RESP) and never change meaning; new states take new values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No output for the idle threshold (`0x00`).
    Idle,
    /// The program is thinking (small regular bursts) (`0x01`).
    Thinking,
    /// The program is streaming text (`0x02`).
    Streaming,
    /// The program runs a tool (large bursts) (`0x03`).
    ToolUse,
    /// Output is flowing (`0x04`).
    Active,
    /// The program waits for input (`0x05`).
    Waiting,
    /// The child has exited (`0xFF`).
    Dead,
}

impl State {
    /// Every state, in byte order.
    pub const ALL: [State; 7] = [
        State::Idle,
        State::Thinking,
        State::Streaming,
        State::ToolUse,
        State::Active,
        State::Waiting,
        State::Dead,
    ];

    /// The wire byte of this state.
    pub fn to_byte(self) -> u8 {
        match self {
            State::Idle => 0x00,
            State::Thinking => 0x01,
            State::Streaming => 0x02,
            State::ToolUse => 0x03,
            State::Active => 0x04,
            State::Waiting => 0x05,
            State::Dead => 0xFF,
        }
    }

    /// The state of a wire byte, if it names one.
    pub fn from_byte(b: u8) -> Option<State> {
        State::ALL.into_iter().find(|s| s.to_byte() == b)
    }

    /// The state's name as used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Thinking => "thinking",
            State::Streaming => "streaming",
            State::ToolUse => "tool_use",
            State::Active => "active",
            State::Waiting => "waiting",
            State::Dead => "dead",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A state as a client reads it from a server: one this crate knows, or
/// one of a newer server, so a new state never breaks an older client.
/// Serialized as the state's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// A state this crate knows.
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

impl From<State> for SessionState {
    fn from(s: State) -> SessionState {
        SessionState::Known(s)
    }
}

impl PartialEq<State> for SessionState {
    fn eq(&self, other: &State) -> bool {
        *self == SessionState::Known(*other)
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for SessionState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for SessionState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SessionState, D::Error> {
        String::deserialize(d).map(|n| SessionState::from_name(&n))
    }
}

/// The error of parsing an unknown state name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown state {0:?} (expected one of idle, thinking, streaming, tool_use, active, waiting, dead)")]
pub struct UnknownState(pub String);

impl FromStr for State {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<State, UnknownState> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        State::ALL
            .into_iter()
            .find(|st| st.name() == norm)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::from_byte(s.to_byte()), Some(s));
            assert_eq!(s.name().parse::<State>().unwrap(), s);
        }
        assert_eq!(State::from_byte(0x42), None);
        assert_eq!("tool-use".parse::<State>().unwrap(), State::ToolUse);
    }

    #[test]
    fn a_newer_servers_state_is_unknown_not_an_error() {
        let s: SessionState = serde_json::from_str(r#""pondering""#).unwrap();
        assert_eq!(s, SessionState::Unknown("pondering".into()));
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""pondering""#);
        let s: SessionState = serde_json::from_str(r#""tool_use""#).unwrap();
        assert_eq!(s, State::ToolUse);
        assert_eq!(SessionState::from_byte(0x42).name(), "0x42");
    }
}
